rule lazarus_swift_marker : apt
{
  meta:
    score = 80
    author = "fuzz seed"
  strings:
    $a = "evtdiag" ascii wide nocase
    $b = { 4D 5A [2-4] 90 00 }
    $c = /ev[a-z]{2}iag\.exe/
  condition:
    any of them and filename matches /\.exe$/
}
