-- expect: rule file builds more than 10000 expression nodes
local x = pre
for i = 1, 20000 do local y = pre * i end
