rule name { condition: filename == "a.exe" or md5 == "d41d8cd98f00b204e9800998ecf8427e" }
rule path { condition: extension == "\x2eexe" and filepath contains "/tmp/" and int8(0) == -1 }
