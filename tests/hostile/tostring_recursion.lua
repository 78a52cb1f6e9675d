-- expect: exceeds its
local t = {}
local function f(x) return tostring(x) .. f(x) end
f(t)
