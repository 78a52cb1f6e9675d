/* metaplast: lowering the term IR into plan values and pieces (ops.h), the machinery that the
 * rows of the table of operations (ops.c) share.
 *
 * Lowering keeps every matrix symbolic. A matrix-valued subexpression becomes a list of pieces,
 * each c * s * u v^T (rank 1) or c * s * W; products of pieces are formed symbolically
 * ((u1 v1^T)(u2 v2^T) = (v1.u2) u1 v2^T, (u v^T) W = u (W^T v)^T, ...), so nothing ever costs
 * more than one pass over W: (y y^T) W becomes y (W^T y)^T. Vectors and scalars become plan
 * nodes, shared across terms. plan/plan.c groups the pieces into the update's rank-1 rows.
 * See LICENSE for copyright. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* The work one term may take to compile. Lowering multiplies out products of sums and walks a
 * shared subexpression once per use, so a term of a few dozen nodes can expand exponentially
 * ((a + b) * (c + d) * ... , x = x + x repeated); rule files may come from others. Units: a
 * lower or emit call, a plan node looked up (plus 1 per 64 nodes scanned), 8 per piece. The
 * shipped terms take at most a few thousand; the budget bounds one term to well under a second
 * and a few tens of MB. */
#define MAX_WORK (1L << 20)
#define MAX_TOTAL_WORK (1L << 24) /* all the terms of one compile (a selection, at most 4096 terms per file) */

int mpl__lower_fail(mpl_lowering *C, int code, const char *what) {
  if (!C->failed) mpl_errorf(C->err, code, "term '%s': %s", C->term, what);
  C->failed = 1;
  return -1;
}

/* Charge units of work to the current term; -1 (failed) once it has spent MAX_WORK, or all the
 * terms MAX_TOTAL_WORK. */
static int spend(mpl_lowering *C, long units) {
  if (C->failed) return -1;
  C->total += units;
  if ((C->work += units) <= MAX_WORK && C->total <= MAX_TOTAL_WORK) return 0;
  char msg[256];
  if (C->work > MAX_WORK)
    snprintf(msg, sizeof msg, "too large to compile: multiplying out its products of sums and repeated "
             "subexpressions takes more than %ld steps (write it with fewer factors, or as a native term)", MAX_WORK);
  else
    snprintf(msg, sizeof msg, "the selected terms are too large to compile together: more than %ld steps in all "
             "(select fewer terms)", MAX_TOTAL_WORK);
  return mpl__lower_fail(C, MPL_EUNSUPPORTED, msg);
}

/* x's index in the array *v (*n entries, room for *cap): an equal node already there (common
 * subexpressions: one node), else x appended, the array grown from first entries when full. */
static int intern(mpl_lowering *C, mpl_pnode **v, int *n, int *cap, int first, mpl_pnode x) {
  for (int i = 0; i < *n; i++) {
    const mpl_pnode *q = &(*v)[i];
    if (q->op == x.op && q->dim == x.dim && q->a == x.a && q->b == x.b && q->arg == x.arg &&
        memcmp(&q->num, &x.num, sizeof x.num) == 0)
      return i;
  }
  if (*n == *cap) {
    int k = *cap ? 2 * *cap : first;
    mpl_pnode *p = realloc(*v, (size_t)k * sizeof *p);
    if (!p) return mpl__lower_fail(C, MPL_ENOMEM, "out of memory");
    *v = p;
    *cap = k;
  }
  (*v)[*n] = x;
  return (*n)++;
}

int mpl__pnode(mpl_lowering *C, mpl_op op, mpl_dim dim, int a, int b, int arg, double num) {
  if (spend(C, 1 + C->n_nodes / 64) < 0) return -1;
  return intern(C, &C->nodes, &C->n_nodes, &C->cap_nodes, 32, (mpl_pnode){op, dim, a, b, arg, num});
}

static mpl_dim pdim(mpl_lowering *C, int i) { return C->nodes[i].dim; }
int mpl__pnum(mpl_lowering *C, double c) { return mpl__pnode(C, MPL_OP_NUM, MPL_DIM_ONE, -1, -1, 0, c == 0 ? 0.0 : c); }

/* op(x, y) of two constants, by the kind's own forward kernel. */
static double fold(mpl_op op, double x, double y) {
  double z;
  mpl_kernel k = {.len = 1, .la = 1, .lb = 1, .a = &x, .b = &y, .y = &z};
  mpl__ops[op].forward(&k);
  return z;
}

