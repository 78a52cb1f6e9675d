-- expect: rule file exceeds its memory limit of 16 MiB
local t = {}
local i = 0
while true do i = i + 1 t[i] = {i} end
