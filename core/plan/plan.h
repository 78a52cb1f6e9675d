/* metaplast: a compiled rule: a term set lowered to a plan of vector operations plus rank-1 and
 * weight-proportional pieces, with its forward evaluation and reverse-mode derivatives.
 * Private to the engine. See LICENSE for copyright. */
#ifndef METAPLAST_RULE_H
#define METAPLAST_RULE_H

#include <stddef.h>

#include "ops.h"

/* The plan's values (mpl_pnode) and pieces (mpl_piece) come from lowering (ir/ops.h). */
typedef struct mpl_rule {
  int n_terms;
  mpl_pnode *nodes;
  int n_nodes;
  mpl_piece *pieces;
  int n_pieces;
  /* The OUTER pieces in groups that share a vector, each one rank-1 row of the update: a group
   * of side 0 is u (sum theta c s v)^T over pieces with that u, side 1 is (sum theta c s u) v^T
   * over pieces with that v. The shared vectors are a minimum vertex cover of the bipartite
   * graph of the pieces' (u, v) pairs, so n_groups is the least such rank (one side-0 group per
   * distinct u whenever that is already the least). Pieces are sorted by group. */
  int *group_vec;   /* group g's shared plan node (its u or its v) */
  int *group_side;  /* 0: the pieces share u; 1: they share v */
  int *group_first; /* group g's pieces: group_first[g] .. group_first[g+1]-1 (OUTER only) */
  int n_groups;
  int first_wmat;   /* WMAT pieces are pieces[first_wmat .. n_pieces-1] */
  int uses[MPL_SIG_COUNT]; /* which signals any term reads */
  int n_natives;            /* native terms (C callbacks), evaluated densely */
  int *native_term;         /* their indices among the rule's terms */
  const struct mpl_native_term **natives;
  const char **native_src;  /* their sources and names (the term set's strings), for fault reports */
  const char **native_name;
  /* Elementwise pieces c s g(W) ⊙ (u v^T), their g among the W-function nodes wnodes (nodes over
   * one weight w, operands first; wleaf: the node w itself). They touch every weight, so a rule
   * with them keeps dense weights and applies them all in one pass over W per step, forward
   * (mpl__rule_apply) and reverse (mpl__rule_vjp_acc). */
  mpl_piece *ew;
  int n_ew;
  mpl_pnode *wnodes;
  int n_wnodes, wleaf;
} mpl_rule;

/* One layer's view: sizes, signals and weights. The weights may be held lazily as
 * wscale (W + WA^T WB + 1 WS^T + WR 1^T): a dense base plus wk pending rank-1 matrices (rows of
 * WA, wk x n_post, and of WB, wk x n_pre), the pending rows whose u or v is a ones vector summed
 * into WS (n_pre) and WR (n_post) (NULL: none), times a scalar (0 is read as 1, so a
 * zero-initialised view is plain dense weights). Rules with native terms need dense weights. */
typedef struct mpl_layer_io {
  int n_pre, n_post;
  const double *sig[4];   /* pre, post, e_pre, e_post (NULL if the rule does not use it) */
  const double *W;        /* n_post x n_pre, row-major */
  int wk;                 /* pending rank-1 rows (0: W is the weights) */
  const double *WA, *WB;
  const double *WS, *WR;
  double *tmp;            /* wk doubles of scratch for products with lazy weights */
  double wscale;
  /* Optional (NULL: unused): the caller's W pre (n_post), the value of the plan's node W pre
   * (mpl__rule_eval copies it instead of a product), and where the adjoint of that node goes
   * (mpl__rule_vjp_acc adds it there instead of queuing ybar pre^T and adding W^T ybar to pre's
   * adjoint: the caller does both with its own adjoint of z = W pre). */
  const double *z;
  double *zbar;
  /* Optional (NULL: unused): max(n_pre, n_post) ones. With it and z, the values are compact
   * (mpl__rule_nvals_compact): signals, ones vectors and W pre are read from sig, ones and z,
   * not stored in val. Every call on one val must see the same layout. */
  const double *ones;
} mpl_layer_io;

/* y <- beta y + alpha op(M + A^T B + 1 S^T + R 1^T) x for an n_post x n_pre matrix held as a
 * dense base M plus k rank-1 rows (A: k x n_post, B: k x n_pre) and two rows with a ones vector
 * (S: n_pre, R: n_post, NULL if none); op transposes when trans != 0. tmp: k doubles. The
 * correction costs (k + 2) (n_pre + n_post) multiply-adds, not a pass over M. */
MPL_INTERNAL void mpl__lazy_gemv(int n_post, int n_pre, const double *M, int k, const double *A, const double *B,
                                 const double *S, const double *R, int trans, double alpha, const double *x,
                                 double beta, double *y, double *tmp);

/* 1 if the rule has no native terms and no elementwise pieces: its update is omega W + a sum of
 * rank-1 matrices, so the engine can keep weights and adjoints lazily. */
