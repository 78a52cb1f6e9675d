/* metaplast tests: the meta-optimiser. Adam against a hand computation of PyTorch's update,
 * the L1 penalty mode (lambda sign(theta), sign(0) = 0), the proximal mode (exact zeros),
 * configuration checks and mpl_l1. See LICENSE for copyright. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "metaplast/optim.h"

/* PyTorch's Adam (torch.optim.Adam, single-tensor path, no weight decay, amsgrad off):
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   step_size = lr / (1 - beta1^t);  denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   theta -= step_size * m / denom */
typedef struct ref_adam {
  double lr, b1, b2, eps;
  double m[8], v[8];
  int t;
} ref_adam;

static double ref_denom(const ref_adam *r, int j) {
  return sqrt(r->v[j]) / sqrt(1 - pow(r->b2, r->t)) + r->eps;
}

static void ref_step(ref_adam *r, double *theta, const double *g, int n) {
  r->t++;
  for (int j = 0; j < n; j++) {
    r->m[j] = r->b1 * r->m[j] + (1 - r->b1) * g[j];
    r->v[j] = r->b2 * r->v[j] + (1 - r->b2) * g[j] * g[j];
    double step_size = r->lr / (1 - pow(r->b1, r->t));
    theta[j] -= step_size * r->m[j] / ref_denom(r, j);
  }
}

static double sgn(double x) { return (x > 0) - (x < 0); }

static void init_ok(mpl_adam *opt, int n, const mpl_adam_cfg *cfg) {
  mpl_err err = {0};
  int rc = mpl_adam_init(opt, n, cfg, &err);
  if (rc != MPL_OK) fail_msg("mpl_adam_init: %s", err.msg);
}

static void test_defaults(void **state) {
  (void)state;
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  assert_true(c.lr == 1e-3);
  assert_true(c.beta1 == 0.9);
  assert_true(c.beta2 == 0.999);
  assert_true(c.eps == 1e-8);
  assert_true(c.lambda == 0);
  assert_int_equal(c.l1, MPL_L1_PROX);
  assert_true(c.clip_rms == 5);
}

/* Several steps with varying gradients, default and non-default hyperparameters. */
static void check_against_pytorch(double lr, double b1, double b2, double eps) {
  enum { N = 5, STEPS = 12 };
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  c.lr = lr, c.beta1 = b1, c.beta2 = b2, c.eps = eps;
  c.clip_rms = 0; /* PyTorch's Adam has no clipping (test_clip_rms checks it) */
  mpl_adam opt;
  init_ok(&opt, N, &c);
  ref_adam r = {.lr = lr, .b1 = b1, .b2 = b2, .eps = eps};
  double theta[N] = {0.001, -0.5, 0, 2.0, 1e-6}, ref[N];
  memcpy(ref, theta, sizeof ref);
  for (int s = 0; s < STEPS; s++) {
    /* gradients of different scales and signs, changing every step; one exactly zero at times */
    double g[N] = {-56.7 + 10 * s, 0.3 * cos(s), s % 3 ? 1e-4 * (s - 5) : 0.0, 3.0, -1e-9 * (s + 1)};
    mpl_adam_step(&opt, theta, g);
    ref_step(&r, ref, g, N);
    assert_int_equal(opt.t, s + 1);
    /* The two forms round differently (lr (m / bc1) / den vs (lr / bc1) m / den): allow a few
     * ulps of each step's size, which is at most about lr. */
    for (int j = 0; j < N; j++) {
      mpl_assert_close(theta[j], ref[j], 1e-13, 1e-14 * lr);
      mpl_assert_close(opt.m[j], r.m[j], 1e-15, 0);
      mpl_assert_close(opt.v[j], r.v[j], 1e-15, 0);
    }
  }
  mpl_adam_free(&opt);
}

static void test_adam_matches_pytorch(void **state) {
  (void)state;
  check_against_pytorch(1e-3, 0.9, 0.999, 1e-8);
  check_against_pytorch(0.05, 0.8, 0.95, 1e-4);
  check_against_pytorch(1.0, 0.0, 0.5, 1e-8);
}

/* The first step moves every coefficient with a nonzero gradient by lr (sign opposite to g),
 * up to eps: bias correction makes mhat / sqrt(vhat) = g / |g|. */
static void test_first_step_is_lr(void **state) {
  (void)state;
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  c.eps = 1e-300; /* eps must be > 0; this small it leaves |g| / (|g| + eps) = 1 */
  c.lr = 0.01;
  mpl_adam opt;
  init_ok(&opt, 3, &c);
  double theta[3] = {1, 1, 1}, g[3] = {123.0, -1e-7, 0.5};
  mpl_adam_step(&opt, theta, g);
  mpl_assert_close(theta[0], 0.99, 1e-14, 0);
  mpl_assert_close(theta[1], 1.01, 1e-14, 0);
  mpl_assert_close(theta[2], 0.99, 1e-14, 0);
  mpl_adam_free(&opt);
}