/* Binary elementwise node with a scalar side broadcast; folds constants and trivial factors, and
 * puts the operands of a commutative kind in a canonical order. */
int mpl__pbin(mpl_lowering *C, mpl_op op, int a, int b) {
  if (a < 0 || b < 0) return -1;
  const mpl_pnode *na = &C->nodes[a], *nb = &C->nodes[b];
  if (na->op == MPL_OP_NUM && nb->op == MPL_OP_NUM) return mpl__pnum(C, fold(op, na->num, nb->num));
  if (op == MPL_OP_MUL && na->op == MPL_OP_NUM && na->num == 1) return b;
  if (op == MPL_OP_MUL && nb->op == MPL_OP_NUM && nb->num == 1) return a;
  mpl_dim d = pdim(C, a) != MPL_DIM_ONE ? pdim(C, a) : pdim(C, b);
  if (mpl__ops[op].commutative && b < a) { int t = a; a = b; b = t; }
  return mpl__pnode(C, op, d, a, b, 0, 0);
}

int mpl__pneg(mpl_lowering *C, int a) {
  if (a < 0) return -1;
  if (C->nodes[a].op == MPL_OP_NUM) return mpl__pnum(C, -C->nodes[a].num);
  if (C->nodes[a].op == MPL_OP_NEG) return C->nodes[a].a;
  return mpl__pnode(C, MPL_OP_NEG, pdim(C, a), a, -1, 0, 0);
}

int mpl__pdot(mpl_lowering *C, int a, int b) {
  if (a < 0 || b < 0) return -1;
  if (b < a) { int t = a; a = b; b = t; }
  return mpl__pnode(C, MPL_OP_DOT, MPL_DIM_ONE, a, b, 0, 0);
}

/* W x (trans = 0, x of length n_pre) or W^T x (trans = 1, x of length n_post). */
static int pgemv(mpl_lowering *C, int trans, int x) {
  if (x < 0) return -1;
  return mpl__pnode(C, trans ? MPL_OP_GEMVT : MPL_OP_GEMV, trans ? MPL_DIM_PRE : MPL_DIM_POST, x, -1, 0, 0);
}

/* Multiply two optional scalars (-1 means 1). */
static int smul(mpl_lowering *C, int s1, int s2) {
  if (s1 < 0) return s2;
  if (s2 < 0) return s1;
  return mpl__pbin(C, MPL_OP_MUL, s1, s2);
}

int mpl__push(mpl_lowering *C, mpl_plist *L, mpl_piece p) {
  if (spend(C, 8) < 0) return -1;
  if (L->n == L->cap) {
    int cap = L->cap ? 2 * L->cap : 8;
    mpl_piece *q = realloc(L->p, (size_t)cap * sizeof *q);
    if (!q) return mpl__lower_fail(C, MPL_ENOMEM, "out of memory");
    L->p = q;
    L->cap = cap;
  }
  L->p[L->n++] = p;
  return 0;
}

/* Move scalar factors, negations and constants out of a vector node into (s, c). */
static int peel(mpl_lowering *C, int x, int *s, double *c) {
  for (;;) {
    if (x < 0) return -1;
    const mpl_pnode *n = &C->nodes[x];
    if (n->op == MPL_OP_NEG) { *c = -*c; x = n->a; continue; }
    if (n->op != MPL_OP_MUL) return x;
    int a = n->a, b = n->b, sa = pdim(C, a) == MPL_DIM_ONE, sb = pdim(C, b) == MPL_DIM_ONE;
    if (!sa && !sb) return x;
    int scal = sa ? a : b;
    if (C->nodes[scal].op == MPL_OP_NUM) *c *= C->nodes[scal].num;
    else *s = smul(C, *s, scal);
    x = sa ? b : a;
  }
}

/* A rank-1 piece c * s * u v^T, normalised so that u and v are not themselves scaled. */
int mpl__push_outer(mpl_lowering *C, mpl_plist *L, int u, int v, int s, double c) {
  u = peel(C, u, &s, &c);
  v = peel(C, v, &s, &c);
  if (s >= 0 && C->nodes[s].op == MPL_OP_NUM) { c *= C->nodes[s].num; s = -1; }
  if (u < 0 || v < 0 || C->failed) return -1;
  return mpl__push(C, L, (mpl_piece){.term = 0, .wmat = 0, .u = u, .v = v, .s = s, .c = c});
}

/* An elementwise function of W inside a matrix product (or a sum of entries): it would take a pass
 * over W per product, and the engine applies g(W) only in the update itself. */
