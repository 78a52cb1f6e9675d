#!/usr/bin/env bash
# docs/reliability.md's dead-guard table: the paper's method (--paper-exact) on FA+Oja, seeds 1 and 2,
# 600 episodes, without and with --dead-guard on. From the clone's root:
#   bash results/engine/dead-guard.sh     # writes results/engine/dead-guard.md; runs in runs/deadguard/
set -u
BIN=${BIN:-./build/metaplast}
OUT=${OUT:-runs/deadguard}
mkdir -p "$OUT"
for s in 1 2; do for g in off on; do
  $BIN search --paper-exact --terms paper:F0,F9 --seed $s --episodes 600 --dead-guard $g --out "$OUT/seed-$s-$g" \
    --force --quiet > "$OUT/seed-$s-$g.out" 2>&1 &
done; done
wait
python3 - "$OUT" "$(git rev-parse --short HEAD)" > results/engine/dead-guard.md <<'PY'
import csv, math, sys
out, commit = sys.argv[1:]
print(f"# The dead guard on the paper's method (run at {commit})\n")
print("`bash results/engine/dead-guard.sh`: `metaplast search --paper-exact --terms paper:F0,F9 --seed S "
      "--episodes 600 [--dead-guard on]`. *dead*: episodes whose network was dead (docs/reliability.md), with "
      "the first and last; *mean acc.*: over the episodes run, diverged ones left out.\n")
print("| seed | guard | episodes run | dead (first-last) | diverged | mean acc. | acc. last 50 |")
print("|--:|:--|--:|:--|--:|--:|--:|")
for s in (1, 2):
    for g in ("off", "on"):
        rows = list(csv.DictReader(open(f"{out}/seed-{s}-{g}/log.csv")))
        dead = [int(r["episode"]) for r in rows if r["status"] == "dead"]
        div = sum(r["status"] == "diverged" for r in rows)
        acc = [float(r["accuracy"]) for r in rows if math.isfinite(float(r["accuracy"] or "nan"))]
        span = f"{len(dead)} ({dead[0]}-{dead[-1]})" if dead else "0"
        print(f"| {s} | {g} | {len(rows)} | {span} | {div} | {sum(acc) / len(acc):.3f} | {sum(acc[-50:]) / len(acc[-50:]):.3f} |")
PY
