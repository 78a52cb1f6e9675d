/* metaplast tests: the robust discovery method (docs/discovery.md): term magnitudes and the
 * pseudo-gradient's recognition, the train/validation split, Adam's first step on standardized
 * coefficients, the best validated rule reported with its verdict, lambda auto's stages, the
 * failure policy, the verdict's rules, and an exact resume. See LICENSE for copyright. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_rng.h>

#include "metaplast/data.h"
#include "metaplast/expr.h"
#include "metaplast/net.h"
#include "metaplast/search.h"

#include "discover.h"
#include "search_fixture.h"
#include "testutil.h"

static char images[4096], labels[4096];

static int setup(void **state) {
  (void)state;
  snprintf(images, sizeof images, "%s", mpl_test_path("robust-images.gz"));
  snprintf(labels, sizeof labels, "%s", mpl_test_path("robust-labels.gz"));
  mpl_test_write_synthetic(images, labels);
  return 0;
}

static void base_cfg(mpl_search_cfg *c, const char *out) {
  mpl_test_small_search(c, images, labels, out);   /* the defaults: the robust method, lambda auto */
  c->episodes = 20;
  c->seed = 4;
  c->val_tasks = 6;
  c->validate_every = 5;
}

/* A lambda auto run long enough for a path and a refit: 120 episodes, a validation every 10. */
static void path_cfg(mpl_search_cfg *c, const char *out, unsigned long seed) {
  base_cfg(c, out);
  c->episodes = 120;
  c->validate_every = 10;
  c->seed = seed;
}

static void run_ok(const mpl_search_cfg *c, mpl_search_result *r) {
  mpl_err err = {0};
  if (mpl_search_run(c, r, &err) < 0) fail_msg("search into %s: %s", c->out ? c->out : "-", err.msg);
}

/* Field `col` (by header name) of data row `row` (1-based) of a CSV text, as a number. */
static double csv(const char *text, int row, const char *col) {
  const char *p = text;
  int k = 0, want = -1;
  for (const char *f = text; *f && *f != '\n'; k++) {
    size_t n = strcspn(f, ",\n");
    if (n == strlen(col) && !strncmp(f, col, n)) want = k;
    f += n + (f[n] == ',');
  }
  if (want < 0) fail_msg("no column %s", col);
  for (int r = 0; r < row; r++) {
    p = strchr(p, '\n');
    if (!p || !p[1]) fail_msg("no row %d", row);
    p++;
  }
  for (int i = 0; i < want; i++) p = strchr(p, ',') + 1;
  return strtod(p, NULL);
}

static int csv_rows(const char *text) {
  int n = 0;
  for (const char *p = text; (p = strchr(p, '\n')); p++) n++;
  return n - 1;
}

/* {====== Term magnitudes and the pseudo-gradient ====== */

static mpl_expr *pg(mpl_termset *ts) {
  return mpl_neg(ts, mpl_outer(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_PRE)));
}
static mpl_expr *oja(mpl_termset *ts) {
  mpl_expr *y = mpl_sig(ts, MPL_SIG_POST);
  return mpl_sub(ts, mpl_outer(ts, y, mpl_sig(ts, MPL_SIG_PRE)),
                 mpl_matmul(ts, mpl_outer(ts, y, y), mpl_sig(ts, MPL_SIG_W)));
}

static void test_pseudo_gradient(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  assert_int_equal(mpl_termset_add(ts, "F0", "", pg(ts), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "minus_one", "", mpl_mul(ts, mpl_num(ts, -1),
                   mpl_outer(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_PRE))), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "twice", "", mpl_mul(ts, mpl_num(ts, 2), pg(ts)), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "ehebb", "", mpl_neg(ts, mpl_outer(ts, mpl_sig(ts, MPL_SIG_EPOST),
                   mpl_sig(ts, MPL_SIG_EPRE))), &err), MPL_OK);
  assert_true(mpl__is_pseudo_gradient(ts, 0));
  assert_true(mpl__is_pseudo_gradient(ts, 1));   /* however written */
  assert_false(mpl__is_pseudo_gradient(ts, 2));
  assert_false(mpl__is_pseudo_gradient(ts, 3));
  mpl_termset_free(ts);
}

