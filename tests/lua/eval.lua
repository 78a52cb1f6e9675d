-- test_lua: metaplast.eval on a results directory, its table written for comparison with
-- `metaplast eval RULE --tasks 6 --seed 2` (tests/test_lua.sh).   eval.lua RULE OUT_FILE
local mp = require "metaplast"
local rule, file = assert(arg[1]), assert(arg[2])
local e = mp.eval{rule = rule, tasks = 6, seed = 2, quiet = true}
assert(e.tasks == 6 and #e.rule.accuracy == 6 and #e.FA.accuracy == 6 and #e.BP.accuracy == 6, "per-task accuracies")
for _, m in ipairs{"rule", "FA", "BP"} do
  local s = 0
  for t = 1, 6 do s = s + e[m].accuracy[t] end
  assert(e[m].diverged > 0 or math.abs(e[m].mean - s / 6) < 1e-12, m .. ": mean of the per-task accuracies")
  assert(e[m].lo <= e[m].mean and e[m].mean <= e[m].hi, m .. ": interval")
end
assert(e.changed == 0 and type(e.notes) == "table" and #e.notes == 0, "no notes for an unchanged rule")
-- issue 22: the tasks on 1 and 2 threads (jobs): the same table and accuracies, bit for bit
local j1, j2 = mp.eval{rule = rule, tasks = 6, seed = 2, quiet = true, jobs = 1},
               mp.eval{rule = rule, tasks = 6, seed = 2, quiet = true, jobs = 2}
assert(j1.table == e.table and j2.table == e.table, "eval's table at jobs 1 and 2")
for t = 1, 6 do assert(j1.rule.accuracy[t] == j2.rule.accuracy[t], "per-task accuracy at jobs 1 and 2") end
-- issue 25: the rule's record of its plugin with another content hash: a warning and the count
local text = assert(io.open(rule .. "/rule.json")):read("a")
local edited, k = text:gsub('"crc32": "%x+"', '"crc32": "00000000"')
assert(k >= 1, "rule.json records its sources' hashes")
local g = assert(io.open(file .. ".rule.json", "w"))
g:write(edited)
g:close()
local c = mp.eval{rule = file .. ".rule.json", tasks = 2, seed = 2, quiet = true}
assert(c.changed == 1 and #c.notes == 1 and c.notes[1]:find("warning: plugin paper", 1, true)
       and c.notes[1]:find("changed since the run", 1, true), "a changed source: " .. tostring(c.notes[1]))
local f = assert(io.open(file, "w"))
f:write(e.table)
f:close()
print("eval: ok")
