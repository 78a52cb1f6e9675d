/* metaplast: small statistics for read-outs: the percentile bootstrap of a mean.
 * See LICENSE for copyright. */
#include "metaplast/stats.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

int mpl_count_nan(const double *x, int n) {
  int k = 0;
  for (int i = 0; x && i < n; i++) k += isnan(x[i]) != 0;
  return k;
}

static void set_out(double *p, double v) {
  if (p) *p = v;
}

/* Copy the finite values of x into y; returns their count, or -1 if x holds an infinity. */
static int finite_values(const double *x, int n, double *y) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (isnan(x[i])) continue;
    if (isinf(x[i])) return -1;
    y[m++] = x[i];
  }
  return m;
}

static double mean_of(const double *y, int m) {
  double s = 0;
  for (int i = 0; i < m; i++) s += y[i];
  return s / m;
}

/* Fill boot[0..resamples-1] with the means of resamples of y (m values), then sort them. */
static int resample_means(const double *y, int m, int resamples, unsigned long seed, double *boot) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!rng) return MPL_ENOMEM;
  gsl_rng_set(rng, seed);
  for (int b = 0; b < resamples; b++) {
    double s = 0;
    for (int i = 0; i < m; i++) s += y[gsl_rng_uniform_int(rng, (unsigned long)m)];
    boot[b] = s / m;
  }
  gsl_rng_free(rng);
  gsl_sort(boot, 1, (size_t)resamples);
  return MPL_OK;
}

int mpl_bootstrap_mean(const double *x, int n, int resamples, double level, unsigned long seed,
                       double *mean, double *lo, double *hi, mpl_err *err) {
  set_out(mean, NAN), set_out(lo, NAN), set_out(hi, NAN);
  if (n < 0 || (n > 0 && !x))
    return mpl_errorf(err, MPL_EINVAL, "bootstrap: bad data (n = %d)", n);
  if (!(level > 0 && level < 1))
    return mpl_errorf(err, MPL_EINVAL, "bootstrap: level %g is not in (0, 1)", level);
  if (resamples < 1)
    return mpl_errorf(err, MPL_EINVAL, "bootstrap: resamples %d must be at least 1", resamples);
  double *y = malloc(sizeof *y * (size_t)(n > 0 ? n : 1));
  double *boot = malloc(sizeof *boot * (size_t)resamples);
  int rc = MPL_OK, m = y && boot ? finite_values(x, n, y) : 0;
  if (!y || !boot) rc = mpl_errorf(err, MPL_ENOMEM, "bootstrap: out of memory (%d values)", n);
  else if (m < 0) rc = mpl_errorf(err, MPL_ENUMERIC, "bootstrap: the data hold an infinity");
  else if (m == 0) rc = mpl_errorf(err, MPL_EINVAL, "bootstrap: no finite value among %d", n);
  else {
    gsl_set_error_handler_off();
    rc = resample_means(y, m, resamples, seed, boot);
    if (rc) mpl_errorf(err, rc, "bootstrap: out of memory (random generator)");
  }
  if (rc == MPL_OK) {
    set_out(mean, mean_of(y, m));
    set_out(lo, gsl_stats_quantile_from_sorted_data(boot, 1, (size_t)resamples, (1 - level) / 2));
    set_out(hi, gsl_stats_quantile_from_sorted_data(boot, 1, (size_t)resamples, (1 + level) / 2));
  }
  free(y), free(boot);
  return rc;
}
