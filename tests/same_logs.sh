#!/usr/bin/env bash
# Are two commits' results the same, bit for bit? The safety net of a refactoring that must not
# change behaviour (issue 21): builds BASE and HEAD (default: the working tree) in temporary
# directories, runs the same short searches, evals and reports with each, and compares every file
# they write (log.csv without its wall-time column, theta.tsv, rule.txt, rule.json without the
# command it records, validation.csv, eval and report output). From the clone's root:
#   bash tests/same_logs.sh BASE [HEAD]        e.g. bash tests/same_logs.sh main
# Exit 0 when every case is identical, 1 otherwise (each difference is named). Needs ../shared only
# for the EMNIST case (skipped without it). Environment: JOBS (2), KEEP=1 keeps the scratch folder.
set -u
BASE=${1:?usage: same_logs.sh BASE [HEAD]}
HEAD=${2:-}
ROOT=$(pwd)
TMP=$(mktemp -d /tmp/same-logs.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'git -C "$ROOT" worktree remove --force "$TMP/src-base" 2>/dev/null; \
  [ -n "$HEAD" ] && git -C "$ROOT" worktree remove --force "$TMP/src-head" 2>/dev/null; rm -rf "$TMP"' EXIT

build() {   # name commit-or-empty -> $TMP/bin-name/metaplast
  local name=$1 rev=$2 src=$ROOT
  if [ -n "$rev" ]; then
    src=$TMP/src-$name
    git -C "$ROOT" worktree add --detach "$src" "$rev" >/dev/null 2>&1 || { echo "cannot check out $rev"; exit 2; }
  fi
  cmake -S "$src" -B "$TMP/bin-$name" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$TMP/bin-$name" -j"${JOBS:-2}" --target metaplast_cli plugin_paper plugin_extra >/dev/null ||
    { echo "cannot build $name ($rev)"; exit 2; }
  echo "$src"
}
SRC_BASE=$(build base "$BASE") || exit 2
SRC_HEAD=$(build head "$HEAD") || exit 2

# name | search flags (each case runs in the source tree of its own commit, so rule files resolve)
CASES=(
  "paper-exact-fa|--paper-exact --terms paper:F0,F2,F9 --episodes 12"
  "paper-exact-bp|--paper-exact --terms paper:F0,F9 --feedback symmetric --episodes 8"
  "paper-exact-pool|--paper-exact --terms paper --lambda 0.5 --episodes 8"
  "robust-auto|--terms paper:F0,F2,F9 --episodes 40 --val-tasks 4"
  "robust-fixed-lambda|--terms paper:F0,F9 --lambda 1 --episodes 20 --val-tasks 4"
  "lua-terms|--terms paper:F0;rules/oja.lua:F9 --episodes 10 --val-tasks 4"
  "native-extra|--terms paper:F0;extra --episodes 6 --val-tasks 4"
  "meta-batch|--terms paper:F0,F2 --meta-batch 2 --episodes 6 --val-tasks 4"
)
[ -d "$ROOT/../shared/data/emnist" ] &&
  CASES+=("emnist|--data emnist-bymerge:$ROOT/../shared/data/emnist --per-class 60 --terms paper:F0,F9 --episodes 6 --val-tasks 4")

run_case() {   # side src name flags
  local side=$1 src=$2 name=$3 flags=$4 out=$TMP/$1/$3
  mkdir -p "$out"
  # shellcheck disable=SC2086
  (cd "$src" && IFS=' ' && "$TMP/bin-$side/metaplast" search $flags --seed 3 --out "$out/run" --force --quiet \
     > "$out/search.out" 2>&1; echo "status $?" >> "$out/search.out"
   "$TMP/bin-$side/metaplast" eval "$out/run" --tasks 4 --quiet > "$out/eval.out" 2>&1; echo "status $?" >> "$out/eval.out"
   "$TMP/bin-$side/metaplast" report "$out/run" --format latex > "$out/report.out" 2>&1; echo "status $?" >> "$out/report.out")
  # the parts that may differ: wall time, the command line, the results directory's name
  [ -f "$out/run/log.csv" ] && awk -F, 'BEGIN{OFS=","} {NF--; print}' "$out/run/log.csv" > "$out/log.nowall"
  [ -f "$out/run/rule.json" ] && sed '/"config"/,$d' "$out/run/rule.json" > "$out/rule.noconfig"
  sed -i "s#$TMP/$side/#DIR/#g; s#[0-9.]* s/episode#T s/episode#" "$out/search.out" "$out/eval.out" "$out/report.out"
}

fail=0
for c in "${CASES[@]}"; do
  name=${c%%|*} flags=${c#*|}
  run_case base "$SRC_BASE" "$name" "$flags"
  run_case head "$SRC_HEAD" "$name" "$flags"
  diffs=""
  for f in search.out eval.out report.out log.nowall rule.noconfig run/theta.tsv run/rule.txt run/validation.csv; do
    a=$TMP/base/$name/$f b=$TMP/head/$name/$f
    [ -e "$a" ] || [ -e "$b" ] || continue
    cmp -s "$a" "$b" || diffs+=" $f"
  done
  if [ -z "$diffs" ]; then echo "same      $name"; else echo "DIFFERENT $name:$diffs"; fail=1; fi
done
[ "$fail" = 0 ] && echo "all ${#CASES[@]} cases identical ($BASE vs ${HEAD:-the working tree})"
[ "${KEEP:-0}" = 1 ] && echo "scratch kept in $TMP"
exit $fail
