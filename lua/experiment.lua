-- metaplast: what the paper-experiment scripts in lua/ share: the paper's settings, options
-- from `arg`, several seeds of one condition, and summary tables. See LICENSE for copyright.
--
-- A script finds this file beside itself:
--   local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
--   package.path = here .. "/?.lua;" .. package.path
--   local ex = require "experiment"
local mp = require "metaplast"

local ex = {}

-- The folder of the running script, and the EMNIST ByMerge test split beside the repository
-- (../shared/data/emnist, DESIGN.md), the paper's data as far as it exists here.
ex.here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
ex.emnist = ex.here .. "/../../shared/data/emnist"

-- The paper's settings (PAPER.md §1-§6) as script options: 47-way EMNIST with 400 images per
-- class and the reference's task sampler, 5-way 50+10 tasks, 784-170-130-100-70-47, 600
-- episodes, 20 trials (seeds 1-20), run in parallel on every core (jobs=0), and the paper's
-- unconstrained coefficients (sign="none"; sign="" keeps the terms' declared signs, metaplast's
-- default, where Oja's F9 stays >= 0). Each script adds its own.
function ex.paper_options(extra)
  local o = {
    data = "emnist-bymerge:" .. ex.emnist, per_class = 400, sampling = "paper",
    episodes = 600, seeds = "1-20", hidden = {170, 130, 100, 70},
    ways = 5, shots = 50, queries = 10, meta_batch = 1, lr = 1e-3,
    sign = "none", out = "runs/experiment", quiet = true, jobs = 0,
    method = "plain",   -- the paper's Adam on θ, λ in θ's units (docs/discovery.md); "robust" for the other
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- "1-20", "3", "1,4,7" -> list of seeds.
function ex.seeds(spec)
  spec = tostring(spec)
  local list = {}
  for item in spec:gmatch("[^,]+") do
    local a, b = item:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
    if a then
      for s = tonumber(a), tonumber(b) do list[#list + 1] = s end
    elseif item:match("^%s*%d+%s*$") then
      list[#list + 1] = tonumber(item)
    else
      error(("seeds=%s: expected seeds like 1-20 or 1,2,5"):format(spec), 0)
    end
  end
  if #list == 0 then error("seeds: no seed given", 0) end
  return list
end

-- The search configuration of option table o (the keys metaplast.search knows).
function ex.search_config(o, extra)
  local c = {}
  for _, k in ipairs{"data", "per_class", "sampling", "episodes", "hidden", "ways", "shots", "queries",
                     "meta_batch", "lr", "quiet", "method"} do
    c[k] = o[k]
  end
  if o.sign ~= "" then c.sign = o.sign end
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

local function mean(v)
  local s, n = 0, 0
  for _, x in ipairs(v) do
    if x == x then s, n = s + x, n + 1 end
  end
  return n > 0 and s / n or 0 / 0
end
ex.mean = mean

-- Mean of column v over episodes [a, b] (NaN episodes skipped).
function ex.window_mean(v, a, b)
  local w = {}
  for e = math.max(a, 1), math.min(b, #v) do w[#w + 1] = v[e] end
  return mean(w)
end

local function report(name, i, n, seed, r)
  if r.error then
    print(("  %-10s seed %-3d (%d/%d)  FAILED: %s"):format(name, seed, i, n, r.error))
  else
    print(("  %-10s seed %-3d (%d/%d)  final accuracy %.3f  %.3f s/episode  %s"):format(name, seed, i, n,
          r.stats.final_accuracy, r.stats.seconds_per_episode, r.equation))
  end
end

-- Run condition `name` (a search configuration) once per seed. Consecutive seeds run as trials in
-- parallel on `jobs` threads (0 = every core; metaplast.trials) into OUT/NAME/trial-001.., with
-- OUT/NAME/summary.md; other seed lists run one after another into OUT/NAME/seed-S. A run that
-- fails (e.g. every episode diverged) is reported and left out. Returns the results.
function ex.run(name, cfg, seeds, out, jobs)
  local runs, c = {}, {}
  for k, v in pairs(cfg) do c[k] = v end
  c.force = true
  local consecutive = seeds[1] >= 1
  for i = 2, #seeds do consecutive = consecutive and seeds[i] == seeds[i - 1] + 1 end
  if consecutive then
    c.seed, c.trials, c.jobs, c.out = seeds[1] - 1, #seeds, jobs or 0, out .. "/" .. name
    local ok, t = pcall(mp.trials, c)
    if not ok then
      print(("  %-10s FAILED: %s"):format(name, t))
      return runs
    end
    for i, r in ipairs(t.runs) do
      report(name, i, #seeds, r.seed, r)
      if not r.error then runs[#runs + 1] = r end
    end
    return runs
  end
  for i, seed in ipairs(seeds) do
    c.seed, c.out = seed, ("%s/%s/seed-%d"):format(out, name, seed)
    local ok, r = pcall(mp.search, c)
    report(name, i, #seeds, seed, ok and r or {error = r})
    if ok then runs[#runs + 1] = r end
  end
  return runs
end

-- A rule against feedback alignment: prints what runs, then runs FA alone (F0; when o.baseline)
-- and the rule `name` with `terms`, each once per seed of o.seeds, at o.lambda. Returns the
-- runs by condition name and their order, for ex.summary and ex.layer_table.
function ex.fa_and(o, name, terms)
  local seeds = ex.seeds(o.seeds)
  print(("%s on %s: %d episodes x %d seeds, lambda %g, results in %s/"):format(name, o.data, o.episodes, #seeds,
        o.lambda, o.out))
  local runs, order = {}, {}
  if o.baseline then
    order[#order + 1] = "FA"
    runs.FA = ex.run("FA", ex.search_config(o, {terms = "paper:F0", lambda = o.lambda}), seeds, o.out, o.jobs)
  end
  order[#order + 1] = name
  runs[name] = ex.run(name, ex.search_config(o, {terms = terms, lambda = o.lambda}), seeds, o.out, o.jobs)
  return runs, order
end

-- Per-episode mean over runs of history column `col` (e.g. "accuracy").
function ex.curve(runs, col)
  local c = {}
  for e = 1, runs[1] and runs[1].history.n or 0 do
    local v = {}
    for _, r in ipairs(runs) do v[#v + 1] = r.history[col][e] end
    c[e] = mean(v)
  end
  return c
end

-- A Markdown table: header (list of strings), rows (lists of values).
function ex.markdown(header, rows)
  local lines = {"| " .. table.concat(header, " | ") .. " |", "|" .. string.rep("---|", #header)}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, v in ipairs(row) do cells[i] = type(v) == "number" and ("%.4g"):format(v) or tostring(v) end
    lines[#lines + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Summarise conditions {name = runs} as Markdown: final accuracy (mean over seeds of each run's
-- mean over its last 50 episodes), accuracy over the first and last 100 episodes, and mean final θ.
function ex.summary(conditions, order)
  local rows, names = {}, {}
  for _, name in ipairs(order) do
    local runs = conditions[name]
    local fin, first, last = {}, {}, {}
    for _, r in ipairs(runs) do
      local n = r.history.n
      fin[#fin + 1] = r.stats.final_accuracy
      first[#first + 1] = ex.window_mean(r.history.accuracy, 1, 100)
      last[#last + 1] = ex.window_mean(r.history.accuracy, n - 99, n)
    end
    local theta = {}
    for i, t in ipairs(runs[1] and runs[1].terms or {}) do
      local v = {}
      for _, r in ipairs(runs) do v[#v + 1] = r.theta[t.name] end
      theta[i] = ("%s=%.3g"):format(t.name, mean(v))
      names[t.name] = true
    end
    rows[#rows + 1] = {name, #runs, mean(fin), mean(first), mean(last), table.concat(theta, " ")}
  end
  return ex.markdown({"condition", "runs", "final accuracy", "acc. ep. 1-100", "acc. last 100", "mean final θ"}, rows)
end

-- A per-layer table of history group `group` ("alpha" or "ortho"): for each condition, the mean
-- over seeds of the mean over episodes [a, b] (negative: counted from the end), layers 1..L-1
-- for alpha (alpha_L is 0 by definition) and 1..L for ortho.
function ex.layer_table(conditions, order, group, a, b)
  local rows, nl = {}, 0
  for _, name in ipairs(order) do
    local runs = conditions[name]
    if runs[1] then
      local g = runs[1].history[group]
      local last = group == "alpha" and #g - 1 or #g
      local row = {name}
      for l = 1, last do
        local v = {}
        for _, r in ipairs(runs) do
          local n = r.history.n
          local lo, hi = a < 0 and n + a + 1 or a, b < 0 and n + b + 1 or b
          v[#v + 1] = ex.window_mean(r.history[group][l], lo, hi)
        end
        row[#row + 1] = ex.mean(v)
      end
      nl = math.max(nl, last)
      rows[#rows + 1] = row
    end
  end
  local header = {"condition"}
  for l = 1, nl do header[#header + 1] = (group == "alpha" and "α_%d (deg)" or "E_%d"):format(l) end
  return ex.markdown(header, rows)
end

-- Write text to path (creating nothing but the file; the folder exists once a run wrote to it).
function ex.write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- The command line that reproduces this run, for the summary.
function ex.command()
  local a = {}
  for i = 1, #arg do a[#a + 1] = arg[i] end
  return "metaplast run " .. arg[0] .. (#a > 0 and " " .. table.concat(a, " ") or "")
end

return ex
