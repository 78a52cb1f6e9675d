/* metaplast tests: a cmocka fixture holding the paper's ten terms, then rules/quadratic.lua's 44,
 * in one term set, and an episode builder (shared by test_group and test_lazy; include after testutil.h and plan.h, with
 * MPL_SOURCE_DIR defined by the target). See LICENSE for copyright. */
#ifndef METAPLAST_TEST_QUADRATIC_FIXTURE_H
#define METAPLAST_TEST_QUADRATIC_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_rng.h>

#include "metaplast/net.h"
#include "metaplast/terms.h"

#include "front.h" /* mpl__rules_load_file */

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

/* An episode of the terms `which` on the network `sizes` (L layers), weights drawn from seed 7. */
static mpl_episode *episode(const mpl_termset *ts, const int *which, int n, const int *sizes, int L,
                            mpl_feedback fb, int segment, int dense) {
  mpl_net_cfg cfg = {.n_layers = L, .beta = 10, .feedback = fb, .segment = segment, .dense = dense};
  for (int l = 0; l <= L; l++) cfg.sizes[l] = sizes[l];
  mpl_episode *ep = NULL;
  mpl_err err = {0};
  if (mpl_episode_new(&cfg, ts, which, n, &ep, &err) < 0) fail_msg("mpl_episode_new: %s", err.msg);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 7);
  mpl_episode_init_weights(ep, rng);
  gsl_rng_free(rng);
  return ep;
}

static void run_ok(mpl_episode *ep, const double *theta, const double *x, const int *y, int T, const double *xq,
                   const int *yq, int nq, double *grad, mpl_episode_stats *st) {
  mpl_err err = {0};
  if (mpl_episode_run(ep, theta, x, y, T, xq, yq, nq, st, grad, &err) < 0)
    fail_msg("mpl_episode_run (%d terms): %s", mpl_episode_nterms(ep), err.msg);
}

#endif
