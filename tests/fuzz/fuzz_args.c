/* Fuzz the command line's value parsers (core/cli/args.c): integers, doubles, seeds, hidden
 * sizes, feedback modes; the first byte picks the parser, the rest is the argument. What they
 * accept must be in range. The refusals go to stderr (run.sh closes it: -close_fd_mask=2).
 * See LICENSE for copyright. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  char s[4097];
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  int v;
  double x;
  unsigned long u;
  mpl_search_cfg c;
  mpl_feedback fb;
  switch (data[0] % 5) {
  case 0: if (cli_parse_int("--n", s, -5, 100, &v) == 0 && (v < -5 || v > 100)) abort(); break;
  case 1: if (cli_parse_double("--x", s, 1e-300, 1e6, &x) == 0 && !(x >= 1e-300 && x <= 1e6)) abort(); break;
  case 2: cli_parse_ulong("--seed", s, &u); break;
  case 3:
    mpl_search_defaults(&c);
    if (cli_parse_hidden(s, &c) == 0) {
      if (c.n_hidden < 0 || c.n_hidden > MPL_MAX_LAYERS - 1) abort();
      for (int i = 0; i < c.n_hidden; i++)
        if (c.hidden[i] < 1) abort();
    }
    break;
  case 4: cli_parse_feedback(s, &fb); break;
  }
  return 0;
}
