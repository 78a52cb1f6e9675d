/* metaplast tests: the network's forward pass, modulatory signals and online update on a tiny
 * 3-2-2-3 net against a literal re-implementation of PAPER.md §1-§4; query statistics; the
 * episode's guarantees (restored weights, checkpointing invariance) and its refusals.
 * See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/expr.h"
#include "metaplast/net.h"
#include "metaplast/terms.h"

#include "episode.h"
#include "plan.h" /* white box: which path an episode takes */

#define L 3
#define NMAX 3
#define BETA 10.0
#define R 10

static const int N[L + 1] = {3, 2, 2, 3};

/* Hand-set weights W_l (n_l x n_{l-1}, row-major) and feedback B_l. */
static const double W_init[L + 1][NMAX * NMAX] = {
    {0},
    {0.5, -0.3, 0.8, -0.6, 0.4, 0.2},
    {0.7, -0.5, 0.3, 0.9},
    {0.4, -0.7, -0.2, 0.6, 0.9, 0.1},
};
static const double B_init[L + 1][NMAX * NMAX] = {
    {0},
    {-0.4, 0.6, 0.1, 0.3, -0.8, 0.5},
    {0.2, 0.9, -0.7, 0.4},
    {0.5, 0.3, -0.6, 0.2, 0.1, -0.9},
};

/* Hand-set direct feedback D_l (n_L x n_l, row-major, as B_{l+1} is stored), l = 0..L-2;
 * D_{L-1} is B_L. */
static const double D_init[L - 1][NMAX * NMAX] = {
    {0.3, -0.5, 0.7, -0.2, 0.8, 0.4, 0.6, -0.1, -0.9},
    {-0.6, 0.2, 0.5, 0.7, -0.3, -0.8},
};

/* ---- A literal reference network ---- */

typedef struct refnet {
  double W[L + 1][NMAX * NMAX], B[L + 1][NMAX * NMAX];
  int sym; /* 1: symmetric feedback, B = W (the current, pre-update W); 2: direct feedback (D) */
} refnet;

static void ref_init(refnet *net, int sym) {
  memcpy(net->W, W_init, sizeof net->W);
  memcpy(net->B, B_init, sizeof net->B);
  net->sym = sym;
}

/* y_l = log(1 + exp(beta z_l)) / beta, z_l = W_l y_{l-1}; y_L = softmax(z_L); z kept in z. */
static void ref_forward(const refnet *net, const double *x, double y[L + 1][NMAX], double z[L + 1][NMAX]) {
  for (int j = 0; j < N[0]; j++) y[0][j] = x[j];
  for (int l = 1; l <= L; l++) {
    for (int i = 0; i < N[l]; i++) {
      z[l][i] = 0;
      for (int j = 0; j < N[l - 1]; j++) z[l][i] += net->W[l][i * N[l - 1] + j] * y[l - 1][j];
    }
    if (l < L) {
      for (int i = 0; i < N[l]; i++) y[l][i] = log(1 + exp(BETA * z[l][i])) / BETA;
    } else {
      double s = 0;
      for (int i = 0; i < N[l]; i++) s += exp(z[l][i]);
      for (int i = 0; i < N[l]; i++) y[l][i] = exp(z[l][i]) / s;
    }
  }
}

/* e_L = softmax - onehot; e_l = (F_{l+1}^T e_{l+1}) * (1 - exp(-beta y_l)), l = L-1..0, with
 * F = B (fixed), or W (fb_w = 1); fb_w = 2 (direct): e_l = (D_l^T e_L) * (1 - exp(-beta y_l)),
 * with D_{L-1} = B_L. */
static void ref_errors(const refnet *net, int fb_w, const double y[L + 1][NMAX], int label, double e[L + 1][NMAX]) {
  for (int i = 0; i < N[L]; i++) e[L][i] = y[L][i] - (i == label);
  for (int l = L - 1; l >= 0; l--) {
    const double *F = fb_w == 1 ? net->W[l + 1] : net->B[l + 1];
    int src = l + 1;
    if (fb_w == 2) src = L, F = l == L - 1 ? net->B[L] : D_init[l];
    for (int j = 0; j < N[l]; j++) {
      double h = 0;
      for (int i = 0; i < N[src]; i++) h += F[i * N[l] + j] * e[src][i];
      e[l][j] = h * (1 - exp(-BETA * y[l][j]));
    }
  }
}

/* Entry (i, j) of the paper's term r at one layer (PAPER.md §4.1; F5-F8 literal matrix
 * reading, written as a global scalar times a rank-1 term). */
static double ref_term(int r, const double *pre, const double *post, const double *epre, const double *epost,
                       const double *W, int np, int nq, int i, int j) {
  double s = 0;
  switch (r) {
  case 0: return -epost[i] * pre[j];
  case 1: return -post[i] * epre[j];
  case 2: return -epost[i] * epre[j];
  case 3: return -W[i * np + j];
  case 4: return -epre[j];
  case 5:
    for (int k = 0; k < nq; k++) s += post[k];
    return -s * epost[i] * pre[j];
  case 6: case 7:
    for (int a = 0; a < nq; a++)
      for (int b = 0; b < np; b++) s += post[a] * W[a * np + b] * epre[b];
    return r == 6 ? -s * post[i] * epre[j] : -s * epost[i] * pre[j];
  case 8:
    for (int a = 0; a < nq; a++)
      for (int b = 0; b < np; b++) s += epost[a] * W[a * np + b] * pre[b];
    return -s * post[i] * epre[j];
  case 9:
    for (int k = 0; k < nq; k++) s += post[k] * W[k * np + j];
    return post[i] * pre[j] - post[i] * s;
  default: return NAN;
  }
}

/* One online step: signals from the current weights, then every layer updated at once. */
static void ref_step(refnet *net, const double *theta, const double *x, int label) {
  double y[L + 1][NMAX], z[L + 1][NMAX], e[L + 1][NMAX], Wn[L + 1][NMAX * NMAX];
  ref_forward(net, x, y, z);
  ref_errors(net, net->sym, y, label, e);
  for (int l = 1; l <= L; l++)
    for (int i = 0; i < N[l]; i++)
      for (int j = 0; j < N[l - 1]; j++) {
        double d = 0;
        for (int r = 0; r < R; r++)
          if (theta[r] != 0)
            d += theta[r] * ref_term(r, y[l - 1], y[l], e[l - 1], e[l], net->W[l], N[l - 1], N[l], i, j);
        Wn[l][i * N[l - 1] + j] = net->W[l][i * N[l - 1] + j] + d;
      }
  for (int l = 1; l <= L; l++) memcpy(net->W[l], Wn[l], sizeof Wn[l]);
}

/* ---- Episode helpers ---- */

