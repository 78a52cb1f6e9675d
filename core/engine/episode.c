/* metaplast: the network (softplus MLP, no biases), one online episode under a plasticity
 * rule, and the exact meta-gradient by reverse mode through the unrolled inner loop with
 * checkpointing (W stored every `segment` steps, each segment recomputed once in the reverse
 * pass). Notation follows PAPER.md: W_l is n_l x n_{l-1}, z_l = W_l y_{l-1},
 * e_L = softmax(z_L) - onehot, e_l = (B_{l+1}^T e_{l+1}) * g(y_l) with g(y) = 1 - exp(-beta y)
 * (under direct feedback, e_l = (D_l^T e_L) * g(y_l)).
 * See LICENSE for copyright. */
#include "metaplast/net.h"

#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* Lazy adjoints: steps of rank-1 contributions queued before G is updated in one pass. */
#define LAZY_STEPS 16

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
  /* direct feedback: D_l (n_L x n_l) at D + doff[l], l = 0..L-2 (D_{L-1} is B_L), and their stream */
  double *D;
  size_t doff[MPL_MAX_LAYERS + 1], dtotal;
  gsl_rng *drng;
  /* One step's record: y_1..y_L, e_0..e_L, h_0..h_{L-1} (e before the g factor), plan values. */
  size_t y_off[MPL_MAX_LAYERS + 1], e_off[MPL_MAX_LAYERS + 1], h_off[MPL_MAX_LAYERS + 1], z_off[MPL_MAX_LAYERS + 1];
  /* ... and the softplus slopes g_l = 1 - exp(-beta y_l) (l = 0..L-1; l = 0 of the input, only
   * if e_0 is computed) and q_l = exp(-beta y_l) (l = 1..L-1) */
  size_t g_off[MPL_MAX_LAYERS + 1], qe_off[MPL_MAX_LAYERS + 1];
  size_t v_off[MPL_MAX_LAYERS + 1], rec_size, nvals_max;
  int seg;                         /* steps per segment for the current run (dense path) */
  int lseg[MPL_MAX_LAYERS + 1];    /* lazy path: steps per segment of layer l's weights */
  size_t ck_off[MPL_MAX_LAYERS + 1]; /* lazy path: layer l's checkpoints start at ckpt + ck_off[l] */
  double *seg_W, *seg_rec, *ckpt;  /* segment weights, segment records, checkpoints */
  size_t seg_W_cap, seg_rec_cap, ckpt_cap; /* in doubles */
  double *sbar;                    /* reverse-pass signal adjoints: ybar and ebar, rec layout */
  double *vbar, *scratch, *zbar, *xbar;
  double *ones;                    /* nmax ones: the rule's ones vectors (compact values) */
  mpl_rankk acc[MPL_MAX_LAYERS + 1];  /* per layer: rank-1 contributions to G (lazy: pending rows) */
  int lazy;                        /* no native terms: weights and adjoints are kept lazily */
  int wmat;                        /* the rule has weight-proportional pieces */
  int ng, gpush;                   /* rank-1 rows per step and layer; G pushes per step and layer */
  int wpre, nwx;                   /* the rule reads W pre (its value is z); its other products with W */
  int lsteps;                      /* lazy: steps per block of the reverse pass (<= LAZY_STEPS) */
  /* lazy: the reverse pass never reads layer l's weights (layer 1 under fixed feedback when no
   * term multiplies by W), so they are updated in place, without checkpoints */
  int inplace[MPL_MAX_LAYERS + 1];
  /* the adjoint products layer l uses (mpl__rule_row_kinds): the groups whose P rows (prow[l],
   * npr[l] of them) and Qt rows (qrow[l], nqr[l]) are products with G, in group order */
  int *prow[MPL_MAX_LAYERS + 1], *qrow[MPL_MAX_LAYERS + 1], npr[MPL_MAX_LAYERS + 1], nqr[MPL_MAX_LAYERS + 1];
  int *rowlists;
  int sums;                        /* lazy: the adjoints keep running row and column sums (ones groups) */
  /* lazy: every step's update rows, per layer (UA then VB), ngr per step (group g in slot[g]);
   * the rows whose u (group one_s) or v (group one_r) is a ones vector are not stored but summed
   * over the segment: after each step, S (n_pre, rows 1 S^T) at ps_off and R (n_post, rows
   * R 1^T) at pr_off; -1: no such group */
  double *rows;
  size_t rows_cap, ua_off[MPL_MAX_LAYERS + 1], vb_off[MPL_MAX_LAYERS + 1], ps_off[MPL_MAX_LAYERS + 1],
      pr_off[MPL_MAX_LAYERS + 1];
  int ngr, *slot, one_s, one_r;
  int *prow_slot[MPL_MAX_LAYERS + 1], *qrow_slot[MPL_MAX_LAYERS + 1]; /* prow, qrow as slots */
  double *urow;                    /* one step's update rows of one layer (ng x nmax, twice) */
  double *lztmp;                   /* scratch for products with lazy weights */
  size_t lztmp_cap;
  double tau[MPL_MAX_LAYERS + 1];     /* lazy, weight-proportional rules: <dL/dW, W> per layer */
  double *gs;                      /* lazy: the weights' scalar factor per step and layer */
  size_t gs_cap;
  double *q;                       /* query-batch buffers */
  size_t q_cap;
  /* Lazy reverse pass, per layer: one block's update rows (Ut, Vm) and their products with the
   * adjoint's base (Ut G, Vm G^T), LAZY_STEPS steps at once */
  double *blk;
  double *zseg;                    /* lazy forward pass: one segment's layer-1 products C_j x_t */
  size_t zseg_cap;
  double g255[256];                /* gprime(beta, k / 255.0), k = 0..255 */
  double *qlogits;                 /* the adapted network's query logits (mpl__episode_query_logits) */
  size_t qlogits_cap;
  size_t blk_cap, bu_off[MPL_MAX_LAYERS + 1], bv_off[MPL_MAX_LAYERS + 1], bp_off[MPL_MAX_LAYERS + 1],
      bq_off[MPL_MAX_LAYERS + 1], pu_off[MPL_MAX_LAYERS + 1], pv_off[MPL_MAX_LAYERS + 1];
};

/* {====== Small kernels ====== */

/* y = softplus(z) = log(1 + e^{beta z}) / beta, and from the same exponential t = e^{-|beta z|}
 * its slope g = sigma'(z) = sigmoid(beta z) and q = 1 - g = sigmoid(-beta z). Written through y,
 * g = 1 - exp(-beta y) (PAPER.md §2) and q = exp(-beta y); computed here from z, both are
 * accurate to a few ulps everywhere (no cancellation), and the reverse pass needs no further
 * transcendental function. */
static inline double softplus_gq(double beta, double z, double *g, double *q) {
  double bz = beta * z, t = exp(-fabs(bz)), r = 1 / (1 + t);
  *g = bz > 0 ? r : t * r;
  *q = bz > 0 ? t * r : r;
  return (bz > 0 ? bz + log1p(t) : log1p(t)) / beta;
}

/* g(x) = 1 - exp(-beta x) for an input x (e_0's factor), not the output of a softplus. */
static double gprime(double beta, double x) { return -expm1(-beta * x); }

/* The same for pixels: images are bytes / 255, so g of those 256 values is tabulated (the
 * same numbers as gprime, looked up); any other input is computed. */
static double gprime_in(const mpl_episode *ep, double x) {
  double k = floor(x * 255 + 0.5);
  return k >= 0 && k <= 255 && k / 255.0 == x ? ep->g255[(int)k] : gprime(ep->cfg.beta, x);
}

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
double *mpl_episode_direct(mpl_episode *ep, int l) {
  if (ep->cfg.feedback != MPL_FB_DIRECT || l < 0 || l >= ep->L) return NULL;
  return l == ep->L - 1 ? ep->B + ep->woff[ep->L] : ep->D + ep->doff[l];
}

