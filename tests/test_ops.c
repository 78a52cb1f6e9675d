/* metaplast tests: every IR operation and function, value and derivative, by a generated test.
 *
 * Each operation (add, sub, mul, neg, matmul, t, sum, mean, norm, and fn with each of the functions) is
 * applied to operands of every shape it accepts (scalar, vector of n_pre or n_post, row vector,
 * matrix, W itself) in both argument positions; the result is lifted to an n_post x n_pre term
 * (an outer product with a signal, a scalar times a matrix, a product with W). Then, beside them,
 * random well-formed formulas from a seeded generator over the same grammar. Each term is
 * compiled alone and checked three ways:
 *
 *  - its value (the compiled mpl__rule_term_dense and W + theta F through mpl__rule_apply)
 *    against a literal dense interpreter of the expression tree written here (ref_eval), which
 *    shares nothing with the compiler's lowering;
 *  - its reverse mode (mpl__rule_vjp: the adjoints of theta, of the four signals and of W)
 *    against Richardson-extrapolated central differences of that interpreter along random
 *    directions, one input at a time and all together;
 *  - the exact meta-gradient of whole episodes that use it (mpl_gradcheck: the engine's lazy
 *    path, its own reverse mode), beside an F0-like learning term.
 *
 * Coverage is counted per operation and per function: an operation or function added to the IR
 * (a row of the table of operations that prints, ir/ops.c; MPL_FN_COUNT) that no generated case
 * reaches fails test_coverage, so new
 * operations join the generator rather than pass silently. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/check.h"
#include "metaplast/expr.h"
#include "plan.h"

/* Distinct sizes, so that a transposition or a wrong dimension shows. */
#define NPRE 5
#define NPOST 3
#define NW (NPRE * NPOST)
#define NMAX 5

#include "layer_fixture.h"

/* ---- A literal dense interpreter of the expression tree (the reference) ---- */

typedef struct mat { int r, c; double a[NMAX * NMAX]; } mat;
#define AT(m, i, j) ((m).a[(i) * (m).c + (j)])

static int dimlen(mpl_dim d) { return d == MPL_DIM_PRE ? NPRE : d == MPL_DIM_POST ? NPOST : 1; }

static mat mzero(int r, int c) {
  mat m;
  memset(&m, 0, sizeof m);
  m.r = r, m.c = c;
  return m;
}

/* The functions, written out independently of the engine's table (expr.c). */
static double ref_fn(int f, double x) {
  switch (f) {
  case MPL_FN_EXP: return exp(x);
  case MPL_FN_LOG: return log(x);
  case MPL_FN_TANH: return tanh(x);
  case MPL_FN_SIGMOID: return 1 / (1 + exp(-x));
  case MPL_FN_SQUARE: return x * x;
  case MPL_FN_SQRT: return sqrt(x);
  case MPL_FN_RECIP: return 1 / x;
  case MPL_FN_RELU: return fmax(x, 0);
  case MPL_FN_ABS: return x < 0 ? -x : x;
  case MPL_FN_SIGN: return (double)((x > 0) - (x < 0));
  default: fail_msg("ref_fn: function %d has no reference: add it here", f);
  }
  return NAN;
}

static mat ref_eval(const mpl_expr *e, const layer *d) {
  mat y = mzero(dimlen(e->rows), dimlen(e->cols)), A, B;
  const double *sig[4] = {d->pre, d->post, d->epre, d->epost};
  switch (e->op) {
  case MPL_OP_SIG:
    if (e->sig == MPL_SIG_W) memcpy(y.a, d->W, sizeof d->W);
    else memcpy(y.a, sig[e->sig], (size_t)y.r * sizeof(double));
    break;
  case MPL_OP_ONES: for (int i = 0; i < y.r; i++) y.a[i] = 1; break;
  case MPL_OP_NUM: y.a[0] = e->num; break;
  case MPL_OP_ADD: case MPL_OP_SUB: case MPL_OP_MUL:
    A = ref_eval(e->a, d), B = ref_eval(e->b, d);
    for (int k = 0; k < y.r * y.c; k++) {
      double x = A.r * A.c == 1 ? A.a[0] : A.a[k], z = B.r * B.c == 1 ? B.a[0] : B.a[k];
      y.a[k] = e->op == MPL_OP_ADD ? x + z : e->op == MPL_OP_SUB ? x - z : x * z;
    }
    break;
  case MPL_OP_NEG:
    A = ref_eval(e->a, d);
    for (int k = 0; k < y.r * y.c; k++) y.a[k] = -A.a[k];
    break;
  case MPL_OP_MATMUL:
    A = ref_eval(e->a, d), B = ref_eval(e->b, d);
    assert_int_equal(A.c, B.r);
    for (int i = 0; i < y.r; i++)
      for (int j = 0; j < y.c; j++) {
        double s = 0;
        for (int k = 0; k < A.c; k++) s += AT(A, i, k) * AT(B, k, j);
        AT(y, i, j) = s;
      }
    break;
  case MPL_OP_T:
    A = ref_eval(e->a, d);
    for (int i = 0; i < A.r; i++)
      for (int j = 0; j < A.c; j++) AT(y, j, i) = AT(A, i, j);
    break;
  case MPL_OP_SUM:
    A = ref_eval(e->a, d);
    for (int k = 0; k < A.r * A.c; k++) y.a[0] += A.a[k];
    break;
  case MPL_OP_FN:
    A = ref_eval(e->a, d);
    for (int k = 0; k < y.r * y.c; k++) y.a[k] = ref_fn(e->sig, A.a[k]);
    break;
  case MPL_OP_MEAN: case MPL_OP_NORM:
    A = ref_eval(e->a, d);
    for (int k = 0; k < A.r * A.c; k++) y.a[0] += e->op == MPL_OP_MEAN ? A.a[k] : A.a[k] * A.a[k];
    y.a[0] = e->op == MPL_OP_MEAN ? y.a[0] / (A.r * A.c) : sqrt(y.a[0]);
    break;
  default: fail_msg("ref_eval: operation %d has no reference: add it here", (int)e->op);
  }
  assert_int_equal(y.r, dimlen(e->rows));
  assert_int_equal(y.c, dimlen(e->cols));
  return y;
}

