-- expect: exceeds its
-- large strings made and dropped: work inside library calls, under the time budget
local n = 0
while true do local s = string.rep("x", 4e6) n = n + #s end