static const char *const fb_names[] = {"fixed", "symmetric", "direct"};
static const char *const fb_short[] = {"fa", "bp", "dfa"};

const char *mpl_feedback_name(mpl_feedback fb) {
  return (unsigned)fb < 3 ? fb_names[fb] : "unknown";
}

int mpl_feedback_parse(const char *s, mpl_feedback *fb) {
  for (int k = 0; s && k < 3; k++)
    if (!strcmp(s, fb_names[k]) || !strcmp(s, fb_short[k])) return *fb = (mpl_feedback)k, MPL_OK;
  return MPL_EINVAL;
}
const double *mpl_episode_adapted(const mpl_episode *ep, int l) { return ep->W + ep->woff[l]; }
const double *mpl__episode_query_logits(const mpl_episode *ep) { return ep->qlogits; }
int mpl__episode_segment(const mpl_episode *ep, int l) { return ep->lseg[l]; }

static int check_cfg(const mpl_net_cfg *cfg, mpl_err *err) {
  if (cfg->n_layers < 1 || cfg->n_layers > MPL_MAX_LAYERS)
    return mpl_errorf(err, MPL_EINVAL, "network: %d weight layers (1..%d allowed)", cfg->n_layers, MPL_MAX_LAYERS);
  for (int l = 0; l <= cfg->n_layers; l++)
    if (cfg->sizes[l] < 1 || cfg->sizes[l] > 1000000)
      return mpl_errorf(err, MPL_EINVAL, "network: layer %d has %d units", l, cfg->sizes[l]);
  if (!(cfg->beta > 0) || !isfinite(cfg->beta))
    return mpl_errorf(err, MPL_EINVAL, "network: softplus beta must be positive, got %g", cfg->beta);
  if (cfg->feedback != MPL_FB_FIXED && cfg->feedback != MPL_FB_SYMMETRIC && cfg->feedback != MPL_FB_DIRECT)
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
  w = 0;
  for (int l = 0; ep->cfg.feedback == MPL_FB_DIRECT && l < L - 1; l++) {
    ep->doff[l] = w;
    w += (size_t)ep->n[L] * (size_t)ep->n[l];
  }
  ep->dtotal = w;
  for (int l = 1; l <= L; l++) { ep->y_off[l] = r; r += (size_t)ep->n[l]; }
  for (int l = 0; l <= L; l++) { ep->e_off[l] = r; r += (size_t)ep->n[l]; }
  for (int l = 0; l < L; l++) { ep->h_off[l] = r; r += (size_t)ep->n[l]; }
  for (int l = 1; l <= L; l++) { ep->z_off[l] = r; r += (size_t)ep->n[l]; }
  for (int l = 0; l < L; l++) { ep->g_off[l] = r; r += (size_t)ep->n[l]; }
  for (int l = 1; l < L; l++) { ep->qe_off[l] = r; r += (size_t)ep->n[l]; }
  ep->nvals_max = 0;
  for (int l = 1; l <= L; l++) { /* compact values: signals, ones and W pre are read where they are */
    size_t nv = mpl__rule_nvals(ep->rule, ep->n[l - 1], ep->n[l]);
    ep->v_off[l] = r;
    r += mpl__rule_nvals_compact(ep->rule, ep->n[l - 1], ep->n[l]);
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
  for (int k = 0; k < 256; k++) ep->g255[k] = gprime(cfg->beta, k / 255.0);
  int nmax = 0;
  for (int l = 0; l <= ep->L; l++) nmax = ep->n[l] > nmax ? ep->n[l] : nmax;
  size_t nsc = 3 * (size_t)nmax + 8;
  int acc_ok = 1;
  ep->lazy = mpl__rule_is_lazy(ep->rule) && !cfg->dense;
  ep->wmat = mpl__rule_has_wmat(ep->rule);
  ep->ng = ep->rule->n_groups;
  if (!(ep->rowlists = malloc((4 * (size_t)ep->L * ep->ng + ep->ng + 1) * sizeof *ep->rowlists)) ||
      !(ep->urow = malloc((2 * (size_t)ep->ng * nmax + 1) * sizeof *ep->urow))) {
    mpl_episode_free(ep);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  ep->slot = ep->rowlists + 4 * (size_t)ep->L * ep->ng;
  ep->one_s = ep->one_r = -1;
  for (int g = 0; g < ep->ng; g++) { /* a ones vector's rows are summed, its products are G's sums */
    if (ep->lazy && mpl__rule_group_is_sum(ep->rule, g)) {
      ep->sums = 1;
      *(ep->rule->group_side[g] ? &ep->one_r : &ep->one_s) = g;
      ep->slot[g] = -1;
    } else {
      ep->slot[g] = ep->ngr++;
    }
  }
  ep->wpre = mpl__rule_has_wpre(ep->rule);
  ep->nwx = mpl__rule_nrank1(ep->rule) - ep->wpre;
  for (int l = 1; l <= ep->L; l++) {
    ep->inplace[l] = ep->lazy && l == 1 && ep->nwx == 0 && cfg->feedback != MPL_FB_SYMMETRIC;
    /* the signals whose adjoints step_reverse does not want at layer l (its bars) */
    unsigned dead = l == 1 ? 1u << MPL_SIG_PRE | (ep->need_e0 ? 0u : 1u << MPL_SIG_EPRE) : 0u;
    char kp[ep->ng + 1], kq[ep->ng + 1];
    mpl__rule_row_kinds(ep->rule, dead, ep->sums, kp, kq);
    ep->prow[l] = ep->rowlists + 4 * (size_t)(l - 1) * ep->ng;
    ep->qrow[l] = ep->prow[l] + ep->ng;
    ep->prow_slot[l] = ep->qrow[l] + ep->ng;
    ep->qrow_slot[l] = ep->prow_slot[l] + ep->ng;
    ep->npr[l] = ep->nqr[l] = 0;
    for (int g = 0; g < ep->ng; g++) { /* (a ones group's rows are never products: sums) */
      if (kp[g] == MPL_ROW_PRODUCT) ep->prow_slot[l][ep->npr[l]] = ep->slot[g], ep->prow[l][ep->npr[l]++] = g;
      if (kq[g] == MPL_ROW_PRODUCT) ep->qrow_slot[l][ep->nqr[l]] = ep->slot[g], ep->qrow[l][ep->nqr[l]++] = g;
    }
  }
  /* G receives per step and layer: the rule's W x / W^T x nodes (but W pre, whose adjoint joins
   * z's), the forward pass, and (BP) W as feedback. Lazily, LAZY_STEPS steps of them are queued
   * before G is updated. */
  ep->gpush = ep->nwx + 2;
  int kmax = ep->lazy ? LAZY_STEPS * ep->gpush : ep->gpush;
  /* Each step's products with the block's base adjoint are corrected for the rows queued since,
   * at a cost ~ ng gpush (block length): high-rank rules take shorter blocks (quadratic.lua:
   * 6 steps); the paper's pool and smaller rules keep 16. */
  ep->lsteps = ep->ng * ep->gpush <= 12 ? LAZY_STEPS : 192 / (ep->ng * ep->gpush);
  if (ep->lsteps < 4) ep->lsteps = 4;
  for (int l = 1; l <= ep->L; l++) {
    size_t k = mpl__rule_nscratch_lazy(ep->rule, ep->n[l - 1], ep->n[l], kmax);
    if (k > nsc) nsc = k;
    if (mpl__rankk_init(&ep->acc[l], kmax, ep->n[l], ep->n[l - 1], mpl__rule_needs_dense(ep->rule)) < 0 ||
        (ep->sums && mpl__rankk_track_sums(&ep->acc[l]) < 0))
      acc_ok = 0;
  }
  ep->W0 = calloc(ep->wtotal, sizeof(double));
  ep->W = calloc(ep->wtotal, sizeof(double));
  ep->B = calloc(ep->wtotal, sizeof(double));
  ep->G = calloc(ep->wtotal, sizeof(double));
  int d_ok = 1;
  if (cfg->feedback == MPL_FB_DIRECT)
    d_ok = (ep->D = calloc(ep->dtotal + 1, sizeof(double))) && (ep->drng = gsl_rng_alloc(gsl_rng_mt19937));
  ep->sbar = calloc(ep->rec_size, sizeof(double));
  ep->vbar = calloc(ep->nvals_max + 1, sizeof(double));
  ep->scratch = calloc(nsc, sizeof(double));
  ep->zbar = calloc((size_t)nmax, sizeof(double));
  ep->xbar = calloc((size_t)nmax, sizeof(double));
  if ((ep->ones = malloc((size_t)nmax * sizeof(double))))
    for (int j = 0; j < nmax; j++) ep->ones[j] = 1;
  if (!ep->W0 || !ep->W || !ep->B || !ep->G || !ep->sbar || !ep->vbar || !ep->scratch || !ep->zbar || !ep->xbar ||
      !ep->ones || !acc_ok || !d_ok) {
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
  free(ep->rowlists);
  free(ep->urow);
  free(ep->W0); free(ep->W); free(ep->B); free(ep->G); free(ep->D);
  if (ep->drng) gsl_rng_free(ep->drng);
  free(ep->seg_W); free(ep->seg_rec); free(ep->ckpt);
  free(ep->sbar); free(ep->vbar); free(ep->scratch); free(ep->zbar); free(ep->xbar); free(ep->ones);
  free(ep->q); free(ep->rows); free(ep->lztmp); free(ep->gs); free(ep->blk); free(ep->zseg); free(ep->qlogits);
  free(ep);
}

/* Xavier draws come from GSL's mt19937 generator, which through gsl_rng_uniform costs two
 * indirect calls per number (~7 ns, a tenth of an FA episode for the 2 x 176k draws). For that
 * generator the same numbers are generated here straight from its state (GSL's rng/mt.c layout:
 * the 624 words, then the position), ~1 ns each; any other generator, or a state that does not
 * check out, goes through gsl_rng_uniform. Bit-identical either way, and the generator's state
 * afterwards is the same. */
enum { MT_N = 624, MT_M = 397 };
typedef struct mt_state { unsigned long mt[MT_N]; int mti; } mt_state;

static void mt_refill(unsigned long *mt) {
  int k;
  for (k = 0; k < MT_N - MT_M; k++) {
    unsigned long y = (mt[k] & 0x80000000UL) | (mt[k + 1] & 0x7fffffffUL);
    mt[k] = mt[k + MT_M] ^ (y >> 1) ^ (-(y & 1UL) & 0x9908b0dfUL);
  }
  for (; k < MT_N - 1; k++) {
    unsigned long y = (mt[k] & 0x80000000UL) | (mt[k + 1] & 0x7fffffffUL);
    mt[k] = mt[k + (MT_M - MT_N)] ^ (y >> 1) ^ (-(y & 1UL) & 0x9908b0dfUL);
  }
  unsigned long y = (mt[MT_N - 1] & 0x80000000UL) | (mt[0] & 0x7fffffffUL);
  mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ (-(y & 1UL) & 0x9908b0dfUL);
}

static unsigned long mt_temper(unsigned long k) {
  k ^= k >> 11;
  k ^= (k << 7) & 0x9d2c5680UL;
  k ^= (k << 15) & 0xefc60000UL;
  return k ^ (k >> 18);
}

/* The state of rng if it is GSL's mt19937 and its next number is the one computed from the
 * state as laid out above (checked on a copy: one GSL draw, then the state put back); else NULL. */
static mt_state *mt_of(gsl_rng *rng) {
  if (rng->type != gsl_rng_mt19937 || gsl_rng_size(rng) != sizeof(mt_state)) return NULL;
  mt_state *st = gsl_rng_state(rng), copy;
  if (st->mti < 0 || st->mti > MT_N) return NULL;
  memcpy(&copy, st, sizeof copy);
  unsigned long want = gsl_rng_get(rng);
  memcpy(st, &copy, sizeof copy);
  if (copy.mti == MT_N) mt_refill(copy.mt), copy.mti = 0;
  return mt_temper(copy.mt[copy.mti]) == want ? st : NULL;
}

static void xavier(double *w, int fan_out, int fan_in, gsl_rng *rng) {
  double a = sqrt(6.0 / (fan_in + fan_out));
  size_t n = (size_t)fan_out * (size_t)fan_in;
  mt_state *st = mt_of(rng);
  if (!st) {
    for (size_t i = 0; i < n; i++) w[i] = a * (2 * gsl_rng_uniform(rng) - 1);
    return;
  }
  for (size_t i = 0; i < n;) {
    if (st->mti >= MT_N) mt_refill(st->mt), st->mti = 0;
    size_t m = n - i < (size_t)(MT_N - st->mti) ? n - i : (size_t)(MT_N - st->mti);
    const unsigned long *p = st->mt + st->mti;
    for (size_t j = 0; j < m; j++) /* mt_get_double: the 32-bit word / 2^32 */
      w[i + j] = a * (2 * ((double)(long)mt_temper(p[j]) / 4294967296.0) - 1);
    st->mti += (int)m;
    i += m;
  }
}

/* DFA's stream: seeded by a splitmix64 hash of the number rng would give next, read on a copy of
 * rng's state that is then put back, so rng draws the same numbers afterwards as under FA and BP. */
static void seed_direct(mpl_episode *ep, gsl_rng *rng) {
  size_t sz = gsl_rng_size(rng);
  unsigned char copy[sz + 1];
  void *st = gsl_rng_state(rng);
  memcpy(copy, st, sz);
  uint64_t z = (uint64_t)gsl_rng_get(rng) + 0x9e3779b97f4a7c15ULL * 0x444641ULL; /* "DFA" */
  memcpy(st, copy, sz);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  gsl_rng_set(ep->drng, (unsigned long)(z ^ (z >> 31)));
}

void mpl_episode_init_weights(mpl_episode *ep, gsl_rng *rng) {
  if (ep->cfg.feedback == MPL_FB_DIRECT) seed_direct(ep, rng);
  for (int l = 1; l <= ep->L; l++) xavier(ep->W0 + ep->woff[l], ep->n[l], ep->n[l - 1], rng);
  for (int l = 1; l <= ep->L; l++) xavier(ep->B + ep->woff[l], ep->n[l], ep->n[l - 1], rng);
  if (ep->cfg.feedback == MPL_FB_DIRECT) /* D_l is n_L x n_l, as B_{l+1} is n_{l+1} x n_l */
    for (int l = 0; l < ep->L - 1; l++) xavier(ep->D + ep->doff[l], ep->n[ep->L], ep->n[l], ep->drng);
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

/* The weights of every layer at one step: W_l = s (M + A^T B + 1 S^T + R 1^T) with k pending
 * rank-1 rows and the pending rows with a ones vector summed in S and R (NULL: none); k = 0 and
 * no S, R: the dense matrix M. */
typedef struct wview {
  const double *M;
  int k;
  const double *A, *B, *S, *R;
  double s;
} wview;

static void dense_views(const mpl_episode *ep, const double *W, wview *V) {
  for (int l = 1; l <= ep->L; l++) V[l] = (wview){W + ep->woff[l], 0, NULL, NULL, NULL, NULL, 1};
}

/* y <- beta y + op(W_l) x. */
static void wgemv(const mpl_episode *ep, const wview *v, int l, int trans, const double *x, double beta, double *y) {
  mpl__lazy_gemv(ep->n[l], ep->n[l - 1], v->M, v->k, v->A, v->B, v->S, v->R, trans, v->s, x, beta, y, ep->lztmp);
}

/* y <- W_l x when the base's product Mx = M x is given: y = s (Mx + A^T (B x) + 1 (S.x) + (1.x) R). */
static void wgemv_given(const mpl_episode *ep, const wview *v, int l, const double *Mx, const double *x, double *y) {
  int nq = ep->n[l], np = ep->n[l - 1];
  for (int j = 0; j < nq; j++) y[j] = v->s * Mx[j];
  if (v->k > 0) {
    cblas_dgemv(CblasRowMajor, CblasNoTrans, v->k, np, 1, v->B, np, x, 1, 0, ep->lztmp, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, v->k, nq, v->s, v->A, nq, ep->lztmp, 1, 1, y, 1);
  }
  if (v->S) {
    double c = v->s * cblas_ddot(np, v->S, 1, x, 1);
    for (int j = 0; j < nq; j++) y[j] += c;
  }
  if (v->R) {
    double c = 0;
    for (int j = 0; j < np; j++) c += x[j];
    cblas_daxpy(nq, v->s * c, v->R, 1, y, 1);
  }
}

/* Layer l's signals in a step's record (x: the step's input), with the compact values' z and
 * ones; no weights. */
static mpl_layer_io rec_io(const mpl_episode *ep, const double *rec, const double *x, int l) {
  mpl_layer_io io = {.n_pre = ep->n[l - 1], .n_post = ep->n[l], .z = rec + ep->z_off[l], .ones = ep->ones};
  io.sig[MPL_SIG_PRE] = l == 1 ? x : rec + ep->y_off[l - 1];
  io.sig[MPL_SIG_POST] = rec + ep->y_off[l];
  io.sig[MPL_SIG_EPRE] = (l > 1 || ep->need_e0) ? rec + ep->e_off[l - 1] : NULL;
  io.sig[MPL_SIG_EPOST] = rec + ep->e_off[l];
  return io;
}

/* The same with the weights of view V[l]. */
static mpl_layer_io layer_io(const mpl_episode *ep, const wview *V, const double *rec, const double *x, int l) {
  mpl_layer_io io = rec_io(ep, rec, x, l);
  io.W = V[l].M, io.wk = V[l].k, io.WA = V[l].A, io.WB = V[l].B, io.WS = V[l].S, io.WR = V[l].R;
  io.tmp = ep->lztmp, io.wscale = V[l].s;
  return io;
}

/* y <- beta y + op(F_l) x with the feedback F_l of layer l: B_l, or W_l itself (BP). */
static void fgemv(const mpl_episode *ep, const wview *V, int l, int trans, const double *x, double beta, double *y) {
  if (ep->cfg.feedback == MPL_FB_SYMMETRIC) wgemv(ep, &V[l], l, trans, x, beta, y);
  else cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, ep->n[l], ep->n[l - 1], 1, ep->B + ep->woff[l],
                   ep->n[l - 1], x, 1, beta, y, 1);
}

/* The layer whose error is carried into layer l's (l = 0..L-1): l + 1, or L under direct feedback. */
static int fb_src(const mpl_episode *ep, int l) { return ep->cfg.feedback == MPL_FB_DIRECT ? ep->L : l + 1; }

/* y <- beta y + op(M) x with the matrix M that carries e_{fb_src(l)} into layer l: F_{l+1}
 * (n_{l+1} x n_l), or under direct feedback D_l (n_L x n_l; D_{L-1} = B_L). trans = 1 is the
 * forward direction, h_l = M^T e. */
static void fb_gemv(const mpl_episode *ep, const wview *V, int l, int trans, const double *x, double beta, double *y) {
  if (ep->cfg.feedback == MPL_FB_DIRECT && l + 1 < ep->L)
    cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, ep->n[ep->L], ep->n[l], 1, ep->D + ep->doff[l],
                ep->n[l], x, 1, beta, y, 1);
  else
    fgemv(ep, V, l + 1, trans, x, beta, y);
}

/* Forward pass and modulatory signals of one sample into rec, then the plan's values. z1: the
 * product of layer 1's dense base with x, if the caller has it (else NULL). */
static void signals(const mpl_episode *ep, const wview *V, const double *x, int label, double *rec, const double *z1) {
  int L = ep->L;
  double beta = ep->cfg.beta;
  for (int l = 1; l <= L; l++) {
    const double *pre = l == 1 ? x : rec + ep->y_off[l - 1];
    double *y = rec + ep->y_off[l];
    if (l == 1 && z1) wgemv_given(ep, &V[1], 1, z1, x, y);
    else wgemv(ep, &V[l], l, 0, pre, 0, y);
    memcpy(rec + ep->z_off[l], y, (size_t)ep->n[l] * sizeof *y);
    if (l < L) {
      double *g = rec + ep->g_off[l], *q = rec + ep->qe_off[l];
      for (int j = 0; j < ep->n[l]; j++) y[j] = softplus_gq(beta, y[j], &g[j], &q[j]);
    } else {
      softmax(ep->n[L], y, y);
    }
  }
  double *eL = rec + ep->e_off[L];
  memcpy(eL, rec + ep->y_off[L], (size_t)ep->n[L] * sizeof *eL);
  eL[label] -= 1;
  for (int l = L - 1; l >= (ep->need_e0 ? 0 : 1); l--) {
    double *h = rec + ep->h_off[l], *e = rec + ep->e_off[l], *g = rec + ep->g_off[l];
    fb_gemv(ep, V, l, 1, rec + ep->e_off[fb_src(ep, l)], 0, h);
    if (l == 0)
      for (int j = 0; j < ep->n[0]; j++) g[j] = gprime_in(ep, x[j]);
    for (int j = 0; j < ep->n[l]; j++) e[j] = h[j] * g[j];
  }
  for (int l = 1; l <= L; l++) {
    mpl_layer_io io = layer_io(ep, V, rec, x, l);
    mpl__rule_eval(ep->rule, &io, rec + ep->v_off[l]);
  }
}

/* One online step with dense weights: signals and plan values into rec from the weights W, then
 * Wout <- W + sum_r theta_r F_r on every layer (all computed from the pre-update weights; Wout may
 * be W). */
static void step_to(const mpl_episode *ep, const double *theta, const double *W, double *Wout, const double *x,
                    int label, double *rec) {
  wview V[MPL_MAX_LAYERS + 1];
  dense_views(ep, W, V);
  signals(ep, V, x, label, rec, NULL);
  for (int l = 1; l <= ep->L; l++) {
    mpl_layer_io io = layer_io(ep, V, rec, x, l);
    mpl__rule_apply_to(ep->rule, theta, &io, rec + ep->v_off[l], Wout + ep->woff[l], ep->scratch);
  }
}

static void step(const mpl_episode *ep, const double *theta, double *W, const double *x, int label, double *rec) {
  step_to(ep, theta, W, W, x, label, rec);
}

/* Reverse of one step. G (with the rank-1 rows pending in acc) holds dL/dW after the step; on
 * return dL/dW before it. V: the pre-step weights; rec: the step's record. */
static void step_reverse(mpl_episode *ep, const double *theta, const wview *V, const double *x,
                         const double *rec, double *theta_bar, int bi, int flush) {
  int L = ep->L, tau = ep->lazy && ep->wmat; /* track <dL/dW, W> (each push: its <p q^T, W>) */
  double beta = ep->cfg.beta, *sb = ep->sbar;
  memset(sb, 0, (ep->e_off[L] + (size_t)ep->n[L]) * sizeof *sb); /* the y and e parts */
  if (ep->wpre) memset(sb + ep->z_off[1], 0, (ep->z_off[L] - ep->z_off[1] + (size_t)ep->n[L]) * sizeof *sb); /* and z's */
  for (int l = 1; l <= L; l++) {
    mpl_layer_io io = layer_io(ep, V, rec, x, l);
    io.zbar = ep->wpre ? sb + ep->z_off[l] : NULL; /* the adjoint of the rule's W pre joins z's */
    double *bars[4] = {l == 1 ? NULL : sb + ep->y_off[l - 1], sb + ep->y_off[l],
                       (l > 1 || ep->need_e0) ? sb + ep->e_off[l - 1] : NULL, sb + ep->e_off[l]};
    if (bi >= 0 && ep->ng > 0) { /* this step's rows of the block products */
      ep->acc[l].base_p = ep->blk + ep->bp_off[l] + (size_t)bi * ep->npr[l] * ep->n[l - 1];
      ep->acc[l].base_q = ep->blk + ep->bq_off[l] + (size_t)bi * ep->nqr[l] * ep->n[l];
    }
    mpl__rule_vjp_acc(ep->rule, theta, &io, rec + ep->v_off[l], ep->G + ep->woff[l], &ep->acc[l],
                      tau ? &ep->tau[l] : NULL, theta_bar, bars, ep->vbar, ep->scratch);
    ep->acc[l].base_p = ep->acc[l].base_q = NULL;
  }
  /* e_l = h_l * g(y_l), h_l = B_{l+1}^T e_{l+1} (direct: D_l^T e_L); visited from the input side so
   * ebar_l is complete. */
  int diff_fb = ep->cfg.feedback == MPL_FB_SYMMETRIC && !ep->cfg.bp_detach;
  for (int l = ep->need_e0 ? 0 : 1; l < L; l++) {
    const double *h = rec + ep->h_off[l], *g = rec + ep->g_off[l], *q = rec + ep->qe_off[l];
    double *eb = sb + ep->e_off[l], *hb = ep->zbar;
    for (int j = 0; j < ep->n[l]; j++) hb[j] = eb[j] * g[j];
    if (l > 0) /* dg/dy = beta exp(-beta y) */
      for (int j = 0; j < ep->n[l]; j++) sb[ep->y_off[l] + j] += eb[j] * h[j] * beta * q[j];
    fb_gemv(ep, V, l, 0, hb, 1, sb + ep->e_off[fb_src(ep, l)]);
    if (diff_fb) {
      mpl__rankk_push(&ep->acc[l + 1], 1, rec + ep->e_off[l + 1], hb);
      if (tau) ep->tau[l + 1] += cblas_ddot(ep->n[l], h, 1, hb, 1); /* e^T W hb = h^T hb */
    }
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
    if (ep->wpre) cblas_daxpy(ep->n[l], 1, sb + ep->z_off[l], 1, zb, 1); /* the rule's W pre is z_l */
    mpl__rankk_push(&ep->acc[l], 1, zb, pre);
    if (tau) ep->tau[l] += cblas_ddot(ep->n[l], zb, 1, rec + ep->z_off[l], 1); /* zb^T W pre = zb^T z */
    if (l == 1) break;
    double *yb = sb + ep->y_off[l - 1];
    const double *g = rec + ep->g_off[l - 1];
    wgemv(ep, &V[l], l, 1, zb, 1, yb);
    for (int j = 0; j < ep->n[l - 1]; j++) zb[j] = yb[j] * g[j];
  }
  /* dL/dW_before = (1 + omega) dL/dW_after + every queued rank-1 term: one pass over G per
   * layer, every step (dense) or at the end of a block of LAZY_STEPS steps (lazy). */
  for (int l = 1; l <= L; l++)
    if (!ep->lazy || flush) mpl__rankk_flush(&ep->acc[l], ep->G + ep->woff[l]);
}

/* }====== */

/* {====== Query loss and statistics ====== */

/* Query buffers: per layer Y_l (N x n_l) for l = 1..L; then the slopes g(Y_l) (N x n_l) for
 * l = 0..L-1 (l = 0: of the input, filled only for the statistics); then the statistics' work. */
static size_t q_layer_off(const mpl_episode *ep, int N, int l) {
  size_t off = 0;
  for (int k = 1; k < l; k++) off += (size_t)N * (size_t)ep->n[k];
  return off;
}

static size_t q_slope_off(const mpl_episode *ep, int N, int l) {
  return q_layer_off(ep, N, ep->L + 1) + (l == 0 ? 0 : (size_t)N * (size_t)ep->n[0] + q_layer_off(ep, N, l));
}

static double *q_slope(const mpl_episode *ep, int N, int l) { return ep->q + q_slope_off(ep, N, l); }

static void query_forward(mpl_episode *ep, const double *X, int N, double *Y) {
  for (int l = 1; l <= ep->L; l++) {
    const double *P = l == 1 ? X : Y + q_layer_off(ep, N, l - 1);
    double *Z = Y + q_layer_off(ep, N, l), *g = q_slope(ep, N, l), q;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, ep->n[l], ep->n[l - 1], 1, P, ep->n[l - 1],
                ep->W + ep->woff[l], ep->n[l - 1], 0, Z, ep->n[l]);
    if (l < ep->L)
      for (size_t i = 0; i < (size_t)N * (size_t)ep->n[l]; i++) Z[i] = softplus_gq(ep->cfg.beta, Z[i], &g[i], &q);
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
    const double *g = q_slope(ep, N, l - 1);
    for (size_t i = 0; i < (size_t)N * (size_t)ep->n[l - 1]; i++) Ybar[i] *= g[i];
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
 * down to layer 0, with feedback F = B (fb = 0) or the current W (fb = 1); under direct feedback,
 * fb = 0 is E_k = (E_L D_k) * g(Y_k) instead. The batch mean of E_k goes to mean + k * nmax. */
static void batch_e(const mpl_episode *ep, const int *labels, int N, const double *Y, int fb,
                    double *E0, double *E1, double *mean, int nmax) {
  int L = ep->L;
  const double *Zl = Y + q_layer_off(ep, N, L);
  for (int i = 0; i < N; i++) {
    softmax(ep->n[L], Zl + (size_t)i * ep->n[L], E0 + (size_t)i * ep->n[L]);
    E0[(size_t)i * ep->n[L] + labels[i]] -= 1;
  }
  int direct = !fb && ep->cfg.feedback == MPL_FB_DIRECT; /* E0 keeps E_L */
  for (int k = L - 1; k >= 0; k--) {
    const double *F = (fb ? ep->W : ep->B) + ep->woff[k + 1], *g = q_slope(ep, N, k);
    if (direct && k < L - 1) F = ep->D + ep->doff[k];
    int src = direct ? L : k + 1;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, ep->n[k], ep->n[src], 1, E0, ep->n[src], F,
                ep->n[k], 0, E1, ep->n[k]);
    double *m = mean + (size_t)k * nmax;
    memset(m, 0, (size_t)ep->n[k] * sizeof *m);
    for (int i = 0; i < N; i++)
      for (int j = 0; j < ep->n[k]; j++) {
        size_t ij = (size_t)i * ep->n[k] + j;
        E1[ij] *= g[ij];
        m[j] += E1[ij] / N;
      }
    if (direct) continue;
    double *t = E0; E0 = E1; E1 = t;
  }
}

/* alpha_l: angle between the batch means of e_l with feedback B (direct: D_l from e_L) and with
 * W^T, the backprop error (PAPER.md §8);
 * E_l: orthonormality error sum_i |z_l - W W^T y_l|^2 (Eq. 11). Y holds the query activations,
 * logits at the last layer. work: 4 N nmax + 2 (L+1) nmax doubles. */
static void query_stats(mpl_episode *ep, const double *X, const int *labels, int N, const double *Y,
                        double *work, mpl_episode_stats *st) {
  int L = ep->L, nmax = 0;
  for (int l = 0; l <= L; l++) nmax = ep->n[l] > nmax ? ep->n[l] : nmax;
  size_t blk = (size_t)N * nmax;
  double *A = work, *Bw = A + blk, *mfa = Bw + 2 * blk, *mbp = mfa + (size_t)(L + 1) * nmax;
  for (int l = 0; l <= L; l++) st->angle[l] = 0, st->ortho[l] = 0;
  if (ep->cfg.feedback != MPL_FB_SYMMETRIC) {
    double *gx = q_slope(ep, N, 0);
    for (size_t i = 0; i < (size_t)N * (size_t)ep->n[0]; i++) gx[i] = gprime_in(ep, X[i]);
    batch_e(ep, labels, N, Y, 0, A, A + blk, mfa, nmax);
    batch_e(ep, labels, N, Y, 1, A, A + blk, mbp, nmax);
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

/* Steps per segment of each layer's lazy weights (lseg); returns the largest. A product with
 * W_t = g (C + k pending rows) costs the dense product (n = n_pre n_post multiply-adds) plus
 * k (n_pre + n_post), k growing by ngr per step of the segment (the rows with a ones vector are
 * summed: they cost the same at any k); a segment costs a copy of C and a pass over it in the
 * rank-k update. With nprod such products per step (forward and reverse) the cost per step,
 * nprod ngr (n_pre + n_post) (m - 1) / 2 + c n / m, is least at
 * m = sqrt(2 c n / (nprod ngr (n_pre + n_post))); c = 18 fits the instruction counts of
 * rules/quadratic.lua and the paper's pool. Segments are at most `seg` long, and a layer with
 * more than a quarter of the weights keeps `seg` (its checkpoints are most of the memory): small
 * layers of high-rank rules flush more often (quadratic.lua: 16, 9, 8, 7, 3 steps on
 * 784-170-130-100-70-10, the paper's pool 16, 16, 16, 14, 6). cfg.segment > 0 sets every layer's. */
static int lazy_segments(mpl_episode *ep) {
  int mmax = 1, nprod = 2 * (1 + ep->nwx) + (ep->cfg.feedback == MPL_FB_SYMMETRIC ? 2 : 0);
  for (int l = 1; l <= ep->L; l++) {
    double n = (double)ep->n[l] * ep->n[l - 1], p = ep->n[l] + ep->n[l - 1];
    int m = ep->seg;
    if (ep->cfg.segment <= 0 && ep->ngr > 0 && !ep->inplace[l] && 4 * n <= (double)ep->wtotal) {
      double best = floor(sqrt(36 * n / (nprod * ep->ngr * p)) + 0.5);
      if (best < m) m = best < 1 ? 1 : (int)best;
    }
    ep->lseg[l] = m;
    if (m > mmax) mmax = m;
  }
  return mmax;
}

static int alloc_run(mpl_episode *ep, int n_train, int n_query, int want_grad, mpl_err *err) {
  int seg = ep->cfg.segment > 0 ? ep->cfg.segment : (int)ceil(sqrt((double)n_train));
  ep->seg = seg < 1 ? 1 : seg;
  size_t nseg = (size_t)(n_train + ep->seg - 1) / ep->seg, nrec, nW = 0, nck = 0, nrows = 0, ntmp = 1;
  if (ep->lazy) {
    /* every step's record is kept (nothing is recomputed); each layer's W at the start of each
     * of its segments after the first (which is W0); the update rows of every step (of one
     * segment without the gradient) */
    nrec = want_grad && n_train > 0 ? (size_t)n_train : 1;
    int mmax = lazy_segments(ep);
    for (int l = 1; l <= ep->L; l++) {
      size_t nsl = (size_t)(n_train + ep->lseg[l] - 1) / ep->lseg[l];
      ep->ck_off[l] = nck;
      if (want_grad && !ep->inplace[l] && nsl > 1) nck += (nsl - 1) * (size_t)ep->n[l] * ep->n[l - 1];
    }
    size_t steps = want_grad ? (size_t)n_train : (size_t)mmax, off = 0;
    for (int l = 1; l <= ep->L; l++) {
      ep->ua_off[l] = off;
      off += steps * ep->ngr * (size_t)ep->n[l];
      ep->vb_off[l] = off;
      off += steps * ep->ngr * (size_t)ep->n[l - 1];
      ep->ps_off[l] = off;
      off += ep->one_s >= 0 ? steps * (size_t)ep->n[l - 1] : 0;
      ep->pr_off[l] = off;
      off += ep->one_r >= 0 ? steps * (size_t)ep->n[l] : 0;
    }
    nrows = off + 1;
    ntmp = (size_t)mmax * ep->ng + 1;
    size_t nb = want_grad ? (size_t)ep->lsteps * ep->ng : 0;
    off = 0;
    for (int l = 1; l <= ep->L; l++) {
      ep->bu_off[l] = off, off += nb * ep->n[l];
      ep->pu_off[l] = off, off += nb * ep->n[l];
      ep->bq_off[l] = off, off += nb * ep->n[l];
      ep->bv_off[l] = off, off += nb * ep->n[l - 1];
      ep->pv_off[l] = off, off += nb * ep->n[l - 1];
      ep->bp_off[l] = off, off += nb * ep->n[l - 1];
    }
    if (reserve(&ep->blk, &ep->blk_cap, off + 1) < 0 || reserve(&ep->zseg, &ep->zseg_cap, (size_t)ep->lseg[1] * ep->n[1]) < 0)
      return mpl_errorf(err, MPL_ENOMEM, "out of memory for the episode's buffers (%d steps)", n_train);
    if (reserve(&ep->gs, &ep->gs_cap, (want_grad ? (size_t)n_train + 1 : 1) * (size_t)(ep->L + 1)) < 0)
      return mpl_errorf(err, MPL_ENOMEM, "out of memory for the episode's buffers (%d steps)", n_train);
  } else {
    nrec = want_grad ? (size_t)ep->seg : 1; /* step records and weights of one segment */
    nW = want_grad ? (size_t)ep->seg : 0;
    nck = want_grad ? nseg * ep->wtotal : 0;
  }
  size_t qsize = 0, nmax = 0;
  for (int l = 0; l <= ep->L; l++) nmax = (size_t)ep->n[l] > nmax ? (size_t)ep->n[l] : nmax;
  for (int l = 1; l <= ep->L; l++) qsize += (size_t)n_query * (size_t)ep->n[l];
  for (int l = 0; l < ep->L; l++) qsize += (size_t)n_query * (size_t)ep->n[l]; /* slopes */
  qsize += 4 * (size_t)n_query * nmax + 2 * (size_t)(ep->L + 1) * nmax; /* statistics */
  if (reserve(&ep->q, &ep->q_cap, qsize) < 0 || reserve(&ep->qlogits, &ep->qlogits_cap, (size_t)n_query * ep->n[ep->L]) < 0 || reserve(&ep->seg_rec, &ep->seg_rec_cap, nrec * ep->rec_size) < 0 ||
      reserve(&ep->seg_W, &ep->seg_W_cap, nW * ep->wtotal) < 0 || reserve(&ep->ckpt, &ep->ckpt_cap, nck) < 0 ||
      reserve(&ep->rows, &ep->rows_cap, nrows) < 0 || reserve(&ep->lztmp, &ep->lztmp_cap, ntmp) < 0)
    return mpl_errorf(err, MPL_ENOMEM, "out of memory for the episode's buffers (%d steps, %d per segment)",
                      n_train, ep->seg);
  return MPL_OK;
}

/* Lazy weights: W_t = g_t (C_j + the update rows of steps j m .. t-1), with C_j the weights
 * at the start of segment j (W0 for j = 0; m = lseg[l]) and g_t the product of the steps'
 * (1 + omega) since then (1 for rank-1 rules); row s is stored divided by g_{s+1}, the rows
 * with a ones vector as their running sums S and R. Without the gradient, one segment's rows
 * are kept and C is ep->W itself. */
static const double *lazy_base(const mpl_episode *ep, int j, int grad, int l) {
  if (!grad || ep->inplace[l]) return ep->W + ep->woff[l];
  return j == 0 ? ep->W0 + ep->woff[l] : ep->ckpt + ep->ck_off[l] + (size_t)(j - 1) * ep->n[l] * ep->n[l - 1];
}

/* The weights at step t. In the reverse pass, an in-place layer's view is not valid (and not read). */
static void lazy_views(const mpl_episode *ep, int t, int grad, const double *g, wview *V) {
  for (int l = 1; l <= ep->L; l++) {
    int m = ep->lseg[l], j = t / m, o = t % m;
    size_t s0 = grad ? (size_t)j * m : 0, r0 = s0 * ep->ngr; /* the segment's first step in the storage */
    /* the sums of the rows with a ones vector: those after the previous step of the segment */
    const double *S = o > 0 && ep->one_s >= 0 ? ep->rows + ep->ps_off[l] + (s0 + o - 1) * ep->n[l - 1] : NULL;
    const double *R = o > 0 && ep->one_r >= 0 ? ep->rows + ep->pr_off[l] + (s0 + o - 1) * ep->n[l] : NULL;
    V[l] = (wview){lazy_base(ep, j, grad, l), o * ep->ngr, ep->rows + ep->ua_off[l] + r0 * ep->n[l],
                   ep->rows + ep->vb_off[l] + r0 * ep->n[l - 1], S, R, g[l]};
  }
}

/* Store step t's update rows of layer l (U: ng x n_l, Vm: ng x n_{l-1}, in group order; g: the
 * scalar factor after the step, by which the stored rows are divided): the rows in their slots,
 * a ones vector's row added to the segment's sum S or R. */
static void store_rows(mpl_episode *ep, int l, int t, int grad, const double *U, const double *Vm, double g) {
  int np = ep->n[l - 1], nq = ep->n[l], o = t % ep->lseg[l];
  size_t st = grad ? (size_t)t : (size_t)o; /* the step's place in the storage */
  double ig = 1 / g;
  for (int k = 0; k < ep->ng; k++) {
    const double *u = U + (size_t)k * nq, *v = Vm + (size_t)k * np;
    double *dst;
    int n;
    if (ep->slot[k] >= 0) {
      memcpy(ep->rows + ep->ua_off[l] + (st * ep->ngr + ep->slot[k]) * nq, u, (size_t)nq * sizeof *u);
      dst = ep->rows + ep->vb_off[l] + (st * ep->ngr + ep->slot[k]) * np, n = np;
    } else if (k == ep->one_s) { /* 1 v^T: S += v / g */
      dst = ep->rows + ep->ps_off[l] + st * np, n = np, u = v;
    } else {                     /* u 1^T: R += u / g */
      dst = ep->rows + ep->pr_off[l] + st * nq, n = nq;
    }
    const double *src = ep->slot[k] >= 0 ? v : u, *prev = ep->slot[k] < 0 && o > 0 ? dst - n : NULL;
    if (g == 1)
      for (int j = 0; j < n; j++) dst[j] = prev ? prev[j] + src[j] : src[j];
    else
      for (int j = 0; j < n; j++) dst[j] = prev ? prev[j] + src[j] * ig : src[j] * ig;
  }
}

/* The primal inner loop with lazy weights: per step one pass over each W (the forward product)
 * instead of three; each segment's rows are added to the weights in one rank-k update. */
static void forward_lazy(mpl_episode *ep, const double *theta, const double *X, const int *Y, int T, int grad) {
  int ng = ep->ng, n0 = ep->n[0], L = ep->L, m1 = ep->lseg[1];
  wview V[MPL_MAX_LAYERS + 1];
  double g[MPL_MAX_LAYERS + 1];
  for (int l = 0; l <= L; l++) g[l] = 1;
  for (int t = 0; t < T; t++) {
    if (grad) memcpy(ep->gs + (size_t)t * (L + 1), g, (size_t)(L + 1) * sizeof *g);
    lazy_views(ep, t, grad, g, V);
    double *rec = ep->seg_rec + (grad ? (size_t)t * ep->rec_size : 0);
    const double *x = X + (size_t)t * n0;
    if (t % m1 == 0) /* the segment's inputs are known: layer 1's products with its base in one dgemm */
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T - t < m1 ? T - t : m1, ep->n[1], n0, 1, x, n0, V[1].M,
                  n0, 0, ep->zseg, ep->n[1]);
    signals(ep, V, x, Y[t], rec, ep->zseg + (size_t)(t % m1) * ep->n[1]);
    for (int l = 1; l <= L; l++) {
      mpl_layer_io io = layer_io(ep, V, rec, x, l);
      int direct = ep->ngr == ng; /* no ones rows: every row straight into its slot */
      double omega, *U = direct ? (double *)V[l].A + (size_t)V[l].k * ep->n[l] : ep->urow;
      double *Vm = direct ? (double *)V[l].B + (size_t)V[l].k * ep->n[l - 1] : ep->urow + (size_t)ng * ep->n[l];
      mpl__rule_update_rows(ep->rule, theta, &io, rec + ep->v_off[l], U, Vm, &omega);
      g[l] *= 1 + omega; /* W_{t+1} = (1 + omega) W_t + U^T Vm */
      if (!direct) store_rows(ep, l, t, grad, U, Vm, g[l]);
      else if (g[l] != 1) cblas_dscal(ng * ep->n[l - 1], 1 / g[l], Vm, 1);
    }
    for (int l = 1; l <= L; l++) {
      int m = ep->lseg[l], j = t / m, o = t % m, k = (o + 1) * ep->ngr, np = ep->n[l - 1], nq = ep->n[l];
      if (o != m - 1 && t != T - 1) continue;
      /* close layer l's segment: C_{j+1} = g (C_j + its rows), one rank-k update (and the rows
       * with a ones vector: g (S_j + R_i) added to each entry) */
      const double *base = lazy_base(ep, j, grad, l);
      double *dst = !grad || t == T - 1 || ep->inplace[l] ? ep->W + ep->woff[l] : (double *)lazy_base(ep, j + 1, grad, l);
      if (dst != base) memcpy(dst, base, (size_t)nq * np * sizeof *dst);
      if (k > 0)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nq, np, k, g[l], V[l].A, nq, V[l].B, np, g[l], dst, np);
      else if (g[l] != 1)
        cblas_dscal(nq * np, g[l], dst, 1);
      size_t st = grad ? (size_t)t : (size_t)o;
      const double *S = ep->one_s >= 0 ? ep->rows + ep->ps_off[l] + st * np : NULL;
      const double *R = ep->one_r >= 0 ? ep->rows + ep->pr_off[l] + st * nq : NULL;
      for (int i = 0; S || R ? i < nq : 0; i++) {
        double *row = dst + (size_t)i * np, ri = R ? g[l] * R[i] : 0;
        if (S) for (int c = 0; c < np; c++) row[c] += g[l] * S[c] + ri;
        else for (int c = 0; c < np; c++) row[c] += ri;
      }
      g[l] = 1;
    }
  }
}

/* The primal inner loop with dense weights, keeping W at the start of every segment. */
static void forward_dense(mpl_episode *ep, const double *theta, const double *X, const int *Y, int T, int grad) {
  for (int t = 0; t < T; t++) {
    if (grad && t % ep->seg == 0) memcpy(ep->ckpt + (size_t)(t / ep->seg) * ep->wtotal, ep->W, ep->wtotal * sizeof *ep->W);
    step(ep, theta, ep->W, X + (size_t)t * ep->n[0], Y[t], ep->seg_rec);
  }
}

/* Rows list[0..n-1] of each of nb steps' nr rows of length len, packed into dst (nb n rows);
 * src itself when they are all the rows in order. */
static const double *pack_rows(const double *src, int nb, int nr, int len, const int *list, int n, double *dst) {
  int all = n == nr;
  for (int j = 0; j < n && all; j++) all = list[j] == j;
  if (all) return src;
  for (int i = 0; i < nb; i++)
    for (int j = 0; j < n; j++)
      memcpy(dst + ((size_t)i * n + j) * len, src + ((size_t)i * nr + list[j]) * len, (size_t)len * sizeof *dst);
  return dst;
}

/* The update rows of steps t0 .. t0+nb-1 and their products with each layer's adjoint base G,
 * as two matrix-matrix products per layer: the reverse pass then reads G once per block
 * instead of twice per step. Only the rows mpl__rule_vjp_acc uses as products are multiplied
 * (prow, qrow). The rows are those the forward pass stored (rules without weight-proportional
 * terms, whose stored rows are not rescaled), else recomputed from the records. */
static void block_products(mpl_episode *ep, const double *theta, const double *X, int t0, int nb) {
  int ng = ep->ng;
  if (ng == 0) return;
  for (int l = 1; l <= ep->L; l++) {
    int np = ep->n[l - 1], nq = ep->n[l], nr = ep->ngr;
    const double *U = ep->rows + ep->ua_off[l] + (size_t)t0 * nr * nq, *Vm = ep->rows + ep->vb_off[l] + (size_t)t0 * nr * np;
    const int *pl = ep->prow_slot[l], *ql = ep->qrow_slot[l];
    if (ep->wmat) {
      double *Ub = ep->blk + ep->bu_off[l], *Vb = ep->blk + ep->bv_off[l], omega;
      for (int i = 0; i < nb; i++) {
        const double *rec = ep->seg_rec + (size_t)(t0 + i) * ep->rec_size;
        mpl_layer_io io = rec_io(ep, rec, X + (size_t)(t0 + i) * ep->n[0], l);
        mpl__rule_update_rows(ep->rule, theta, &io, rec + ep->v_off[l], Ub + (size_t)i * ng * nq, Vb + (size_t)i * ng * np,
                              &omega);
      }
      U = Ub, Vm = Vb, nr = ng, pl = ep->prow[l], ql = ep->qrow[l];
    }
    const double *G = ep->G + ep->woff[l];
    if (ep->npr[l]) {
      U = pack_rows(U, nb, nr, nq, pl, ep->npr[l], ep->blk + ep->pu_off[l]);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb * ep->npr[l], np, nq, 1, U, nq, G, np, 0,
                  ep->blk + ep->bp_off[l], np);
    }
    if (ep->nqr[l]) {
      Vm = pack_rows(Vm, nb, nr, np, ql, ep->nqr[l], ep->blk + ep->pv_off[l]);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb * ep->nqr[l], nq, np, 1, Vm, np, G, np, 0,
                  ep->blk + ep->bq_off[l], nq);
    }
  }
}

