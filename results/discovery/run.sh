#!/usr/bin/env bash
# Issue 19's checks of the robust method (docs/discovery.md), from the clone's root:
#   bash results/discovery/run.sh [PART]    PART: quickstart | pool (default: both)
# Each run's verdict and rule go to results/discovery/<part>.md; run directories to runs/discovery/.
set -u
BIN=${BIN:-./build/metaplast}
OUT=${OUT:-runs/discovery}
SEEDS=${SEEDS:-"1 2 3 4 5 6 7 8 9 10"}
JOBS=${JOBS:-2}
one() {   # part seed flags...
  local part=$1 seed=$2; shift 2
  local dir="$OUT/$part/seed-$seed"
  $BIN search "$@" --seed "$seed" --jobs 1 --out "$dir" --force --quiet > "$dir.out" 2>&1 || true
}
part() {   # name flags...
  local name=$1; shift
  mkdir -p "$OUT/$name"
  export -f one; export BIN OUT
  printf '%s\n' $SEEDS | xargs -P "$JOBS" -I{} bash -c 'one "$@"' _ "$name" {} "$@"
  {
    echo "# $name: \`metaplast search $* --seed S\`, seeds $SEEDS ($(git rev-parse --short HEAD))"
    echo
    for s in $SEEDS; do
      echo "## seed $s"; echo; echo '```'; cat "$OUT/$name/seed-$s.out"; echo '```'; echo
    done
  } > "results/discovery/$name.md"
}
case "${1:-all}" in
  quickstart|all) part quickstart --method robust --terms paper:F0,F2,F9 --episodes 300 ;;&
  pool|all) part pool --method robust --terms paper --lambda auto --episodes 300 ;;
esac
