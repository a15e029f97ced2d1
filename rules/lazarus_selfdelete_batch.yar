/*
 * iocsweep built-in pack: the SWIFT toolkit's self-delete batch script,
 * reported both as evchk.bat and evtchk.bat. A script rule, not gated on PE.
 * Written for iocsweep from the facts published by BAE Systems ("Two bytes to
 * $951m", 2016-04-25); no third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_SWIFT_SelfDelete_Batch
{
    meta:
        description = "Lazarus (APT38) SWIFT toolkit clean-up batch script (evchk.bat / evtchk.bat): a small batch file that deletes the toolkit's executables and then itself"
        family = "Alreay / SWIFT toolkit (self-delete script)"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "BAE Systems, Two bytes to $951m, 2016-04-25"
        id = "IOCSWEEP-LZ-0006"
        score = 80
        mitre_attack = "G0082, G0032, T1070.004"

    strings:
        // Deletes a toolkit executable. A script deleting only gpca.dat or
        // recas.dat is too weak (the names are short and ordinary-looking).
        $del_tool = /\b(del|erase)[ \t][^\r\n]{0,120}(evtdiag|evtsys|nroff_b)\.exe/ nocase

        // Deletes itself: by its reported names, or by its own path, %0 /
        // "%~f0" / %~dpnx0, as the whole argument (after optional switches) so
        // that format strings such as "del ... %08x" in message catalogues
        // do not count.
        $self_name = /\b(del|erase)[ \t][^\r\n]{0,120}evt?chk\.bat/ nocase
        $self_arg0 = /\b(del|erase)([ \t]+\/[a-z])*[ \t]+"?%~?[a-z]{0,6}0"?[ \t]*([\r\n&|>)]|$)/ nocase

    condition:
        filesize < 8KB and
        // File-type gate: a batch script begins with a command or a label, not
        // with prose, so documents that quote the script (reports, this pack's
        // own docs) do not match. Letters are compared case-insensitively.
        (
            uint8(0) == 0x40 or                                 // "@echo off", "@del"
            uint8(0) == 0x3A or                                 // ":label", ":: comment"
            (uint32(0) | 0x20202020) == 0x206C6564 or           // "del "
            (uint32(0) | 0x20202020) == 0x6F686365 or           // "echo"
            (uint32(0) | 0x20202020) == 0x206D6572 or           // "rem "
            (uint32(0) | 0x20202020) == 0x20746573 or           // "set "
            (uint32(0) | 0x20202020) == 0x676E6970 or           // "ping"
            (uint32(0) | 0x20202020) == 0x6F746F67 or           // "goto"
            ((uint16(0) | 0x2020) == 0x6669 and uint8(2) == 0x20)  // "if "
        ) and
        $del_tool and ($self_name or $self_arg0)
}
