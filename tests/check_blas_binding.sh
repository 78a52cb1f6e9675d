#!/bin/sh
# metaplast test: in the metaplast command, libgsl's and libmetaplast's cblas_* calls are bound to
# OpenBLAS, not to GSL's reference libgslcblas (a reordered link line would fail silently).
# usage: check_blas_binding.sh METAPLAST
prog=$1
fail=0
out=$(LD_DEBUG=bindings LD_BIND_NOW=1 "$prog" --version 2>&1) || { echo "FAIL: $prog --version"; exit 1; }
for lib in libgsl libmetaplast; do
  for sym in cblas_ddot cblas_dgemv cblas_dgemm; do
    line=$(printf '%s\n' "$out" | grep "binding file [^ ]*$lib\.so[^ ]* .* normal symbol \`$sym'")
    case "$line" in
      *openblas*) ;;
      "") if [ "$lib" = libmetaplast ] || [ "$sym" = cblas_ddot ]; then echo "FAIL: no binding of $sym in $lib"; fail=1; fi ;;
      *) echo "FAIL: $line"; fail=1 ;;
    esac
  done
done
printf '%s\n' "$out" | grep -E '^BLAS' 
printf '%s\n' "$out" | grep -E '^BLAS' | grep -v openblas && { echo "FAIL: metaplast --version reports a BLAS other than OpenBLAS"; fail=1; }
[ $fail -eq 0 ] && echo PASS
exit $fail
