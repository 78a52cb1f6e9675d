#!/usr/bin/env python3
"""One row per run of DIR/seed-N (results/discovery/run.sh, or any set of search directories): failed and
dead episodes, accuracy over the last 50 episodes, the reported rule's validation accuracy against FA's on the
same tasks, the best validation accuracy seen in the run (validation.csv) and the gap, the verdict, the rule.
Usage: table.py DIR [TITLE] >> FILE.md"""
import csv
import json
import os
import re
import sys

d = sys.argv[1]
title = sys.argv[2] if len(sys.argv) > 2 else d
print(f"### {title}\n")
print("| seed | failed (dead) | acc. last 50 | val rule / FA | best val seen | gap | verdict | rule (θ) |")
print("|--:|--:|--:|:--|--:|--:|:--|:--|")
n = healthy = within = 0
for s in sorted((x for x in os.listdir(d) if x.startswith("seed-") and os.path.isdir(os.path.join(d, x))),
                key=lambda x: int(x[5:])):
    run = os.path.join(d, s)
    out = open(run + ".out").read() if os.path.exists(run + ".out") else ""
    m = re.search(r"query accuracy ([\d.na]+) over the last (\d+), (\d+) failed(?:, (\d+) with a dead network)?", out)
    acc, failed, dead = (m.group(1), m.group(3), m.group(4) or "0") if m else ("–", "–", "–")
    if not os.path.exists(os.path.join(run, "rule.json")):
        continue   # still running, or stopped before writing its rule
    rule = json.load(open(os.path.join(run, "rule.json")))
    h = rule.get("health", {})
    mm = (re.search(r"validation accuracy ([\d.]+) against FA's ([\d.]+)", h.get("text", "")) or
          re.search(r"worse than FA on the validation tasks \(([\d.]+) against ([\d.]+)\)", h.get("text", "")))
    best = None
    if os.path.exists(os.path.join(run, "validation.csv")):
        best = max(float(r["val_accuracy"]) for r in csv.DictReader(open(os.path.join(run, "validation.csv"))))
    val = float(mm.group(1)) if mm else None
    gap = max(best - val, 0.0) if best is not None and val is not None else None   # val is printed to 3 digits
    n += 1
    healthy += bool(h.get("healthy"))
    within += gap is not None and gap <= 0.02 + 1e-12
    verdict = "healthy" if h.get("healthy") else ("UNHEALTHY" if h else "–")
    terms = " ".join(f"{t['name']} {t['theta']:.3g}" for t in rule["terms"] if t["survives"])
    print(f"| {s[5:]} | {failed} ({dead}) | {acc} | {mm.group(1) + ' / ' + mm.group(2) if mm else '–'} | "
          f"{'–' if best is None else f'{best:.3f}'} | {'–' if gap is None else f'{gap:.3f}'} | {verdict} | {terms} |")
print(f"\n{healthy}/{n} healthy; reported rule within 0.02 of the best validation seen: {within}/{n}.\n")
