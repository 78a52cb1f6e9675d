/* metaplast tests: the small search the white-box search tests share: the synthetic IDX pair
 * (mpl_test_write_synthetic), 3-way 5+3 clean tasks, a 12-10 hidden network, F0, F2 and F9,
 * written into out (force). Each test sets its own method, episodes and seed after it.
 * See LICENSE for copyright. */
#ifndef MPL_SEARCH_FIXTURE_H
#define MPL_SEARCH_FIXTURE_H

#include "metaplast/search.h"

static void mpl_test_small_search(mpl_search_cfg *c, const char *images, const char *labels, const char *out) {
  mpl_search_defaults(c);
  c->images = images;
  c->labels = labels;
  c->task = (mpl_task_cfg){.m = 3, .k = 5, .q = 3, .mode = MPL_SAMPLE_CLEAN};
  c->n_hidden = 2;
  c->hidden[0] = 12;
  c->hidden[1] = 10;
  c->terms = "paper:F0,F2,F9";
  c->out = out;
  c->force = 1;
}

#endif
