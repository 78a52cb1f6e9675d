#!/bin/sh
# test_lua: the Lua module from `metaplast run` and from a stock lua5.4: a search gives the same
# log.csv as `metaplast search` with the same settings, script errors are Lua errors with the
# library's message, arguments reach the script, and every ```lua example in docs/lua.md runs.
# Usage: test_lua.sh METAPLAST_CLI MODULE_DIR SOURCE_DIR WORK_DIR [PRELOAD]
# PRELOAD (sanitizer builds): the ASan runtime, which a stock lua5.4 must load first.
set -eu
cli=$1 moddir=$2 src=$3 work=$4 preload=${5:-}
rm -rf "$work"
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
fail() { echo "test_lua: FAIL: $*" >&2; exit 1; }
# The stock interpreter is Debian's lua5.4 package (in .ci/run); without it those checks are skipped.
hosts="run lua54"
command -v lua5.4 > /dev/null || {
  hosts=run
  echo "test_lua: lua5.4 is not installed: the stock-interpreter checks are skipped (apt-get install lua5.4)"
}
lua_stock() { [ "$hosts" = run ] || LD_PRELOAD=$preload LUA_CPATH="$moddir/?.so;;" lua5.4 "$@"; }
# log.csv without its wall-time column (the last), the only one that may differ between runs
strip() { sed 's/,[^,]*$//' "$1"; }

# 1. The same search three ways: Lua in metaplast run, Lua in lua5.4, the command line.
"$cli" run "$src/tests/lua/same_as_cli.lua" "$work/run" || fail "metaplast run same_as_cli.lua"
lua_stock "$src/tests/lua/same_as_cli.lua" "$work/lua54" || fail "lua5.4 same_as_cli.lua"
"$cli" search --data fashion-mnist-test --per-class 100 --hidden 8 --terms paper:F0,F2 --terms paper:F9 \
  --episodes 8 --seed 3 --lambda 0.5 --lr 0.002 --sign F0=+,F9=+ --init F9=0.001 --quiet --out "$work/cli" \
  > "$work/cli.txt" || fail "metaplast search"
strip "$work/cli/log.csv" > "$work/cli.csv"
for d in $hosts; do
  strip "$work/$d/log.csv" > "$work/$d.csv"
  cmp "$work/cli.csv" "$work/$d.csv" || fail "$d/log.csv differs from metaplast search's"
  cmp "$work/cli/theta.tsv" "$work/$d/theta.tsv" || fail "$d/theta.tsv differs from metaplast search's"
done
[ "$(wc -l < "$work/cli.csv")" -eq 9 ] || fail "log.csv should have a header and 8 rows"
# ... and the evaluation of its rule, from Lua and from the command line.
"$cli" eval "$work/cli" --tasks 6 --seed 2 --quiet > "$work/eval-cli.txt" || fail "metaplast eval"
"$cli" run "$src/tests/lua/eval.lua" "$work/cli" "$work/eval-lua.txt" || fail "eval.lua"
cmp "$work/eval-cli.txt" "$work/eval-lua.txt" || fail "metaplast.eval's table differs from metaplast eval's"

# ... and as parallel trials: trial i is the search with seed+i.
"$cli" run "$src/tests/lua/trials.lua" "$work/trials" || fail "trials.lua"

# ... and as a sparsity path (issue 25): metaplast.path writes what --lambda-path writes.
"$cli" run "$src/tests/lua/path.lua" "$work/path-lua" || fail "path.lua"
"$cli" search --data fashion-mnist-test --per-class 100 --hidden 8 --terms paper:F0,F2,F9 --episodes 6 --seed 4 \
  --method plain --lambda-path 0,0.01:1:3 --jobs 2 --quiet --out "$work/path-cli" > /dev/null || fail "--lambda-path"
cmp "$work/path-cli/path.csv" "$work/path-lua/path.csv" || fail "metaplast.path's path.csv differs from --lambda-path's"
for d in "$work"/path-cli/lambda-*; do
  l=$(basename "$d")
  strip "$d/log.csv" > "$work/p1.csv"; strip "$work/path-lua/$l/log.csv" > "$work/p2.csv"
  cmp "$work/p1.csv" "$work/p2.csv" || fail "$l/log.csv differs between metaplast.path and --lambda-path"
done

# 2. Errors, in both hosts (under ASan in a sanitizer build: no leak, no crash on any error path).
"$cli" run "$src/tests/lua/errors.lua" || fail "errors.lua under metaplast run"
lua_stock "$src/tests/lua/errors.lua" || fail "errors.lua under lua5.4"
[ -z "$(ls -A "$work/tmp")" ] || fail "temporary results directories left in $work/tmp: $(ls "$work/tmp")"

# 3. metaplast run: arguments, exit status and messages.
"$cli" run "$src/tests/lua/args.lua" a=1 b || fail "args.lua"
if "$cli" run "$src/tests/lua/fail.lua" 2> "$work/fail.err"; then fail "fail.lua should fail"; fi
grep -q "fail.lua:2: metaplast.search: key 'episodes': 0 is out of range" "$work/fail.err" || fail "fail.lua: $(cat "$work/fail.err")"
printf 'local x = = 1\n' > "$work/syntax.lua"
if "$cli" run "$work/syntax.lua" 2> "$work/syntax.err"; then fail "a syntax error should fail"; fi
grep -q "syntax.lua:1:" "$work/syntax.err" || fail "syntax error message: $(cat "$work/syntax.err")"
if "$cli" run "$work/missing.lua" 2> "$work/missing.err"; then fail "a missing script should fail"; fi
grep -q "missing.lua" "$work/missing.err" || fail "missing script message: $(cat "$work/missing.err")"

# 4. Every ```lua block of docs/lua.md, run from the work folder in order, each as its own script.
cd "$work"
awk -v dir="$work" '/^```lua$/ { n++; f = sprintf("%s/doc-%02d.lua", dir, n); inb = 1; next }
  /^```$/ { if (inb) close(f); inb = 0; next } inb { print > f }' "$src/docs/lua.md"
n=0
for f in "$work"/doc-*.lua; do
  [ -e "$f" ] || fail "no lua examples found in docs/lua.md"
  n=$((n + 1))
  "$cli" run "$f" > "$f.out" 2>&1 || { cat "$f.out" >&2; fail "docs/lua.md example $(basename "$f")"; }
done
echo "test_lua: ok ($n documentation examples)"
