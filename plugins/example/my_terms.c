/* An example term plugin, written outside metaplast's tree (plugins/README.md walks through it).
 *   gated_hebb   error-gated Hebbian: −(e_ℓ ⊙ y_ℓ) y_{ℓ−1}ᵀ  (an IR term: derivatives automatic)
 *   soft_bound_ir  the same soft bound as an IR term: an elementwise function of W times y_ℓ y_{ℓ−1}ᵀ
 *   soft_bound   soft-bounded Hebbian: (1 − W ⊙ W) ⊙ (y_ℓ y_{ℓ−1}ᵀ)  (native: value and vjp in C)
 * Build: cc -shared -fPIC -o my_terms.so my_terms.c $(pkg-config --cflags --libs metaplast) */
#include <metaplast/plugin.h>

/* F_jk = (1 − W_jk²) post_j pre_k */
static void soft_bound_value(void *user, const mpl_native_io *io, double *out) {
  (void)user;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) {
      size_t jk = (size_t)j * io->n_pre + k;
      out[jk] = (1 - io->W[jk] * io->W[jk]) * io->post[j] * io->pre[k];
    }
}

/* Add <G, dF>: dF_jk = −2 W_jk post_j pre_k dW_jk + (1 − W_jk²)(pre_k dpost_j + post_j dpre_k). */
static void soft_bound_vjp(void *user, const mpl_native_io *io, const double *G, double *const bar[4],
                           double *bar_W) {
  (void)user;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) {
      size_t jk = (size_t)j * io->n_pre + k;
      double b = 1 - io->W[jk] * io->W[jk];
      bar_W[jk] -= 2 * G[jk] * io->W[jk] * io->post[j] * io->pre[k];
      bar[MPL_SIG_POST][j] += G[jk] * b * io->pre[k];
      bar[MPL_SIG_PRE][k] += G[jk] * b * io->post[j];
    }
}

static int init(mpl_plugin *p, mpl_err *err) {
  mpl_termset *ts = mpl_plugin_termset(p);
  mpl_expr *gate = mpl_mul(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_POST));
  int rc = mpl_plugin_add_term(p, "gated_hebb", "error-gated Hebbian",
                               mpl_neg(ts, mpl_outer(ts, gate, mpl_sig(ts, MPL_SIG_PRE))), err);
  if (rc < 0) return rc;
  /* the same soft bound written in the IR (an elementwise function of W times an outer product) */
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W);
  mpl_expr *bound = mpl_sub(ts, mpl_num(ts, 1), mpl_mul(ts, W, W));
  rc = mpl_plugin_add_term(p, "soft_bound_ir", "soft-bounded Hebbian, in the IR",
                           mpl_mul(ts, bound, mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_PRE))), err);
  if (rc < 0) return rc;
  mpl_native_term soft = {
    .struct_size = sizeof soft, .name = "soft_bound", .description = "soft-bounded Hebbian",
    .formula = "(1 − W ⊙ W) ⊙ (y_ℓ y_{ℓ−1}ᵀ)", .latex = "(1 - W \\odot W) \\odot (y_{\\ell} y_{\\ell-1}^\\top)",
    .value = soft_bound_value, .vjp = soft_bound_vjp};
  return mpl_plugin_add_native(p, &soft, err);
}

MPL_PLUGIN("my_terms", "0.1", "an example: error-gated and soft-bounded Hebbian terms", init)
