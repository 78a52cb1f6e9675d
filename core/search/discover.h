/* metaplast: private interface of discover.c, the robust discovery method (docs/discovery.md):
 * scale-free coefficients (each term's magnitude measured on the start network), validation
 * tasks on held-out images, step control after failures, the lambda path and the health
 * verdict. search.c drives it; nothing here runs an outer loop. Never installed.
 * See LICENSE for copyright. */
#ifndef METAPLAST_DISCOVER_H
#define METAPLAST_DISCOVER_H

#include <gsl/gsl_rng.h>

#include "metaplast/data.h"
#include "metaplast/expr.h"
#include "metaplast/net.h"
#include "metaplast/config.h"

#include "util.h"

/* 1 if term i of ts is the pseudo-gradient −e_ℓ y_{ℓ−1}ᵀ, however written and named: its value
 * equals −e_post preᵀ to 1e-12 on two random layers. */
MPL_INTERNAL int mpl__is_pseudo_gradient(const mpl_termset *ts, int i);

/* Below this fraction of the pseudo-gradient's magnitude a term is zero up to rounding (a - a
 * evaluates to ~1e-17, not 0). */
#define MPL__MAGNITUDE_MIN 1e-10

/* The typical magnitude of terms which[0..n-1] on a network: with rng, the network a search
 * starts from (initial weights and feedback drawn from rng, the episode's own draw); with rng NULL,
 * the weights at the end of ep's last run (the network its rule adapted). Signals of the first
 * `images` training images x (labels y) through the network, without learning. rel[r] = RMS over
 * images of (sum over layers |F_r|_F^2)^(1/2), divided by the same for the pseudo-gradient. A term
 * whose magnitude is below 1e-10 of the pseudo-gradient's (zero up to rounding) or not finite is
 * MPL_EINVAL naming it (rel[r] is still set for every r). */
MPL_INTERNAL int mpl__term_magnitudes(const mpl_net_cfg *net, mpl_episode *ep, const mpl_termset *ts,
                                      const int *which, int n, const double *x, const int *y, int images,
                                      gsl_rng *rng, double *rel, mpl_err *err);

/* Split ds by class into views (sharing its pixels) for training and validation: the last
 * max(ceil(n_c / 6), K + Q) images of each class validate, the rest train. Classes with fewer than
 * 2 (K + Q) images stay whole in the training view and out of validation. Free the views with
 * mpl__dataset_view_free (never mpl_dataset_free). */
MPL_INTERNAL int mpl__dataset_split(const mpl_dataset *ds, const mpl_task_cfg *task, mpl_dataset *train,
                                    mpl_dataset *val, mpl_err *err);
MPL_INTERNAL void mpl__dataset_view_free(mpl_dataset *v);

/* The health verdict of a search (what `report`, trials and the CLI print above a rule). */
typedef struct mpl__health {
  int healthy;             /* 1: the rule can be trusted as far as the checks go */
  int gain;                /* 1: better than FA on the validation tasks by more than 2 SE */
  int episodes, failed, dead;
  double final_acc;        /* mean query accuracy over the last window of episodes */
  int window;
  double val_rule, val_fa, val_se;  /* validation means of the reported rule and of FA, SE of the paired difference */
  int val_tasks, val_diverged;
  double val_last;         /* validation accuracy of the final iterate (NaN if none) */
  double val_best;         /* the best validation accuracy seen in the run (NaN if none) ... */
  int val_best_episode;    /* ... after this episode */
  int best_episode;        /* the episode whose theta is reported (0: the start) */
  int shared_val;          /* validation tasks drew from the training images */
  char text[2048];         /* the verdict and its reasons, one per line */
} mpl__health;

/* Judge a search. acc: per-episode query accuracy (NaN = diverged); the rest as the fields. */
MPL_INTERNAL void mpl__health_judge(mpl__health *h, const double *acc, int episodes, int chance_m,
                                    const char *const *bound_terms, int n_bound);

/* Mean and standard error of x[0..n-1] - y[0..n-1] over the pairs where both are finite. */
MPL_INTERNAL void mpl__paired(const double *x, const double *y, int n, double *mean_x, double *mean_y, double *se);

#endif