/* ---- Coverage: which operations and functions the cases reach ---- */

static int op_seen[MPL_OP_COUNT], fn_seen[MPL_FN_COUNT];

static void count_ops(const mpl_expr *e) {
  if (!e) return;
  op_seen[e->op]++;
  if (e->op == MPL_OP_FN) fn_seen[e->sig]++;
  count_ops(e->a);
  count_ops(e->b);
}

/* ---- Checking one term ---- */

typedef struct checker {
  gsl_rng *rng;
  gsl_rng *rng_w; /* the random layers of terms with elementwise functions of W (compiled since issue 27),
                   * so that the other terms see the same layers as before */
  int checked, unsupported, gradchecked;
  double worst_value, worst_adjoint, worst_meta;
} checker;

static double dotv(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* <G, F_ref(d + h dd)> */
static double probe(const mpl_expr *e, const layer *d, const layer *dd, double h, const double *G) {
  layer x = *d;
  for (int j = 0; j < NPRE; j++) x.pre[j] += h * dd->pre[j], x.epre[j] += h * dd->epre[j];
  for (int i = 0; i < NPOST; i++) x.post[i] += h * dd->post[i], x.epost[i] += h * dd->epost[i];
  for (int k = 0; k < NW; k++) x.W[k] += h * dd->W[k];
  mat F = ref_eval(e, &x);
  return dotv(G, F.a, NW);
}

/* Richardson-extrapolated central difference (steps h and h/2, error O(h^4)). */
static double richardson(const mpl_expr *e, const layer *d, const layer *dd, const double *G) {
  const double h = 1e-3;
  double d1 = (probe(e, d, dd, h, G) - probe(e, d, dd, -h, G)) / (2 * h);
  double d2 = (probe(e, d, dd, h / 2, G) - probe(e, d, dd, -h / 2, G)) / h;
  return (4 * d2 - d1) / 3;
}

static void check_close(double got, double want, double scale, double tol, const char *what, const char *text,
                        double *worst) {
  double err = fabs(got - want) / fmax(fmax(fabs(want), scale), 1e-12);
  if (err > *worst) *worst = err;
  if (!(err <= tol)) fail_msg("%s of %s: got %.15g, expected %.15g (relative error %.2e)", what, text, got, want, err);
}

/* The value and the reverse mode of term `t` of ts (its expression e) on one random layer. */
static void check_layer(checker *K, const mpl_termset *ts, int t, const mpl_expr *e, const char *text) {
  mpl_rule *r = NULL;
  mpl_err err = {0};
  if (mpl__rule_compile(ts, &t, 1, &r, &err) < 0) fail_msg("%s: %s", text, err.msg);
  layer d, dd, bar;
  gsl_rng *rng = r->n_ew ? K->rng_w : K->rng;
  random_layer(rng, &d, 1.5, 0.8);
  double G[NW], Gout[NW], out[NW], Wn[NW], theta = unif(rng, 0.5, 1.5), theta_bar = 0;
  for (int k = 0; k < NW; k++) G[k] = unif(rng, -1, 1);
  mpl_layer_io io = layer_io(&d);
  size_t nv = mpl__rule_nvals(r, NPRE, NPOST) + 1, ns = mpl__rule_nscratch(r, NPRE, NPOST) + 1;
  double *val = calloc(nv, sizeof *val), *vbar = calloc(nv, sizeof *vbar), *scratch = calloc(ns, sizeof *scratch);
  assert_true(val && vbar && scratch);
  mpl__rule_eval(r, &io, val);
  /* Value: the term alone, and W + theta F. */
  mat F = ref_eval(e, &d);
  double fmax_abs = 0;
  for (int k = 0; k < NW; k++) fmax_abs = fmax(fmax_abs, fabs(F.a[k]));
  mpl__rule_term_dense(r, 0, &io, val, out);
  for (int k = 0; k < NW; k++) check_close(out[k], F.a[k], fmax_abs, 1e-12, "value", text, &K->worst_value);
  memcpy(Wn, d.W, sizeof Wn);
  mpl__rule_apply(r, &theta, &io, val, Wn, scratch);
  for (int k = 0; k < NW; k++)
    check_close(Wn[k], d.W[k] + theta * F.a[k], 1 + theta * fmax_abs, 1e-12, "W + theta F", text, &K->worst_value);
  /* Reverse mode: dL/dW_new = G. */
  memset(&bar, 0, sizeof bar);
  double *const sb[4] = {bar.pre, bar.post, bar.epre, bar.epost};
  memcpy(Gout, G, sizeof G);
  if (mpl__rule_vjp(r, &theta, &io, val, Gout, &theta_bar, sb, vbar, scratch) < 0) fail_msg("%s: vjp failed", text);
  check_close(theta_bar, dotv(G, F.a, NW), 1e-8, 1e-11, "dL/dtheta", text, &K->worst_adjoint);
  for (int group = 0; group <= 5; group++) { /* pre, post, e_pre, e_post, W, then all at once */
    memset(&dd, 0, sizeof dd);
    if (group == 0 || group == 5) for (int j = 0; j < NPRE; j++) dd.pre[j] = unif(rng, -1, 1);
    if (group == 1 || group == 5) for (int i = 0; i < NPOST; i++) dd.post[i] = unif(rng, -1, 1);
    if (group == 2 || group == 5) for (int j = 0; j < NPRE; j++) dd.epre[j] = unif(rng, -1, 1);
    if (group == 3 || group == 5) for (int i = 0; i < NPOST; i++) dd.epost[i] = unif(rng, -1, 1);
    if (group == 4 || group == 5) for (int k = 0; k < NW; k++) dd.W[k] = unif(rng, -1, 1);
    /* W_new = W + theta F: d<G, W_new> = <G, dW> + theta d<G, F> */
    double adj = dotv(bar.pre, dd.pre, NPRE) + dotv(bar.post, dd.post, NPOST) + dotv(bar.epre, dd.epre, NPRE) +
                 dotv(bar.epost, dd.epost, NPOST) + dotv(Gout, dd.W, NW) - dotv(G, dd.W, NW);
    double fd = theta * richardson(e, &d, &dd, G);
    static const char *const names[6] = {"adjoint of pre", "adjoint of post", "adjoint of e_pre",
                                         "adjoint of e_post", "adjoint of W", "adjoint (all inputs)"};
    check_close(adj, fd, 1e-4, 1e-7, names[group], text, &K->worst_adjoint);
  }
  free(val), free(vbar), free(scratch);
  mpl__rule_free(r);
  K->checked++;
}

/* The exact meta-gradient of episodes with term t (and a learning term at index 0). A term passes
 * with a relative error below 1e-6 at one of three steps, or an absolute one below 1e-9 (the
 * finite differences' rounding floor, for a gradient that nearly vanishes: a term that cancels
 * the learning term, for instance). */
static void check_meta(checker *K, const mpl_termset *ts, int t, const char *text) {
  static const double hs[] = {1e-2, 3e-3, 3e-2};
  int which[2] = {0, t};
  double best[2] = {INFINITY, INFINITY};
  int pass[2] = {0, 0};
  mpl_gradcheck_result res;
  for (int k = 0; k < 3 && !(pass[0] && pass[1]); k++) {
    mpl_gradcheck_cfg cfg;
    mpl_gradcheck_defaults(&cfg);
    cfg.n_train = 12;
    cfg.h = hs[k];
    mpl_err err = {0};
    if (mpl_gradcheck(&cfg, ts, which, 2, &res, &err) < 0) fail_msg("gradcheck of %s: %s", text, err.msg);
    for (int i = 0; i < 2; i++) {
      if (!isfinite(res.grad[i])) fail_msg("gradcheck of %s: gradient %d is %g", text, i, res.grad[i]);
      best[i] = fmin(best[i], res.rel[i]);
      if (fabs(res.grad[i] - res.fd[i]) < 1e-9) pass[i] = 1;
    }
    for (int i = 0; i < 2; i++) pass[i] |= best[i] < 1e-6;
    if (!(pass[0] && pass[1]) && k == 2)
      fail_msg("meta-gradient with %s: reverse %.15g %.15g, finite differences %.15g %.15g, relative errors %.2e %.2e",
               text, res.grad[0], res.grad[1], res.fd[0], res.fd[1], best[0], best[1]);
    mpl_gradcheck_result_free(&res);
  }
  K->worst_meta = fmax(K->worst_meta, fmax(best[0], best[1]));
  K->gradchecked++;
}

/* 1 if e applies relu, abs or sign to a matrix: a function of W with a kink, which an episode's
 * weights may cross inside a finite-difference step of theta (docs/rules.md, "Kinks inside an
 * episode"), so the meta-gradient is not compared for it. */
static int kinked_matrix_fn(const mpl_expr *e) {
  if (!e) return 0;
  if (e->op == MPL_OP_FN && (e->sig == MPL_FN_RELU || e->sig == MPL_FN_ABS || e->sig == MPL_FN_SIGN) &&
      e->rows != MPL_DIM_ONE && e->cols != MPL_DIM_ONE)
    return 1;
  return kinked_matrix_fn(e->a) || kinked_matrix_fn(e->b);
}

/* Add e (an n_post x n_pre expression) as a term and check it; a term the compiler refuses must
 * be one of the documented refusals (two W; a function of a matrix that is not a function of W
 * alone; an elementwise function of W inside a product or a sum of entries). */
static void check_term(checker *K, mpl_termset *ts, mpl_expr *e, int meta) {
  char text[512];
  if (!e) fail_msg("builder error: %s", mpl_termset_error(ts));
  mpl_expr_print(e, MPL_FMT_CODE, text, sizeof text);
  char name[32];
  snprintf(name, sizeof name, "c%d", mpl_termset_count(ts));
  mpl_err err = {0};
  if (mpl_termset_add(ts, name, NULL, e, &err) < 0) fail_msg("%s: %s", text, err.msg);
  int t = mpl_termset_count(ts) - 1;
  mpl_rule *r = NULL;
  int rc = mpl__rule_compile(ts, &t, 1, &r, &err);
  if (rc == MPL_EUNSUPPORTED) {
    if (!strstr(err.msg, "two weight matrices") && !strstr(err.msg, "supported only as a function of W alone") &&
        !strstr(err.msg, "of an elementwise function of W"))
      fail_msg("%s refused for an undocumented reason: %s", text, err.msg);
    K->unsupported++;
    return;
  }
  if (rc < 0) fail_msg("%s: %s", text, err.msg);
  int elementwise = r->n_ew > 0;
  mpl__rule_free(r);
  count_ops(e);
  check_layer(K, ts, t, e, text);
  if (meta && !(elementwise && kinked_matrix_fn(e))) check_meta(K, ts, t, text);
}

/* ---- Operands of each shape, and lifting a result to n_post x n_pre ---- */

typedef enum shape { S_SCALAR, S_PRE, S_POST, S_ROWPRE, S_ROWPOST, S_MAT, S_MATT, S_PREPRE, S_POSTPOST, S_COUNT } shape;

#define SIG(s) mpl_sig(ts, MPL_SIG_##s)

static shape shape_of(const mpl_expr *e) {
  mpl_dim r = mpl_expr_rows(e), c = mpl_expr_cols(e);
  if (r == MPL_DIM_ONE && c == MPL_DIM_ONE) return S_SCALAR;
  if (c == MPL_DIM_ONE) return r == MPL_DIM_PRE ? S_PRE : S_POST;
  if (r == MPL_DIM_ONE) return c == MPL_DIM_PRE ? S_ROWPRE : S_ROWPOST;
  if (r == MPL_DIM_POST) return c == MPL_DIM_PRE ? S_MAT : S_POSTPOST;
  return c == MPL_DIM_POST ? S_MATT : S_PREPRE;
}

/* Operand k (0, 1, ...) of shape s, NULL past the last. Every operand depends on the signals
 * (so its adjoint is exercised) except the constant scalar; W appears as a matrix operand. */
static mpl_expr *operand(mpl_termset *ts, shape s, int k) {
  switch (s) {
  case S_SCALAR:
    return k == 0 ? mpl_dot(ts, SIG(EPOST), SIG(POST)) : k == 1 ? mpl_sum(ts, SIG(EPRE)) : k == 2 ? mpl_num(ts, -0.7) : NULL;
  case S_PRE: return k == 0 ? SIG(PRE) : k == 1 ? SIG(EPRE) : k == 2 ? mpl_ones(ts, MPL_DIM_PRE) : NULL;
  case S_POST: return k == 0 ? SIG(POST) : k == 1 ? SIG(EPOST) : k == 2 ? mpl_ones(ts, MPL_DIM_POST) : NULL;
  case S_ROWPRE: return k == 0 ? mpl_t(ts, SIG(EPRE)) : k == 1 ? mpl_matmul(ts, mpl_t(ts, SIG(EPOST)), SIG(W)) : NULL;
  case S_ROWPOST: return k == 0 ? mpl_t(ts, SIG(POST)) : NULL;
  case S_MAT: return k == 0 ? mpl_outer(ts, SIG(EPOST), SIG(PRE)) : k == 1 ? SIG(W) : NULL;
  case S_MATT: return k == 0 ? mpl_outer(ts, SIG(EPRE), SIG(POST)) : k == 1 ? mpl_t(ts, SIG(W)) : NULL;
  case S_PREPRE: return k == 0 ? mpl_outer(ts, SIG(PRE), SIG(EPRE)) : NULL;
  case S_POSTPOST: return k == 0 ? mpl_outer(ts, SIG(EPOST), SIG(POST)) : NULL;
  default: return NULL;
  }
}

/* An n_post x n_pre term made from x. */
static mpl_expr *lift(mpl_termset *ts, mpl_expr *x) {
  switch (shape_of(x)) {
  case S_SCALAR: return mpl_mul(ts, x, mpl_outer(ts, SIG(POST), SIG(EPRE)));
  case S_PRE: return mpl_outer(ts, SIG(EPOST), x);
  case S_POST: return mpl_outer(ts, x, SIG(PRE));
  case S_ROWPRE: return mpl_matmul(ts, SIG(POST), x);
  case S_ROWPOST: return mpl_outer(ts, mpl_t(ts, x), SIG(EPRE));
  case S_MAT: return x;
  case S_MATT: return mpl_t(ts, x);
  case S_PREPRE: return mpl_matmul(ts, mpl_outer(ts, SIG(POST), SIG(EPRE)), x);
  case S_POSTPOST: return mpl_matmul(ts, x, SIG(W));
  default: return NULL;
  }
}

/* A positive argument for log, sqrt and recip: x^2 + 0.5 (same shape as x). */
static mpl_expr *positive(mpl_termset *ts, mpl_expr *x) {
  return mpl_add(ts, mpl_fn(ts, MPL_FN_SQUARE, x), mpl_num(ts, 0.5));
}

static int needs_positive(int f) { return f == MPL_FN_LOG || f == MPL_FN_SQRT || f == MPL_FN_RECIP; }

typedef struct fixture {
  gsl_rng *rng, *rng_w;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(f->rng, 20);
  f->rng_w = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(f->rng_w, 27);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  gsl_rng_free(f->rng);
  gsl_rng_free(f->rng_w);
  free(f);
  return 0;
}

/* A term set whose term 0 is an F0-like learning term (the meta-gradient checks' index 0). */
static mpl_termset *new_set(void) {
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  assert_non_null(ts);
  if (mpl_termset_add(ts, "learn", NULL, mpl_neg(ts, mpl_outer(ts, SIG(EPOST), SIG(PRE))), &err) < 0)
    fail_msg("%s", err.msg);
  return ts;
}

/* Binary operations: every pair of operand shapes the builder accepts, every operand choice
 * (so each shape is in both positions), lifted. */
static void test_binary_ops(void **state) {
  fixture *f = *state;
  checker K = {.rng = f->rng, .rng_w = f->rng_w};
  mpl_termset *ts = new_set();
  mpl_expr *(*const builders[])(mpl_termset *, mpl_expr *, mpl_expr *) = {mpl_add, mpl_sub, mpl_mul, mpl_matmul};
  static const char *const names[] = {"add", "sub", "mul", "matmul"};
  for (int b = 0; b < 4; b++) {
    int made = 0;
    for (int sa = 0; sa < S_COUNT; sa++)
      for (int sb = 0; sb < S_COUNT; sb++)
        for (int ka = 0; operand(ts, (shape)sa, ka); ka++)
          for (int kb = 0; operand(ts, (shape)sb, kb); kb++) {
            mpl_expr *x = operand(ts, (shape)sa, ka), *y = operand(ts, (shape)sb, kb);
            if (x == y) continue;
            mpl_expr *e = builders[b](ts, x, y);
            if (!e) { mpl_termset_clear_error(ts); continue; } /* shapes the builder refuses */
            /* the meta-gradient for one operand choice per shape pair (the episodes cost more) */
            check_term(&K, ts, lift(ts, e), ka == 0 && kb <= 1);
            made++;
          }
    if (made < 10) fail_msg("%s: only %d operand pairs generated", names[b], made);
  }
  fprintf(stderr, "binary operations: %d terms checked (%d meta-gradients), %d refused by the compiler; worst "
          "relative errors: value %.1e, adjoint %.1e, meta-gradient %.1e\n", K.checked, K.gradchecked, K.unsupported,
          K.worst_value, K.worst_adjoint, K.worst_meta);
  assert_true(K.checked >= 150);
  mpl_termset_free(ts);
}

/* Unary operations (neg, t, sum) and every function, on every operand shape. */
static void test_unary_ops(void **state) {
  fixture *f = *state;
  checker K = {.rng = f->rng, .rng_w = f->rng_w};
  mpl_termset *ts = new_set();
  for (int s = 0; s < S_COUNT; s++)
    for (int k = 0; operand(ts, (shape)s, k); k++) {
      mpl_expr *x = operand(ts, (shape)s, k);
      check_term(&K, ts, lift(ts, mpl_neg(ts, x)), k == 0);
      check_term(&K, ts, lift(ts, mpl_t(ts, x)), k == 0);
      check_term(&K, ts, lift(ts, mpl_sum(ts, x)), 1);
      /* the reductions of a vector: a matrix operand is refused, naming the formula */
      for (int red = 0; red < 2; red++) {
        mpl_expr *m = red ? mpl_norm(ts, x) : mpl_mean(ts, x);
        if (shape_of(x) >= S_MAT) {
          assert_null(m);
          mpl_assert_contains(mpl_termset_error(ts), "reduces a vector (n x 1 or 1 x n) to a scalar, got");
          mpl_termset_clear_error(ts);
          continue;
        }
        check_term(&K, ts, lift(ts, m), 1);
      }
      for (int fn = 0; fn < MPL_FN_COUNT; fn++) {
        mpl_expr *arg = needs_positive(fn) ? positive(ts, x) : x;
        if (fn == MPL_FN_EXP) arg = mpl_mul(ts, mpl_num(ts, 0.5), x);
        check_term(&K, ts, lift(ts, mpl_fn(ts, (mpl_func)fn, arg)), 1);
      }
    }
  fprintf(stderr, "unary operations and functions: %d terms checked (%d meta-gradients), %d refused; worst "
          "relative errors: value %.1e, adjoint %.1e, meta-gradient %.1e\n", K.checked, K.gradchecked, K.unsupported,
          K.worst_value, K.worst_adjoint, K.worst_meta);
  assert_true(K.checked >= 60);
  mpl_termset_free(ts);
}

/* ---- Random well-formed formulas ---- */

/* A random expression of shape s (S_SCALAR, S_PRE, S_POST or S_MAT) and depth at most depth. The
 * grammar: signals, ones, constants; +, -, elementwise *, scaling, negation, functions of scalars
 * and vectors (log, sqrt, recip of x^2 + 0.5), dot products, sums, matrix-vector products,
 * outer products, transposes, products of matrices. At most one W per product chain: the
 * compiler refuses W W^T (test_expr) and the rare such draw is counted as refused. */
static mpl_expr *gen(mpl_termset *ts, gsl_rng *g, shape s, int depth);

static mpl_expr *gen_leaf(mpl_termset *ts, gsl_rng *g, shape s) {
  unsigned long k = gsl_rng_uniform_int(g, 3);
  switch (s) {
  case S_SCALAR: return k == 0 ? mpl_num(ts, 0.25 + (double)gsl_rng_uniform_int(g, 8) / 4) : mpl_dot(ts, SIG(EPOST), SIG(POST));
  case S_PRE: return k == 0 ? SIG(PRE) : k == 1 ? SIG(EPRE) : mpl_ones(ts, MPL_DIM_PRE);
  case S_POST: return k == 0 ? SIG(POST) : k == 1 ? SIG(EPOST) : mpl_ones(ts, MPL_DIM_POST);
  default: return k == 0 ? SIG(W) : mpl_outer(ts, SIG(EPOST), SIG(PRE));
  }
}

static mpl_expr *gen_vec(mpl_termset *ts, gsl_rng *g, shape s, int depth) {
  shape other = s == S_PRE ? S_POST : S_PRE;
  switch (gsl_rng_uniform_int(g, 8)) {
  case 0: return mpl_add(ts, gen(ts, g, s, depth - 1), gen(ts, g, s, depth - 1));
  case 1: return mpl_sub(ts, gen(ts, g, s, depth - 1), gen(ts, g, s, depth - 1));
  case 2: return mpl_mul(ts, gen(ts, g, s, depth - 1), gen(ts, g, gsl_rng_uniform_int(g, 2) ? s : S_SCALAR, depth - 1));
  case 3: return mpl_neg(ts, gen(ts, g, s, depth - 1));
  case 4: {
    int fn = (int)gsl_rng_uniform_int(g, MPL_FN_COUNT);
    mpl_expr *x = gen(ts, g, s, depth - 1);
    if (needs_positive(fn)) x = positive(ts, x);
    if (fn == MPL_FN_EXP) x = mpl_fn(ts, MPL_FN_TANH, x);
    return mpl_fn(ts, (mpl_func)fn, x);
  }
  case 5: /* M x or M^T x */
    return s == S_POST ? mpl_matmul(ts, gen(ts, g, S_MAT, depth - 1), gen(ts, g, other, depth - 1))
                       : mpl_matmul(ts, mpl_t(ts, gen(ts, g, S_MAT, depth - 1)), gen(ts, g, other, depth - 1));
  case 6: return mpl_t(ts, mpl_t(ts, gen(ts, g, s, depth - 1)));
  default: return mpl_mul(ts, gen(ts, g, S_SCALAR, depth - 1), gen(ts, g, s, depth - 1));
  }
}

static mpl_expr *gen(mpl_termset *ts, gsl_rng *g, shape s, int depth) {
  if (depth <= 0 || gsl_rng_uniform_int(g, 4) == 0) return gen_leaf(ts, g, s);
  switch (s) {
  case S_SCALAR:
    switch (gsl_rng_uniform_int(g, 9)) {
    case 0: return mpl_dot(ts, gen(ts, g, S_PRE, depth - 1), gen(ts, g, S_PRE, depth - 1));
    case 7: return mpl_mean(ts, gen(ts, g, gsl_rng_uniform_int(g, 2) ? S_PRE : S_POST, depth - 1));
    case 8: return mpl_norm(ts, gen(ts, g, gsl_rng_uniform_int(g, 2) ? S_PRE : S_POST, depth - 1));
    case 1: return mpl_sum(ts, gen(ts, g, S_POST, depth - 1));
    case 2: return mpl_sum(ts, gen(ts, g, S_MAT, depth - 1));
    case 3: return mpl_fn(ts, MPL_FN_TANH, gen(ts, g, S_SCALAR, depth - 1));
    case 4: return mpl_sub(ts, gen(ts, g, S_SCALAR, depth - 1), gen(ts, g, S_SCALAR, depth - 1));
    case 5: return mpl_matmul(ts, mpl_t(ts, gen(ts, g, S_POST, depth - 1)), gen(ts, g, S_POST, depth - 1));
    default: return mpl_mul(ts, gen(ts, g, S_SCALAR, depth - 1), gen(ts, g, S_SCALAR, depth - 1));
    }
  case S_PRE: case S_POST: return gen_vec(ts, g, s, depth);
  default:
    switch (gsl_rng_uniform_int(g, 8)) {
    case 0: return mpl_outer(ts, gen(ts, g, S_POST, depth - 1), gen(ts, g, S_PRE, depth - 1));
    case 1: return mpl_add(ts, gen(ts, g, S_MAT, depth - 1), gen(ts, g, S_MAT, depth - 1));
    case 2: return mpl_sub(ts, gen(ts, g, S_MAT, depth - 1), gen(ts, g, gsl_rng_uniform_int(g, 2) ? S_MAT : S_SCALAR, depth - 1));
    case 3: return mpl_mul(ts, gen(ts, g, S_SCALAR, depth - 1), gen(ts, g, S_MAT, depth - 1));
    case 4: return mpl_neg(ts, gen(ts, g, S_MAT, depth - 1));
    case 5: /* Hadamard product of two outer products */
      return mpl_mul(ts, mpl_outer(ts, gen(ts, g, S_POST, depth - 1), gen(ts, g, S_PRE, depth - 1)),
                     mpl_outer(ts, gen(ts, g, S_POST, depth - 1), gen(ts, g, S_PRE, depth - 1)));
    case 6: /* (u u'^T) M */
      return mpl_matmul(ts, mpl_outer(ts, gen(ts, g, S_POST, depth - 1), gen(ts, g, S_POST, depth - 1)),
                        gen(ts, g, S_MAT, depth - 1));
    default: /* M (v v'^T), written as the transpose of (v' v^T) M^T */
      return mpl_t(ts, mpl_matmul(ts, mpl_outer(ts, gen(ts, g, S_PRE, depth - 1), gen(ts, g, S_PRE, depth - 1)),
                                  mpl_t(ts, gen(ts, g, S_MAT, depth - 1))));
    }
  }
}

static void test_random_formulas(void **state) {
  fixture *f = *state;
  checker K = {.rng = f->rng, .rng_w = f->rng_w};
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 2020);
  mpl_termset *ts = new_set();
  for (int i = 0; i < 300; i++) check_term(&K, ts, gen(ts, g, S_MAT, 4), i % 10 == 0);
  fprintf(stderr, "random formulas: %d checked (%d meta-gradients), %d refused; worst relative errors: value %.1e, "
          "adjoint %.1e, meta-gradient %.1e\n", K.checked, K.gradchecked, K.unsupported, K.worst_value,
          K.worst_adjoint, K.worst_meta);
  assert_true(K.checked >= 250);
  mpl_termset_free(ts);
  gsl_rng_free(g);
}