/* Magnitudes on the start network: F0's is 1 (the unit), a multiple k F scales by |k|; a term
 * that is zero or not finite on the probe is an error naming it. */
static void test_magnitudes(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  assert_int_equal(mpl_termset_add(ts, "F0", "", pg(ts), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "F9", "", oja(ts), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "F9x3", "", mpl_mul(ts, mpl_num(ts, -3), oja(ts)), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "F0x2", "", mpl_mul(ts, mpl_num(ts, 2), pg(ts)), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "nan", "", mpl_outer(ts, mpl_fn(ts, MPL_FN_LOG, mpl_sig(ts, MPL_SIG_EPOST)),
                   mpl_sig(ts, MPL_SIG_PRE)), &err), MPL_OK);
  assert_int_equal(mpl_termset_add(ts, "zero", "", mpl_sub(ts, pg(ts), pg(ts)), &err), MPL_OK);
  mpl_net_cfg net = {.n_layers = 3, .sizes = {16, 9, 7, 5}, .beta = 10, .feedback = MPL_FB_FIXED};
  int which[6] = {0, 1, 2, 3, 4, 5};
  mpl_episode *ep;
  assert_int_equal(mpl_episode_new(&net, ts, which, 4, &ep, &err), MPL_OK);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937), *draw = gsl_rng_alloc(gsl_rng_mt19937);
  double x[6 * 16], rel[6];
  int y[6];
  for (int i = 0; i < 6 * 16; i++) x[i] = gsl_rng_uniform(draw);
  for (int i = 0; i < 6; i++) y[i] = i % 5;
  gsl_rng_set(rng, 9);
  assert_int_equal(mpl__term_magnitudes(&net, ep, ts, which, 4, x, y, 6, rng, rel, &err), MPL_OK);
  mpl_assert_close(rel[0], 1, 1e-14, 0);
  mpl_assert_close(rel[3], 2, 1e-14, 0);
  mpl_assert_close(rel[2], 3 * rel[1], 1e-13, 0);
  assert_true(rel[1] > 0 && isfinite(rel[1]));
  for (int bad = 4; bad <= 5; bad++) {   /* each alone after F0, so the error is its */
    int w[2] = {0, bad};
    mpl_episode *e2;
    if (mpl_episode_new(&net, ts, w, 2, &e2, &err) < 0) fail_msg("%s", err.msg);
    gsl_rng_set(rng, 9);
    int mrc = mpl__term_magnitudes(&net, e2, ts, w, 2, x, y, 6, rng, rel, &err); /* zero: a - a, ~1e-17 */
    if (mrc != MPL_EINVAL) fail_msg("term %d: rc %d, rel %g %g", bad, mrc, rel[0], rel[1]);
    mpl_assert_contains(err.msg, bad == 4 ? "term nan:" : "term zero:");
    mpl_assert_contains(err.msg, bad == 4 ? "not finite" : "zero");
    mpl_episode_free(e2);
  }
  gsl_rng_free(rng), gsl_rng_free(draw);
  mpl_episode_free(ep);
  mpl_termset_free(ts);
}

/* }====== */

