-- expect: string.rep: result too large
local s = string.rep("x", 1e12)
