-- metaplast: the sparsity path. One search per L1 weight λ over the same terms, seed and tasks,
-- and a table of the terms that survive (θ ≠ 0) and the final accuracy per λ: which terms the
-- data keep as sparsity grows.
--   metaplast run lua/lambda_sweep.lua [lambdas=0,0.1,0.3,1,3,10 terms=paper episodes=600 seed=1 data=...]
-- Defaults are the paper's settings (lua/experiment.lua) for one seed; a quick look:
--   metaplast run lua/lambda_sweep.lua data=fashion-mnist episodes=100 lambdas=0,1,10
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local mp = require "metaplast"
local ex = require "experiment"

local o = mp.options(arg, ex.paper_options{out = "runs/lambda_sweep", lambdas = {0, 0.1, 0.3, 1, 3, 10},
                                             terms = "paper", l1 = "prox", seed = 1, feedback = "fixed"},
  "The sparsity path: one search per lambda (lambdas=0,0.1,1), a table of surviving terms and accuracy.")
if not o then return end
print(("λ sweep on %s: terms %s, %s feedback, %d episodes, seed %d, λ = %s, results in %s/"):format(o.data, o.terms,
      o.feedback, o.episodes, o.seed, table.concat(o.lambdas, ", "), o.out))

local results, names = {}, nil
for i, lambda in ipairs(o.lambdas) do
  local c = ex.search_config(o, {terms = o.terms, feedback = o.feedback, lambda = lambda, l1 = o.l1, seed = o.seed,
                                 out = ("%s/lambda-%g"):format(o.out, lambda), force = true})
  local ok, r = pcall(mp.search, c)
  if ok then
    results[i] = r
    names = names or r.terms
    print(("  λ = %-8g final accuracy %.3f  %d terms left  %s"):format(lambda, r.stats.final_accuracy,
          r.stats.active, r.equation))
  else
    print(("  λ = %-8g FAILED: %s"):format(lambda, r))
  end
end

-- the table: one row per λ, one column per term (θ, or · where it is exactly zero)
local header, rows = {"λ"}, {}
for _, t in ipairs(names or {}) do header[#header + 1] = t.name end
header[#header + 1], header[#header + 2] = "terms left", "final accuracy"
for i, lambda in ipairs(o.lambdas) do
  local r, row = results[i], {lambda}
  for _, t in ipairs(names or {}) do
    local v = r and r.theta[t.name]
    row[#row + 1] = not r and "-" or v == 0 and "·" or ("%.3g"):format(v)
  end
  row[#row + 1] = r and r.stats.active or "-"
  row[#row + 1] = r and r.stats.final_accuracy or "failed"
  rows[#rows + 1] = row
end
local text = "# The sparsity path\n\n`" .. ex.command() .. "`\n\n" .. ex.markdown(header, rows)
  .. "\nθ per term at the end of each search; · is an exact zero. Final accuracy: mean query accuracy of the last "
  .. "50 episodes.\n"
ex.write(o.out .. "/sweep.md", text)
print("\n" .. text)
