-- expect: at most 4096
local t = {}
for i = 1, 5000 do t[i] = {name = "t" .. i, expr = outer(post, pre)} end
return t
