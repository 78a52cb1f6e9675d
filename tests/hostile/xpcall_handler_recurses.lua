-- expect: exceeds its
local function h(e) return h(e) .. "" end
xpcall(error, h)
