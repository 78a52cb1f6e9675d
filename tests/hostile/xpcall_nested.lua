-- expect: exceeds its budget of 10000000 instructions
local function h(e)
  return xpcall(error, h)
end
while true do xpcall(error, h) end
