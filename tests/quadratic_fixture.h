/* metaplast tests: a cmocka fixture holding the paper's ten terms, then rules/quadratic.lua's 44,
 * in one term set (shared by test_group and test_lazy; include after testutil.h and rule.h, with
 * MPL_SOURCE_DIR defined by the target). See LICENSE for copyright. */
#ifndef METAPLAST_TEST_QUADRATIC_FIXTURE_H
#define METAPLAST_TEST_QUADRATIC_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "metaplast/terms.h"

#define QUADRATIC MPL_SOURCE_DIR "/rules/quadratic.lua"

typedef struct fixture {
  mpl_termset *ts; /* the paper's ten terms, then quadratic.lua's 44 */
  int nq0;         /* index of quadratic.lua's first term */
} fixture;

static int teardown(void **state) {
  fixture *f = *state;
  if (f) mpl_termset_free(f->ts);
  free(f);
  *state = NULL;
  return 0;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  mpl_err err = {0};
  *state = f;
  if (!f || !(f->ts = mpl_termset_new())) return -1;
  if (mpl_test_paper_pool(f->ts, &err) < 0 ||
      (f->nq0 = mpl_termset_count(f->ts), mpl__rules_load_file(QUADRATIC, "quadratic", f->ts, &err) < 0)) {
    fprintf(stderr, "%s setup: %s\n", __FILE__, err.msg);
    teardown(state);
    return -1;
  }
  return 0;
}

#endif
