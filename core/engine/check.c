/* metaplast: the meta-gradient checked against central finite differences.
 * See LICENSE for copyright. */
#include "metaplast/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

void mpl_gradcheck_defaults(mpl_gradcheck_cfg *cfg) {
  static const int sizes[] = {12, 9, 8, 7, 6};
  memset(cfg, 0, sizeof *cfg);
  cfg->net.n_layers = 4;
  memcpy(cfg->net.sizes, sizes, sizeof sizes);
  cfg->net.beta = 10;
  cfg->net.feedback = MPL_FB_FIXED;
  cfg->n_train = 20;
  cfg->n_query = 6;
  cfg->seed = 1;
  cfg->theta_scale = 0.02;
  cfg->h = 1e-2;
}

void mpl_gradcheck_result_free(mpl_gradcheck_result *res) {
  if (!res) return;
  free(res->grad);
  free(res->fd);
  free(res->rel);
  memset(res, 0, sizeof *res);
}

typedef struct problem {
  mpl_episode *ep;
  double *tx, *qx;
  int *ty, *qy, nt, nq;
} problem;

static double loss_at(problem *P, const double *theta, mpl_err *err, int *rc) {
  mpl_episode_stats st;
  *rc = mpl_episode_run(P->ep, theta, P->tx, P->ty, P->nt, P->qx, P->qy, P->nq, &st, NULL, err);
  return st.loss;
}

/* Central difference of L along theta_r with step h. */
static double central(problem *P, double *theta, int r, double h, mpl_err *err, int *rc) {
  double t = theta[r];
  theta[r] = t + h;
  double lp = loss_at(P, theta, err, rc);
  theta[r] = t - h;
  double lm = *rc < 0 ? 0 : loss_at(P, theta, err, rc);
  theta[r] = t;
  return (lp - lm) / (2 * h);
}

/* Richardson-extrapolated central differences (O(h^4)) at steps 4h, h and h/4; the estimate
 * reported is the one at the finer step of the two consecutive estimates that agree best, an
 * error control that never looks at the value being checked. */
static double finite_difference(problem *P, double *theta, int r, double h, mpl_err *err, int *rc) {
  double d[6], est[5];
  for (int i = 0; i < 6 && *rc == 0; i++) d[i] = central(P, theta, r, 4 * h / (double)(1 << i), err, rc);
  if (*rc < 0) return NAN;
  for (int i = 0; i < 5; i += 2) est[i / 2] = (4 * d[i + 1] - d[i]) / 3;
  int best = fabs(est[0] - est[1]) <= fabs(est[1] - est[2]) ? 1 : 2;
  return est[best];
}

static int fill_problem(problem *P, const mpl_gradcheck_cfg *cfg, gsl_rng *rng, mpl_err *err) {
  int n0 = cfg->net.sizes[0], C = cfg->net.sizes[cfg->net.n_layers];
  P->nt = cfg->n_train;
  P->nq = cfg->n_query;
  P->tx = malloc((size_t)P->nt * n0 * sizeof *P->tx);
  P->qx = malloc((size_t)P->nq * n0 * sizeof *P->qx);
  P->ty = malloc((size_t)P->nt * sizeof *P->ty);
  P->qy = malloc((size_t)P->nq * sizeof *P->qy);
  if (!P->tx || !P->qx || !P->ty || !P->qy) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int i = 0; i < P->nt * n0; i++) P->tx[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < P->nq * n0; i++) P->qx[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < P->nt; i++) P->ty[i] = (int)gsl_rng_uniform_int(rng, (unsigned long)C);
  for (int i = 0; i < P->nq; i++) P->qy[i] = (int)gsl_rng_uniform_int(rng, (unsigned long)C);
  return MPL_OK;
}

