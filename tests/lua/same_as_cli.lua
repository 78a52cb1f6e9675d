-- test_lua: a search from Lua, to be compared with `metaplast search` given the same settings
-- (tests/test_lua.sh), and checks of the result table against its own log.
--   same_as_cli.lua OUT
local mp = require "metaplast"
local out = assert(arg[1], "usage: same_as_cli.lua OUT")

local cfg = {data = "fashion-mnist-test", per_class = 100, hidden = {8}, terms = {"paper:F0,F2", "paper:F9"},
             episodes = 8, seed = 3, lambda = 0.5, lr = 0.002, sign = {F0 = "+", F9 = "+"}, init = {F9 = 0.001},
             out = out, force = true, quiet = true}
local r = mp.search(cfg)

assert(r.out == out, "result.out")
assert(r.history.n == 8 and #r.history.accuracy == 8 and #r.history.episode == 8, "history length")
assert(r.stats.episodes == 8 and r.stats.failures == 0, "stats")
for e = 1, 8 do assert(r.history.episode[e] == e and math.type(r.history.episode[e]) == "integer", "episode column") end
assert(r.history.theta.F9[1] == 0.001 and r.history.theta.F0[1] == 1e-3 and r.history.theta.F2[1] == 0, "initial theta")
assert(#r.terms == 3 and r.terms[1].name == "F0" and r.terms[2].name == "F2" and r.terms[3].name == "F9", "term order")
for _, t in ipairs(r.terms) do
  assert(r.theta[t.name] == t.theta, "theta map")
  assert(t.latex and t.latex ~= "" and t.code and t.code ~= "", "formulas")
end
assert(r.theta.F0 >= 0 and r.theta.F9 >= 0, "sign constraints")
local listed, oja = mp.terms("paper:F0,F9"), mp.terms("oja")
assert(listed[1].sign == "free" and listed[2].sign == "+" and oja[2].sign == "+", "declared signs in metaplast.terms")
local pool, quad = mp.plan("paper"), mp.plan("quadratic:post_pre,post_post_W,W_pre_pre,one_pre")
assert(pool.terms == 10 and pool.rank == 3 and pool.rank_sums == 1 and pool.wproducts == 1 and pool.wmat, "plan of the pool")
assert(quad.terms == 4 and quad.rank == 2 and quad.rank_sums == 0 and quad.wproducts == 1 and not quad.wmat and
       quad.natives == 0, "plan of four quadratic terms")
assert(not pcall(mp.plan, "paper:nosuch"), "plan of an unknown term")
assert(r.equation:find("ΔW =", 1, true) and r.equations.text == r.equation, "text equation")
assert(r.equations.latex:find("\\Delta W_{\\ell-1,\\ell} =", 1, true), "LaTeX equation")
local escaped = r.equations.latex:gsub("\\", "\\\\")
assert(r.report.json:find('"latex": "' .. escaped .. '"', 1, true), "the LaTeX equation is the read-out's")
assert(r.report.text:find(r.equation, 1, true), "the text equation is the read-out's")
for _, f in ipairs{"text", "latex", "markdown", "json"} do
  assert(mp.report(out, f) == r.report[f], "metaplast.report(out, '" .. f .. "') is result.report." .. f)
end
assert(r.stats.window == 8, "the final window is every episode of a run shorter than 50")
local n, s = 0, 0
for e = 8 - r.stats.window + 1, 8 do
  local a = r.history.accuracy[e]
  if a == a then s, n = s + a, n + 1 end
end
assert(math.abs(r.stats.final_accuracy - s / n) < 1e-15, "final accuracy is the tail mean of the history")
assert(#r.history.alpha == 2 and r.history.alpha[0] and #r.history.ortho == 2, "layer columns")
print("same_as_cli: " .. r.equation)