static int elementwise_product_fail(mpl_lowering *C) {
  return mpl__lower_fail(C, MPL_EUNSUPPORTED,
                         "a matrix product (or a sum of entries) of an elementwise function of W, such as "
                         "(W * outer(u, v)) % x, is not supported: g(W) may only appear in the update as "
                         "g(W) * outer(u, v); write a native term");
}

/* The vector A x, with A given as pieces (A: rows x k, x: length k). wmat 1 = W, 2 = W^T. */
int mpl__apply(mpl_lowering *C, const mpl_plist *A, int x) {
  int acc = -1;
  for (int i = 0; i < A->n && !C->failed; i++) {
    const mpl_piece *p = &A->p[i];
    int term;
    if (p->wf) return elementwise_product_fail(C);
    if (p->wmat) term = pgemv(C, p->wmat == 2, x);
    else term = mpl__pbin(C, MPL_OP_MUL, mpl__pdot(C, p->v, x), p->u);
    term = mpl__pbin(C, MPL_OP_MUL, smul(C, p->s, mpl__pnum(C, p->c)), term);
    acc = acc < 0 ? term : mpl__pbin(C, MPL_OP_ADD, acc, term);
  }
  return acc;
}

void mpl__transpose_pieces(mpl_plist *L) {
  for (int i = 0; i < L->n; i++) {
    mpl_piece *p = &L->p[i];
    if (p->wmat) p->wmat = 3 - p->wmat;
    else { int t = p->u; p->u = p->v; p->v = t; p->wt ^= p->wf != 0; }
  }
}

/* Sum of all entries of a matrix given as pieces. */
int mpl__sum_pieces(mpl_lowering *C, const mpl_plist *A, mpl_dim rows, mpl_dim cols) {
  int ones_c = mpl__pnode(C, MPL_OP_ONES, cols, -1, -1, 0, 0);
  int ones_r = mpl__pnode(C, MPL_OP_ONES, rows, -1, -1, 0, 0);
  return mpl__pdot(C, ones_r, mpl__apply(C, A, ones_c));
}

/* Product of two piece lists (A: r x k, B: k x c, all dimensions > 1). */
int mpl__lower_product(mpl_lowering *C, const mpl_plist *A, const mpl_plist *B, mpl_plist *L) {
  for (int i = 0; i < A->n; i++)
    for (int j = 0; j < B->n; j++) {
      const mpl_piece *p = &A->p[i], *q = &B->p[j];
      int s = smul(C, p->s, q->s);
      double c = p->c * q->c;
      if (p->wf || q->wf) return elementwise_product_fail(C);
      if (p->wmat && q->wmat)
        return mpl__lower_fail(C, MPL_EUNSUPPORTED,
                    "a product of two weight matrices (W W^T or W^T W) is not supported: it is not "
                    "local and costs O(n^3) per step");
      if (p->wmat) { /* W q.u q.v^T = (W q.u) q.v^T */
        if (mpl__push_outer(C, L, pgemv(C, p->wmat == 2, q->u), q->v, s, c) < 0) return -1;
      } else if (q->wmat) { /* p.u p.v^T W = p.u (W^T p.v)^T */
        if (mpl__push_outer(C, L, p->u, pgemv(C, q->wmat == 1, p->v), s, c) < 0) return -1;
      } else if (mpl__push_outer(C, L, p->u, q->v, smul(C, s, mpl__pdot(C, p->v, q->u)), c) < 0) {
        return -1;
      }
    }
  return 0;
}

/* {====== Elementwise functions of W ====== */

/* The W-function node op(a, b) (operands: W-function nodes, -1 where unused), CSE'd; operations
 * on constants are folded by the kind's own forward kernel. */
static int wnode(mpl_lowering *C, mpl_op op, int a, int b, int arg, double num) {
  if (spend(C, 1 + C->n_wnodes / 64) < 0) return -1;
  const mpl_pnode *na = a >= 0 ? &C->wnodes[a] : NULL, *nb = b >= 0 ? &C->wnodes[b] : NULL;
  if (na && na->op == MPL_OP_NUM && (!nb || nb->op == MPL_OP_NUM)) {
    double x = na->num, y = nb ? nb->num : 0, z;
    mpl_kernel k = {.len = 1, .la = 1, .lb = 1, .a = &x, .b = &y, .y = &z, .arg = arg};
    mpl__ops[op].forward(&k);
    return wnode(C, MPL_OP_NUM, -1, -1, 0, z == 0 ? 0.0 : z);
  }
  if (op == MPL_OP_MUL && na && na->op == MPL_OP_NUM && na->num == 1) return b;
  if (op == MPL_OP_MUL && nb && nb->op == MPL_OP_NUM && nb->num == 1) return a;
  if (mpl__ops[op].commutative && b < a) { int t = a; a = b; b = t; }
  mpl_dim dim = op == MPL_OP_SIG || (na && na->dim != MPL_DIM_ONE) || (nb && nb->dim != MPL_DIM_ONE) ? MPL_DIM_PRE
                                                                                                   : MPL_DIM_ONE;
  return intern(C, &C->wnodes, &C->n_wnodes, &C->cap_wnodes, 8, (mpl_pnode){op, dim, a, b, arg, num});
}

