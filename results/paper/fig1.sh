#!/usr/bin/env bash
# metaplast: PAPER.md Fig. 1 (issue 26): long online training, batch 1, one pass over Fashion-MNIST's
# 60,000 training images, 784-170-130-100-70-10, tested every EVERY steps on the first 1,000 test
# images (and on all 10,000 after the last step), seeds 1-3, three rules:
#   FA     F0 alone, fixed random feedback, at θ_F0 of the F^bio rule
#   BP     F0 alone, symmetric feedback, at the same rate
#   F^bio  F0 + F2 + F9 with the θ that results/paper/extra-bio-penalty/trial-001 meta-learned
#          (EMNIST ByMerge-400, 5-way 250-step episodes, FA feedback)
# twice: at the meta-learned scale (F^bio loaded as a rule directory) and with every θ (and the
# FA/BP rate) times 0.1 (F^bio through --terms/--theta): the meta-learned rate is tuned for
# 250-step episodes, and FA diverges at it in long training.
#
#   results/paper/fig1.sh          BUILD=DIR (default build/), SEEDS="1 2 3", STEPS=60000, EVERY=500
#
# Writes results/paper/fig1/<scale>/<rule>-s<seed>/ (train.csv, train.json, config.json), the
# figures results/paper/fig1/<scale>/train.png (and .pdf, train-loss) and results/paper/fig1.md
# (the tables, by results/paper/fig1_table.py, then the reading written by hand in
# results/paper/fig1/reading.md: re-read it after a re-run). Same seeds, same numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
M="$BUILD/metaplast"
SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-60000}
EVERY=${EVERY:-500}
RULE=results/paper/extra-bio-penalty/trial-001
OUT=results/paper/fig1
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
theta() { python3 -c "import json,sys; t={x['name']: x['theta'] for x in json.load(open('$RULE/rule.json'))['terms']}; print(repr(t['$1'] * $2))"; }
run() { echo "+ $M train $*" >&2; nice -n 10 "$M" train "$@" --steps "$STEPS" --every "$EVERY" --quiet >/dev/null; }
for scale in 1 0.1; do
  d="$OUT/scale-$scale"
  rm -rf "$d"
  F0=$(theta F0 "$scale") F2=$(theta F2 "$scale") F9=$(theta F9 "$scale")
  for s in $SEEDS; do
    run --baseline fa --rate "$F0" --seed "$s" --out "$d/FA-s$s"
    run --baseline bp --rate "$F0" --seed "$s" --out "$d/BP-s$s"
    if [ "$scale" = 1 ]; then run "$RULE" --seed "$s" --out "$d/Fbio-s$s"
    else run --terms paper:F0,F2,F9 --theta "F0=$F0,F2=$F2,F9=$F9" --seed "$s" --out "$d/Fbio-s$s"; fi
  done
  dirs=() labels=()
  for r in FA BP Fbio; do for s in $SEEDS; do dirs+=("$d/$r-s$s"); labels+=("$r"); done; done
  (IFS=,; "$M" plot "${dirs[@]}" --labels "${labels[*]}" --out "$d/" --format png,pdf)
done
{ python3 results/paper/fig1_table.py "$OUT" "$COMMIT"; cat results/paper/fig1/reading.md; } > results/paper/fig1.md
echo "tables: results/paper/fig1.md" >&2
