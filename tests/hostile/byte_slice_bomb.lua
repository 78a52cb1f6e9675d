-- expect: string slice too long
local s = string.rep("x", 4e6)
local n = select("#", s:byte(1, -1))