/* The split: each class's last max(ceil(n/6), K+Q) images validate, the rest train, disjoint. */
static void test_split(void **state) {
  (void)state;
  mpl_dataset *ds, tr, va;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_load_idx(images, labels, 0, &ds, &err), MPL_OK);
  mpl_task_cfg task = {.m = 3, .k = 5, .q = 3};
  assert_int_equal(mpl__dataset_split(ds, &task, &tr, &va, &err), MPL_OK);
  for (int c = 0; c < ds->n_classes; c++) {
    size_t n = ds->class_off[c + 1] - ds->class_off[c], nv = va.class_off[c + 1] - va.class_off[c];
    size_t nt = tr.class_off[c + 1] - tr.class_off[c];
    assert_int_equal(n, MPL_SYN_PER_CLASS);
    assert_int_equal(nv, 8);   /* max(ceil(30 / 6) = 5, K + Q = 8) */
    assert_int_equal(nt + nv, n);
    for (size_t i = 0; i < nt; i++) assert_int_equal(tr.class_idx[tr.class_off[c] + i], ds->class_idx[ds->class_off[c] + i]);
    for (size_t i = 0; i < nv; i++)
      assert_int_equal(va.class_idx[va.class_off[c] + i], ds->class_idx[ds->class_off[c] + nt + i]);
  }
  mpl__dataset_view_free(&tr), mpl__dataset_view_free(&va);
  task.k = 13;   /* K + Q = 16: 30 < 2 x 16, every class stays whole for training */
  assert_int_equal(mpl__dataset_split(ds, &task, &tr, &va, &err), MPL_OK);
  assert_int_equal(va.class_off[ds->n_classes], 0);
  assert_int_equal(tr.class_off[ds->n_classes], ds->n);
  mpl__dataset_view_free(&tr), mpl__dataset_view_free(&va);
  mpl_dataset_free(ds);
}

/* Adam's first step moves every standardized coefficient by lr (times g / (|g| + eps)): in the
 * paper's units theta_r moves by lr scale_r, with scale_r recorded in rule.json. */
static void test_first_step(void **state) {
  (void)state;
  const char *d = mpl_test_path("robust-step");
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.lambda_auto = 0;
  c.sign = "none";
  c.episodes = 3;
  mpl_search_result r;
  run_ok(&c, &r);
  char *log = mpl_test_read_in(d, "log.csv");
  static const char *const th[] = {"theta_F0", "theta_F2", "theta_F9"}, *const gr[] = {"grad_F0", "grad_F2", "grad_F9"};
  assert_true(r.scale[0] == 1.0);   /* the pseudo-gradient is the unit */
  for (int i = 0; i < 3; i++) {
    double g = csv(log, 1, gr[i]) * r.scale[i], step = -1e-3 * g / (fabs(g) + 1e-8);
    mpl_assert_close(csv(log, 2, th[i]), csv(log, 1, th[i]) + r.scale[i] * step, 1e-12, 1e-300);
  }
  assert_true(r.scale[1] != 1.0 && r.scale[2] != 1.0);
  char *json = mpl_test_read_in(d, "rule.json");
  mpl_assert_contains(json, "\"scale\"");
  mpl_assert_contains(json, "\"standardized\"");
  mpl_assert_contains(json, "\"theta_final\"");
  free(json), free(log);
  mpl_search_result_free(&r);
}

/* The reported rule is the best validated one: validation.csv's last "best" row names its episode,
 * and the verdict's validation accuracy is that row's, recomputed bit for bit. */
