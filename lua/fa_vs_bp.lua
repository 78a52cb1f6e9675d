-- metaplast: the paper's Fig. 3 (PAPER.md §7.2): a learning rate alone (the pseudo-gradient F0)
-- meta-learned with backprop (symmetric feedback) and with feedback alignment (fixed random
-- feedback), lambda = 0. The paper: theta converges after ~100 episodes; FA reaches ~25% query
-- accuracy, BP ~70% (5-way, chance 20%).
--   metaplast run lua/fa_vs_bp.lua [episodes=600 seeds=1-20 data=... out=runs/fa_vs_bp]
-- Defaults are the paper's settings (lua/experiment.lua); a quick look on Fashion-MNIST:
--   metaplast run lua/fa_vs_bp.lua data=fashion-mnist episodes=100 seeds=1
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local mp = require "metaplast"
local ex = require "experiment"

local o = mp.options(arg, ex.paper_options{out = "runs/fa_vs_bp"},
  "FA vs BP (Fig. 3): F0 alone with fixed random feedback and with symmetric feedback, lambda = 0.")
if not o then return end
local seeds = ex.seeds(o.seeds)
print(("FA vs BP on %s: %d episodes x %d seeds per condition, results in %s/"):format(o.data, o.episodes, #seeds, o.out))

local runs, order = {}, {"FA", "BP"}
runs.FA = ex.run("FA", ex.search_config(o, {terms = "paper:F0", feedback = "fixed", lambda = 0}), seeds, o.out, o.jobs)
runs.BP = ex.run("BP", ex.search_config(o, {terms = "paper:F0", feedback = "symmetric", lambda = 0}), seeds, o.out, o.jobs)

local text = "# FA vs BP (PAPER.md Fig. 3)\n\n`" .. ex.command() .. "`\n\n" .. ex.summary(runs, order)
  .. "\nAlignment of e with its backprop analogue (Fig. 3d), mean over the last 100 episodes:\n\n"
  .. ex.layer_table(runs, order, "alpha", -100, -1)
ex.write(o.out .. "/summary.md", text)
print("\n" .. text)
