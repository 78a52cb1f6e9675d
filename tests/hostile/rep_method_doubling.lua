-- expect: rule file exceeds its memory limit of 16 MiB
local s = "x"
while true do s = s:rep(2) end
