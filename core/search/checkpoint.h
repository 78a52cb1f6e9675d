/* metaplast: private interface of checkpoint.c: the checkpoint file that lets a search resume
 * exactly (config.txt: config.h). Never installed.
 * See LICENSE for copyright. */
#ifndef METAPLAST_CHECKPOINT_H
#define METAPLAST_CHECKPOINT_H

#include <stddef.h>

#include "util.h"
#include "metaplast/results.h"

#define MPL__CKPT_FILE MPL_RESULTS_CHECKPOINT
/* A finished run's final state, in the checkpoint format: what --resume DIR --episodes N extends. */
#define MPL__FINAL_FILE MPL_RESULTS_FINAL
#define MPL__CKPT_VERSION 1

/* Everything a search needs to continue after `episode` completed episodes, bit for bit. The
 * random draws are a function of (seed, episode), so no generator state is stored. */
typedef struct mpl__ckpt {
  int episode;            /* episodes done (and logged) */
  int streak, failures;   /* consecutive and total failed episodes */
  int n;                  /* coefficients */
  char *terms;            /* their names, space-separated (checked against the run) */
  double *theta, *m, *v;  /* theta and Adam's moments */
  long t;                 /* Adam's step count */
  int good_episode;       /* the rollback point: the last episode that went well (0 = the start) */
  double *good_theta, *good_m, *good_v;
  long good_t;
  int n_extra;            /* the discovery method's state (search.c), an optional line; 0: none */
  double *extra;
} mpl__ckpt;

/* Allocate the arrays for n coefficients (terms is copied). */
MPL_INTERNAL int mpl__ckpt_alloc(mpl__ckpt *c, int n, const char *terms, mpl_err *err);
MPL_INTERNAL void mpl__ckpt_free(mpl__ckpt *c);
/* The checkpoint as text (malloc'ed, NUL-terminated), checksummed; NULL if memory is short. */
MPL_INTERNAL char *mpl__ckpt_format(const mpl__ckpt *c);
/* Parse a checkpoint's text (len bytes); `path` names it in messages. Fills c (allocated here). */
MPL_INTERNAL int mpl__ckpt_parse(const char *text, size_t len, const char *path, mpl__ckpt *c, mpl_err *err);

#endif
