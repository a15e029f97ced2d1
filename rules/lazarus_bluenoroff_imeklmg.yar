/*
 * iocsweep built-in pack: the Bluenoroff second-stage RAT IMEKLMG.exe
 * ("Malware 6" of Kaspersky's "Lazarus Under the Hood", 2017-04-03; Trend
 * Micro TSPY_BANKER.NTE). Written for iocsweep from those facts; no
 * third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_Bluenoroff_IMEKLMG_RAT
{
    meta:
        description = "Bluenoroff (APT38) second-stage RAT: a PE named IMEKLMG.exe directly in %APPDATA% (AppData\\Roaming or XP's Application Data) of the documented size, 487,424 bytes"
        family = "Bluenoroff RAT (IMEKLMG, Lazarus Under the Hood Malware 6)"
        author = "iocsweep project"
        date = "2026-12-03"
        reference = "Kaspersky, Lazarus Under the Hood, 2017-04-03 (Malware 6); Trend Micro, TSPY_BANKER.NTE, first seen 2016-10-24"
        confidence = "verified (file name, folder and size in two sources)"
        id = "IOCSWEEP-LZ-0009"
        score = 85
        mitre_attack = "G0082, G0032"

    condition:
        // The name and size are the indicator; the file must also be a PE so
        // that a same-sized file of another kind under that name is not it.
        filesize == 487424 and
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and
        filepath matches /[\\\/](AppData[\\\/]Roaming|Application Data)[\\\/]IMEKLMG\.exe$/i
}

rule IOCSWEEP_Lazarus_Bluenoroff_IMEKLMG_RunKey_Hive
{
    meta:
        description = "Bluenoroff (APT38) IMEKLMG RAT persistence seen inside a registry hive file (NTUSER.DAT, SOFTWARE): a Run value whose UTF-16 text starts the RAT with -s"
        family = "Bluenoroff RAT (IMEKLMG, Lazarus Under the Hood Malware 6)"
        author = "iocsweep project"
        date = "2026-12-03"
        reference = "Trend Micro, TSPY_BANKER.NTE (Run value IMEKLMG = ...\\IMEKLMG.exe -s, HKLM and HKCU CurrentVersion\\Run)"
        confidence = "single source (Trend Micro)"
        id = "IOCSWEEP-LZ-0010"
        score = 70
        mitre_attack = "G0082, G0032, T1547.001"

    strings:
        // REG_SZ data is stored in UTF-16LE; the folder before the name
        // varies, so the text is matched from the separator on.
        $run_data = "\\IMEKLMG.exe -s" wide nocase

    condition:
        // A hive file starts with the "regf" signature.
        uint32(0) == 0x66676572 and $run_data
}
