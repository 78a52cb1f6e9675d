/* metaplast: the pieces of the robust discovery method that are not the outer loop itself:
 * term magnitudes for scale-free coefficients, the train/validation split, paired statistics
 * and the health verdict (docs/discovery.md). See LICENSE for copyright. */
#include "discover.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "plan.h"

/* {====== The pseudo-gradient ====== */

/* Term i's value against -e_post pre^T on two random layers (fixed draws). */
int mpl__is_pseudo_gradient(const mpl_termset *ts, int i) {
  mpl_rule *rule;
  mpl_err err = {0};
  if (mpl__rule_compile(ts, &i, 1, &rule, &err) < 0) return 0;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  int same = rng != NULL;
  if (rng) gsl_rng_set(rng, 12345);
  for (int trial = 0; same && trial < 2; trial++) {
    int np = 5 + trial, nq = 4 + trial;
    double sig[4][8], W[64], out[64], *val = malloc((mpl__rule_nvals(rule, np, nq) + 1) * sizeof *val), big = 0, diff = 0;
    if (!val) { same = 0; break; }
    for (int k = 0; k < 4; k++)
      for (int j = 0; j < 8; j++) sig[k][j] = k < 2 ? 0.1 + gsl_rng_uniform(rng) : gsl_rng_uniform(rng) - 0.5;
    for (int k = 0; k < np * nq; k++) W[k] = gsl_rng_uniform(rng) - 0.5;
    mpl_layer_io io = {.n_pre = np, .n_post = nq, .sig = {sig[0], sig[1], sig[2], sig[3]}, .W = W};
    mpl__rule_eval(rule, &io, val);
    mpl__rule_term_dense(rule, 0, &io, val, out);
    for (int a = 0; a < nq; a++)
      for (int b = 0; b < np; b++) {
        double ref = -sig[MPL_SIG_EPOST][a] * sig[MPL_SIG_PRE][b];
        big = fmax(big, fabs(ref)), diff = fmax(diff, fabs(out[a * np + b] - ref));
      }
    same = isfinite(diff) && diff <= 1e-12 * big;
    free(val);
  }
  if (rng) gsl_rng_free(rng);
  mpl__rule_free(rule);
  return same;
}

/* }====== */

/* {====== Term magnitudes ======
 * A network's signals for one image (the start network, or an adapted one), as the episode
 * computes them (episode.c):
 * y_0 = x, y_l = softplus_beta(W_l y_{l-1}), y_L = softmax(W_L y_{L-1}); e_L = y_L - onehot,
 * e_l = (B_{l+1}^T e_{l+1}) * (1 - exp(-beta y_l)), e_0 likewise with y_0 = x. */

typedef struct probe {
  const mpl_net_cfg *net;
  double *y[MPL_MAX_LAYERS + 1], *e[MPL_MAX_LAYERS + 1];
  const double *W[MPL_MAX_LAYERS + 1], *B[MPL_MAX_LAYERS + 1];
  const double *D[MPL_MAX_LAYERS + 1]; /* direct feedback: D_{l-1} (n_L x n_{l-1}), carrying e_L to layer l-1 */
} probe;

static double softplus(double beta, double z) {
  double bz = beta * z;
  return (fmax(bz, 0) + log1p(exp(-fabs(bz)))) / beta;
}

