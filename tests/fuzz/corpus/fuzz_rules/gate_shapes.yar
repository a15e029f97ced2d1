rule pe { strings: $a = "x" condition: uint16(0) == 0x5A4D and filesize < 2MB and $a }
rule doc { strings: $t = "title" condition: filesize < 20MB and ((uint32be(0) == 0xD0CF11E0 and uint32be(4) == 0xA1B11AE1) or uint32be(0) == 0x25504446) and $t }
rule bat { strings: $d = "del" condition: filesize < 8KB and ((uint32(0) | 0x20202020) == 0x206C6564 or uint8(0) == 0x40) and $d }
rule text_only { strings: $t = "aaaa" condition: filesize < 6000 and $t }
