-- expect: returned
-- pcall inside pcall: Lua's C-stack limit, caught; then nothing is returned
local function f() return pcall(f) end
f()
