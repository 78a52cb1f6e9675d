#!/bin/sh
# metaplast on 3 MPI ranks (docs/mpi.md) against one process, byte for byte: trials, a lambda path
# and a meta-batch split over the ranks; a failing rank stops the job with a message naming it; a
# rank killed mid-run stops the job, and --resume under MPI continues from the last checkpoint to
# the same results as an uninterrupted single-process run.
# usage: test_mpi.sh METAPLAST WORKDIR MPI_BUILD(ON|OFF) [MPIEXEC]
# Exit 77 (ctest: skipped) without an MPI build or without mpirun.
set -u
BIN=$1 WORK=$2 MPI_BUILD=$3 MPIEXEC=${4:-mpirun}
if [ "$MPI_BUILD" != ON ] && [ "$MPI_BUILD" != 1 ]; then
  echo "SKIP: metaplast was built without MPI (configure with -DMETAPLAST_MPI=ON, Debian's libopenmpi-dev)"
  exit 77
fi
if ! command -v "$MPIEXEC" >/dev/null 2>&1; then
  echo "SKIP: no MPI launcher '$MPIEXEC' (Debian's openmpi-bin)"
  exit 77
fi
# Open MPI refuses to run as root unless told (CI runs as root)
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
MPIRUN="$MPIEXEC --oversubscribe -np 3"
# A sanitizer build (MPL_SANITIZE=1): Open MPI leaves allocations of plug-ins it has unloaded, which
# LeakSanitizer cannot name or suppress; the ranks' leak reports go to files, and only leaks with
# a frame in metaplast's sources fail the test (check_leaks).
LSAN_RUN=
if [ -n "${MPL_SANITIZE:-}" ]; then LSAN_RUN="env LSAN_OPTIONS=exitcode=0:log_path=$WORK/lsan/rank"; fi

fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK/one" "$WORK/mpi" "$WORK/lsan" || fail "cannot create $WORK"
cd "$WORK" || exit 1
A="--data fashion-mnist-test --hidden 8 --quiet"

# Every file of the single-process directory $1 equals the MPI one's (log.csv without its last
# column, the wall time; figures, which carry a creation date, aside), and no file is missing.
same() {
  (cd "one/$1" && find . -type f ! -path './plots/*' | sort) > list.one
  (cd "mpi/$1" && find . -type f ! -path './plots/*' | sort) > list.mpi
  cmp -s list.one list.mpi || { diff list.one list.mpi; fail "$1: not the same files"; }
  [ -s list.one ] || fail "$1: no files"
  n=0
  while read -r f; do
    case $f in
      *log.csv) sed 's/,[^,]*$//' "one/$1/$f" > a.tmp; sed 's/,[^,]*$//' "mpi/$1/$f" > b.tmp ;;
      *) cp "one/$1/$f" a.tmp; cp "mpi/$1/$f" b.tmp ;;
    esac
    cmp -s a.tmp b.tmp || { diff a.tmp b.tmp | head -5; fail "$1/$f differs between 1 process and 3 ranks"; }
    n=$((n + 1))
  done < list.one
  echo "ok: $1: $n files identical on 1 process and 3 ranks"
}

# run NAME ARGS...: the same command (same relative --out) on one process and on 3 ranks
run() {
  name=$1; shift
  (cd one && "$BIN" search $A --out "$name" "$@" > "$name.out" 2> "$name.err") || { cat "one/$name.err"; fail "$name: one process"; }
  (cd mpi && $LSAN_RUN $MPIRUN "$BIN" search $A --out "$name" "$@" > "$name.out" 2> "$name.err") || { cat "mpi/$name.err"; fail "$name: 3 ranks"; }
  for d in one mpi; do sed 's|[0-9.]* s/episode|T s/episode|' "$d/$name.out" > "$d/$name.out.cmp"; done   # wall time
  cmp -s "one/$name.out.cmp" "mpi/$name.out.cmp" || { diff "one/$name.out" "mpi/$name.out"; fail "$name: printed summaries differ"; }
  same "$name"
}

