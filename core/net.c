/* metaplast: the network (softplus MLP, no biases), one online episode under a plasticity
 * rule, and the exact meta-gradient by reverse mode through the unrolled inner loop with
 * checkpointing (W stored every `segment` steps, each segment recomputed once in the reverse
 * pass). Notation follows PAPER.md: W_l is n_l x n_{l-1}, z_l = W_l y_{l-1},
 * e_L = softmax(z_L) - onehot, e_l = (B_{l+1}^T e_{l+1}) * g(y_l) with g(y) = 1 - exp(-beta y).
 * See LICENSE for copyright. */
#include "metaplast/net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

struct mpl_episode {
  mpl_net_cfg cfg;
  int L, *n;                       /* n = cfg.sizes */
  const mpl_termset *ts;
  int *which;                      /* the rule's terms: indices into ts */
  mpl_rule *rule;
  int need_e0;                     /* the rule reads e_{l-1} at layer 1 */
  size_t woff[MPL_MAX_LAYERS + 2]; /* W_l starts at woff[l] in a flat array (l = 1..L) */
  size_t wtotal;
  double *W0, *W, *B, *G;          /* initial, current, feedback, adjoint (wtotal each) */
  /* One step's record: y_1..y_L, e_0..e_L, h_0..h_{L-1} (e before the g factor), plan values. */
  size_t y_off[MPL_MAX_LAYERS + 1], e_off[MPL_MAX_LAYERS + 1], h_off[MPL_MAX_LAYERS + 1];
  size_t v_off[MPL_MAX_LAYERS + 1], rec_size, nvals_max;
  int seg;                         /* steps per segment for the current run */
  double *seg_W, *seg_rec, *ckpt;  /* segment weights, segment records, checkpoints */
  size_t seg_W_cap, seg_rec_cap, ckpt_cap; /* in doubles */
  double *sbar;                    /* reverse-pass signal adjoints: ybar and ebar, rec layout */
  double *vbar, *scratch, *zbar, *xbar;
  mpl_rankk acc[MPL_MAX_LAYERS + 1];  /* per layer: rank-1 contributions to G, applied once a step */
  double omega[MPL_MAX_LAYERS + 1];   /* per layer: weight-proportional coefficient of the step */
  double *q;                       /* query-batch buffers */
  size_t q_cap;
};

/* {====== Small kernels ====== */

static double softplus(double beta, double z) {
  double bz = beta * z;
  return (bz > 0 ? bz + log1p(exp(-bz)) : log1p(exp(bz))) / beta;
}

/* sigma'(z) = sigmoid(beta z) written through y = sigma(z): 1 - exp(-beta y) (PAPER.md §2). */
static double gprime(double beta, double y) { return -expm1(-beta * y); }

static void softmax(int n, const double *z, double *s) {
  double m = z[0], sum = 0;
  for (int j = 1; j < n; j++) m = z[j] > m ? z[j] : m;
  for (int j = 0; j < n; j++) sum += (s[j] = exp(z[j] - m));
  for (int j = 0; j < n; j++) s[j] /= sum;
}

static int all_finite(const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* }====== */

/* {====== Workspace ====== */

int mpl_episode_nterms(const mpl_episode *ep) { return ep->rule->n_terms; }
double *mpl_episode_weights(mpl_episode *ep, int l) { return ep->W0 + ep->woff[l]; }
double *mpl_episode_feedback(mpl_episode *ep, int l) { return ep->B + ep->woff[l]; }
const double *mpl_episode_adapted(const mpl_episode *ep, int l) { return ep->W + ep->woff[l]; }

