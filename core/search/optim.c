/* metaplast: Adam with a proximal or penalty L1 term. See LICENSE for copyright. */
#include "metaplast/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mpl_adam_defaults(mpl_adam_cfg *cfg) {
  *cfg = (mpl_adam_cfg){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .lambda = 0, .l1 = MPL_L1_PROX,
                         .clip_rms = 5};
}

int mpl_adam_init(mpl_adam *opt, int n, const mpl_adam_cfg *cfg, mpl_err *err) {
  memset(opt, 0, sizeof *opt);
  if (!(cfg->lr > 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) ||
      !(cfg->eps > 0) || !(cfg->l1 == MPL_L1_PROX || cfg->l1 == MPL_L1_PENALTY) || !(cfg->lambda >= 0) || !isfinite(cfg->lr) || !isfinite(cfg->lambda) ||
      !(cfg->clip_rms >= 0) || !isfinite(cfg->clip_rms))
    return mpl_errorf(err, MPL_EINVAL,
                      "Adam: need lr > 0, 0 <= beta1, beta2 < 1, eps > 0, lambda >= 0 and an L1 mode (got lr %g, "
                      "betas %g %g, eps %g, lambda %g, l1 mode %d); clip_rms >= 0 (got %g)", cfg->lr, cfg->beta1,
                      cfg->beta2, cfg->eps, cfg->lambda, (int)cfg->l1, cfg->clip_rms);
  opt->cfg = *cfg;
  opt->n = n;
  opt->m = calloc((size_t)n + 1, sizeof *opt->m);
  opt->v = calloc((size_t)n + 1, sizeof *opt->v);
  if (!opt->m || !opt->v) {
    mpl_adam_free(opt);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  return MPL_OK;
}

void mpl_adam_free(mpl_adam *opt) {
  if (!opt) return;
  free(opt->m);
  free(opt->v);
  opt->m = opt->v = NULL;
}

static double sign(double x) { return (x > 0) - (x < 0); }

void mpl_adam_step(mpl_adam *opt, double *theta, const double *grad) {
  const mpl_adam_cfg *c = &opt->cfg;
  opt->t++;
  double bc1 = 1 - pow(c->beta1, (double)opt->t), bc2 = 1 - pow(c->beta2, (double)opt->t);
  double bc2p = 1 - pow(c->beta2, (double)(opt->t - 1)); /* the previous step's: its vhat bounds g */
  for (int j = 0; j < opt->n; j++) {
    double lambda = opt->pf ? c->lambda * opt->pf[j] : c->lambda;
    double g = grad[j] + (c->l1 == MPL_L1_PENALTY ? lambda * sign(theta[j]) : 0);
    if (c->clip_rms > 0 && opt->t > 1) {
      double cap = c->clip_rms * sqrt(opt->v[j] / bc2p);
      g = g > cap ? cap : g < -cap ? -cap : g;
    }
    opt->m[j] = c->beta1 * opt->m[j] + (1 - c->beta1) * g;
    opt->v[j] = c->beta2 * opt->v[j] + (1 - c->beta2) * g * g;
    double den = sqrt(opt->v[j] / bc2) + c->eps; /* PyTorch's form */
    theta[j] -= c->lr * (opt->m[j] / bc1) / den;
    if (c->l1 == MPL_L1_PROX && lambda > 0) {
      double thr = c->lr * lambda / den, a = fabs(theta[j]) - thr;
      theta[j] = a > 0 ? sign(theta[j]) * a : 0.0;
    }
  }
}

double mpl_l1(const double *theta, int n, double lambda) {
  double s = 0;
  for (int j = 0; j < n; j++) s += fabs(theta[j]);
  return lambda * s;
}
