#!/usr/bin/env bash
# metaplast: the paper's experiments (Shervani-Tabar & Rosenbaum 2023) on EMNIST ByMerge-400 (issue 6).
#
#   results/paper/run.sh PART [PART ...]        PART: one name below, or 'all'
#
# Each part is ONE metaplast command (printed before it runs) writing results/paper/PART/. Settings
# shared by every search: the EMNIST ByMerge test split in ../shared/data/emnist (override with
# EMNIST=DIR), first 400 images per class, the reference's task sampler (--sampling paper), 5-way
# 50+10 tasks, 784-170-130-100-70-47, Adam 1e-3, theta0 = 1e-3 and the others 0, 600 episodes,
# 20 trials (seeds 1-20, as the paper; fewer where a part says so) on 2 threads, --sign none (the paper's unconstrained
# coefficients; metaplast's default keeps Oja's F9 >= 0). BUILD=DIR picks the build (default build/).
# Relative paths (BUILD, EMNIST) are taken from the clone's root, where the script runs.
#
# Parts (see README.md for what each shows):
#   fa            Fig. 3, FA: F0 with fixed random feedback, lambda 0
#   bp            Fig. 3, BP: F0 with symmetric feedback, lambda 0 (meta-gradient detached through
#                 the feedback copy, as the reference: --bp-detach)
#   sweep         the lambda sweep for the pool: 0, 1.5, 5, 20, 100, proximal L1, 200 episodes, 2 trials
#   pool          Fig. 4: the ten terms F0..F9, proximal L1, lambda 1.5 (the sweep found none that works;
#                 1.5 is the reference's), 5 trials (it fails in every trial of the sweep)
#   pool-penalty  the same with the reference's plain L1 penalty (Adam on CE + lambda |theta|_1)
#   sweep-lr      the lambda sweep again with Adam's step 1e-4 (lambda 1.5, 20, 100; 200 episodes, 2 trials)
#   extra-pool-lr remedy: the pool with Adam's step 1e-4 instead of 1e-3 (10 trials)
#   extra-bio-penalty  the pool the reference code implements (F0, F2, F9), plain penalty, lambda 1.5
#   extra-pool-local6  the pool without the four non-local literal terms F5-F8 (F0-F4, F9), proximal
#                 L1, lambda 1.5: the ablation that locates the pool's failure
#   extra-pool-noF3    the pool without F3 but with the literal F5-F8, 5 trials (the other ablation)
#   ehebb         Fig. 5: F0 + F2 (eHebb), lambda 0
#   oja           Fig. 7: F0 + F9 (Oja), lambda 0, no guards: the reference's settings (PAPER.md §11)
#   oja-guard     the same with metaplast's guards: --dead-guard on, --clip-grad 10 (5 trials)
#   oja-sign      the same with the sign constraint --sign F9=+ (metaplast's default for F9)
#   oja-default   the same with both of metaplast's defaults: --sign F9=+ and Adam's --clip-rms 5
#   eval          every trial's rule (fa, bp, pool*, ehebb, oja, oja-sign, extra-*) on 50 Fashion-MNIST test
#                 tasks against FA and BP at the rate meta-learned by the fa part (metaplast eval), with the
#                 clean task sampler (eval/) and with the rule's own reference sampler (eval-paper/)
#                 (EVAL="RUN ..." limits it to those runs)
#   report        plots (metaplast plot), equations (metaplast report) and the tables of README.md
#                 (collapse counts, windows, eval) into results/paper/tables.md
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"              # every path below, and so every command a run records, is relative to the clone
here=results/paper
bin=${BUILD:-build}/metaplast
emnist=${EMNIST:-../shared/data/emnist}
lambda=${LAMBDA:-1.5}   # the pool's lambda: the sweep found no lambda that works, so the reference's (README.md)

common=(--data "emnist-bymerge:$emnist" --per-class 400 --sampling paper --episodes 600
        --seed 0 --trials 20 --jobs 2 --quiet --force --paper-exact)
# --paper-exact: the paper's method exactly (--method plain: Adam on θ, λ in θ's units, the last iterate
# reported; --sign none: unconstrained θ; --clip-rms 0: PyTorch's plain Adam; --dead-guard off).
# Every part below was run before the robust method existed, with these settings (docs/discovery.md).

label() { mkdir -p "$here/$1"; echo "$2" > "$here/$1/label.txt"; }

run() {   # run NAME ARGS...: one search into results/paper/NAME
  local name=$1; shift
  mkdir -p "$here/$name"
  echo "+ metaplast search $* --out results/paper/$name" >&2
  "$bin" search "$@" --out "$here/$name" 2>&1 | tee "$here/$name/stdout.txt"
}

