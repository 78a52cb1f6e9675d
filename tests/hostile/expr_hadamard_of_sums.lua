-- expect: too large to compile
-- (a + b) * (a + b) * ... multiplies out into 2^41 rank-1 pieces
local s = outer(post, pre) + outer(e_post, e_pre)
local x = s
for i = 1, 40 do x = x * s end
return {{name = "had", expr = x}}
