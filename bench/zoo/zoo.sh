#!/usr/bin/env bash
# Issue 19's library zoo: every library with F0, default settings (the robust method, lambda auto),
# SEEDS seeds, on Fashion-MNIST and EMNIST ByMerge-400; each run's rule then evaluated on held-out
# tasks (Fashion-MNIST's test split; EMNIST's whole test file) beside FA and BP. From the clone's root:
#   bash bench/zoo/zoo.sh            # then: python3 bench/zoo/summary.py > results/discovery/zoo.md
# Environment: EPISODES (300), SEEDS ("1 .. 10"), DATASETS ("fashion emnist"), LIBS (all six), JOBS (2),
# OUT (runs/zoo). A re-run skips the runs that have finished.
set -u
BIN=${BIN:-./build/metaplast}
OUT=${OUT:-runs/zoo}
EPISODES=${EPISODES:-300}
SEEDS=${SEEDS:-"1 2 3 4 5 6 7 8 9 10"}
DATASETS=${DATASETS:-"fashion emnist"}
JOBS=${JOBS:-2}
EMNIST=${EMNIST:-../shared/data/emnist}
declare -A LIB=(
  [pool]="paper"
  [pool-no-F5-F8]="paper:F0,F1,F2,F3,F4,F9"
  [quadratic]="paper:F0;rules/quadratic.lua"
  [extra]="paper:F0;extra"
  [bio]="rules/bio.lua"
  [random20]="paper:F0;bench/zoo/random20.lua"
)
job() {   # dataset library terms seed
  local ds=$1 lib=$2 terms=$3 seed=$4 dir="$OUT/$1/$2/seed-$4" data evaldata
  case $ds in
    fashion) data=(--data fashion-mnist); evaldata=(--data fashion-mnist-test) ;;
    emnist) data=(--data "emnist-bymerge:$EMNIST" --per-class 400); evaldata=(--data "emnist-bymerge:$EMNIST") ;;
  esac
  [ -f "$dir/eval.out" ] && return 0   # done (a re-run continues)
  mkdir -p "$dir"
  local t0=$(date +%s.%N)
  $BIN search "${data[@]}" --terms "$terms" --episodes "$EPISODES" --seed "$seed" --jobs 1 --out "$dir/run" --force --quiet \
    > "$dir/search.out" 2> "$dir/search.err"
  echo "status $? seconds $(echo "$(date +%s.%N) - $t0" | bc)" >> "$dir/search.out"
  $BIN eval "$dir/run" "${evaldata[@]}" --tasks 50 --jobs 1 --quiet > "$dir/eval.tmp" 2>&1; mv "$dir/eval.tmp" "$dir/eval.out"
}
export -f job; export BIN OUT EPISODES EMNIST
ORDER=${LIBS:-"pool pool-no-F5-F8 bio quadratic random20 extra"}   # the slowest (native terms) last
for ds in $DATASETS; do for lib in $ORDER; do for s in $SEEDS; do
  printf '%s\t%s\t%s\t%s\n' "$ds" "$lib" "${LIB[$lib]}" "$s"
done; done; done | xargs -P "$JOBS" -d '\n' -I{} bash -c 'IFS=$'"'"'\t'"'"' read -r a b c d <<< "{}"; job "$a" "$b" "$c" "$d"'
