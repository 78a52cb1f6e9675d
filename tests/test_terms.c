/* metaplast tests: the paper's terms F0..F9 and some non-paper IR terms against hand-written
 * formulas; the compiled update and its adjoint (dot-product test against central finite
 * differences); `--terms` parsing and `--init` overrides. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/expr.h"
#include "metaplast/terms.h"
#include "plan.h"

#define NPRE 7
#define NPOST 5
#define NW (NPRE * NPOST)
#define NMAX 8

#include "layer_fixture.h"

/* ---- A naive dense matrix type: the reference formulas are written with it literally ---- */

typedef struct mat { int r, c; double a[NMAX * NMAX]; } mat;

#define AT(m, i, j) ((m).a[(i) * (m).c + (j)])

static mat mzero(int r, int c) {
  mat m;
  memset(&m, 0, sizeof m);
  m.r = r, m.c = c;
  return m;
}

static mat col(const double *v, int n) {
  mat m = mzero(n, 1);
  for (int i = 0; i < n; i++) m.a[i] = v[i];
  return m;
}

static mat ones(int n) {
  mat m = mzero(n, 1);
  for (int i = 0; i < n; i++) m.a[i] = 1;
  return m;
}

static mat dense(const double *w, int r, int c) {
  mat m = mzero(r, c);
  memcpy(m.a, w, (size_t)r * (size_t)c * sizeof *w);
  return m;
}

static mat tr(mat A) {
  mat T = mzero(A.c, A.r);
  for (int i = 0; i < A.r; i++)
    for (int j = 0; j < A.c; j++) AT(T, j, i) = AT(A, i, j);
  return T;
}

/* The textbook O(r k c) product. */
static mat mm(mat A, mat B) {
  assert_int_equal(A.c, B.r);
  mat C = mzero(A.r, B.c);
  for (int i = 0; i < A.r; i++)
    for (int j = 0; j < B.c; j++) {
      double s = 0;
      for (int k = 0; k < A.c; k++) s += AT(A, i, k) * AT(B, k, j);
      AT(C, i, j) = s;
    }
  return C;
}

static mat mm3(mat A, mat B, mat C) { return mm(mm(A, B), C); }
static mat mm4(mat A, mat B, mat C, mat D) { return mm(mm3(A, B, C), D); }
static mat mm5(mat A, mat B, mat C, mat D, mat E) { return mm(mm4(A, B, C, D), E); }

static mat mlin(double x, mat A, double y, mat B) {
  assert_int_equal(A.r, B.r);
  assert_int_equal(A.c, B.c);
  mat C = mzero(A.r, A.c);
  for (int i = 0; i < A.r * A.c; i++) C.a[i] = x * A.a[i] + y * B.a[i];
  return C;
}

static mat mneg(mat A) { return mlin(-1, A, 0, A); }

/* The paper's F_r (PAPER.md §4.1, read literally as matrix products, left to right). */
static mat paper_ref(int r, const layer *d) {
  mat y0 = col(d->pre, NPRE), y1 = col(d->post, NPOST), e0 = col(d->epre, NPRE), e1 = col(d->epost, NPOST);
  mat W = dense(d->W, NPOST, NPRE), one = ones(NPOST);
  switch (r) {
  case 0: return mneg(mm(e1, tr(y0)));
  case 1: return mneg(mm(y1, tr(e0)));
  case 2: return mneg(mm(e1, tr(e0)));
  case 3: return mneg(W);
  case 4: return mneg(mm(one, tr(e0)));
  case 5: return mneg(mm4(e1, tr(one), y1, tr(y0)));
  case 6: return mneg(mm5(y1, tr(y1), W, e0, tr(e0)));
  case 7: return mneg(mm5(e1, tr(y1), W, e0, tr(y0)));
  case 8: return mneg(mm5(y1, tr(y0), tr(W), e1, tr(e0)));
  case 9: return mlin(1, mm(y1, tr(y0)), -1, mm3(y1, tr(y1), W));
  default: fail_msg("no paper term %d", r);
  }
  return mzero(0, 0);
}

