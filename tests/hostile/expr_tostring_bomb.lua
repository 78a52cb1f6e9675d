-- expect: expression larger than 100000 operations when written out
local x = pre
for i = 1, 64 do x = x + x end
local s = tostring(x)
