#!/usr/bin/env bash
# metaplast: PAPER.md Suppl. Fig. S1 (issue 26 item 2), small: direct feedback alignment (DFA)
# against FA and BP, F0 alone, on Fashion-MNIST (the defaults: 784-170-130-100-70-10, 5-way,
# K = 50, Q = 10, clean sampling, the robust method, λ auto).
#   1. meta-training: `metaplast search --terms paper:F0 --feedback MODE --episodes 300 --seed S
#      --jobs 1` for MODE = fa, dfa, bp and S in SEEDS; the table gives the mean query accuracy
#      over the last 50 episodes (log.csv's accuracy, episodes 251-300), the reported θ_F0
#      (rule.json) and the mean alignment angles α_1..α_4 over the same episodes;
#   2. long training: `metaplast train --baseline MODE --rate θ --seed S` for one pass over the
#      60,000 training images (tested every EVERY steps on the first 1,000 test images, and on all
#      10,000 after the last step), seeds SEEDS, at two rates: θ = the mean reported θ_F0 of MODE's
#      own searches ("own"), and θ = the mean reported θ_F0 of the DFA searches for all three
#      modes ("dfa-rate"), so that the feedback is the only difference.
#
#   results/paper/s1.sh          BUILD=DIR (default build/), SEEDS="1 2 3", EPISODES=300, EVERY=1000,
#                                SEARCH=0 keeps the searches already in results/paper/s1/
#
# Writes results/paper/s1/<mode>-s<seed>/ (the searches: config.txt, log.csv, rule.json, rule.txt,
# theta.tsv, validation.csv), results/paper/s1/train-<rate>-<mode>-s<seed>/ (train.csv, train.json,
# config.json)
# and the table results/paper/s1.md. Same seeds, same numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
M="$BUILD/metaplast"
SEEDS=${SEEDS:-"1 2 3"}
EPISODES=${EPISODES:-300}
EVERY=${EVERY:-1000}
OUT=results/paper/s1
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$OUT"
for mode in fa dfa bp; do
  for s in $SEEDS; do
    [ "${SEARCH:-1}" = 0 ] && [ -f "$OUT/$mode-s$s/rule.json" ] && continue
    d="$OUT/$mode-s$s"
    rm -rf "$d"
    echo "+ $M search --terms paper:F0 --feedback $mode --episodes $EPISODES --seed $s --jobs 1 --out $d" >&2
    nice -n 10 "$M" search --terms paper:F0 --feedback "$mode" --episodes "$EPISODES" --seed "$s" --jobs 1 \
      --quiet --out "$d" >/dev/null
    rm -f "$d/checkpoint.final"
  done
done
rate() { python3 - "$OUT" "$1" $SEEDS <<'EOF'
import json, sys
out, mode, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
t = [next(x['theta'] for x in json.load(open(f'{out}/{mode}-s{s}/rule.json'))['terms'] if x['name'] == 'F0') for s in seeds]
print(repr(sum(t) / len(t)))
EOF
}
rm -rf "$OUT"/train-*
for which in own dfa-rate; do
  for mode in fa dfa bp; do
    if [ "$which" = own ]; then r=$(rate "$mode"); else r=$(rate dfa); fi
    for s in $SEEDS; do
      d="$OUT/train-$which-$mode-s$s"
      echo "+ $M train --baseline $mode --rate $r --seed $s --every $EVERY --out $d" >&2
      nice -n 10 "$M" train --baseline "$mode" --rate "$r" --seed "$s" --every "$EVERY" --quiet --out "$d" >/dev/null
      rm -f "$d/checkpoint"
    done
  done
