-- expect: rule file performs more than 100000 expression operations
local x = pre
while true do local y = x.T end
