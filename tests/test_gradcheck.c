/* metaplast tests: the exact meta-gradient against finite differences (mpl_gradcheck), for
 * fixed, symmetric and direct (DFA) feedback, term subsets, other network shapes and seeds; the gradient of
 * the full meta-loss CE + lambda ||theta||_1; and the bp_detach approximation.
 * See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/check.h"
#include "metaplast/net.h"
#include "metaplast/optim.h"
#include "metaplast/terms.h"

#define TOL 1e-6

/* The finite-difference step (relative to max(|theta_r|, 1e-3)) used to verify the gradient.
 * 1e-2 puts the Richardson-extrapolated central difference near its accuracy optimum for most
 * terms (h of 1e-5 .. 1e-4 absolute for theta ~ 1e-3 .. 1e-2); check_case also tries a few
 * steps around it. test_default_step judges the library's default step alone. */
#define H_VERIFY 1e-2

typedef struct gc_case {
  const char *terms;
  mpl_feedback fb;
  int bp_detach;
  unsigned long seed;
  int steps;          /* 0: the default */
  const int *sizes;   /* NULL: the default 12-9-8-7-6 */
  int n_layers;
  double h;           /* 0: the default */
} gc_case;

/* Run mpl_gradcheck on c; fill res (caller frees). */
static void run_case(const gc_case *c, mpl_termset **ts_out, mpl_selection *sel, mpl_gradcheck_result *res) {
  mpl_err err = {0};
  mpl_termset *ts = mpl_termset_new();
  assert_non_null(ts);
  if (mpl_terms_parse(c->terms, ts, sel, &err) < 0) fail_msg("mpl_terms_parse(%s): %s", c->terms, err.msg);
  mpl_gradcheck_cfg cfg;
  mpl_gradcheck_defaults(&cfg);
  cfg.net.feedback = c->fb;
  cfg.net.bp_detach = c->bp_detach;
  cfg.seed = c->seed;
  if (c->steps) cfg.n_train = c->steps;
  if (c->h > 0) cfg.h = c->h;
  if (c->sizes) {
    cfg.net.n_layers = c->n_layers;
    memcpy(cfg.net.sizes, c->sizes, (size_t)(c->n_layers + 1) * sizeof *c->sizes);
  }
  int rc = mpl_gradcheck(&cfg, ts, sel->which, sel->n, res, &err);
  if (rc < 0) fail_msg("mpl_gradcheck(%s, feedback %d, seed %lu): %s", c->terms, (int)c->fb, c->seed, err.msg);
  assert_int_equal(res->n, sel->n);
  *ts_out = ts;
}

static void describe(const gc_case *c, const mpl_termset *ts, const mpl_selection *sel, const mpl_gradcheck_result *r) {
  char shape[128] = "default";
  for (int l = 0, k = 0; c->sizes && l <= c->n_layers; l++)
    k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%d", l ? "-" : "", c->sizes[l]);
  fprintf(stderr, "terms %s, network %s, %s feedback%s, seed %lu, steps %d, h %g: loss %.10f, worst %.3e (%s)\n",
          c->terms, shape, mpl_feedback_name(c->fb), c->bp_detach ? " (detached)" : "",
          c->seed, c->steps, c->h, r->loss, r->worst, mpl_termset_name(ts, sel->which[r->worst_term]));
  for (int i = 0; i < r->n; i++)
    fprintf(stderr, "  %-4s %+.15e %+.15e %.2e\n", mpl_termset_name(ts, sel->which[i]), r->grad[i], r->fd[i], r->rel[i]);
}

/* Check c: worst relative error < TOL, every entry finite, and the loss sensible.
 *
 * No single finite-difference step suits every term: a term whose gradient is 1e-4 of the
 * largest needs a larger step than roundoff allows the others. With c->h == 0 the library's
 * default step alone is judged; otherwise a term passes if the Richardson estimate at one of a
 * few steps around c->h agrees with reverse mode to TOL (a wrong gradient would have to agree
 * with one of them to 6 digits by accident). */
