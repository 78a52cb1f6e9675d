-- metaplast quickstart: a short real search on Fashion-MNIST that prints the discovered rule.
-- Feedback alignment with the pseudo-gradient F0, the error-Hebbian term F2 and Oja's rule F9
-- (PAPER.md §4), 200 episodes (under a minute), F0 and F9 kept non-negative.
--   metaplast run lua/quickstart.lua [episodes=200 seed=1 data=fashion-mnist out=runs/quickstart]
--   LUA_CPATH="build/lua/?.so;;" lua5.4 lua/quickstart.lua     (from the repository's top folder)
local mp = require "metaplast"

local o = mp.options(arg, {episodes = 200, seed = 1, data = "fashion-mnist", terms = "paper:F0,F2,F9",
                           hidden = {170, 130, 100, 70}, out = "runs/quickstart", quiet = false},
  "metaplast quickstart: meta-learn a plasticity rule on Fashion-MNIST and print it.")
if not o then return end

print(("metaplast %s: meta-learning the coefficients of %s on %s (%d episodes, seed %d)"):format(mp.version,
      o.terms, o.data, o.episodes, o.seed))
for _, t in ipairs(mp.terms(o.terms)) do print(("  %-4s %-28s %s"):format(t.name, t.formula, t.description or "")) end

local r = mp.search{data = o.data, terms = o.terms, sign = {F0 = "+"}, hidden = o.hidden,
                    episodes = o.episodes, seed = o.seed, out = o.out, force = true, quiet = o.quiet}

local first, k = 0, 0
for e = 1, math.min(10, r.history.n) do
  local a = r.history.accuracy[e]
  if a == a then first, k = first + a, k + 1 end  -- a diverged episode's accuracy is NaN
end
print(("\n%d episodes, %.3f s/episode, %d diverged; query accuracy %.3f (first 10 episodes) -> %.3f (last %d)"):format(
      r.stats.episodes, r.stats.seconds_per_episode, r.stats.failures, first / k, r.stats.final_accuracy,
      r.stats.window))
io.write(r.health)   -- the verdict (docs/discovery.md)
print((r.healthy and "discovered rule: " or "rule (not a discovery): ") .. r.equation)
print("results in " .. r.out .. "/")
