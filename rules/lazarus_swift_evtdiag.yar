/*
 * iocsweep built-in pack: the 2016 SWIFT heist toolkit ("evtdiag" engine).
 * Kaspersky detection names: Trojan-Banker.Win32.Alreay*.
 * Written for iocsweep from the facts published by BAE Systems ("Two bytes to
 * $951m", 2016-04-25); no third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine
{
    meta:
        description = "Lazarus (APT38) SWIFT Alliance manipulation engine of the 2016 Bangladesh Bank heist (evtdiag.exe)"
        family = "Alreay / SWIFT toolkit"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "BAE Systems, Two bytes to $951m, 2016-04-25"
        hash = "525a8e3ae4e3df8c9c61f2a49e38541d196e9228"
        id = "IOCSWEEP-LZ-0001"
        score = 90
        mitre_attack = "G0082, T1565.001, T1565.002, T1070.004, T1543.003"

    strings:
        // Tier 1: specific enough to decide alone.
        // The 16-byte RC4 key that decrypts gpca.dat.
        $key = { 4E 38 1F A7 7F 08 CC AA 0D 56 ED EF F9 ED 08 EF }
        // Patch status lines written after the liboradb.dll JNZ patch.
        $patched = "PI (found, patched)" ascii wide
        $unpatched = "PU (found, unpatched)" ascii wide
        // Service name the engine registers.
        $service = "diagsysevt" ascii wide nocase

        // Tier 2: suspicious, need a second tier-2 or tier-3 company.
        $t2_printmark = "_DO_NOT_USE_MM_" ascii wide
        $t2_linesize = "set linesize 32567" ascii wide nocase
        $t2_fin900 = "FIN 900 Confirmation of Debit" ascii wide
        $t2_allians = "\\AppData\\Local\\Allians" ascii wide nocase
        $t2_userpath = "%c:\\Users\\%s\\AppData\\Local\\%s" ascii wide
        $t2_recas = "recas.dat" ascii wide nocase

        // Tier 3: ordinary in SWIFT / Oracle tooling; never enough on their own,
        // only as company for a tier-2 string.
        $t3_liboradb = "liboradb.dll" ascii wide nocase
        $t3_gpca = "gpca.dat" ascii wide nocase
        $t3_sysdba = "-S / as sysdba" ascii wide nocase
        $t3_feedback = "SET FEEDBACK OFF" ascii wide nocase
        $t3_fedres = "FEDERAL RESERVE BANK" ascii wide
        $t3_logfmt = "[%02d:%02d:%02d] %s" ascii wide

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 2MB and
        (
            $key or $patched or $unpatched or $service or
            2 of ($t2_*) or
            (1 of ($t2_*) and 2 of ($t3_*))
        )
}
