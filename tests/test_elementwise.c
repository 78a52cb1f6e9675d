/* metaplast tests: elementwise functions of W in the term IR (issue 27): terms
 * g(W) ⊙ (u v^T) = diag(u) g(W) diag(v), with g in {W, 1 - W, W ⊙ W, tanh(W), ...}.
 *
 *  - each form's value on a hand-set layer against the formula written out entry by entry, and a
 *    rule mixing them with rank-1 and weight-proportional terms through mpl__rule_apply;
 *  - that rule's reverse mode (theta, the four signals, W) against central differences of the
 *    written-out update;
 *  - whole episodes on a tiny 3-2-2-3 network against a literal re-implementation, and the exact
 *    meta-gradient (mpl_gradcheck) of F0 + each form, fixed and symmetric feedback;
 *  - printing (text, LaTeX, code) and the code form's round trip through the parser and the Lua
 *    front end; the engine's path (dense for these rules only); rules/local.lua; the refusals.
 * See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "metaplast/check.h"
#include "metaplast/expr.h"
#include "metaplast/net.h"
#include "metaplast/terms.h"
#include "plan.h"

#define NP 3
#define NQ 2
#define NW (NP * NQ)

/* ---- A hand-set layer ---- */

static const double PRE[NP] = {0.3, 1.2, 0.7}, POST[NQ] = {0.9, 0.4}, EPRE[NP] = {-0.5, 0.25, 0.6},
                    EPOST[NQ] = {0.8, -0.35};
static const double W0[NW] = {0.5, -0.3, 0.8, -0.6, 0.4, 0.2};

#define SIG(s) mpl_sig(ts, MPL_SIG_##s)

/* The forms, built in ts, and their entries (i, j) written out. */
enum { HAD_W, SOFT, WW, SQW, TANHW, CUBIC, RELUW, ABSW, TWT, EXPS, N_FORMS };

static mpl_expr *form(mpl_termset *ts, int f) {
  mpl_expr *W = SIG(W), *ex = mpl_outer(ts, SIG(EPOST), SIG(PRE)), *yx = mpl_outer(ts, SIG(POST), SIG(PRE));
  switch (f) {
  case HAD_W: return mpl_mul(ts, W, ex);                                          /* W ⊙ e x^T */
  case SOFT: return mpl_mul(ts, mpl_sub(ts, mpl_num(ts, 1), W), yx);              /* (1 - W) ⊙ y x^T */
  case WW: return mpl_mul(ts, mpl_mul(ts, W, W), ex);                             /* diag(e) (W ⊙ W) diag(x) */
  case SQW: return mpl_mul(ts, mpl_fn(ts, MPL_FN_SQUARE, W), ex);                /* square(W) ⊙ e x^T */
  case TANHW: return mpl_mul(ts, mpl_fn(ts, MPL_FN_TANH, W), mpl_outer(ts, SIG(POST), SIG(EPRE)));
  case CUBIC: return mpl_neg(ts, mpl_mul(ts, mpl_fn(ts, MPL_FN_SQUARE, W), W)); /* -W ⊙ W ⊙ W */
  case RELUW: return mpl_mul(ts, mpl_fn(ts, MPL_FN_RELU, W), ex);
  case ABSW: return mpl_mul(ts, mpl_fn(ts, MPL_FN_ABS, W), yx);
  case TWT: return mpl_t(ts, mpl_mul(ts, mpl_t(ts, W), mpl_outer(ts, SIG(PRE), SIG(EPOST)))); /* (W^T ⊙ x e^T)^T */
  default: /* exp(W / 2) ⊙ (sum(x) e x^T): a signal-dependent scale outside g */
    return mpl_mul(ts, mpl_fn(ts, MPL_FN_EXP, mpl_mul(ts, mpl_num(ts, 0.5), W)), mpl_mul(ts, mpl_sum(ts, SIG(PRE)), ex));
  }
}

typedef struct lay { double pre[NP], post[NQ], epre[NP], epost[NQ], W[NW]; } lay;