/* ---- Random elementwise functions of W (issue 27) ---- */

/* A random function of W alone, n_post x n_pre: W, 1 - W, products and sums of such, negation and
 * scaling, and every function (log, sqrt and recip of g^2 + 0.5; relu, abs and sign as they come). */
static mpl_expr *gen_wfn(mpl_termset *ts, gsl_rng *g, int depth) {
  if (depth <= 0 || gsl_rng_uniform_int(g, 4) == 0)
    return gsl_rng_uniform_int(g, 2) ? SIG(W) : mpl_sub(ts, mpl_num(ts, 1), SIG(W));
  switch (gsl_rng_uniform_int(g, 6)) {
  case 0: return mpl_mul(ts, gen_wfn(ts, g, depth - 1), gen_wfn(ts, g, depth - 1));
  case 1: return mpl_add(ts, gen_wfn(ts, g, depth - 1), gen_wfn(ts, g, depth - 1));
  case 2: return mpl_mul(ts, mpl_num(ts, -0.5 + (double)gsl_rng_uniform_int(g, 4) / 2), gen_wfn(ts, g, depth - 1));
  case 3: return mpl_t(ts, mpl_neg(ts, mpl_t(ts, gen_wfn(ts, g, depth - 1))));
  default: {
    int fn = (int)gsl_rng_uniform_int(g, MPL_FN_COUNT);
    mpl_expr *x = gen_wfn(ts, g, depth - 1);
    if (needs_positive(fn)) x = positive(ts, x);
    if (fn == MPL_FN_EXP) x = mpl_fn(ts, MPL_FN_TANH, x);
    return mpl_fn(ts, (mpl_func)fn, x);
  }
  }
}

