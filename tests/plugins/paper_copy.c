/* metaplast tests: F0 and F9 written independently of plugins/paper_pool (F0 as a scaling by -1,
 * Oja associated as y (yᵀ W)), so that a search over these terms must give the same log as
 * `--terms paper:F0,F9` (F9 declares the same sign). See LICENSE for copyright. */
#include <metaplast/plugin.h>

static int init(mpl_plugin *p, mpl_err *err) {
  mpl_termset *ts = mpl_plugin_termset(p);
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST), *W = mpl_sig(ts, MPL_SIG_W);
  mpl_expr *f0 = mpl_mul(ts, mpl_num(ts, -1), mpl_matmul(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_t(ts, pre)));
  mpl_expr *f9 = mpl_sub(ts, mpl_outer(ts, post, pre), mpl_matmul(ts, post, mpl_matmul(ts, mpl_t(ts, post), W)));
  int rc = mpl_plugin_add_term(p, "F0", "pseudo-gradient, written differently", f0, err);
  if (rc == 0) rc = mpl_plugin_add_term(p, "F9", "Oja, associated differently", f9, err);
  return rc < 0 ? rc : mpl_termset_set_sign(ts, "F9", +1, err); /* as the paper plugin declares */
}

MPL_PLUGIN("paper_copy", "1", "F0 and F9 from another source", init)
