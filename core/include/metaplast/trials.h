/* metaplast: independent trials of one search configuration, run in parallel across cores, their
 * summary with bootstrap bands, and the sparsity (lambda) path. See LICENSE for copyright.
 *
 * Trial i (1-based) of a configuration with seed S is exactly the search `cfg` with seed S + i
 * written to OUT/trial-00i/: new initial weights, feedback matrices and tasks, and the same
 * results directory (log.csv, theta.tsv, ...) as a search run by itself with that seed and
 * directory, whatever the number of parallel jobs. OUT then receives summary.csv, terms.csv and
 * summary.md (docs/trials.md).
 *
 * Threads: each trial runs mpl_search_run on its own POSIX thread with its own dataset, term set
 * and buffers; OpenBLAS runs single-threaded (one trial = one core). The process-wide settings
 * (GSL's error handler off, OpenBLAS at one thread) are made once before the threads start. */
#ifndef METAPLAST_TRIALS_H
#define METAPLAST_TRIALS_H

#include "metaplast/search.h"
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The final accuracy of a run is the mean query accuracy of its last MPL_FINAL_WINDOW episodes
 * (all of them if it ran fewer). */
#define MPL_FINAL_WINDOW 50

typedef struct mpl_trials_result {
  int n_trials;              /* trials run */
  int n_ok;                  /* trials that finished; the summary covers these only */
  int episodes;              /* episodes per trial */
  mpl_search_result *trial;  /* [n_trials] each trial's result (owned) */
  int *status;               /* [n_trials] MPL_OK, the trial's error code, or 1 if it never ran
                              * (an earlier trial's failure stopped the rest) */
  unsigned long *seed;       /* [n_trials] each trial's seed */
  /* Per episode e (0-based), over the finished trials (NaN episodes skipped): the mean query
   * accuracy and loss and their 98% bootstrap band (500 resamples). NaN if no trial has a value. */
  double *acc_mean, *acc_lo, *acc_hi, *loss_mean, *loss_lo, *loss_hi;
  /* Per term (the names and formulas of trial[first finished]): the fraction of finished trials
   * where |theta| > cfg->zero_tol, and the mean final theta (zeros included) with its band. */
  int n_terms;
  char *const *names, *const *formulas;   /* borrowed from trial[] */
  double *survival, *theta_mean, *theta_lo, *theta_hi;
  /* Final accuracy (MPL_FINAL_WINDOW) per finished trial, its mean and 98% band over trials; with
   * a single trial the band is the bootstrap over that trial's window of episodes. */
  int window;
  double *final_acc;         /* [n_trials], NaN for a failed trial */
  double final_mean, final_lo, final_hi;
  double active_mean;        /* mean number of surviving terms */
} mpl_trials_result;

/* The number of online CPUs (at least 1): the default number of jobs. */
MPL_API int mpl_trials_default_jobs(void);

/* Run n_trials (>= 1) trials of cfg on up to `jobs` threads (<= 0: mpl_trials_default_jobs()),
 * then write OUT/summary.csv, terms.csv and summary.md. cfg->out is required; cfg->progress
 * receives one line summarising all trials (not one per trial); cfg->on_episode is not called.
 * A trial that fails with a non-numerical error stops the others from starting, and that first
 * error is returned. Trials that diverge (MPL_ENUMERIC) are left out of the summary and counted
 * in res->n_ok; if none finished the result is MPL_ENUMERIC. res is filled on success and, as far
 * as the trials ran, on failure: free it with mpl_trials_result_free in both cases.
 * Thread-safe: calls on different configurations and directories may run concurrently. */
MPL_API int mpl_trials_run(const mpl_search_cfg *cfg, int n_trials, int jobs, mpl_trials_result *res,
                           mpl_err *err);
MPL_API void mpl_trials_result_free(mpl_trials_result *res);

/* The text of summary.md for a finished trials result (malloc'ed; NULL if memory is short). */
MPL_API char *mpl_trials_summary_text(const mpl_trials_result *res, const mpl_search_cfg *cfg);

/* ---- The sparsity path ---- */

/* Parse "0,1e-4,3e-4" and/or log-spaced ranges "lo:hi:n" (n values from lo to hi, 0 < lo < hi,
 * n >= 2), comma-separated, into a malloc'ed array. Values must be finite, >= 0 and distinct. */
MPL_API int mpl_lambda_parse(const char *spec, double **lambda, int *n, mpl_err *err);

/* The directory name of one lambda value: "lambda-<%g>" (e.g. lambda-0.0001, lambda-1e-05). */
MPL_API void mpl_lambda_dirname(double lambda, char *buf, size_t len);

typedef struct mpl_path_result {
  int n;                     /* lambda values */
  double *lambda;            /* [n] (owned copy) */
  mpl_trials_result *run;    /* [n] one trials result per lambda (n_trials 1 = a single search) */
} mpl_path_result;

/* Run the search cfg at each lambda (cfg->adam.lambda replaced) into OUT/lambda-<value>/, with
 * n_trials trials each (1: a plain search with cfg's seed in that directory; more: a trials
 * directory as mpl_trials_run writes), all runs sharing `jobs` threads; then write OUT/path.csv
 * and OUT/path.md. Errors and progress as mpl_trials_run. */
MPL_API int mpl_path_run(const mpl_search_cfg *cfg, const double *lambda, int n, int n_trials, int jobs,
                         mpl_path_result *res, mpl_err *err);
MPL_API void mpl_path_result_free(mpl_path_result *res);

/* The text of path.md (malloc'ed; NULL if memory is short). */
MPL_API char *mpl_path_summary_text(const mpl_path_result *res, const mpl_search_cfg *cfg);

#ifdef __cplusplus
}
#endif
#endif