static void test_best_validated(void **state) {
  (void)state;
  const char *d = mpl_test_path("robust-best");
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.lambda_auto = 0;
  mpl_search_result r;
  run_ok(&c, &r);
  char *val = mpl_test_read_in(d, "validation.csv"), *log = mpl_test_read_in(d, "log.csv");
  int rows = csv_rows(val), best = -1, exact = 0;
  assert_true(csv(val, 1, "episode") == 0);   /* the start is validated */
  for (int k = 1; k <= rows; k++) {
    int e = (int)csv(val, k, "episode");
    assert_true(e == 0 || e % 5 == 0);
    const char *row = val;
    for (int i = 0; i < k; i++) row = strchr(row, '\n') + 1;
    size_t len = strcspn(row, "\n");
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)len, row);
    if (strstr(line, ",best")) best = k, exact = !strcmp(line + len - 5, ",best");   /* not "best;reverted" */
  }
  assert_true(best > 0);
  assert_true(exact);   /* this run's last best validation did not revert (the check below needs it) */
  int eb = (int)csv(val, best, "episode");
  assert_int_equal(r.best_episode, eb);
  assert_true(r.val_rule == csv(val, best, "val_accuracy"));
  static const char *const th[] = {"theta_F0", "theta_F2", "theta_F9"};
  for (int i = 0; i < 3; i++)   /* the theta validated after episode eb ran episode eb + 1 (unless reverted) */
    if (eb < c.episodes && exact) assert_true(r.theta[i] == csv(log, eb + 1, th[i]));
    else assert_true(r.theta[i] == r.theta_final[i]);
  assert_true(!strncmp(r.health, "health: ", 8));
  assert_int_equal(r.healthy, strstr(r.health, "UNHEALTHY") == NULL);
  char *rule = mpl_test_read_in(d, "rule.txt");
  assert_true(!strncmp(rule, r.health, strlen(r.health)));   /* the verdict above the equation */
  free(rule), free(val), free(log);
  mpl_search_result_free(&r);
}

/* lambda auto: the path takes the first five sixths of the episodes, one stage per 20 (5 here), and
 * a refit the last sixth. Stage 0 is the null stage: F0 alone learns (F2 and F9 exactly 0 in every
 * row of log.csv, lambda "inf" in validation.csv) while lambda_max is measured; then lambda is
 * log-spaced from lambda_max down three decades (stage 1 at lambda_max / 10^0.75 here), lambda_max
 * bounded by the largest standardized gradient the null stage saw (it is a moving mean of them).
 * The refit starts from the chosen stage's best rule and fits its terms without the penalty
 * (lambda 0 in validation.csv) while the terms it pruned stay exactly 0, with a step annealed to
 * nearly 0 by the last episode; the lambda reported is the chosen one. */
static void test_lambda_auto(void **state) {
  (void)state;
  const char *d = mpl_test_path("robust-auto");
  mpl_search_cfg c;
  path_cfg(&c, d, 1);   /* a run whose choice is not the path's last stage (stage 3 of 4) */
  mpl_search_result r;
  run_ok(&c, &r);
  char *val = mpl_test_read_in(d, "validation.csv"), *log = mpl_test_read_in(d, "log.csv");
  double lam[4], gmax = 0;
  int k = 0;
  for (int row = 1; row <= csv_rows(val); row++) {
    double l = csv(val, row, "lambda");
    int e = (int)csv(val, row, "episode");
    if (e <= 20) assert_true(isinf(l) && l > 0);   /* the null stage, its last validation included */
    else if (e <= 100 && (k == 0 || l != lam[k - 1])) {
      assert_true(k < 4 && e == 20 * (k + 1) + 10);   /* a new lambda where a stage starts */
      lam[k++] = l;
    }
  }
  assert_int_equal(k, 4);
  for (int e = 1; e <= 20; e++) {
    assert_true(csv(log, e, "theta_F2") == 0 && csv(log, e, "theta_F9") == 0);
    gmax = fmax(gmax, fmax(fabs(csv(log, e, "grad_F2") * r.scale[1]), fabs(csv(log, e, "grad_F9") * r.scale[2])));
  }
  assert_true(csv(log, 20, "theta_F0") != csv(log, 1, "theta_F0"));   /* F0's rate was fitted */
  double lmax = lam[0] * pow(10, 0.75);
  assert_true(lmax > 0 && lmax <= gmax * (1 + 1e-9));
  mpl_assert_close(lam[3], lmax / 1000, 1e-12, 0);
  char want[64];
  snprintf(want, sizeof want, "from lambda_max %.4g;", lmax);
  if (!strstr(r.health, want)) fail_msg("no \"%s\" in the path table:\n%s", want, r.health);
  if (!strstr(r.health, "(refit")) fail_msg("no refit row in the path table:\n%s", r.health);
  int s = r.lambda == lmax ? 0 : -1;   /* the chosen stage, its episodes lo..hi */
  for (int t = 0; t < 4; t++) s = r.lambda == lam[t] ? t + 1 : s;
  assert_true(s >= 0 && s < 4);
  int lo = s ? 20 * s + 1 : 0, hi = 20 * (s + 1), be = -1;
  double best = -1;
  for (int row = 1; row <= csv_rows(val); row++) {
    int e = (int)csv(val, row, "episode");
    if (e > 100) assert_true(csv(val, row, "lambda") == 0);   /* the refit runs without the penalty */
    if (e >= lo && e <= hi && csv(val, row, "val_diverged") == 0 && csv(val, row, "val_accuracy") > best)
      best = csv(val, row, "val_accuracy"), be = e;
  }
  assert_true(be >= 0);
  for (int i = 0; i < 3; i++) {   /* the refit starts from the chosen stage's best rule */
    const char *col[] = {"theta_F0", "theta_F2", "theta_F9"};
    assert_true(csv(log, 101, col[i]) == csv(log, be + 1, col[i]));
  }
  /* the annealed step: theta_F0 (scale 1) moves by at most lr * 0.5 (1 + cos(pi f)) * |m^/sqrt(v^)|,
   * that ratio below 1 / sqrt(1 - beta2) = 31.6; 0.006 * lr at the last step (f = 19/20) */
  double last = fabs(csv(log, 120, "theta_F0") - csv(log, 119, "theta_F0"));
  assert_true(last > 0 && last <= 31.7 * c.adam.lr * 0.5 * (1 + cos(3.14159265358979 * 19 / 20)));
  free(val), free(log);
  mpl_search_result_free(&r);
}

