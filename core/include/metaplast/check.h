/* metaplast: checking the meta-gradient against central finite differences.
 * See LICENSE for copyright. */
#ifndef METAPLAST_CHECK_H
#define METAPLAST_CHECK_H

#include "metaplast/expr.h"
#include "metaplast/net.h"
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpl_gradcheck_cfg {
  mpl_net_cfg net;       /* a small network (sizes[0] inputs, sizes[L] classes) */
  int n_train, n_query;  /* online steps and query samples (random inputs in [0,1]) */
  unsigned long seed;
  double theta_scale;    /* theta_r drawn uniformly in +-theta_scale (F0-like terms positive) */
  double h;              /* finite-difference step (relative to max(|theta_r|, 1e-3)) */
} mpl_gradcheck_cfg;

/* Defaults: 12-9-8-7-6 network, beta 10, 20 steps, 6 query samples, seed 1, theta in +-0.02,
 * h 1e-2 (Richardson extrapolation makes the truncation error O(h^4)). */
MPL_API void mpl_gradcheck_defaults(mpl_gradcheck_cfg *cfg);

typedef struct mpl_gradcheck_result {
  int n;
  double *grad, *fd, *rel; /* per term (owned; free with mpl_gradcheck_result_free) */
  double worst;            /* max over terms of rel */
  int worst_term;
  double loss;
} mpl_gradcheck_result;

/* Compare the reverse-mode dL/dtheta with Richardson-extrapolated central differences for the
 * terms which[0..n-1] of ts. rel_r = |g_r - fd_r| / max(|g_r|, |fd_r|, 1e-4 max_r |g_r|): a term whose gradient is
 * below 1e-4 of the largest is judged on the gradient's overall scale, because the rounding
 * error of the loss (~1e-16 |L| / h) limits any finite difference there. */
MPL_API int mpl_gradcheck(const mpl_gradcheck_cfg *cfg, const mpl_termset *ts, const int *which, int n,
                          mpl_gradcheck_result *res, mpl_err *err);
MPL_API void mpl_gradcheck_result_free(mpl_gradcheck_result *res);

#ifdef __cplusplus
}
#endif
#endif

/* ---- Per-term derivative check (`metaplast check`) ---- */

/* For each term which[0..n-1] of ts (all if which is NULL): on `trials` random layers (random
 * sizes, signals, W and adjoint G), compare the reverse-mode derivative of <G, F> along a random
 * direction of all inputs (the four signals and W) with Richardson-extrapolated central
 * differences of F. rel[i] (n doubles, caller's) receives the worst relative error of term i.
 * A term whose value or reverse-mode derivative is NaN or infinite on a test layer gets rel[i] =
 * NaN; the other terms are still checked, and the call then fails with MPL_ENUMERIC naming the
 * first such term, its source and what was not finite. */
MPL_API int mpl_check_terms(const mpl_termset *ts, const int *which, int n, int trials, unsigned long seed,
                            double *rel, mpl_err *err);
