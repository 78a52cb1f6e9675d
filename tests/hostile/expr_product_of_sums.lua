-- expect: too large to compile
local s = outer(post, pre) + outer(e_post, e_pre) + outer(post, e_pre)
local x = s
for i = 1, 20 do x = x % s.T % s end
return {{name = "prod", expr = x}}