/* The refit on the paper's ten terms: the terms the chosen rule pruned stay exactly 0 in every
 * episode of the refit, the others move, and validation.csv's lambda there is 0. The seed is one
 * whose chosen rule prunes some terms (else the test says so: it would check nothing). */
static void test_refit_holds_pruned(void **state) {
  (void)state;
  const char *d = mpl_test_path("robust-refit");
  mpl_search_cfg c;
  path_cfg(&c, d, 3);   /* its chosen rule holds 5 of the 10 at 0 */
  c.terms = "paper";
  mpl_search_result r;
  run_ok(&c, &r);
  char *log = mpl_test_read_in(d, "log.csv"), *val = mpl_test_read_in(d, "validation.csv");
  int pruned = 0, moved = 0;
  for (int i = 0; i < 10; i++) {
    char col[16];
    snprintf(col, sizeof col, "theta_F%d", i);
    double t0 = csv(log, 101, col);
    for (int e = 102; e <= 120; e++)
      if (t0 == 0) assert_true(csv(log, e, col) == 0);
      else moved += csv(log, e, col) != t0;
    pruned += t0 == 0;
  }
  if (pruned == 0) fail_msg("seed %lu: the chosen rule pruned nothing; the test checks nothing", c.seed);
  assert_true(moved > 0);
  for (int row = 1; row <= csv_rows(val); row++)
    if (csv(val, row, "episode") > 100) assert_true(csv(val, row, "lambda") == 0);
  print_message("refit: %d of 10 terms held at 0, the others moved %d times\n", pruned, moved);
  free(log), free(val);
  mpl_search_result_free(&r);
}

/* --refit off: the path's stages take every episode (six of 20 here, the last at a lambda > 0 to
 * the end) and the path table has no refit row. */
static void test_refit_off(void **state) {
  (void)state;
  const char *d = mpl_test_path("robust-norefit");
  mpl_search_cfg c;
  path_cfg(&c, d, 1);
  c.refit = 0;
  mpl_search_result r;
  run_ok(&c, &r);
  char *val = mpl_test_read_in(d, "validation.csv");
  if (strstr(r.health, "(refit")) fail_msg("a refit row with --refit off:\n%s", r.health);
  if (!strstr(r.health, "6 stages from")) fail_msg("not six stages over the 120 episodes:\n%s", r.health);
  int last = csv_rows(val);
  assert_true(csv(val, last, "episode") == 120 && csv(val, last, "lambda") > 0);
  free(val);
  mpl_search_result_free(&r);
}

