-- expect: expression larger than 100000 operations when written out
local x = outer(post, pre) + outer(post, pre)
for i = 1, 15 do x = x + x end
local args = {}
for i = 1, 200 do args[i] = x end
return {{name = "m", expr = matmul(outer(post, post), table.unpack(args)) }}