static double hand_entry(int f, const lay *d, int i, int j) {
  double w = d->W[i * NP + j], ex = d->epost[i] * d->pre[j], yx = d->post[i] * d->pre[j], sx = 0;
  for (int k = 0; k < NP; k++) sx += d->pre[k];
  switch (f) {
  case HAD_W: case TWT: return w * ex;
  case SOFT: return (1 - w) * yx;
  case WW: case SQW: return w * w * ex;
  case TANHW: return tanh(w) * d->post[i] * d->epre[j];
  case CUBIC: return -w * w * w;
  case RELUW: return (w > 0 ? w : 0) * ex;
  case ABSW: return fabs(w) * yx;
  default: return exp(0.5 * w) * sx * ex;
  }
}

static lay hand_layer(void) {
  lay d;
  memcpy(d.pre, PRE, sizeof d.pre), memcpy(d.post, POST, sizeof d.post);
  memcpy(d.epre, EPRE, sizeof d.epre), memcpy(d.epost, EPOST, sizeof d.epost), memcpy(d.W, W0, sizeof d.W);
  return d;
}

static mpl_layer_io io_of(lay *d) {
  return (mpl_layer_io){.n_pre = NP, .n_post = NQ, .sig = {d->pre, d->post, d->epre, d->epost}, .W = d->W};
}

/* A set of every form, then F0 = -e x^T and -W (rank-1 and weight-proportional terms beside them). */
static mpl_termset *all_forms(void) {
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  char name[16];
  for (int f = 0; f < N_FORMS; f++) {
    snprintf(name, sizeof name, "f%d", f);
    if (mpl_termset_add(ts, name, NULL, form(ts, f), &err) < 0) fail_msg("form %d: %s", f, err.msg);
  }
  if (mpl_termset_add(ts, "F0", NULL, mpl_neg(ts, mpl_outer(ts, SIG(EPOST), SIG(PRE))), &err) < 0 ||
      mpl_termset_add(ts, "decay", NULL, mpl_neg(ts, SIG(W)), &err) < 0)
    fail_msg("%s", err.msg);
  return ts;
}

static double hand_update(const double *theta, const lay *d, int i, int j) {
  double s = 0;
  for (int f = 0; f < N_FORMS; f++) s += theta[f] * hand_entry(f, d, i, j);
  return s - theta[N_FORMS] * d->epost[i] * d->pre[j] - theta[N_FORMS + 1] * d->W[i * NP + j];
}

static const double THETA[N_FORMS + 2] = {0.3, -0.7, 0.45, -0.2, 0.9, 0.35, -0.6, 0.15, 0.55, -0.25, 1.1, 0.05};

/* ---- Values ---- */

static void test_values(void **state) {
  (void)state;
  mpl_termset *ts = all_forms();
  lay d = hand_layer();
  mpl_layer_io io = io_of(&d);
  for (int f = 0; f < N_FORMS + 2; f++) { /* each term alone */
    mpl_rule *r;
    mpl_err err = {0};
    if (mpl__rule_compile(ts, &f, 1, &r, &err) < 0) fail_msg("term %d: %s", f, err.msg);
    assert_int_equal(mpl__rule_is_lazy(r), f >= N_FORMS); /* elementwise terms take the dense path */
    double *val = calloc(mpl__rule_nvals(r, NP, NQ) + 1, sizeof *val), out[NW];
    mpl__rule_eval(r, &io, val);
    mpl__rule_term_dense(r, 0, &io, val, out);
    for (int i = 0; i < NQ; i++)
      for (int j = 0; j < NP; j++) {
        double th[N_FORMS + 2] = {0};
        th[f] = 1;
        mpl_assert_close(out[i * NP + j], hand_update(th, &d, i, j), 1e-14, 1e-15);
      }
    free(val);
    mpl__rule_free(r);
  }
  /* all at once: W + sum theta F, one pass */
  mpl_rule *r;
  mpl_err err = {0};
  assert_int_equal(mpl__rule_compile(ts, NULL, 0, &r, &err), MPL_OK);
  assert_int_equal(r->n_ew, N_FORMS); /* one elementwise piece per form, SOFT's rank-1 half apart */
  double *val = calloc(mpl__rule_nvals(r, NP, NQ) + 1, sizeof *val);
  double *scratch = calloc(mpl__rule_nscratch(r, NP, NQ) + 1, sizeof *scratch), Wn[NW];
  mpl__rule_eval(r, &io, val);
  memcpy(Wn, d.W, sizeof Wn);
  mpl__rule_apply(r, THETA, &io, val, Wn, scratch);
  for (int i = 0; i < NQ; i++)
    for (int j = 0; j < NP; j++) mpl_assert_close(Wn[i * NP + j], d.W[i * NP + j] + hand_update(THETA, &d, i, j), 1e-14, 1e-15);
  free(val), free(scratch);
  mpl__rule_free(r);
  mpl_termset_free(ts);
}

