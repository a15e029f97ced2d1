/*
 * iocsweep built-in pack: the 2016 SWIFT heist toolkit, evtsys.exe
 * secure-delete helper. Kaspersky detection names: Trojan-Banker.Win32.Alreay*.
 * Written for iocsweep from the facts published by BAE Systems ("Two bytes to
 * $951m", 2016-04-25; the SHA256 is also listed by Cisco Talos as a
 * Bluenoroff sample); no third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_SWIFT_Evtsys_Helper
{
    meta:
        description = "Lazarus (APT38) SWIFT toolkit secure-delete helper (evtsys.exe): a small PE holding the toolkit's hard-coded RC4 key and none of the evtdiag engine's strings"
        family = "Alreay / SWIFT toolkit (evtsys helper)"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "BAE Systems, Two bytes to $951m, 2016-04-25; Cisco Talos, Bluenoroff sample listing"
        hash = "ae086350239380f56470c19d6a200f7d251c7422c7bc5ce74730ee8bab8e6283"
        id = "IOCSWEEP-LZ-0002"
        score = 85
        mitre_attack = "G0082, G0032, T1070.004"

    strings:
        // Tier 1: the 16-byte RC4 key BAE found in evtdiag.exe and in evtsys.exe.
        // A random 128-bit constant is as specific as a hash of its own.
        $key = { 4E 38 1F A7 7F 08 CC AA 0D 56 ED EF F9 ED 08 EF }

        // Not evidence: the evtdiag engine's own strings (tier 1 and 2 of
        // IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine). A file holding one is the
        // engine's, so each key-bearing PE is reported under one name.
        $engine_patched = "PI (found, patched)" ascii wide
        $engine_unpatched = "PU (found, unpatched)" ascii wide
        $engine_service = "diagsysevt" ascii wide nocase
        $engine_linesize = "set linesize 32567" ascii wide nocase
        $engine_allians = "Allians" fullword ascii wide
        $engine_recas = "recas.dat" ascii wide nocase

    condition:
        // evtsys.exe is 16,384 bytes and evtdiag.exe 65,536: 32 KB splits them.
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 32KB and
        $key and not (1 of ($engine_*))
}
