/* metaplast fuzz harnesses: the entry point each one defines. Built with libFuzzer by
 * tests/fuzz/run.sh (clang), and without it by ctest (replay.c feeds the committed corpus and
 * crash inputs through the same function). See LICENSE for copyright. */
#ifndef MPL_FUZZ_H
#define MPL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
