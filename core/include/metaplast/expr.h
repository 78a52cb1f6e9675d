/* metaplast: the term IR. A candidate plasticity term is an expression over one layer's local
 * signals that evaluates to an n_post x n_pre matrix (the shape of W). See LICENSE for copyright.
 *
 * Worked example (the paper's Oja term, F9 = y_l y_{l-1}^T - (y_l y_l^T) W):
 *
 *   mpl_termset *ts = mpl_termset_new();
 *   mpl_expr *post = mpl_sig(ts, MPL_SIG_POST), *pre = mpl_sig(ts, MPL_SIG_PRE);
 *   mpl_expr *oja = mpl_sub(ts, mpl_outer(ts, post, pre),
 *                           mpl_matmul(ts, mpl_outer(ts, post, post), mpl_sig(ts, MPL_SIG_W)));
 *   if (mpl_termset_add(ts, "F9", "Oja's rule", oja, &err) < 0) ... err.msg says why ...
 *
 * Nodes belong to their term set (an arena, as in ggml): never free a node, free the set.
 * Builders take and return borrowed pointers. A builder given a NULL argument returns NULL;
 * a builder whose operands have incompatible shapes records the first such error in the set
 * and returns NULL, so a whole expression can be written without checks and the error is
 * reported once, by mpl_termset_add. Identical subexpressions are the same node (hash-consed),
 * so common subexpressions are shared across the terms of a set.
 *
 * Shapes are symbolic: each dimension is 1, n_pre or n_post. Vectors are columns. */
#ifndef METAPLAST_EXPR_H
#define METAPLAST_EXPR_H

#include <stddef.h>

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mpl_dim { MPL_DIM_ONE = 0, MPL_DIM_PRE = 1, MPL_DIM_POST = 2 } mpl_dim;

/* The local signals of layer l (W = W_{l-1,l}, shape n_post x n_pre). */
typedef enum mpl_signal {
  MPL_SIG_PRE = 0,   /* y_{l-1}: presynaptic activity, n_pre x 1 (the input image at layer 1) */
  MPL_SIG_POST = 1,  /* y_l: postsynaptic activity, n_post x 1 (softmax output at the last layer) */
  MPL_SIG_EPRE = 2,  /* e_{l-1}: presynaptic modulatory signal, n_pre x 1 (e_0 at layer 1) */
  MPL_SIG_EPOST = 3, /* e_l: postsynaptic modulatory signal, n_post x 1 */
  MPL_SIG_W = 4,     /* W_{l-1,l}: the weights being updated, n_post x n_pre */
  MPL_SIG_COUNT
} mpl_signal;

/* Elementwise functions. Append only (plugins compiled against an older list keep their numbers).
 * RELU, ABS and SIGN are not differentiable at 0; their derivative there is the subgradient 0
 * (relu'(0) = abs'(0) = 0), and sign' is 0 everywhere (docs/rules.md). */
typedef enum mpl_func {
  MPL_FN_EXP, MPL_FN_LOG, MPL_FN_TANH, MPL_FN_SIGMOID, MPL_FN_SQUARE, MPL_FN_SQRT, MPL_FN_RECIP,
  MPL_FN_RELU, MPL_FN_ABS, MPL_FN_SIGN,
  MPL_FN_COUNT
} mpl_func;

typedef enum mpl_format {
  MPL_FMT_TEXT = 0,  /* the paper's notation in Unicode: -e_ℓ y_{ℓ-1}ᵀ */
  MPL_FMT_LATEX = 1, /* -e_{\ell} y_{\ell-1}^\top */
  MPL_FMT_CODE = 2   /* a parseable function form: neg(matmul(e_post, t(pre))) */
} mpl_format;

typedef struct mpl_termset mpl_termset;
typedef struct mpl_expr mpl_expr;

/* A new, empty term set (owned; free with mpl_termset_free). NULL when out of memory. */
MPL_API mpl_termset *mpl_termset_new(void);
/* Free a term set and every node built in it. NULL is a no-op. */
MPL_API void mpl_termset_free(mpl_termset *ts);