/* Reverse pass with lazy weights: every record is at hand, each step's weights are a view; the
 * adjoints are materialised once per block of LAZY_STEPS steps. */
static void reverse_lazy(mpl_episode *ep, const double *theta, const double *X, int T, double *grad) {
  wview V[MPL_MAX_LAYERS + 1];
  if (ep->wmat) /* <dL/dW_T, W_T>, then kept up to date step by step */
    for (int l = 1; l <= ep->L; l++)
      ep->tau[l] = cblas_ddot(ep->n[l] * ep->n[l - 1], ep->G + ep->woff[l], 1, ep->W + ep->woff[l], 1);
  for (int t = T - 1, t0 = T; t >= 0; t--) {
    int i = (T - 1 - t) % ep->lsteps; /* blocks of lsteps steps t0 .., from the last step */
    if (i == 0) {
      t0 = t + 1 < ep->lsteps ? 0 : t + 1 - ep->lsteps;
      block_products(ep, theta, X, t0, t + 1 - t0);
    }
    lazy_views(ep, t, 1, ep->gs + (size_t)t * (ep->L + 1), V);
    step_reverse(ep, theta, V, X + (size_t)t * ep->n[0], ep->seg_rec + (size_t)t * ep->rec_size, grad, t - t0,
                 i == ep->lsteps - 1 || t == 0);
  }
}

