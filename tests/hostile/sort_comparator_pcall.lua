-- expect: exceeds its budget of 10000000 instructions
local t = {}
for i = 1, 1000 do t[i] = (i * 7919) % 1000 end
while true do pcall(table.sort, t, function(a, b) while true do end end) end
