/* metaplast tests: plugins whose native terms misbehave at run time, one per FAULTY_* mode
 * (tests/test_faults.c): a NaN value, an infinite derivative, a segfault in value or vjp, an
 * integer division by zero. Each also registers a sound IR term and a sound native term, which
 * `metaplast check` must still check. See LICENSE for copyright. */
#include <metaplast/plugin.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

/* F = post pre^T and its exact vjp: the sound native term. */
static void hebb_value(void *u, const mpl_native_io *io, double *out) {
  (void)u;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) out[(size_t)j * io->n_pre + k] = io->post[j] * io->pre[k];
}
static void hebb_vjp(void *u, const mpl_native_io *io, const double *G, double *const bar[4], double *bar_W) {
  (void)u;
  (void)bar_W;
  for (int j = 0; j < io->n_post; j++)
    for (int k = 0; k < io->n_pre; k++) {
      double g = G[(size_t)j * io->n_pre + k];
      bar[MPL_SIG_POST][j] += g * io->pre[k];
      bar[MPL_SIG_PRE][k] += g * io->post[j];
    }
}

#if defined(__GNUC__)
__attribute__((unused))
#endif
static void crash(void) {
  volatile int *volatile p = (int *)(uintptr_t)16;
  *p = 1;
}

#if defined(__GNUC__) && defined(FAULTY_FPE_VALUE)
__attribute__((no_sanitize("undefined"))) /* the real SIGFPE, not UBSan's report of it */
#endif
static void bad_value(void *u, const mpl_native_io *io, double *out) {
  hebb_value(u, io, out);
#if defined(FAULTY_NAN_VALUE)
  out[io->n_pre + 1] = NAN;
#elif defined(FAULTY_SEGV_VALUE)
  crash();
#elif defined(FAULTY_FPE_VALUE)
  volatile int zero = 0;
  out[0] = (double)(io->n_pre / zero);
#endif
}

static void bad_vjp(void *u, const mpl_native_io *io, const double *G, double *const bar[4], double *bar_W) {
  hebb_vjp(u, io, G, bar, bar_W);
#if defined(FAULTY_INF_VJP)
  bar_W[0] = INFINITY;
#elif defined(FAULTY_SEGV_VJP)
  crash();
#endif
}

#if defined(FAULTY_NAN_VALUE)
#define BAD "nan_value"
#elif defined(FAULTY_SEGV_VALUE)
#define BAD "segv_value"
#elif defined(FAULTY_FPE_VALUE)
#define BAD "fpe_value"
#elif defined(FAULTY_INF_VJP)
#define BAD "inf_vjp"
#else
#define BAD "segv_vjp"
#endif

static int init(mpl_plugin *p, mpl_err *err) {
  mpl_termset *ts = mpl_plugin_termset(p);
  int rc = mpl_plugin_add_term(p, "F0", "pseudo-gradient",
                               mpl_neg(ts, mpl_outer(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_PRE))), err);
  mpl_native_term good = {sizeof good, "hebb", "Hebbian", "y_ℓ y_{ℓ−1}ᵀ", NULL, NULL, hebb_value, hebb_vjp};
  mpl_native_term bad = {sizeof bad, BAD, "misbehaves (tests/plugins/faulty.c)", "F", NULL, NULL, bad_value, bad_vjp};
  if (rc == 0) rc = mpl_plugin_add_native(p, &bad, err);
  if (rc == 0) rc = mpl_plugin_add_native(p, &good, err);
  return rc;
}

MPL_PLUGIN(PLUGIN_NAME, "1.0", "native terms that fail at run time (tests)", init)
