/*
 * iocsweep built-in pack: the 2016 SWIFT heist toolkit, "evtdiag" engine.
 * Kaspersky detection names: Trojan-Banker.Win32.Alreay*, Trojan-Banker.Win32.Agent*.
 * Written for iocsweep from the facts published by BAE Systems ("Two bytes to
 * $951m", 2016-04-25); no third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine
{
    meta:
        description = "Lazarus (APT38) SWIFT Alliance manipulation engine of the 2016 Bangladesh Bank heist (evtdiag.exe): liboradb.dll patch status lines, diagsysevt service, toolkit RC4 key"
        family = "Alreay / SWIFT toolkit (evtdiag engine)"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "BAE Systems, Two bytes to $951m, 2016-04-25"
        hash = "525a8e3ae4e3df8c9c61f2a49e38541d196e9228"
        id = "IOCSWEEP-LZ-0001"
        score = 90
        mitre_attack = "G0082, G0032, T1565.001, T1565.002, T1543.003"

    strings:
        // Tier 1: decides alone.
        // Status lines written after the in-memory liboradb.dll JNZ patch.
        $patched = "PI (found, patched)" ascii wide
        $unpatched = "PU (found, unpatched)" ascii wide
        // Service name the engine registers.
        $service = "diagsysevt" ascii wide nocase
        // The toolkit's hard-coded 16-byte RC4 key (decrypts gpca.dat). evtsys.exe
        // carries it too: in a small PE with no other engine string it is left
        // to IOCSWEEP_Lazarus_SWIFT_Evtsys_Helper (see the condition).
        $key = { 4E 38 1F A7 7F 08 CC AA 0D 56 ED EF F9 ED 08 EF }

        // Tier 2: unusual, but one alone is not proof; two of them, or one
        // with three tier-3 strings (or Allians with the path it fills).
        $t2_linesize = "set linesize 32567" ascii wide nocase  // not the common 32767
        $t2_allians = "Allians" fullword ascii wide            // misspelt profile name (also a Scandinavian word)
        $t2_recas = "recas.dat" ascii wide nocase              // the engine's log file

        // Tier 3: ordinary in genuine SWIFT Alliance and Oracle tooling; only
        // ever company for a tier-2 string.
        $t3_userpath = "%c:\\Users\\%s\\AppData\\Local\\%s" ascii wide  // generic per-user path
        $t3_liboradb = "liboradb.dll" ascii wide nocase
        $t3_gpca = "gpca.dat" ascii wide nocase
        $t3_sysdba = "-S / as sysdba" ascii wide nocase
        $t3_feedback = "SET FEEDBACK OFF" ascii wide nocase
        $t3_fedres = "FEDERAL RESERVE BANK" ascii wide
        $t3_printmark = "_DO_NOT_USE_MM_" ascii wide
        $t3_fin900 = "FIN 900 Confirmation of Debit" ascii wide
        $t3_logfmt = "[%02d:%02d:%02d] %s\r\n" ascii wide

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 2MB and
        (
            $patched or $unpatched or $service or
            ($key and (filesize >= 32KB or 1 of ($t2_*))) or
            2 of ($t2_*) or
            ($t2_allians and $t3_userpath) or
            (1 of ($t2_*) and 3 of ($t3_*))
        )
}
