-- expect: exceeds its budget of 10000000 instructions
local function h(e) return h(e) end
xpcall(error, h)
