-- expect: exceeds its time budget of 2 s (compiling its 4096 terms
-- each term just under the compiler's per-term budget, 4096 times: compiling is C, out of the
-- instruction hook's sight, so the time budget is checked between terms
local s = outer(post, pre) + outer(e_post, e_pre)
local x = s
for i = 1, 10 do x = x * s end
local t = {}
for i = 1, 4096 do t[i] = {name = "t" .. i, expr = x} end
return t