int mpl_gradcheck(const mpl_gradcheck_cfg *cfg, const mpl_termset *ts, const int *which, int n,
                  mpl_gradcheck_result *res, mpl_err *err) {
  memset(res, 0, sizeof *res);
  if (!which) n = mpl_termset_count(ts);
  problem P = {0};
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  double *theta = malloc((size_t)n * sizeof *theta);
  res->grad = calloc((size_t)n, sizeof(double));
  res->fd = calloc((size_t)n, sizeof(double));
  res->rel = calloc((size_t)n, sizeof(double));
  res->n = n;
  int rc = (!rng || !theta || !res->grad || !res->fd || !res->rel) ? mpl_errorf(err, MPL_ENOMEM, "out of memory") : 0;
  if (rc == 0) rc = mpl_episode_new(&cfg->net, ts, which, n, &P.ep, err);
  if (rc == 0) {
    gsl_rng_set(rng, cfg->seed);
    mpl_episode_init_weights(P.ep, rng);
    rc = fill_problem(&P, cfg, rng, err);
  }
  if (rc == 0) {
    for (int r = 0; r < n; r++) theta[r] = cfg->theta_scale * (2 * gsl_rng_uniform(rng) - 1);
    theta[0] = fabs(theta[0]) + cfg->theta_scale; /* a learning-rate-like first term */
    mpl_episode_stats st;
    rc = mpl_episode_run(P.ep, theta, P.tx, P.ty, P.nt, P.qx, P.qy, P.nq, &st, res->grad, err);
    res->loss = st.loss;
  }
  double gmax = 0;
  for (int r = 0; rc == 0 && r < n; r++) gmax = fmax(gmax, fabs(res->grad[r]));
  for (int r = 0; rc == 0 && r < n; r++) {
    double h = cfg->h * fmax(fabs(theta[r]), 1e-3);
    res->fd[r] = finite_difference(&P, theta, r, h, err, &rc);
    double den = fmax(fmax(fabs(res->grad[r]), fabs(res->fd[r])), 1e-4 * gmax);
    res->rel[r] = den > 0 ? fabs(res->grad[r] - res->fd[r]) / den : 0;
    if (res->rel[r] >= res->worst) res->worst = res->rel[r], res->worst_term = r;
  }
  mpl_episode_free(P.ep);
  free(P.tx); free(P.qx); free(P.ty); free(P.qy);
  free(theta);
  gsl_rng_free(rng);
  if (rc < 0) mpl_gradcheck_result_free(res);
  return rc;
}

/* {====== Per-term derivative check ====== */

typedef struct layer_case {
  int np, nq;
  double *sig[4], *W, *dir[4], *dW, *G, *val, *out, *scratch, *vbar, *bar[4], *Gw;
} layer_case;

static int sig_len(const layer_case *c, int s) { return (s == MPL_SIG_PRE || s == MPL_SIG_EPRE) ? c->np : c->nq; }

/* <G, F(x + h d)> for the rule's only term. */
static double probe(const mpl_rule *r, layer_case *c, double h) {
  double *x[4], *W = malloc((size_t)c->np * c->nq * sizeof *W);
  for (int s = 0; s < 4; s++) {
    x[s] = malloc((size_t)sig_len(c, s) * sizeof *x[s]);
    for (int j = 0; j < sig_len(c, s); j++) x[s][j] = c->sig[s][j] + h * c->dir[s][j];
  }
  for (size_t k = 0; k < (size_t)c->np * c->nq; k++) W[k] = c->W[k] + h * c->dW[k];
  mpl_layer_io io = {.n_pre = c->np, .n_post = c->nq, .sig = {x[0], x[1], x[2], x[3]}, .W = W};
  mpl__rule_eval(r, &io, c->val);
  mpl__rule_term_dense(r, 0, &io, c->val, c->out);
  double v = 0;
  for (size_t k = 0; k < (size_t)c->np * c->nq; k++) v += c->G[k] * c->out[k];
  for (int s = 0; s < 4; s++) free(x[s]);
  free(W);
  return v;
}

static double *randvec(gsl_rng *rng, size_t n, double lo, double hi) {
  double *v = malloc((n + 1) * sizeof *v);
  for (size_t i = 0; v && i < n; i++) v[i] = lo + (hi - lo) * gsl_rng_uniform(rng);
  return v;
}

/* "" if x[0..n-1] is finite, else "NaN" or "infinite" for the first entry that is not, at *at. */
static const char *nonfinite(const double *x, size_t n, size_t *at) {
  for (size_t k = 0; k < n; k++)
    if (!isfinite(x[k])) {
      *at = k;
      return isnan(x[k]) ? "NaN" : "infinite";
    }
  return "";
}

/* The worst relative error of the term on one random layer into *rel; 0, or -1 with why[] saying
 * what is not finite (the value at the test point or near it, or the reverse-mode derivative). */
