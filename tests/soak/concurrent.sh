#!/bin/sh
# Issue 23, item 2: two searches (seeds 3 and 4) started together into one --out, N times (default
# 100). Counts the tries where exactly one succeeded and the directory holds that run whole
# (config.txt's seed; log.csv without its seconds column, theta.tsv, rule.json up to its config
# block and rule.txt equal to a reference run of that seed; no .lock, checkpoint or *.tmp.* left).
# Not in ctest (tests/test_lock.c runs 10 tries). Usage:
#   tests/soak/concurrent.sh METAPLAST WORKDIR [N]
set -u
M=$1 W=$2 N=${3:-100}
DATA="--data fashion-mnist-test --per-class 100 --hidden 8 --episodes 30 --quiet"
rm -rf "$W" && mkdir -p "$W" || exit 1
cd "$W" || exit 1
strip() { sed 's/,[^,]*$//' "$1"; }                 # log.csv without the seconds column
head_json() { sed '/"config"/,$d' "$1"; }           # rule.json up to its configuration block
for s in 3 4; do
  nice -n 10 "$M" search $DATA --seed $s --out ref$s >/dev/null 2>&1 || { echo "reference run $s failed"; exit 1; }
done
ok=0 mixed=0 both=0 none=0 busy=0 after=0 left=0
i=0
while [ $i -lt "$N" ]; do
  i=$((i + 1))
  d=try$i
  nice -n 10 "$M" search $DATA --seed 3 --out $d >/dev/null 2>$d.err3 &
  p3=$!
  nice -n 10 "$M" search $DATA --seed 4 --out $d >/dev/null 2>$d.err4 &
  p4=$!
  wait $p3; r3=$?
  wait $p4; r4=$?
  if [ $r3 -eq 0 ] && [ $r4 -eq 0 ]; then both=$((both + 1)); echo "try $i: both exited 0"; fi
  if [ $r3 -ne 0 ] && [ $r4 -ne 0 ]; then none=$((none + 1)); echo "try $i: both failed: $(cat $d.err3 $d.err4)"; fi
  loser=$d.err4; [ $r3 -ne 0 ] && loser=$d.err3
  if grep -q "is in use by another run (process [0-9]* holds" $loser; then busy=$((busy + 1));
  elif grep -q "holds a run" $loser; then after=$((after + 1)); fi
  s=$(sed -n 's/^seed = //p' $d/config.txt 2>/dev/null)
  good=1
  if [ "$s" != 3 ] && [ "$s" != 4 ]; then good=0
  else
    [ "$(strip $d/log.csv)" = "$(strip ref$s/log.csv)" ] || good=0
    cmp -s $d/theta.tsv ref$s/theta.tsv || good=0
    cmp -s $d/rule.txt ref$s/rule.txt || good=0
    [ "$(head_json $d/rule.json)" = "$(head_json ref$s/rule.json)" ] || good=0
  fi
  if ls -A $d | grep -q -e '\.tmp\.' -e '^\.lock$' -e '^checkpoint$'; then left=$((left + 1)); echo "try $i: left: $(ls -A $d)"; fi
  if [ $good -eq 1 ]; then ok=$((ok + 1)); else mixed=$((mixed + 1)); echo "try $i: mixed or incomplete (seed '$s')"; fi
done
echo "tries $N: one run whole $ok, mixed/incomplete $mixed, both exited 0 $both, both failed $none," \
     "loser refused while held $busy, refused after the winner finished $after, leftover files $left"
[ $mixed -eq 0 ] && [ $both -eq 0 ] && [ $none -eq 0 ] && [ $left -eq 0 ]
