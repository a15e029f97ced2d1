/*
 * iocsweep built-in pack: the rules for live process memory (scan --processes,
 * --pid). The file rules open with header and size tests that never hold in
 * memory; these read strings only, and `iocsweep_scope == "memory"` keeps them
 * off files (the prefilter leaves them out of every file scan). Each asks for
 * two independent facts of the same implant, so a text quoting one of them is
 * not enough. Strings are written in hex so that a process showing this source
 * (an editor, a pager) does not match it. Written for iocsweep from
 * the facts published by BAE Systems ("Two bytes to $951m", 2016-04-25) and
 * Kaspersky ("Lazarus Under the Hood", 2017-04-03) and two public Ratankba C2
 * profiles; no third-party rule text is used. See docs/rules.md, "Files and
 * process memory".
 */

rule IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine_Memory
{
    meta:
        description = "Lazarus (APT38) SWIFT Alliance manipulation engine (evtdiag) held in a live process's memory: the toolkit's RC4 key with a patch status line or the service name, or both status lines"
        family = "Alreay / SWIFT toolkit (evtdiag engine)"
        author = "iocsweep project"
        date = "2026-12-04"
        reference = "BAE Systems, Two bytes to $951m, 2016-04-25"
        id = "IOCSWEEP-LZ-0013"
        score = 85
        scope = "memory"
        mitre_attack = "G0082, G0032, T1565.001, T1543.003"

    strings:
        // "PI (found, patched)" and "PU (found, unpatched)", ASCII and UTF-16LE.
        $patched = { 50 49 20 28 66 6F 75 6E 64 2C 20 70 61 74 63 68 65 64 29 }
        $patched_w = { 50 00 49 00 20 00 28 00 66 00 6F 00 75 00 6E 00 64 00 2C 00 20 00 70 00 61 00 74 00 63 00 68 00 65 00 64 00 29 00 }
        $unpatched = { 50 55 20 28 66 6F 75 6E 64 2C 20 75 6E 70 61 74 63 68 65 64 29 }
        $unpatched_w = { 50 00 55 00 20 00 28 00 66 00 6F 00 75 00 6E 00 64 00 2C 00 20 00 75 00 6E 00 70 00 61 00 74 00 63 00 68 00 65 00 64 00 29 00 }
        // The service name "diagsysevt".
        $service = { 64 69 61 67 73 79 73 65 76 74 }
        $service_w = { 64 00 69 00 61 00 67 00 73 00 79 00 73 00 65 00 76 00 74 00 }
        // The toolkit's hard-coded RC4 key (decrypts gpca.dat).
        $key = { 4E 38 1F A7 7F 08 CC AA 0D 56 ED EF F9 ED 08 EF }

    condition:
        iocsweep_scope == "memory" and
        (
            ($key and any of ($patched*, $unpatched*, $service*)) or
            (any of ($patched*) and any of ($unpatched*))
        )
}

rule IOCSWEEP_Lazarus_Ratankba_Memory
{
    meta:
        description = "Lazarus Ratankba (2017 regulator watering holes) held in a live process's memory: both C2 request formats together"
        family = "Ratankba"
        author = "iocsweep project"
        date = "2026-12-04"
        reference = "Kaspersky, Lazarus Under the Hood, 2017-04-03 (Polish case); two public Ratankba C2 profiles / rules (request formats)"
        confidence = "verified (request formats)"
        id = "IOCSWEEP-LZ-0014"
        score = 75
        scope = "memory"
        mitre_attack = "G0032"

    strings:
        // "%s?action=What&u=%I64u" and "%s?action=BaseInfo&u=%I64u", ASCII and UTF-16LE.
        $what = { 25 73 3F 61 63 74 69 6F 6E 3D 57 68 61 74 26 75 3D 25 49 36 34 75 }
        $what_w = { 25 00 73 00 3F 00 61 00 63 00 74 00 69 00 6F 00 6E 00 3D 00 57 00 68 00 61 00 74 00 26 00 75 00 3D 00 25 00 49 00 36 00 34 00 75 00 }
        $baseinfo = { 25 73 3F 61 63 74 69 6F 6E 3D 42 61 73 65 49 6E 66 6F 26 75 3D 25 49 36 34 75 }
        $baseinfo_w = { 25 00 73 00 3F 00 61 00 63 00 74 00 69 00 6F 00 6E 00 3D 00 42 00 61 00 73 00 65 00 49 00 6E 00 66 00 6F 00 26 00 75 00 3D 00 25 00 49 00 36 00 34 00 75 00 }

    condition:
        iocsweep_scope == "memory" and any of ($what*) and any of ($baseinfo*)
}