/* Penalty mode: the step is the plain Adam step on grad + lambda sign(theta), sign(0) = 0,
 * bit for bit. */
static void test_penalty_mode(void **state) {
  (void)state;
  enum { N = 4, STEPS = 30 };
  mpl_adam_cfg pen, plain;
  mpl_adam_defaults(&pen);
  pen.l1 = MPL_L1_PENALTY;
  pen.lambda = 0.7;
  pen.lr = 0.01;
  plain = pen;
  plain.lambda = 0;
  mpl_adam a, b;
  init_ok(&a, N, &pen);
  init_ok(&b, N, &plain);
  double ta[N] = {0.05, -0.02, 0.0, 0.0}, tb[N];
  memcpy(tb, ta, sizeof tb);
  for (int s = 0; s < STEPS; s++) {
    double g[N] = {0.1 * sin(s), -0.3, 0.0, 0.2 * cos(s)}, gb[N];
    for (int j = 0; j < N; j++) gb[j] = g[j] + pen.lambda * sgn(tb[j]);
    mpl_adam_step(&a, ta, g);
    mpl_adam_step(&b, tb, gb);
    assert_memory_equal(ta, tb, sizeof ta);
  }
  /* theta[2] was 0 with zero gradient all along: sign(0) = 0 keeps it exactly 0 */
  assert_true(ta[2] == 0.0);
  mpl_adam_free(&a);
  mpl_adam_free(&b);

  /* One step by hand: theta = 0.5, g = 0, lambda = 2: the effective gradient is 2. */
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  c.l1 = MPL_L1_PENALTY, c.lambda = 2, c.lr = 0.1;
  c.clip_rms = 0; /* compared with PyTorch's unclipped Adam */
  mpl_adam o;
  init_ok(&o, 2, &c);
  double th[2] = {0.5, 0.0}, g0[2] = {0, 0};
  ref_adam r = {.lr = 0.1, .b1 = c.beta1, .b2 = c.beta2, .eps = c.eps};
  double ref[2] = {0.5, 0.0}, geff[2] = {2.0, 0.0};
  mpl_adam_step(&o, th, g0);
  ref_step(&r, ref, geff, 2);
  mpl_assert_close(th[0], ref[0], 1e-14, 0);
  assert_true(th[1] == 0.0);
  mpl_adam_free(&o);
}

/* Proximal mode, lambda = 0: identical to plain Adam bit for bit. */
static void test_prox_lambda0_is_plain(void **state) {
  (void)state;
  enum { N = 6, STEPS = 50 };
  mpl_adam_cfg px, pl;
  mpl_adam_defaults(&px);
  px.l1 = MPL_L1_PROX;
  px.lr = 0.02;
  pl = px;
  pl.l1 = MPL_L1_PENALTY;
  mpl_adam a, b;
  init_ok(&a, N, &px);
  init_ok(&b, N, &pl);
  double ta[N] = {0, 1e-3, -1e-3, 0.5, -2, 1e-300}, tb[N];
  memcpy(tb, ta, sizeof tb);
  for (int s = 0; s < STEPS; s++) {
    double g[N];
    for (int j = 0; j < N; j++) g[j] = sin(1.3 * s + j) * pow(10, -j);
    mpl_adam_step(&a, ta, g);
    mpl_adam_step(&b, tb, g);
    assert_memory_equal(ta, tb, sizeof ta);
  }
  mpl_adam_free(&a);
  mpl_adam_free(&b);
}

/* Proximal mode, one step by hand: soft-threshold of the Adam step by lr lambda / denom. */
static void test_prox_step_formula(void **state) {
  (void)state;
  enum { N = 4 };
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  c.lr = 0.01, c.lambda = 0.05;
  c.clip_rms = 0; /* compared with PyTorch's unclipped Adam */
  mpl_adam opt;
  init_ok(&opt, N, &c);
  ref_adam r = {.lr = c.lr, .b1 = c.beta1, .b2 = c.beta2, .eps = c.eps};
  double theta[N] = {0.3, -0.3, 0.001, -0.2}, ref[N];
  memcpy(ref, theta, sizeof ref);
  for (int s = 0; s < 5; s++) {
    double g[N] = {0.2, -0.1 * (s + 1), 0.01, 0.5 * cos(s)};
    mpl_adam_step(&opt, theta, g);
    ref_step(&r, ref, g, N);
    for (int j = 0; j < N; j++) {
      double thr = c.lr * c.lambda / ref_denom(&r, j), a = fabs(ref[j]) - thr;
      ref[j] = a > 0 ? sgn(ref[j]) * a : 0.0;
      mpl_assert_close(theta[j], ref[j], 1e-13, 1e-18);
    }
  }
  assert_true(theta[2] == 0.0); /* 0.001 shrinks by at least lr lambda / |g| = 0.05 at once */
  mpl_adam_free(&opt);
}

