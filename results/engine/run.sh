#!/usr/bin/env bash
# metaplast: the engine's acceptance runs on Fashion-MNIST (issue 2): FA, FA+Oja and FA+eHebb+Oja
# (each with metaplast's defaults -- Oja's declared θ9 >= 0, Adam with --clip-rms 5 -- and with the paper's
# method exactly: unconstrained θ and PyTorch's plain Adam, --sign none --clip-rms 0), and BP, 200 episodes,
# seed 1, and a summary of the mean query
# accuracy over episodes 1-100 and 151-200. Usage: results/engine/run.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build}/metaplast
runs=(
  "fa|--feedback fixed --terms paper:F0"
  "fa-oja|--feedback fixed --terms paper:F0,F9"
  "fa-oja-unconstrained|--feedback fixed --terms paper:F0,F9 --sign none --clip-rms 0"
  "bp|--feedback symmetric --terms paper:F0"
  "fa-ehebb-oja|--feedback fixed --terms paper:F0,F2,F9"
  "fa-ehebb-oja-unconstrained|--feedback fixed --terms paper:F0,F2,F9 --sign none --clip-rms 0"
)
for r in "${runs[@]}"; do
  name=${r%%|*}; args=${r#*|}
  mkdir -p "$here/$name"
  # shellcheck disable=SC2086
  "$bin" search --method plain $args --episodes 200 --seed 1 --out "$here/$name" --force --quiet | tee "$here/$name/stdout.txt"
done
{
  echo "| run | command | mean acc. ep. 1-100 | mean acc. ep. 151-200 | diverged episodes | median s/episode |"
  echo "|---|---|---|---|---|---|"
  for r in "${runs[@]}"; do
    name=${r%%|*}; args=${r#*|}
    awk -F, -v name="$name" -v args="$args" '
      NR == 1 { for (i = 1; i <= NF; i++) if ($i == "accuracy") a = i; next }
      $a == "nan" || $a == "-nan" { nan++; next }
      $1 <= 100 { s1 += $a; n1++ } $1 > 150 { s2 += $a; n2++ }
      END { printf "| %s | `%s` | %.3f | %.3f | %d |", name, args, s1 / n1, s2 / n2, nan }' "$here/$name/log.csv"
    awk '/s\/episode/ { for (i = 1; i <= NF; i++) if ($i ~ /s\/episode/) printf " %s |\n", $(i - 1) }' "$here/$name/stdout.txt"
  done
} > "$here/summary.md"
cat "$here/summary.md"