/* ---- Non-paper terms built through the IR, each with a hand-written formula ---- */

typedef struct extra {
  const char *name;
  mpl_expr *(*build)(mpl_termset *ts);
  double (*ref)(const layer *d, int i, int j); /* entry (i, j) */
} extra;

#define SIG(s) mpl_sig(ts, MPL_SIG_##s)

static double sum_w(const layer *d) {
  double s = 0;
  for (int k = 0; k < NW; k++) s += d->W[k];
  return s;
}
static double w_times(const layer *d, const double *x, int i) { /* (W x)_i */
  double s = 0;
  for (int j = 0; j < NPRE; j++) s += d->W[i * NPRE + j] * x[j];
  return s;
}
static double wt_times(const layer *d, const double *x, int j) { /* (W^T x)_j */
  double s = 0;
  for (int i = 0; i < NPOST; i++) s += d->W[i * NPRE + j] * x[i];
  return s;
}
static double sigm(double x) { return 1 / (1 + exp(-x)); }

/* tanh(e_l) y_{l-1}^T */
static mpl_expr *b_tanh(mpl_termset *ts) { return mpl_outer(ts, mpl_fn(ts, MPL_FN_TANH, SIG(EPOST)), SIG(PRE)); }
static double r_tanh(const layer *d, int i, int j) { return tanh(d->epost[i]) * d->pre[j]; }
/* eHebb with an offset: e_l (e_{l-1} + 0.01)^T */
static mpl_expr *b_offset(mpl_termset *ts) { return mpl_outer(ts, SIG(EPOST), mpl_add(ts, SIG(EPRE), mpl_num(ts, 0.01))); }
static double r_offset(const layer *d, int i, int j) { return d->epost[i] * (d->epre[j] + 0.01); }
/* sum(W) e_l y_{l-1}^T */
static mpl_expr *b_sumw(mpl_termset *ts) { return mpl_mul(ts, mpl_sum(ts, SIG(W)), mpl_outer(ts, SIG(EPOST), SIG(PRE))); }
static double r_sumw(const layer *d, int i, int j) { return sum_w(d) * d->epost[i] * d->pre[j]; }
/* (y_l y_{l-1}^T) ⊙ (e_l e_{l-1}^T) */
static mpl_expr *b_had(mpl_termset *ts) {
  return mpl_mul(ts, mpl_outer(ts, SIG(POST), SIG(PRE)), mpl_outer(ts, SIG(EPOST), SIG(EPRE)));
}
static double r_had(const layer *d, int i, int j) { return d->post[i] * d->pre[j] * d->epost[i] * d->epre[j]; }
/* (W e_{l-1}) e_{l-1}^T */
static mpl_expr *b_wee(mpl_termset *ts) { return mpl_outer(ts, mpl_matmul(ts, SIG(W), SIG(EPRE)), SIG(EPRE)); }
static double r_wee(const layer *d, int i, int j) { return w_times(d, d->epre, i) * d->epre[j]; }
/* (e_l . y_l) + y_l e_{l-1}^T: a signal-dependent scalar broadcast over the matrix */
static mpl_expr *b_bcast(mpl_termset *ts) {
  return mpl_add(ts, mpl_dot(ts, SIG(EPOST), SIG(POST)), mpl_outer(ts, SIG(POST), SIG(EPRE)));
}
static double r_bcast(const layer *d, int i, int j) {
  double s = 0;
  for (int k = 0; k < NPOST; k++) s += d->epost[k] * d->post[k];
  return s + d->post[i] * d->epre[j];
}
/* 0.3 - e_l^2 exp(y_{l-1})^T: a constant broadcast (the ones matrix) minus an outer product */
static mpl_expr *b_const(mpl_termset *ts) {
  return mpl_sub(ts, mpl_num(ts, 0.3), mpl_outer(ts, mpl_fn(ts, MPL_FN_SQUARE, SIG(EPOST)), mpl_fn(ts, MPL_FN_EXP, SIG(PRE))));
}
static double r_const(const layer *d, int i, int j) { return 0.3 - d->epost[i] * d->epost[i] * exp(d->pre[j]); }
/* sum(sigmoid(y_l)) W: weight-proportional with a signal-dependent scalar */
static mpl_expr *b_sw(mpl_termset *ts) { return mpl_mul(ts, mpl_sum(ts, mpl_fn(ts, MPL_FN_SIGMOID, SIG(POST))), SIG(W)); }
static double r_sw(const layer *d, int i, int j) {
  double s = 0;
  for (int k = 0; k < NPOST; k++) s += sigm(d->post[k]);
  return s * d->W[i * NPRE + j];
}
/* y_l (W^T e_l)^T */
static mpl_expr *b_wte(mpl_termset *ts) { return mpl_outer(ts, SIG(POST), mpl_matmul(ts, mpl_t(ts, SIG(W)), SIG(EPOST))); }
static double r_wte(const layer *d, int i, int j) { return d->post[i] * wt_times(d, d->epost, j); }
/* (y_{l-1} e_l^T)^T */
static mpl_expr *b_tout(mpl_termset *ts) { return mpl_t(ts, mpl_outer(ts, SIG(PRE), SIG(EPOST))); }
static double r_tout(const layer *d, int i, int j) { return d->epost[i] * d->pre[j]; }
/* (e_l e_l^T) W (e_{l-1} y_{l-1}^T): a product of three matrices */
static mpl_expr *b_three(mpl_termset *ts) {
  return mpl_matmul(ts, mpl_matmul(ts, mpl_outer(ts, SIG(EPOST), SIG(EPOST)), SIG(W)), mpl_outer(ts, SIG(EPRE), SIG(PRE)));
}
static double r_three(const layer *d, int i, int j) {
  double s = 0;
  for (int k = 0; k < NPOST; k++) s += d->epost[k] * w_times(d, d->epre, k);
  return s * d->epost[i] * d->pre[j];
}
/* (y_l y_{l-1}^T + e_l e_{l-1}^T) ⊙ (1_l e_{l-1}^T): a Hadamard product distributed over a sum */
static mpl_expr *b_hsum(mpl_termset *ts) {
  mpl_expr *s = mpl_add(ts, mpl_outer(ts, SIG(POST), SIG(PRE)), mpl_outer(ts, SIG(EPOST), SIG(EPRE)));
  return mpl_mul(ts, s, mpl_outer(ts, mpl_ones(ts, MPL_DIM_POST), SIG(EPRE)));
}
static double r_hsum(const layer *d, int i, int j) {
  return (d->post[i] * d->pre[j] + d->epost[i] * d->epre[j]) * d->epre[j];
}
/* -sum(e_l e_{l-1}^T) W: the sum of a matrix given as pieces */
static mpl_expr *b_summ(mpl_termset *ts) { return mpl_mul(ts, mpl_sum(ts, mpl_outer(ts, SIG(EPOST), SIG(EPRE))), mpl_neg(ts, SIG(W))); }
static double r_summ(const layer *d, int i, int j) {
  double s = 0;
  for (int a = 0; a < NPOST; a++)
    for (int b = 0; b < NPRE; b++) s += d->epost[a] * d->epre[b];
  return -s * d->W[i * NPRE + j];
}
/* e_l (y_l^T W): a row vector times a matrix */
static mpl_expr *b_row(mpl_termset *ts) { return mpl_matmul(ts, SIG(EPOST), mpl_matmul(ts, mpl_t(ts, SIG(POST)), SIG(W))); }
static double r_row(const layer *d, int i, int j) { return d->epost[i] * wt_times(d, d->post, j); }
/* W - 2 (W (y_{l-1} ⊙ e_{l-1})) (tanh(y_{l-1}) / 3)^T */
static mpl_expr *b_mix(mpl_termset *ts) {
  mpl_expr *u = mpl_matmul(ts, SIG(W), mpl_mul(ts, SIG(PRE), SIG(EPRE)));
  mpl_expr *v = mpl_mul(ts, mpl_fn(ts, MPL_FN_TANH, SIG(PRE)), mpl_num(ts, 1.0 / 3));
  return mpl_sub(ts, SIG(W), mpl_mul(ts, mpl_num(ts, 2), mpl_outer(ts, u, v)));
}
static double r_mix(const layer *d, int i, int j) {
  double x[NPRE];
  for (int k = 0; k < NPRE; k++) x[k] = d->pre[k] * d->epre[k];
  return d->W[i * NPRE + j] - 2 * w_times(d, x, i) * tanh(d->pre[j]) / 3;
}

