/* Fuzz the checkpoint reader (mpl__ckpt_parse); what it accepts must format back to a text that
 * parses to the same state. See LICENSE for copyright. */
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mpl__ckpt c, d;
  mpl_err err = {0};
  if (mpl__ckpt_parse((const char *)data, size, "fuzz/checkpoint", &c, &err) < 0) {
    if (!err.msg[0]) abort();
    return 0;
  }
  char *text = mpl__ckpt_format(&c);
  if (!text || mpl__ckpt_parse(text, strlen(text), "again", &d, &err) < 0) abort();
  size_t b = (size_t)c.n * sizeof(double);
  if (d.n != c.n || d.episode != c.episode || d.t != c.t || memcmp(d.theta, c.theta, b) || memcmp(d.v, c.v, b) ||
      memcmp(d.good_m, c.good_m, b))
    abort();
  free(text);
  mpl__ckpt_free(&c);
  mpl__ckpt_free(&d);
  return 0;
}
