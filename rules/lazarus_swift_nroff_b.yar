/*
 * iocsweep built-in pack: the 2016 SWIFT heist toolkit, print-stream side
 * (the role of nroff_b.exe, which splits batched SWIFT messages).
 * Kaspersky detection names: Trojan-Banker.Win32.Alreay*.
 * Written for iocsweep from the facts published by BAE Systems ("Two bytes to
 * $951m", 2016-04-25); no third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_SWIFT_Nroff_Splitter
{
    meta:
        description = "Lazarus (APT38) SWIFT toolkit print-stream component (nroff_b.exe role): the toolkit file names nroff.exe.bak and rnoff with SWIFT print-stream vocabulary"
        family = "Alreay / SWIFT toolkit (nroff_b message splitter)"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "BAE Systems, Two bytes to $951m, 2016-04-25"
        id = "IOCSWEEP-LZ-0003"
        score = 80
        mitre_attack = "G0082, G0032, T1565.002"

    strings:
        // Tier 2: toolkit file names built on the genuine SWIFT nroff.exe.
        // Both together decide; one needs SWIFT print vocabulary as company.
        $t2_bak = "nroff.exe.bak" ascii wide nocase
        $t2_rnoff = "rnoff" fullword ascii wide  // fullword: not "turnoff"

        // Tier 3: SWIFT print-stream vocabulary. Genuine SWIFT Alliance print
        // components hold these too, so they are never enough alone.
        $t3_printmark = "_DO_NOT_USE_MM_" ascii wide
        $t3_fin900 = "FIN 900 Confirmation of Debit" ascii wide
        $t3_fedres = "FEDERAL RESERVE BANK" ascii wide
        $t3_prt = /0016[0-9A-Za-z%*?]{1,6}\.prt/ ascii wide nocase  // print files 0016NNNN.prt

        // Print subfolders; counted together as one tier-3 signal.
        $dir_mcm = "mcm\\" ascii wide
        $dir_mcp = "mcp\\" ascii wide
        $dir_mcs = "mcs\\" ascii wide
        $dir_mcf = "mcf\\" ascii wide

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 1MB and
        (
            ($t2_bak and $t2_rnoff) or
            (1 of ($t2_*) and (2 of ($t3_*) or (1 of ($t3_*) and 3 of ($dir_*))))
        )
}