static int check_cfg(const mpl_net_cfg *cfg, mpl_err *err) {
  if (cfg->n_layers < 1 || cfg->n_layers > MPL_MAX_LAYERS)
    return mpl_errorf(err, MPL_EINVAL, "network: %d weight layers (1..%d allowed)", cfg->n_layers, MPL_MAX_LAYERS);
  for (int l = 0; l <= cfg->n_layers; l++)
    if (cfg->sizes[l] < 1 || cfg->sizes[l] > 1000000)
      return mpl_errorf(err, MPL_EINVAL, "network: layer %d has %d units", l, cfg->sizes[l]);
  if (!(cfg->beta > 0) || !isfinite(cfg->beta))
    return mpl_errorf(err, MPL_EINVAL, "network: softplus beta must be positive, got %g", cfg->beta);
  if (cfg->feedback != MPL_FB_FIXED && cfg->feedback != MPL_FB_SYMMETRIC)
    return mpl_errorf(err, MPL_EINVAL, "network: unknown feedback mode %d", (int)cfg->feedback);
  return MPL_OK;
}

static void layout(mpl_episode *ep) {
  int L = ep->L;
  size_t w = 0, r = 0;
  for (int l = 1; l <= L; l++) {
    ep->woff[l] = w;
    w += (size_t)ep->n[l] * (size_t)ep->n[l - 1];
  }
  ep->wtotal = w;
  for (int l = 1; l <= L; l++) { ep->y_off[l] = r; r += (size_t)ep->n[l]; }
  for (int l = 0; l <= L; l++) { ep->e_off[l] = r; r += (size_t)ep->n[l]; }
  for (int l = 0; l < L; l++) { ep->h_off[l] = r; r += (size_t)ep->n[l]; }
  ep->nvals_max = 0;
  for (int l = 1; l <= L; l++) {
    size_t nv = mpl__rule_nvals(ep->rule, ep->n[l - 1], ep->n[l]);
    ep->v_off[l] = r;
    r += nv;
    if (nv > ep->nvals_max) ep->nvals_max = nv;
  }
  ep->rec_size = r;
}

