/* metaplast: the table of operations (issue 21). Every node kind, of the term IR and of the
 * compiled plan, is one row of mpl__ops (ops.c) that states all there is to know about it: its
 * name, its arity, its shape rule (the builder), its printing (text, LaTeX, code), its lowering
 * into plan values and rank-1 pieces, and its forward and reverse kernels on vectors. Adding a
 * node kind is one enumerator here and one row (with its functions) in ops.c; the builders, the
 * printer, the parser, the Lua front end, the compiler and the plan's evaluation all dispatch
 * through the table. lower.c holds the lowering machinery the rows use (plan values, pieces,
 * symbolic products); plan/plan.c groups the pieces and runs the kernels.
 * Private to the engine; never installed. See LICENSE for copyright. */
#ifndef METAPLAST_OPS_H
#define METAPLAST_OPS_H

#include <stddef.h>

#include "internal.h"

/* {====== The node kinds ====== */
/* IR kinds (built by mpl_expr builders; MATMUL and T are lowered away) come first, then the
 * kinds only a plan has (vector products). Every plan value is a scalar or a vector. */
typedef enum mpl_op {
  MPL_OP_SIG, MPL_OP_ONES, MPL_OP_NUM,
  MPL_OP_ADD, MPL_OP_SUB, MPL_OP_NEG, MPL_OP_MUL, MPL_OP_MATMUL, MPL_OP_T, MPL_OP_SUM, MPL_OP_FN,
  MPL_OP_MEAN, MPL_OP_NORM, /* reductions of a vector to a scalar */
  MPL_OP_DOT,   /* plan only: a^T b */
  MPL_OP_GEMV,  /* plan only: W x */
  MPL_OP_GEMVT, /* plan only: W^T x */
  MPL_OP_COUNT
} mpl_op;
/* }====== */

/* {====== Plan values and pieces (what lowering produces) ====== */
typedef struct mpl_pnode {
  mpl_op op;
  mpl_dim dim;   /* ONE for scalars */
  int a, b;      /* operand plan nodes, -1 where unused */
  int arg;       /* SIG: mpl_signal, FN: mpl_func */
  double num;
} mpl_pnode;

/* One piece of a term: c * s * u v^T (OUTER), c * s * W (WMAT), or an elementwise function of
 * W times a rank-1 matrix, c * s * g(W) ⊙ (u v^T) (ELEMENTWISE: wf != 0, wmat 0). */
typedef struct mpl_piece {
  int term;      /* index into the rule's terms */
  int wmat;      /* 1: c s W; 0: c s u v^T (2: c s W^T while lowering) */
  int u, v, s;   /* plan nodes (u: n_post, v: n_pre, s: scalar or -1) */
  double c;
  int side;      /* OUTER: 0 in the group of its u, 1 in the group of its v */
  int wf;        /* ELEMENTWISE: 1 + the W-function node g (mpl_lowering's wnodes); 0: none */
  int wt;        /* ELEMENTWISE while lowering: 1 if g is applied to W^T (the piece is n_pre x n_post) */
} mpl_piece;

typedef struct mpl_plist { mpl_piece *p; int n, cap; } mpl_plist;

/* The state of one compilation: the plan values built so far (shared by all terms) and the
 * budget and error of the term being lowered. */
typedef struct mpl_lowering {
  mpl_pnode *nodes;
  int n_nodes, cap_nodes;
  const char *term;   /* name of the term being compiled, for messages */
  mpl_err *err;
  int failed;
  long work;          /* spent on the current term */
  long total;         /* spent on all terms */
  /* The elementwise functions of W the pieces use: nodes over one weight w (SIG W: w itself; NUM;
   * ADD, SUB, MUL, NEG, FN), CSE'd, operands first; evaluated by the table's kernels one row of
   * W at a time (plan.c). */
  mpl_pnode *wnodes;
  int n_wnodes, cap_wnodes;
} mpl_lowering;
/* }====== */

/* {====== One row per kind ====== */
typedef struct mpl_sbuf { char *p; size_t n, len; } mpl_sbuf;

/* Arguments of a kernel: one plan node's value y (len doubles) from its operands a (la) and b
 * (lb; scalars broadcast), and in reverse the adjoint yb flowing into ab and bb. */
typedef struct mpl_kernel {
  int len, la, lb;
  const double *a, *b;
  double *y;
  const double *yb;
  double *ab, *bb;
  int arg;
  double num;
  const double *const *sig; /* SIG: the layer's signals (forward) */
  double *const *sig_bar;   /* SIG: their adjoints, entries NULL where not wanted (reverse) */
} mpl_kernel;