/* ---- Reverse mode of one layer's update ---- */

/* <G, W + sum theta F(d)> written out. */
static double hand_loss(const double *theta, const lay *d, const double *G) {
  double s = 0;
  for (int i = 0; i < NQ; i++)
    for (int j = 0; j < NP; j++) s += G[i * NP + j] * (d->W[i * NP + j] + hand_update(theta, d, i, j));
  return s;
}

static double fd(const double *theta, const lay *d, const double *G, double *x) {
  const double h = 1e-5, x0 = *x;
  *x = x0 + h;
  double p = hand_loss(theta, d, G);
  *x = x0 - h;
  double m = hand_loss(theta, d, G);
  *x = x0;
  return (p - m) / (2 * h);
}

static void test_reverse(void **state) {
  (void)state;
  mpl_termset *ts = all_forms();
  lay d = hand_layer();
  mpl_layer_io io = io_of(&d);
  mpl_rule *r;
  mpl_err err = {0};
  assert_int_equal(mpl__rule_compile(ts, NULL, 0, &r, &err), MPL_OK);
  size_t nv = mpl__rule_nvals(r, NP, NQ) + 1;
  double *val = calloc(nv, sizeof *val), *vbar = calloc(nv, sizeof *vbar);
  double *scratch = calloc(mpl__rule_nscratch(r, NP, NQ) + 1, sizeof *scratch);
  double G[NW], Gout[NW], theta[N_FORMS + 2], tbar[N_FORMS + 2] = {0}, bar[4][NP] = {{0}};
  for (int k = 0; k < NW; k++) G[k] = 0.1 * (k + 1) * (k % 2 ? -1 : 1);
  memcpy(theta, THETA, sizeof theta);
  memcpy(Gout, G, sizeof G);
  double *const sb[4] = {bar[0], bar[1], bar[2], bar[3]};
  mpl__rule_eval(r, &io, val);
  assert_int_equal(mpl__rule_vjp(r, theta, &io, val, Gout, tbar, sb, vbar, scratch), MPL_OK);
  double worst = 0;
#define CHECK(got, x) do { double want = fd(theta, &d, G, (x)); worst = fmax(worst, fabs((got) - want) / fmax(fabs(want), 1e-3)); \
    mpl_assert_close((got), want, 1e-8, 1e-9); } while (0)
  for (int t = 0; t < N_FORMS + 2; t++) CHECK(tbar[t], &theta[t]);
  for (int k = 0; k < NW; k++) CHECK(Gout[k], &d.W[k]);
  for (int j = 0; j < NP; j++) {
    CHECK(bar[MPL_SIG_PRE][j], &d.pre[j]);
    CHECK(bar[MPL_SIG_EPRE][j], &d.epre[j]);
  }
  for (int i = 0; i < NQ; i++) {
    CHECK(bar[MPL_SIG_POST][i], &d.post[i]);
    CHECK(bar[MPL_SIG_EPOST][i], &d.epost[i]);
  }
#undef CHECK
  fprintf(stderr, "one layer, every form: worst relative error of the reverse mode %.1e\n", worst);
  free(val), free(vbar), free(scratch);
  mpl__rule_free(r);
  mpl_termset_free(ts);
}

/* ---- Episodes on a tiny network against a literal re-implementation ---- */

#define NL 3
#define BETA 10.0
static const int NN[NL + 1] = {3, 2, 2, 3};
static const double WI[NL + 1][9] = {
    {0}, {0.5, -0.3, 0.8, -0.6, 0.4, 0.2}, {0.7, -0.5, 0.3, 0.9}, {0.4, -0.7, -0.2, 0.6, 0.9, 0.1}};