int mpl_episode_new(const mpl_net_cfg *cfg, const mpl_termset *ts, const int *which, int n,
                    mpl_episode **out, mpl_err *err) {
  *out = NULL;
  int rc = check_cfg(cfg, err);
  if (rc < 0) return rc;
  mpl_episode *ep = calloc(1, sizeof *ep);
  if (!ep) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  ep->cfg = *cfg;
  ep->L = cfg->n_layers;
  ep->n = ep->cfg.sizes;
  ep->ts = ts;
  if ((rc = mpl__rule_compile(ts, which, n, &ep->rule, err)) < 0) {
    free(ep);
    return rc;
  }
  ep->need_e0 = ep->rule->uses[MPL_SIG_EPRE];
  if (!(ep->which = malloc(((size_t)ep->rule->n_terms + 1) * sizeof *ep->which))) {
    mpl_episode_free(ep);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  for (int t = 0; t < ep->rule->n_terms; t++) ep->which[t] = which ? which[t] : t;
  layout(ep);
  int nmax = 0;
  for (int l = 0; l <= ep->L; l++) nmax = ep->n[l] > nmax ? ep->n[l] : nmax;
  size_t nsc = 3 * (size_t)nmax + 8;
  int acc_ok = 1;
  for (int l = 1; l <= ep->L; l++) {
    size_t k = mpl__rule_nscratch(ep->rule, ep->n[l - 1], ep->n[l]);
    if (k > nsc) nsc = k;
    /* the rule's W x / W^T x nodes, the forward pass, and (BP) W as feedback */
    if (mpl__rankk_init(&ep->acc[l], mpl__rule_nrank1(ep->rule) + 2, ep->n[l], ep->n[l - 1], ep->rule->n_natives > 0) < 0)
      acc_ok = 0;
  }
  ep->W0 = calloc(ep->wtotal, sizeof(double));
  ep->W = calloc(ep->wtotal, sizeof(double));
  ep->B = calloc(ep->wtotal, sizeof(double));
  ep->G = calloc(ep->wtotal, sizeof(double));
  ep->sbar = calloc(ep->rec_size, sizeof(double));
  ep->vbar = calloc(ep->nvals_max + 1, sizeof(double));
  ep->scratch = calloc(nsc, sizeof(double));
  ep->zbar = calloc((size_t)nmax, sizeof(double));
  ep->xbar = calloc((size_t)nmax, sizeof(double));
  if (!ep->W0 || !ep->W || !ep->B || !ep->G || !ep->sbar || !ep->vbar || !ep->scratch || !ep->zbar || !ep->xbar || !acc_ok) {
    mpl_episode_free(ep);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory for the network's buffers");
  }
  *out = ep;
  return MPL_OK;
}

void mpl_episode_free(mpl_episode *ep) {
  if (!ep) return;
  for (int l = 1; l <= ep->L; l++) mpl__rankk_free(&ep->acc[l]);
  mpl__rule_free(ep->rule);
  free(ep->which);
  free(ep->W0); free(ep->W); free(ep->B); free(ep->G);
  free(ep->seg_W); free(ep->seg_rec); free(ep->ckpt);
  free(ep->sbar); free(ep->vbar); free(ep->scratch); free(ep->zbar); free(ep->xbar);
  free(ep->q);
  free(ep);
}

static void xavier(double *w, int fan_out, int fan_in, gsl_rng *rng) {
  double a = sqrt(6.0 / (fan_in + fan_out));
  for (size_t i = 0; i < (size_t)fan_out * (size_t)fan_in; i++) w[i] = a * (2 * gsl_rng_uniform(rng) - 1);
}

void mpl_episode_init_weights(mpl_episode *ep, gsl_rng *rng) {
  for (int l = 1; l <= ep->L; l++) xavier(ep->W0 + ep->woff[l], ep->n[l], ep->n[l - 1], rng);
  for (int l = 1; l <= ep->L; l++) xavier(ep->B + ep->woff[l], ep->n[l], ep->n[l - 1], rng);
}

static int reserve(double **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  double *p = realloc(*buf, need * sizeof *p);
  if (!p) return -1;
  *buf = p;
  *cap = need;
  return 0;
}

/* }====== */

/* {====== One online step ====== */

/* Feedback matrix of layer l (n_l x n_{l-1}) for weights W. */
static const double *feedback(const mpl_episode *ep, const double *W, int l) {
  return (ep->cfg.feedback == MPL_FB_SYMMETRIC ? W : ep->B) + ep->woff[l];
}

static mpl_layer_io layer_io(const mpl_episode *ep, const double *W, const double *rec, const double *x, int l) {
  mpl_layer_io io = {.n_pre = ep->n[l - 1], .n_post = ep->n[l], .W = W + ep->woff[l]};
  io.sig[MPL_SIG_PRE] = l == 1 ? x : rec + ep->y_off[l - 1];
  io.sig[MPL_SIG_POST] = rec + ep->y_off[l];
  io.sig[MPL_SIG_EPRE] = (l > 1 || ep->need_e0) ? rec + ep->e_off[l - 1] : NULL;
  io.sig[MPL_SIG_EPOST] = rec + ep->e_off[l];
  return io;
}

/* Forward pass and modulatory signals of one sample into rec (weights W unchanged). */
static void signals(const mpl_episode *ep, const double *W, const double *x, int label, double *rec) {
  int L = ep->L;
  double beta = ep->cfg.beta;
  for (int l = 1; l <= L; l++) {
    const double *pre = l == 1 ? x : rec + ep->y_off[l - 1];
    double *y = rec + ep->y_off[l];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, ep->n[l], ep->n[l - 1], 1, W + ep->woff[l], ep->n[l - 1],
                pre, 1, 0, y, 1);
    if (l < L) for (int j = 0; j < ep->n[l]; j++) y[j] = softplus(beta, y[j]);
    else softmax(ep->n[L], y, y);
  }
  double *eL = rec + ep->e_off[L];
  memcpy(eL, rec + ep->y_off[L], (size_t)ep->n[L] * sizeof *eL);
  eL[label] -= 1;
  for (int l = L - 1; l >= (ep->need_e0 ? 0 : 1); l--) {
    double *h = rec + ep->h_off[l], *e = rec + ep->e_off[l];
    const double *y = l == 0 ? x : rec + ep->y_off[l];
    cblas_dgemv(CblasRowMajor, CblasTrans, ep->n[l + 1], ep->n[l], 1, feedback(ep, W, l + 1), ep->n[l],
                rec + ep->e_off[l + 1], 1, 0, h, 1);
    for (int j = 0; j < ep->n[l]; j++) e[j] = h[j] * gprime(beta, y[j]);
  }
}

