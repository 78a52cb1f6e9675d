-- expect: rule file exceeds its memory limit of 16 MiB
local s = string.rep("x", 9e6, "")
local t = s .. s
