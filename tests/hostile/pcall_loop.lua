-- expect: exceeds its budget of 10000000 instructions
while true do pcall(function() while true do end end) end
