/*
 * iocsweep built-in pack: FASTCash, Lazarus ATM cash-out malware on IBM AIX
 * payment-switch servers. Written for iocsweep from the facts published by
 * US-CERT (TA18-275A, 2018-10-02) and Symantec (2018-11-08); no third-party
 * rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_FASTCash_AIX_Injector
{
    meta:
        description = "Lazarus FASTCash process-injection tool for IBM AIX payment switches: an XCOFF64 executable holding the injector's log lines and /tmp/.ICE-unix work-file names; the ISO 8583 library symbols alone never decide"
        family = "FASTCash (AIX injector)"
        author = "iocsweep project"
        date = "2026-12-03"
        reference = "US-CERT TA18-275A, 2018-10-02; Symantec, FASTCash, 2018-11-08 (sample hash in both; the strings from one of them)"
        hash = "d465637518024262c063f4a82d799a4e40ff3381014972f24ea18bc23c3b27ee"
        confidence = "single source (strings); the sample hash is verified in two sources"
        id = "IOCSWEEP-LZ-0008"
        score = 75
        mitre_attack = "G0082, G0032"

    strings:
        // Tier 1: decides alone. Work-file name formats no genuine program
        // puts in the X11 socket folder, and the injector's success line.
        $engfile = "/tmp/.ICE-unix/TMPENG%X.dat" ascii
        $dumpfile = "/tmp/.ICE-unix/DUMP%X.dat" ascii
        $inject_ok = "[main] Inject OK(%llX)" ascii

        // Tier 2: unusual, but one alone is not proof; two of them, or one
        // with two tier-3 symbols.
        $t2_start = "[main] Inject Start" ascii
        $t2_eject = "[main] Eject OK" ascii
        $t2_config = "/tmp/.ICE-unix/config_%d" ascii
        $t2_source = "eng64.c" fullword ascii

        // Tier 3: the open-source DL ISO8583 library and the modules'
        // function names, which a genuine payment switch may also link.
        $t3_unpack = "DL_ISO8583_MSG_Unpack" ascii
        $t3_pan = "CheckPan" fullword ascii
        $t3_blacklist = "BlacklistCheck" fullword ascii

    condition:
        // XCOFF64: magic 0x01F7, big-endian, at offset 0 (not a PE).
        uint16be(0) == 0x01F7 and filesize < 10MB and
        (
            $engfile or $dumpfile or $inject_ok or
            2 of ($t2_*) or
            (1 of ($t2_*) and 2 of ($t3_*))
        )
}