static const double BI[NL + 1][9] = {
    {0}, {-0.4, 0.6, 0.1, 0.3, -0.8, 0.5}, {0.2, 0.9, -0.7, 0.4}, {0.5, 0.3, -0.6, 0.2, 0.1, -0.9}};

/* One online step of the reference: forward (softplus, softmax), errors through B, and at each
 * layer W += sum_f theta_f F_f(W_old) + the F0 and decay terms. */
static void ref_step(double W[NL + 1][9], const double *theta, const double *x, int label) {
  double y[NL + 1][3], e[NL + 1][3];
  for (int j = 0; j < NN[0]; j++) y[0][j] = x[j];
  for (int l = 1; l <= NL; l++) {
    double z[3], s = 0;
    for (int i = 0; i < NN[l]; i++) {
      z[i] = 0;
      for (int j = 0; j < NN[l - 1]; j++) z[i] += W[l][i * NN[l - 1] + j] * y[l - 1][j];
      s += exp(z[i]);
    }
    for (int i = 0; i < NN[l]; i++) y[l][i] = l < NL ? log(1 + exp(BETA * z[i])) / BETA : exp(z[i]) / s;
  }
  for (int i = 0; i < NN[NL]; i++) e[NL][i] = y[NL][i] - (i == label);
  for (int l = NL - 1; l >= 0; l--)
    for (int j = 0; j < NN[l]; j++) {
      double h = 0;
      for (int i = 0; i < NN[l + 1]; i++) h += BI[l + 1][i * NN[l] + j] * e[l + 1][i];
      e[l][j] = h * (1 - exp(-BETA * y[l][j]));
    }
  for (int l = 1; l <= NL; l++) {
    lay d; /* only the first NN[l-1] / NN[l] entries are read: hand_entry indexes W with NP */
    double Wn[9];
    for (int i = 0; i < NN[l]; i++)
      for (int j = 0; j < NN[l - 1]; j++) {
        double w = W[l][i * NN[l - 1] + j], u = 0;
        memset(&d, 0, sizeof d);
        d.pre[0] = y[l - 1][j], d.epre[0] = e[l - 1][j], d.post[0] = y[l][i], d.epost[0] = e[l][i], d.W[0] = w;
        for (int k = 1; k < NP; k++) d.pre[k] = 0;
        for (int f = 0; f < N_FORMS; f++)
          if (f != EXPS) u += theta[f] * hand_entry(f, &d, 0, 0);
        Wn[i * NN[l - 1] + j] = w + u - theta[N_FORMS] * e[l][i] * y[l - 1][j] - theta[N_FORMS + 1] * w;
      }
    memcpy(W[l], Wn, sizeof Wn);
  }
}

static void test_episode_reference(void **state) {
  (void)state;
  mpl_termset *ts = all_forms();
  int which[N_FORMS + 1], n = 0; /* every form but EXPS (its sum(x) couples the entries), F0, decay */
  double theta[N_FORMS + 2];
  for (int t = 0; t < N_FORMS + 2; t++)
    if (t != EXPS) which[n] = t, theta[n++] = 0.2 * THETA[t];
  mpl_net_cfg cfg = {.n_layers = NL, .beta = BETA, .feedback = MPL_FB_FIXED};
  for (int l = 0; l <= NL; l++) cfg.sizes[l] = NN[l];
  mpl_episode *ep;
  mpl_err err = {0};
  assert_int_equal(mpl_episode_new(&cfg, ts, which, n, &ep, &err), MPL_OK);
  for (int l = 1; l <= NL; l++) {
    memcpy(mpl_episode_weights(ep, l), WI[l], (size_t)NN[l] * NN[l - 1] * sizeof(double));
    memcpy(mpl_episode_feedback(ep, l), BI[l], (size_t)NN[l] * NN[l - 1] * sizeof(double));
  }
  enum { T = 5 };
  const double X[T * 3] = {0.2, 0.9, 0.4, 0.7, 0.1, 0.5, 0.3, 0.3, 0.8, 1.0, 0.6, 0.0, 0.5, 0.5, 0.5};
  const int Y[T] = {0, 2, 1, 1, 0};
  double full[N_FORMS + 2] = {0}, W[NL + 1][9], grad[N_FORMS + 2];
  for (int k = 0, m = 0; k < N_FORMS + 2; k++)
    if (k != EXPS) full[k] = theta[m++];
  memcpy(W, WI, sizeof W);
  for (int t = 0; t < T; t++) ref_step(W, full, X + 3 * t, Y[t]);
  mpl_episode_stats st;
  assert_int_equal(mpl_episode_run(ep, theta, X, Y, T, X, Y, 2, &st, grad, &err), MPL_OK);
  for (int l = 1; l <= NL; l++)
    for (int k = 0; k < NN[l] * NN[l - 1]; k++) mpl_assert_close(mpl_episode_adapted(ep, l)[k], W[l][k], 1e-13, 1e-15);
  mpl_episode_free(ep);
  mpl_termset_free(ts);
}

