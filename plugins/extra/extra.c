/* metaplast plugin "extra": candidate terms beyond the paper's pool, for larger searches.
 *   bcm        BCM-style Hebbian with a sliding threshold: (y_ℓ ⊙ (y_ℓ − θ_M)) y_{ℓ−1}ᵀ,
 *              θ_M = mean_j y_ℓj² (Bienenstock, Cooper & Munro 1982, threshold from the layer)
 *   antihebb   anti-Hebbian: −y_ℓ y_{ℓ−1}ᵀ
 *   decorr     lateral decorrelation: −(y_ℓ y_ℓᵀ) W (the second half of Oja's rule alone)
 *   ehebb_off  error-Hebbian with an offset, as in the authors' early code: −e_ℓ (e_{ℓ−1} + 0.01)ᵀ
 *   rownorm    (native) row normalisation: −(‖W_j‖² − 1) W_j for each postsynaptic row j
 *   wdep_hebb  (native) weight-dependent Hebbian: W ⊙ (y_ℓ y_{ℓ−1}ᵀ)
 * The native terms are elementwise products with W, which the IR compiler does not lower.
 * See LICENSE for copyright. */
#include <metaplast/plugin.h>

#include <string.h>

/* ---- rownorm: F_jk = −s_j W_jk, s_j = Σ_k W_jk² − 1 ---- */

static void rownorm_value(void *user, const mpl_native_io *io, double *out) {
  (void)user;
  for (int j = 0; j < io->n_post; j++) {
    const double *w = io->W + (size_t)j * io->n_pre;
    double s = -1;
    for (int k = 0; k < io->n_pre; k++) s += w[k] * w[k];
    for (int k = 0; k < io->n_pre; k++) out[(size_t)j * io->n_pre + k] = -s * w[k];
  }
}

/* <G, dF> = −Σ_j [2 (Σ_k G_jk W_jk) Σ_k W_jk dW_jk + s_j Σ_k G_jk dW_jk] */
static void rownorm_vjp(void *user, const mpl_native_io *io, const double *G, double *const bar[4], double *bar_W) {
  (void)user;
  (void)bar;
  for (int j = 0; j < io->n_post; j++) {
    const double *w = io->W + (size_t)j * io->n_pre, *g = G + (size_t)j * io->n_pre;
    double s = -1, a = 0;
    for (int k = 0; k < io->n_pre; k++) s += w[k] * w[k], a += g[k] * w[k];
    for (int k = 0; k < io->n_pre; k++) bar_W[(size_t)j * io->n_pre + k] -= 2 * a * w[k] + s * g[k];
  }
}

/* ---- wdep_hebb: F_jk = W_jk post_j pre_k ---- */

static void wdep_value(void *user, const mpl_native_io *io, double *out) {
  (void)user;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) {
      size_t jk = (size_t)j * io->n_pre + k;
      out[jk] = io->W[jk] * io->post[j] * io->pre[k];
    }
}

static void wdep_vjp(void *user, const mpl_native_io *io, const double *G, double *const bar[4], double *bar_W) {
  (void)user;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) {
      size_t jk = (size_t)j * io->n_pre + k;
      double gw = G[jk] * io->W[jk];
      bar_W[jk] += G[jk] * io->post[j] * io->pre[k];
      bar[MPL_SIG_POST][j] += gw * io->pre[k];
      bar[MPL_SIG_PRE][k] += gw * io->post[j];
    }
}

static int init(mpl_plugin *p, mpl_err *err) {
  mpl_termset *ts = mpl_plugin_termset(p);
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST);
  mpl_expr *epre = mpl_sig(ts, MPL_SIG_EPRE), *epost = mpl_sig(ts, MPL_SIG_EPOST), *W = mpl_sig(ts, MPL_SIG_W);
  /* θ_M = Σ_j y_j² / n_post, with n_post = Σ_j 1 */
  mpl_expr *theta_m = mpl_mul(ts, mpl_sum(ts, mpl_fn(ts, MPL_FN_SQUARE, post)),
                              mpl_fn(ts, MPL_FN_RECIP, mpl_sum(ts, mpl_ones(ts, MPL_DIM_POST))));
  struct { const char *name, *desc; mpl_expr *e; } terms[] = {
    {"bcm", "BCM Hebbian, sliding threshold = mean squared activity of the layer",
     mpl_outer(ts, mpl_mul(ts, post, mpl_sub(ts, post, theta_m)), pre)},
    {"antihebb", "anti-Hebbian", mpl_neg(ts, mpl_outer(ts, post, pre))},
    {"decorr", "lateral decorrelation (Oja's decay part alone)", mpl_neg(ts, mpl_matmul(ts, mpl_outer(ts, post, post), W))},
    {"ehebb_off", "error-Hebbian with a presynaptic offset of 0.01",
     mpl_neg(ts, mpl_outer(ts, epost, mpl_add(ts, epre, mpl_num(ts, 0.01))))},
  };
  for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
    int rc = mpl_plugin_add_term(p, terms[i].name, terms[i].desc, terms[i].e, err);
    if (rc < 0) return rc;
  }
  mpl_native_term rownorm = {sizeof rownorm, "rownorm", "row normalisation towards unit norm",
                             "−(‖W_j‖² − 1) W_j", "-\\left(\\lVert W_j \\rVert^2 - 1\\right) W_j", NULL,
                             rownorm_value, rownorm_vjp};
  mpl_native_term wdep = {sizeof wdep, "wdep_hebb", "weight-dependent Hebbian", "W ⊙ (y_ℓ y_{ℓ−1}ᵀ)",
                          "W \\odot \\left(y_{\\ell} y_{\\ell-1}^\\top\\right)", NULL, wdep_value, wdep_vjp};
  int rc = mpl_plugin_add_native(p, &rownorm, err);
  return rc < 0 ? rc : mpl_plugin_add_native(p, &wdep, err);
}

MPL_PLUGIN("extra", "1.0", "candidate terms beyond the paper: BCM, anti-Hebbian, decorrelation, offset eHebb, "
           "row normalisation, weight-dependent Hebbian", init)
