/* metaplast tests: the task sampler's invariants in CLEAN and PAPER modes, and its checks.
 * See LICENSE for copyright. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/data.h"

#define M 3
#define K 5
#define Q 3
#define DRAWS 300

/* A dataset of one-pixel images, counts[c] images of class c, classes interleaved round-robin
 * in file order so that a class's images are not contiguous. Pixel i is i % 256. */
static mpl_dataset *make_ds(const size_t *counts, int nc) {
  mpl_dataset *ds = calloc(1, sizeof *ds);
  size_t n = 0, left[16];
  for (int c = 0; c < nc; c++) n += counts[c], left[c] = counts[c];
  ds->n = n, ds->dim = ds->rows = ds->cols = 1, ds->n_classes = nc;
  strcpy(ds->name, "synthetic");
  ds->pixels = malloc(n);
  ds->labels = malloc(n);
  ds->class_off = calloc((size_t)nc + 1, sizeof *ds->class_off);
  ds->class_idx = malloc(n * sizeof *ds->class_idx);
  for (size_t i = 0; i < n;)
    for (int c = 0; c < nc; c++)
      if (left[c]) left[c]--, ds->pixels[i] = (uint8_t)i, ds->labels[i++] = (uint8_t)c;
  size_t j = 0;
  for (int c = 0; c < nc; c++) {
    for (size_t i = 0; i < n; i++)
      if (ds->labels[i] == c) ds->class_idx[j++] = i;
    ds->class_off[c + 1] = j;
  }
  return ds;
}

/* Class 2 is too small for K+Q = 8 (ineligible in CLEAN, an error in PAPER). */
static const size_t counts_short[6] = {10, 12, 5, 9, 20, 8};
static const size_t counts_full[6] = {10, 12, 9, 9, 20, 8};

static gsl_rng *seeded(unsigned long seed) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, seed);
  return r;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

static int is_sorted(const size_t *v, size_t n) {
  for (size_t i = 1; i < n; i++)
    if (v[i] < v[i - 1]) return 0;
  return 1;
}

static size_t size_of(const mpl_dataset *ds, int c) { return ds->class_off[c + 1] - ds->class_off[c]; }

/* Draw a task, failing the test on error. */
static void draw(const mpl_dataset *ds, const mpl_task_cfg *cfg, gsl_rng *r, mpl_task *t) {
  mpl_err err = {0};
  int rc = mpl_task_sample(ds, cfg, r, t, &err);
  if (rc < 0) fail_msg("mpl_task_sample: %s", err.msg);
}

static void test_init_sizes(void **state) {
  (void)state;
  mpl_task_cfg cfg = {M, K, Q, MPL_SAMPLE_CLEAN};
  mpl_task t;
  mpl_err err = {0};
  assert_int_equal(mpl_task_init(&t, &cfg, &err), MPL_OK);
  assert_int_equal(t.m, M);
  assert_int_equal(t.k, K);
  assert_int_equal(t.q, Q);
  assert_non_null(t.classes);
  assert_non_null(t.train);
  assert_non_null(t.query);
  mpl_task_free(&t);
  assert_null(t.train);
  mpl_task_free(&t); /* idempotent */
  mpl_task_free(NULL);
}

/* Every CLEAN task: distinct eligible classes, K train and Q query images of the right class,
 * no image twice. Across draws: train is shuffled, the split is not biased by file order, and
 * every eligible class (and no other) is used. */