/* ---- Leaves ---- */
MPL_API mpl_expr *mpl_sig(mpl_termset *ts, mpl_signal s);
MPL_API mpl_expr *mpl_ones(mpl_termset *ts, mpl_dim d);  /* all-ones vector 1_d (d = PRE or POST) */
MPL_API mpl_expr *mpl_num(mpl_termset *ts, double c);    /* a 1x1 constant */

/* ---- Operations (shape rules in brackets) ---- */
MPL_API mpl_expr *mpl_add(mpl_termset *ts, mpl_expr *a, mpl_expr *b);    /* equal shapes, or a 1x1 side broadcast */
MPL_API mpl_expr *mpl_sub(mpl_termset *ts, mpl_expr *a, mpl_expr *b);    /* as add */
MPL_API mpl_expr *mpl_mul(mpl_termset *ts, mpl_expr *a, mpl_expr *b);    /* elementwise (Hadamard), or scaling by a 1x1 */
MPL_API mpl_expr *mpl_neg(mpl_termset *ts, mpl_expr *a);
MPL_API mpl_expr *mpl_matmul(mpl_termset *ts, mpl_expr *a, mpl_expr *b); /* (r x k)(k x c) */
MPL_API mpl_expr *mpl_t(mpl_termset *ts, mpl_expr *a);                   /* transpose */
MPL_API mpl_expr *mpl_sum(mpl_termset *ts, mpl_expr *a);                 /* sum of all entries, 1x1 */
MPL_API mpl_expr *mpl_mean(mpl_termset *ts, mpl_expr *a);                /* mean of a vector's entries, 1x1 */
MPL_API mpl_expr *mpl_norm(mpl_termset *ts, mpl_expr *a);                /* Euclidean norm of a vector, 1x1 */
MPL_API mpl_expr *mpl_fn(mpl_termset *ts, mpl_func f, mpl_expr *a);      /* elementwise function */
/* Conveniences: outer(u, v) = u v^T; dot(a, b) = a^T b for two column vectors of one dimension. */
MPL_API mpl_expr *mpl_outer(mpl_termset *ts, mpl_expr *u, mpl_expr *v);
MPL_API mpl_expr *mpl_dot(mpl_termset *ts, mpl_expr *a, mpl_expr *b);

/* The first shape error recorded by a builder, or NULL. */
MPL_API const char *mpl_termset_error(const mpl_termset *ts);
/* Clear the recorded builder error (used by hosts that report it themselves). */
MPL_API void mpl_termset_clear_error(mpl_termset *ts);

/* ---- Terms ---- */
/* Register e as term `name` (copied) with a one-line description (copied, may be NULL).
 * Fails with MPL_ESHAPE if e is NULL (the message is the builder error) or not n_post x n_pre,
 * MPL_EINVAL for an empty or duplicate name. */
MPL_API int mpl_termset_add(mpl_termset *ts, const char *name, const char *description,
                            mpl_expr *e, mpl_err *err);
MPL_API int mpl_termset_count(const mpl_termset *ts);
MPL_API const char *mpl_termset_name(const mpl_termset *ts, int i);
MPL_API const char *mpl_termset_description(const mpl_termset *ts, int i);
MPL_API mpl_expr *mpl_termset_expr(const mpl_termset *ts, int i);
/* Where term i came from: a plugin's file or name, a rule file, or "" for terms added through
 * this API. */