static void signals(probe *P, const double *x, int label) {
  const mpl_net_cfg *c = P->net;
  int L = c->n_layers;
  memcpy(P->y[0], x, (size_t)c->sizes[0] * sizeof *x);
  for (int l = 1; l <= L; l++) {
    int ni = c->sizes[l - 1], no = c->sizes[l];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, no, ni, 1.0, P->W[l], ni, P->y[l - 1], 1, 0.0, P->y[l], 1);
    if (l < L) {
      for (int j = 0; j < no; j++) P->y[l][j] = softplus(c->beta, P->y[l][j]);
    } else {
      double m = P->y[L][0], s = 0;
      for (int j = 1; j < no; j++) m = fmax(m, P->y[L][j]);
      for (int j = 0; j < no; j++) s += (P->y[L][j] = exp(P->y[L][j] - m));
      for (int j = 0; j < no; j++) P->y[L][j] /= s;
    }
  }
  for (int j = 0; j < c->sizes[L]; j++) P->e[L][j] = P->y[L][j] - (j == label);
  for (int l = L; l >= 1; l--) {
    int ni = c->sizes[l - 1], no = c->sizes[l];
    const double *F = c->feedback == MPL_FB_SYMMETRIC ? P->W[l] : P->B[l];
    if (c->feedback == MPL_FB_DIRECT) /* e_{l-1} = (D_{l-1}^T e_L) * g */
      cblas_dgemv(CblasRowMajor, CblasTrans, c->sizes[L], ni, 1.0, P->D[l], ni, P->e[L], 1, 0.0, P->e[l - 1], 1);
    else
      cblas_dgemv(CblasRowMajor, CblasTrans, no, ni, 1.0, F, ni, P->e[l], 1, 0.0, P->e[l - 1], 1);
    for (int j = 0; j < ni; j++) P->e[l - 1][j] *= -expm1(-c->beta * P->y[l - 1][j]);
  }
}

/* Sum over layers of |F_r|_F^2 for every term r, and of the pseudo-gradient's (*pg). */
static void layer_norms(probe *P, const mpl_rule *rule, int n, double *val, double *out, double *sq, double *pg) {
  const mpl_net_cfg *c = P->net;
  for (int l = 1; l <= c->n_layers; l++) {
    int np = c->sizes[l - 1], nq = c->sizes[l];
    mpl_layer_io io = {.n_pre = np, .n_post = nq, .sig = {P->y[l - 1], P->y[l], P->e[l - 1], P->e[l]}, .W = P->W[l]};
    mpl__rule_eval(rule, &io, val);
    for (int r = 0; r < n; r++) {
      mpl__rule_term_dense(rule, r, &io, val, out);
      sq[r] += cblas_ddot(np * nq, out, 1, out, 1);
    }
    *pg += cblas_ddot(nq, P->e[l], 1, P->e[l], 1) * cblas_ddot(np, P->y[l - 1], 1, P->y[l - 1], 1);
  }
}

int mpl__term_magnitudes(const mpl_net_cfg *net, mpl_episode *ep, const mpl_termset *ts, const int *which, int n,
                         const double *x, const int *y, int images, gsl_rng *rng, double *rel, mpl_err *err) {
  mpl_rule *rule;
  int rc = mpl__rule_compile(ts, which, n, &rule, err);
  if (rc < 0) return rc;
  probe P = {.net = net};
  size_t wmax = 0, nv = 0, no = 0;
  for (int l = 0; l <= net->n_layers; l++) wmax = (size_t)net->sizes[l] > wmax ? (size_t)net->sizes[l] : wmax;
  for (int l = 1; l <= net->n_layers; l++) {
    size_t k = mpl__rule_nvals(rule, net->sizes[l - 1], net->sizes[l]);
    nv = k > nv ? k : nv;
    k = (size_t)net->sizes[l - 1] * (size_t)net->sizes[l];
    no = k > no ? k : no;
  }
  double *buf = calloc(2 * (net->n_layers + 1) * wmax + nv + no + 2 * (size_t)n + 4, sizeof *buf);
  if (!buf) { mpl__rule_free(rule); return mpl_errorf(err, MPL_ENOMEM, "out of memory"); }
  for (int l = 0; l <= net->n_layers; l++) P.y[l] = buf + 2 * l * wmax, P.e[l] = P.y[l] + wmax;
  double *val = buf + 2 * (net->n_layers + 1) * wmax, *out = val + nv + 1, *sq = out + no + 1, *acc = sq + n;
  if (rng) mpl_episode_init_weights(ep, rng);
  for (int l = 1; l <= net->n_layers; l++)
    P.W[l] = rng ? mpl_episode_weights(ep, l) : mpl_episode_adapted(ep, l), P.B[l] = mpl_episode_feedback(ep, l),
    P.D[l] = mpl_episode_direct(ep, l - 1);
  double pg_acc = 0;
  for (int i = 0; i < images; i++) {
    double pg = 0;
    memset(sq, 0, (size_t)n * sizeof *sq);
    signals(&P, x + (size_t)i * (size_t)net->sizes[0], y[i]);
    layer_norms(&P, rule, n, val, out, sq, &pg);
    for (int r = 0; r < n; r++) acc[r] += sq[r] / images;
    pg_acc += pg / images;
  }
  for (int r = 0; r < n; r++) {
    rel[r] = sqrt(acc[r] / pg_acc);
    if (rc == 0 && (!(rel[r] > MPL__MAGNITUDE_MIN) || !isfinite(rel[r])))
      rc = mpl_errorf(err, MPL_EINVAL, "term %s: its magnitude on the start network is %s (%g of the "
                      "pseudo-gradient's): it cannot be standardized; remove it, or run with --method plain",
                      mpl_termset_name(ts, which[r]), isfinite(rel[r]) ? "zero up to rounding" : "not finite", rel[r]);
  }
  free(buf);
  mpl__rule_free(rule);
  return rc;
}