static void test_clean_invariants(void **state) {
  (void)state;
  mpl_dataset *ds = make_ds(counts_short, 6);
  mpl_task_cfg cfg = {M, K, Q, MPL_SAMPLE_CLEAN};
  mpl_task t;
  assert_int_equal(mpl_task_init(&t, &cfg, NULL), MPL_OK);
  gsl_rng *r = seeded(1);
  int used[6] = {0}, unsorted = 0, first_in_query = 0, first_in_train = 0;
  size_t first0 = ds->class_idx[0], all[M * (K + Q)];
  for (int d = 0; d < DRAWS; d++) {
    draw(ds, &cfg, r, &t);
    for (int i = 0; i < M; i++) {
      int c = t.classes[i];
      assert_true(size_of(ds, c) >= K + Q);
      used[c]++;
      for (int j = 0; j < i; j++) assert_int_not_equal(t.classes[j], c);
      for (int j = 0; j < Q; j++) assert_int_equal(ds->labels[t.query[i * Q + j]], c);
      int n_train = 0;
      for (int j = 0; j < M * K; j++) n_train += ds->labels[t.train[j]] == c;
      assert_int_equal(n_train, K);
    }
    memcpy(all, t.train, sizeof t.train[0] * M * K);
    memcpy(all + M * K, t.query, sizeof t.query[0] * M * Q);
    qsort(all, M * (K + Q), sizeof all[0], cmp_size);
    for (int j = 1; j < M * (K + Q); j++) assert_true(all[j] != all[j - 1]);
    unsorted |= !is_sorted(t.train, M * K);
    for (int j = 0; j < M * Q; j++) first_in_query |= t.query[j] == first0;
    for (int j = 0; j < M * K; j++) first_in_train |= t.train[j] == first0;
  }
  assert_true(unsorted);
  assert_true(first_in_query && first_in_train);
  assert_int_equal(used[2], 0);
  for (int c = 0; c < 6; c++)
    if (c != 2) assert_true(used[c] > 0);
  gsl_rng_free(r);
  mpl_task_free(&t);
  mpl_dataset_free(ds);
}

/* Two generators: same seed gives identical task sequences, different seeds different ones. */
static void check_determinism(mpl_sampling mode) {
  mpl_dataset *ds = make_ds(counts_full, 6);
  mpl_task_cfg cfg = {M, K, Q, mode};
  mpl_task a, b, c;
  assert_int_equal(mpl_task_init(&a, &cfg, NULL), MPL_OK);
  assert_int_equal(mpl_task_init(&b, &cfg, NULL), MPL_OK);
  assert_int_equal(mpl_task_init(&c, &cfg, NULL), MPL_OK);
  gsl_rng *ra = seeded(42), *rb = seeded(42), *rc = seeded(43);
  int differ = 0;
  for (int d = 0; d < 5; d++) {
    draw(ds, &cfg, ra, &a), draw(ds, &cfg, rb, &b), draw(ds, &cfg, rc, &c);
    assert_memory_equal(a.classes, b.classes, M * sizeof *a.classes);
    assert_memory_equal(a.train, b.train, M * K * sizeof *a.train);
    assert_memory_equal(a.query, b.query, M * Q * sizeof *a.query);
    differ |= memcmp(a.train, c.train, M * K * sizeof *a.train) != 0;
  }
  assert_true(differ);
  gsl_rng_free(ra), gsl_rng_free(rb), gsl_rng_free(rc);
  mpl_task_free(&a), mpl_task_free(&b), mpl_task_free(&c);
  mpl_dataset_free(ds);
}

static void test_clean_determinism(void **state) { (void)state; check_determinism(MPL_SAMPLE_CLEAN); }
static void test_paper_determinism(void **state) { (void)state; check_determinism(MPL_SAMPLE_PAPER); }

/* PAPER: each drawn class contributes exactly its first K images as train and next Q as query;
 * classes repeat across a task now and then (drawn with replacement). */
static void test_paper_invariants(void **state) {
  (void)state;
  mpl_dataset *ds = make_ds(counts_full, 6);
  mpl_task_cfg cfg = {M, K, Q, MPL_SAMPLE_PAPER};
  mpl_task t;
  assert_int_equal(mpl_task_init(&t, &cfg, NULL), MPL_OK);
  gsl_rng *r = seeded(7);
  int repeated = 0, unsorted = 0, used[6] = {0};
  size_t want[M * K], got[M * K];
  for (int d = 0; d < DRAWS; d++) {
    draw(ds, &cfg, r, &t);
    for (int i = 0; i < M; i++) {
      int c = t.classes[i];
      const size_t *idx = ds->class_idx + ds->class_off[c];
      assert_in_range(c, 0, 5);
      used[c]++;
      for (int j = 0; j < i; j++) repeated |= t.classes[j] == c;
      for (int j = 0; j < Q; j++) assert_int_equal(t.query[i * Q + j], idx[K + j]);
      memcpy(want + i * K, idx, K * sizeof *idx);
    }
    memcpy(got, t.train, sizeof got);
    unsorted |= !is_sorted(got, M * K);
    qsort(want, M * K, sizeof *want, cmp_size);
    qsort(got, M * K, sizeof *got, cmp_size);
    assert_memory_equal(got, want, sizeof got);
  }
  assert_true(repeated);
  assert_true(unsorted);
  for (int c = 0; c < 6; c++) assert_true(used[c] > 0);
  gsl_rng_free(r);
  mpl_task_free(&t);
  mpl_dataset_free(ds);
}

