#!/usr/bin/env python3
"""Tables of results/paper/fig1.sh's runs (PAPER.md Fig. 1): test accuracy at checkpoints and the
online steps each run needs to reach given accuracies, per scale, rule and seed; printed as Markdown."""
import csv, json, os, statistics, sys

CHECKPOINTS = [500, 1000, 2000, 5000, 10000, 30000, 60000]
THRESHOLDS = [0.5, 0.6, 0.7, 0.75]
RULES = ["FA", "BP", "Fbio"]

def load(d):
    with open(os.path.join(d, "train.csv")) as f:
        rows = [(int(r["step"]), float(r["accuracy"])) for r in csv.DictReader(f)]
    with open(os.path.join(d, "train.json")) as f:
        return rows, json.load(f)

def first_step(rows, acc):
    """The first tested step with accuracy >= acc (None: never)."""
    return next((s for s, a in rows if a >= acc), None)

def fmt_steps(v):
    return "never" if v is None else str(v)

def band(xs):
    n, xs = len(xs), [x for x in xs if x is not None]
    if not xs: return "never"
    some = "" if len(xs) == n else f" ({len(xs)} of {n} seeds; the others never)"
    return f"{statistics.mean(xs):.0f} [{min(xs)}, {max(xs)}]{some}"

def table(root, scale):
    d = os.path.join(root, f"scale-{scale}")
    runs = {}
    for name in sorted(os.listdir(d)):
        if os.path.isfile(os.path.join(d, name, "train.csv")) and "-s" in name:
            rule, seed = name.rsplit("-s", 1)
            runs[(rule, int(seed))] = load(os.path.join(d, name))
    if not runs: return
    theta = {r: runs[k][1]["terms"] for k in runs for r in [k[0]]}
    print(f"## θ scale {scale}\n")
    for r in RULES:
        if r in theta: print(f"- {r}: " + ", ".join(f"θ_{t['name']} = {t['theta']:.6g}" for t in theta[r]) +
                             f" ({next(v[1]['feedback'] for k, v in runs.items() if k[0] == r)} feedback)")
    print("\nTest accuracy (first 1,000 test images) after N online steps; `all` = the whole 10,000-image test set "
          "after the last step, with its mean cross-entropy:\n")
    print("| rule | seed | " + " | ".join(str(c) for c in CHECKPOINTS) + " | all | loss (all) |")
    print("|---|---|" + "---|" * (len(CHECKPOINTS) + 2))
    for (rule, seed), (rows, js) in sorted(runs.items(), key=lambda kv: (RULES.index(kv[0][0]), kv[0][1])):
        acc = dict(rows)
        cells = [f"{acc[c]:.3f}" if c in acc else "–" for c in CHECKPOINTS]
        fin, loss = js.get("final_accuracy"), js.get("final_loss")
        tail = f" | {fin:.3f} | {loss:.3g} |" if fin is not None else " | – | – |"
        print(f"| {rule} | {seed} | " + " | ".join(cells) + tail)
    print("\nOnline steps to first reach a test accuracy (tested every "
          f"{rows[1][0] - rows[0][0]} steps; never = not within the run):\n")
    print("| rule | seed | " + " | ".join(f"≥ {t}" for t in THRESHOLDS) + " |")
    print("|---|---|" + "---|" * len(THRESHOLDS))
    for (rule, seed), (rows, js) in sorted(runs.items(), key=lambda kv: (RULES.index(kv[0][0]), kv[0][1])):
        print(f"| {rule} | {seed} | " + " | ".join(fmt_steps(first_step(rows, t)) for t in THRESHOLDS) + " |")
    print("\nMean over the seeds that reach it [min, max]:\n")
    print("| rule | " + " | ".join(f"≥ {t}" for t in THRESHOLDS) + " |")
    print("|---|" + "---|" * len(THRESHOLDS))
    for r in RULES:
        ks = [k for k in runs if k[0] == r]
        print(f"| {r} | " + " | ".join(band([first_step(runs[k][0], t) for k in ks]) for t in THRESHOLDS) + " |")
    # Fig. 1's claim: the steps a rule needs to reach the accuracy FA has after N steps, same seed
    print("\nSteps each rule needs to reach the test accuracy FA has after N steps (same seed; tested every "
          f"{rows[1][0] - rows[0][0]} steps, so 500 means at the first test):\n")
    print("| N | seed | FA at N | BP needs | F^bio needs |")
    print("|---|---|---|---|---|")
    for n in (2000, 5000, 10000):
        for s in sorted({k[1] for k in runs}):
            target = dict(runs[("FA", s)][0]).get(n) if ("FA", s) in runs else None
            if target is None: continue
            need = [fmt_steps(first_step(runs[(r, s)][0], target)) if (r, s) in runs else "–" for r in ("BP", "Fbio")]
            print(f"| {n} | {s} | {target:.3f} | {need[0]} | {need[1]} |")
    print()

if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "results/paper/fig1"
    commit = sys.argv[2] if len(sys.argv) > 2 else "(unknown)"
    print("# Fig. 1: long online training with FA, BP and F^bio on Fashion-MNIST\n")
    print(f"Made by `results/paper/fig1.sh` at commit {commit} (its header states the settings); figures beside "
          "the runs: `fig1/scale-*/train.png`. The reading of these tables is at the end.\n")
    for scale in ("1", "0.1"):
        table(root, scale)
