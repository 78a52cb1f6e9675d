#!/bin/sh
# Fuzz metaplast's input readers with libFuzzer for a bounded time each, then report the crash
# count. Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET (60)] [TARGET...]
# Targets: idx (IDX, .npy and float IDX pairs) csv config checkpoint args rules. Needs clang and
# libFuzzer (Debian: clang, libclang-rt-14-dev). Builds into build-fuzz/ (ASan + UBSan + libFuzzer). Inputs that crash,
# leak, time out or exhaust memory are saved to tests/fuzz/crashes/<target>/; commit them with
# the fix: ctest replays them (test_fuzz_<target>). New coverage goes to build-fuzz/corpus/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-idx csv config checkpoint args rules}
build=${MPL_FUZZ_BUILD:-$top/build-fuzz}
# Wall-clock seconds one input may take. A rule file's budgets are CPU time (2 s), which a loaded
# machine stretches: raise it there (MPL_FUZZ_TIMEOUT=30) rather than commit false timeouts.
# Inputs slower than this are also what libFuzzer saves as slow units (counted as crashes here).
timeout=${MPL_FUZZ_TIMEOUT:-10}
command -v clang >/dev/null || { echo "run.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
CC=clang cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMETAPLAST_FUZZ=ON \
  -DCMAKE_C_FLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  >/dev/null
list=
for t in $targets; do list="$list fuzz_$t"; done
cmake --build "$build" -j2 --target $list >/dev/null
total=0
for t in $targets; do
  mkdir -p "$build/corpus/$t" "$here/crashes/$t"
  before=$(ls "$here/crashes/$t" | wc -l)
  # Leaks are crashes too; a rule file that loops is a timeout (the sandbox must stop it first).
  quiet=; [ "$t" = args ] && quiet=-close_fd_mask=2 # its refusals are printed
  seeds=; [ "$t" = rules ] && seeds="$top/tests/hostile" # the hostile rule files seed the rules fuzzer
  ASAN_OPTIONS=detect_leaks=1 TMPDIR="$build" "$build/tests/fuzz/fuzz_$t" $quiet -max_total_time="$secs" -timeout="$timeout" -report_slow_units="$timeout" \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$here/crashes/$t/" \
    "$build/corpus/$t" "$here/corpus/$t" $seeds >"$build/fuzz_$t.log" 2>&1 || true
  after=$(ls "$here/crashes/$t" | wc -l)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz_$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$build/fuzz_$t.log" | tail -1)
  echo "fuzz_$t: ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}, $((after - before)) new crash input(s) (log: $build/fuzz_$t.log)"
  total=$((total + after - before))
done
echo "crashes: $total"
[ "$total" -eq 0 ]
