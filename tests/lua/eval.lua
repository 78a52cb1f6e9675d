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
local f = assert(io.open(file, "w"))
f:write(e.table)
f:close()
print("eval: ok")
