/* Fuzz the rule-file loader (mpl__rules_load_buffer): any text is loaded into a fresh term set
 * in the sandbox, or refused with a message. See LICENSE for copyright. */
#include <stdlib.h>

#include "metaplast/terms.h"

#include "front.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mpl_termset *ts = mpl_termset_new();
  if (!ts) return 0;
  mpl_err err = {0};
  if (mpl__rules_load_buffer("fuzz.lua", (const char *)data, size, ts, &err) < 0 && !err.msg[0]) abort();
  mpl_termset_free(ts);
  return 0;
}
