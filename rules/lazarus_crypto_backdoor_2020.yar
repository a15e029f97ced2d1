/*
 * iocsweep built-in pack: the Lazarus backdoor of the 2018-2020 campaign
 * against cryptocurrency companies (fake LinkedIn job offers).
 * Written for iocsweep from the facts published by F-Secure; no third-party
 * rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_Crypto_Sector_Backdoor_2020
{
    meta:
        description = "Lazarus backdoor of the 2020 cryptocurrency-sector intrusions: netsh port opening, cmd.exe output-capture formats and its perflog / cbstc / NTUSER.cat file names"
        family = "Lazarus cryptocurrency-sector backdoor (2020)"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "F-Secure, report on Lazarus attacks on the cryptocurrency sector (fake LinkedIn job offers), 2020"
        id = "IOCSWEEP-LZ-0005"
        score = 80
        mitre_attack = "G0032"

    strings:
        // Behaviour format strings. Each is something an ordinary admin tool
        // might hold, so two of them are needed, with a file name.
        $fw_add = "netsh firewall add portopening TCP %d" ascii wide
        $fw_del = "netsh firewall delete portopening TCP %d" ascii wide
        $run_append = "cmd.exe /c \"%s >> %s 2>&1\"" ascii wide
        $run_errors = "cmd.exe /c \"%s 2>> %s\"" ascii wide

        // The backdoor's file names. Plausible-looking on purpose (Windows has
        // PerfLogs, CBS.log and NTUSER.DAT), so never enough without behaviour.
        $file_perflog_dat = "perflog.dat" ascii wide nocase
        $file_perflog_evt = "perflog.evt" ascii wide nocase
        $file_cbstc = "cbstc.log" ascii wide nocase
        $file_ntuser_cat = "NTUSER.cat" ascii wide nocase

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 5MB and
        (
            (2 of ($fw_*, $run_*) and 1 of ($file_*)) or
            (1 of ($fw_*, $run_*) and 3 of ($file_*))
        )
}
