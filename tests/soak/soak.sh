#!/bin/bash
# Issue 23 soak test (not in ctest; results in tests/soak/RESULT.md): kill -9 or SIGTERM at random
# moments during searches (robust, the default, and plain), --trials and --lambda-path runs on tiny
# data, then recover and compare bit for bit with an uninterrupted run.
#
# Each cycle starts one of four scenarios into a fresh directory, kills it after a random delay
# (uniform in [0, 1.2 x the uninterrupted run's duration]) with SIGKILL or SIGTERM, then recovers
# every run directory the scenario makes: `search --resume D` if D/config.txt exists, otherwise
# the run's own search again with --out D (what --resume advises). With probability 1/3 the
# recovery is killed too, at a random moment, and recovered again. Then each run directory is
# compared with the reference: log.csv without its seconds column, theta.tsv, rule.txt,
# validation.csv and rule.json up to its "config" block (which records the command). Counted:
# bit-identical cycles, differing ones (corrupted), failed recoveries, leftover temporary files
# (*.tmp.*, checkpoint, .lock in a run directory; *.tmp.* in a trials/path directory), and the
# lock file a killed trials/path process leaves on its --out (the runs in it are resumed one by
# one, so nothing takes that lock over; harmless: the next run into it would).
#
# Usage: tests/soak/soak.sh METAPLAST WORKDIR [CYCLES [SECONDS]]   (defaults 1000, no time limit)
set -u
M=$1 W=$2 CYCLES=${3:-1000} LIMIT=${4:-0}
BASE=(--data fashion-mnist-test --per-class 100 --hidden 8 --episodes 40 --checkpoint-every 3 --quiet)
RANDOM=${SOAK_SEED:-23}
rm -rf "$W" && mkdir -p "$W" || exit 1
cd "$W" || exit 1

# scenario -> its command's extra flags; its run directories (relative) and each one's own flags
flags() {
  case $1 in
    A) echo "--seed 3" ;;
    B) echo "--seed 4 --method plain --lambda 0.01" ;;
    C) echo "--seed 5 --trials 2 --jobs 2" ;;
    D) echo "--seed 3 --lambda-path 0.005,0.02 --jobs 2" ;;
  esac
}
runs() {
  case $1 in
    A | B) echo "." ;;
    C) echo "trial-001 trial-002" ;;
    D) echo "lambda-0.005 lambda-0.02" ;;
  esac
}
run_flags() {   # scenario, run directory
  case $1/$2 in
    A/.) echo "--seed 3" ;;
    B/.) echo "--seed 4 --method plain --lambda 0.01" ;;
    C/trial-001) echo "--seed 6" ;;
    C/trial-002) echo "--seed 7" ;;
    D/lambda-0.005) echo "--seed 3 --lambda 0.005" ;;
    D/lambda-0.02) echo "--seed 3 --lambda 0.02" ;;
  esac
}

now_ms() { date +%s%3N; }
rand_delay() {   # a random delay in [0, 1.2 x $1 ms], in seconds
  local r=$(( (RANDOM * 32768 + RANDOM) % ($1 * 12 / 10 + 1) ))
  printf '%d.%03d' $((r / 1000)) $((r % 1000))
}
strip() { sed 's/,[^,]*$//' "$1"; }
head_json() { sed '/"config"/,$d' "$1"; }
same_run() {   # dir ref: 0 if bit-identical
  local f
  [ "$(strip "$1/log.csv" 2>/dev/null)" = "$(strip "$2/log.csv")" ] || return 1
  for f in theta.tsv rule.txt validation.csv; do cmp -s "$1/$f" "$2/$f" || return 1; done
  [ "$(head_json "$1/rule.json" 2>/dev/null)" = "$(head_json "$2/rule.json")" ] || return 1
}

declare -A DUR
for s in A B C D; do
  t0=$(now_ms)
  nice -n 10 "$M" search "${BASE[@]}" $(flags $s) --out ref$s >/dev/null 2>ref$s.err || { echo "reference $s failed"; cat ref$s.err; exit 1; }
  DUR[$s]=$(( $(now_ms) - t0 ))
  for r in $(runs $s); do   # a run made alone equals the one inside trials/path (the recovery relies on it)
    if [ "$r" != . ]; then
      nice -n 10 "$M" search "${BASE[@]}" $(run_flags $s $r) --out alone$s-$r >/dev/null 2>&1
      same_run alone$s-$r ref$s/$r || { echo "$s/$r: a run alone differs from the same run of the scenario"; exit 1; }
      rm -rf alone$s-$r
    fi
  done
  echo "reference $s ($(flags $s)): ${DUR[$s]} ms"