/* Sums of g(W) ⊙ M terms, M a random matrix of the grammar above (outer products, W, their
 * sums and products), checked like every other term; the meta-gradient for one in five. */
static void test_random_elementwise(void **state) {
  fixture *f = *state;
  checker K = {.rng = f->rng, .rng_w = f->rng_w};
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 2027);
  mpl_termset *ts = new_set();
  for (int i = 0; i < 120; i++) {
    mpl_expr *e = mpl_mul(ts, gen_wfn(ts, g, 3), gen(ts, g, S_MAT, 2));
    if (gsl_rng_uniform_int(g, 3) == 0) e = mpl_add(ts, e, mpl_mul(ts, gen_wfn(ts, g, 2), gen(ts, g, S_MAT, 1)));
    check_term(&K, ts, e, i % 5 == 0);
  }
  fprintf(stderr, "random elementwise functions of W: %d checked (%d meta-gradients), %d refused; worst relative "
          "errors: value %.1e, adjoint %.1e, meta-gradient %.1e\n", K.checked, K.gradchecked, K.unsupported,
          K.worst_value, K.worst_adjoint, K.worst_meta);
  assert_true(K.checked >= 60);
  mpl_termset_free(ts);
  gsl_rng_free(g);
}

/* Runs last: every operation and function was reached by some case above. */
static void test_coverage(void **state) {
  (void)state;
  for (int op = 0; op < MPL_OP_COUNT; op++)
    if (mpl__ops[op].print && op_seen[op] == 0) /* plan-only kinds (no printing) are no IR nodes */ fail_msg("IR operation %d is never generated: add it to test_ops's generator", op);
  for (int fn = 0; fn < MPL_FN_COUNT; fn++)
    if (fn_seen[fn] < 5) fail_msg("function %s is generated %d times: add it to test_ops's generator", mpl__fn_name((mpl_func)fn), fn_seen[fn]);
}

