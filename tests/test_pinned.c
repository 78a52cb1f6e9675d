/* metaplast tests: values pinned by independent references where other tests check ranges.
 *
 *  - a tiny episode (test_net's 3-2-2-3 net, F0 + F9, six online steps): its query loss,
 *    accuracy and dL/dtheta against tests/reference/tiny_episode.py (numpy), for the lazy and
 *    the dense engine and both feedback modes; five steps give other numbers, so the number of
 *    steps is pinned too;
 *  - a search's episode: the query loss it logs equals an episode run through the public API on
 *    the task and weights drawn as docs/method.md says (one mt19937 stream per episode, seeded
 *    by the splitmix64 hash of (seed, task, episode)) with M K online steps;
 *  - gradient clipping (--clip-grad): the theta a search logs after each step equals Adam (the
 *    PyTorch update written out here) applied to the logged gradient, scaled to the threshold
 *    when its norm is above it and unchanged when below;
 *  - rollback: after a failed episode the FULL optimiser state (theta, Adam's m, v and step
 *    count) equals the state of a run stopped just before the last good episode, read from
 *    both runs' checkpoints.
 * See LICENSE for copyright. */
#include "search_fixture.h"
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_rng.h>

#include "metaplast/data.h"
#include "metaplast/net.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"

#include "checkpoint.h"

static char root[2048], images[3072], labels[3072];

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("pinned"));
  mkdir(root, 0777);
  snprintf(images, sizeof images, "%s/img.gz", root);
  snprintf(labels, sizeof labels, "%s/lab.gz", root);
  mpl_test_write_synthetic(images, labels);
  return 0;
}

/* ---- log.csv reading ---- */

static int column(const char *log, const char *name) {
  int c = 0;
  size_t k = strlen(name);
  for (const char *p = log; *p && *p != '\n'; c++) {
    size_t w = strcspn(p, ",\n");
    if (w == k && !strncmp(p, name, k)) return c;
    p += w + (p[w] == ',');
  }
  fail_msg("log.csv has no column %s", name);
  return -1;
}

/* Field `name` of row `row` (1 = first episode). */
static const char *field(const char *log, int row, const char *name, char *buf, size_t n) {
  int col = column(log, name);
  const char *p = log;
  for (int r = 0; r < row; r++)
    if (!(p = strchr(p, '\n')) || !*++p) fail_msg("log.csv has no row %d", row);
  for (int c = 0; c < col; c++) p += strcspn(p, ",\n") + 1;
  size_t w = strcspn(p, ",\n");
  snprintf(buf, n, "%.*s", (int)w, p);
  return buf;
}

static double number(const char *log, int row, const char *name) {
  char buf[128];
  return strtod(field(log, row, name, buf, sizeof buf), NULL);
}

static void base_cfg(mpl_search_cfg *c, const char *out) {
  mpl_test_small_search(c, images, labels, out);
  c->episodes = 10;
  c->seed = 3;
  c->method = MPL_METHOD_PLAIN;   /* pins the plain method (Adam on theta); test_robust the robust one */
  c->lambda_auto = 0;
}

static void run_search(const mpl_search_cfg *c, mpl_search_result *r) {
  mpl_err err = {0};
  int rc = mpl_search_run(c, r, &err);
  if (rc < 0) fail_msg("search into %s: %s", c->out, err.msg);
}

/* {====== A tiny episode against numpy ====== */

#define TL 3
static const int TN[TL + 1] = {3, 2, 2, 3};
/* test_net.c's hand-set weights and feedback (tests/reference/tiny_episode.py has the same) */
static const double TW[TL + 1][6] = {
    {0}, {0.5, -0.3, 0.8, -0.6, 0.4, 0.2}, {0.7, -0.5, 0.3, 0.9}, {0.4, -0.7, -0.2, 0.6, 0.9, 0.1}};
static const double TB[TL + 1][6] = {
    {0}, {-0.4, 0.6, 0.1, 0.3, -0.8, 0.5}, {0.2, 0.9, -0.7, 0.4}, {0.5, 0.3, -0.6, 0.2, 0.1, -0.9}};
static const double TX[6 * 3] = {0.2, 0.9, 0.5, 0.7, 0.1, 0.0, 0.3, 0.6, 0.8, 1.0, 0.4, 0.2, 0.0, 0.5, 0.9, 0.6, 0.8, 0.1};
static const int TY[6] = {1, 0, 2, 2, 1, 0};
static const double TXQ[4 * 3] = {0.1, 0.8, 0.3, 0.9, 0.0, 0.4, 0.5, 0.5, 1.0, 0.0, 0.2, 0.7};
static const int TYQ[4] = {0, 1, 2, 1};