static int wleaf(mpl_lowering *C) { return wnode(C, MPL_OP_SIG, -1, -1, MPL_SIG_W, 0); }
static int is_ones(mpl_lowering *C, int x) { return x >= 0 && C->nodes[x].op == MPL_OP_ONES; }

/* a ⊙ b of two vectors, a ones vector dropped. */
static int vmul(mpl_lowering *C, int a, int b) {
  if (is_ones(C, a)) return b;
  if (is_ones(C, b)) return a;
  return mpl__pbin(C, MPL_OP_MUL, a, b);
}

/* A piece as g(W) ⊙ (u v^T): *g the W-function node (-1: g = 1), *wt whether g reads W^T. */
static void as_elementwise(mpl_lowering *C, const mpl_piece *p, int *g, int *wt, int *u, int *v) {
  if (p->wmat) { /* c s W = c s W ⊙ (1 1^T) */
    *g = wleaf(C), *wt = p->wmat == 2;
    *u = mpl__pnode(C, MPL_OP_ONES, *wt ? MPL_DIM_PRE : MPL_DIM_POST, -1, -1, 0, 0);
    *v = mpl__pnode(C, MPL_OP_ONES, *wt ? MPL_DIM_POST : MPL_DIM_PRE, -1, -1, 0, 0);
  } else {
    *g = p->wf - 1, *wt = p->wt, *u = p->u, *v = p->v;
  }
}

/* The piece c s g(W) ⊙ (u v^T), normalised as mpl__push_outer's; W itself (g = w, u and v ones
 * vectors) stays a weight-proportional piece. */
static int push_elementwise(mpl_lowering *C, mpl_plist *L, int g, int wt, int u, int v, int s, double c) {
  if (g < 0) return mpl__push_outer(C, L, u, v, s, c);
  u = peel(C, u, &s, &c);
  v = peel(C, v, &s, &c);
  if (s >= 0 && C->nodes[s].op == MPL_OP_NUM) { c *= C->nodes[s].num; s = -1; }
  if (u < 0 || v < 0 || C->failed) return -1;
  if (C->wnodes[g].op == MPL_OP_SIG && is_ones(C, u) && is_ones(C, v))
    return mpl__push(C, L, (mpl_piece){.wmat = 1 + wt, .u = -1, .v = -1, .s = s, .c = c});
  return mpl__push(C, L, (mpl_piece){.u = u, .v = v, .s = s, .c = c, .wf = g + 1, .wt = wt});
}

/* p ⊙ q where either depends on W: (g_p(W) ⊙ u_p v_p^T) ⊙ (g_q(W) ⊙ u_q v_q^T)
 * = (g_p g_q)(W) ⊙ (u_p ⊙ u_q)(v_p ⊙ v_q)^T. */
static int hadamard_w(mpl_lowering *C, const mpl_piece *p, const mpl_piece *q, mpl_plist *L) {
  int gp, tp, up, vp, gq, tq, uq, vq;
  as_elementwise(C, p, &gp, &tp, &up, &vp);
  as_elementwise(C, q, &gq, &tq, &uq, &vq);
  if (C->failed) return -1;
  int g = gp < 0 ? gq : gq < 0 ? gp : wnode(C, MPL_OP_MUL, gp, gq, 0, 0);
  return push_elementwise(C, L, g, gp >= 0 ? tp : tq, vmul(C, up, uq), vmul(C, vp, vq), smul(C, p->s, q->s),
                          p->c * q->c);
}