/* The exact meta-gradient of F0 + one form, fixed and symmetric feedback (mpl_gradcheck). */
static void test_gradcheck_forms(void **state) {
  (void)state;
  static const int forms[] = {HAD_W, SOFT, WW, TANHW, CUBIC, TWT, EXPS};
  double worst[2] = {0, 0};
  for (size_t k = 0; k < sizeof forms / sizeof *forms; k++)
    for (int fb = 0; fb < 2; fb++) {
      mpl_termset *ts = mpl_termset_new();
      mpl_err err = {0};
      assert_int_equal(mpl_termset_add(ts, "F0", NULL, mpl_neg(ts, mpl_outer(ts, SIG(EPOST), SIG(PRE))), &err), MPL_OK);
      assert_int_equal(mpl_termset_add(ts, "g", NULL, form(ts, forms[k]), &err), MPL_OK);
      mpl_gradcheck_cfg cfg;
      mpl_gradcheck_defaults(&cfg);
      cfg.net.feedback = fb ? MPL_FB_SYMMETRIC : MPL_FB_FIXED;
      mpl_gradcheck_result res;
      assert_int_equal(mpl_gradcheck(&cfg, ts, NULL, 2, &res, &err), MPL_OK);
      if (!(res.worst < 1e-6))
        fail_msg("form %d, %s feedback: relative error %.2e", forms[k], fb ? "symmetric" : "fixed", res.worst);
      worst[fb] = fmax(worst[fb], res.worst);
      mpl_gradcheck_result_free(&res);
      mpl_termset_free(ts);
    }
  fprintf(stderr, "meta-gradient of F0 + each form: worst relative error %.1e (fixed), %.1e (symmetric)\n", worst[0],
          worst[1]);
}

/* ---- Printing and the round trips ---- */

static void test_printing(void **state) {
  (void)state;
  static const char *const want[][3] = {
      [HAD_W] = {"W ⊙ e_ℓ y_{ℓ−1}ᵀ", "W_{\\ell-1,\\ell} \\odot e_{\\ell} y_{\\ell-1}^\\top", "mul(W, matmul(e_post, t(pre)))"},
      [SOFT] = {"(1 − W) ⊙ y_ℓ y_{ℓ−1}ᵀ", "\\left(1 - W_{\\ell-1,\\ell}\\right) \\odot y_{\\ell} y_{\\ell-1}^\\top",
                "mul(sub(1, W), matmul(post, t(pre)))"},
      [WW] = {"(W ⊙ W) ⊙ e_ℓ y_{ℓ−1}ᵀ", NULL, "mul(mul(W, W), matmul(e_post, t(pre)))"},
      [SQW] = {"square(W) ⊙ e_ℓ y_{ℓ−1}ᵀ", "{W_{\\ell-1,\\ell}}^{2} \\odot e_{\\ell} y_{\\ell-1}^\\top",
               "mul(square(W), matmul(e_post, t(pre)))"},
      [TANHW] = {"tanh(W) ⊙ y_ℓ e_{ℓ−1}ᵀ", NULL, NULL},
      [CUBIC] = {"−square(W) ⊙ W", NULL, "neg(mul(square(W), W))"},
  };
  mpl_termset *ts = mpl_termset_new();
  char buf[512];
  for (int f = 0; f < N_FORMS; f++) {
    mpl_expr *e = form(ts, f);
    for (int fmt = 0; fmt < 3 && f < (int)(sizeof want / sizeof *want); fmt++)
      if (want[f][fmt]) {
        mpl_expr_print(e, (mpl_format)fmt, buf, sizeof buf);
        assert_string_equal(buf, want[f][fmt]);
      }
    mpl_expr_print(e, MPL_FMT_CODE, buf, sizeof buf);
    mpl_err err = {0};
    assert_ptr_equal(mpl_expr_parse(ts, buf, &err), e); /* the parser: the very same node */
    mpl_expr *lua = NULL;
    if (mpl__rules_eval(ts, buf, &lua, &err) < 0) fail_msg("%s: %s", buf, err.msg);
    assert_ptr_equal(lua, e); /* the Lua front end's functions, too */
  }
  /* and the operator forms of a rule file */
  static const struct { const char *lua; int f; } ops[] = {
      {"W * outer(e_post, pre)", HAD_W}, {"(1 - W) * outer(post, pre)", SOFT}, {"W * W * (e_post % pre.T)", WW},
      {"-(square(W) * W)", CUBIC}, {"(W.T * outer(pre, e_post)).T", TWT}};
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
    mpl_expr *lua = NULL;
    mpl_err err = {0};
    if (mpl__rules_eval(ts, ops[k].lua, &lua, &err) < 0) fail_msg("%s: %s", ops[k].lua, err.msg);
    assert_ptr_equal(lua, form(ts, ops[k].f));
  }
  mpl_termset_free(ts);
}

