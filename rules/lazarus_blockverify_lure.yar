/*
 * iocsweep built-in pack: the lure document of the 2018-2020 Lazarus campaign
 * against cryptocurrency companies (fake LinkedIn job offers).
 * Written for iocsweep from the facts published by F-Secure; no third-party
 * rule text is used. See docs/rules.md.
 */

rule IOCSWEEP_Lazarus_BlockVerify_Lure_Document
{
    meta:
        description = "Lazarus fake job-offer lure titled BlockVerify Group Job Description, in a document format that stores the title uncompressed (OLE2 Office, RTF, PDF)"
        family = "Lazarus cryptocurrency-sector lure (2020)"
        author = "iocsweep project"
        date = "2026-11-25"
        reference = "F-Secure, report on Lazarus attacks on the cryptocurrency sector (fake LinkedIn job offers), 2020"
        id = "IOCSWEEP-LZ-0007"
        score = 65
        mitre_attack = "G0032"

    strings:
        // The full title only: "BlockVerify" alone or "Job Description" alone
        // are ordinary words in ordinary documents.
        $title = "BlockVerify Group Job Description" ascii wide

    condition:
        filesize < 20MB and
        (
            (uint32be(0) == 0xD0CF11E0 and uint32be(4) == 0xA1B11AE1) or  // OLE2 (.doc)
            uint32be(0) == 0x7B5C7274 or                                  // "{\rt" (RTF)
            uint32be(0) == 0x25504446                                     // "%PDF"
        ) and
        $title
}