/* }====== */

/* {====== Train/validation split ====== */

int mpl__dataset_split(const mpl_dataset *ds, const mpl_task_cfg *task, mpl_dataset *train, mpl_dataset *val,
                       mpl_err *err) {
  size_t need = (size_t)task->k + (size_t)task->q, C = (size_t)ds->n_classes;
  *train = *val = *ds;
  train->class_off = calloc(C + 1, sizeof *train->class_off);
  val->class_off = calloc(C + 1, sizeof *val->class_off);
  train->class_idx = malloc((ds->n + 1) * sizeof *train->class_idx);
  val->class_idx = malloc((ds->n + 1) * sizeof *val->class_idx);
  if (!train->class_off || !val->class_off || !train->class_idx || !val->class_idx) {
    mpl__dataset_view_free(train), mpl__dataset_view_free(val);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  size_t nt = 0, nv = 0;
  for (size_t c = 0; c < C; c++) {
    size_t a = ds->class_off[c], size = ds->class_off[c + 1] - a, v = 0;
    if (size >= 2 * need) v = (size + 5) / 6 > need ? (size + 5) / 6 : need;
    memcpy(train->class_idx + nt, ds->class_idx + a, (size - v) * sizeof *ds->class_idx);
    memcpy(val->class_idx + nv, ds->class_idx + a + size - v, v * sizeof *ds->class_idx);
    nt += size - v, nv += v;
    train->class_off[c + 1] = nt, val->class_off[c + 1] = nv;
  }
  snprintf(val->name, sizeof val->name, "%.50s (validation)", ds->name);
  return MPL_OK;
}

void mpl__dataset_view_free(mpl_dataset *v) {
  if (!v) return;
  free(v->class_off), free(v->class_idx);
  v->class_off = NULL, v->class_idx = NULL;
}

/* }====== */

/* {====== Statistics and the verdict ====== */

void mpl__paired(const double *x, const double *y, int n, double *mean_x, double *mean_y, double *se) {
  double sx = 0, sy = 0, sd = 0, sdd = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i]) && isfinite(y[i])) sx += x[i], sy += y[i], sd += x[i] - y[i], k++;
  *mean_x = k ? sx / k : NAN, *mean_y = k ? sy / k : NAN;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i]) && isfinite(y[i])) sdd += (x[i] - y[i] - sd / k) * (x[i] - y[i] - sd / k);
  *se = k > 1 ? sqrt(sdd / (k - 1) / k) : NAN;
}

/* The share of failed episodes above which a search is unhealthy, and the decline of the final
 * iterate's validation accuracy below the reported rule's that is worth a warning. */
#define HEALTH_MAX_FAILED 0.2
#define HEALTH_DECLINE 0.03