static const extra extras[] = {
    {"tanh_epost_pre", b_tanh, r_tanh},   {"ehebb_offset", b_offset, r_offset},
    {"sumW_outer", b_sumw, r_sumw},       {"hadamard_outers", b_had, r_had},
    {"We_e", b_wee, r_wee},               {"dot_broadcast", b_bcast, r_bcast},
    {"const_broadcast", b_const, r_const}, {"sum_sigmoid_W", b_sw, r_sw},
    {"y_Wte", b_wte, r_wte},              {"transposed_outer", b_tout, r_tout},
    {"three_matrices", b_three, r_three}, {"hadamard_sum", b_hsum, r_hsum},
    {"sum_matrix_W", b_summ, r_summ},     {"row_times_W", b_row, r_row},
    {"mixed", b_mix, r_mix},
};
#define N_EXTRAS ((int)(sizeof extras / sizeof extras[0]))

/* ---- Compiled-rule helpers ---- */

static mpl_rule *compile(const mpl_termset *ts, const int *which, int n) {
  mpl_rule *r = NULL;
  mpl_err err = {0};
  int rc = mpl__rule_compile(ts, which, n, &r, &err);
  if (rc < 0) fail_msg("mpl__rule_compile: %s", err.msg);
  return r;
}

static double *eval_vals(const mpl_rule *r, layer *d) {
  mpl_layer_io io = layer_io(d);
  double *val = calloc(mpl__rule_nvals(r, NPRE, NPOST) + 1, sizeof *val);
  mpl__rule_eval(r, &io, val);
  return val;
}