/* A library without an unpenalized term has no null stage: lambda_max is measured on probe tasks
 * at the start and the first stage runs at it. */
static void test_lambda_auto_no_null(void **state) {
  (void)state;
  const char *d = mpl_test_path("robust-auto-nonull");
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.terms = "paper:F2,F9";
  c.init = "F2=0.001";
  c.episodes = 40;
  c.validate_every = 10;
  mpl_search_result r;
  run_ok(&c, &r);
  char *val = mpl_test_read_in(d, "validation.csv");
  for (int row = 1; row <= csv_rows(val); row++) assert_true(isfinite(csv(val, row, "lambda")));
  char want[64];
  snprintf(want, sizeof want, "from lambda_max %.4g;", csv(val, 2, "lambda"));
  if (!strstr(r.health, want)) fail_msg("no \"%s\" in the path table:\n%s", want, r.health);
  free(val);
  mpl_search_result_free(&r);
}

/* Every episode diverges (an absurd Oja coefficient): the search stops after max_failures in a
 * row, says so, and its verdict is unhealthy; the step halves with each failure. */
static void test_failures(void **state) {
  (void)state;
  const char *d = mpl_test_path("robust-fail");
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.lambda_auto = 0;
  c.init = "F9=1e30";
  c.max_failures = 4;
  mpl_search_result r;
  mpl_err err = {0};
  assert_int_equal(mpl_search_run(&c, &r, &err), MPL_ENUMERIC);
  mpl_assert_contains(err.msg, "4 consecutive episodes failed");
  assert_int_equal(r.episodes, 4);
  assert_int_equal(r.failures, 4);
  assert_int_equal(r.healthy, 0);
  mpl_assert_contains(r.health, "UNHEALTHY");
  mpl_assert_contains(r.health, "4 of 4 episodes failed");
  mpl_search_result_free(&r);
}

/* The verdict's rules on made-up numbers. */
static void test_judge(void **state) {
  (void)state;
  double acc[10];
  for (int i = 0; i < 10; i++) acc[i] = 0.6;
  mpl__health h = {.episodes = 10, .failed = 2, .val_tasks = 16, .val_rule = 0.6, .val_fa = 0.3, .val_se = 0.02,
                   .val_last = 0.6, .best_episode = 10, .val_best = 0.61, .val_best_episode = 5};
  mpl__health_judge(&h, acc, 10, 5, NULL, 0);
  assert_int_equal(h.healthy, 1);
  assert_int_equal(h.gain, 1);
  mpl_assert_contains(h.text, "health: healthy: validation accuracy 0.600 against FA's 0.300");
  h.failed = 3;   /* 30% > 20% */
  mpl__health_judge(&h, acc, 10, 5, NULL, 0);
  assert_int_equal(h.healthy, 0);
  mpl_assert_contains(h.text, "3 of 10 episodes failed");
  h.failed = 0, h.val_rule = 0.29;   /* worse than FA */
  mpl__health_judge(&h, acc, 10, 5, NULL, 0);
  assert_int_equal(h.healthy, 0);
  mpl_assert_contains(h.text, "does worse than FA");
  h.val_rule = 0.31, h.val_se = 0.05;   /* better, not significantly */
  mpl__health_judge(&h, acc, 10, 5, NULL, 0);
  assert_int_equal(h.healthy, 1);
  assert_int_equal(h.gain, 0);
  mpl_assert_contains(h.text, "no significant gain");
  h.val_rule = 0.6, h.val_diverged = 1;
  mpl__health_judge(&h, acc, 10, 5, NULL, 0);
  assert_int_equal(h.healthy, 0);
  mpl_assert_contains(h.text, "diverges on 1 of 16 validation tasks");
  h.val_diverged = 0, h.val_last = 0.5;   /* a late decline is a note */
  const char *bound[] = {"F9"};
  mpl__health_judge(&h, acc, 10, 5, bound, 1);
  assert_int_equal(h.healthy, 1);
  mpl_assert_contains(h.text, "declined to 0.500");
  mpl_assert_contains(h.text, "θ_F9 is held at 0");
  assert_null(strstr(h.text, "below the best validated"));   /* 0.01 below: within 0.03 */
  h.val_best = 0.7;   /* the plain method reports its last iterate: a late decline is a note */
  mpl__health_judge(&h, acc, 10, 5, NULL, 0);
  assert_int_equal(h.healthy, 1);
  mpl_assert_contains(h.text, "the reported rule is 0.100 below the best validated one (0.700 after episode 5)");
}

