-- expect: rule file exceeds its
local function h(e)
  return xpcall(error, h)
end
while true do xpcall(error, h) end