typedef struct fixture {
  mpl_termset *ts;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  mpl_err err = {0};
  f->ts = mpl_termset_new();
  if (!f->ts || mpl_test_paper_pool(f->ts, &err) < 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  mpl_termset_free(f->ts);
  free(f);
  return 0;
}

static mpl_net_cfg tiny_cfg(mpl_feedback fb, int segment) {
  mpl_net_cfg cfg = {.n_layers = L, .beta = BETA, .feedback = fb, .segment = segment};
  for (int l = 0; l <= L; l++) cfg.sizes[l] = N[l];
  return cfg;
}

/* An episode over terms which[0..n-1] (all if NULL) with the hand-set W and B. */
static mpl_episode *tiny_episode_dense(const mpl_termset *ts, mpl_feedback fb, int segment, int dense, const int *which,
                                       int n) {
  mpl_net_cfg cfg = tiny_cfg(fb, segment);
  cfg.dense = dense;
  mpl_episode *ep = NULL;
  mpl_err err = {0};
  if (mpl_episode_new(&cfg, ts, which, n, &ep, &err) < 0) fail_msg("mpl_episode_new: %s", err.msg);
  for (int l = 1; l <= L; l++) {
    memcpy(mpl_episode_weights(ep, l), W_init[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
    memcpy(mpl_episode_feedback(ep, l), B_init[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
  }
  for (int l = 0; fb == MPL_FB_DIRECT && l < L - 1; l++)
    memcpy(mpl_episode_direct(ep, l), D_init[l], (size_t)(N[L] * N[l]) * sizeof(double));
  if (fb == MPL_FB_DIRECT) assert_ptr_equal(mpl_episode_direct(ep, L - 1), mpl_episode_feedback(ep, L));
  else assert_null(mpl_episode_direct(ep, 0));
  return ep;
}

static mpl_episode *tiny_episode(const mpl_termset *ts, mpl_feedback fb, int segment, const int *which, int n) {
  return tiny_episode_dense(ts, fb, segment, 0, which, n);
}

static const double X1[3] = {0.2, 0.9, 0.5};
static const int Y1 = 1;
/* A query batch of four images (rows). */
static const double XQ[4 * 3] = {0.1, 0.8, 0.3, 0.9, 0.0, 0.4, 0.5, 0.5, 1.0, 0.0, 0.2, 0.7};

static void run_ok(mpl_episode *ep, const double *theta, const double *x, const int *y, int n, const double *xq,
                   const int *yq, int nq, mpl_episode_stats *st, double *grad) {
  mpl_err err = {0};
  int rc = mpl_episode_run(ep, theta, x, y, n, xq, yq, nq, st, grad, &err);
  if (rc < 0) fail_msg("mpl_episode_run: %s (%s)", err.msg, mpl_status_name(rc));
}

static void assert_adapted(const mpl_episode *ep, const refnet *net, const char *what) {
  for (int l = 1; l <= L; l++) {
    const double *got = mpl_episode_adapted(ep, l);
    for (int k = 0; k < N[l] * N[l - 1]; k++) {
      double g = got[k], w = net->W[l][k];
      if (!(fabs(g - w) <= 1e-14 + 1e-11 * fabs(w)))
        fail_msg("%s: W_%d[%d] = %.17g, expected %.17g", what, l, k, g, w);
    }
  }
}

/* ---- Tests ---- */

/* Sanity of the hand-set net: the e signals are not degenerate, so the checks below bite. */
static void test_reference_sanity(void **state) {
  (void)state;
  refnet net;
  ref_init(&net, 0);
  double y[L + 1][NMAX], z[L + 1][NMAX], e[L + 1][NMAX];
  ref_forward(&net, X1, y, z);
  ref_errors(&net, 0, y, Y1, e);
  for (int l = 0; l <= L; l++)
    for (int j = 0; j < N[l]; j++) assert_true(fabs(e[l][j]) > 1e-4);
  /* The softplus and its g' identity: 1 - exp(-beta y) = sigmoid(beta z). */
  for (int l = 1; l < L; l++)
    for (int j = 0; j < N[l]; j++) mpl_assert_close(1 - exp(-BETA * y[l][j]), 1 / (1 + exp(-BETA * z[l][j])), 1e-12, 1e-15);
}

/* One step with a single active term, for every term and the three feedback modes (F0 checks
 * e_1..e_L through the update of every layer, F1, F2 and F4 e_0 as well). */
static void test_one_step_each_term(void **state) {
  fixture *f = *state;
  for (int sym = 0; sym <= 2; sym++)
    for (int r = 0; r < R; r++) {
      mpl_episode *ep = tiny_episode(f->ts, (mpl_feedback)sym, 0, NULL, 0);
      assert_int_equal(mpl_episode_nterms(ep), R);
      double theta[R] = {0};
      theta[r] = r == 3 ? 0.1 : 0.37;
      mpl_episode_stats st;
      int yq[4] = {0, 1, 2, 1};
      run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL);
      assert_int_equal(st.finite, 1);
      refnet net;
      ref_init(&net, sym);
      ref_step(&net, theta, X1, Y1);
      char what[64];
      snprintf(what, sizeof what, "%s feedback, F%d", mpl_feedback_name((mpl_feedback)sym), r);
      assert_adapted(ep, &net, what);
      /* The term did change every layer (F4 and F5 included). */
      for (int l = 1; l <= L; l++)
        assert_memory_not_equal(mpl_episode_adapted(ep, l), W_init[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
      mpl_episode_free(ep);
    }
}

/* Values computed independently (Python, double precision) for the hand-set net, x = X1,
 * label 1, fixed feedback: e_0 = (-0.0719367..., 0.0947486..., 0.0696676...). */
static void test_pinned_values(void **state) {
  fixture *f = *state;
  static const double w1_f2[6] = {0.50724898592366396, -0.30954771873342224, 0.79297966569786982,
                                  -0.59771600758771015, 0.39699172858501131, 0.19778805057056881};
  static const double w3_f0[6] = {0.39374628529224875, -0.73556047541472824, -0.18495934271349609,
                                  0.68552563534680333, 0.89121305742124735, 0.050034840067925038};
  int yq[4] = {0, 1, 2, 1};
  mpl_episode_stats st;
  for (int r = 0; r <= 2; r += 2) {
    mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
    double theta[R] = {0};
    theta[r] = 0.37;
    run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL);
    const double *got = mpl_episode_adapted(ep, r == 2 ? 1 : 3), *want = r == 2 ? w1_f2 : w3_f0;
    for (int k = 0; k < 6; k++) mpl_assert_close(got[k], want[k], 1e-13, 1e-15);
    mpl_episode_free(ep);
  }
}

/* Several steps of a mixed rule (all ten terms active), and a rule that does not read e_{l-1}
 * (e_0 is then never computed). */
static void test_several_steps(void **state) {
  fixture *f = *state;
  const double theta[R] = {0.05, -0.02, -0.03, 0.01, 0.004, -0.006, 0.02, -0.01, 0.015, 0.03};
  const double x[3 * 3] = {0.2, 0.9, 0.5, 0.7, 0.1, 0.0, 0.3, 0.6, 0.8};
  const int y[3] = {1, 0, 2};
  int yq[4] = {0, 1, 2, 1};
  mpl_episode_stats st;
  for (int sym = 0; sym <= 2; sym++) {
    mpl_episode *ep = tiny_episode(f->ts, (mpl_feedback)sym, 0, NULL, 0);
    run_ok(ep, theta, x, y, 3, XQ, yq, 4, &st, NULL);
    refnet net;
    ref_init(&net, sym);
    for (int t = 0; t < 3; t++) ref_step(&net, theta, x + 3 * t, y[t]);
    assert_adapted(ep, &net, sym == 2 ? "direct, 3 steps" : sym ? "symmetric, 3 steps" : "fixed, 3 steps");
    mpl_episode_free(ep);
  }
  /* F0 and F9 only (the F^Oja rule), selected in the order F9, F0. */
  int which[2] = {9, 0};
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, which, 2);
  assert_int_equal(mpl_episode_nterms(ep), 2);
  double th2[2] = {0.02, 0.3};
  run_ok(ep, th2, x, y, 3, XQ, yq, 4, &st, NULL);
  refnet net;
  ref_init(&net, 0);
  double full[R] = {0};
  full[0] = 0.3, full[9] = 0.02;
  for (int t = 0; t < 3; t++) ref_step(&net, full, x + 3 * t, y[t]);
  assert_adapted(ep, &net, "F9,F0 selection");
  mpl_episode_free(ep);
}

/* Query loss (mean cross-entropy), accuracy and the orthonormality statistic on the initial
 * weights (theta = 0), against the reference forward pass. */
static void test_query_stats(void **state) {
  fixture *f = *state;
  refnet net;
  ref_init(&net, 0);
  double y[4][L + 1][NMAX], z[4][L + 1][NMAX];
  int yq[4];
  for (int q = 0; q < 4; q++) {
    ref_forward(&net, XQ + 3 * q, y[q], z[q]);
    int arg = 0;
    for (int i = 1; i < N[L]; i++)
      if (z[q][L][i] > z[q][L][arg]) arg = i;
    yq[q] = q == 2 ? (arg + 1) % N[L] : arg; /* three right, one wrong */
  }
  double loss = 0;
  for (int q = 0; q < 4; q++) loss += -log(y[q][L][yq[q]]);
  loss /= 4;
  double ortho[L + 1] = {0};
  for (int l = 1; l <= L; l++)
    for (int q = 0; q < 4; q++) { /* |W (y_{l-1} - W^T y_l)|^2, y_L the softmax output */
      double d[NMAX];
      for (int j = 0; j < N[l - 1]; j++) {
        d[j] = y[q][l - 1][j];
        for (int i = 0; i < N[l]; i++) d[j] -= net.W[l][i * N[l - 1] + j] * y[q][l][i];
      }
      for (int i = 0; i < N[l]; i++) {
        double s = 0;
        for (int j = 0; j < N[l - 1]; j++) s += net.W[l][i * N[l - 1] + j] * d[j];
        ortho[l] += s * s;
      }
    }
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
  double theta[R] = {0}, grad[R];
  mpl_episode_stats st;
  run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, grad);
  assert_int_equal(st.finite, 1);
  mpl_assert_close(st.loss, loss, 1e-12, 0);
  mpl_assert_close(st.accuracy, 0.75, 0, 0);
  for (int l = 1; l <= L; l++) mpl_assert_close(st.ortho[l], ortho[l], 1e-10, 1e-15);
  /* One query image, labelled right and wrong. */
  run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 1, &st, NULL);
  mpl_assert_close(st.accuracy, 1.0, 0, 0);
  mpl_assert_close(st.loss, -log(y[0][L][yq[0]]), 1e-12, 0);
  int wrong = (yq[0] + 1) % N[L];
  run_ok(ep, theta, X1, &Y1, 1, XQ, &wrong, 1, &st, NULL);
  mpl_assert_close(st.accuracy, 0.0, 0, 0);
  mpl_assert_close(st.loss, -log(y[0][L][wrong]), 1e-12, 0);
  mpl_episode_free(ep);
}

static double ref_angle(const double *a, const double *b, int n) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < n; i++) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return acos(ab / sqrt(aa * bb)) * (180 / 3.14159265358979323846);
}