void mpl__health_judge(mpl__health *h, const double *acc, int episodes, int chance_m, const char *const *bound_terms,
                       int n_bound) {
  mpl__sb s = {h->text, sizeof h->text, 0};
  char why[1536] = "", warn[1024] = "";
  mpl__sb w = {why, sizeof why, 0}, v = {warn, sizeof warn, 0};
  h->window = episodes < 50 ? episodes : 50;
  double sum = 0;
  int k = 0;
  for (int e = episodes - h->window; e < episodes; e++)
    if (isfinite(acc[e])) sum += acc[e], k++;
  h->final_acc = k ? sum / k : NAN;
  double share = episodes ? (double)h->failed / episodes : 0;
  if (share > HEALTH_MAX_FAILED)
    mpl__sb_printf(&w, "  - %d of %d episodes failed (%d dead, %d diverged): above %.0f%%\n", h->failed, episodes,
                   h->dead, h->failed - h->dead, 100 * HEALTH_MAX_FAILED);
  if (h->val_tasks <= 0) {
    mpl__sb_printf(&w, "  - not validated (no validation tasks)\n");
  } else {
    if (h->val_diverged > 0)
      mpl__sb_printf(&w, "  - the rule diverges on %d of %d validation tasks\n", h->val_diverged, h->val_tasks);
    if (!(h->val_rule >= h->val_fa))
      mpl__sb_printf(&w, "  - the rule does worse than FA on the validation tasks (%.3f against %.3f)\n", h->val_rule,
                     h->val_fa);
    if (h->val_rule <= 1.5 / chance_m)
      mpl__sb_printf(&w, "  - the rule is at chance on the validation tasks (%.3f; chance %.3f)\n", h->val_rule,
                     1.0 / chance_m);
  }
  h->gain = h->val_tasks > 0 && h->val_rule - h->val_fa > 2 * h->val_se;
  if (h->val_tasks > 0 && h->val_rule >= h->val_fa && !h->gain)
    mpl__sb_printf(&v, "  - no significant gain over FA (%.3f against %.3f, SE of the difference %.3f)\n", h->val_rule,
                   h->val_fa, h->val_se);
  if (isfinite(h->val_best) && h->val_rule < h->val_best - HEALTH_DECLINE)
    mpl__sb_printf(&v, "  - the reported rule is %.3f below the best validated one (%.3f after episode %d)\n",
                   h->val_best - h->val_rule, h->val_best, h->val_best_episode);
  if (isfinite(h->val_last) && h->val_last < h->val_rule - HEALTH_DECLINE)
    mpl__sb_printf(&v, "  - the final iterate declined to %.3f on the validation tasks: the rule of episode %d is "
                   "reported (--final for the last)\n", h->val_last, h->best_episode);
  if (isfinite(h->final_acc) && h->final_acc <= 1.5 / chance_m)
    mpl__sb_printf(&v, "  - the last %d episodes are at chance (mean accuracy %.3f)\n", h->window, h->final_acc);
  if (h->shared_val && h->val_tasks > 0)
    mpl__sb_printf(&v, "  - the validation tasks are drawn from the training images (plain method, or too few images "
                   "per class to hold a sixth out)\n");
  for (int i = 0; i < n_bound; i++)
    mpl__sb_printf(&v, "  - θ_%s is held at 0 by its sign constraint\n", bound_terms[i]);
  h->healthy = why[0] == '\0';
  if (h->healthy)
    mpl__sb_printf(&s, "health: healthy%s: validation accuracy %.3f against FA's %.3f on the same %d tasks; %d of %d "
                   "episodes failed\n", h->gain ? "" : " (no significant gain over FA)", h->val_rule, h->val_fa,
                   h->val_tasks, h->failed, episodes);
  else
    mpl__sb_printf(&s, "health: UNHEALTHY: do not read this rule as a discovery\n%s", why);
  if (warn[0]) mpl__sb_printf(&s, "%s%s", h->healthy ? "" : "  notes:\n", warn);
}

/* }====== */
