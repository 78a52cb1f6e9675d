-- test_lua: metaplast.path (issue 25): the sparsity path from Lua is that of `metaplast search
-- --lambda-path` (test_lua.sh compares path.csv and each lambda's log.csv), with one search or several
-- trials per lambda, and its errors name the key.
--   path.lua OUT
local mp = require "metaplast"
local out = assert(arg[1])
local cfg = {data = "fashion-mnist-test", per_class = 100, hidden = {8}, terms = "paper:F0,F2,F9", episodes = 6,
             seed = 4, method = "plain", quiet = true}
local function with(t) local c = {} for k, v in pairs(cfg) do c[k] = v end for k, v in pairs(t) do c[k] = v end return c end
local p = mp.path(with{lambdas = "0,0.01:1:3", jobs = 2, out = out, force = true})
assert(#p.lambda == 4 and p.lambda[1] == 0 and math.abs(p.lambda[4] - 1) < 1e-12, "the lambda values")
assert(#p.runs == 4 and p.out == out and p.summary:find("Sparsity path", 1, true), "runs and summary")
for i, r in ipairs(p.runs) do
  assert(r.equation and r.stats, "lambda " .. p.lambda[i] .. ": a search result")
  local one = mp.search(with{lambda = p.lambda[i]})   -- the same search alone
  for e = 1, 6 do assert(one.history.accuracy[e] == r.history.accuracy[e], "lambda " .. p.lambda[i] .. " alone") end
end
local same = mp.path(with{lambdas = {0, 0.01, 0.1, 1}, jobs = 1, out = out .. "-list", force = true})
for i = 1, 4 do assert(same.runs[i].theta.F0 == p.runs[i].theta.F0, "a list gives the same path") end
local t = mp.path(with{lambdas = {0, 1}, trials = 2, jobs = 2, out = out .. "-trials", force = true})
assert(t.runs[2].n_ok == 2 and t.runs[2].runs[2].out == out .. "-trials/lambda-1/trial-002", "trials per lambda")
local ok, err = pcall(mp.path, with{lambdas = {0, "a"}, out = out .. "-x"})
assert(not ok and err:find("key 'lambdas': element 2 is not a number", 1, true), err)
ok, err = pcall(mp.path, with{out = out .. "-x"})
assert(not ok and err:find("key 'lambdas' is required", 1, true), err)
ok, err = pcall(mp.path, with{lambdas = "1:0:3", out = out .. "-x"})
assert(not ok and err:find("metaplast.path: lambdas: ", 1, true), err)
print("path: ok")