/* alpha_l: the angle between the query-batch means of e_l computed with B and with W^T. */
static void test_angles(void **state) {
  fixture *f = *state;
  refnet net;
  ref_init(&net, 0);
  int yq[4] = {0, 1, 2, 1};
  double mfa[L + 1][NMAX] = {{0}}, mbp[L + 1][NMAX] = {{0}};
  for (int q = 0; q < 4; q++) {
    double y[L + 1][NMAX], z[L + 1][NMAX], e[L + 1][NMAX];
    ref_forward(&net, XQ + 3 * q, y, z);
    ref_errors(&net, 0, y, yq[q], e);
    for (int l = 0; l <= L; l++)
      for (int j = 0; j < N[l]; j++) mfa[l][j] += e[l][j] / 4;
    ref_errors(&net, 1, y, yq[q], e);
    for (int l = 0; l <= L; l++)
      for (int j = 0; j < N[l]; j++) mbp[l][j] += e[l][j] / 4;
  }
  double theta[R] = {0};
  mpl_episode_stats st;
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
  run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL);
  for (int l = 0; l < L; l++) {
    double want = ref_angle(mfa[l], mbp[l], N[l]);
    assert_true(want > 1); /* B and W differ: the check is not vacuous */
    mpl_assert_close(st.angle[l], want, 1e-9, 1e-9);
  }
  mpl_assert_close(st.angle[L], 0, 0, 0);
  mpl_episode_free(ep);
  /* Fixed feedback with B = W: every alpha is ~0. */
  ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
  for (int l = 1; l <= L; l++)
    memcpy(mpl_episode_feedback(ep, l), W_init[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
  run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL);
  for (int l = 0; l <= L; l++)
    if (!(fabs(st.angle[l]) < 1e-4)) fail_msg("B = W: alpha_%d = %g degrees", l, st.angle[l]);
  mpl_episode_free(ep);
}

