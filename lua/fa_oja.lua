-- metaplast: the paper's Figs. 7-8 (PAPER.md §7.6): feedback alignment plus Oja's rule,
-- F^Oja = θ0 F0 + θ9 F9 (θ0 = 1e-3, θ9 = 0 at the start), beside FA alone. The paper: accuracy
-- and loss improve clearly, angles only slightly; the weights become increasingly orthonormal
-- (the error E_ℓ falls, Fig. 8).
--   metaplast run lua/fa_oja.lua [episodes=600 seeds=1-20 data=... baseline=true sign=none out=runs/fa_oja]
--   (sign=none, the default here, is the paper's unconstrained θ9; sign= keeps F9's declared θ9 >= 0)
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local mp = require "metaplast"
local ex = require "experiment"

local o = mp.options(arg, ex.paper_options{out = "runs/fa_oja", lambda = 0, baseline = true},
  "FA + Oja (Figs. 7-8): terms F0 and F9 with fixed random feedback; baseline=true also runs FA alone.")
if not o then return end
local runs, order = ex.fa_and(o, "FA+Oja", "paper:F0,F9")

local text = "# FA + Oja (PAPER.md Figs. 7-8)\n\n`" .. ex.command() .. "`\n\n" .. ex.summary(runs, order)
  .. "\nAlignment α_ℓ (degrees), mean over the last 100 episodes:\n\n" .. ex.layer_table(runs, order, "alpha", -100, -1)
  .. "\nOrthonormality error E_ℓ (Fig. 8), first 50 episodes:\n\n" .. ex.layer_table(runs, order, "ortho", 1, 50)
  .. "\nand last 50 episodes:\n\n" .. ex.layer_table(runs, order, "ortho", -50, -1)
ex.write(o.out .. "/summary.md", text)
print("\n" .. text)
