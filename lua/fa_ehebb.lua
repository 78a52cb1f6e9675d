-- metaplast: the paper's Fig. 5 (PAPER.md §7.5): feedback alignment plus the error-based Hebbian
-- term, F^eHebb = θ0 F0 + θ2 F2 (θ0 = 1e-3, θ2 = 0 at the start), beside FA alone (F0). The
-- paper: a clear improvement over FA, and better aligned teaching signals (smaller α).
-- θ2 < 0 is expected (PAPER.md §4.2).
--   metaplast run lua/fa_ehebb.lua [episodes=600 seeds=1-20 data=... baseline=true out=runs/fa_ehebb]
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local mp = require "metaplast"
local ex = require "experiment"

local o = mp.options(arg, ex.paper_options{out = "runs/fa_ehebb", lambda = 0, baseline = true},
  "FA + eHebb (Fig. 5): terms F0 and F2 with fixed random feedback; baseline=true also runs FA alone.")
if not o then return end
local runs, order = ex.fa_and(o, "FA+eHebb", "paper:F0,F2")

local text = "# FA + eHebb (PAPER.md Fig. 5)\n\n`" .. ex.command() .. "`\n\n" .. ex.summary(runs, order)
  .. "\nAlignment α_ℓ (degrees), mean over the last 100 episodes:\n\n" .. ex.layer_table(runs, order, "alpha", -100, -1)
ex.write(o.out .. "/summary.md", text)
print("\n" .. text)