/* Direct feedback: e_l = (D_l^T e_L) * g(y_l) by hand on the tiny net for x = X1, label 1 (worked
 * out here from W, B and D, not from ref_errors), checked through F0's update of layers 1 and 2
 * (dW_l = -theta e_l y_{l-1}^T) and F2's of layer 1 (-theta e_1 e_0^T, which reads e_0 = D_0^T
 * e_L * g(x)); and the alignment angles alpha_l between the batch means of the DFA signal and
 * of the backprop error. */
static void test_direct(void **state) {
  fixture *f = *state;
  double z1[2], y1[2], z2[2], y2[2], z3[3], s = 0, e3[3], e2[2], e1[2], e0[3];
  for (int i = 0; i < 2; i++) {
    z1[i] = W_init[1][3 * i] * X1[0] + W_init[1][3 * i + 1] * X1[1] + W_init[1][3 * i + 2] * X1[2];
    y1[i] = log1p(exp(BETA * z1[i])) / BETA;
  }
  for (int i = 0; i < 2; i++) {
    z2[i] = W_init[2][2 * i] * y1[0] + W_init[2][2 * i + 1] * y1[1];
    y2[i] = log1p(exp(BETA * z2[i])) / BETA;
  }
  for (int i = 0; i < 3; i++) s += exp(z3[i] = W_init[3][2 * i] * y2[0] + W_init[3][2 * i + 1] * y2[1]);
  for (int i = 0; i < 3; i++) e3[i] = exp(z3[i]) / s - (i == Y1);
  /* e_2 through B_3 (= D_2), e_1 through D_1 (3 x 2), e_0 through D_0 (3 x 3): all from e_3 */
  for (int j = 0; j < 2; j++) {
    e2[j] = (B_init[3][j] * e3[0] + B_init[3][2 + j] * e3[1] + B_init[3][4 + j] * e3[2]) / (1 + exp(-BETA * z2[j]));
    e1[j] = (D_init[1][j] * e3[0] + D_init[1][2 + j] * e3[1] + D_init[1][4 + j] * e3[2]) / (1 + exp(-BETA * z1[j]));
  }
  for (int j = 0; j < 3; j++)
    e0[j] = (D_init[0][j] * e3[0] + D_init[0][3 + j] * e3[1] + D_init[0][6 + j] * e3[2]) * (1 - exp(-BETA * X1[j]));
  int yq[4] = {0, 1, 2, 1};
  mpl_episode_stats st;
  for (int r = 0; r <= 2; r += 2) {
    double theta[R] = {0};
    theta[r] = 0.37;
    mpl_episode *ep = tiny_episode(f->ts, MPL_FB_DIRECT, 0, NULL, 0);
    run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL);
    const double *w1 = mpl_episode_adapted(ep, 1), *w2 = mpl_episode_adapted(ep, 2);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        mpl_assert_close(w1[3 * i + j], W_init[1][3 * i + j] - 0.37 * e1[i] * (r ? e0[j] : X1[j]), 1e-14, 1e-12);
    for (int i = 0; r == 0 && i < 2; i++)
      for (int j = 0; j < 2; j++) mpl_assert_close(w2[2 * i + j], W_init[2][2 * i + j] - 0.37 * e2[i] * y1[j], 1e-14, 1e-12);
    mpl_episode *fa = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0); /* not FA's: its e_1 comes from B_2 */
    run_ok(fa, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL);
    assert_true(fabs(mpl_episode_adapted(fa, 1)[0] - w1[0]) > 1e-6);
    mpl_episode_free(fa);
    mpl_episode_free(ep);
  }
  /* alpha_l: DFA's signal against backprop's error, query-batch means */
  refnet net;
  ref_init(&net, 2);
  double mdfa[L + 1][NMAX] = {{0}}, mbp[L + 1][NMAX] = {{0}}, theta[R] = {0};
  for (int q = 0; q < 4; q++) {
    double y[L + 1][NMAX], z[L + 1][NMAX], e[L + 1][NMAX];
    ref_forward(&net, XQ + 3 * q, y, z);
    ref_errors(&net, 2, y, yq[q], e);
    for (int l = 0; l <= L; l++)
      for (int j = 0; j < N[l]; j++) mdfa[l][j] += e[l][j] / 4;
    ref_errors(&net, 1, y, yq[q], e);
    for (int l = 0; l <= L; l++)
      for (int j = 0; j < N[l]; j++) mbp[l][j] += e[l][j] / 4;
  }
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_DIRECT, 0, NULL, 0);
  run_ok(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL);
  for (int l = 0; l < L; l++) {
    double want = ref_angle(mdfa[l], mbp[l], N[l]);
    assert_true(want > 1);
    mpl_assert_close(st.angle[l], want, 1e-9, 1e-9);
  }
  mpl_assert_close(st.angle[L], 0, 0, 0);
  mpl_episode_free(ep);
}

/* Images are bytes / 255, for which the engine looks g(x) = 1 - exp(-beta x) up in a table
 * (e_0, the input's alpha_0): the same values as computed. F2 reads e_0 at layer 1. */
static void test_pixel_inputs(void **state) {
  fixture *f = *state;
  const double xp[3] = {0 / 255.0, 128 / 255.0, 255 / 255.0};
  const double xq[4 * 3] = {3 / 255.0, 0 / 255.0, 200 / 255.0, 17 / 255.0, 255 / 255.0, 1 / 255.0,
                            90 / 255.0, 90 / 255.0, 0 / 255.0, 254 / 255.0, 41 / 255.0, 7 / 255.0};
  int yq[4] = {2, 0, 1, 1};
  for (int sym = 0; sym <= 1; sym++) {
    mpl_episode *ep = tiny_episode(f->ts, sym ? MPL_FB_SYMMETRIC : MPL_FB_FIXED, 0, NULL, 0);
    double theta[R] = {0};
    theta[2] = 0.37;
    mpl_episode_stats st;
    run_ok(ep, theta, xp, &Y1, 1, xq, yq, 4, &st, NULL);
    refnet net;
    ref_init(&net, sym);
    ref_step(&net, theta, xp, Y1);
    assert_adapted(ep, &net, sym ? "pixels, symmetric, F2" : "pixels, fixed, F2");
    mpl_episode_free(ep);
  }
  refnet net;
  ref_init(&net, 0);
  double mfa[NMAX] = {0}, mbp[NMAX] = {0};
  for (int q = 0; q < 4; q++) {
    double y[L + 1][NMAX], z[L + 1][NMAX], e[L + 1][NMAX];
    ref_forward(&net, xq + 3 * q, y, z);
    ref_errors(&net, 0, y, yq[q], e);
    for (int j = 0; j < N[0]; j++) mfa[j] += e[0][j] / 4;
    ref_errors(&net, 1, y, yq[q], e);
    for (int j = 0; j < N[0]; j++) mbp[j] += e[0][j] / 4;
  }
  double theta[R] = {0};
  mpl_episode_stats st;
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
  run_ok(ep, theta, xp, &Y1, 1, xq, yq, 4, &st, NULL);
  double want = ref_angle(mfa, mbp, N[0]);
  assert_true(want > 1);
  mpl_assert_close(st.angle[0], want, 1e-9, 1e-9);
  mpl_episode_free(ep);
}

