/*
 * iocsweep built-in pack: Ratankba, the implant of the February 2017 Polish
 * and Mexican regulator watering holes, and its PowerShell successor
 * PowerRatankba. Written for iocsweep from the facts published by Kaspersky
 * ("Lazarus Under the Hood", 2017) and public C2 profiles (Ratankba), and by
 * Proofpoint ("North Korea Bitten by Bitcoin Bug", 2017-12; PowerRatankba);
 * no third-party rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_Ratankba
{
    meta:
        description = "Lazarus Ratankba (2017 regulator watering holes): a PE holding the C2 request formats, or its result format and recon command lines together"
        family = "Ratankba"
        author = "iocsweep project"
        date = "2026-12-03"
        reference = "Kaspersky, Lazarus Under the Hood, 2017-04-03 (Polish case); two public Ratankba C2 profiles / rules (request formats, C2 host)"
        confidence = "verified (request formats, C2 host); single source (CmdRes format, recon command lines)"
        id = "IOCSWEEP-LZ-0011"
        score = 80
        mitre_attack = "G0032"

    strings:
        // Tier 1, verified: the C2 request formats decide alone.
        $req_what = "%s?action=What&u=%I64u" ascii wide
        $req_baseinfo = "%s?action=BaseInfo&u=%I64u" ascii wide

        // Tier 2, single source or shared: the result format, the C2 host
        // (likely a hijacked site, so only with other evidence) and the
        // recon command lines.
        $t2_cmdres = "action=CmdRes&u=" ascii wide
        $t2_host = "www.eye-watch.in" ascii wide nocase
        $t2_hostname = "cmd.exe /c \"hostname > %s\"" ascii wide nocase
        $t2_whoami = "cmd.exe /c \"whoami >> %s\"" ascii wide nocase
        $t2_netview = "cmd.exe /c \"net view /domain >> %s\"" ascii wide nocase
        $t2_tasklist = "cmd.exe /c \"tasklist /svc >> %s\"" ascii wide nocase

    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and filesize < 5MB and
        ($req_what or $req_baseinfo or 3 of ($t2_*))
}

rule IOCSWEEP_Lazarus_PowerRatankba_Task
{
    meta:
        description = "Lazarus PowerRatankba persistence: a command line, script or scheduled-task definition that schedules C:\\Users\\Public\\Documents\\ProxyAutoUpdate.ps1 or the task ProxyServerUpdater"
        family = "PowerRatankba"
        author = "iocsweep project"
        date = "2026-12-03"
        reference = "Proofpoint, North Korea Bitten by Bitcoin Bug, 2017-12"
        hash = "db8163d054a35522d0dec35743cfd2c9872e0eb446467b573a79f84d61761471"
        confidence = "single source (Proofpoint)"
        id = "IOCSWEEP-LZ-0012"
        score = 70
        mitre_attack = "G0032, T1053.005"

    strings:
        // The scheduling and the name on one line: a text that names the
        // script and the task apart (a report, docs/rules.md) is no match.
        // One letter of each name is written as a class ([S], [A]) so that
        // this rule's own text does not match it.
        $schtasks = /schtasks(\.exe)?"?[ \t]+\/create[^\r\n]{0,400}(Proxy[S]erverUpdater|\\Users\\Public\\Documents\\Proxy[A]utoUpdate\.ps1)/ nocase
        $cmdlet_task = /Register-ScheduledTask[^\r\n]{0,400}Proxy[S]erverUpdater/ nocase
        $cmdlet_action = /New-ScheduledTaskAction[^\r\n]{0,400}\\Users\\Public\\Documents\\Proxy[A]utoUpdate\.ps1/ nocase

        // A Task Scheduler definition (the UTF-16 files in System32\Tasks)
        // naming the task or running the script.
        $xml_ns = "schemas.microsoft.com/windows/2004/02/mit/task" ascii wide
        $xml_uri = "<URI>\\ProxyServerUpdater</URI>" ascii wide nocase
        $xml_script = "\\Users\\Public\\Documents\\ProxyAutoUpdate.ps1" ascii wide nocase

    condition:
        // A script or task file, not an executable.
        uint16(0) != 0x5A4D and filesize < 1MB and
        (
            (
                // A script: by its name, or a batch file by its first
                // line. Named so that the prefilter can keep every other
                // small text file from libyara (docs/rules.md).
                (filepath contains ".ps1" or filepath contains ".PS1" or filepath contains ".psm1" or
                 filepath contains ".bat" or filepath contains ".BAT" or filepath contains ".cmd" or
                 filepath contains ".CMD" or filepath contains ".vbs" or filepath contains ".VBS" or
                 filepath contains ".js" or filepath contains ".hta" or filepath contains ".txt" or
                 uint32(0) == 0x68636540 or uint32(0) == 0x48434540) and
                ($schtasks or $cmdlet_task or $cmdlet_action)
            ) or
            (
                // The XML declaration: UTF-16LE with a BOM, UTF-16LE, or ASCII.
                (uint32(0) == 0x003CFEFF or uint32(0) == 0x003F003C or uint32(0) == 0x6D783F3C) and
                $xml_ns and ($xml_uri or $xml_script)
            )
        )
}
