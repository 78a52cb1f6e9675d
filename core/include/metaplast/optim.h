/* metaplast: the meta-optimiser: Adam with L1 as a proximal step (exact zeros) or as the
 * reference's plain penalty. See LICENSE for copyright. */
#ifndef METAPLAST_OPTIM_H
#define METAPLAST_OPTIM_H

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mpl_l1_mode {
  MPL_L1_PROX = 0,    /* soft-threshold after each Adam step, in Adam's own metric (default) */
  MPL_L1_PENALTY = 1  /* the reference: lambda * sign(theta) added to the gradient, sign(0) = 0 */
} mpl_l1_mode;

typedef struct mpl_adam_cfg {
  double lr, beta1, beta2, eps; /* defaults 1e-3, 0.9, 0.999, 1e-8 (PyTorch's) */
  double lambda;                /* L1 weight (default 0) */
  mpl_l1_mode l1;
  double clip_rms;              /* clip each gradient coordinate to clip_rms times its running RMS
                                   sqrt(vhat) before the step, from the second step on (default 5;
                                   0 = off, PyTorch's and the reference's plain Adam) */
} mpl_adam_cfg;

MPL_API void mpl_adam_defaults(mpl_adam_cfg *cfg);

typedef struct mpl_adam {
  mpl_adam_cfg cfg;
  int n;
  long t;           /* steps taken */
  double *m, *v;    /* first and second moment estimates (owned) */
  const double *pf; /* per-coordinate L1 penalty factor (borrowed; NULL: all 1) */
} mpl_adam;

MPL_API int mpl_adam_init(mpl_adam *opt, int n, const mpl_adam_cfg *cfg, mpl_err *err);
MPL_API void mpl_adam_free(mpl_adam *opt);

/* One step on theta given grad = dCE/dtheta (the L1 term is handled here, per cfg.l1).
 *
 * Proximal mode: theta_half = theta - lr mhat / (sqrt(vhat) + eps), then
 * theta_j = sign(theta_half_j) max(|theta_half_j| - lr lambda / (sqrt(vhat_j) + eps), 0):
 * the proximal operator of lambda |.| in the diagonal metric Adam uses, so lambda is in the
 * same units as in penalty mode and a coefficient whose |dCE/dtheta| stays below lambda ends
 * at exactly zero. */
MPL_API void mpl_adam_step(mpl_adam *opt, double *theta, const double *grad);

/* lambda * sum |theta|. */
MPL_API double mpl_l1(const double *theta, int n, double lambda);

#ifdef __cplusplus
}
#endif
#endif
