/* metaplast plugin "paper": the ten candidate terms F0..F9 of Shervani-Tabar & Rosenbaum (2023),
 * Eqs. 14-23 (PAPER.md §4.1), built from the term IR. F5-F8 follow the literal matrix reading
 * (a global scalar times a rank-1 term, docs/method.md), written as the paper's products; the
 * compiler reassociates them. F9 declares a positive sign. See LICENSE for copyright. */
#include <metaplast/plugin.h>

/* a b c ... as one left-associated matrix product. */
static mpl_expr *chain(mpl_termset *ts, int n, mpl_expr **f) {
  mpl_expr *e = f[0];
  for (int i = 1; i < n; i++) e = mpl_matmul(ts, e, f[i]);
  return e;
}
#define CHAIN(ts, ...) chain(ts, (int)(sizeof((mpl_expr *[]){__VA_ARGS__}) / sizeof(mpl_expr *)), (mpl_expr *[]){__VA_ARGS__})

static int init(mpl_plugin *p, mpl_err *err) {
  mpl_termset *ts = mpl_plugin_termset(p);
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST);
  mpl_expr *epre = mpl_sig(ts, MPL_SIG_EPRE), *epost = mpl_sig(ts, MPL_SIG_EPOST);
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W), *one = mpl_ones(ts, MPL_DIM_POST);
  struct { const char *name, *desc; mpl_expr *e; } pool[] = {
    {"F0", "pseudo-gradient (FA/BP term)", mpl_neg(ts, mpl_outer(ts, epost, pre))},
    {"F1", "activation times presynaptic error", mpl_neg(ts, mpl_outer(ts, post, epre))},
    {"F2", "error-based Hebbian (eHebb)", mpl_neg(ts, mpl_outer(ts, epost, epre))},
    {"F3", "weight decay", mpl_neg(ts, W)},
    {"F4", "every row equals the presynaptic error", mpl_neg(ts, mpl_outer(ts, one, epre))},
    {"F5", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, epost, mpl_t(ts, one), post, mpl_t(ts, pre)))},
    {"F6", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, post, mpl_t(ts, post), W, epre, mpl_t(ts, epre)))},
    {"F7", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, epost, mpl_t(ts, post), W, epre, mpl_t(ts, pre)))},
    {"F8", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, post, mpl_t(ts, pre), mpl_t(ts, W), epost, mpl_t(ts, epre)))},
    {"F9", "Oja's rule", mpl_sub(ts, mpl_outer(ts, post, pre), CHAIN(ts, post, mpl_t(ts, post), W))},
  };
  for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
    int rc = mpl_plugin_add_term(p, pool[i].name, pool[i].desc, pool[i].e, err);
    if (rc < 0) return rc;
  }
  /* Oja's rule is Oja's rule with a positive coefficient; a negative one is unbounded
   * anti-Hebbian growth that makes the inner loop diverge (docs/method.md, "Declared signs").
   * A search keeps it >= 0 unless the user frees it (--sign F9=free, or --sign none). */
  return mpl_termset_set_sign(ts, "F9", +1, err);
}


MPL_PLUGIN("paper", "1.0", "the paper's candidate pool F0..F9 (Shervani-Tabar & Rosenbaum 2023)", init)
