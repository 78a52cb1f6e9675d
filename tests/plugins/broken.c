/* metaplast tests: deliberately broken plugins, one per BROKEN_* mode, each refused with a
 * message that names what is wrong (tests/test_plugins.c). See LICENSE for copyright. */
#include <metaplast/plugin.h>

#include <string.h>

#if defined(__GNUC__)
__attribute__((unused))
#endif
static int init_ok(mpl_plugin *p, mpl_err *err) {
  mpl_termset *ts = mpl_plugin_termset(p);
#if defined(BROKEN_SHAPE)
  /* n_post x n_post: not the shape of W */
  return mpl_plugin_add_term(p, "square", "wrong shape", mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_POST)), err);
#elif defined(BROKEN_BUILDER)
  /* a builder error: adding vectors of different lengths */
  return mpl_plugin_add_term(p, "mismatch", "builder error",
                             mpl_outer(ts, mpl_add(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_PRE)), mpl_sig(ts, MPL_SIG_PRE)), err);
#elif defined(BROKEN_INIT)
  (void)ts;
  return mpl_errorf(err, MPL_EPLUGIN, "deliberate failure: missing calibration file");
#elif defined(BROKEN_NOTERMS)
  (void)ts;
  (void)err;
  return MPL_OK;
#else
  return mpl_plugin_add_term(p, "F0", "pseudo-gradient",
                             mpl_neg(ts, mpl_outer(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_PRE))), err);
#endif
}

#if defined(BROKEN_NATIVE) || defined(BROKEN_NATIVE_SMALL)
/* F = post pre^T, with a vjp that forgets the pre adjoint */
static void value(void *u, const mpl_native_io *io, double *out) {
  (void)u;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) out[(size_t)j * io->n_pre + k] = io->post[j] * io->pre[k];
}
static void vjp(void *u, const mpl_native_io *io, const double *G, double *const bar[4], double *bar_W) {
  (void)u;
  (void)bar_W;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) bar[MPL_SIG_POST][j] += G[(size_t)j * io->n_pre + k] * io->pre[k];
}
static int init_native(mpl_plugin *p, mpl_err *err) {
  mpl_native_term t = {sizeof t, "hebb_bad", "Hebbian with a wrong derivative", "y_ℓ y_{ℓ−1}ᵀ", NULL, NULL, value, vjp};
#ifdef BROKEN_NATIVE_SMALL
  t.struct_size = 16;
#endif
  return mpl_plugin_add_native(p, &t, err);
}
#define INIT init_native
#else
#define INIT init_ok
#endif

#if defined(BROKEN_NOENTRY)
MPL_PLUGIN_EXPORT int not_an_entry(void);
MPL_PLUGIN_EXPORT int not_an_entry(void) { return 42; }
#elif defined(BROKEN_NULLDESC)
MPL_PLUGIN_EXPORT const mpl_plugin_desc *mpl_plugin_entry(void);
MPL_PLUGIN_EXPORT const mpl_plugin_desc *mpl_plugin_entry(void) { return NULL; }
#elif defined(BROKEN_ABI) || defined(BROKEN_ABI_OLD) || defined(BROKEN_SMALL) || defined(BROKEN_SMALL1)
MPL_PLUGIN_EXPORT const mpl_plugin_desc *mpl_plugin_entry(void);
MPL_PLUGIN_EXPORT const mpl_plugin_desc *mpl_plugin_entry(void) {
#if defined(BROKEN_ABI)
  static const mpl_plugin_desc d = {MPL_PLUGIN_ABI_MAJOR + 98, 0, sizeof d, "future", "9", "from the future", init_ok};
#elif defined(BROKEN_ABI_OLD) /* built for the major before this one (0 when this is 1), minor 7 */
  static const mpl_plugin_desc d = {MPL_PLUGIN_ABI_MAJOR - 1, 7, sizeof d, "past", "0", "from the past", init_ok};
#elif defined(BROKEN_SMALL1) /* one byte short of the descriptor ABI 1.0 defined */
  static const mpl_plugin_desc d = {MPL_PLUGIN_ABI_MAJOR, 0, sizeof d - 1, "short", "1", "one byte short", init_ok};
#else
  static const mpl_plugin_desc d = {MPL_PLUGIN_ABI_MAJOR, 0, 16, "tiny", "1", "truncated descriptor", init_ok};
#endif
  return &d;
}
#else
MPL_PLUGIN(PLUGIN_NAME, "1", "a test plugin", INIT)
#endif
