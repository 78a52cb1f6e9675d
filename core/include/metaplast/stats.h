/* metaplast: small statistics for read-outs (bootstrap intervals of a mean).
 * See LICENSE for copyright. */
#ifndef METAPLAST_STATS_H
#define METAPLAST_STATS_H

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The paper's bands: 98% percentile-bootstrap intervals from 500 resamples. */
#define MPL_BOOT_LEVEL 0.98
#define MPL_BOOT_RESAMPLES 500

/* Percentile bootstrap of the mean of x[0..n-1].
 *
 * NaNs are missing values: they are skipped (the mean and the resamples use the finite values
 * only); ±Inf is refused (MPL_ENUMERIC). With m finite values, each of `resamples` resamples
 * draws m indices uniformly with replacement (GSL mt19937 seeded by `seed`, so the same inputs
 * give bit-identical outputs) and takes its mean; lo and hi are the (1-level)/2 and (1+level)/2
 * quantiles of the sorted resample means (GSL's linear interpolation between order statistics).
 * *mean is the plain mean of the finite values. One finite value gives lo = hi = mean.
 *
 * @param level     in (0, 1), e.g. MPL_BOOT_LEVEL
 * @param resamples >= 1, e.g. MPL_BOOT_RESAMPLES
 * @param mean, lo, hi  outputs (any may be NULL)
 * @return MPL_OK; MPL_EINVAL (n < 0, x NULL with n > 0, bad level/resamples, no finite value);
 *         MPL_ENUMERIC (an infinity); MPL_ENOMEM. On error the outputs are NaN.
 * Thread-safe (no shared state). */
MPL_API int mpl_bootstrap_mean(const double *x, int n, int resamples, double level, unsigned long seed,
                               double *mean, double *lo, double *hi, mpl_err *err);

/* The number of NaNs in x[0..n-1] (what mpl_bootstrap_mean skips). */
MPL_API int mpl_count_nan(const double *x, int n);

#ifdef __cplusplus
}
#endif
#endif
