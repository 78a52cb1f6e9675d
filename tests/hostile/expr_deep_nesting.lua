-- expect: expression nested deeper than 256 operations
local x = pre
for i = 1, 1000 do x = tanh(x) end
