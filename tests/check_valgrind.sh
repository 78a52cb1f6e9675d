#!/bin/sh
# valgrind memcheck on the end-to-end path: a search through the command (data loading, episodes,
# checkpoints, log, results), a run stopped by divergence and resumed, and the report.
# Usage: check_valgrind.sh METAPLAST WORKDIR. Exit 77 (skip) without valgrind or the data.
set -u
cli=$1
dir=$2
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 77; }
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "dataset-fashion-mnist not installed"; exit 77; }
rm -rf "$dir"
mkdir -p "$dir"
vg() {
  valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --track-origins=yes -q "$@"
}
common="--data fashion-mnist-test --per-class 40 --ways 3 --shots 10 --queries 5 --hidden 24,12 --quiet"
fail=0
vg "$cli" search $common --terms paper:F0,F2,F9 --episodes 3 --checkpoint-every 1 --out "$dir/run" >/dev/null
[ $? -eq 0 ] || { echo "FAIL: search"; fail=1; }
vg "$cli" search $common --init F9=1e30 --terms paper:F0,F9 --episodes 6 --max-failures 2 --out "$dir/div" >/dev/null 2>&1
[ $? -eq 1 ] || { echo "FAIL: diverging search (expected exit 1)"; fail=1; }
vg "$cli" search --resume "$dir/div" --quiet >/dev/null 2>&1
[ $? -eq 1 ] || { echo "FAIL: resume of the diverged run (expected exit 1)"; fail=1; }
vg "$cli" report "$dir/run" >/dev/null
[ $? -eq 0 ] || { echo "FAIL: report"; fail=1; }
[ $fail -eq 0 ] && echo "valgrind memcheck: clean"
exit $fail
