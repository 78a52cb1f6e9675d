-- expect: string.rep: repeating an empty string
local s = ("").rep("", 1e18)
