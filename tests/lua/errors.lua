-- test_lua: script errors are Lua errors carrying the library's message; run under ASan by the
-- sanitizer build, so that no error path leaks or crashes. Also: no temporary directory is left.
local mp = require "metaplast"

local base = {data = "fashion-mnist-test", per_class = 100, hidden = {8}, terms = "paper:F0", episodes = 3,
              quiet = true}
local function cfg(patch)
  local c = {}
  for k, v in pairs(base) do c[k] = v end
  for k, v in pairs(patch) do c[k] = v end
  return c
end
local function expect(f, arg, want)
  local ok, err = pcall(f, arg)
  assert(not ok, ("expected an error containing %q"):format(want))
  assert(type(err) == "string" and err:find(want, 1, true), ("error %q does not contain %q"):format(tostring(err), want))
end
local S = mp.search

-- bad keys and wrong types name the key
expect(S, cfg{epsiodes = 3}, "unknown key 'epsiodes'")
expect(S, cfg{episodes = "3"}, "key 'episodes': expected an integer, got string")
expect(S, cfg{episodes = 1.5}, "key 'episodes': expected an integer, got 1.5")
expect(S, cfg{episodes = 0}, "key 'episodes': 0 is out of range")
expect(S, cfg{lambda = "big"}, "key 'lambda': expected a number, got string")
expect(S, cfg{hidden = {8, "x"}}, "key 'hidden[2]': expected an integer, got string")
expect(S, cfg{hidden = 8}, "key 'hidden': expected a list of layer sizes")
expect(S, cfg{feedback = "xyz"}, "key 'feedback': 'xyz' is not one of 'fixed', 'symmetric', 'direct'")
expect(S, cfg{quiet = "yes"}, "key 'quiet': expected a boolean, got string")
expect(S, cfg{sign = {F0 = "up"}}, "key 'sign.F0': 'up' is not one of")
expect(S, cfg{init = {F0 = "x"}}, "key 'init.F0': expected a number, got string")
expect(S, cfg{on_episode = 3}, "key 'on_episode': expected a function, got number")
expect(S, {"fashion-mnist"}, "named keys")
expect(S, cfg{data = {labels = "x"}}, "key 'data.images': expected a string, got nil")
-- missing data and broken term specifications: the library's messages
expect(S, cfg{data = "emnist-bymerge:/nonexistent/emnist"}, "/nonexistent/emnist")
expect(S, cfg{data = {images = "/nonexistent/img", labels = "/nonexistent/lab"}}, "/nonexistent/")
expect(S, cfg{data = "mnist"}, "unknown dataset 'mnist'")
expect(S, cfg{terms = "paper:F0,F99"}, "no term 'F99'")
expect(S, cfg{terms = "nosuchplugin"}, "no plugin 'nosuchplugin'")
expect(S, cfg{terms = "paper:F0,F0"}, "listed twice")
expect(S, cfg{init = {F5 = 1}}, "'F5' is not a selected term")
expect(S, cfg{ways = 11}, "class")  -- 10 classes cannot make 11-way tasks
expect(mp.terms, "paper:F0,Fx", "no term 'Fx'")
expect(mp.dataset, "emnist-bymerge:/nonexistent", "/nonexistent")
expect(mp.report, "/nonexistent/run", "/nonexistent/run")
expect(mp.report, ".", "theta.tsv")  -- a folder that holds no run
expect(mp.eval, {rule = "/nonexistent/run"}, "/nonexistent/run")
expect(mp.eval, {rule = ".", tasks = 0}, "key 'tasks': 0 is out of range")
expect(mp.eval, {tasks = 5}, "key 'rule' (a results directory or a JSON rule) is required")
expect(mp.eval, {rule = ".", taks = 5}, "unknown key 'taks'")
-- an error thrown in the middle of a search stops it and comes out as it was raised
local calls = 0
expect(S, cfg{episodes = 5, on_episode = function(e) calls = e; if e == 2 then error("stopped at episode 2") end end},
       "stopped at episode 2")
assert(calls == 2, "the search stops at the callback's error")
local obj = {}
local ok, err = pcall(S, cfg{episodes = 5, on_episode = function() error(obj) end})
assert(not ok and err == obj, "a non-string error object comes out as it was raised")
-- returning false stops the search early, as an interrupt
local r = S(cfg{episodes = 5, on_episode = function(e) return e < 2 end})
assert(r.stats.interrupted and r.stats.episodes == 2 and r.history.n == 2, "on_episode returning false")
-- the same seed gives the same history
local a, b = S(cfg{seed = 7}), S(cfg{seed = 7})
for e = 1, 3 do
  assert(a.history.accuracy[e] == b.history.accuracy[e] and a.history.theta.F0[e] == b.history.theta.F0[e], "determinism")
end
assert(a.out == nil, "no out: a temporary directory, not reported")
-- feedback = "dfa" (= "direct"): deterministic, and not FA once there are two hidden layers
local two = {hidden = {8, 6}, seed = 7}
local d1, d2, fa = S(cfg{feedback = "dfa", hidden = two.hidden, seed = 7}),
                   S(cfg{feedback = "direct", hidden = two.hidden, seed = 7}), S(cfg{hidden = two.hidden, seed = 7})
local differ = false
for e = 1, 3 do
  assert(d1.history.theta.F0[e] == d2.history.theta.F0[e], "dfa is direct, and deterministic")
  differ = differ or d1.history.theta.F0[e] ~= fa.history.theta.F0[e]
end
assert(differ, "direct feedback is not fixed feedback")
print("errors: ok")