/* One online step: signals and plan values into rec, then W <- W + sum_r theta_r F_r on every
 * layer (all computed from the pre-update weights). */
static void step(const mpl_episode *ep, const double *theta, double *W, const double *x, int label, double *rec) {
  signals(ep, W, x, label, rec);
  for (int l = 1; l <= ep->L; l++) {
    mpl_layer_io io = layer_io(ep, W, rec, x, l);
    mpl__rule_eval(ep->rule, &io, rec + ep->v_off[l]);
  }
  for (int l = 1; l <= ep->L; l++) {
    mpl_layer_io io = layer_io(ep, W, rec, x, l);
    mpl__rule_apply(ep->rule, theta, &io, rec + ep->v_off[l], W + ep->woff[l], ep->scratch);
  }
}

/* Reverse of one step. G holds dL/dW after the step; on return dL/dW before it. W is the
 * pre-step weights and rec the step's record. */
static void step_reverse(mpl_episode *ep, const double *theta, const double *W, const double *x,
                         const double *rec, double *theta_bar) {
  int L = ep->L;
  double beta = ep->cfg.beta, *sb = ep->sbar;
  memset(sb, 0, ep->rec_size * sizeof *sb);
  for (int l = 1; l <= L; l++) {
    mpl_layer_io io = layer_io(ep, W, rec, x, l);
    double *bars[4] = {l == 1 ? NULL : sb + ep->y_off[l - 1], sb + ep->y_off[l],
                       (l > 1 || ep->need_e0) ? sb + ep->e_off[l - 1] : NULL, sb + ep->e_off[l]};
    mpl__rule_vjp_acc(ep->rule, theta, &io, rec + ep->v_off[l], ep->G + ep->woff[l], &ep->omega[l],
                      &ep->acc[l], theta_bar, bars, ep->vbar, ep->scratch);
  }
  /* e_l = h_l * g(y_l), h_l = B_{l+1}^T e_{l+1}; visited from the input side so ebar_l is complete. */
  int diff_fb = ep->cfg.feedback == MPL_FB_SYMMETRIC && !ep->cfg.bp_detach;
  for (int l = ep->need_e0 ? 0 : 1; l < L; l++) {
    const double *y = l == 0 ? x : rec + ep->y_off[l], *h = rec + ep->h_off[l];
    double *eb = sb + ep->e_off[l], *hb = ep->zbar;
    for (int j = 0; j < ep->n[l]; j++) {
      hb[j] = eb[j] * gprime(beta, y[j]);
      if (l > 0) sb[ep->y_off[l] + j] += eb[j] * h[j] * beta * exp(-beta * y[j]);
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, ep->n[l + 1], ep->n[l], 1, feedback(ep, W, l + 1), ep->n[l],
                hb, 1, 1, sb + ep->e_off[l + 1], 1);
    if (diff_fb) mpl__rankk_push(&ep->acc[l + 1], 1, rec + ep->e_off[l + 1], hb);
  }
  /* y_L = softmax(z_L) and e_L = y_L - onehot: both adjoints go through the softmax Jacobian. */
  const double *s = rec + ep->y_off[L];
  double *zb = ep->zbar, dot = 0;
  for (int j = 0; j < ep->n[L]; j++) {
    zb[j] = sb[ep->y_off[L] + j] + sb[ep->e_off[L] + j];
    dot += zb[j] * s[j];
  }
  for (int j = 0; j < ep->n[L]; j++) zb[j] = s[j] * (zb[j] - dot);
  for (int l = L; l >= 1; l--) {
    const double *pre = l == 1 ? x : rec + ep->y_off[l - 1];
    mpl__rankk_push(&ep->acc[l], 1, zb, pre);
    if (l == 1) break;
    double *yb = sb + ep->y_off[l - 1];
    cblas_dgemv(CblasRowMajor, CblasTrans, ep->n[l], ep->n[l - 1], 1, W + ep->woff[l], ep->n[l - 1], zb, 1, 1, yb, 1);
    for (int j = 0; j < ep->n[l - 1]; j++) ep->xbar[j] = yb[j] * gprime(beta, pre[j]);
    memcpy(zb, ep->xbar, (size_t)ep->n[l - 1] * sizeof *zb);
  }
  /* dL/dW_before = (1 + omega) dL/dW_after + every queued rank-1 term: one pass over G per layer */
  for (int l = 1; l <= L; l++) mpl__rankk_flush(&ep->acc[l], 1 + ep->omega[l], ep->G + ep->woff[l]);
}

