/* metaplast tests: the percentile bootstrap of a mean (stats.h) against a direct computation,
 * NaN handling, refusals and determinism. See LICENSE for copyright. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/stats.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The definition written out: the same draws (mt19937, uniform_int), qsort, and the quantile
 * by linear interpolation at position p (B - 1) between order statistics. */
static void direct(const double *x, int n, int B, double level, unsigned long seed, double *lo, double *hi) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, seed);
  double *boot = malloc(sizeof *boot * B);
  for (int b = 0; b < B; b++) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[gsl_rng_uniform_int(r, n)];
    boot[b] = s / n;
  }
  qsort(boot, B, sizeof *boot, cmp_double);
  double q[2] = {(1 - level) / 2, (1 + level) / 2}, *out[2] = {lo, hi};
  for (int k = 0; k < 2; k++) {
    double pos = q[k] * (B - 1);
    int i = (int)floor(pos);
    double f = pos - i;
    *out[k] = i + 1 < B ? boot[i] + f * (boot[i + 1] - boot[i]) : boot[i];
  }
  free(boot);
  gsl_rng_free(r);
}

static void test_against_direct(void **state) {
  (void)state;
  double x[7] = {0.61, 0.72, 0.55, 0.80, 0.67, 0.70, 0.58};
  double mean, lo, hi, dlo, dhi;
  mpl_err err = {0};
  for (unsigned long seed = 1; seed <= 3; seed++) {
    assert_int_equal(mpl_bootstrap_mean(x, 7, MPL_BOOT_RESAMPLES, MPL_BOOT_LEVEL, seed, &mean, &lo, &hi, &err),
                     MPL_OK);
    direct(x, 7, MPL_BOOT_RESAMPLES, MPL_BOOT_LEVEL, seed, &dlo, &dhi);
    mpl_assert_close(mean, (0.61 + 0.72 + 0.55 + 0.80 + 0.67 + 0.70 + 0.58) / 7, 1e-15, 0);
    mpl_assert_close(lo, dlo, 1e-14, 0);
    mpl_assert_close(hi, dhi, 1e-14, 0);
    assert_true(lo < mean && mean < hi);
    assert_true(lo >= 0.55 && hi <= 0.80);
  }
}

/* Two values 0 and 1: every resample mean is 0, 1/2 or 1, with probabilities 1/4, 1/2, 1/4;
 * with many resamples the 98% interval is [0, 1] and the 40% interval is [1/2, 1/2]. */
static void test_two_points(void **state) {
  (void)state;
  double x[2] = {0, 1}, mean, lo, hi;
  assert_int_equal(mpl_bootstrap_mean(x, 2, 2000, 0.98, 7, &mean, &lo, &hi, NULL), MPL_OK);
  assert_true(mean == 0.5 && lo == 0 && hi == 1);
  assert_int_equal(mpl_bootstrap_mean(x, 2, 2000, 0.40, 7, &mean, &lo, &hi, NULL), MPL_OK);
  assert_true(lo == 0.5 && hi == 0.5);
}

static void test_single_and_deterministic(void **state) {
  (void)state;
  double one = 3.25, mean, lo, hi;
  assert_int_equal(mpl_bootstrap_mean(&one, 1, 10, 0.98, 1, &mean, &lo, &hi, NULL), MPL_OK);
  assert_true(mean == 3.25 && lo == 3.25 && hi == 3.25);
  double x[5] = {1, 4, 2, 8, 5}, a[3], b[3], c[3];
  mpl_bootstrap_mean(x, 5, 50, 0.9, 11, &a[0], &a[1], &a[2], NULL);
  mpl_bootstrap_mean(x, 5, 50, 0.9, 11, &b[0], &b[1], &b[2], NULL);
  mpl_bootstrap_mean(x, 5, 50, 0.9, 12, &c[0], &c[1], &c[2], NULL);
  assert_memory_equal(a, b, sizeof a);
  assert_true(c[1] != a[1] || c[2] != a[2]);   /* another seed, other draws */
}

/* NaNs are skipped: same result as the data without them; the count is reported. */
static void test_nan_skipped(void **state) {
  (void)state;
  double with[6] = {NAN, 1, 4, NAN, 2, 8}, without[4] = {1, 4, 2, 8}, a[3], b[3];
  assert_int_equal(mpl_count_nan(with, 6), 2);
  assert_int_equal(mpl_bootstrap_mean(with, 6, 100, 0.98, 5, &a[0], &a[1], &a[2], NULL), MPL_OK);
  assert_int_equal(mpl_bootstrap_mean(without, 4, 100, 0.98, 5, &b[0], &b[1], &b[2], NULL), MPL_OK);
  assert_memory_equal(a, b, sizeof a);
}

static void test_refusals(void **state) {
  (void)state;
  double x[3] = {1, INFINITY, 2}, nan2[2] = {NAN, NAN}, mean = 0, lo = 0, hi = 0;
  mpl_err err = {0};
  assert_int_equal(mpl_bootstrap_mean(x, 3, 10, 0.98, 1, &mean, &lo, &hi, &err), MPL_ENUMERIC);
  mpl_assert_contains(err.msg, "infinity");
  assert_true(isnan(mean) && isnan(lo) && isnan(hi));
  assert_int_equal(mpl_bootstrap_mean(nan2, 2, 10, 0.98, 1, &mean, &lo, &hi, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "no finite value");
  assert_int_equal(mpl_bootstrap_mean(x, 1, 10, 1.0, 1, &mean, &lo, &hi, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "level");
  assert_int_equal(mpl_bootstrap_mean(x, 1, 0, 0.5, 1, &mean, &lo, &hi, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "resamples");
  assert_int_equal(mpl_bootstrap_mean(NULL, 2, 10, 0.5, 1, &mean, &lo, &hi, &err), MPL_EINVAL);
  assert_int_equal(mpl_bootstrap_mean(x, 0, 10, 0.5, 1, &mean, &lo, &hi, &err), MPL_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_against_direct),
    cmocka_unit_test(test_two_points),
    cmocka_unit_test(test_single_and_deterministic),
    cmocka_unit_test(test_nan_skipped),
    cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