/* Random training data for the gradient runs. */
static void random_data(gsl_rng *rng, int n, double *x, int *y) {
  for (int i = 0; i < n * N[0]; i++) x[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < n; i++) y[i] = (int)gsl_rng_uniform_int(rng, (unsigned long)N[L]);
}

static const double THETA_BIO[R] = {0.05, 0, -0.02, 0, 0, 0, 0, 0, 0, 0.03};

/* The run leaves W and B as they were: a second run gives bit-identical results. */
static void test_run_twice(void **state) {
  fixture *f = *state;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 7);
  double x[8 * 3];
  int y[8], yq[4] = {0, 1, 2, 1};
  random_data(rng, 8, x, y);
  for (int sym = 0; sym <= 1; sym++) {
    mpl_episode *ep = tiny_episode(f->ts, sym ? MPL_FB_SYMMETRIC : MPL_FB_FIXED, 0, NULL, 0);
    double g1[R], g2[R], adapted[L + 1][NMAX * NMAX];
    mpl_episode_stats s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    run_ok(ep, THETA_BIO, x, y, 8, XQ, yq, 4, &s1, g1);
    for (int l = 1; l <= L; l++) {
      assert_memory_equal(mpl_episode_weights(ep, l), W_init[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
      assert_memory_equal(mpl_episode_feedback(ep, l), B_init[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
      memcpy(adapted[l], mpl_episode_adapted(ep, l), (size_t)(N[l] * N[l - 1]) * sizeof(double));
    }
    run_ok(ep, THETA_BIO, x, y, 8, XQ, yq, 4, &s2, g2);
    assert_memory_equal(g1, g2, sizeof g1);
    assert_memory_equal(&s1, &s2, sizeof s1);
    for (int l = 1; l <= L; l++)
      assert_memory_equal(mpl_episode_adapted(ep, l), adapted[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
    /* A run without the gradient gives the same adapted weights and statistics. */
    mpl_episode_stats s3;
    memset(&s3, 0, sizeof s3);
    run_ok(ep, THETA_BIO, x, y, 8, XQ, yq, 4, &s3, NULL);
    assert_memory_equal(&s1, &s3, sizeof s1);
    /* The gradient is not trivially zero. */
    assert_true(fabs(g1[0]) > 0 && fabs(g1[2]) > 0 && fabs(g1[9]) > 0);
    mpl_episode_free(ep);
  }
  gsl_rng_free(rng);
}

/* No training steps: the adapted weights are the initial ones and the gradient is zero. */
static void test_no_training_steps(void **state) {
  fixture *f = *state;
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
  double grad[R];
  int yq[4] = {0, 1, 2, 1};
  mpl_episode_stats st;
  for (int r = 0; r < R; r++) grad[r] = 1;
  run_ok(ep, THETA_BIO, NULL, NULL, 0, XQ, yq, 4, &st, grad);
  assert_int_equal(st.finite, 1);
  assert_true(st.loss > 0);
  for (int r = 0; r < R; r++) mpl_assert_close(grad[r], 0, 0, 0);
  for (int l = 1; l <= L; l++)
    assert_memory_equal(mpl_episode_adapted(ep, l), W_init[l], (size_t)(N[l] * N[l - 1]) * sizeof(double));
  mpl_episode_free(ep);
}

/* On the dense path, the checkpoint segment length changes nothing, bit for bit (the lazy
 * path: test_lazy_matches_dense). */
static void test_segment_invariance(void **state) {
  fixture *f = *state;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 11);
  enum { T = 10 };
  double x[T * 3];
  int y[T], yq[4] = {2, 0, 1, 1};
  random_data(rng, T, x, y);
  const int segs[] = {1, 3, 0, 4, 10, 25};
  for (int sym = 0; sym <= 1; sym++) {
    double g0[R] = {0};
    mpl_episode_stats s0 = {0};
    for (size_t k = 0; k < sizeof segs / sizeof *segs; k++) {
      mpl_episode *ep = tiny_episode_dense(f->ts, sym ? MPL_FB_SYMMETRIC : MPL_FB_FIXED, segs[k], 1, NULL, 0);
      double g[R];
      mpl_episode_stats st;
      memset(&st, 0, sizeof st);
      run_ok(ep, THETA_BIO, x, y, T, XQ, yq, 4, &st, g);
      if (k == 0) {
        memcpy(g0, g, sizeof g);
        s0 = st;
      } else {
        if (memcmp(g, g0, sizeof g) != 0)
          fail_msg("segment %d changes the gradient (feedback %d): dtheta0 %.17g vs %.17g", segs[k], sym, g[0], g0[0]);
        mpl_assert_close(st.loss, s0.loss, 0, 0);
      }
      mpl_episode_free(ep);
    }
  }
  gsl_rng_free(rng);
}

/* Rules without native terms keep weights and adjoints lazily (a checkpoint, pending rank-1
 * rows and a scalar for the weight-proportional part; <dL/dW, W> tracked step by step); the
 * dense path (cfg.dense) updates W in place and recomputes. Both compute the same episode:
 * all ten terms, F3 (weight decay) included, for every segment length and both feedback
 * modes; and the lazy path is bit-reproducible for a given segment length. */
static void test_lazy_matches_dense(void **state) {
  fixture *f = *state;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 12);
  enum { T = 11 };
  double x[T * 3];
  int y[T], yq[4] = {2, 0, 1, 1};
  random_data(rng, T, x, y);
  const double theta[R] = {0.05, 0.01, -0.02, 0.04, 0.003, -0.002, 0.004, 0.001, -0.003, 0.03};
  mpl_rule *rule = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl__rule_compile(f->ts, NULL, 0, &rule, &err), MPL_OK);
  assert_true(mpl__rule_is_lazy(rule) && mpl__rule_has_wmat(rule)); /* the premise: the path under test */
  mpl__rule_free(rule);
  const int segs[] = {0, 1, 2, 4, 11, 30};
  for (int sym = 0; sym <= 2; sym++) {
    mpl_feedback fb = (mpl_feedback)sym;
    mpl_episode *dense = tiny_episode_dense(f->ts, fb, 0, 1, NULL, 0);
    double gd[R];
    mpl_episode_stats sd;
    run_ok(dense, theta, x, y, T, XQ, yq, 4, &sd, gd);
    for (size_t k = 0; k < sizeof segs / sizeof *segs; k++) {
      mpl_episode *lazy = tiny_episode(f->ts, fb, segs[k], NULL, 0);
      double g[R], g2[R];
      mpl_episode_stats sl, sl2, sp;
      run_ok(lazy, theta, x, y, T, XQ, yq, 4, &sl, g);
      mpl_assert_close(sl.loss, sd.loss, 1e-13, 1e-14);
      for (int i = 0; i < R; i++)
        if (!(fabs(g[i] - gd[i]) <= 1e-11 * fabs(gd[i]) + 1e-14))
          fail_msg("segment %d, feedback %d: dL/dtheta_F%d lazy %.17g, dense %.17g", segs[k], sym, i, g[i], gd[i]);
      for (int l = 1; l <= L; l++)
        for (int j = 0; j < N[l] * N[l - 1]; j++)
          mpl_assert_close(mpl_episode_adapted(lazy, l)[j], mpl_episode_adapted(dense, l)[j], 1e-13, 1e-14);
      run_ok(lazy, theta, x, y, T, XQ, yq, 4, &sl2, g2);
      assert_memory_equal(g, g2, sizeof g);
      assert_memory_equal(&sl.loss, &sl2.loss, sizeof sl.loss);
      run_ok(lazy, theta, x, y, T, XQ, yq, 4, &sp, NULL); /* the primal loop alone */
      mpl_assert_close(sp.loss, sl.loss, 1e-13, 1e-14);
      mpl_episode_free(lazy);
    }
    mpl_episode_free(dense);
  }
  gsl_rng_free(rng);
}

/* Lazy vs dense over a longer episode than test_lazy_matches_dense: several blocks of the
 * reverse pass (its adjoint products are computed a block of steps at once, and the adjoints
 * materialised at each block's end), a last partial block, layer 1's forward products computed
 * a segment at once, segments that do and do not line up with the blocks; for all ten terms,
 * FA's F0 alone and F0 with Oja's F9 (one update row per step, with and without a
 * weight-proportional piece). */
static void lazy_vs_dense_long(const mpl_termset *ts, const int *which, int n, const double *theta, const char *what) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 5);
  enum { T = 53 };
  double x[T * 3];
  int y[T], yq[4] = {1, 2, 0, 1};
  random_data(rng, T, x, y);
  const int segs[] = {0, 1, 3, 16, 17, 53};
  for (int sym = 0; sym <= 2; sym++) {
    mpl_feedback fb = (mpl_feedback)sym;
    mpl_episode *dense = tiny_episode_dense(ts, fb, 0, 1, which, n);
    double gd[R], g[R], g2[R];
    mpl_episode_stats sd, sl, sl2;
    run_ok(dense, theta, x, y, T, XQ, yq, 4, &sd, gd);
    for (size_t k = 0; k < sizeof segs / sizeof *segs; k++) {
      mpl_episode *lazy = tiny_episode(ts, fb, segs[k], which, n);
      run_ok(lazy, theta, x, y, T, XQ, yq, 4, &sl, g);
      mpl_assert_close(sl.loss, sd.loss, 1e-13, 1e-14);
      for (int i = 0; i < mpl_episode_nterms(lazy); i++)
        if (!(fabs(g[i] - gd[i]) <= 1e-11 * fabs(gd[i]) + 1e-14))
          fail_msg("%s, segment %d, feedback %d: dL/dtheta[%d] lazy %.17g, dense %.17g", what, segs[k], sym, i, g[i],
                   gd[i]);
      for (int l = 1; l <= L; l++)
        for (int j = 0; j < N[l] * N[l - 1]; j++)
          mpl_assert_close(mpl_episode_adapted(lazy, l)[j], mpl_episode_adapted(dense, l)[j], 1e-13, 1e-14);
      run_ok(lazy, theta, x, y, T, XQ, yq, 4, &sl2, g2);
      assert_memory_equal(g, g2, (size_t)mpl_episode_nterms(lazy) * sizeof *g);
      mpl_episode_free(lazy);
    }
    mpl_episode_free(dense);
  }
  gsl_rng_free(rng);
}