/* }====== */

/* {====== Query loss and statistics ====== */

/* Query buffers: per layer Y_l (N x n_l) for l = 1..L, then two e-blocks for statistics. */
static size_t q_layer_off(const mpl_episode *ep, int N, int l) {
  size_t off = 0;
  for (int k = 1; k < l; k++) off += (size_t)N * (size_t)ep->n[k];
  return off;
}

static void query_forward(mpl_episode *ep, const double *X, int N, double *Y) {
  for (int l = 1; l <= ep->L; l++) {
    const double *P = l == 1 ? X : Y + q_layer_off(ep, N, l - 1);
    double *Z = Y + q_layer_off(ep, N, l);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, ep->n[l], ep->n[l - 1], 1, P, ep->n[l - 1],
                ep->W + ep->woff[l], ep->n[l - 1], 0, Z, ep->n[l]);
    if (l < ep->L)
      for (size_t i = 0; i < (size_t)N * (size_t)ep->n[l]; i++) Z[i] = softplus(ep->cfg.beta, Z[i]);
  }
}

/* Mean cross-entropy and accuracy; overwrites the logits with dL/dz_L. */
static void query_loss(mpl_episode *ep, double *Z, const int *labels, int N, mpl_episode_stats *st) {
  int C = ep->n[ep->L], right = 0;
  double loss = 0;
  for (int i = 0; i < N; i++) {
    double *z = Z + (size_t)i * C, m = z[0];
    int arg = 0;
    for (int j = 1; j < C; j++) if (z[j] > m) { m = z[j]; arg = j; }
    right += arg == labels[i];
    double lse = 0;
    for (int j = 0; j < C; j++) lse += exp(z[j] - m);
    lse = m + log(lse);
    loss += lse - z[labels[i]];
    for (int j = 0; j < C; j++) z[j] = (exp(z[j] - lse) - (j == labels[i])) / N;
  }
  st->loss = loss / N;
  st->accuracy = (double)right / N;
}

