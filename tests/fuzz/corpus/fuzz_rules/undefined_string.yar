rule u { strings: $x = "x" condition: #x > 2 and $y }
