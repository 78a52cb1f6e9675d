-- expect: expression larger than 100000 operations when written out
local x = outer(post, pre)
for i = 1, 200 do x = x + x end
return {{name = "huge", expr = x}}