/* Backward of the query loss: from dL/dz_L (in Y's last block) into G = dL/dW_final. */
static void query_backward(mpl_episode *ep, const double *X, int N, double *Y, double *Ybar) {
  memset(ep->G, 0, ep->wtotal * sizeof *ep->G);
  double *Zb = Y + q_layer_off(ep, N, ep->L);
  for (int l = ep->L; l >= 1; l--) {
    const double *P = l == 1 ? X : Y + q_layer_off(ep, N, l - 1);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ep->n[l], ep->n[l - 1], N, 1, Zb, ep->n[l], P,
                ep->n[l - 1], 0, ep->G + ep->woff[l], ep->n[l - 1]);
    if (l == 1) break;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, ep->n[l - 1], ep->n[l], 1, Zb, ep->n[l],
                ep->W + ep->woff[l], ep->n[l - 1], 0, Ybar, ep->n[l - 1]);
    for (size_t i = 0; i < (size_t)N * (size_t)ep->n[l - 1]; i++) Ybar[i] *= gprime(ep->cfg.beta, P[i]);
    memcpy(Y + q_layer_off(ep, N, l - 1), Ybar, (size_t)N * (size_t)ep->n[l - 1] * sizeof *Ybar);
    Zb = Y + q_layer_off(ep, N, l - 1);
  }
}

static double angle_deg(const double *a, const double *b, int n) {
  double ab = cblas_ddot(n, a, 1, b, 1), na = cblas_dnrm2(n, a, 1), nb = cblas_dnrm2(n, b, 1);
  if (!(na > 0 && nb > 0)) return 0; /* as the reference: undefined angles count as 0 */
  double c = ab / (na * nb);
  return acos(c > 1 ? 1 : c < -1 ? -1 : c) * (180 / 3.14159265358979323846);
}

/* Batch e signals, rows = samples: E_L = softmax(Z_L) - onehot, E_k = (E_{k+1} F_{k+1}) * g(Y_k)
 * down to layer `lo`, with feedback F = B (fb = 0) or the current W (fb = 1); the batch mean of
 * E_k goes to mean + k * nmax. */
static void batch_e(const mpl_episode *ep, const double *X, const int *labels, int N, const double *Y, int fb,
                    double *E0, double *E1, double *mean, int nmax) {
  int L = ep->L;
  const double *Zl = Y + q_layer_off(ep, N, L);
  for (int i = 0; i < N; i++) {
    softmax(ep->n[L], Zl + (size_t)i * ep->n[L], E0 + (size_t)i * ep->n[L]);
    E0[(size_t)i * ep->n[L] + labels[i]] -= 1;
  }
  for (int k = L - 1; k >= 0; k--) {
    const double *F = (fb ? ep->W : ep->B) + ep->woff[k + 1];
    const double *Yk = k == 0 ? X : Y + q_layer_off(ep, N, k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, ep->n[k], ep->n[k + 1], 1, E0, ep->n[k + 1], F,
                ep->n[k], 0, E1, ep->n[k]);
    double *m = mean + (size_t)k * nmax;
    memset(m, 0, (size_t)ep->n[k] * sizeof *m);
    for (int i = 0; i < N; i++)
      for (int j = 0; j < ep->n[k]; j++) {
        size_t ij = (size_t)i * ep->n[k] + j;
        E1[ij] *= gprime(ep->cfg.beta, Yk[ij]);
        m[j] += E1[ij] / N;
      }
    double *t = E0; E0 = E1; E1 = t;
  }
}

/* alpha_l: angle between the batch means of e_l with feedback B and with W^T (PAPER.md §8);
 * E_l: orthonormality error sum_i |z_l - W W^T y_l|^2 (Eq. 11). Y holds the query activations,
 * logits at the last layer. work: 4 N nmax + 2 (L+1) nmax doubles. */
