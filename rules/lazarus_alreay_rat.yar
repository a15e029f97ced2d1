/*
 * iocsweep built-in pack: the "Alreay" RAT (Malpedia naming), internal name
 * t_client_dll.dll. Kaspersky detection names: Trojan-Banker.Win32.Alreay*,
 * Trojan-Banker.Win32.Agent*. Written for iocsweep from the facts collected in
 * the project's intel notes; no third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_Alreay_TClient_RAT
{
    meta:
        description = "Lazarus / Bluenoroff (APT38) Alreay RAT (t_client): internal DLL name t_client_dll.dll and its 32-bit command identifiers"
        family = "Alreay RAT / t_client"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "Malpedia, Alreay (Lazarus / Bluenoroff RAT, internal name t_client); Kaspersky detection name Trojan-Banker.Win32.Alreay"
        id = "IOCSWEEP-LZ-0004"
        score = 85
        mitre_attack = "G0082, G0032"

    strings:
        // Tier 2: the internal (export) name. Specific, but a name alone is
        // easy to share by accident, so it needs one command identifier.
        $name = "t_client_dll.dll" ascii wide nocase

        // Tier 2: command identifiers, little-endian as stored in the binary
        // (0x21A8B293, 0x23FAE29C, 0x91B93485). Any one is a 4-byte value
        // that turns up by chance in large files; all three together do not.
        $cmd_21a8b293 = { 93 B2 A8 21 }
        $cmd_23fae29c = { 9C E2 FA 23 }
        $cmd_91b93485 = { 85 34 B9 91 }

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 3MB and
        (($name and 1 of ($cmd_*)) or all of ($cmd_*))
}
