/* metaplast: the network, one online learning episode and its exact meta-gradient.
 * See LICENSE for copyright. */
#ifndef METAPLAST_NET_H
#define METAPLAST_NET_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "metaplast/expr.h"
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPL_MAX_LAYERS 16

typedef enum mpl_feedback {
  MPL_FB_FIXED = 0,     /* feedback alignment: random B, fixed through the episode */
  MPL_FB_SYMMETRIC = 1, /* backprop: B = W at each step */
  MPL_FB_DIRECT = 2     /* direct feedback alignment: e_l = (D_l e_L) * g(y_l), random D_l, fixed */
} mpl_feedback;

/* The feedback mode's name in config.txt and rule.json: "fixed", "symmetric" or "direct". */
MPL_API const char *mpl_feedback_name(mpl_feedback fb);
/* Parses a mode's name or its short form (fixed|fa, symmetric|bp, direct|dfa) into *fb;
 * MPL_EINVAL for anything else (*fb unchanged). */
MPL_API int mpl_feedback_parse(const char *s, mpl_feedback *fb);
/* The allowed names, for messages: "fixed (fa), symmetric (bp) or direct (dfa)". */
#define MPL_FEEDBACK_NAMES "fixed (fa), symmetric (bp) or direct (dfa)"

typedef struct mpl_net_cfg {
  int n_layers;                      /* L, the number of weight layers */
  int sizes[MPL_MAX_LAYERS + 1];     /* n_0 (input) .. n_L (output = the dataset's class count) */
  double beta;                       /* softplus sharpness (default 10) */
  mpl_feedback feedback;
  /* Symmetric feedback only: 0 (default) differentiates through W's role as the feedback
   * matrix too (the exact gradient); 1 treats the feedback copy as a constant, as the
   * reference code does (PAPER.md §2). */
  int bp_detach;
  /* Steps per checkpoint segment of the reverse pass (0 = ceil(sqrt(steps))). */
  int segment;
  /* 0 (default): for rules without native terms, weights and their adjoints are kept lazily
   * (a checkpoint plus pending rank-1 updates and a scalar), every step's record is kept and
   * nothing is recomputed. 1: dense weights, updated in place every step, recomputed from
   * checkpoints in the reverse pass (the reference path; slower). Both compute the same
   * episode up to rounding. */
  int dense;
} mpl_net_cfg;

/* Statistics of one episode, computed on the query batch after adaptation. */
typedef struct mpl_episode_stats {
  double loss;                         /* mean query cross-entropy (no L1 term) */
  double accuracy;                     /* fraction of query images classified right */
  double angle[MPL_MAX_LAYERS + 1];    /* alpha_l, l = 0..L, degrees: batch-mean e with B vs with W^T */
  double ortho[MPL_MAX_LAYERS + 1];    /* E_l, l = 1..L: sum over query rows of |z_l - W W^T y_l|^2 */
  int finite;                          /* 0 if a NaN/Inf appeared anywhere in the episode */
} mpl_episode_stats;

typedef struct mpl_episode mpl_episode;

/* A workspace for episodes of network cfg under the rule made of terms which[0..n-1] of ts
 * (all if which is NULL). The term set must outlive the workspace. Owned; free with
 * mpl_episode_free. Fails with a message naming the term for terms the compiler cannot lower. */
MPL_API int mpl_episode_new(const mpl_net_cfg *cfg, const mpl_termset *ts, const int *which, int n,
                            mpl_episode **out, mpl_err *err);
MPL_API void mpl_episode_free(mpl_episode *ep);

/* Number of terms (the length of theta). */
MPL_API int mpl_episode_nterms(const mpl_episode *ep);

/* Draw W and B Xavier-uniform from rng: W_1..W_L, then B_1..B_L (B is drawn for symmetric
 * feedback too, so both feedback modes see the same W for the same seed). Under direct feedback,
 * also D_0..D_{L-2}, Xavier-uniform for their shape (a = sqrt(6 / (n_l + n_L))), from a stream
 * of their own seeded by the number rng would give next (read on a copy of its state): rng is
 * left as under FA and BP, so all three modes see the same W, B and later draws for a seed. */
MPL_API void mpl_episode_init_weights(mpl_episode *ep, gsl_rng *rng);

/* Layer l's weights W_l (n_l x n_{l-1}, row-major) and feedback B_l (same shape), l = 1..L.
 * Borrowed; valid until the workspace is freed. Writable, for tests and custom initialisation. */
MPL_API double *mpl_episode_weights(mpl_episode *ep, int l);
MPL_API double *mpl_episode_feedback(mpl_episode *ep, int l);
/* Direct feedback only: the matrix D_l that carries e_L to layer l (l = 0..L-1), stored as
 * B_{l+1} is, n_L x n_l row-major (the transpose of the paper's n_l x n_L D_l), so that
 * e_l = (D_l^T e_L) * g(y_l) in row form. D_{L-1} is B_L itself: the layer below the output gets
 * the same signal as under FA. l = 0 is the synthetic input error's. NULL under other modes.
 * Borrowed and writable, like the weights. */
MPL_API double *mpl_episode_direct(mpl_episode *ep, int l);

/* Run one episode from the current weights: n_train online steps (batch 1) on train_x
 * (n_train x n_0, row-major, in online order) with labels train_y, then the query loss on
 * query_x/query_y. If grad is not NULL, also the exact dL/dtheta (L = mean query
 * cross-entropy) by reverse mode through the whole unroll. The weights are restored to
 * their initial values afterwards, so the same episode can be run again. */
MPL_API int mpl_episode_run(mpl_episode *ep, const double *theta, const double *train_x,
                            const int *train_y, int n_train, const double *query_x,
                            const int *query_y, int n_query, mpl_episode_stats *stats,
                            double *grad, mpl_err *err);

/* The weights after the last mpl_episode_run's inner loop (layer l), borrowed. */
MPL_API const double *mpl_episode_adapted(const mpl_episode *ep, int l);

#ifdef __cplusplus
}
#endif
#endif
