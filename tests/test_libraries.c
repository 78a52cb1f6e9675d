/* metaplast tests: every shipped term library, end to end. For the plugins `paper` and `extra`
 * (native terms included) and every rule file in rules/ (quadratic.lua's 44 terms too), with
 * fixed and with symmetric feedback: the exact meta-gradient of an episode using ALL the
 * library's terms (beside an F0 learning term) against Richardson-extrapolated central
 * differences (mpl_gradcheck), and each term's reverse mode on random layers (mpl_check_terms,
 * what `metaplast check` runs). test_gradcheck covers the paper pool in depth; this covers
 * breadth: a wrong derivative of an operation that only some library uses (vector subtraction,
 * log, sqrt, recip, sums, row normalisation, ...) fails here. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/check.h"
#include "metaplast/net.h"
#include "metaplast/terms.h"

#define RULES MPL_SOURCE_DIR "/rules/"
#define TOL 1e-6

static const char *const libraries[] = {
    "paper", "extra", RULES "paper_pool.lua", RULES "bio.lua", RULES "ehebb.lua", RULES "oja.lua", RULES "quadratic.lua",
    RULES "rectified.lua", RULES "local.lua",
};
#define N_LIBRARIES ((int)(sizeof libraries / sizeof *libraries))

/* The relative errors mpl_gradcheck reports are the ones check.h defines:
 * |g - fd| / max(|g|, |fd|, 1e-4 max_r |g_r|), and worst is their maximum. */
static void check_rel(const mpl_gradcheck_result *r) {
  double gmax = 0, worst = 0;
  for (int i = 0; i < r->n; i++) gmax = fmax(gmax, fabs(r->grad[i]));
  for (int i = 0; i < r->n; i++) {
    double den = fmax(fmax(fabs(r->grad[i]), fabs(r->fd[i])), 1e-4 * gmax);
    double rel = den > 0 ? fabs(r->grad[i] - r->fd[i]) / den : 0;
    mpl_assert_close(r->rel[i], rel, 1e-12, 1e-300);
    worst = fmax(worst, rel);
  }
  mpl_assert_close(r->worst, worst, 1e-12, 1e-300);
}

/* mpl_gradcheck on F0 + every term of lib; a term passes at one of a few steps (relative error
 * below TOL, or an absolute one below 1e-9, the rounding floor of the finite differences). A
 * draw (weights, data, theta) whose inner loop diverges, or nearly (a gradient above 1e3), checks
 * nothing: the next seed is used. */
