/* metaplast: native terms, the IR's escape hatch: C callbacks for what the IR cannot say (a plugin
 * registers them through metaplast/plugin.h, which includes this header; the types are part of the
 * plugin ABI and follow its versioning rule). See LICENSE for copyright. */
#ifndef METAPLAST_NATIVE_H
#define METAPLAST_NATIVE_H

#include <stddef.h>

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One layer's signals as a native term sees them. Vectors are n_pre or n_post long; W is
 * n_post x n_pre, row-major. e_pre is the synthetic input error e_0 at layer 1. */
typedef struct mpl_native_io {
  int n_pre, n_post;
  const double *pre, *post, *e_pre, *e_post;
  const double *W;
} mpl_native_io;

typedef struct mpl_native_term {
  size_t struct_size;       /* sizeof(mpl_native_term) as the plugin saw it */
  const char *name;
  const char *description;
  const char *formula;      /* the term in the paper's notation (Unicode), for reports */
  const char *latex;        /* the same in LaTeX, or NULL */
  void *user;               /* passed back to the callbacks */
  /* out (n_post x n_pre, row-major) = F(io). Must not keep pointers into io. */
  void (*value)(void *user, const mpl_native_io *io, double *out);
  /* Reverse mode. G (n_post x n_pre) is dL/dF. ADD <G, dF/dx> to bar[s] for each signal
   * s = MPL_SIG_PRE..MPL_SIG_EPOST (vectors; add to all four even if some are zero) and
   * to bar_W (n_post x n_pre). `metaplast check` verifies this against finite differences. */
  void (*vjp)(void *user, const mpl_native_io *io, const double *G, double *const bar[4], double *bar_W);
} mpl_native_term;

/* For a fault handler (SIGSEGV, SIGBUS, SIGFPE, SIGILL): 1 if the calling thread is inside a
 * native term's callback, with its name, its source (the --terms item, e.g. the plugin) and the
 * phase ("value" or "vjp"); 0 otherwise. Async-signal-safe: it reads thread-local pointers.
 * The library itself installs no handler; `metaplast` does (its exit status is then 70). */
MPL_API int mpl_native_current(const char **term, const char **source, const char **phase);

#ifdef __cplusplus
}
#endif
#endif