/* Reverse pass with dense weights, one segment at a time, last first: the segment's steps are
 * recomputed from its checkpoint, keeping each step's weights and record. */
static void reverse_dense(mpl_episode *ep, const double *theta, const double *X, const int *Y, int T, double *grad) {
  int n0 = ep->n[0];
  wview V[MPL_MAX_LAYERS + 1];
  for (int s0 = ((T - 1) / ep->seg) * ep->seg; s0 >= 0 && T > 0; s0 -= ep->seg) {
    int len = T - s0 < ep->seg ? T - s0 : ep->seg;
    memcpy(ep->seg_W, ep->ckpt + (size_t)(s0 / ep->seg) * ep->wtotal, ep->wtotal * sizeof *ep->W);
    for (int k = 0; k < len; k++) {
      double *Wk = ep->seg_W + (size_t)k * ep->wtotal, *rec = ep->seg_rec + (size_t)k * ep->rec_size;
      int t = s0 + k;
      if (k + 1 < len) {
        step_to(ep, theta, Wk, Wk + ep->wtotal, X + (size_t)t * n0, Y[t], rec);
      } else { /* the last step of a segment: its output W is not needed */
        dense_views(ep, Wk, V);
        signals(ep, V, X + (size_t)t * n0, Y[t], rec, NULL);
      }
    }
    for (int k = len - 1; k >= 0; k--) {
      dense_views(ep, ep->seg_W + (size_t)k * ep->wtotal, V);
      step_reverse(ep, theta, V, X + (size_t)(s0 + k) * n0, ep->seg_rec + (size_t)k * ep->rec_size, grad, -1, 1);
    }
  }
}