MPL_INTERNAL int mpl__rule_is_lazy(const mpl_rule *r);
/* 1 if the rule's adjoints take dense contributions (native terms): an mpl_rankk for it needs its
 * dense accumulator. (Elementwise pieces add theirs to the adjoint's base, mpl__rule_vjp_acc.) */
MPL_INTERNAL int mpl__rule_needs_dense(const mpl_rule *r);
/* 1 if the rule has weight-proportional pieces (omega can be nonzero). */
MPL_INTERNAL int mpl__rule_has_wmat(const mpl_rule *r);

/* The update at this layer as omega W + Ut^T Vm: rows g of Ut (n_post) and Vm (n_pre), and
 * *omega (rules without native terms). Returns the number of rows, r->n_groups. */
MPL_INTERNAL int mpl__rule_update_rows(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                                       const double *val, double *Ut, double *Vm, double *omega);

/* How mpl__rule_vjp_acc obtains each group's rows P_g = (G^T Ut_g)^T and Qt_g = (G Vm_g)^T. */
enum {
  MPL_ROW_NONE = 0,    /* not at all: the row only serves an adjoint nobody wants */
  MPL_ROW_PRODUCT = 1, /* a product with G (or the caller's block product) */
  MPL_ROW_SUM = 2      /* the group's vector is a ones vector: G^T 1 or G 1, the running sums of acc */
};

/* The kinds of group g's rows, kind_p[g] and kind_q[g], at a layer where the signals in dead
 * (bit s: sig_bar[s] is NULL) take no adjoint: a group's own row (P_g for a group sharing u,
 * Qt_g for one sharing v) always, the other only if the shared vector's adjoint is wanted;
 * sums != 0: own rows of groups whose shared vector is a ones vector are MPL_ROW_SUM. */
MPL_INTERNAL void mpl__rule_row_kinds(const mpl_rule *r, unsigned dead, int sums, char *kind_p, char *kind_q);

/* Whether any group's P row (*need_p) or Qt row (*need_q) is a product at such a layer. */
MPL_INTERNAL void mpl__rule_products_needed(const mpl_rule *r, unsigned dead, int *need_p, int *need_q);

/* Scratch that mpl__rule_vjp_acc needs when acc may hold up to kmax pending rows on entry. */
MPL_INTERNAL size_t mpl__rule_nscratch_lazy(const mpl_rule *r, int n_pre, int n_post, int kmax);

/* A minimum vertex cover of the bipartite graph with nl left and nr right vertices and the ne
 * edges (el[i], er[i]) (repeats allowed): in_l[a] and in_r[b] set to 1 for the vertices in it.
 * Found from a maximum matching (augmenting paths) by Koenig's theorem. Returns its size (that
 * of the maximum matching), or MPL_ENOMEM. */
MPL_INTERNAL int mpl__min_cover(int nl, int nr, int ne, const int *el, const int *er, char *in_l, char *in_r);

/* Compile the terms `which[0..n-1]` of ts (all terms if which == NULL) into a plan. */
MPL_INTERNAL int mpl__rule_compile(const mpl_termset *ts, const int *which, int n, mpl_rule **out,
                                   mpl_err *err);
MPL_INTERNAL void mpl__rule_free(mpl_rule *r);

/* Doubles needed for the plan's values (or their adjoints) at these layer sizes. */
MPL_INTERNAL size_t mpl__rule_nvals(const mpl_rule *r, int n_pre, int n_post);
/* The same for compact values (mpl_layer_io's ones and z given): without the signals, the ones
 * vectors and W pre. Adjoints (vbar) always take mpl__rule_nvals. */
MPL_INTERNAL size_t mpl__rule_nvals_compact(const mpl_rule *r, int n_pre, int n_post);
/* Doubles of scratch that apply/vjp need at these sizes. */
MPL_INTERNAL size_t mpl__rule_nscratch(const mpl_rule *r, int n_pre, int n_post);

/* Evaluate every plan node into val (mpl__rule_nvals doubles). */
MPL_INTERNAL void mpl__rule_eval(const mpl_rule *r, const mpl_layer_io *io, double *val);

/* W <- W + sum_r theta_r F_r, from the values of mpl__rule_eval (computed with this W, io->W's
 * values). */
MPL_INTERNAL void mpl__rule_apply(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                                  const double *val, double *W, double *scratch);
/* W <- io->W + sum_r theta_r F_r (io->W dense): out of place, a copy and mpl__rule_apply, or for a
 * rule with elementwise pieces one pass that reads io->W and writes W. */
MPL_INTERNAL void mpl__rule_apply_to(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                                     const double *val, double *W, double *scratch);