done

# Run (in the background, niced) metaplast search with the given arguments; its pid in $PID.
start() { nice -n 10 "$M" search "$@" >/dev/null 2>>"$ERR" & PID=$!; }
# Kill $PID after a random delay with signal $1; KILLED=1 if it was still running then.
kill_later() {
  sleep "$(rand_delay $2)"
  KILLED=0
  if kill -0 $PID 2>/dev/null; then kill -$1 $PID 2>/dev/null && KILLED=1; fi
  wait $PID 2>/dev/null
}
# Recover run directory $2 of scenario $1 (under $D): resume or start again; 0 on success.
recover_once() {
  local d=$D/$2
  if [ -f "$d/config.txt" ]; then start --resume "$d" --quiet
  else start "${BASE[@]}" $(run_flags $1 $2) --out "$d"; fi
}

cycles=0 identical=0 differ=0 failed=0 leftover=0 parent_lock=0 landed=0 relanded=0 fresh=0 sigkill=0 sigterm=0
declare -A BY
T0=$(date +%s)
for ((i = 1; i <= CYCLES; i++)); do
  if [ "$LIMIT" -gt 0 ] && [ $(( $(date +%s) - T0 )) -ge "$LIMIT" ]; then break; fi
  s=${BY_ORDER:-ABCD}; s=${s:$(( RANDOM % ${#s} )):1}
  D=c$i ERR=c$i.err
  sig=KILL; [ $((RANDOM % 2)) -eq 1 ] && sig=TERM
  [ $sig = KILL ] && sigkill=$((sigkill + 1)) || sigterm=$((sigterm + 1))
  start "${BASE[@]}" $(flags $s) --out $D
  kill_later $sig ${DUR[$s]}
  landed=$((landed + KILLED))
  ok=1
  for r in $(runs $s); do
    [ -f "$D/$r/config.txt" ] || fresh=$((fresh + 1))
    if [ $((RANDOM % 3)) -eq 0 ]; then   # kill the recovery too
      recover_once $s $r
      s2=KILL; [ $((RANDOM % 2)) -eq 1 ] && s2=TERM
      kill_later $s2 $(( ${DUR[$s]} / ( $(runs $s | wc -w) ) ))
      relanded=$((relanded + KILLED))
    fi
    recover_once $s $r
    wait $PID
    rc=$?
    if [ $rc -ne 0 ]; then
      ok=0; failed=$((failed + 1)); echo "cycle $i ($s, $sig): recovering $r exited $rc: $(tail -2 $ERR)"
    elif ! same_run $D/$r ref$s/$r; then
      ok=0; differ=$((differ + 1)); echo "cycle $i ($s, $sig): $r differs from the uninterrupted run"
    fi
    if ls -A $D/$r | grep -q -e '\.tmp\.' -e '^checkpoint$' -e '^\.lock$'; then
      leftover=$((leftover + 1)); ok=0; echo "cycle $i ($s): left in $r: $(ls -A $D/$r | tr '\n' ' ')"
    fi
  done
  if [ "$(runs $s)" != . ]; then
    if ls -A $D | grep -q '\.tmp\.'; then leftover=$((leftover + 1)); ok=0; echo "cycle $i ($s): left in $D: $(ls -A $D | tr '\n' ' ')"; fi
    [ -e $D/.lock ] && parent_lock=$((parent_lock + 1))
  fi
  cycles=$i
  BY[$s]=$(( ${BY[$s]:-0} + 1 ))
  if [ $ok -eq 1 ]; then identical=$((identical + 1)); rm -rf $D $ERR; fi
  [ $((i % 50)) -eq 0 ] && echo "after $i cycles: $identical bit-identical, $differ differ, $failed failed, $leftover with leftovers"
done
echo "cycles $cycles (search robust ${BY[A]:-0}, search plain ${BY[B]:-0}, trials ${BY[C]:-0}, lambda path ${BY[D]:-0};" \
     "SIGKILL $sigkill, SIGTERM $sigterm; the first signal found the run still going in $landed, the recovery's in $relanded;" \
     "$fresh run directories had no config.txt to resume (not started, or killed before it) and were started again)"
echo "bit-identical $identical/$cycles, differing $differ, failed recoveries $failed, leftover temporary files $leftover," \
     "trials/path --out lock files left by the kill $parent_lock"
[ $identical -eq $cycles ]