/* A coefficient whose constant gradient stays below lambda reaches exactly 0.0 and stays
 * there; one whose |gradient| exceeds lambda survives (and keeps moving against the gradient). */
static void test_prox_exact_zeros(void **state) {
  (void)state;
  enum { N = 4, STEPS = 200 };
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  c.lambda = 0.1; /* lr 1e-3 */
  mpl_adam opt;
  init_ok(&opt, N, &c);
  /* theta 0, 1: |g| = 0.05 < lambda (pushing towards zero and away from it);
   * theta 2, 3: |g| = 0.3 > lambda. */
  double theta[N] = {0.01, 0.01, 0.0, 0.0};
  const double g[N] = {0.05, -0.05, -0.3, 0.3};
  int zero_at[2] = {-1, -1};
  for (int s = 0; s < STEPS; s++) {
    mpl_adam_step(&opt, theta, g);
    for (int j = 0; j < 2; j++) {
      if (zero_at[j] < 0 && theta[j] == 0.0) zero_at[j] = s;
      if (zero_at[j] >= 0) {
        if (theta[j] != 0.0) fail_msg("theta[%d] left zero at step %d: %.17g", j, s + 1, theta[j]);
        assert_false(signbit(theta[j])); /* +0.0: prints as 0, not -0 */
      }
    }
    assert_true(theta[2] > 0 && theta[3] < 0);
  }
  if (zero_at[0] < 0 || zero_at[1] < 0) fail_msg("theta = %.17g, %.17g never reached 0", theta[0], theta[1]);
  assert_true(zero_at[0] < 20 && zero_at[1] < 20);
  /* the survivors move at about lr (1 - lambda/|g|) per step once Adam's estimates settle */
  mpl_assert_close(theta[2], STEPS * c.lr * (1 - 0.1 / 0.3), 0.05, 0);
  mpl_assert_close(theta[3], -STEPS * c.lr * (1 - 0.1 / 0.3), 0.05, 0);
  mpl_adam_free(&opt);
}

static void test_invalid_configs(void **state) {
  (void)state;
  struct { const char *what; mpl_adam_cfg c; } cases[12];
  int n = 0;
  mpl_adam_cfg d;
  mpl_adam_defaults(&d);
#define CASE(desc, field, val) do { cases[n].what = desc; cases[n].c = d; cases[n].c.field = val; n++; } while (0)
  CASE("lr = 0", lr, 0);
  CASE("lr < 0", lr, -1e-3);
  CASE("lr = NaN", lr, NAN);
  CASE("lr = inf", lr, INFINITY);
  CASE("beta1 = 1", beta1, 1.0);
  CASE("beta2 < 0", beta2, -0.1);
  CASE("eps < 0", eps, -1e-8);
  CASE("lambda < 0", lambda, -0.5);
  CASE("lambda = NaN", lambda, NAN);
  CASE("clip_rms < 0", clip_rms, -1.0);
  CASE("clip_rms = NaN", clip_rms, NAN);
  CASE("clip_rms = inf", clip_rms, INFINITY);
#undef CASE
  for (int i = 0; i < n; i++) {
    mpl_adam opt;
    mpl_err err = {0};
    int rc = mpl_adam_init(&opt, 3, &cases[i].c, &err);
    if (rc != MPL_EINVAL) fail_msg("%s: mpl_adam_init returned %d, expected MPL_EINVAL", cases[i].what, rc);
    assert_int_equal(err.code, MPL_EINVAL);
    mpl_assert_contains(err.msg, "Adam");
    assert_null(opt.m);
    mpl_adam_free(&opt); /* safe after a failed init */
  }
  /* an unknown L1 mode is a configuration error too */
  mpl_adam_cfg c = d;
  c.l1 = (mpl_l1_mode)7;
  c.lambda = 0.1;
  mpl_adam opt;
  mpl_err err = {0};
  int rc = mpl_adam_init(&opt, 3, &c, &err);
  if (rc == MPL_OK) mpl_adam_free(&opt);
  if (rc != MPL_EINVAL) fail_msg("l1 mode 7 with lambda 0.1: mpl_adam_init returned %d, expected MPL_EINVAL", rc);
  assert_true(strlen(err.msg) > 0);
}

/* eps = 0 (allowed by PyTorch, and by `--eps 0`): an exactly zero gradient on the first step
 * gives m = v = 0. Either eps = 0 is refused, or that step must leave theta finite (a network
 * whose units all die has an exactly zero meta-gradient, so this happens in searches). */