static double check_case(const gc_case *c) {
  static const double factors[] = {1, 0.3, 3, 10};
  int nh = c->h > 0 ? (int)(sizeof factors / sizeof *factors) : 1;
  mpl_termset *ts;
  mpl_selection sel;
  mpl_gradcheck_result r;
  double best[64];
  int ok = 1;
  for (int k = 0; k < nh; k++) {
    gc_case ck = *c;
    if (c->h > 0) ck.h = c->h * factors[k];
    run_case(&ck, &ts, &sel, &r);
    assert_true(r.n <= 64);
    int all = isfinite(r.loss) && r.loss > 0;
    for (int i = 0; i < r.n; i++) {
      all = all && isfinite(r.grad[i]) && isfinite(r.fd[i]) && r.rel[i] <= r.worst;
      best[i] = k == 0 ? r.rel[i] : fmin(best[i], r.rel[i]);
    }
    ok = all;
    for (int i = 0; i < r.n; i++) ok = ok && best[i] < TOL;
    if (!ok && (!all || k == nh - 1)) describe(&ck, ts, &sel, &r);
    if (!all || ok || k == nh - 1) break;
    mpl_gradcheck_result_free(&r);
    mpl_selection_free(&sel);
    mpl_termset_free(ts);
  }
  double worst = 0;
  int wi = 0;
  for (int i = 0; i < r.n; i++)
    if (best[i] >= worst) worst = best[i], wi = i;
  char name[64];
  snprintf(name, sizeof name, "%s", mpl_termset_name(ts, sel.which[wi]));
  mpl_gradcheck_result_free(&r);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  if (!ok) fail_msg("%s, feedback %d, seed %lu: worst relative error %.3e at %s (tolerance %g)", c->terms, (int)c->fb,
                    c->seed, worst, name, TOL);
  return worst;
}

static void test_fixed_all_terms(void **state) {
  (void)state;
  for (unsigned long seed = 1; seed <= 3; seed++)
    check_case(&(gc_case){.terms = "paper", .fb = MPL_FB_FIXED, .seed = seed, .h = H_VERIFY});
  check_case(&(gc_case){.terms = "paper", .fb = MPL_FB_FIXED, .seed = 11, .steps = 40, .h = H_VERIFY});
}

static void test_symmetric_all_terms(void **state) {
  (void)state;
  for (unsigned long seed = 1; seed <= 3; seed++)
    check_case(&(gc_case){.terms = "paper", .fb = MPL_FB_SYMMETRIC, .seed = seed, .h = H_VERIFY});
  check_case(&(gc_case){.terms = "paper", .fb = MPL_FB_SYMMETRIC, .seed = 11, .steps = 40, .h = H_VERIFY});
}

/* Direct feedback (DFA): F0 alone, the paper's F^bio and the whole pool, three seeds each, and a
 * longer episode; the worst relative error per term set is printed. */
static void test_direct_terms(void **state) {
  (void)state;
  static const char *const specs[] = {"paper:F0", "paper:F0,F2,F9", "paper"};
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
    double worst = 0;
    for (unsigned long seed = 1; seed <= 3; seed++)
      worst = fmax(worst, check_case(&(gc_case){.terms = specs[i], .fb = MPL_FB_DIRECT, .seed = seed, .h = H_VERIFY}));
    worst = fmax(worst, check_case(&(gc_case){.terms = specs[i], .fb = MPL_FB_DIRECT, .seed = 11, .steps = 40,
                                              .h = H_VERIFY}));
    fprintf(stderr, "direct feedback, %s: worst relative error %.2e (seeds 1-3, 11)\n", specs[i], worst);
  }
}

static void test_subsets(void **state) {
  (void)state;
  static const char *const specs[] = {"paper:F0", "paper:F0,F2,F9", "paper:F0,F9", "paper:F9,F0", "paper:F0,F5,F6,F7,F8"};
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
    for (int fb = 0; fb < 3; fb++)
      for (unsigned long seed = 1; seed <= 2; seed++)
        check_case(&(gc_case){.terms = specs[i], .fb = (mpl_feedback)fb, .seed = seed, .h = H_VERIFY});
}

static void test_other_shapes(void **state) {
  (void)state;
  static const int three_hidden[] = {10, 7, 11, 5, 4};  /* 3 hidden layers, uneven widths */
  static const int five_hidden[] = {6, 9, 4, 8, 5, 7, 3};
  static const int one_hidden[] = {9, 14, 5};
  static const int no_hidden[] = {8, 4};              /* L = 1: layer 1 reads e_0 */
  struct { const int *s; int L; } shapes[] = {{three_hidden, 4}, {five_hidden, 6}, {one_hidden, 2}, {no_hidden, 1}};
  for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
    for (int fb = 0; fb < 3; fb++)
      for (unsigned long seed = 2; seed <= 5; seed += 3)
        check_case(&(gc_case){.terms = "paper", .fb = (mpl_feedback)fb, .seed = seed, .steps = 15,
                              .sizes = shapes[k].s, .n_layers = shapes[k].L, .h = H_VERIFY});
}

