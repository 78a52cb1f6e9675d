#!/bin/sh
# A short search with the `paper` plugin and with rules/paper_pool.lua on Fashion-MNIST's test
# split: log.csv (all but the wall-clock seconds column) and theta.tsv must be identical bytes.
# Usage: check_rules_log.sh METAPLAST RULES_DIR WORK_DIR. Exit 77 (skip) without the dataset.
set -eu
cli=$1 rules=$2 work=$3
[ -d /usr/share/datasets/fashion-mnist ] || { echo "dataset-fashion-mnist is not installed"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
for src in paper "$rules/paper_pool.lua"; do
  name=$(basename "$src" .lua)
  "$cli" search --data fashion-mnist-test --hidden 8 --episodes 3 --terms "$src" --out "$work/$name" --force >/dev/null
  sed 's/,[^,]*$//' "$work/$name/log.csv" > "$work/$name.log"
done
test "$(wc -l < "$work/paper.log")" -eq 4 || { echo "expected a header and 3 episodes"; exit 1; }
grep -q theta_F9 "$work/paper.log" || { echo "no theta_F9 column"; exit 1; }
cmp "$work/paper.log" "$work/paper_pool.log"
cmp "$work/paper/theta.tsv" "$work/paper_pool/theta.tsv"
echo "paper and rules/paper_pool.lua: identical log.csv (seconds aside) and theta.tsv"