MPL_API const char *mpl_termset_source(const mpl_termset *ts, int i);
/* 1 if term i is a native term (C callbacks, no expression: mpl_termset_expr returns NULL). */
MPL_API int mpl_termset_is_native(const mpl_termset *ts, int i);
/* Print term i's formula (expression or a native term's own text). Like mpl_expr_print. */
MPL_API size_t mpl_termset_print(const mpl_termset *ts, int i, mpl_format fmt, char *buf, size_t n);
/* Declare the sign that term `name`'s coefficient is meant to have: +1 (kept >= 0), -1 (kept
 * <= 0) or 0 (free, the default). A search projects the coefficient onto that side after each
 * meta-step unless `--sign` overrides it (`--sign NAME=free`, or `--sign none` for every term).
 * For terms whose sign is part of their meaning and whose opposite sign makes the inner loop
 * unstable: Oja's rule with a negative coefficient is unbounded anti-Hebbian growth.
 * MPL_ENOTFOUND if no term has that name, MPL_EINVAL for another value. */
MPL_API int mpl_termset_set_sign(mpl_termset *ts, const char *name, int sign, mpl_err *err);
/* Term i's declared sign (+1, -1 or 0). */
MPL_API int mpl_termset_sign(const mpl_termset *ts, int i);
/* Index of the first term called name, or -1. */
MPL_API int mpl_termset_find(const mpl_termset *ts, const char *name);

/* What terms compile to, and so what they cost. The engine lowers the selected terms into one
 * plan per layer: shared vector values (signals, elementwise functions, products with W), an
 * update omega W plus `rank` rank-1 matrices (pieces that share a vector are summed into one,
 * the shared vectors a minimum vertex cover), and dense native terms. An episode's extra cost
 * over FA grows with rank - rank_sums and with wproducts (each a few passes over W per step,
 * forward and reverse), not with the number of terms: ten terms of rules/quadratic.lua cost
 * 587-847 M instructions per episode depending on which (results/bench/extra.md). */
typedef struct mpl_plan_info {
  int terms;     /* terms compiled */
  int rank;      /* rank-1 matrices in each layer's update at each step */
  int rank_sums; /* of these, those whose shared vector is a ones vector: kept as a row or column
                 * sum, no pass over W */
  int wproducts; /* products W x or W^T x per layer and step besides W pre (the forward pass's own) */
  int vectors;   /* distinct vector values the plan computes or reads, signals included */
  int wmat;      /* 1 if some term has a part proportional to W itself (a scalar times W) */
  int natives;   /* native terms: dense n_post x n_pre updates, which make every layer dense */
  int elementwise; /* pieces g(W) ⊙ (u v^T), an elementwise function of W times a rank-1 matrix: all
                    * applied in one pass over W per step (forward and reverse), with dense weights */
} mpl_plan_info;

/* Compile terms which[0..n-1] of ts (all of them if which is NULL) and describe the plan. Fails
 * as a search would with those terms (a term the engine cannot lower names itself), and with
 * MPL_EINVAL for an index that is not a term of ts. */
MPL_API int mpl_termset_plan(const mpl_termset *ts, const int *which, int n, mpl_plan_info *info, mpl_err *err);

/* ---- Inspection and printing ---- */
MPL_API mpl_dim mpl_expr_rows(const mpl_expr *e);
MPL_API mpl_dim mpl_expr_cols(const mpl_expr *e);
/* "1", "n_pre" or "n_post". */
MPL_API const char *mpl_dim_name(mpl_dim d);

/* Print e into buf (size n, always NUL-terminated when n > 0). Returns the length the full
 * text needs (like snprintf), so a caller can retry with a larger buffer. */
MPL_API size_t mpl_expr_print(const mpl_expr *e, mpl_format fmt, char *buf, size_t n);

/* Parse the MPL_FMT_CODE form (as mpl_expr_print writes it, e.g. "neg(matmul(e_post, t(pre)))";
 * outer(u, v) and dot(a, b) are accepted too) into ts. Returns the node (borrowed, like a
 * builder's; hash-consing makes a printed expression parse back to the identical node) or NULL
 * with MPL_EFORMAT and "column C: ..." in err (unknown names, missing parentheses, shape errors). */
MPL_API mpl_expr *mpl_expr_parse(mpl_termset *ts, const char *text, mpl_err *err);

#ifdef __cplusplus
}
#endif
#endif