int mpl__lower_wfn(mpl_lowering *C, int f, const mpl_plist *A, mpl_plist *L) {
  int h = -1, wt = 0, has_w = 0;
  for (int i = 0; i < A->n; i++) has_w |= A->p[i].wmat || A->p[i].wf;
  if (!has_w)
    return mpl__lower_fail(C, MPL_EUNSUPPORTED,
                           "an elementwise function of a matrix is supported only as a function of W alone "
                           "(tanh(W), square(1 - W)); apply functions to vectors, or write a native term");
  for (int i = 0; i < A->n && !C->failed; i++) {
    const mpl_piece *p = &A->p[i];
    int g, u, v, pt, num_s = p->s >= 0 && C->nodes[p->s].op == MPL_OP_NUM;
    double c = num_s ? p->c * C->nodes[p->s].num : p->c;
    as_elementwise(C, p, &g, &pt, &u, &v);
    if ((p->s >= 0 && !num_s) || !is_ones(C, u) || !is_ones(C, v))
      return mpl__lower_fail(C, MPL_EUNSUPPORTED,
                             "an elementwise function of a matrix is supported only as a function of W alone "
                             "(tanh(W), square(1 - W)), not of W plus an outer product or of W scaled by a "
                             "signal: write g(W) * outer(u, v), or a native term");
    if (g < 0) g = wnode(C, MPL_OP_NUM, -1, -1, 0, 1);
    else wt = pt;
    int term = wnode(C, MPL_OP_MUL, wnode(C, MPL_OP_NUM, -1, -1, 0, c == 0 ? 0.0 : c), g, 0, 0);
    h = h < 0 ? term : wnode(C, MPL_OP_ADD, h, term, 0, 0);
  }
  int ones_r = mpl__pnode(C, MPL_OP_ONES, wt ? MPL_DIM_PRE : MPL_DIM_POST, -1, -1, 0, 0);
  int ones_c = mpl__pnode(C, MPL_OP_ONES, wt ? MPL_DIM_POST : MPL_DIM_PRE, -1, -1, 0, 0);
  if (C->failed || h < 0) return -1;
  int g = wnode(C, MPL_OP_FN, h, -1, f, 0);
  if (g < 0) return -1;
  if (C->wnodes[g].op == MPL_OP_NUM) return mpl__push_outer(C, L, ones_r, ones_c, -1, C->wnodes[g].num);
  return push_elementwise(C, L, g, wt, ones_r, ones_c, -1, 1);
}

/* }====== */

int mpl__lower_hadamard(mpl_lowering *C, const mpl_plist *A, const mpl_plist *B, mpl_plist *L) {
  for (int i = 0; i < A->n; i++)
    for (int j = 0; j < B->n; j++) {
      const mpl_piece *p = &A->p[i], *q = &B->p[j];
      if (p->wmat || q->wmat || p->wf || q->wf) {
        if (hadamard_w(C, p, q, L) < 0) return -1;
        continue;
      }
      if (mpl__push_outer(C, L, mpl__pbin(C, MPL_OP_MUL, p->u, q->u), mpl__pbin(C, MPL_OP_MUL, p->v, q->v),
                     smul(C, p->s, q->s), p->c * q->c) < 0)
        return -1;
    }
  return 0;
}

int mpl__append_scaled(mpl_lowering *C, mpl_plist *L, const mpl_plist *A, int s, double c) {
  for (int i = 0; i < A->n; i++) {
    mpl_piece p = A->p[i];
    p.s = smul(C, p.s, s);
    p.c *= c;
    if (mpl__push(C, L, p) < 0) return -1;
  }
  return 0;
}

/* Pieces of a broadcast scalar s over an rows x cols matrix: s 1 1^T. */
int mpl__push_fill(mpl_lowering *C, mpl_plist *L, const mpl_expr *shape, int s, double c) {
  int u = mpl__pnode(C, MPL_OP_ONES, shape->rows, -1, -1, 0, 0);
  int v = mpl__pnode(C, MPL_OP_ONES, shape->cols, -1, -1, 0, 0);
  return mpl__push_outer(C, L, u, v, s, c);
}

int mpl__emit(mpl_lowering *C, const mpl_expr *e) {
  if (spend(C, 1) < 0) return -1;
  const mpl_op_class *k = &mpl__ops[e->op];
  return k->emit ? k->emit(C, e) : mpl__lower_fail(C, MPL_EUNSUPPORTED, "unknown operation");
}

int mpl__lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) {
  if (spend(C, 1) < 0) return -1;
  const mpl_op_class *k = &mpl__ops[e->op];
  return k->lower ? k->lower(C, e, L) : mpl__lower_fail(C, MPL_EUNSUPPORTED, "unsupported matrix operation");
}