static void query_stats(mpl_episode *ep, const double *X, const int *labels, int N, const double *Y,
                        double *work, mpl_episode_stats *st) {
  int L = ep->L, nmax = 0;
  for (int l = 0; l <= L; l++) nmax = ep->n[l] > nmax ? ep->n[l] : nmax;
  size_t blk = (size_t)N * nmax;
  double *A = work, *Bw = A + blk, *mfa = Bw + 2 * blk, *mbp = mfa + (size_t)(L + 1) * nmax;
  for (int l = 0; l <= L; l++) st->angle[l] = 0, st->ortho[l] = 0;
  if (ep->cfg.feedback == MPL_FB_FIXED) {
    batch_e(ep, X, labels, N, Y, 0, A, A + blk, mfa, nmax);
    batch_e(ep, X, labels, N, Y, 1, A, A + blk, mbp, nmax);
    for (int l = 0; l < L; l++) st->angle[l] = angle_deg(mfa + (size_t)l * nmax, mbp + (size_t)l * nmax, ep->n[l]);
  }
  for (int l = 1; l <= L; l++) {
    const double *W = ep->W + ep->woff[l], *P = l == 1 ? X : Y + q_layer_off(ep, N, l - 1);
    const double *Yl = Y + q_layer_off(ep, N, l);
    if (l == L) { /* the post signal of the last layer is the softmax output */
      for (int i = 0; i < N; i++) softmax(ep->n[L], Yl + (size_t)i * ep->n[L], Bw + (size_t)i * ep->n[L]);
      Yl = Bw;
    }
    /* R = P - Y_l W (N x n_{l-1}); residual z - W W^T y = W (pre - W^T y), row form R W^T */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, ep->n[l - 1], ep->n[l], -1, Yl, ep->n[l], W,
                ep->n[l - 1], 0, A, ep->n[l - 1]);
    cblas_daxpy(N * ep->n[l - 1], 1, P, 1, A, 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, ep->n[l], ep->n[l - 1], 1, A, ep->n[l - 1], W,
                ep->n[l - 1], 0, Bw + blk, ep->n[l]);
    st->ortho[l] = cblas_ddot(N * ep->n[l], Bw + blk, 1, Bw + blk, 1);
  }
}

/* }====== */

/* {====== The episode ====== */

static int check_labels(const mpl_episode *ep, const int *y, int n, const char *what, mpl_err *err) {
  for (int i = 0; i < n; i++)
    if (y[i] < 0 || y[i] >= ep->n[ep->L])
      return mpl_errorf(err, MPL_ESHAPE, "%s label %d at position %d is outside the output layer (%d units)",
                        what, y[i], i, ep->n[ep->L]);
  return MPL_OK;
}

static int alloc_run(mpl_episode *ep, int n_train, int n_query, int want_grad, mpl_err *err) {
  int seg = ep->cfg.segment > 0 ? ep->cfg.segment : (int)ceil(sqrt((double)n_train));
  ep->seg = seg < 1 ? 1 : seg;
  size_t nseg = want_grad ? (size_t)ep->seg : 1;                     /* step records kept at once */
  size_t nck = want_grad ? (size_t)(n_train + ep->seg - 1) / ep->seg : 0; /* checkpoints */
  size_t qsize = 0, nmax = 0;
  for (int l = 0; l <= ep->L; l++) nmax = (size_t)ep->n[l] > nmax ? (size_t)ep->n[l] : nmax;
  for (int l = 1; l <= ep->L; l++) qsize += (size_t)n_query * (size_t)ep->n[l];
  qsize += 4 * (size_t)n_query * nmax + 2 * (size_t)(ep->L + 1) * nmax; /* statistics */
  if (reserve(&ep->q, &ep->q_cap, qsize) < 0 || reserve(&ep->seg_rec, &ep->seg_rec_cap, nseg * ep->rec_size) < 0 ||
      (want_grad && reserve(&ep->seg_W, &ep->seg_W_cap, nseg * ep->wtotal) < 0) ||
      reserve(&ep->ckpt, &ep->ckpt_cap, nck * ep->wtotal) < 0)
    return mpl_errorf(err, MPL_ENOMEM, "out of memory for the episode's buffers (%zu steps per segment)", nseg);
  return MPL_OK;
}