typedef struct mpl_op_class {
  const char *name;  /* the code form's name (parser, Lua front end); NULL: not a function call */
  int arity;         /* operands: 0, 1 or 2 */
  int prec;          /* binding strength in printed text: sums 1, negation 2, Hadamard 3, products 4,
                      * postfix and atoms 5 */
  int (*prec_of)(const mpl_expr *e); /* the strength when it depends on the node (else prec) */
  int commutative;   /* op(a, b) = op(b, a): the plan orders the operands canonically */
  /* Shape rule and simplifications: the node op(a, b) or NULL with the builder error recorded
   * (IR kinds with operands; NULL for leaves, whose builders are their own, and plan kinds). */
  mpl_expr *(*build)(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b);
  /* Text and LaTeX (fmt), and the code form (NULL: name(a[, b])). IR kinds only. */
  void (*print)(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s);
  void (*print_code)(const mpl_expr *e, mpl_sbuf *s);
  /* Lowering: the plan node of a scalar or vector expression, and the pieces of a matrix one
   * (NULL: the kind has no matrix form the compiler can lower). IR kinds only. */
  int (*emit)(mpl_lowering *C, const mpl_expr *e);
  int (*lower)(mpl_lowering *C, const mpl_expr *e, mpl_plist *L);
  /* Kernels on plan values (NULL: none; GEMV and GEMVT read the layer's weights: plan.c). A
   * binary kind's forward also folds two constants while lowering (lower.c). */
  void (*forward)(const mpl_kernel *k);
  void (*reverse)(const mpl_kernel *k);
} mpl_op_class;

MPL_INTERNAL extern const mpl_op_class mpl__ops[MPL_OP_COUNT];

/* The kind whose code name is name, or -1. */
MPL_INTERNAL int mpl__op_find(const char *name);
/* Build op(a, b) by its row's shape rule (a kind with operands). */
MPL_INTERNAL mpl_expr *mpl__op_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b);
/* }====== */

/* {====== The lowering machinery the rows share (lower.c) ====== */
/* Plan values, CSE'd; -1 once the term has failed. */
MPL_INTERNAL int mpl__lower_fail(mpl_lowering *C, int code, const char *what);
MPL_INTERNAL int mpl__pnode(mpl_lowering *C, mpl_op op, mpl_dim dim, int a, int b, int arg, double num);
MPL_INTERNAL int mpl__pnum(mpl_lowering *C, double c);
MPL_INTERNAL int mpl__pbin(mpl_lowering *C, mpl_op op, int a, int b);
MPL_INTERNAL int mpl__pneg(mpl_lowering *C, int a);
MPL_INTERNAL int mpl__pdot(mpl_lowering *C, int a, int b);
/* Pieces. */
MPL_INTERNAL int mpl__push(mpl_lowering *C, mpl_plist *L, mpl_piece p);
MPL_INTERNAL int mpl__push_outer(mpl_lowering *C, mpl_plist *L, int u, int v, int s, double c);
MPL_INTERNAL int mpl__append_scaled(mpl_lowering *C, mpl_plist *L, const mpl_plist *A, int s, double c);
MPL_INTERNAL void mpl__transpose_pieces(mpl_plist *L);
/* The vector A x for A given as pieces; the sum of all entries of A (rows x cols). */
MPL_INTERNAL int mpl__apply(mpl_lowering *C, const mpl_plist *A, int x);
MPL_INTERNAL int mpl__sum_pieces(mpl_lowering *C, const mpl_plist *A, mpl_dim rows, mpl_dim cols);
/* Products of piece lists: matrix (A: r x k, B: k x c) and elementwise. */
MPL_INTERNAL int mpl__lower_product(mpl_lowering *C, const mpl_plist *A, const mpl_plist *B, mpl_plist *L);
MPL_INTERNAL int mpl__lower_hadamard(mpl_lowering *C, const mpl_plist *A, const mpl_plist *B, mpl_plist *L);
/* The piece f(A) for an elementwise function f of a matrix A that is a function of W alone
 * (A's pieces: constants, c W, c g(W)); refused otherwise, naming why. */
MPL_INTERNAL int mpl__lower_wfn(mpl_lowering *C, int f, const mpl_plist *A, mpl_plist *L);
/* Pieces of a broadcast scalar s over a matrix of shape's shape: s 1 1^T. */
MPL_INTERNAL int mpl__push_fill(mpl_lowering *C, mpl_plist *L, const mpl_expr *shape, int s, double c);
/* The plan node of a scalar or vector expression (row vectors are stored as vectors), and the
 * pieces of a matrix expression (both dimensions > 1): dispatch to the rows. */
MPL_INTERNAL int mpl__emit(mpl_lowering *C, const mpl_expr *e);
MPL_INTERNAL int mpl__lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L);
/* }====== */

#endif