/* W_new = W + sum_r theta_r F_r, through eval + apply. */
static void update(const mpl_rule *r, const double *theta, layer *d, double *Wnew) {
  mpl_layer_io io = layer_io(d);
  double *val = eval_vals(r, d);
  double *scratch = calloc(mpl__rule_nscratch(r, NPRE, NPOST), sizeof *scratch);
  memcpy(Wnew, d->W, sizeof d->W);
  mpl__rule_apply(r, theta, &io, val, Wnew, scratch);
  free(scratch);
  free(val);
}

static double dotv(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* <G, W_new(theta, signals, W)> */
static double objective(const mpl_rule *r, const double *theta, layer *d, const double *G) {
  double Wn[NW];
  update(r, theta, d, Wn);
  return dotv(G, Wn, NW);
}

/* Dot-product test of mpl__rule_vjp: for random G and random directions, the adjoint's
 * <bar, dx> must equal the central difference of <G, W_new> along dx. Directions perturb one
 * group at a time (theta, each signal, W), then all together. */
static void check_adjoint(const mpl_rule *r, const layer *d0, gsl_rng *rng, double theta_scale) {
  int R = r->n_terms;
  double theta[32], G[NW], Gout[NW], theta_bar[32] = {0};
  layer d = *d0, sb;
  memset(&sb, 0, sizeof sb);
  for (int t = 0; t < R; t++) theta[t] = unif(rng, -theta_scale, theta_scale);
  for (int k = 0; k < NW; k++) G[k] = unif(rng, -1, 1);
  /* Adjoint. */
  mpl_layer_io io = layer_io(&d);
  double *val = eval_vals(r, &d);
  double *vbar = calloc(mpl__rule_nvals(r, NPRE, NPOST) + 1, sizeof *vbar);
  double *scratch = calloc(mpl__rule_nscratch(r, NPRE, NPOST), sizeof *scratch);
  double *const bars[4] = {sb.pre, sb.post, sb.epre, sb.epost};
  memcpy(Gout, G, sizeof G);
  mpl__rule_vjp(r, theta, &io, val, Gout, theta_bar, bars, vbar, scratch);
  free(val);
  free(vbar);
  free(scratch);
  /* The input W is unchanged by the adjoint. */
  assert_memory_equal(d.W, d0->W, sizeof d.W);
  for (int group = 0; group <= 6; group++) {
    double dth[32] = {0};
    layer dd;
    memset(&dd, 0, sizeof dd);
    if (group == 0 || group == 6) for (int t = 0; t < R; t++) dth[t] = unif(rng, -1, 1);
    if (group == 1 || group == 6) for (int j = 0; j < NPRE; j++) dd.pre[j] = unif(rng, -1, 1);
    if (group == 2 || group == 6) for (int i = 0; i < NPOST; i++) dd.post[i] = unif(rng, -1, 1);
    if (group == 3 || group == 6) for (int j = 0; j < NPRE; j++) dd.epre[j] = unif(rng, -1, 1);
    if (group == 4 || group == 6) for (int i = 0; i < NPOST; i++) dd.epost[i] = unif(rng, -1, 1);
    if (group == 5 || group == 6) for (int k = 0; k < NW; k++) dd.W[k] = unif(rng, -1, 1);
    double adj = dotv(theta_bar, dth, R) + dotv(sb.pre, dd.pre, NPRE) + dotv(sb.post, dd.post, NPOST) +
                 dotv(sb.epre, dd.epre, NPRE) + dotv(sb.epost, dd.epost, NPOST) + dotv(Gout, dd.W, NW);
    const double h = 1e-5;
    double f[2];
    for (int s = 0; s < 2; s++) {
      double sg = s ? -h : h, th[32];
      layer dp = *d0;
      double *xs[5] = {dp.pre, dp.post, dp.epre, dp.epost, dp.W};
      const double *dx[5] = {dd.pre, dd.post, dd.epre, dd.epost, dd.W};
      const int len[5] = {NPRE, NPOST, NPRE, NPOST, NW};
      for (int t = 0; t < R; t++) th[t] = theta[t] + sg * dth[t];
      for (int g = 0; g < 5; g++)
        for (int k = 0; k < len[g]; k++) xs[g][k] += sg * dx[g][k];
      f[s] = objective(r, th, &dp, G);
    }
    double fd = (f[0] - f[1]) / (2 * h);
    if (!(fabs(adj - fd) <= 1e-9 + 1e-7 * fabs(fd)))
      fail_msg("adjoint mismatch, direction group %d: adjoint %.15g, finite difference %.15g", group, adj, fd);
  }
}

/* ---- Tests ---- */

typedef struct fixture {
  mpl_termset *ts;
  gsl_rng *rng;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  mpl_err err = {0};
  f->ts = mpl_termset_new();
  if (!f->ts || mpl_test_paper_pool(f->ts, &err) < 0) return -1;
  for (int x = 0; x < N_EXTRAS; x++)
    if (mpl_termset_add(f->ts, extras[x].name, NULL, extras[x].build(f->ts), &err) < 0) {
      fprintf(stderr, "extra term %s: %s\n", extras[x].name, err.msg);
      return -1;
    }
  f->rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(f->rng, 20230331);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  mpl_termset_free(f->ts);
  gsl_rng_free(f->rng);
  free(f);
  return 0;
}

static void assert_dense_equal(const double *got, mat want, const char *what) {
  assert_int_equal(want.r, NPOST);
  assert_int_equal(want.c, NPRE);
  for (int i = 0; i < NPOST; i++)
    for (int j = 0; j < NPRE; j++) {
      double g = got[i * NPRE + j], w = AT(want, i, j);
      if (!(fabs(g - w) <= 1e-14 + 1e-12 * fabs(w)))
        fail_msg("%s: entry (%d,%d) = %.17g, expected %.17g", what, i, j, g, w);
    }
}

/* Each paper term, compiled together with the others, against its formula. */
static void test_paper_terms_values(void **state) {
  fixture *f = *state;
  const char *names[10] = {"F0", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9"};
  int which[10];
  for (int r = 0; r < 10; r++) {
    which[r] = mpl_termset_find(f->ts, names[r]);
    assert_int_equal(which[r], r);
  }
  mpl_rule *rule = compile(f->ts, which, 10);
  for (int rep = 0; rep < 3; rep++) {
    layer d;
    random_layer(f->rng, &d, 1.5, 0.8);
    mpl_layer_io io = layer_io(&d);
    double *val = eval_vals(rule, &d), out[NW];
    for (int r = 0; r < 10; r++) {
      mpl__rule_term_dense(rule, r, &io, val, out);
      assert_dense_equal(out, paper_ref(r, &d), names[r]);
    }
    free(val);
  }
  mpl__rule_free(rule);
  /* Compiled one at a time, in reverse order, the values are the same. */
  for (int r = 9; r >= 0; r--) {
    mpl_rule *one = compile(f->ts, &r, 1);
    layer d;
    random_layer(f->rng, &d, 1.5, 0.8);
    mpl_layer_io io = layer_io(&d);
    double *val = eval_vals(one, &d), out[NW];
    mpl__rule_term_dense(one, 0, &io, val, out);
    assert_dense_equal(out, paper_ref(r, &d), names[r]);
    free(val);
    mpl__rule_free(one);
  }
}

/* W_new = W + sum_r theta_r F_r for the whole pool. */
static void test_paper_apply(void **state) {
  fixture *f = *state;
  mpl_rule *rule = compile(f->ts, (int[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10);
  layer d;
  random_layer(f->rng, &d, 1.5, 0.8);
  double theta[10], Wn[NW];
  for (int r = 0; r < 10; r++) theta[r] = unif(f->rng, -0.5, 0.5);
  update(rule, theta, &d, Wn);
  mat want = dense(d.W, NPOST, NPRE);
  for (int r = 0; r < 10; r++) want = mlin(1, want, theta[r], paper_ref(r, &d));
  assert_dense_equal(Wn, want, "W + sum theta F");
  /* theta = 0 leaves W unchanged, bit for bit. */
  double zero[10] = {0};
  update(rule, zero, &d, Wn);
  assert_memory_equal(Wn, d.W, sizeof d.W);
  /* One term at a time, through apply. */
  for (int r = 0; r < 10; r++) {
    double th[10] = {0};
    th[r] = 0.7;
    update(rule, th, &d, Wn);
    assert_dense_equal(Wn, mlin(1, dense(d.W, NPOST, NPRE), 0.7, paper_ref(r, &d)), "W + 0.7 F_r");
  }
  mpl__rule_free(rule);
}

static void test_paper_adjoint(void **state) {
  fixture *f = *state;
  int all[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  mpl_rule *rule = compile(f->ts, all, 10);
  for (int rep = 0; rep < 3; rep++) {
    layer d;
    random_layer(f->rng, &d, 1.5, 0.8);
    check_adjoint(rule, &d, f->rng, 0.5);
  }
  mpl__rule_free(rule);
  /* Each term alone (a rule of one term exercises different sharing). */
  for (int r = 0; r < 10; r++) {
    mpl_rule *one = compile(f->ts, &r, 1);
    layer d;
    random_layer(f->rng, &d, 1.5, 0.8);
    check_adjoint(one, &d, f->rng, 1.0);
    mpl__rule_free(one);
  }
}

static void test_extra_terms(void **state) {
  fixture *f = *state;
  int which[N_EXTRAS];
  for (int x = 0; x < N_EXTRAS; x++) which[x] = 10 + x;
  mpl_rule *rule = compile(f->ts, which, N_EXTRAS);
  layer d;
  random_layer(f->rng, &d, 1.5, 0.8);
  mpl_layer_io io = layer_io(&d);
  double *val = eval_vals(rule, &d), out[NW];
  for (int x = 0; x < N_EXTRAS; x++) {
    mpl__rule_term_dense(rule, x, &io, val, out);
    mat want = mzero(NPOST, NPRE);
    for (int i = 0; i < NPOST; i++)
      for (int j = 0; j < NPRE; j++) AT(want, i, j) = extras[x].ref(&d, i, j);
    assert_dense_equal(out, want, extras[x].name);
  }
  free(val);
  /* Their joint update and adjoint. */
  check_adjoint(rule, &d, f->rng, 0.3);
  mpl__rule_free(rule);
  /* Each alone, and together with the paper pool. */
  for (int x = 0; x < N_EXTRAS; x++) {
    mpl_rule *one = compile(f->ts, &which[x], 1);
    random_layer(f->rng, &d, 1.5, 0.8);
    check_adjoint(one, &d, f->rng, 1.0);
    mpl__rule_free(one);
  }
  mpl_rule *everything = compile(f->ts, NULL, 0);
  assert_int_equal(everything->n_terms, 10 + N_EXTRAS);
  random_layer(f->rng, &d, 1.5, 0.8);
  check_adjoint(everything, &d, f->rng, 0.2);
  mpl__rule_free(everything);
}

static int count_op(const mpl_rule *r, mpl_op op) {
  int n = 0;
  for (int i = 0; i < r->n_nodes; i++) n += r->nodes[i].op == op;
  return n;
}

/* Oja's (y y^T) W is lowered to y (W^T y)^T: rank-1 pieces and one W^T x product. */
static void test_oja_lowering(void **state) {
  fixture *f = *state;
  int f9 = mpl_termset_find(f->ts, "F9");
  mpl_rule *r = compile(f->ts, &f9, 1);
  assert_int_equal(r->n_pieces, 2);
  assert_int_equal(r->first_wmat, r->n_pieces); /* no c s W piece */
  assert_int_equal(r->n_groups, 1);              /* both pieces have u = y_l */
  assert_int_equal(count_op(r, MPL_OP_GEMVT), 1);
  assert_int_equal(count_op(r, MPL_OP_GEMV), 0);
  for (int i = 0; i < r->n_pieces; i++) assert_int_equal(r->pieces[i].wmat, 0);
  mpl__rule_free(r);
  /* The whole pool: one piece per term, two for Oja, only F3 proportional to W. */
  r = compile(f->ts, (int[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10);
  assert_int_equal(r->n_pieces, 11);
  assert_int_equal(r->first_wmat, r->n_pieces - 1);
  assert_int_equal(r->pieces[r->first_wmat].term, 3);
  assert_true(r->n_nodes < 40);
  mpl__rule_free(r);
}

/* ---- --terms and --init ---- */

static void test_parse_paper(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_int_equal(mpl_terms_parse("paper", ts, &sel, &err), MPL_OK);
  assert_int_equal(sel.n, 10);
  assert_int_equal(mpl_termset_count(ts), 10);
  for (int i = 0; i < 10; i++) {
    char name[4];
    snprintf(name, sizeof name, "F%d", i);
    assert_string_equal(mpl_termset_name(ts, sel.which[i]), name);
    mpl_assert_close(sel.theta0[i], i == 0 ? 1e-3 : 0.0, 0, 0);
  }
  mpl_selection_free(&sel);
  assert_null(sel.which);
  assert_int_equal(sel.n, 0);
  mpl_selection_free(&sel); /* twice is harmless */
  mpl_termset_free(ts);
}

static void test_parse_subset(void **state) {
  (void)state;
  const char *specs[3] = {"paper:F0,F9", "paper:F9,F0", "paper:F2,F9,F0,"};
  const char *want[3][3] = {{"F0", "F9"}, {"F9", "F0"}, {"F2", "F9", "F0"}};
  const int n[3] = {2, 2, 3};
  for (int s = 0; s < 3; s++) {
    mpl_termset *ts = mpl_termset_new();
    mpl_selection sel;
    mpl_err err = {0};
    assert_int_equal(mpl_terms_parse(specs[s], ts, &sel, &err), MPL_OK);
    assert_int_equal(sel.n, n[s]);
    for (int i = 0; i < n[s]; i++) {
      assert_string_equal(mpl_termset_name(ts, sel.which[i]), want[s][i]);
      mpl_assert_close(sel.theta0[i], strcmp(want[s][i], "F0") == 0 ? 1e-3 : 0.0, 0, 0);
    }
    mpl_selection_free(&sel);
    mpl_termset_free(ts);
  }
}

static void expect_parse_error(const char *spec, int code, const char *m1, const char *m2) {
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_int_equal(mpl_terms_parse(spec, ts, &sel, &err), code);
  assert_int_equal(err.code, code);
  mpl_assert_contains(err.msg, m1);
  if (m2) mpl_assert_contains(err.msg, m2);
  assert_null(sel.which);
  assert_null(sel.theta0);
  assert_int_equal(sel.n, 0);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

static void test_parse_errors(void **state) {
  (void)state;
  expect_parse_error("bogus", MPL_ENOTFOUND, "no plugin 'bogus'", "METAPLAST_PLUGIN_PATH");
  expect_parse_error("bogus:F0", MPL_ENOTFOUND, "no plugin 'bogus'", "bogus.so");
  expect_parse_error("", MPL_EINVAL, "empty", NULL);
  expect_parse_error("paper:F0,F42", MPL_ENOTFOUND, "'F42'", "F0, F1, F2, F3, F4, F5, F6, F7, F8, F9");
  expect_parse_error("paper:f0", MPL_ENOTFOUND, "'f0'", "F9");
  expect_parse_error("paper:F0,F9,F0", MPL_EINVAL, "'F0'", "twice");
  expect_parse_error("paper:", MPL_EINVAL, "no terms", NULL);
  expect_parse_error("paper:F0,,F9", MPL_EINVAL, "empty", NULL);
  expect_parse_error("paper:,F0", MPL_EINVAL, "empty", NULL);
}

static void test_selection_init(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_int_equal(mpl_terms_parse("paper:F0,F2,F9", ts, &sel, &err), MPL_OK);
  assert_int_equal(mpl_selection_set_init(&sel, ts, "F9=0.01,F2=-0.001", &err), MPL_OK);
  mpl_assert_close(sel.theta0[0], 1e-3, 0, 0);
  mpl_assert_close(sel.theta0[1], -0.001, 0, 0);
  mpl_assert_close(sel.theta0[2], 0.01, 0, 0);
  assert_int_equal(mpl_selection_set_init(&sel, ts, "F0=2.5e-2,", &err), MPL_OK);
  mpl_assert_close(sel.theta0[0], 0.025, 0, 0);
  assert_int_equal(mpl_selection_set_init(&sel, ts, "", &err), MPL_OK);
  mpl_assert_close(sel.theta0[0], 0.025, 0, 0);
  /* Errors. */
  assert_int_equal(mpl_selection_set_init(&sel, ts, "F3=1", &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "'F3'");
  mpl_assert_contains(err.msg, "not a selected term");
  assert_int_equal(mpl_selection_set_init(&sel, ts, "F9", &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "NAME=VALUE");
  const char *bad_values[] = {"F9=", "F9=abc", "F9=0.1x", "F9=nan", "F9=inf", "F9=1e999"};
  for (size_t i = 0; i < sizeof bad_values / sizeof *bad_values; i++) {
    mpl_err_clear(&err);
    assert_int_equal(mpl_selection_set_init(&sel, ts, bad_values[i], &err), MPL_EINVAL);
    mpl_assert_contains(err.msg, "not a number");
    mpl_assert_contains(err.msg, "F9");
  }
  assert_int_equal(mpl_selection_set_init(&sel, ts, ",F9=1", &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "bad item");
  /* The values set before the errors are kept. */
  mpl_assert_close(sel.theta0[2], 0.01, 0, 0);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paper_terms_values),
      cmocka_unit_test(test_paper_apply),
      cmocka_unit_test(test_paper_adjoint),
      cmocka_unit_test(test_extra_terms),
      cmocka_unit_test(test_oja_lowering),
      cmocka_unit_test(test_parse_paper),
      cmocka_unit_test(test_parse_subset),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_selection_init),
  };
  return cmocka_run_group_tests_name("terms", tests, setup, teardown);
}