int mpl_episode_run(mpl_episode *ep, const double *theta, const double *train_x, const int *train_y,
                    int n_train, const double *query_x, const int *query_y, int n_query,
                    mpl_episode_stats *st, double *grad, mpl_err *err) {
  int rc, R = ep->rule->n_terms;
  if (n_train < 0 || n_query < 1) return mpl_errorf(err, MPL_EINVAL, "episode: %d training and %d query samples", n_train, n_query);
  if ((rc = check_labels(ep, train_y, n_train, "training", err)) < 0) return rc;
  if ((rc = check_labels(ep, query_y, n_query, "query", err)) < 0) return rc;
  for (int r = 0; r < R; r++)
    if (!isfinite(theta[r])) return mpl_errorf(err, MPL_ENUMERIC, "theta[%d] (term '%s') is %g", r, mpl_termset_name(ep->ts, ep->which[r]), theta[r]);
  if ((rc = alloc_run(ep, n_train, n_query, grad != NULL, err)) < 0) return rc;
  memcpy(ep->W, ep->W0, ep->wtotal * sizeof *ep->W);
  if (ep->lazy) forward_lazy(ep, theta, train_x, train_y, n_train, grad != NULL);
  else forward_dense(ep, theta, train_x, train_y, n_train, grad != NULL);
  st->finite = all_finite(ep->W, ep->wtotal);
  double *Y = ep->q, *work = ep->q + q_slope_off(ep, n_query, ep->L);
  query_forward(ep, query_x, n_query, Y);
  query_stats(ep, query_x, query_y, n_query, Y, work, st);
  double *Zl = Y + q_layer_off(ep, n_query, ep->L);
  memcpy(ep->qlogits, Zl, (size_t)n_query * ep->n[ep->L] * sizeof *Zl);
  query_loss(ep, Zl, query_y, n_query, st);
  if (!isfinite(st->loss)) st->finite = 0;
  if (!grad) return MPL_OK;
  memset(grad, 0, (size_t)R * sizeof *grad);
  if (!st->finite) return mpl_errorf(err, MPL_ENUMERIC, "episode diverged: non-finite weights or loss after the inner loop");
  query_backward(ep, query_x, n_query, Y, work);
  for (int l = 1; l <= ep->L; l++) {
    ep->acc[l].k = 0, ep->acc[l].eta = 1;
    mpl__rankk_reset_sums(&ep->acc[l], ep->G + ep->woff[l]);
  }
  if (ep->lazy) reverse_lazy(ep, theta, train_x, n_train, grad);
  else reverse_dense(ep, theta, train_x, train_y, n_train, grad);
  if (!all_finite(grad, (size_t)R)) {
    st->finite = 0;
    return mpl_errorf(err, MPL_ENUMERIC, "the meta-gradient is not finite");
  }
  return MPL_OK;
}

/* }====== */
