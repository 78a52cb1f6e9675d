/* metaplast: evaluating a discovered rule. The rule is frozen (its terms and θ as recorded) and
 * run, with the primal inner loop only, on fresh tasks, beside two baselines on the SAME tasks
 * and initial weights:
 *   rule  the rule's terms and θ, with the feedback of the run that found it;
 *   FA    F0 alone (−e_ℓ y_{ℓ−1}ᵀ) with fixed random feedback, at a meta-learned rate;
 *   BP    F0 alone with symmetric feedback (B = W: gradient descent), at the same rate.
 * The rate is the rule's own θ_F0, or another run's θ_F0 (fa), or a given number (fa_rate).
 * Each method's query accuracies get their mean and a percentile-bootstrap interval (stats.h).
 * See LICENSE for copyright. */
#ifndef METAPLAST_EVAL_H
#define METAPLAST_EVAL_H

#include <stddef.h>
#include <stdio.h>

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MPL_EVAL_RULE = 0, MPL_EVAL_FA = 1, MPL_EVAL_BP = 2, MPL_EVAL_METHODS = 3 };

typedef struct mpl_eval_cfg {
  const char *rule;        /* a results directory or a JSON rule (mpl_readout_load); required */
  const char *data;        /* a named dataset (mpl_dataset_open), or NULL: the rule's own */
  const char *images;      /* or an explicit IDX pair (both set) */
  const char *labels;
  size_t per_class;        /* with data or images: first per_class images per class (0 = all) */
  int tasks;               /* number of tasks (default 100) */
  unsigned long seed;      /* tasks, weights and the bootstrap (default 1) */
  const char *fa;          /* a rule (dir or JSON) whose θ_F0 FA and BP use, or NULL */
  double fa_rate;          /* or this rate, if finite (default NaN: not given) */
  int resamples;           /* bootstrap resamples (default MPL_BOOT_RESAMPLES = 500) */
  double level;            /* interval level (default MPL_BOOT_LEVEL = 0.98) */
  const char *out;         /* a directory for eval.csv and eval.json (created), or NULL */
  FILE *progress;          /* a progress line per 10% of the tasks, or NULL */
  const char *sampling;    /* task sampler "clean" or "paper", or NULL: the rule's own */
  int final;               /* 1: the search's last iterate instead of its reported (best validated) rule */
  int jobs;                /* threads running the tasks, each with its own workspace (default 0: every online
                            * CPU, at most one per task); the results do not depend on it */
} mpl_eval_cfg;

MPL_API void mpl_eval_defaults(mpl_eval_cfg *cfg);

typedef struct mpl_eval_result {
  int tasks;
  char dataset[64];                    /* the dataset's name */
  double rate;                         /* FA's and BP's F0 rate */
  char rate_from[512];                 /* where the rate came from */
  double *acc[MPL_EVAL_METHODS];       /* per task query accuracy, NaN if diverged (owned) */
  double mean[MPL_EVAL_METHODS];       /* over the tasks that did not diverge */
  double lo[MPL_EVAL_METHODS], hi[MPL_EVAL_METHODS];  /* bootstrap interval of the mean */
  int diverged[MPL_EVAL_METHODS];
  char notes[4096];                    /* terms evaluated from their stored formula because their source
                                        * is not installed or not recorded, and sources whose content
                                        * changed since the run ("warning: ..."), one line each ("" if
                                        * none; mpl_readout_build_noted) */
  int changed;                         /* term sources whose content differs from the rule's record */
} mpl_eval_result;

/* "rule", "FA", "BP". */
MPL_API const char *mpl_eval_method_name(int m);

/* The seed of task t's generator (GSL mt19937): it draws the task (mpl_task_sample), then
 * the initial weights W and feedback B (mpl_episode_init_weights); every method starts from a
 * copy of the generator as it is after the task draw. */
MPL_API unsigned long mpl_eval_task_seed(unsigned long seed, int t);

/* Run the evaluation. res is filled on success (free with mpl_eval_result_free; also safe after
 * a failure). Determinism: the same cfg gives bit-identical results, whatever cfg->jobs. */
MPL_API int mpl_eval_run(const mpl_eval_cfg *cfg, mpl_eval_result *res, mpl_err *err);
MPL_API void mpl_eval_result_free(mpl_eval_result *res);

/* The result as a table (method, mean query accuracy, interval, diverged tasks), like
 * snprintf: returns the length the full text needs. */
MPL_API size_t mpl_eval_table(const mpl_eval_result *res, const mpl_eval_cfg *cfg, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