done
python3 - "$OUT" "$COMMIT" "$EPISODES" $SEEDS > results/paper/s1.md <<'EOF'
import csv, json, math, sys
out, commit, episodes, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
names = {'fa': 'FA (fixed)', 'dfa': 'DFA (direct)', 'bp': 'BP (symmetric)'}
lo = episodes - 49
print('# Suppl. Fig. S1, small: DFA against FA and BP, F0 alone, Fashion-MNIST\n')
print(f'Made by `results/paper/s1.sh` at commit {commit} (its header states the settings and commands).\n')
print(f'## Meta-training: `metaplast search --terms paper:F0 --feedback MODE --episodes {episodes} --seed S --jobs 1`\n')
print(f'Mean query accuracy over episodes {lo}-{episodes} (log.csv), the reported θ_F0 (rule.json), and the mean '
      f'alignment angle α_ℓ (degrees, between the batch-mean teaching signal e_ℓ and the backprop error; 0 under BP) over the same episodes:\n')
print('| feedback | seed | accuracy | θ_F0 | α_1 | α_2 | α_3 | α_4 |')
print('|---|---|---|---|---|---|---|---|')
summary = {}
for mode in ('fa', 'dfa', 'bp'):
    accs = []
    for s in seeds:
        rows = [r for r in csv.DictReader(open(f'{out}/{mode}-s{s}/log.csv')) if int(r['episode']) >= lo]
        acc = [float(r['accuracy']) for r in rows if not math.isnan(float(r['accuracy']))]
        a = sum(acc) / len(acc)
        accs.append(a)
        th = next(x['theta'] for x in json.load(open(f'{out}/{mode}-s{s}/rule.json'))['terms'] if x['name'] == 'F0')
        ang = [sum(float(r[f'alpha_{l}']) for r in rows) / len(rows) for l in range(1, 5)]
        print(f'| {names[mode]} | {s} | {a:.3f} | {th:.4g} | ' + ' | '.join(f'{x:.1f}' for x in ang) + ' |')
    summary[mode] = sum(accs) / len(accs)
print()
print('Mean over seeds ' + ', '.join(seeds) + ': ' + ', '.join(f'{names[m]} {summary[m]:.3f}' for m in ('fa', 'dfa', 'bp')) + '.\n')
print('## Long training: `metaplast train --baseline MODE --rate θ --seed S` (one pass, 60,000 steps)\n')
print('Test accuracy on the first 1,000 test images after N online steps, per seed; `all` = the whole 10,000-image test set after the last step; `mean all` = its mean over the seeds.\n')
for which, title in (('own', 'θ = the mean reported θ_F0 of the mode\'s own searches'),
                     ('dfa-rate', 'θ = the mean reported θ_F0 of the DFA searches, for all three modes')):
    print(f'### {title}\n')
    cols = None
    for mode in ('fa', 'dfa', 'bp'):
        fins = []
        for s in seeds:
            d = f'{out}/train-{which}-{mode}-s{s}'
            j = json.load(open(f'{d}/train.json'))
            acc = {int(r['step']): float(r['accuracy']) for r in csv.DictReader(open(f'{d}/train.csv'))}
            if cols is None:
                cols = [n for n in (1000, 2000, 5000, 10000, 30000, 60000) if n in acc]
                print('| feedback | θ_F0 | seed | ' + ' | '.join(str(c) for c in cols) + ' | all | diverged |')
                print('|---|---|---|' + '---|' * len(cols) + '---|---|')
            rate = json.load(open(f'{d}/config.json'))['rate']
            fin = j.get('final_accuracy')
            fins.append(fin if fin is not None else float('nan'))
            print(f'| {names[mode]} | {rate:.4g} | {s} | ' + ' | '.join(f'{acc[c]:.3f}' if c in acc else '-' for c in cols) +
                  f' | {"-" if fin is None else format(fin, ".3f")} | {j.get("diverged")} |')
        summary[(which, mode)] = sum(fins) / len(fins)
    print()
    print('Mean all: ' + ', '.join(f'{names[m]} {summary[(which, m)]:.3f}' for m in ('fa', 'dfa', 'bp')) + '.\n')
EOF
echo "table: results/paper/s1.md" >&2