static void test_check_too_few_classes(void **state) {
  (void)state;
  mpl_dataset *ds = make_ds(counts_full, 6);
  mpl_task_cfg cfg = {7, K, Q, MPL_SAMPLE_CLEAN};
  mpl_err err = {0};
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "synthetic: a task needs M = 7 classes but the dataset has 6");
  cfg.mode = MPL_SAMPLE_PAPER;
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "M = 7");
  mpl_dataset_free(ds);
}

static void test_check_paper_short_class(void **state) {
  (void)state;
  mpl_dataset *ds = make_ds(counts_short, 6);
  mpl_task_cfg cfg = {M, K, Q, MPL_SAMPLE_PAPER};
  mpl_task t;
  mpl_err err = {0};
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "class 2 has 5 images");
  mpl_assert_contains(err.msg, "K+Q = 8");
  assert_int_equal(mpl_task_init(&t, &cfg, &err), MPL_OK);
  gsl_rng *r = seeded(1);
  assert_int_equal(mpl_task_sample(ds, &cfg, r, &t, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "class 2");
  cfg.mode = MPL_SAMPLE_CLEAN; /* the same dataset serves CLEAN: class 2 is just ineligible */
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_OK);
  gsl_rng_free(r);
  mpl_task_free(&t);
  mpl_dataset_free(ds);
}

static void test_check_clean_too_few_eligible(void **state) {
  (void)state;
  mpl_dataset *ds = make_ds(counts_short, 6);
  mpl_task_cfg cfg = {M, 10, 5, MPL_SAMPLE_CLEAN};
  mpl_err err = {0};
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "only 1 classes have K+Q = 15 images or more");
  mpl_assert_contains(err.msg, "M = 3");
  mpl_assert_contains(err.msg, "class 0 has 10");
  /* the bound itself: a class of exactly K+Q images is eligible, one of K+Q-1 is not */
  cfg = (mpl_task_cfg){3, 6, 4, MPL_SAMPLE_CLEAN}; /* 10: classes 0 (10), 1 (12), 4 (20) */
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_OK);
  cfg.k = 7;                                         /* 11: class 0 (10) drops out */
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "only 2 classes have K+Q = 11 images or more");
  mpl_dataset_free(ds);
}

static void test_bad_cfg(void **state) {
  (void)state;
  mpl_dataset *ds = make_ds(counts_full, 6);
  mpl_task_cfg cfg = {M, 0, Q, MPL_SAMPLE_CLEAN};
  mpl_task t;
  mpl_err err = {0};
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "K = 0");
  assert_int_equal(mpl_task_init(&t, &cfg, &err), MPL_EINVAL);
  assert_null(t.train);
  cfg.k = K, cfg.mode = (mpl_sampling)7;
  assert_int_equal(mpl_task_check(ds, &cfg, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "unknown sampling mode 7");
  /* A task allocated for one shape cannot be filled for another. */
  cfg.mode = MPL_SAMPLE_CLEAN;
  assert_int_equal(mpl_task_init(&t, &cfg, &err), MPL_OK);
  cfg.m = M + 1;
  gsl_rng *r = seeded(1);
  assert_int_equal(mpl_task_sample(ds, &cfg, r, &t, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "allocated for M = 3");
  gsl_rng_free(r);
  mpl_task_free(&t);
  mpl_dataset_free(ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_sizes),
      cmocka_unit_test(test_clean_invariants),
      cmocka_unit_test(test_clean_determinism),
      cmocka_unit_test(test_paper_determinism),
      cmocka_unit_test(test_paper_invariants),
      cmocka_unit_test(test_check_too_few_classes),
      cmocka_unit_test(test_check_paper_short_class),
      cmocka_unit_test(test_check_clean_too_few_eligible),
      cmocka_unit_test(test_bad_cfg),
  };
  return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
