import "pe"
rule p { condition: pe.number_of_sections > 1 and filesize < 10MB }