/* Interrupted at episode 12 and resumed: log.csv, validation.csv and rule.json are those of an
 * uninterrupted run, bit for bit (the method's state is in the checkpoint). */
static volatile sig_atomic_t stop_flag;
static void stop_at_12(void *ud, int e, double acc, double loss) {
  (void)ud, (void)acc, (void)loss;
  if (e == 12) stop_flag = 1;
}

static void test_resume(void **state) {
  (void)state;
  char a[4096], b[4096];
  snprintf(a, sizeof a, "%s", mpl_test_path("robust-whole"));
  snprintf(b, sizeof b, "%s", mpl_test_path("robust-parts"));
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, a);
  c.episodes = 40;
  c.validate_every = 3;
  c.checkpoint_every = 5;
  run_ok(&c, &r);
  mpl_search_result_free(&r);
  base_cfg(&c, b);
  c.episodes = 40;
  c.validate_every = 3;
  c.checkpoint_every = 5;
  stop_flag = 0;
  c.stop = &stop_flag;
  c.on_episode = stop_at_12;
  run_ok(&c, &r);
  assert_int_equal(r.interrupted, 1);
  mpl_search_result_free(&r);
  mpl_search_cfg rc;
  char *mem = NULL;
  mpl_err err = {0};
  if (mpl_search_config_load(b, &rc, &mem, &err) < 0) fail_msg("%s", err.msg);
  run_ok(&rc, &r);
  assert_int_equal(r.episodes, 40);
  mpl_search_result_free(&r);
  free(mem);
  static const char *const files[] = {"validation.csv", "rule.json"};
  for (int i = 0; i < 2; i++) {
    char *x = mpl_test_read_in(a, files[i]), *y = mpl_test_read_in(b, files[i]);
    if (i == 1) {   /* rule.json records the command (out differs) */
      char *p = strstr(x, "\"config\""), *q = strstr(y, "\"config\"");
      if (p) *p = '\0';
      if (q) *q = '\0';
    }
    assert_string_equal(x, y);
    free(x), free(y);
  }
  char *x = mpl_test_read_in(a, "log.csv"), *y = mpl_test_read_in(b, "log.csv");
  char *sx = mpl_test_strip_last_column(x), *sy = mpl_test_strip_last_column(y);
  assert_string_equal(sx, sy);
  free(x), free(y), free(sx), free(sy);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pseudo_gradient), cmocka_unit_test(test_magnitudes), cmocka_unit_test(test_split),
    cmocka_unit_test(test_first_step),      cmocka_unit_test(test_best_validated), cmocka_unit_test(test_lambda_auto),
    cmocka_unit_test(test_refit_holds_pruned), cmocka_unit_test(test_refit_off),
    cmocka_unit_test(test_lambda_auto_no_null),
    cmocka_unit_test(test_failures),        cmocka_unit_test(test_judge),          cmocka_unit_test(test_resume),
  };
  return cmocka_run_group_tests_name("robust", tests, setup, NULL);
}
