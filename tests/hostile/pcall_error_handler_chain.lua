-- expect: exceeds its budget of 10000000 instructions
local f
f = function() local ok = pcall(f) while true do end end
f()