typedef struct pinned { double loss, accuracy, grad[2]; } pinned;
/* `/usr/bin/python3 tests/reference/tiny_episode.py` (theta_F0 = 0.8, theta_F9 = 0.15); the
 * gradients are Richardson-extrapolated central differences there, good to ~1e-10. */
static const pinned want[2][2] = {
    {/* fixed, 6 steps */ {1.0441967494698043, 0.25, {-0.17873450290473158, 0.11403174103752356}},
     /* fixed, 5 steps */ {1.047434637636332, 0.25, {-0.1097934236134653, 0.09324604302437163}}},
    {/* symmetric, 6 steps */ {1.090876641987089, 0.5, {0.06063508008321191, 0.06456860125162815}},
     /* symmetric, 5 steps */ {1.187017115590528, 0.25, {-0.10649227362713454, 0.029697046724693383}}},
};

static void test_tiny_episode(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  if (mpl_terms_parse("paper:F0,F9", ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  const double theta[2] = {0.8, 0.15};
  for (int sym = 0; sym < 2; sym++)
    for (int dense = 0; dense < 2; dense++)
      for (int s = 0; s < 2; s++) {
        int steps = s ? 5 : 6;
        mpl_net_cfg cfg = {.n_layers = TL, .beta = 10, .feedback = sym ? MPL_FB_SYMMETRIC : MPL_FB_FIXED, .dense = dense};
        for (int l = 0; l <= TL; l++) cfg.sizes[l] = TN[l];
        mpl_episode *ep = NULL;
        if (mpl_episode_new(&cfg, ts, sel.which, sel.n, &ep, &err) < 0) fail_msg("%s", err.msg);
        for (int l = 1; l <= TL; l++) {
          memcpy(mpl_episode_weights(ep, l), TW[l], (size_t)(TN[l] * TN[l - 1]) * sizeof(double));
          memcpy(mpl_episode_feedback(ep, l), TB[l], (size_t)(TN[l] * TN[l - 1]) * sizeof(double));
        }
        mpl_episode_stats st;
        double g[2];
        if (mpl_episode_run(ep, theta, TX, TY, steps, TXQ, TYQ, 4, &st, g, &err) < 0) fail_msg("%s", err.msg);
        const pinned *w = &want[sym][s];
        mpl_assert_close(st.loss, w->loss, 1e-12, 0);
        mpl_assert_close(st.accuracy, w->accuracy, 0, 0);
        mpl_assert_close(g[0], w->grad[0], 1e-8, 1e-10);
        mpl_assert_close(g[1], w->grad[1], 1e-8, 1e-10);
        mpl_episode_free(ep);
      }
  /* the pins tell five steps from six */
  for (int sym = 0; sym < 2; sym++) assert_true(fabs(want[sym][0].loss - want[sym][1].loss) > 1e-3);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* A tiny episode with the given last-layer weights (scaled), F0 at theta, n training steps. */
static mpl_episode *tiny_with(mpl_termset *ts, const int *which, double w3_scale, int zero_w3) {
  mpl_net_cfg cfg = {.n_layers = TL, .beta = 10, .feedback = MPL_FB_FIXED};
  for (int l = 0; l <= TL; l++) cfg.sizes[l] = TN[l];
  mpl_episode *ep = NULL;
  mpl_err err = {0};
  if (mpl_episode_new(&cfg, ts, which, 1, &ep, &err) < 0) fail_msg("%s", err.msg);
  for (int l = 1; l <= TL; l++) {
    double *W = mpl_episode_weights(ep, l);
    for (int k = 0; k < TN[l] * TN[l - 1]; k++) W[k] = l == TL ? (zero_w3 ? 0 : w3_scale * TW[l][k]) : TW[l][k];
    memcpy(mpl_episode_feedback(ep, l), TB[l], (size_t)(TN[l] * TN[l - 1]) * sizeof(double));
  }
  return ep;
}

/* Output logits that tie (W_3 = 0, no training step): every query costs log 3 exactly, and the
 * predicted class is the first of the tied ones (numpy's and PyTorch's argmax), so with labels
 * 0, 0, 1, 2 the accuracy is 1/2. Logits 2000 times larger than the hand-set ones (a spread far
 * beyond exp's range): the softmax of the training step stays finite (it is shifted by the
 * largest logit), and so do the loss and the gradient. */
static void test_softmax_extremes(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  if (mpl_terms_parse("paper:F0", ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  mpl_episode *ep = tiny_with(ts, sel.which, 1, 1);
  static const int yq[4] = {0, 0, 1, 2};
  const double theta = 0.5;
  mpl_episode_stats st;
  if (mpl_episode_run(ep, &theta, TX, TY, 0, TXQ, yq, 4, &st, NULL, &err) < 0) fail_msg("%s", err.msg);
  mpl_assert_close(st.loss, log(3.0), 1e-15, 0);
  mpl_assert_close(st.accuracy, 0.5, 0, 0);
  mpl_episode_free(ep);
  ep = tiny_with(ts, sel.which, 2000, 0);
  double g;
  int rc = mpl_episode_run(ep, &theta, TX, TY, 2, TXQ, TYQ, 4, &st, &g, &err);
  if (rc < 0) fail_msg("logits 2000x: %s", err.msg);
  assert_true(st.finite && isfinite(st.loss) && isfinite(g));
  mpl_episode_free(ep);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* }====== */

/* {====== A search's episode through the public API ====== */

/* docs/method.md (deviation 6) and docs/reliability.md: episode e's task b draws everything from
 * one mt19937 stream seeded with the splitmix64 hash of (seed, b, e). Written out from that
 * description (the constants are splitmix64's). */
static unsigned long splitmix_seed(unsigned long seed, unsigned long stream, unsigned long episode) {
  uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)stream * 0xD1B54A32D192ED03ull ^
               ((uint64_t)episode + 1) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (unsigned long)(z ^ (z >> 31));
}

static void test_search_episode(void **state) {
  (void)state;
  char d[4200];
  snprintf(d, sizeof d, "%s/episode", root);
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.episodes = 2;
  mpl_search_result r;
  run_search(&c, &r);
  char *log = mpl_test_read_in(d, "log.csv");
  /* the same episodes through the API: the dataset, the sampler, the weights, M K steps */
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  if (mpl_dataset_load_idx(images, labels, 0, &ds, &err) < 0) fail_msg("%s", err.msg);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  if (mpl_terms_parse(c.terms, ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  mpl_net_cfg net = {.n_layers = 3, .sizes = {MPL_SYN_SIDE * MPL_SYN_SIDE, 12, 10, MPL_SYN_CLASSES}, .beta = 10,
                     .feedback = MPL_FB_FIXED};
  mpl_episode *ep = NULL;
  if (mpl_episode_new(&net, ts, sel.which, sel.n, &ep, &err) < 0) fail_msg("%s", err.msg);
  mpl_task task;
  assert_int_equal(mpl_task_init(&task, &c.task, &err), MPL_OK);
  int nt = c.task.m * c.task.k, nq = c.task.m * c.task.q, dim = MPL_SYN_SIDE * MPL_SYN_SIDE;
  double *tx = malloc((size_t)nt * dim * sizeof *tx), *qx = malloc((size_t)nq * dim * sizeof *qx);
  int *ty = malloc((size_t)nt * sizeof *ty), *qy = malloc((size_t)nq * sizeof *qy);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  for (int e = 0; e < 2; e++) {
    gsl_rng_set(rng, splitmix_seed(c.seed, 0, (unsigned long)e));
    assert_int_equal(mpl_task_sample(ds, &c.task, rng, &task, &err), MPL_OK);
    mpl_episode_init_weights(ep, rng);
    mpl_task_gather(ds, &task, tx, ty, qx, qy);
    double theta[3] = {number(log, e + 1, "theta_F0"), number(log, e + 1, "theta_F2"), number(log, e + 1, "theta_F9")};
    if (e == 0) { /* the defaults: F0 at 1e-3, the others at 0 */
      mpl_assert_close(theta[0], 1e-3, 0, 0);
      mpl_assert_close(theta[1], 0, 0, 0);
      mpl_assert_close(theta[2], 0, 0, 0);
    }
    mpl_episode_stats st;
    double g[3];
    if (mpl_episode_run(ep, theta, tx, ty, nt, qx, qy, nq, &st, g, &err) < 0) fail_msg("%s", err.msg);
    mpl_assert_close(number(log, e + 1, "loss"), st.loss, 0, 0);
    mpl_assert_close(number(log, e + 1, "accuracy"), st.accuracy, 0, 0);
    mpl_assert_close(number(log, e + 1, "grad_F0"), g[0], 0, 0);
    mpl_assert_close(number(log, e + 1, "grad_F9"), g[2], 0, 0);
    mpl_assert_close(r.loss[e], st.loss, 0, 0);
    /* one step fewer is another episode: the loss would differ */
    mpl_episode_stats short_st;
    if (mpl_episode_run(ep, theta, tx, ty, nt - 1, qx, qy, nq, &short_st, NULL, &err) < 0) fail_msg("%s", err.msg);
    assert_true(short_st.loss != st.loss);
  }
  gsl_rng_free(rng);
  free(tx), free(qx), free(ty), free(qy);
  mpl_task_free(&task);
  mpl_episode_free(ep);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  mpl_dataset_free(ds);
  free(log);
  mpl_search_result_free(&r);
}

/* }====== */

/* {====== Clipping and rollback ====== */

/* PyTorch's Adam (torch.optim.Adam, default form), one step. */
typedef struct ref_adam { double m[8], v[8]; long t; } ref_adam;

static void ref_adam_step(ref_adam *a, double *theta, const double *g, int n, double lr) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  a->t++;
  for (int j = 0; j < n; j++) {
    a->m[j] = b1 * a->m[j] + (1 - b1) * g[j];
    a->v[j] = b2 * a->v[j] + (1 - b2) * g[j] * g[j];
    double mhat = a->m[j] / (1 - pow(b1, (double)a->t)), vhat = a->v[j] / (1 - pow(b2, (double)a->t));
    theta[j] -= lr * mhat / (sqrt(vhat) + eps);
  }
}

/* --clip-grad c: g is scaled to norm c if its norm is above c, left alone if below. The run's
 * theta after each step is Adam on the clipped gradients (clip_rms off, no L1, no signs). */
static void test_clip_grad(void **state) {
  (void)state;
  static const char *const th[3] = {"theta_F0", "theta_F2", "theta_F9"}, *const gr[3] = {"grad_F0", "grad_F2", "grad_F9"};
  const int E = 8;
  char d[4200];
  snprintf(d, sizeof d, "%s/clip", root);
  /* the threshold: the median gradient norm of an unclipped run, so that both cases occur */
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.episodes = E;
  c.adam.clip_rms = 0;
  c.sign = "none";
  mpl_search_result r;
  run_search(&c, &r);
  mpl_search_result_free(&r);
  char *log = mpl_test_read_in(d, "log.csv");
  double norms[16];
  for (int e = 1; e <= E; e++) {
    double s = 0;
    for (int i = 0; i < 3; i++) s += number(log, e, gr[i]) * number(log, e, gr[i]);
    norms[e - 1] = sqrt(s);
  }
  free(log);
  double sorted[16];
  memcpy(sorted, norms, sizeof sorted);
  for (int i = 0; i < E; i++) /* insertion sort */
    for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) { double t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t; }
  const double cmax = 0.5 * (sorted[E / 2 - 1] + sorted[E / 2]);
  /* a threshold above every norm changes nothing at all */
  c.clip_grad = 2 * sorted[E - 1];
  snprintf(d, sizeof d, "%s/clip-high", root);
  c.out = d;
  run_search(&c, &r);
  mpl_search_result_free(&r);
  char *high = mpl_test_read_in(d, "log.csv");
  snprintf(d, sizeof d, "%s/clip", root);
  char *plain = mpl_test_read_in(d, "log.csv");
  char *a = mpl_test_strip_last_column(high), *b = mpl_test_strip_last_column(plain);
  assert_string_equal(a, b);
  free(a), free(b), free(high), free(plain);
  /* the median: Adam on the clipped gradients, step by step */
  c.clip_grad = cmax;
  snprintf(d, sizeof d, "%s/clip-mid", root);
  c.out = d;
  run_search(&c, &r);
  assert_int_equal(r.failures, 0);
  mpl_search_result_free(&r);
  log = mpl_test_read_in(d, "log.csv");
  ref_adam adam = {{0}, {0}, 0};
  double theta[3] = {1e-3, 0, 0};
  int above = 0, below = 0;
  for (int e = 1; e <= E; e++) {
    char st[32];
    assert_string_equal(field(log, e, "status", st, sizeof st), "ok");
    for (int i = 0; i < 3; i++) mpl_assert_close(number(log, e, th[i]), theta[i], 1e-12, 1e-18);
    double g[3], s = 0;
    for (int i = 0; i < 3; i++) g[i] = number(log, e, gr[i]), s += g[i] * g[i];
    s = sqrt(s);
    if (s > cmax) {
      for (int i = 0; i < 3; i++) g[i] *= cmax / s;
      above++;
    } else {
      below++;
    }
    ref_adam_step(&adam, theta, g, 3, c.adam.lr);
  }
  if (!above || !below) fail_msg("threshold %g: %d gradients above, %d below: the test forces nothing", cmax, above, below);
  free(log);
}

/* Stop a search after episode `at` (cfg.on_episode). */
typedef struct stopper { volatile sig_atomic_t flag; int at; } stopper;
static void stop_at(void *ud, int episode, double acc, double loss) {
  (void)acc, (void)loss;
  stopper *s = ud;
  if (episode == s->at) s->flag = 1;
}

static void rollback_cfg(mpl_search_cfg *c, const char *out, stopper *s) {
  base_cfg(c, out);
  c->adam.lr = 1e4; /* as test_guard's test_rollback: steps that land theta in trouble */
  c->episodes = 16;
  c->max_failures = 1000;
  c->dead_guard = 1;
  c->checkpoint_every = 0;
  if (s) c->stop = &s->flag, c->on_episode = stop_at, c->on_episode_ud = s;
}

static void read_ckpt(const char *dir, mpl__ckpt *k) {
  char path[4300];
  snprintf(path, sizeof path, "%s/" MPL__CKPT_FILE, dir);
  char *text = mpl_test_read(path);
  mpl_err err = {0};
  if (mpl__ckpt_parse(text, strlen(text), path, k, &err) < 0) fail_msg("%s", err.msg);
  free(text);
}

/* After a failed episode F whose predecessor G = F - 1 went well, the rollback restores the state
 * in which G ran: theta, Adam's m, v and step count are those of a run stopped after G - 1
 * episodes, bit for bit. */
static void test_rollback_full_state(void **state) {
  (void)state;
  char d[4200];
  snprintf(d, sizeof d, "%s/rollback", root);
  mpl_search_cfg c;
  rollback_cfg(&c, d, NULL);
  mpl_search_result r;
  run_search(&c, &r);
  mpl_search_result_free(&r);
  char *log = mpl_test_read_in(d, "log.csv"), st[32];
  int F = 0;
  for (int e = 3; e <= 15 && !F; e++) { /* F < 16: a run stopped after its last episode keeps no checkpoint */
    int ok_prev = !strcmp(field(log, e - 1, "status", st, sizeof st), "ok");
    int bad = strcmp(field(log, e, "status", st, sizeof st), "ok") != 0;
    if (ok_prev && bad) F = e;
  }
  free(log);
  if (!F) fail_msg("no failed episode after a good one from episode 3 on: the rollback is untested");
  mpl__ckpt after, before;
  for (int k = 0; k < 2; k++) {
    stopper s = {0, k == 0 ? F : F - 2};
    snprintf(d, sizeof d, "%s/rollback-%d", root, k);
    rollback_cfg(&c, d, &s);
    run_search(&c, &r);
    assert_int_equal(r.interrupted, 1);
    assert_int_equal(r.episodes, s.at);
    mpl_search_result_free(&r);
    read_ckpt(d, k == 0 ? &after : &before);
  }
  assert_int_equal(after.episode, F);
  assert_int_equal(before.episode, F - 2);
  assert_int_equal(after.n, 3);
  assert_int_equal(before.n, 3);
  assert_int_equal(after.t, before.t);
  assert_memory_equal(after.theta, before.theta, 3 * sizeof(double));
  assert_memory_equal(after.m, before.m, 3 * sizeof(double));
  assert_memory_equal(after.v, before.v, 3 * sizeof(double));
  /* and the rollback point is still that state */
  assert_int_equal(after.good_t, before.t);
  assert_memory_equal(after.good_theta, before.theta, 3 * sizeof(double));
  assert_memory_equal(after.good_m, before.m, 3 * sizeof(double));
  assert_memory_equal(after.good_v, before.v, 3 * sizeof(double));
  /* the state is not trivially zero: Adam had stepped */
  assert_true(before.t >= 1);
  assert_true(before.v[0] > 0);
  mpl__ckpt_free(&after);
  mpl__ckpt_free(&before);
}

/* }====== */

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tiny_episode),
      cmocka_unit_test(test_softmax_extremes),
      cmocka_unit_test(test_search_episode),
      cmocka_unit_test(test_clip_grad),
      cmocka_unit_test(test_rollback_full_state),
  };
  return cmocka_run_group_tests_name("pinned", tests, setup, NULL);
}
