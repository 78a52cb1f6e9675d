-- expect: invalid conversion
local s = string.format("%0999999d", 1)