int mpl_episode_run(mpl_episode *ep, const double *theta, const double *train_x, const int *train_y,
                    int n_train, const double *query_x, const int *query_y, int n_query,
                    mpl_episode_stats *st, double *grad, mpl_err *err) {
  int rc, R = ep->rule->n_terms, n0 = ep->n[0];
  if (n_train < 0 || n_query < 1) return mpl_errorf(err, MPL_EINVAL, "episode: %d training and %d query samples", n_train, n_query);
  if ((rc = check_labels(ep, train_y, n_train, "training", err)) < 0) return rc;
  if ((rc = check_labels(ep, query_y, n_query, "query", err)) < 0) return rc;
  for (int r = 0; r < R; r++)
    if (!isfinite(theta[r])) return mpl_errorf(err, MPL_ENUMERIC, "theta[%d] (term '%s') is %g", r, mpl_termset_name(ep->ts, ep->which[r]), theta[r]);
  if ((rc = alloc_run(ep, n_train, n_query, grad != NULL, err)) < 0) return rc;
  memcpy(ep->W, ep->W0, ep->wtotal * sizeof *ep->W);
  /* Primal inner loop, keeping a checkpoint of W at the start of every segment. */
  for (int t = 0; t < n_train; t++) {
    if (grad && t % ep->seg == 0) memcpy(ep->ckpt + (size_t)(t / ep->seg) * ep->wtotal, ep->W, ep->wtotal * sizeof *ep->W);
    step(ep, theta, ep->W, train_x + (size_t)t * n0, train_y[t], ep->seg_rec);
  }
  st->finite = all_finite(ep->W, ep->wtotal);
  double *Y = ep->q, *work = ep->q + q_layer_off(ep, n_query, ep->L + 1);
  query_forward(ep, query_x, n_query, Y);
  query_stats(ep, query_x, query_y, n_query, Y, work, st);
  double *Zl = Y + q_layer_off(ep, n_query, ep->L);
  query_loss(ep, Zl, query_y, n_query, st);
  if (!isfinite(st->loss)) st->finite = 0;
  if (!grad) return MPL_OK;
  memset(grad, 0, (size_t)R * sizeof *grad);
  if (!st->finite) return mpl_errorf(err, MPL_ENUMERIC, "episode diverged: non-finite weights or loss after the inner loop");
  query_backward(ep, query_x, n_query, Y, work);
  /* Reverse pass, one segment at a time, last first. */
  for (int s0 = ((n_train - 1) / ep->seg) * ep->seg; s0 >= 0 && n_train > 0; s0 -= ep->seg) {
    int len = n_train - s0 < ep->seg ? n_train - s0 : ep->seg;
    memcpy(ep->seg_W, ep->ckpt + (size_t)(s0 / ep->seg) * ep->wtotal, ep->wtotal * sizeof *ep->W);
    for (int k = 0; k < len; k++) {
      double *Wk = ep->seg_W + (size_t)k * ep->wtotal;
      if (k + 1 < len) memcpy(Wk + ep->wtotal, Wk, ep->wtotal * sizeof *Wk);
      double *rec = ep->seg_rec + (size_t)k * ep->rec_size;
      int t = s0 + k;
      if (k + 1 < len) step(ep, theta, Wk + ep->wtotal, train_x + (size_t)t * n0, train_y[t], rec);
      else {
        /* the last step of a segment: signals and plan values only (its output W is not needed) */
        signals(ep, Wk, train_x + (size_t)t * n0, train_y[t], rec);
        for (int l = 1; l <= ep->L; l++) {
          mpl_layer_io io = layer_io(ep, Wk, rec, train_x + (size_t)t * n0, l);
          mpl__rule_eval(ep->rule, &io, rec + ep->v_off[l]);
        }
      }
    }
    for (int k = len - 1; k >= 0; k--) {
      int t = s0 + k;
      step_reverse(ep, theta, ep->seg_W + (size_t)k * ep->wtotal, train_x + (size_t)t * n0,
                   ep->seg_rec + (size_t)k * ep->rec_size, grad);
    }
  }
  if (!all_finite(grad, (size_t)R)) {
    st->finite = 0;
    return mpl_errorf(err, MPL_ENUMERIC, "the meta-gradient is not finite");
  }
  return MPL_OK;
}

/* }====== */
