/* metaplast: the episode task sampler (M classes, K training and Q query images per class).
 * See LICENSE for copyright. */
#include "metaplast/data.h"

#include "dataio.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

static size_t class_size(const mpl_dataset *ds, int c) {
  return ds->class_off[c + 1] - ds->class_off[c];
}

static int check_cfg(const mpl_task_cfg *cfg, mpl_err *err) {
  if (cfg->mode != MPL_SAMPLE_CLEAN && cfg->mode != MPL_SAMPLE_PAPER)
    return mpl_errorf(err, MPL_EINVAL, "task: unknown sampling mode %d", (int)cfg->mode);
  if (cfg->m < 1 || cfg->k < 1 || cfg->q < 1)
    return mpl_errorf(err, MPL_EINVAL, "task: M = %d, K = %d, Q = %d must all be at least 1", cfg->m, cfg->k,
                      cfg->q);
  if (cfg->k > INT_MAX - cfg->q)
    return mpl_errorf(err, MPL_EINVAL, "task: K + Q = %d + %d is too large", cfg->k, cfg->q);
  return MPL_OK;
}

/* PAPER mode can draw any class, so every class must hold K+Q images. */
static int check_paper(const mpl_dataset *ds, size_t need, mpl_err *err) {
  for (int c = 0; c < ds->n_classes; c++)
    if (class_size(ds, c) < need)
      return mpl_errorf(err, MPL_EINVAL,
                        "%s: class %d has %zu images, but PAPER sampling can draw any class and needs "
                        "K+Q = %zu in each",
                        ds->name, c, class_size(ds, c), need);
  return MPL_OK;
}

/* CLEAN mode draws among the classes holding K+Q images; there must be at least M of them. */
static int check_clean(const mpl_dataset *ds, int m, size_t need, mpl_err *err) {
  int eligible = 0, first_short = -1;
  for (int c = 0; c < ds->n_classes; c++) {
    if (class_size(ds, c) >= need) eligible++;
    else if (first_short < 0) first_short = c;
  }
  if (eligible >= m) return MPL_OK;
  return mpl_errorf(err, MPL_EINVAL,
                    "%s: only %d classes have K+Q = %zu images or more, CLEAN sampling needs M = %d "
                    "(class %d has %zu)",
                    ds->name, eligible, need, m, first_short, class_size(ds, first_short));
}

int mpl_task_check(const mpl_dataset *ds, const mpl_task_cfg *cfg, mpl_err *err) {
  int rc = check_cfg(cfg, err);
  if (rc < 0) return rc;
  if (cfg->m > ds->n_classes)
    return mpl_errorf(err, MPL_EINVAL, "%s: a task needs M = %d classes but the dataset has %d", ds->name,
                      cfg->m, ds->n_classes);
  size_t need = (size_t)cfg->k + (size_t)cfg->q;
  return cfg->mode == MPL_SAMPLE_PAPER ? check_paper(ds, need, err) : check_clean(ds, cfg->m, need, err);
}

int mpl_task_init(mpl_task *t, const mpl_task_cfg *cfg, mpl_err *err) {
  memset(t, 0, sizeof *t);
  int rc = check_cfg(cfg, err);
  if (rc < 0) return rc;
  size_t m = (size_t)cfg->m;
  t->classes = malloc(m * sizeof *t->classes);
  t->train = malloc(m * (size_t)cfg->k * sizeof *t->train);
  t->query = malloc(m * (size_t)cfg->q * sizeof *t->query);
  if (!t->classes || !t->train || !t->query) {
    mpl_task_free(t);
    return mpl_errorf(err, MPL_ENOMEM, "task: out of memory for M = %d, K = %d, Q = %d", cfg->m, cfg->k,
                      cfg->q);
  }
  t->m = cfg->m, t->k = cfg->k, t->q = cfg->q;
  return MPL_OK;
}

void mpl_task_free(mpl_task *t) {
  if (!t) return;
  free(t->classes);
  free(t->train);
  free(t->query);
  memset(t, 0, sizeof *t);
}

/* CLEAN: M distinct eligible classes (gsl_ran_choose, so ascending), then per class K+Q distinct
 * images. gsl_ran_choose keeps file order, so the pick is shuffled before the split: otherwise
 * train would favour a class's earlier images and query its later ones. */