static void test_eps0_zero_gradient(void **state) {
  (void)state;
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  c.eps = 1e-300; /* eps must be > 0; this small it leaves |g| / (|g| + eps) = 1 */
  mpl_adam opt;
  mpl_err err = {0};
  if (mpl_adam_init(&opt, 2, &c, &err) < 0) {
    mpl_assert_contains(err.msg, "eps");
    return;
  }
  double theta[2] = {0.5, 0.0}, g[2] = {0.0, 0.0};
  mpl_adam_step(&opt, theta, g);
  mpl_adam_free(&opt);
  if (!isfinite(theta[0]) || !isfinite(theta[1]))
    fail_msg("eps = 0, zero gradient: theta became %g, %g (0/0 in m / (sqrt(v) + eps))", theta[0], theta[1]);
}

/* clip_rms = K: from the second step on, each coordinate of g is first clipped to
 * +-K sqrt(vhat) of the previous step (v / (1 - beta2^(t-1))); then the plain Adam step.
 * Checked against the PyTorch reference fed the clipped gradient by hand: gradients under the
 * cap pass unchanged, an outlier is cut to the cap, the first step is never clipped. */
static void test_clip_rms(void **state) {
  (void)state;
  enum { N = 3, STEPS = 8 };
  const double K = 5;
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  c.clip_rms = K;
  mpl_adam opt;
  init_ok(&opt, N, &c);
  ref_adam r = {.lr = c.lr, .b1 = c.beta1, .b2 = c.beta2, .eps = c.eps};
  double theta[N] = {0.001, 0, -0.02}, ref[N];
  memcpy(ref, theta, sizeof ref);
  int clipped = 0;
  for (int s = 0; s < STEPS; s++) {
    /* a first gradient far above the later ones (never clipped: no RMS yet); coordinate 0
     * has an outlier of 1e5 at steps 1 (the second step, the first that is clipped) and 4 and
     * -1e6 at step 6; coordinate 2 stays under its cap */
    double g[N] = {s == 1 || s == 4 ? 1e5 : s == 6 ? -1e6 : 10.0 + s, s == 0 ? 1e4 : -3.0, 0.5 * (s + 1)};
    double gc[N];
    for (int j = 0; j < N; j++) {
      gc[j] = g[j];
      if (s > 0) {
        double cap = K * sqrt(r.v[j] / (1 - pow(r.b2, r.t)));
        if (fabs(g[j]) > cap) gc[j] = g[j] > 0 ? cap : -cap, clipped++;
      }
    }
    if (s == 0) assert_true(gc[1] == 1e4);
    if (s == 1 || s == 4) assert_true(gc[0] < 1e5 && gc[0] > 0);
    if (s == 6) assert_true(gc[0] > -1e6 && gc[0] < 0);
    assert_true(gc[2] == g[2]);
    mpl_adam_step(&opt, theta, g);
    ref_step(&r, ref, gc, N);
    for (int j = 0; j < N; j++) {
      mpl_assert_close(theta[j], ref[j], 1e-13, 1e-14 * c.lr);
      mpl_assert_close(opt.v[j], r.v[j], 1e-15, 0);
    }
  }
  assert_int_equal(clipped, 3); /* the three outliers, nothing else */
  mpl_adam_free(&opt);
}

static void test_zero_terms(void **state) {
  (void)state;
  mpl_adam_cfg c;
  mpl_adam_defaults(&c);
  mpl_adam opt;
  init_ok(&opt, 0, &c);
  mpl_adam_step(&opt, NULL, NULL);
  assert_int_equal(opt.t, 1);
  mpl_adam_free(&opt);
  mpl_adam_free(&opt); /* idempotent */
}

static void test_l1(void **state) {
  (void)state;
  double th[5] = {0.5, -0.25, 0.0, -0.0, 2.0};
  assert_true(mpl_l1(th, 5, 0.0) == 0.0);
  assert_true(mpl_l1(th, 5, 1.0) == 2.75);
  mpl_assert_close(mpl_l1(th, 5, 1.5), 4.125, 1e-15, 0);
  assert_true(mpl_l1(th, 0, 3.0) == 0.0);
  assert_true(mpl_l1(th + 1, 1, 2.0) == 0.5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_adam_matches_pytorch),
    cmocka_unit_test(test_first_step_is_lr),
    cmocka_unit_test(test_penalty_mode),
    cmocka_unit_test(test_prox_lambda0_is_plain),
    cmocka_unit_test(test_prox_step_formula),
    cmocka_unit_test(test_prox_exact_zeros),
    cmocka_unit_test(test_invalid_configs),
    cmocka_unit_test(test_eps0_zero_gradient),
    cmocka_unit_test(test_clip_rms),
    cmocka_unit_test(test_zero_terms),
    cmocka_unit_test(test_l1),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
