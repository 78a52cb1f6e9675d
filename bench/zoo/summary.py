#!/usr/bin/env python3
"""Summarise bench/zoo/zoo.sh's runs (OUT, default runs/zoo) as a Markdown table, one row per dataset and
library: healthy share, validation accuracy of the reported rule and of FA on the same tasks, held-out
accuracy of the rule, FA and BP (metaplast eval, 50 tasks), how often the rule is at least FA's on the
held-out tasks, survivors, wall time; then every unhealthy run with its reasons. Usage:
    [COMMIT=abc1234] summary.py [OUT] > results/discovery/zoo.md   (COMMIT: the binary's commit, if not HEAD)
"""
import json
import os
import re
import statistics as st
import subprocess
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "runs/zoo"


def run_row(d):
    r = {"dir": d}
    s = open(os.path.join(d, "search.out")).read() if os.path.exists(os.path.join(d, "search.out")) else ""
    m = re.findall(r"status (\d+) seconds ([\d.]+)", s)   # the last: a re-run appends its own
    r["status"], r["seconds"] = (int(m[-1][0]), float(m[-1][1])) if m else (None, None)
    try:
        rule = json.load(open(os.path.join(d, "run", "rule.json")))
    except (OSError, ValueError):
        rule = None
    r["healthy"] = bool(rule and rule.get("health", {}).get("healthy"))
    r["health"] = rule.get("health", {}).get("text", "") if rule else s.strip()[-400:]
    m = re.search(r"validation accuracy ([\d.]+) against FA's ([\d.]+)", r["health"])
    r["val"], r["val_fa"] = (float(m.group(1)), float(m.group(2))) if m else (None, None)
    r["survivors"] = sum(t["survives"] for t in rule["terms"]) if rule else None
    r["terms"] = len(rule["terms"]) if rule else None
    r["names"] = [t["name"] for t in rule["terms"] if t["survives"]] if rule else []
    e = open(os.path.join(d, "eval.out")).read() if os.path.exists(os.path.join(d, "eval.out")) else ""
    for meth in ("rule", "FA", "BP"):
        m = re.search(rf"^{meth}\s+([\d.]+|nan)\s+\[([\d.na]+), ([\d.na]+)\]\s+(\d+)", e, re.M)
        r[meth] = float(m.group(1)) if m else None
        r[meth + "_div"] = int(m.group(4)) if m else None
    return r


def fmt(x, p=3):
    return "–" if x is None else f"{x:.{p}f}"


def mean(xs):
    xs = [x for x in xs if x is not None]
    return st.mean(xs) if xs else None


rows = {}
for ds in sorted(os.listdir(out)):
    for lib in sorted(os.listdir(os.path.join(out, ds))):
        base = os.path.join(out, ds, lib)
        runs = [run_row(os.path.join(base, s)) for s in sorted(os.listdir(base), key=lambda x: int(x[5:]))
                if s.startswith("seed-") and os.path.exists(os.path.join(base, s, "eval.out"))]   # finished runs
        rows[(ds, lib)] = runs

commit = os.environ.get("COMMIT") or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                                   text=True).stdout.strip()   # COMMIT: the binary's, if not HEAD
print(f"# The library zoo (issue 19), metaplast {commit}\n")
print("`bash bench/zoo/zoo.sh && python3 bench/zoo/summary.py > results/discovery/zoo.md`: default settings "
      "(the robust method, `--lambda auto`), every library with F0. *val*: mean validation accuracy of the "
      "reported rule and of FA on the same tasks (the verdict's numbers); *held-out*: `metaplast eval` on 50 "
      "fresh tasks (Fashion-MNIST's test split; EMNIST's whole test file), rule / FA / BP at the rule's own F0 "
      "rate, means over the trials whose eval ran; *≥ FA*: trials whose held-out rule accuracy is at least FA's; "
      "*survivors*: mean surviving terms of the reported rule.\n")
print("| dataset | library | trials | healthy | val rule / FA | held-out rule / FA / BP | ≥ FA | survivors | s/run |")
print("|:--|:--|--:|--:|:--|:--|--:|:--|--:|")
tot = {"n": 0, "h": 0, "ge": 0, "ev": 0}
for (ds, lib), runs in rows.items():
    n = len(runs)
    h = sum(r["healthy"] for r in runs)
    ev = [r for r in runs if r["rule"] is not None and r["FA"] is not None]
    ge = sum(r["rule"] >= r["FA"] for r in ev)
    tot["n"] += n; tot["h"] += h; tot["ge"] += ge; tot["ev"] += len(ev)
    surv = mean([r["survivors"] for r in runs])
    nterms = runs[0]["terms"] if runs and runs[0]["terms"] else None
    print(f"| {ds} | {lib} | {n} | {h}/{n} | {fmt(mean([r['val'] for r in runs]))} / {fmt(mean([r['val_fa'] for r in runs]))} "
          f"| {fmt(mean([r['rule'] for r in ev]))} / {fmt(mean([r['FA'] for r in ev]))} / {fmt(mean([r['BP'] for r in ev]))} "
          f"| {ge}/{len(ev)} | {fmt(surv, 1)} of {nterms} | {fmt(mean([r['seconds'] for r in runs]), 0)} |")
print(f"\n**All: {tot['h']}/{tot['n']} healthy ({100 * tot['h'] / max(tot['n'], 1):.0f}%); held-out rule ≥ FA in "
      f"{tot['ge']}/{tot['ev']} ({100 * tot['ge'] / max(tot['ev'], 1):.0f}%).**\n")
lmax = [float(m) for runs in rows.values() for r in runs
        for m in re.findall(r"from lambda_max ([\d.e+-]+);", r["health"])]
if lmax:
    print(f"lambda auto's lambda_max (standardized units) over the {len(lmax)} runs that print their path: "
          f"from {min(lmax):.4g} to {max(lmax):.4g}.\n")
print("## Unhealthy runs and their reasons\n")
for (ds, lib), runs in rows.items():
    for r in runs:
        if not r["healthy"]:
            print(f"- {ds} {lib} {os.path.basename(r['dir'])} (exit {r['status']}):")
            print("  ```\n" + "\n".join("  " + l for l in r["health"].strip().splitlines()) + "\n  ```")
print("\n## Survivors per run\n")
for (ds, lib), runs in rows.items():
    print(f"- {ds} {lib}: " + "; ".join(f"{os.path.basename(r['dir'])[5:]}: {' '.join(r['names']) or '–'}" for r in runs))