/* ---- The plan's description, the shipped rule file and the refusals ---- */

static void test_plan_and_library(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  if (mpl_terms_parse("paper:F0;" MPL_SOURCE_DIR "/rules/local.lua", ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(sel.n, 7);
  mpl_plan_info pi;
  assert_int_equal(mpl_termset_plan(ts, sel.which, sel.n, &pi, &err), MPL_OK);
  assert_int_equal(pi.elementwise, 6);
  assert_int_equal(pi.natives, 0);
  double rel[8];
  assert_int_equal(mpl_check_terms(ts, sel.which, sel.n, 3, 11, rel, &err), MPL_OK);
  for (int i = 0; i < sel.n; i++)
    if (!(rel[i] < 1e-6)) fail_msg("%s: relative error %.2e", mpl_termset_name(ts, sel.which[i]), rel[i]);
  assert_int_equal(mpl_termset_plan(ts, sel.which, 1, &pi, &err), MPL_OK); /* F0 alone */
  assert_int_equal(pi.elementwise, 0);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* A rule file with a form the engine cannot run is refused when it loads, naming file, line, reason. */
static void test_refused_at_load(void **state) {
  (void)state;
  static const struct { const char *expr, *why; } bad[] = {
      {"tanh(W + outer(post, pre))", "not of W plus an outer product"},
      {"exp(sum(pre) * W) * outer(post, pre)", "of W scaled by a signal"},
      {"(W * outer(post, pre)) % outer(pre, pre)", "a matrix product (or a sum of entries) of an elementwise function of W"},
      {"sum(W * W) * outer(post, pre)", "a matrix product (or a sum of entries) of an elementwise function of W"},
      {"outer(W * outer(post, pre) % pre, pre)", "a matrix product (or a sum of entries) of an elementwise function of W"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char text[512];
    snprintf(text, sizeof text, "local y = post\nreturn {\n  { name = \"bad\", expr = %s },\n}\n", bad[k].expr);
    mpl_termset *ts = mpl_termset_new();
    mpl_err err = {0};
    int rc = mpl__rules_load_buffer("weights.lua", text, strlen(text), ts, &err);
    assert_int_equal(rc, MPL_EUNSUPPORTED);
    mpl_assert_contains(err.msg, "weights.lua:3: term 'bad': ");
    mpl_assert_contains(err.msg, bad[k].why);
    assert_int_equal(mpl_termset_count(ts), 0);
    mpl_termset_free(ts);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),           cmocka_unit_test(test_reverse),
      cmocka_unit_test(test_episode_reference), cmocka_unit_test(test_gradcheck_forms),
      cmocka_unit_test(test_printing),         cmocka_unit_test(test_plan_and_library),
      cmocka_unit_test(test_refused_at_load),
  };
  return cmocka_run_group_tests_name("elementwise", tests, NULL, NULL);
}