/* Reverse mode of mpl__rule_apply. On entry G holds dL/dW_new; on exit it holds the part of
 * dL/dW_old that flows through the update (identity, weight-proportional terms and W inside
 * terms). Adds dL/dtheta to theta_bar and dL/dsignal to sig_bar[0..3] (entries may be NULL
 * for signals the rule does not use). vbar: mpl__rule_nvals doubles of scratch. Returns
 * MPL_ENOMEM if its temporary queue cannot be allocated (the engine uses mpl__rule_vjp_acc). */
MPL_INTERNAL int mpl__rule_vjp(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                                const double *val, double *G, double *theta_bar,
                                double *const sig_bar[4], double *vbar, double *scratch);

/* A matrix held as eta (C + sum_k at_k^T b_k) (+ dense): a dense C kept by the caller, a scalar
 * and deferred rank-1 rows (at_k: n_post, b_k: n_pre), so that an adjoint G is read and
 * written once however many rank-1 contributions and scalings it receives. */
typedef struct mpl_rankk {
  int k, kmax, n_post, n_pre;
  double eta;    /* the scalar factor (1 after init and flush) */
  double *at;    /* kmax x n_post: the a vectors as rows */
  double *b;     /* kmax x n_pre */
  double *dense; /* n_post x n_pre dense contributions (native terms), or NULL if none can come */
  int has_dense;
  /* Optional, for the next mpl__rule_vjp_acc only: the products of the base C with the update's
   * rows of kind MPL_ROW_PRODUCT (mpl__rule_row_kinds, in group order), Ut C (rows of n_pre) and
   * Vm C^T (rows of n_post), computed by the caller for a block of steps at once (NULL where
   * there are none); both NULL: vjp_acc computes them. */
  const double *base_p, *base_q;
  /* Optional running sums (mpl__rankk_track_sums; NULL if not kept), without the factor eta:
   * cs = (C + queued rows)^T 1 (n_pre), rs = (C + queued rows) 1 (n_post), so the represented
   * matrix's column sums are eta cs and its row sums eta rs. */
  double *cs, *rs;
} mpl_rankk;

/* dense != 0: also keep a dense n_post x n_pre accumulator (rules with native terms). */
MPL_INTERNAL int mpl__rankk_init(mpl_rankk *acc, int kmax, int n_post, int n_pre, int dense);
MPL_INTERNAL void mpl__rankk_free(mpl_rankk *acc);
/* Keep the running sums cs, rs (dense must be 0); mpl__rankk_reset_sums starts them. */
MPL_INTERNAL int mpl__rankk_track_sums(mpl_rankk *acc);
/* Start the running sums from the base C (the queue must be empty). */
MPL_INTERNAL void mpl__rankk_reset_sums(mpl_rankk *acc, const double *C);
/* Add s a b^T to the represented matrix (the vectors are copied). */
MPL_INTERNAL void mpl__rankk_push(mpl_rankk *acc, double s, const double *a, const double *b);
/* Materialise: C <- eta (C + sum of the queued rows) + dense; empties the queue, eta = 1. */
MPL_INTERNAL void mpl__rankk_flush(mpl_rankk *acc, double *C);

/* Rank-1 contributions to dL/dW_old that one layer's rule can queue (W x and W^T x nodes). */
MPL_INTERNAL int mpl__rule_nrank1(const mpl_rule *r);
/* 1 if the plan has the node W pre (whose value and adjoint mpl_layer_io's z and zbar can take). */
MPL_INTERNAL int mpl__rule_has_wpre(const mpl_rule *r);
/* 1 if group g shares a ones vector: its rows are a row or column sum, which the lazy engine keeps
 * as running sums instead of passes over W. */
MPL_INTERNAL int mpl__rule_group_is_sum(const mpl_rule *r, int g);

/* The same as mpl__rule_vjp, but G is only read: dL/dW_new is acc's matrix over the base G
 * (eta (G + queued rows) on entry), and on return acc represents dL/dW_old: its scalar times
 * (1 + omega) and the rank-1 matrices this call adds queued. Except for a rule with elementwise
 * pieces (dense weights; acc's queue empty and eta 1 on entry): their part c of dL/dW_old is added
 * to G as c / eta, eta acc's new scalar, so that acc's flush makes it c. scratch:
 * mpl__rule_nscratch_lazy(r, n_pre, n_post, acc->k) doubles.
 * tau (weight-proportional rules with lazy weights or adjoints, else NULL): on entry
 * <dL/dW_new, W_new>; on return (1 + omega) <dL/dW_new, W_old> + <the rank-1 matrices this
 * call adds, W_old>: the caller adds its own contributions to get <dL/dW_old, W_old>. */
MPL_INTERNAL void mpl__rule_vjp_acc(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                                    const double *val, double *G, mpl_rankk *acc, double *tau,
                                    double *theta_bar, double *const sig_bar[4], double *vbar,
                                    double *scratch);

/* Dense value of term t at this layer (n_post x n_pre into out), for tests and checks. */
MPL_INTERNAL void mpl__rule_term_dense(const mpl_rule *r, int t, const mpl_layer_io *io,
                                       const double *val, double *out);

#endif
