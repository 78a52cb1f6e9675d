-- expect: rule file exceeds its memory limit of 16 MiB
local t = {}
for i = 1, 1e7 do t[i] = "xxxxxxxxxxxxxxxx" end
local s = table.concat(t)