/* `metaplast check`'s checker (mpl_check_terms, its own random layers and finite differences of
 * the compiled forward pass) passes one term per function, each function of a vector built from
 * every signal: the command's verdict agrees with the interpreter-based checks above. */
static void test_check_terms(void **state) {
  (void)state;
  mpl_termset *ts = new_set();
  mpl_err err = {0};
  for (int fn = 0; fn < MPL_FN_COUNT; fn++) {
    mpl_expr *x = mpl_sub(ts, SIG(EPOST), mpl_mul(ts, mpl_sum(ts, SIG(EPRE)), SIG(POST)));
    if (needs_positive(fn)) x = positive(ts, x);
    char name[16];
    snprintf(name, sizeof name, "f%d", fn);
    if (mpl_termset_add(ts, name, NULL, mpl_outer(ts, mpl_fn(ts, (mpl_func)fn, x), SIG(EPRE)), &err) < 0)
      fail_msg("%s", err.msg);
  }
  /* the reductions, as a threshold and as a normalisation */
  mpl_expr *bcm = mpl_mul(ts, SIG(POST), mpl_sub(ts, SIG(POST), mpl_mean(ts, mpl_fn(ts, MPL_FN_SQUARE, SIG(POST)))));
  mpl_expr *nrm = mpl_mul(ts, mpl_fn(ts, MPL_FN_RECIP, mpl_add(ts, mpl_norm(ts, SIG(EPOST)), mpl_num(ts, 0.1))), SIG(EPOST));
  if (mpl_termset_add(ts, "mean", NULL, mpl_outer(ts, bcm, SIG(PRE)), &err) < 0 ||
      mpl_termset_add(ts, "norm", NULL, mpl_outer(ts, nrm, mpl_sub(ts, SIG(PRE), mpl_mean(ts, SIG(PRE)))), &err) < 0)
    fail_msg("%s", err.msg);
  int n = mpl_termset_count(ts);
  double rel[16];
  assert_int_equal(mpl_check_terms(ts, NULL, n, 3, 7, rel, &err), MPL_OK);
  for (int i = 0; i < n; i++)
    if (!(rel[i] < 1e-6)) fail_msg("mpl_check_terms: term %s relative error %.2e", mpl_termset_name(ts, i), rel[i]);
  mpl_termset_free(ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_ops),
      cmocka_unit_test(test_unary_ops),
      cmocka_unit_test(test_random_formulas),
      cmocka_unit_test(test_random_elementwise),
      cmocka_unit_test(test_check_terms),
      cmocka_unit_test(test_coverage),
  };
  return cmocka_run_group_tests_name("ops", tests, setup, teardown);
}
