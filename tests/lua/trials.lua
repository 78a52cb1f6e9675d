-- test_lua: metaplast.trials: trial i is the search with seed+i, whatever the number of jobs.
--   trials.lua OUT
local mp = require "metaplast"
local out = assert(arg[1])
local cfg = {data = "fashion-mnist-test", per_class = 100, hidden = {8}, terms = "paper:F0,F9", episodes = 4,
             quiet = true}
local function with(t) local c = {} for k, v in pairs(cfg) do c[k] = v end for k, v in pairs(t) do c[k] = v end return c end
local t = mp.trials(with{trials = 3, jobs = 2, seed = 10, out = out, force = true})
assert(t.n_ok == 3 and #t.runs == 3 and t.out == out, "three trials")
assert(#t.accuracy.mean == 4 and #t.terms == 2 and t.summary:find("3 trials", 1, true), "summary")
for i, r in ipairs(t.runs) do
  assert(r.seed == 10 + i and r.out == ("%s/trial-%03d"):format(out, i), "trial seeds and folders")
  local one = mp.search(with{seed = 10 + i})
  for e = 1, 4 do
    assert(one.history.accuracy[e] == r.history.accuracy[e] and one.history.theta.F9[e] == r.history.theta.F9[e],
           "trial " .. i .. " is the search with seed " .. (10 + i))
  end
  assert(one.theta.F0 == r.theta.F0, "final theta")
end
local ok, err = pcall(mp.trials, with{trials = 2})
assert(not ok and err:find("key 'out'", 1, true), "out is required")
ok, err = pcall(mp.trials, with{trials = 2, out = out, force = true, on_episode = print})
assert(not ok and err:find("on_episode", 1, true), "no callback on threads")
print("trials: ok")
