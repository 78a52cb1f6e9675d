/* Fuzz the config.txt reader of --resume (mpl__config_parse) and, on what it accepts, the
 * round trip through mpl_search_config_diff. See LICENSE for copyright. */
#include <stdlib.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mpl_search_cfg c;
  char *mem = NULL;
  mpl_err err = {0};
  if (mpl__config_parse((const char *)data, size, "fuzz/config.txt", &c, &mem, &err) == 0) {
    if (!mem || mpl_search_config_diff(&c, &c)) abort();
    free(mem);
  } else if (mem || !err.msg[0]) {
    abort();
  }
  return 0;
}
