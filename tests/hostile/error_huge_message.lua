-- expect: xxxxxxxxxxxxxxxx
error(string.rep("x", 4e6))
