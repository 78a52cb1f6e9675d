#!/bin/sh
# metaplast test: the plugin guide's path, outside the tree. Install metaplast into a scratch
# prefix, compile plugins/example/my_terms.c with the documented pkg-config command and with the
# CMake package, then list, check and search with the installed command.
# usage: check_plugin_install.sh BUILD_DIR SOURCE_DIR SCRATCH
set -eu
build=$1; src=$2; dir=$3
rm -rf "$dir"; mkdir -p "$dir/plugin" "$dir/cmk"
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
export PKG_CONFIG_PATH="$dir/prefix/lib/pkgconfig:$dir/prefix/lib/$(gcc -print-multiarch 2>/dev/null || echo .)/pkgconfig"
cp "$src/plugins/example/my_terms.c" "$dir/plugin/"
cd "$dir/plugin"
cc -shared -fPIC -O2 -Wall -o my_terms.so my_terms.c $(pkg-config --cflags --libs metaplast)
mp="$dir/prefix/bin/metaplast"
"$mp" terms ./my_terms.so | grep -q "soft_bound" || { echo "FAIL: terms"; exit 1; }
"$mp" check ./my_terms.so | tail -1 | grep -q PASS || { echo "FAIL: check"; exit 1; }
"$mp" terms paper | grep -q "^F9" || { echo "FAIL: the installed paper plugin is not found"; exit 1; }
# the CMake package
cat > "$dir/cmk/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(my_terms C)
find_package(metaplast REQUIRED)
metaplast_add_plugin(my_terms my_terms.c)
CM
cp "$src/plugins/example/my_terms.c" "$dir/cmk/"
cmake -S "$dir/cmk" -B "$dir/cmk/b" -DCMAKE_PREFIX_PATH="$dir/prefix" >/dev/null
cmake --build "$dir/cmk/b" >/dev/null
"$mp" terms "$dir/cmk/b/my_terms.so" | grep -q gated_hebb || { echo "FAIL: CMake-built plugin"; exit 1; }
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  "$mp" search --terms paper:F0 --terms ./my_terms.so --hidden 20 --episodes 2 --out "$dir/run" --quiet \
    | grep -qE "discovered rule|rule \(not a discovery\)" || { echo "FAIL: search"; exit 1; }
fi
echo PASS