static void gradcheck_library(const char *lib, mpl_feedback fb, unsigned long seed0) {
  unsigned long seed = seed0;
  static const double hs[] = {1e-2, 3e-3, 3e-2};
  char spec[1024];
  /* F0 first (mpl_gradcheck's learning-rate-like term): the library's own F0 if it has one,
   * moved to the front, or the paper's in front of it */
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  snprintf(spec, sizeof spec, "%s", lib);
  if (mpl_terms_parse(spec, ts, &sel, &err) < 0) fail_msg("%s: %s", spec, err.msg);
  int f0 = -1;
  for (int i = 0; i < sel.n; i++)
    if (!strcmp(mpl_termset_name(ts, sel.which[i]), "F0")) f0 = i;
  if (f0 >= 0) {
    int t = sel.which[0];
    sel.which[0] = sel.which[f0], sel.which[f0] = t;
  } else {
    mpl_selection_free(&sel);
    mpl_termset_free(ts);
    ts = mpl_termset_new();
    snprintf(spec, sizeof spec, "paper:F0;%s", lib);
    if (mpl_terms_parse(spec, ts, &sel, &err) < 0) fail_msg("%s: %s", spec, err.msg);
  }
  int n = sel.n, *pass = calloc((size_t)n, sizeof *pass);
  double *best = malloc((size_t)n * sizeof *best);
  assert_true(n >= 2 && pass && best);
  for (int i = 0; i < n; i++) best[i] = INFINITY;
  int all = 0;
  for (int k = 0; k < 3 && !all; k++) {
    mpl_gradcheck_cfg cfg;
    mpl_gradcheck_defaults(&cfg);
    cfg.net.feedback = fb;
    cfg.seed = seed;
    cfg.h = hs[k];
    if (n > 10) cfg.theta_scale *= 10.0 / n; /* 44 terms at +-0.02 each make the inner loop diverge */
    mpl_gradcheck_result r;
    int rc = mpl_gradcheck(&cfg, ts, sel.which, n, &r, &err);
    double gmax = 0;
    for (int i = 0; rc == 0 && i < n; i++) gmax = fmax(gmax, fabs(r.grad[i]));
    if ((rc == MPL_ENUMERIC || (rc == 0 && !(gmax < 1e3))) && k == 0 && seed < seed0 + 20) {
      if (rc == 0) mpl_gradcheck_result_free(&r); /* this draw diverges (or nearly): the next one */
      seed++, k--;
      continue;
    }
    if (rc < 0) fail_msg("gradcheck %s, seed %lu: %s", spec, seed, err.msg);
    if (!(isfinite(r.loss) && r.loss > 0)) fail_msg("gradcheck %s: loss %g", spec, r.loss);
    all = 1;
    check_rel(&r);
    for (int i = 0; i < n; i++) {
      if (!isfinite(r.grad[i])) fail_msg("%s: gradient of %s is %g", spec, mpl_termset_name(ts, sel.which[i]), r.grad[i]);
      best[i] = fmin(best[i], r.rel[i]);
      pass[i] |= best[i] < TOL || fabs(r.grad[i] - r.fd[i]) < 1e-9;
      all &= pass[i];
    }
    if (!all && k == 2)
      for (int i = 0; i < n; i++)
        if (!pass[i])
          fail_msg("%s, %s feedback, seed %lu: term %s: reverse %.15g, finite differences %.15g, relative error %.2e",
                   lib, fb == MPL_FB_FIXED ? "fixed" : "symmetric", seed, mpl_termset_name(ts, sel.which[i]),
                   r.grad[i], r.fd[i], best[i]);
    mpl_gradcheck_result_free(&r);
  }
  double worst = 0;
  for (int i = 0; i < n; i++) worst = fmax(worst, best[i]);
  fprintf(stderr, "%s, %s feedback: %d terms, seed %lu, worst relative error %.1e\n", lib,
          fb == MPL_FB_FIXED ? "fixed" : "symmetric", n, seed, worst);
  free(pass), free(best);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

static void test_gradcheck_fixed(void **state) {
  (void)state;
  for (int i = 0; i < N_LIBRARIES; i++) gradcheck_library(libraries[i], MPL_FB_FIXED, 3);
}

static void test_gradcheck_symmetric(void **state) {
  (void)state;
  for (int i = 0; i < N_LIBRARIES; i++) gradcheck_library(libraries[i], MPL_FB_SYMMETRIC, 4);
}

/* Each term's derivative on random layers, as `metaplast check` does. */
static void test_check_each_term(void **state) {
  (void)state;
  int total = 0;
  for (int l = 0; l < N_LIBRARIES; l++) {
    mpl_termset *ts = mpl_termset_new();
    mpl_selection sel;
    mpl_err err = {0};
    if (mpl_terms_parse(libraries[l], ts, &sel, &err) < 0) fail_msg("%s: %s", libraries[l], err.msg);
    double *rel = malloc((size_t)sel.n * sizeof *rel);
    assert_int_equal(mpl_check_terms(ts, sel.which, sel.n, 3, 11, rel, &err), MPL_OK);
    for (int i = 0; i < sel.n; i++)
      if (!(rel[i] < 1e-6))
        fail_msg("%s: term %s: relative error %.2e", libraries[l], mpl_termset_name(ts, sel.which[i]), rel[i]);
    total += sel.n;
    free(rel);
    mpl_selection_free(&sel);
    mpl_termset_free(ts);
  }
  assert_true(total >= 10 + 44); /* the paper pool and quadratic.lua at least */
}

/* The checks see a wrong derivative: broken_native's vjp forgets the adjoint of pre (the test
 * plugin's deliberate bug), which both the meta-gradient check and the per-term check report. */
static void test_wrong_vjp_caught(void **state) {
  (void)state;
  char spec[4096];
  snprintf(spec, sizeof spec, "paper:F0;%s/broken_native.so", MPL_TEST_PLUGIN_DIR);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  if (mpl_terms_parse(spec, ts, &sel, &err) < 0) fail_msg("%s: %s", spec, err.msg);
  assert_int_equal(sel.n, 2);
  mpl_gradcheck_cfg cfg;
  mpl_gradcheck_defaults(&cfg);
  cfg.theta_scale = 0.05; /* the wrong term must weigh on the trajectory */
  mpl_gradcheck_result r;
  if (mpl_gradcheck(&cfg, ts, sel.which, sel.n, &r, &err) < 0) fail_msg("%s", err.msg);
  check_rel(&r);
  if (!(r.worst > 1e-4)) fail_msg("mpl_gradcheck: worst relative error %.2e with a wrong vjp", r.worst);
  mpl_gradcheck_result_free(&r);
  double rel[2];
  assert_int_equal(mpl_check_terms(ts, sel.which, sel.n, 3, 5, rel, &err), MPL_OK);
  assert_true(rel[0] < 1e-6);
  if (!(rel[1] > 1e-2)) fail_msg("mpl_check_terms: relative error %.2e with a wrong vjp", rel[1]);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradcheck_fixed),
      cmocka_unit_test(test_gradcheck_symmetric),
      cmocka_unit_test(test_check_each_term),
      cmocka_unit_test(test_wrong_vjp_caught),
  };
  return cmocka_run_group_tests_name("libraries", tests, NULL, NULL);
}