static int sample_clean(const mpl_dataset *ds, gsl_rng *rng, mpl_task *t, mpl_err *err) {
  size_t need = (size_t)t->k + (size_t)t->q, n_ok = 0;
  int *ok = malloc((size_t)ds->n_classes * sizeof *ok);
  size_t *pick = malloc(need * sizeof *pick);
  if (!ok || !pick) {
    free(ok), free(pick);
    return mpl_errorf(err, MPL_ENOMEM, "task: out of memory");
  }
  for (int c = 0; c < ds->n_classes; c++)
    if (class_size(ds, c) >= need) ok[n_ok++] = c;
  gsl_ran_choose(rng, t->classes, (size_t)t->m, ok, n_ok, sizeof *ok);
  for (int i = 0; i < t->m; i++) {
    int c = t->classes[i];
    gsl_ran_choose(rng, pick, need, ds->class_idx + ds->class_off[c], class_size(ds, c), sizeof *pick);
    gsl_ran_shuffle(rng, pick, need, sizeof *pick);
    memcpy(t->train + (size_t)i * t->k, pick, (size_t)t->k * sizeof *pick);
    memcpy(t->query + (size_t)i * t->q, pick + t->k, (size_t)t->q * sizeof *pick);
  }
  free(ok);
  free(pick);
  return MPL_OK;
}

/* PAPER: classes uniformly with replacement, each with its fixed first K train and next Q query. */
static void sample_paper(const mpl_dataset *ds, gsl_rng *rng, mpl_task *t) {
  for (int i = 0; i < t->m; i++) {
    int c = (int)gsl_rng_uniform_int(rng, (unsigned long)ds->n_classes);
    const size_t *idx = ds->class_idx + ds->class_off[c];
    t->classes[i] = c;
    memcpy(t->train + (size_t)i * t->k, idx, (size_t)t->k * sizeof *idx);
    memcpy(t->query + (size_t)i * t->q, idx + t->k, (size_t)t->q * sizeof *idx);
  }
}

int mpl_task_sample(const mpl_dataset *ds, const mpl_task_cfg *cfg, gsl_rng *rng, mpl_task *t,
                    mpl_err *err) {
  int rc = mpl_task_check(ds, cfg, err);
  if (rc < 0) return rc;
  if (!t->classes || t->m != cfg->m || t->k != cfg->k || t->q != cfg->q)
    return mpl_errorf(err, MPL_EINVAL,
                      "task: allocated for M = %d, K = %d, Q = %d but sampled with %d, %d, %d", t->m, t->k,
                      t->q, cfg->m, cfg->k, cfg->q);
  if (cfg->mode == MPL_SAMPLE_PAPER)
    sample_paper(ds, rng, t);
  else if ((rc = sample_clean(ds, rng, t, err)) < 0)
    return rc;
  /* The online inner loop sees the M*K training images in one uniformly random order. */
  gsl_ran_shuffle(rng, t->train, (size_t)t->m * t->k, sizeof *t->train);
  return MPL_OK;
}

void mpl_task_gather(const mpl_dataset *ds, const mpl_task *t, double *train_x, int *train_y, double *query_x,
                     int *query_y) {
  int nt = t->m * t->k, nq = t->m * t->q;
  for (int i = 0; i < nt; i++) {
    mpl_dataset_image(ds, t->train[i], train_x + (size_t)i * ds->dim);
    train_y[i] = ds->labels[t->train[i]];
  }
  for (int i = 0; i < nq; i++) {
    mpl_dataset_image(ds, t->query[i], query_x + (size_t)i * ds->dim);
    query_y[i] = ds->labels[t->query[i]];
  }
}

int mpl__task_setup(const mpl_dataset *ds, const mpl_task_cfg *cfg, mpl_task *task, mpl__task_buf *b, mpl_err *err) {
  int rc;
  if ((rc = mpl_task_check(ds, cfg, err)) < 0 || (rc = mpl_task_init(task, cfg, err)) < 0) return rc;
  int nt = cfg->m * cfg->k, nq = cfg->m * cfg->q;
  b->tx = malloc((size_t)nt * ds->dim * sizeof *b->tx);
  b->qx = malloc((size_t)nq * ds->dim * sizeof *b->qx);
  b->ty = malloc((size_t)nt * sizeof *b->ty);
  b->qy = malloc((size_t)nq * sizeof *b->qy);
  return b->tx && b->qx && b->ty && b->qy ? MPL_OK : mpl_errorf(err, MPL_ENOMEM, "out of memory");
}

void mpl__task_buf_free(mpl__task_buf *b) {
  free(b->tx), free(b->qx), free(b->ty), free(b->qy);
  *b = (mpl__task_buf){0};
}
