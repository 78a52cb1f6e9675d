#!/usr/bin/env bash
# metaplast: how often FA+Oja beats FA by 15 points over episodes 1-100 (issue 2's acceptance check) across
# seeds 1-24 (SEEDS=N for 1-N) on Fashion-MNIST, with the paper's method exactly (unconstrained theta and
# PyTorch's Adam: --sign none --clip-rms 0) and with metaplast's defaults (F9 declares theta_F9 >= 0; Adam
# clips outlier gradients, --clip-rms 5), and
# the sign of the first episode's dCE/dtheta_F9, which decides the unconstrained run's fate.
# Usage: results/engine/seeds.sh [BUILD_DIR]   (3 searches of 100 episodes per seed; writes seeds.md)
# A variant of the meta-optimiser: EXTRA="--beta2 0.99" NAME=beta2-0.99 results/engine/seeds.sh adds the
# flags to all three searches of every seed and writes seeds-NAME.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build}/metaplast
out=$here/seeds${NAME:+-$NAME}.md
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mean_acc() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "accuracy") a = i; next }
                      $a != "nan" && $a != "-nan" { s += $a; n++ } END { printf "%.3f", s / n }' "$1"; }
col() { awk -F, -v c="$2" -v r="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                                     NR == r + 1 { print $k }' "$1"; }
{
  echo "| seed | FA | FA+Oja, the paper's method (--sign none --clip-rms 0) | (paper) − FA | first dCE/dθ9 | θ9 after 100 | FA+Oja (defaults: θ9 ≥ 0, --clip-rms 5) | (default) − FA |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in $(seq 1 "${SEEDS:-24}"); do
    for v in fa oja ojap; do
      case $v in fa) t="--terms paper:F0";; oja) t="--terms paper:F0,F9 --sign none --clip-rms 0";; ojap) t="--terms paper:F0,F9";; esac
      # shellcheck disable=SC2086
      # a run stopped by --max-failures still counts, over the episodes it logged (marked † below)
      "$bin" search --method plain --feedback fixed $t --episodes 100 --seed $s ${EXTRA:-} --quiet --out "$tmp/$v-$s" > /dev/null 2>&1 ||
        touch "$tmp/$v-$s/stopped"
    done
    fa=$(mean_acc "$tmp/fa-$s/log.csv"); oja=$(mean_acc "$tmp/oja-$s/log.csv"); ojap=$(mean_acc "$tmp/ojap-$s/log.csv")
    for v in fa oja ojap; do [ -e "$tmp/$v-$s/stopped" ] && echo "seed $s, $v: stopped early (--max-failures); its mean is over the episodes it logged" >&2; done
    awk -v s="$s" -v fa="$fa" -v oja="$oja" -v ojap="$ojap" -v g="$(col "$tmp/oja-$s/log.csv" grad_F9 1)" \
        -v th="$(col "$tmp/oja-$s/log.csv" theta_F9 100)" \
        'BEGIN { printf "| %d | %.3f | %.3f | %+.3f %s | %+.0f | %+.4f | %.3f | %+.3f %s |\n", s, fa, oja, oja - fa,
                 (oja - fa >= 0.15) ? "✔" : "✘", g, th, ojap, ojap - fa, (ojap - fa >= 0.15) ? "✔" : "✘" }'
  done
} > "$out"
awk -F'|' -v extra="${EXTRA:-}" 'NR > 2 && /^\|/ { n++; a += $5 ~ /✔/; b += $9 ~ /✔/; ga += $5; gb += $9 }
  END { printf "\n%d seeds%s: FA+Oja >= FA + 0.15 in %d with the defaults, %d with the paper'"'"'s method; mean gain %+.3f and %+.3f\n",
               n, extra == "" ? "" : " with " extra, b, a, gb / n, ga / n }' "$out" >> "$out"
cat "$out"