/* The library's defaults, as `metaplast gradcheck` uses them (default and short episodes). */
static void test_default_step(void **state) {
  (void)state;
  for (int fb = 0; fb < 3; fb++) {
    check_case(&(gc_case){.terms = "paper", .fb = (mpl_feedback)fb, .seed = 1});
    check_case(&(gc_case){.terms = "paper", .fb = (mpl_feedback)fb, .seed = 1, .steps = 8});
  }
}

/* {====== lambda > 0: the full meta-loss ====== */

typedef struct episode_fixture {
  mpl_termset *ts;
  mpl_selection sel;
  mpl_episode *ep;
  double *tx, *qx;
  int *ty, *qy, nt, nq;
} episode_fixture;

static void fixture_new(episode_fixture *F, const char *terms, mpl_feedback fb, int detach, unsigned long seed) {
  static const int sizes[] = {11, 8, 7, 5};
  mpl_err err = {0};
  memset(F, 0, sizeof *F);
  F->ts = mpl_termset_new();
  if (mpl_terms_parse(terms, F->ts, &F->sel, &err) < 0) fail_msg("%s", err.msg);
  mpl_net_cfg net = {.n_layers = 3, .beta = 10, .feedback = fb, .bp_detach = detach};
  memcpy(net.sizes, sizes, sizeof sizes);
  if (mpl_episode_new(&net, F->ts, F->sel.which, F->sel.n, &F->ep, &err) < 0) fail_msg("%s", err.msg);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, seed);
  mpl_episode_init_weights(F->ep, rng);
  F->nt = 16, F->nq = 7;
  F->tx = malloc((size_t)F->nt * 11 * sizeof *F->tx);
  F->qx = malloc((size_t)F->nq * 11 * sizeof *F->qx);
  F->ty = malloc((size_t)F->nt * sizeof *F->ty);
  F->qy = malloc((size_t)F->nq * sizeof *F->qy);
  for (int i = 0; i < F->nt * 11; i++) F->tx[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < F->nq * 11; i++) F->qx[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < F->nt; i++) F->ty[i] = (int)gsl_rng_uniform_int(rng, 5);
  for (int i = 0; i < F->nq; i++) F->qy[i] = (int)gsl_rng_uniform_int(rng, 5);
  gsl_rng_free(rng);
}

static void fixture_free(episode_fixture *F) {
  mpl_episode_free(F->ep);
  mpl_selection_free(&F->sel);
  mpl_termset_free(F->ts);
  free(F->tx); free(F->qx); free(F->ty); free(F->qy);
}

/* CE at theta (grad != NULL: also dCE/dtheta). */
static double ce(episode_fixture *F, const double *theta, double *grad) {
  mpl_episode_stats st;
  mpl_err err = {0};
  int rc = mpl_episode_run(F->ep, theta, F->tx, F->ty, F->nt, F->qx, F->qy, F->nq, &st, grad, &err);
  if (rc < 0) fail_msg("mpl_episode_run: %s", err.msg);
  assert_true(st.finite);
  return st.loss;
}

static double meta_loss(episode_fixture *F, const double *theta, int n, double lambda) {
  return ce(F, theta, NULL) + mpl_l1(theta, n, lambda);
}

static double sgn(double x) { return (x > 0) - (x < 0); }

static void test_l1_meta_gradient(void **state) {
  (void)state;
  enum { R = 10 };
  static const double lambdas[] = {0.05, 1.5};
  for (int fb = 0; fb < 2; fb++) {
    episode_fixture F;
    fixture_new(&F, "paper", (mpl_feedback)fb, 0, 3);
    assert_int_equal(F.sel.n, R);
    /* every |theta_r| in [0.004, 0.012], signs mixed; F0 positive (a learning rate) */
    double theta[R], grad[R];
    for (int r = 0; r < R; r++) theta[r] = (0.004 + 0.008 * ((r * 7) % 10) / 9.0) * (r % 3 == 1 ? -1 : 1);
    theta[0] = 0.03;
    ce(&F, theta, grad);
    for (size_t k = 0; k < sizeof lambdas / sizeof *lambdas; k++) {
      double lambda = lambdas[k], h = 1e-4; /* < min |theta_r| / 2: the |.| kink is never crossed */
      for (int r = 0; r < R; r++) {
        double g = grad[r] + lambda * sgn(theta[r]), t = theta[r], d[2];
        for (int i = 0; i < 2; i++) {
          double hi = h / (1 << i);
          theta[r] = t + hi;
          double lp = meta_loss(&F, theta, R, lambda);
          theta[r] = t - hi;
          double lm = meta_loss(&F, theta, R, lambda);
          theta[r] = t;
          d[i] = (lp - lm) / (2 * hi);
        }
        double fd = (4 * d[1] - d[0]) / 3;
        double rel = fabs(g - fd) / fmax(fabs(g), fabs(fd));
        if (!(rel < TOL))
          fail_msg("feedback %d, lambda %g, %s: gradient + lambda sign(theta) = %.15e, central differences %.15e "
                   "(rel %.2e)", fb, lambda, mpl_termset_name(F.ts, F.sel.which[r]), g, fd, rel);
      }
    }
    fixture_free(&F);
  }
}