static void test_lazy_blocks(void **state) {
  fixture *f = *state;
  const double all[R] = {0.05, 0.01, -0.02, 0.04, 0.003, -0.002, 0.004, 0.001, -0.003, 0.03};
  lazy_vs_dense_long(f->ts, NULL, 0, all, "all ten terms");
  const int f0[1] = {0}, f09[2] = {0, 9};
  const double th0[1] = {0.2}, th09[2] = {0.2, 0.05};
  lazy_vs_dense_long(f->ts, f0, 1, th0, "F0");
  lazy_vs_dense_long(f->ts, f09, 2, th09, "F0, F9");
}

/* The adapted network's query logits that the search's dead-network probe reads
 * (mpl__episode_query_logits): those of a forward pass with the adapted weights, before the
 * loss's backward pass reuses their buffer; with and without the gradient. */
static void test_query_logits(void **state) {
  fixture *f = *state;
  const double x[3 * 3] = {0.2, 0.9, 0.5, 0.7, 0.1, 0.0, 0.3, 0.6, 0.8};
  const int y[3] = {1, 0, 2}, yq[4] = {0, 1, 2, 1}, f0[1] = {0};
  const double theta[1] = {0.4};
  double grad[1];
  for (int with_grad = 0; with_grad <= 1; with_grad++) {
    mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, f0, 1);
    mpl_episode_stats st;
    run_ok(ep, theta, x, y, 3, XQ, yq, 4, &st, with_grad ? grad : NULL);
    refnet net;
    ref_init(&net, 0);
    for (int l = 1; l <= L; l++) memcpy(net.W[l], mpl_episode_adapted(ep, l), (size_t)(N[l] * N[l - 1]) * sizeof(double));
    const double *got = mpl__episode_query_logits(ep);
    for (int i = 0; i < 4; i++) {
      double ry[L + 1][NMAX], rz[L + 1][NMAX];
      ref_forward(&net, XQ + 3 * i, ry, rz);
      for (int j = 0; j < N[L]; j++) mpl_assert_close(got[i * N[L] + j], rz[L][j], 1e-13, 1e-14);
    }
    mpl_episode_free(ep);
  }
}

/* Xavier weights and feedback: W_l then B_l, each entry a (2u - 1) with a = sqrt(6 / (fan_in +
 * fan_out)) and u = gsl_rng_uniform, in this order, bit for bit, and the generator left where
 * those draws leave it; for mt19937 (drawn from its state directly), from a fresh seed and from
 * the middle of its 624-word blocks, and for another generator. */
