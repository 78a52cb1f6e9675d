#!/bin/sh
# metaplast test (issue 25): an installed metaplast works from any prefix, outside the source tree.
# Install into a scratch prefix, then MOVE the prefix (so nothing may point at the prefix the
# install was made for), then:
#   - every installed ELF file has a RUNPATH made of $ORIGIN only (no absolute directory);
#   - plugins/example/my_terms.c builds with `pkg-config metaplast` and with find_package(metaplast);
#   - `metaplast terms my_terms.so` (no ./), `check`, and the bundled paper plugin work;
#   - a stock lua5.4 runs `require "metaplast"` with LUA_CPATH pointing into the prefix;
#   - a search with the out-of-tree plugin, its run directory moved elsewhere, evaluates from
#     another directory (rule.json records where the plugin was and its content hash);
#   - the plugin changed since the run: eval warns, --strict refuses; gone: the error names it,
#     the directories searched and METAPLAST_PLUGIN_PATH.
# usage: check_install.sh BUILD_DIR SOURCE_DIR SCRATCH [PRELOAD]
# PRELOAD (sanitizer builds): the ASan runtime, which a stock lua5.4 must load first.
set -eu
build=$1; src=$2; dir=$3; preload=${4:-}
fail() { echo "test_install: FAIL: $*" >&2; exit 1; }
rm -rf "$dir"; mkdir -p "$dir/plugin" "$dir/cmk" "$dir/elsewhere" "$dir/tmp"
export TMPDIR="$dir/tmp"
unset METAPLAST_PLUGIN_PATH METAPLAST_RULES_PATH || true
cmake --install "$build" --prefix "$dir/staged" >/dev/null
mv "$dir/staged" "$dir/prefix"   # relocated: the prefix the install was made for is gone
prefix=$dir/prefix
mp=$prefix/bin/metaplast
libdir=$(dirname "$(find "$prefix" -name 'libmetaplast.so*' | head -1)")

# 1. RUNPATHs: $ORIGIN-relative only.
if command -v readelf >/dev/null; then
  for f in $(find "$prefix" -type f \( -name '*.so*' -o -path '*/bin/*' \)); do
    rp=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p;s/.*(RPATH).*\[\(.*\)\]/\1/p')
    case "$f" in *libmetaplast.so*) continue ;; esac
    [ -n "$rp" ] || fail "$f has no RUNPATH"
    echo "$rp" | tr ':' '\n' | grep -qv '^\$ORIGIN' && fail "$f: RUNPATH $rp is not relative to \$ORIGIN"
  done
fi
"$mp" --version >/dev/null || fail "the relocated command does not start"

# 2. The example plugin, built with pkg-config and with the CMake package.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --variable=libdir metaplast | xargs realpath)" = "$(realpath "$libdir")" ] ||
  fail "pkg-config's libdir $(pkg-config --variable=libdir metaplast) is not $libdir"
cp "$src/plugins/example/my_terms.c" "$dir/plugin/"
cd "$dir/plugin"
cc -shared -fPIC -O2 -Wall -o my_terms.so my_terms.c $(pkg-config --cflags --libs metaplast) ||
  fail "pkg-config build of my_terms.c"
"$mp" terms my_terms.so | grep -q "soft_bound" || fail "terms my_terms.so (an existing path without ./)"
"$mp" check ./my_terms.so | tail -1 | grep -q PASS || fail "check ./my_terms.so"
"$mp" terms paper | grep -q "^F9" || fail "the installed paper plugin is not found"
cat > "$dir/cmk/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(my_terms C)
find_package(metaplast REQUIRED)
metaplast_add_plugin(my_terms my_terms.c)
CM
cp "$src/plugins/example/my_terms.c" "$dir/cmk/"
cmake -S "$dir/cmk" -B "$dir/cmk/b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null || fail "find_package(metaplast)"
cmake --build "$dir/cmk/b" >/dev/null || fail "CMake build of my_terms.c"
"$mp" terms "$dir/cmk/b/my_terms.so" | grep -q gated_hebb || fail "the CMake-built plugin"

# 3. Stock Lua: require "metaplast" from the prefix.
if command -v lua5.4 >/dev/null; then
  mod=$(dirname "$(find "$prefix" -path '*lua/5.4/metaplast.so' | head -1)")
  out=$(cd "$dir/elsewhere" && LD_PRELOAD=$preload LUA_CPATH="$mod/?.so;;" \
        lua5.4 -e 'local m = require "metaplast"; print(type(m.search) .. " " .. #m.terms("paper"))') ||
    fail "lua5.4 -e 'require \"metaplast\"' from the relocated prefix"
  [ "$out" = "function 10" ] || fail "require \"metaplast\" printed '$out', expected 'function 10'"
else
  echo "test_install: lua5.4 is not installed: the stock-interpreter check is skipped"
fi

# 4. A run directory moved elsewhere evaluates from another directory.
data=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
if [ ! -f "$data" ]; then echo "test_install: no Fashion-MNIST (dataset-fashion-mnist): the eval part is skipped"; echo PASS; exit 0; fi
"$mp" search --data fashion-mnist-test --per-class 60 --terms paper:F0 --terms my_terms.so:soft_bound --hidden 8 \
  --episodes 2 --method plain --out run --quiet >/dev/null || fail "search with my_terms.so"
grep -q '"path": "'"$dir/plugin/my_terms.so"'"' run/rule.json || fail "rule.json does not record the plugin's path"
grep -q '"crc32": "' run/rule.json || fail "rule.json does not record the plugin's hash"
mv run "$dir/elsewhere/moved"
cd "$dir/elsewhere"
"$mp" eval moved --tasks 2 --quiet > eval.txt 2> eval.err || { cat eval.err >&2; fail "eval of the moved run"; }
grep -q "^rule" eval.txt || fail "eval printed no rule line"
grep -q "warning" eval.err && fail "eval of an unchanged plugin warned: $(cat eval.err)"
# the plugin rebuilt differently: a warning, and --strict refuses
cd "$dir/plugin"
cc -shared -fPIC -O0 -Wall -DCHANGED=1 -o my_terms.so my_terms.c $(pkg-config --cflags --libs metaplast)
cd "$dir/elsewhere"
"$mp" eval moved --tasks 2 --quiet > /dev/null 2> changed.err || fail "eval with a changed plugin should still run"
grep -q "^metaplast: warning: plugin my_terms.so .* changed since the run" changed.err || fail "no warning for a changed plugin: $(cat changed.err)"
"$mp" eval moved --tasks 2 --quiet --strict > /dev/null 2> strict.err && fail "--strict accepted a changed plugin"
# the plugin gone: the error names it, where it looked and what to set
mv "$dir/plugin/my_terms.so" "$dir/cmk/moved.so"
"$mp" eval moved --tasks 2 --quiet > /dev/null 2> gone.err && fail "eval ran without its plugin"
for want in "my_terms.so" "$dir/plugin" "METAPLAST_PLUGIN_PATH"; do
  grep -qF "$want" gone.err || fail "the not-found error does not mention $want: $(cat gone.err)"
done
# ... and METAPLAST_PLUGIN_PATH finds it again (same content as built for the run? the CMake one is
# another build: a warning at most)
mkdir -p "$dir/pp" && cp "$dir/cmk/b/my_terms.so" "$dir/pp/my_terms.so"
METAPLAST_PLUGIN_PATH="$dir/pp" "$mp" eval moved --tasks 2 --quiet > /dev/null 2> pp.err ||
  fail "eval with METAPLAST_PLUGIN_PATH: $(cat pp.err)"
echo PASS
