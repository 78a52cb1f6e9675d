/* metaplast: a search: meta-learning the coefficients of a set of candidate terms over many
 * episodes, with logging to a results directory. See LICENSE for copyright. */
#ifndef METAPLAST_SEARCH_H
#define METAPLAST_SEARCH_H

#include <stdio.h>

#include "metaplast/config.h" /* mpl_search_cfg, its defaults, config.txt */
#include "metaplast/expr.h"
#include "metaplast/report.h"
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpl_search_result {
  int n_terms;
  char **names;            /* term names (owned) */
  char **formulas;         /* their formulas in the paper's notation (owned) */
  double *theta;           /* final coefficients (owned) */
  int episodes;            /* episodes run */
  int failures;            /* failed episodes: diverged or dead (theta rolled back, not updated) */
  int interrupted;         /* 1 if *cfg.stop ended the run early (checkpointed; resume continues) */
  int dead;                /* episodes whose adapted network was dead (status "dead" in log.csv) */
  double *accuracy, *loss; /* per episode (owned), NaN for a diverged episode */
  double seconds_per_episode; /* median wall time */
  /* The rule reported (theta above) is the best validated one (robust method; theta_final is
   * the last iterate) or the last iterate (plain method: theta_final = theta). */
  double *theta_final;     /* (owned) */
  double *scale;           /* theta_r = scale_r * standardized_r (owned; NULL in the plain method) */
  int best_episode;        /* the episode after which the reported theta was validated (0: start) */
  double lambda;           /* the L1 weight of the reported rule (the one chosen with lambda auto) */
  int healthy;             /* the verdict (health, below) */
  double val_rule, val_fa; /* validation accuracy of the reported rule and of FA on the same tasks */
  char health[2048];       /* the verdict and its reasons, lines starting "health: " */
} mpl_search_result;

/* Run a search. On success (and, where possible, on failure after some episodes) the results
 * directory holds config.txt, log.csv, theta.tsv and rule.txt (see results/README.md); while
 * the run is unfinished it also holds `checkpoint` (docs/reliability.md). When *cfg->stop becomes
 * non-zero the run checkpoints after the current episode and returns MPL_OK with
 * res->interrupted = 1. With cfg->resume the run continues from out/checkpoint (or from the
 * start if there is none yet); log.csv is cut back to the checkpoint's episode. */
MPL_API int mpl_search_run(const mpl_search_cfg *cfg, mpl_search_result *res, mpl_err *err);
MPL_API void mpl_search_result_free(mpl_search_result *res);

/* mpl_equation and mpl_report: metaplast/report.h (included above). */

#ifdef __cplusplus
}
#endif
#endif