static void test_init_weights(void **state) {
  fixture *f = *state;
  const gsl_rng_type *types[2] = {gsl_rng_mt19937, gsl_rng_taus2};
  for (int k = 0; k < 2; k++) {
    gsl_rng *a = gsl_rng_alloc(types[k]), *b = gsl_rng_alloc(types[k]);
    gsl_rng_set(a, 99);
    gsl_rng_set(b, 99);
    mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
    for (int rep = 0; rep < 60; rep++) { /* 32 draws each: crosses several blocks */
      if (rep == 7) gsl_rng_get(a), gsl_rng_get(b); /* an odd offset */
      mpl_episode_init_weights(ep, a);
      for (int fb = 0; fb <= 1; fb++)
        for (int l = 1; l <= L; l++) {
          double s = sqrt(6.0 / (N[l] + N[l - 1]));
          const double *w = fb ? mpl_episode_feedback(ep, l) : mpl_episode_weights(ep, l);
          for (int j = 0; j < N[l] * N[l - 1]; j++) {
            double want = s * (2 * gsl_rng_uniform(b) - 1);
            if (memcmp(&w[j], &want, sizeof want))
              fail_msg("%s, init %d: %s_%d[%d] = %.17g, want %.17g", gsl_rng_name(a), rep, fb ? "B" : "W", l, j, w[j],
                       want);
          }
        }
      assert_true(gsl_rng_get(a) == gsl_rng_get(b));
    }
    mpl_episode_free(ep);
    /* Direct feedback: the same W and B from the same state, and the same state afterwards (D
     * comes from a stream of its own); D_l Xavier for n_L x n_l, the same for the same state. */
    mpl_net_cfg cfg = tiny_cfg(MPL_FB_DIRECT, 0);
    mpl_episode *dfa = NULL, *fa = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
    mpl_err err = {0};
    assert_int_equal(mpl_episode_new(&cfg, f->ts, NULL, 0, &dfa, &err), MPL_OK);
    double d0[NMAX * NMAX];
    for (int rep = 0; rep < 3; rep++) {
      gsl_rng_set(a, 5 + (rep == 2 ? 0 : (unsigned long)rep));
      gsl_rng_set(b, 5 + (rep == 2 ? 0 : (unsigned long)rep));
      mpl_episode_init_weights(dfa, a);
      mpl_episode_init_weights(fa, b);
      for (int l = 1; l <= L; l++) {
        size_t nw = (size_t)(N[l] * N[l - 1]) * sizeof(double);
        assert_memory_equal(mpl_episode_weights(dfa, l), mpl_episode_weights(fa, l), nw);
        assert_memory_equal(mpl_episode_feedback(dfa, l), mpl_episode_feedback(fa, l), nw);
      }
      assert_true(gsl_rng_get(a) == gsl_rng_get(b));
      for (int l = 0; l < L - 1; l++) {
        const double *d = mpl_episode_direct(dfa, l), lim = sqrt(6.0 / (N[l] + N[L]));
        double amax = 0;
        for (int j = 0; j < N[L] * N[l]; j++) assert_true(fabs(d[j]) <= lim), amax = fmax(amax, fabs(d[j]));
        assert_true(amax > 0.1 * lim);
      }
      if (rep == 0) memcpy(d0, mpl_episode_direct(dfa, 0), sizeof(double) * N[L] * N[0]);
      if (rep == 1) assert_memory_not_equal(d0, mpl_episode_direct(dfa, 0), sizeof(double) * N[L] * N[0]);
      if (rep == 2) assert_memory_equal(d0, mpl_episode_direct(dfa, 0), sizeof(double) * N[L] * N[0]);
    }
    mpl_episode_free(dfa);
    mpl_episode_free(fa);
    gsl_rng_free(a);
    gsl_rng_free(b);
  }
}

/* FA's F0 = -e_post pre^T is one rank-1 group sharing pre, so that at layer 1, where the input's
 * adjoint is not wanted, the reverse pass needs only the products G pre, not G^T e_post; at the
 * other layers both. The pool's groups stay groups by u. */
static void test_products_needed(void **state) {
  fixture *f = *state;
  mpl_rule *rule = NULL;
  mpl_err err = {0};
  const int f0[1] = {0};
  assert_int_equal(mpl__rule_compile(f->ts, f0, 1, &rule, &err), MPL_OK);
  assert_int_equal(rule->n_groups, 1);
  assert_int_equal(rule->group_side[0], 1);
  int p, q;
  mpl__rule_products_needed(rule, 1u << MPL_SIG_PRE | 1u << MPL_SIG_EPRE, &p, &q);
  assert_true(!p && q);
  mpl__rule_products_needed(rule, 0, &p, &q);
  assert_true(p && q);
  mpl__rule_free(rule);
  assert_int_equal(mpl__rule_compile(f->ts, NULL, 0, &rule, &err), MPL_OK);
  for (int g = 0; g < rule->n_groups; g++) assert_int_equal(rule->group_side[g], 0);
  mpl__rule_products_needed(rule, 1u << MPL_SIG_PRE, &p, &q);
  assert_true(p && q);
  mpl__rule_free(rule);
}

static void test_bad_labels(void **state) {
  fixture *f = *state;
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
  double theta[R] = {0}, grad[R];
  mpl_episode_stats st;
  mpl_err err = {0};
  int ytrain[2] = {1, 3}, yq[4] = {0, 1, 2, 1};
  double x[2 * 3] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  int rc = mpl_episode_run(ep, theta, x, ytrain, 2, XQ, yq, 4, &st, grad, &err);
  assert_true(rc < 0);
  assert_int_equal(err.code, rc);
  mpl_assert_contains(err.msg, "training label 3 at position 1");
  mpl_assert_contains(err.msg, "3 units");
  ytrain[1] = 0;
  yq[2] = -1;
  mpl_err_clear(&err);
  rc = mpl_episode_run(ep, theta, x, ytrain, 2, XQ, yq, 4, &st, NULL, &err);
  assert_true(rc < 0);
  mpl_assert_contains(err.msg, "query label -1 at position 2");
  /* No query samples, negative training count. */
  yq[2] = 2;
  assert_true(mpl_episode_run(ep, theta, x, ytrain, 2, XQ, yq, 0, &st, NULL, &err) < 0);
  assert_true(mpl_episode_run(ep, theta, x, ytrain, -1, XQ, yq, 4, &st, NULL, &err) < 0);
  /* Still usable afterwards. */
  run_ok(ep, theta, x, ytrain, 2, XQ, yq, 4, &st, grad);
  mpl_episode_free(ep);
}

/* A non-finite theta is refused, naming the term. */
static void test_nonfinite_theta(void **state) {
  fixture *f = *state;
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, NULL, 0);
  double theta[R] = {0}, grad[R];
  mpl_episode_stats st;
  mpl_err err = {0};
  int yq[4] = {0, 1, 2, 1};
  theta[2] = INFINITY;
  assert_int_equal(mpl_episode_run(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, grad, &err), MPL_ENUMERIC);
  mpl_assert_contains(err.msg, "'F2'");
  theta[2] = 0;
  theta[7] = NAN;
  assert_int_equal(mpl_episode_run(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL, &err), MPL_ENUMERIC);
  mpl_assert_contains(err.msg, "'F7'");
  mpl_episode_free(ep);
}

