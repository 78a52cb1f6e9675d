#!/usr/bin/env bash
# Issue 19's pool target: the paper's ten-term pool (literal F5-F8), EMNIST ByMerge-400, 20 trials
# (seeds 1-20), 600 episodes, default settings (the robust method, --lambda auto). From the clone's root:
#   bash results/discovery/pool20.sh      # then: python3 results/discovery/pool20.py > results/discovery/pool20.md
# Environment: BIN (./build/metaplast), OUT (runs/pool20), JOBS (2), EMNIST (../shared/data/emnist),
# BP (1: also BP on the same clean sampling, seeds 1-20, into $OUT-bp; results/paper's BP, 0.696,
# ran with --sampling paper), SAMPLING (clean: the default; paper: the reproduction's sampling).
set -u
BIN=${BIN:-./build/metaplast}
OUT=${OUT:-runs/pool20}
EMNIST=${EMNIST:-../shared/data/emnist}
$BIN search --data "emnist-bymerge:$EMNIST" --per-class 400 --sampling "${SAMPLING:-clean}" --terms paper \
  --episodes 600 --seed 0 --trials 20 --jobs "${JOBS:-2}" --out "$OUT" --force --quiet > "$OUT.out" 2>&1
echo "status $?" >> "$OUT.out"
if [ "${BP:-1}" = 1 ]; then
  $BIN search --data "emnist-bymerge:$EMNIST" --per-class 400 --sampling "${SAMPLING:-clean}" --terms paper:F0 \
    --feedback symmetric --bp-detach --paper-exact --episodes 600 --seed 0 --trials 20 --jobs "${JOBS:-2}" \
    --out "$OUT-bp" --force --quiet > "$OUT-bp.out" 2>&1
  echo "status $?" >> "$OUT-bp.out"
fi
