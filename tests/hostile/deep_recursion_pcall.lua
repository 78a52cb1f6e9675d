-- expect: exceeds its
local function f(n) local ok, r = pcall(f, n + 1) return f(n + 1) end
f(1)