evaluate() {   # every trial's frozen rule on Fashion-MNIST test tasks, FA/BP at the fa run's rate
  local jobs=() r t k
  for r in ${EVAL:-fa bp pool pool-penalty ehebb oja oja-sign oja-default $(cd "$here" && ls -d extra-* 2>/dev/null)}; do
    for t in "$here/$r"/trial-*; do
      [ -f "$t/rule.json" ] || continue
      k=${t##*/}
      python3 "$here/tools.py" clean-rule "$t" "$here/eval/$r/$k"
      jobs+=("$here/eval/$r/$k/rule.json --out $here/eval/$r/$k --fa $here/fa/$k")
      jobs+=("$t --out $here/eval-paper/$r/$k --fa $here/fa/$k")
    done
  done
  echo "+ metaplast eval RULE --data fashion-mnist-test --tasks 50 --seed 1 --fa results/paper/fa/trial-NNN" \
       "--out results/paper/eval[-paper]/RUN/trial-NNN  (${#jobs[@]} evaluations, 2 at a time)" >&2
  printf '%s\n' "${jobs[@]}" |
    xargs -P 2 -I{} sh -c "\"$bin\" eval {} --data fashion-mnist-test --tasks 50 --seed 1 --quiet > /dev/null"
}

report() {    # figures, equations, compact trajectories, tables.md
  for r in fa bp pool pool-penalty ehebb oja oja-guard oja-sign oja-default $(cd "$here" && ls -d extra-* 2>/dev/null); do
    [ -d "$here/$r" ] || continue
    # a BP run alone fails in its alpha figure (README.md, "Problems found"): keep going
    "$bin" plot "$here/$r" --format png --out "$here/$r/plots/" > /dev/null || echo "run.sh: plot $r failed" >&2
    python3 "$here/tools.py" compact "$r"
  done
  for s in sweep sweep-lr; do
    [ -d "$here/$s" ] || continue
    "$bin" plot "$here/$s" --format png --out "$here/$s/plots/" > /dev/null
    for l in "$here/$s"/lambda-*; do python3 "$here/tools.py" compact "$s/${l##*/}"; done
  done
  "$bin" plot "$here/fa" "$here/bp" --labels FA,BP --format png --out "$here/figures/fig3-" > /dev/null
  "$bin" plot "$here/fa" "$here/bp" "$here/pool" "$here/pool-penalty" "$here/extra-pool-lr" "$here/extra-bio-penalty" \
    "$here/extra-pool-local6" --labels FA,BP,pool-prox,pool-penalty,pool-lr1e-4,F0+F2+F9-penalty,pool-without-F5-F8 \
    --format png --out "$here/figures/fig4-" > /dev/null
  "$bin" plot "$here/fa" "$here/ehebb" "$here/oja" "$here/oja-sign" "$here/oja-default" "$here/bp" \
    --labels FA,FA+eHebb,FA+Oja,FA+Oja-signed,FA+Oja-defaults,BP --format png --out "$here/figures/fig5-7-" > /dev/null
  python3 "$here/tools.py" tables
  echo "wrote $here/tables.md" >&2
}

part() {
  case $1 in
    fa)           run fa "${common[@]}" --terms paper:F0 --feedback fixed ;;
    bp)           run bp "${common[@]}" --terms paper:F0 --feedback symmetric --bp-detach ;;
    sweep)        run sweep "${common[@]}" --terms paper --l1 prox --lambda-path 0,1.5,5,20,100 \
                    --episodes 200 --trials 2 ;;
    sweep-lr)     run sweep-lr "${common[@]}" --terms paper --l1 prox --lr 1e-4 --lambda-path 1.5,20,100 \
                    --episodes 200 --trials 2 ;;
    pool)         run pool "${common[@]}" --terms paper --l1 prox --lambda "$lambda" --trials 5 ;;
    pool-penalty) run pool-penalty "${common[@]}" --terms paper --l1 penalty --lambda "$lambda" --trials 5 ;;
    extra-pool-lr) label extra-pool-lr "Pool F0..F9, proximal L1, meta-lr 1e-4 (remedy)"
                  run extra-pool-lr "${common[@]}" --terms paper --l1 prox --lambda "$lambda" --lr 1e-4 --trials 10 ;;
    extra-pool-local6) label extra-pool-local6 "Pool without the literal F5-F8: F0-F4, F9, proximal L1"
                  run extra-pool-local6 "${common[@]}" --terms paper:F0,F1,F2,F3,F4,F9 --l1 prox --lambda "$lambda" ;;
    extra-pool-noF3) label extra-pool-noF3 "Pool without F3 (keeps the literal F5-F8), proximal L1"
                  run extra-pool-noF3 "${common[@]}" --terms paper:F0,F1,F2,F4,F5,F6,F7,F8,F9 --l1 prox --lambda "$lambda" --trials 5 ;;
    extra-bio-penalty) label extra-bio-penalty "F0, F2, F9 (the terms the reference code has), plain L1 penalty"
                  run extra-bio-penalty "${common[@]}" --terms paper:F0,F2,F9 --l1 penalty --lambda "$lambda" ;;
    ehebb)        run ehebb "${common[@]}" --terms paper:F0,F2 ;;
    oja)          run oja "${common[@]}" --terms paper:F0,F9 ;;
    oja-guard)    run oja-guard "${common[@]}" --terms paper:F0,F9 --dead-guard on --clip-grad 10 --trials 5 ;;
    oja-sign)     run oja-sign "${common[@]}" --terms paper:F0,F9 --sign F9=+ ;;
    oja-default)  run oja-default "${common[@]}" --terms paper:F0,F9 --sign F9=+ --clip-rms 5 ;;
    eval)         evaluate ;;
    report)       report ;;
    all)          for p in fa bp sweep pool pool-penalty ehebb oja oja-guard oja-sign oja-default sweep-lr extra-pool-lr extra-bio-penalty extra-pool-local6 extra-pool-noF3 eval report; do part "$p"; done ;;
    *)            echo "run.sh: unknown part '$1' (see the head of $0)" >&2; exit 2 ;;
  esac
}

[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
for p in "$@"; do part "$p"; done
