#!/bin/sh
# metaplast test: the same seed gives the same log bit for bit whatever thread count OpenBLAS is
# told to use (metaplast runs each episode on one core). Skips (77) without Fashion-MNIST.
# usage: check_threads.sh METAPLAST SCRATCH_DIR
prog=$1; dir=$2
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "SKIP: no dataset-fashion-mnist"; exit 77; }
rm -rf "$dir"; mkdir -p "$dir"
for t in 1 2; do
  OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$prog" search --terms paper:F0,F2,F9 --hidden 40,30 --episodes 4 \
    --seed 3 --out "$dir/t$t" --quiet >/dev/null || { echo "FAIL: search with $t threads"; exit 1; }
  cut -d, -f1-$(($(head -1 "$dir/t$t/log.csv" | tr ',' '\n' | wc -l) - 1)) "$dir/t$t/log.csv" > "$dir/t$t.csv"
done
cmp "$dir/t1.csv" "$dir/t2.csv" && cmp "$dir/t1/theta.tsv" "$dir/t2/theta.tsv" || { echo "FAIL: results differ"; exit 1; }
echo PASS