/* }====== */

/* {====== bp_detach ====== */

static void test_bp_detach(void **state) {
  (void)state;
  enum { R = 10 };
  double theta[R];
  for (int r = 0; r < R; r++) theta[r] = 0.01 * sin(1.7 * r + 0.3);
  theta[0] = 0.04;
  /* Symmetric feedback: the detached gradient is an approximation, different from the exact one. */
  double exact[R], detached[R], diff = 0, norm = 0;
  episode_fixture A, B;
  fixture_new(&A, "paper", MPL_FB_SYMMETRIC, 0, 5);
  fixture_new(&B, "paper", MPL_FB_SYMMETRIC, 1, 5);
  double la = ce(&A, theta, exact), lb = ce(&B, theta, detached);
  assert_true(la == lb); /* the forward pass is the same */
  for (int r = 0; r < R; r++) diff = fmax(diff, fabs(exact[r] - detached[r])), norm = fmax(norm, fabs(exact[r]));
  if (!(diff > 1e-4 * norm))
    fail_msg("bp_detach = 1 gives the exact gradient (max difference %.3e, max |g| %.3e)", diff, norm);
  fixture_free(&A);
  fixture_free(&B);

  /* ... and mpl_gradcheck sees the difference, while the exact gradient passes. */
  gc_case c = {.terms = "paper:F0,F2,F9", .fb = MPL_FB_SYMMETRIC, .bp_detach = 1, .seed = 1, .h = H_VERIFY};
  mpl_termset *ts;
  mpl_selection sel;
  mpl_gradcheck_result r;
  run_case(&c, &ts, &sel, &r);
  if (!(r.worst > 1e-3)) {
    describe(&c, ts, &sel, &r);
    fail_msg("the detached gradient agrees with finite differences (worst %.3e)", r.worst);
  }
  mpl_gradcheck_result_free(&r);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  c.bp_detach = 0;
  check_case(&c);

  /* Fixed feedback: bp_detach has no effect, bit for bit. */
  fixture_new(&A, "paper", MPL_FB_FIXED, 0, 5);
  fixture_new(&B, "paper", MPL_FB_FIXED, 1, 5);
  la = ce(&A, theta, exact);
  lb = ce(&B, theta, detached);
  assert_true(la == lb);
  assert_memory_equal(exact, detached, sizeof exact);
  fixture_free(&A);
  fixture_free(&B);
  check_case(&(gc_case){.terms = "paper", .fb = MPL_FB_FIXED, .bp_detach = 1, .seed = 2, .h = H_VERIFY});
}

/* }====== */

/* An episode that diverges is an error (MPL_ENUMERIC), not a bogus pass. */
static void test_diverging_check(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_int_equal(mpl_terms_parse("paper:F3", ts, &sel, &err), MPL_OK);
  mpl_gradcheck_cfg cfg;
  mpl_gradcheck_defaults(&cfg);
  cfg.theta_scale = 1e30; /* W <- (1 - 1e30) W at every step */
  mpl_gradcheck_result r;
  int rc = mpl_gradcheck(&cfg, ts, sel.which, sel.n, &r, &err);
  if (rc == MPL_OK) {
    describe(&(gc_case){.terms = "paper:F3", .seed = 1}, ts, &sel, &r);
    mpl_gradcheck_result_free(&r);
    fail_msg("theta_scale 1e30 did not diverge");
  }
  assert_int_equal(rc, MPL_ENUMERIC);
  mpl_assert_contains(err.msg, "diverged");
  assert_null(r.grad);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fixed_all_terms),
    cmocka_unit_test(test_symmetric_all_terms),
    cmocka_unit_test(test_direct_terms),
    cmocka_unit_test(test_subsets),
    cmocka_unit_test(test_other_shapes),
    cmocka_unit_test(test_l1_meta_gradient),
    cmocka_unit_test(test_bp_detach),
    cmocka_unit_test(test_diverging_check),
    cmocka_unit_test(test_default_step),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
