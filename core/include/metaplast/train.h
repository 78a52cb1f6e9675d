/* metaplast: long online training of a network with a FIXED rule (issue 26, PAPER.md Fig. 1).
 *
 * One network learns online, batch 1, in one or more passes over a whole training set, with a
 * frozen rule: a discovered one (a results directory or rule.json, loaded as `eval` loads it), a
 * term selection with given θ, or the baselines FA (F0 with fixed random feedback) and BP (F0
 * with symmetric feedback) at a given rate. Every `every` steps the network is tested on a fixed
 * test subset (the first test_size images of the test set, in file order): accuracy, loss, the
 * alignment angles α_ℓ and the orthonormality errors per layer, as the episode engine computes
 * them for its query set. The run is a chain of episodes of `every` steps, each starting from the
 * previous one's adapted weights, with the test subset as the query set, primal only (no tape,
 * no meta-gradient).
 *
 * Streams: the weights W and feedback B are drawn (mpl_episode_init_weights, MT19937) from
 * mpl_eval_task_seed(seed, -1); pass p's order is a shuffle of the training images by an MT19937
 * seeded with mpl_eval_task_seed(seed, p). So FA, BP and every rule with the same seed and
 * network start from the same W and see the images in the same order, and the same seed gives
 * the same numbers bit for bit, also after a resume.
 *
 * Output (cfg.out): train.csv (one row per test), config.json (the settings; read back by
 * resume), train.json (the summary, with the whole test set's accuracy at the end), checkpoint
 * (step and the weights as exact hex floats; removed when the run completes).
 * See LICENSE for copyright. */
#ifndef METAPLAST_TRAIN_H
#define METAPLAST_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include "metaplast/net.h"
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpl_train_cfg {
  /* The rule: exactly one of rule, terms (with theta) or baseline. */
  const char *rule;         /* a results directory or rule.json (its θ, its feedback) */
  int final;                /* with rule: the search's last iterate instead of the reported rule */
  const char *terms;        /* a --terms specification, e.g. "paper:F0,F2,F9" */
  const char *theta;        /* with terms: "F0=0.01,F2=-0.002,F9=0.005" (every selected term) */
  const char *baseline;     /* "fa" or "bp": F0 alone at `rate` */
  double rate;              /* the baseline's θ_F0 */
  int feedback;             /* -1 (default): fixed for terms, a rule's own; else an mpl_feedback */
  /* The network: input and output from the data. */
  int n_hidden;             /* hidden layer sizes (default 170,130,100,70) */
  int hidden[MPL_MAX_LAYERS - 1];
  double beta;              /* softplus sharpness (10) */
  /* Data: a --data name, or an image/label pair; the test set likewise, or the last `holdout`
   * images of the training data (kept out of training). */
  const char *data, *images, *labels;           /* default "fashion-mnist" */
  const char *test, *test_images, *test_labels; /* default "fashion-mnist-test" when data is fashion-mnist */
  long holdout;
  /* The schedule. */
  int passes;               /* passes over the training set (1) */
  long steps;               /* > 0: stop after this many steps (at most passes x images) */
  int every;                /* test every N steps (1000) */
  int test_size;            /* images of the test subset (1000; 0 = the whole test set) */
  int checkpoint_every;     /* checkpoint every N tests (10; 0 = only when stopped) */
  unsigned long seed;       /* weights, feedback and the order of the images (1) */
  const char *out;          /* results directory (required) */
  int resume;               /* continue out from its checkpoint with out/config.json's settings */
  FILE *progress;           /* a progress line with ETA, or NULL */
  volatile sig_atomic_t *stop; /* polled after each test: non-zero = checkpoint and return */
} mpl_train_cfg;

typedef struct mpl_train_result {
  long steps;               /* steps taken */
  int tests;                /* rows of train.csv */
  double accuracy, loss;    /* the last test of the subset */
  double final_accuracy, final_loss; /* the whole test set after the last step */
  int diverged;             /* the weights became non-finite (training stopped there) */
  int interrupted;          /* *cfg.stop ended the run (checkpointed; resume continues) */
  double seconds;           /* wall time of this call's steps and tests (not loading, not the final whole test) */
} mpl_train_result;

MPL_API void mpl_train_defaults(mpl_train_cfg *cfg);

/* Read back the settings of out/config.json into cfg (for resume; strings point into *mem,
 * free() it after the run). Errors name the file and the field. */
MPL_API int mpl_train_config_load(const char *dir, mpl_train_cfg *cfg, char **mem, mpl_err *err);

/* Train. Bad settings or files are MPL_EINVAL/MPL_EFORMAT/MPL_EIO naming the flag, file or field;
 * a diverged run is MPL_OK with res->diverged set. Never aborts or exits. */
MPL_API int mpl_train_run(const mpl_train_cfg *cfg, mpl_train_result *res, mpl_err *err);

#ifdef __cplusplus
}
#endif
#endif
