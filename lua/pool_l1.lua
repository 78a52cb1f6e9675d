-- metaplast: the paper's Fig. 4 (PAPER.md §7.3): all ten candidate terms F0..F9 with feedback
-- alignment and L1 sparsity (θ0 = 1e-3, the others 0 at the start). The paper: accuracy rises
-- from the FA level towards BP's by ~300 episodes, and all but three coefficients go to zero:
-- θ0 (F0), θ2 (F2, eHebb) and θ9 (F9, Oja) survive. The paper's λ is not stated (PAPER.md §5:
-- probably 1.5-2.1, the reference's plain penalty); here the L1 step is proximal (exact zeros)
-- unless l1=penalty. lua/lambda_sweep.lua shows how the survivors depend on λ.
--   metaplast run lua/pool_l1.lua [lambda=1.5 l1=prox episodes=600 seeds=1-20 data=... out=runs/pool_l1]
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local mp = require "metaplast"
local ex = require "experiment"

local o = mp.options(arg, ex.paper_options{out = "runs/pool_l1", lambda = 1.5, l1 = "prox", terms = "paper"},
  "The pool with L1 (Fig. 4): the paper's ten terms, fixed random feedback, L1 weight lambda.")
if not o then return end
local seeds = ex.seeds(o.seeds)
print(("Pool + L1 on %s: terms %s, lambda %g (%s), %d episodes x %d seeds, results in %s/"):format(o.data, o.terms,
      o.lambda, o.l1, o.episodes, #seeds, o.out))

local runs = {pool = ex.run("pool", ex.search_config(o, {terms = o.terms, lambda = o.lambda, l1 = o.l1}), seeds, o.out, o.jobs)}

-- how often each term survives, and its mean final θ
local rows = {}
for i, t in ipairs(runs.pool[1] and runs.pool[1].terms or {}) do
  local alive, v = 0, {}
  for _, r in ipairs(runs.pool) do
    alive = alive + (r.theta[t.name] ~= 0 and 1 or 0)
    v[#v + 1] = r.theta[t.name]
  end
  rows[i] = {t.name, t.formula, ("%d/%d"):format(alive, #runs.pool), ex.mean(v)}
end
local text = "# The pool with L1 (PAPER.md Fig. 4)\n\n`" .. ex.command() .. "`\n\n" .. ex.summary(runs, {"pool"})
  .. "\nSurvivors (θ ≠ 0 at the end) per term:\n\n" .. ex.markdown({"term", "formula", "survived", "mean final θ"}, rows)
ex.write(o.out .. "/summary.md", text)
print("\n" .. text)