/* The same with a selection whose order differs from the term set's: theta[0] is F9's.
 * (The episode is freed before the checks, so a failure here leaks nothing under ASan.) */
static void test_nonfinite_theta_selection(void **state) {
  fixture *f = *state;
  int which[2] = {9, 2};
  mpl_episode *ep = tiny_episode(f->ts, MPL_FB_FIXED, 0, which, 2);
  double theta[2] = {NAN, 0.01};
  mpl_episode_stats st;
  mpl_err e1 = {0}, e2 = {0};
  int yq[4] = {0, 1, 2, 1};
  int rc1 = mpl_episode_run(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL, &e1);
  theta[0] = 0.01, theta[1] = -INFINITY;
  int rc2 = mpl_episode_run(ep, theta, X1, &Y1, 1, XQ, yq, 4, &st, NULL, &e2);
  mpl_episode_free(ep);
  assert_int_equal(rc1, MPL_ENUMERIC);
  assert_int_equal(rc2, MPL_ENUMERIC);
  mpl_assert_contains(e1.msg, "'F9'");
  mpl_assert_contains(e2.msg, "'F2'");
}

/* A huge theta makes the weights overflow: reported, not a crash. F0 = 1e6 alone is not enough
 * on this tiny net (its first steps kill every hidden unit, y = 0, and the updates stop with
 * finite weights), so the weight-decay term with -1e6 (W <- (1 + 1e6) W each step) is added. */
static void test_divergence(void **state) {
  fixture *f = *state;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 3);
  enum { T = 60 };
  double x[T * 3];
  int y[T], yq[4] = {0, 1, 2, 1};
  random_data(rng, T, x, y);
  double theta[R] = {0}, grad[R];
  theta[0] = 1e6;
  theta[3] = -1e6;
  for (int sym = 0; sym <= 1; sym++) {
    mpl_episode *ep = tiny_episode(f->ts, sym ? MPL_FB_SYMMETRIC : MPL_FB_FIXED, 0, NULL, 0);
    mpl_episode_stats st;
    mpl_err err = {0};
    memset(&st, 0, sizeof st);
    st.finite = 1;
    assert_int_equal(mpl_episode_run(ep, theta, x, y, T, XQ, yq, 4, &st, grad, &err), MPL_ENUMERIC);
    assert_int_equal(st.finite, 0);
    mpl_assert_contains(err.msg, "diverged");
    for (int r = 0; r < R; r++) assert_true(isfinite(grad[r]));
    /* Without the gradient the run itself succeeds and reports the divergence. */
    st.finite = 1;
    int rc = mpl_episode_run(ep, theta, x, y, T, XQ, yq, 4, &st, NULL, &err);
    assert_true(rc == MPL_OK || rc == MPL_ENUMERIC);
    assert_int_equal(st.finite, 0);
    /* F0 = 1e6 alone: whatever happens, the result is consistent. */
    double th0[R] = {0};
    th0[0] = 1e6;
    rc = mpl_episode_run(ep, th0, x, y, T, XQ, yq, 4, &st, grad, &err);
    if (rc == MPL_OK) {
      assert_int_equal(st.finite, 1);
      for (int r = 0; r < R; r++) assert_true(isfinite(grad[r]));
    } else {
      assert_int_equal(rc, MPL_ENUMERIC);
    }
    /* A sane theta afterwards works again. */
    run_ok(ep, THETA_BIO, x, y, T, XQ, yq, 4, &st, grad);
    assert_int_equal(st.finite, 1);
    mpl_episode_free(ep);
  }
  gsl_rng_free(rng);
}

static void test_episode_new_errors(void **state) {
  fixture *f = *state;
  mpl_episode *ep = (mpl_episode *)0x1;
  mpl_err err = {0};
  mpl_net_cfg cfg = tiny_cfg(MPL_FB_FIXED, 0);
  cfg.n_layers = 0;
  assert_int_equal(mpl_episode_new(&cfg, f->ts, NULL, 0, &ep, &err), MPL_EINVAL);
  assert_null(ep);
  cfg = tiny_cfg(MPL_FB_FIXED, 0);
  cfg.beta = 0;
  assert_int_equal(mpl_episode_new(&cfg, f->ts, NULL, 0, &ep, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "beta");
  cfg = tiny_cfg(MPL_FB_FIXED, 0);
  cfg.sizes[2] = 0;
  assert_int_equal(mpl_episode_new(&cfg, f->ts, NULL, 0, &ep, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "layer 2");
  cfg = tiny_cfg((mpl_feedback)5, 0);
  assert_int_equal(mpl_episode_new(&cfg, f->ts, NULL, 0, &ep, &err), MPL_EINVAL);
  /* A term the compiler cannot lower is refused by name. */
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *hebb = mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_PRE));
  mpl_expr *tanh_wh = mpl_fn(ts, MPL_FN_TANH, mpl_add(ts, mpl_sig(ts, MPL_SIG_W), hebb));
  assert_int_equal(mpl_termset_add(ts, "tanhWH", NULL, tanh_wh, &err), MPL_OK);
  cfg = tiny_cfg(MPL_FB_FIXED, 0);
  assert_int_equal(mpl_episode_new(&cfg, ts, NULL, 0, &ep, &err), MPL_EUNSUPPORTED);
  assert_null(ep);
  mpl_assert_contains(err.msg, "'tanhWH'");
  mpl_termset_free(ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_sanity),
      cmocka_unit_test(test_one_step_each_term),
      cmocka_unit_test(test_pinned_values),
      cmocka_unit_test(test_several_steps),
      cmocka_unit_test(test_query_stats),
      cmocka_unit_test(test_angles),
      cmocka_unit_test(test_direct),
      cmocka_unit_test(test_pixel_inputs),
      cmocka_unit_test(test_run_twice),
      cmocka_unit_test(test_no_training_steps),
      cmocka_unit_test(test_segment_invariance),
      cmocka_unit_test(test_lazy_matches_dense),
      cmocka_unit_test(test_lazy_blocks),
      cmocka_unit_test(test_query_logits),
      cmocka_unit_test(test_init_weights),
      cmocka_unit_test(test_products_needed),
      cmocka_unit_test(test_bad_labels),
      cmocka_unit_test(test_nonfinite_theta),
      cmocka_unit_test(test_nonfinite_theta_selection),
      cmocka_unit_test(test_divergence),
      cmocka_unit_test(test_episode_new_errors),
  };
  return cmocka_run_group_tests_name("net", tests, setup, teardown);
}
