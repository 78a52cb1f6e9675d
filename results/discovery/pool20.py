#!/usr/bin/env python3
"""Summarise results/discovery/pool20.sh's trials (DIR, default runs/pool20) against issue 19's pool
target: healthy trials, mean meta-accuracy over episodes 501-600 against BP's 0.696 (results/paper),
the survivors of each reported rule beside the paper's F0, F2, F9. Usage: pool20.py [DIR...] > pool20.md (trials are told apart by their seed; a finished run of a seed
wins over an unfinished one, else the first directory's)"""
import csv
import json
import math
import os
import statistics as st
import subprocess
import sys

dirs = sys.argv[1:] or ["runs/pool20"]
BP = 0.696
PAPER = {"F0", "F2", "F9"}
commit = os.environ.get("COMMIT") or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                                   text=True).stdout.strip()   # COMMIT: the binary's, if not HEAD


def seed_of(run):
    for line in open(os.path.join(run, "config.txt")):
        if line.startswith("seed = "):
            return int(line.split("=")[1])
    return None


runs = {}
for d in dirs:
    for t in (x for x in os.listdir(d) if x.startswith("trial-")):
        try:
            seed, run = seed_of(os.path.join(d, t)), os.path.join(d, t)
            if seed not in runs or not os.path.exists(os.path.join(runs[seed], "rule.json")):
                runs[seed] = run   # a finished run of a seed wins over an unfinished one
        except OSError:
            pass
rows = []
for seed, run in sorted(runs.items()):
    t = f"seed {seed}"
    try:
        rule = json.load(open(os.path.join(run, "rule.json")))
    except (OSError, ValueError):
        rows.append({"trial": t, "done": False})
        continue
    log = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
    late = [float(r["accuracy"]) for r in log if 501 <= int(r["episode"]) <= 600]
    ok = [a for a in late if math.isfinite(a)]
    rows.append({"trial": t, "done": True, "healthy": rule["health"]["healthy"],
                 "late": st.mean(ok) if ok else float("nan"), "late_failed": len(late) - len(ok),
                 "episodes": len(log), "survivors": [x["name"] for x in rule["terms"] if x["survives"]],
                 "verdict": rule["health"]["text"].splitlines()[0]})
done = [r for r in rows if r["done"]]
print(f"# The paper's pool on EMNIST ByMerge-400: 20 trials, 600 episodes, default settings (run at {commit})\n")
print("`bash results/discovery/pool20.sh && python3 results/discovery/pool20.py > results/discovery/pool20.md`: "
      "`metaplast search --data emnist-bymerge:DIR --per-class 400 --terms paper --episodes 600 --seed 0 --trials 20` "
      "(trial i has seed i; the robust method, `--lambda auto`). *501-600*: mean query accuracy of episodes "
      f"501-600 (failed episodes left out, their count beside it); BP's is {BP} (results/paper). *survivors*: the "
      "reported rule's non-zero terms.\n")
bp_dir = os.environ.get("BP_DIR")   # BP on the same sampling (pool20.sh's $OUT-bp)
print("| seed | verdict | 501-600 (failed) | survivors | ⊇ F0,F2,F9 |")
print("|:--|:--|:--|:--|:--|")
for r in rows:
    if not r["done"]:
        print(f"| {r['trial']} | not finished | – | – | – |")
        continue
    s = set(r["survivors"])
    print(f"| {r['trial']} | {'healthy' if r['healthy'] else 'UNHEALTHY'} | {r['late']:.3f} ({r['late_failed']}) | "
          f"{' '.join(r['survivors'])} | {'yes' if PAPER <= s else 'no'} |")
if done:
    h = sum(r["healthy"] for r in done)
    late = [r["late"] for r in done if math.isfinite(r["late"])]
    m = st.mean(late) if late else float("nan")
    print(f"\n**Healthy: {h}/{len(rows)}** (target ≥ 18/20). **Mean accuracy over episodes 501-600: {m:.3f}** "
          f"(min {min(late):.3f}, max {max(late):.3f} over {len(late)} trials) against BP's {BP}: "
          f"gap {BP - m:.3f} (target ≤ 0.03).\n")
    if bp_dir:
        bp = []
        for t in sorted(x for x in os.listdir(bp_dir) if x.startswith("trial-")):
            acc = [float(r["accuracy"]) for r in csv.DictReader(open(os.path.join(bp_dir, t, "log.csv")))
                   if 501 <= int(r["episode"]) <= 600 and math.isfinite(float(r["accuracy"]))]
            if acc:
                bp.append(st.mean(acc))
        sampling = "paper" if "sampling = paper" in open(os.path.join(next(iter(runs.values())), "config.txt")).read() else "clean"
        print(f"BP on the same ({sampling}) sampling, the same seeds (`{bp_dir}`): mean over episodes 501-600 "
              f"**{st.mean(bp):.3f}** (min {min(bp):.3f}, max {max(bp):.3f} over {len(bp)} trials): gap "
              f"{st.mean(bp) - m:.3f}. results/paper's {BP} ran with `--sampling paper` (each class's first K + Q "
              "images, classes with replacement).\n")
    names = sorted({n for r in done for n in r["survivors"]}, key=lambda x: (len(x), x))
    print("Survival over the finished trials: " +
          ", ".join(f"{n} {sum(n in r['survivors'] for r in done)}/{len(done)}" for n in names) +
          f"; the paper's survivors F0, F2, F9 all kept (others possibly too) in "
          f"{sum(PAPER <= set(r['survivors']) for r in done)}/{len(done)}, exactly them in "
          f"{sum(PAPER == set(r['survivors']) for r in done)}/{len(done)}.")