static int check_one(const mpl_rule *r, gsl_rng *rng, double *rel, char *why, size_t nwhy) {
  layer_case c = {.np = 3 + (int)gsl_rng_uniform_int(rng, 6), .nq = 2 + (int)gsl_rng_uniform_int(rng, 6)};
  size_t nw = (size_t)c.np * c.nq;
  for (int s = 0; s < 4; s++) {
    /* activities positive (logs and square roots stay defined), errors of either sign */
    int act = s == MPL_SIG_PRE || s == MPL_SIG_POST;
    c.sig[s] = randvec(rng, (size_t)sig_len(&c, s), act ? 0.1 : -1, 1);
    c.dir[s] = randvec(rng, (size_t)sig_len(&c, s), -1, 1);
    c.bar[s] = calloc((size_t)sig_len(&c, s) + 1, sizeof(double));
  }
  c.W = randvec(rng, nw, -0.5, 0.5);
  c.dW = randvec(rng, nw, -1, 1);
  c.G = randvec(rng, nw, -1, 1);
  c.Gw = malloc(nw * sizeof *c.Gw);
  c.out = malloc(nw * sizeof *c.out);
  c.val = malloc((mpl__rule_nvals(r, c.np, c.nq) + 1) * sizeof *c.val);
  c.vbar = malloc((mpl__rule_nvals(r, c.np, c.nq) + 1) * sizeof *c.vbar);
  c.scratch = malloc((mpl__rule_nscratch(r, c.np, c.nq) + 1) * sizeof *c.scratch);
  /* reverse mode: W_new = W + 1 * F, so with dL/dW_new = G, dL/dW_old = G + <G, dF/dW> */
  mpl_layer_io io = {.n_pre = c.np, .n_post = c.nq, .sig = {c.sig[0], c.sig[1], c.sig[2], c.sig[3]}, .W = c.W};
  double theta = 1, theta_bar = 0, adj = 0;
  memcpy(c.Gw, c.G, nw * sizeof *c.Gw);
  mpl__rule_eval(r, &io, c.val);
  mpl__rule_vjp(r, &theta, &io, c.val, c.Gw, &theta_bar, c.bar, c.vbar, c.scratch);
  for (int s = 0; s < 4; s++)
    for (int j = 0; j < sig_len(&c, s); j++) adj += c.bar[s][j] * c.dir[s][j];
  for (size_t k = 0; k < nw; k++) adj += (c.Gw[k] - c.G[k]) * c.dW[k];
  double h = 1e-3, d1 = (probe(r, &c, h) - probe(r, &c, -h)) / (2 * h);
  double d2 = (probe(r, &c, h / 2) - probe(r, &c, -h / 2)) / h, fd = (4 * d2 - d1) / 3;
  double den = fmax(fmax(fabs(adj), fabs(fd)), 1e-10);
  probe(r, &c, 0); /* the value at the test point, into c.out */
  size_t at = 0;
  const char *v = nonfinite(c.out, nw, &at), *g = "";
  for (int s = 0; s < 4 && !g[0]; s++) g = nonfinite(c.bar[s], (size_t)sig_len(&c, s), &at);
  if (!g[0]) g = nonfinite(c.Gw, nw, &at);
  int bad = 1;
  if (v[0])
    snprintf(why, nwhy, "its value is %s (entry %zu, %zu of a %d x %d layer with random signals: activities in "
             "[0.1, 1], errors and W of either sign)", v, at / (size_t)c.np + 1, at % (size_t)c.np + 1, c.nq, c.np);
  else if (g[0])
    snprintf(why, nwhy, "its derivative (reverse mode, vjp) is %s on a %d x %d layer with random signals where "
             "its value is finite", g, c.nq, c.np);
  else if (!isfinite(fd) || !isfinite(adj))
    snprintf(why, nwhy, "its value is not finite near the test point (within 1e-3 of random signals on a %d x %d "
             "layer)", c.nq, c.np);
  else
    bad = 0;
  *rel = bad ? NAN : fabs(adj - fd) / den;
  for (int s = 0; s < 4; s++) free(c.sig[s]), free(c.dir[s]), free(c.bar[s]);
  free(c.W); free(c.dW); free(c.G); free(c.Gw); free(c.out); free(c.val); free(c.vbar); free(c.scratch);
  return bad ? -1 : 0;
}

int mpl_check_terms(const mpl_termset *ts, const int *which, int n, int trials, unsigned long seed, double *rel,
                    mpl_err *err) {
  if (!which) n = mpl_termset_count(ts);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!rng) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  gsl_rng_set(rng, seed);
  int rc = MPL_OK, n_bad = 0, first_bad = -1;
  char why[512] = "";
  for (int i = 0; i < n && rc == 0; i++) {
    int idx = which ? which[i] : i;
    mpl_rule *r;
    if ((rc = mpl__rule_compile(ts, &idx, 1, &r, err)) < 0) break;
    rel[i] = 0;
    for (int t = 0; t < trials && !isnan(rel[i]); t++) {
      double e;
      char w[512];
      if (check_one(r, rng, &e, w, sizeof w) < 0) {
        rel[i] = NAN;
        if (n_bad++ == 0) first_bad = idx, snprintf(why, sizeof why, "%s", w);
      } else {
        rel[i] = fmax(rel[i], e);
      }
    }
    mpl__rule_free(r);
  }
  gsl_rng_free(rng);
  if (rc == 0 && n_bad) /* the other terms were checked; rel[] holds NaN for the bad ones */
    return mpl_errorf(err, MPL_ENUMERIC, "term '%s' from %s: %s%s", mpl_termset_name(ts, first_bad),
                      mpl_termset_source(ts, first_bad)[0] ? mpl_termset_source(ts, first_bad) : "(no source)", why,
                      n_bad > 1 ? "; more terms are not finite (NaN in the table)" : "");
  return rc;
}

/* }====== */