# 4 trials on 3 ranks (rank 0 runs trials 1 and 4)
run trials --terms paper:F0,F2,F9 --episodes 6 --trials 4
[ -f mpi/trials/trial-004/theta.tsv ] && [ -f mpi/trials/summary.csv ] || fail "trials: files missing"
# a lambda path with 2 trials each: 6 runs
run path --terms paper:F0,F2,F9 --episodes 5 --lambda-path 0,1e-3,1e-2 --trials 2
# a meta-batch of 5 tasks in blocks 2+2+1, all ten terms (some episodes diverge: failed tasks)
run batch --terms paper --episodes 10 --meta-batch 5 --checkpoint-every 3
grep -q ',diverged,' one/batch/log.csv || echo "note: no diverged episode in the meta-batch run"

# An error on rank 0 (the results directory already holds a run) stops every rank, and rank 0,
# whose exit status is the job's, says why.
(cd mpi && $MPIRUN "$BIN" search $A --out batch --terms paper --episodes 2 --meta-batch 5 > again.out 2> again.err)
[ $? -ne 0 ] || fail "an error on rank 0: exit status 0"
grep -q "batch/log.csv already exists" mpi/again.err || { cat mpi/again.err; fail "rank 0's error message is missing"; }
echo "ok: an error on rank 0 stops all ranks with its message"

# A rank whose run fails stops the whole job, saying which rank and why: trial 2 runs on rank 1
# and its directory is a file.
mkdir -p mpi/bad && : > mpi/bad/trial-002
(cd mpi && $MPIRUN "$BIN" search $A --out bad --terms paper:F0 --episodes 3 --trials 3 > bad.out 2> bad.err)
rc=$?
[ $rc -ne 0 ] || fail "a failing rank: exit status 0"
grep -q "rank 1 of 3" mpi/bad.err && grep -q "trial-002" mpi/bad.err || { cat mpi/bad.err; fail "no message naming rank 1 and trial-002"; }
[ ! -f mpi/bad/summary.csv ] || fail "a failed job wrote a summary"
echo "ok: a failing rank stops the job (status $rc): $(grep -m1 'rank 1 of 3' mpi/bad.err)"

# A rank killed mid-run: the job stops; --resume on 3 ranks continues from the last complete
# checkpoint to the uninterrupted single-process results.
K="--terms paper:F0,F2,F9 --episodes 30 --meta-batch 4 --checkpoint-every 2"
(cd one && "$BIN" search $A --out kill $K > /dev/null 2>&1) || fail "kill: one process"
cd mpi
$MPIRUN "$BIN" search $A --out kill $K > kill.out 2> kill.err &
job=$!
i=0
while [ ! -f kill/checkpoint ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
victim=
for p in $(pgrep -P $job); do
  if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
done
killed=0
if [ -n "$victim" ] && [ -f kill/checkpoint ]; then kill -9 "$victim" && killed=1; fi
wait $job
rc=$?
if [ $killed -eq 1 ]; then
  [ $rc -ne 0 ] || fail "a killed rank: exit status 0"
  rows=$(($(wc -l < kill/log.csv) - 1))
  [ -f kill/checkpoint ] && [ ! -f kill/theta.tsv ] || fail "the killed run left no checkpoint (or finished: $rows rows)"
  echo "ok: rank 1 killed (pid $victim) after $rows episodes: the job stopped with status $rc"
else
  fail "could not kill rank 1 during the run (finished first? status $rc)"
fi
$LSAN_RUN $MPIRUN "$BIN" search --resume kill --quiet > resume.out 2> resume.err || { cat resume.err; fail "resume on 3 ranks"; }
cd ..
same kill
if [ -n "$LSAN_RUN" ]; then
  if grep -l -E '/core/|metaplast' lsan/rank* 2>/dev/null; then cat $(grep -l -E '/core/|metaplast' lsan/rank*); fail "LeakSanitizer: leaks in metaplast's code on the ranks"; fi
  echo "ok: no leak in metaplast's code on the ranks ($(ls lsan | wc -l) reports of Open MPI's own)"
fi
echo "PASS"
