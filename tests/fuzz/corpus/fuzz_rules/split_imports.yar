import "pe"
import "math"
rule exe { strings: $a = "MZ" condition: uint16(0) == 0x5A4D and pe.number_of_sections >= 0 and $a }
rule any_file { strings: $b = "del" condition: (uint8(0) == 0x40 or filesize > 100) and math.entropy(0, filesize) >= 0 and $b }
