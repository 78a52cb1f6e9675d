/* metaplast: the table of operations (ops.h): one row per node kind with its shape rule,
 * printing, lowering and kernels, the public builders and the printer that dispatch through it.
 * See LICENSE for copyright. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ops.h"
#include "metaplast/native.h"

/* {====== Helpers of the rows ====== */

static double fetch(const double *x, int len, int j) { return len == 1 ? x[0] : x[j]; }

/* A scalar or vector expression's one dimension (row vectors are stored as vectors). */
static mpl_dim vec_dim(const mpl_expr *e) { return e->rows != MPL_DIM_ONE ? e->rows : e->cols; }

static int is_vec_or_scalar(const mpl_expr *e) { return e->rows == MPL_DIM_ONE || e->cols == MPL_DIM_ONE; }

static mpl_expr *node(mpl_termset *ts, mpl_op op, mpl_dim r, mpl_dim c, mpl_expr *a, mpl_expr *b) {
  return mpl__node(ts, op, r, c, a, b, 0, 0);
}

/* Printing (the end of this file). */
static void put(mpl_sbuf *s, const char *txt);
static void print_rec(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s);
static void print_code(const mpl_expr *e, mpl_sbuf *s);
/* e in parentheses if it binds less strongly than min_prec. */
static void wrapped(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s, int min_prec);

/* }====== */

/* {====== SIG: a signal of the layer (leaf; W is the one matrix) ====== */

static const char *sig_text[MPL_FMT_CODE + 1][MPL_SIG_COUNT] = {
  {"y_{ℓ−1}", "y_ℓ", "e_{ℓ−1}", "e_ℓ", "W"},
  {"y_{\\ell-1}", "y_{\\ell}", "e_{\\ell-1}", "e_{\\ell}", "W_{\\ell-1,\\ell}"},
  {"pre", "post", "e_pre", "e_post", "W"},
};

mpl_expr *mpl_sig(mpl_termset *ts, mpl_signal s) {
  static const mpl_dim rows[] = {MPL_DIM_PRE, MPL_DIM_POST, MPL_DIM_PRE, MPL_DIM_POST, MPL_DIM_POST};
  if (!ts) return NULL;
  if ((int)s < 0 || s >= MPL_SIG_COUNT) return mpl__builder_error(ts, "unknown signal %d", (int)s), NULL;
  return mpl__node(ts, MPL_OP_SIG, rows[s], s == MPL_SIG_W ? MPL_DIM_PRE : MPL_DIM_ONE, NULL, NULL, (int)s, 0);
}

static void sig_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) { put(s, sig_text[fmt][e->sig]); }
static void sig_code(const mpl_expr *e, mpl_sbuf *s) { put(s, sig_text[MPL_FMT_CODE][e->sig]); }
static int sig_emit(mpl_lowering *C, const mpl_expr *e) { return mpl__pnode(C, MPL_OP_SIG, vec_dim(e), -1, -1, e->sig, 0); }
static int sig_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) {
  (void)e;
  return mpl__push(C, L, (mpl_piece){.wmat = 1, .u = -1, .v = -1, .s = -1, .c = 1});
}
static void sig_forward(const mpl_kernel *k) { memcpy(k->y, k->sig[k->arg], (size_t)k->len * sizeof *k->y); }
static void sig_reverse(const mpl_kernel *k) {
  if (k->sig_bar[k->arg]) cblas_daxpy(k->len, 1, k->yb, 1, k->sig_bar[k->arg], 1);
}

/* }====== */

/* {====== ONES: the all-ones vector 1_d (leaf) ====== */

mpl_expr *mpl_ones(mpl_termset *ts, mpl_dim d) {
  if (!ts) return NULL;
  if (d != MPL_DIM_PRE && d != MPL_DIM_POST)
    return mpl__builder_error(ts, "ones vector: dimension must be n_pre or n_post"), NULL;
  return mpl__node(ts, MPL_OP_ONES, d, MPL_DIM_ONE, NULL, NULL, (int)d, 0);
}

static void ones_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  put(s, fmt == MPL_FMT_LATEX ? (e->sig == MPL_DIM_PRE ? "\\mathbf{1}_{\\ell-1}" : "\\mathbf{1}_{\\ell}")
                              : (e->sig == MPL_DIM_PRE ? "1_{ℓ−1}" : "1_ℓ"));
}
static void ones_code(const mpl_expr *e, mpl_sbuf *s) { put(s, e->sig == MPL_DIM_PRE ? "ones_pre" : "ones_post"); }
static int ones_emit(mpl_lowering *C, const mpl_expr *e) { return mpl__pnode(C, MPL_OP_ONES, vec_dim(e), -1, -1, 0, 0); }
static void ones_forward(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) k->y[j] = 1;
}

/* }====== */

/* {====== NUM: a 1x1 constant (leaf) ====== */

mpl_expr *mpl_num(mpl_termset *ts, double c) {
  if (!ts) return NULL;
  if (!isfinite(c)) return mpl__builder_error(ts, "constant %g is not finite", c), NULL;
  if (c == 0) c = 0.0; /* -0 and +0 are one constant */
  return mpl__node(ts, MPL_OP_NUM, MPL_DIM_ONE, MPL_DIM_ONE, NULL, NULL, 0, c);
}

static int num_prec(const mpl_expr *e) { return e->num < 0 ? 2 : 5; }
static void num_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  char num[64];
  (void)fmt;
  snprintf(num, sizeof num, "%g", e->num);
  put(s, num);
}
static void num_code(const mpl_expr *e, mpl_sbuf *s) {
  char num[64];
  snprintf(num, sizeof num, "%.17g", e->num);
  put(s, num);
}
static int num_emit(mpl_lowering *C, const mpl_expr *e) { return mpl__pnum(C, e->num); }
static void num_forward(const mpl_kernel *k) { k->y[0] = k->num; }

/* }====== */

/* {====== ADD, SUB, MUL: elementwise, equal shapes or a 1x1 side broadcast ====== */

static mpl_expr *elementwise(mpl_termset *ts, mpl_op op, const char *what, mpl_expr *a, mpl_expr *b) {
  if (!ts || !a || !b) return NULL;
  char sa[32], sb[32];
  if (mpl__is_scalar(a)) return node(ts, op, b->rows, b->cols, a, b);
  if (mpl__is_scalar(b) || (a->rows == b->rows && a->cols == b->cols)) return node(ts, op, a->rows, a->cols, a, b);
  mpl__builder_error(ts, "%s: shapes %s and %s differ", what, mpl__shape_str(a, sa), mpl__shape_str(b, sb));
  return NULL;
}

static mpl_expr *add_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) { return elementwise(ts, op, "+", a, b); }
static mpl_expr *sub_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) { return elementwise(ts, op, "-", a, b); }
static mpl_expr *mul_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) {
  return elementwise(ts, op, "elementwise *", a, b);
}

static void sum_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s, const char *sign) {
  wrapped(e->a, fmt, s, 1);
  put(s, sign);
  wrapped(e->b, fmt, s, 2);
}
static void add_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) { sum_print(e, fmt, s, " + "); }
static void sub_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  sum_print(e, fmt, s, fmt == MPL_FMT_LATEX ? " - " : " − ");
}
static void mul_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  int scale = mpl__is_scalar(e->a) || mpl__is_scalar(e->b);
  wrapped(e->a, fmt, s, 4);
  put(s, scale ? " " : (fmt == MPL_FMT_LATEX ? " \\odot " : " ⊙ "));
  wrapped(e->b, fmt, s, 4);
}

static int binary_emit(mpl_lowering *C, const mpl_expr *e) {
  return mpl__pbin(C, (mpl_op)e->op, mpl__emit(C, e->a), mpl__emit(C, e->b));
}

/* ADD / SUB of matrices, a 1x1 side filling the matrix. */
static int sum_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L, double sign) {
  const mpl_expr *a = e->a, *b = e->b;
  int sa = is_vec_or_scalar(a), sb = is_vec_or_scalar(b); /* here: 1x1 operands */
  mpl_plist A = {0}, B = {0};
  int rc = sa ? mpl__push_fill(C, L, e, mpl__emit(C, a), 1) : mpl__lower(C, a, &A);
  if (rc == 0 && !sa) rc = mpl__append_scaled(C, L, &A, -1, 1);
  if (rc == 0) rc = sb ? mpl__push_fill(C, L, e, mpl__emit(C, b), sign) : mpl__lower(C, b, &B);
  if (rc == 0 && !sb) rc = mpl__append_scaled(C, L, &B, -1, sign);
  free(A.p);
  free(B.p);
  return C->failed ? -1 : rc;
}
static int add_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) { return sum_lower(C, e, L, 1); }
static int sub_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) { return sum_lower(C, e, L, -1); }

/* MUL of matrices: scaling by a 1x1 side, or the Hadamard product of two piece lists. */
static int mul_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) {
  const mpl_expr *a = e->a, *b = e->b;
  int sa = is_vec_or_scalar(a), sb = is_vec_or_scalar(b); /* here: 1x1 operands */
  mpl_plist A = {0}, B = {0};
  int rc;
  if (sa || sb) {
    rc = mpl__lower(C, sa ? b : a, &A);
    if (rc == 0) rc = mpl__append_scaled(C, L, &A, mpl__emit(C, sa ? a : b), 1);
  } else {
    rc = mpl__lower(C, a, &A);
    if (rc == 0) rc = mpl__lower(C, b, &B);
    if (rc == 0) rc = mpl__lower_hadamard(C, &A, &B, L);
  }
  free(A.p);
  free(B.p);
  return C->failed ? -1 : rc;
}

static void add_forward(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) k->y[j] = fetch(k->a, k->la, j) + fetch(k->b, k->lb, j);
}
static void sub_forward(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) k->y[j] = fetch(k->a, k->la, j) - fetch(k->b, k->lb, j);
}
static void mul_forward(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) k->y[j] = fetch(k->a, k->la, j) * fetch(k->b, k->lb, j);
}

static void sum_reverse(const mpl_kernel *k, double sb) {
  for (int j = 0; j < k->len; j++) {
    if (k->la == 1) k->ab[0] += k->yb[j]; else k->ab[j] += k->yb[j];
    if (k->lb == 1) k->bb[0] += sb * k->yb[j]; else k->bb[j] += sb * k->yb[j];
  }
}
static void add_reverse(const mpl_kernel *k) { sum_reverse(k, 1); }
static void sub_reverse(const mpl_kernel *k) { sum_reverse(k, -1); }
static void mul_reverse(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) {
    double av = fetch(k->a, k->la, j), bv = fetch(k->b, k->lb, j);
    if (k->la == 1) k->ab[0] += k->yb[j] * bv; else k->ab[j] += k->yb[j] * bv;
    if (k->lb == 1) k->bb[0] += k->yb[j] * av; else k->bb[j] += k->yb[j] * av;
  }
}

/* }====== */

/* {====== NEG ====== */

static mpl_expr *neg_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) {
  (void)b;
  if (!ts || !a) return NULL;
  if (a->op == MPL_OP_NEG) return a->a;
  if (a->op == MPL_OP_NUM) return mpl_num(ts, -a->num);
  return node(ts, op, a->rows, a->cols, a, NULL);
}
static void neg_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  put(s, fmt == MPL_FMT_LATEX ? "-" : "−");
  wrapped(e->a, fmt, s, 3);
}
static int neg_emit(mpl_lowering *C, const mpl_expr *e) { return mpl__pneg(C, mpl__emit(C, e->a)); }
static int neg_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) {
  mpl_plist A = {0};
  int rc = mpl__lower(C, e->a, &A);
  if (rc == 0) rc = mpl__append_scaled(C, L, &A, -1, -1);
  free(A.p);
  return rc;
}
static void neg_forward(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) k->y[j] = -k->a[j];
}
static void neg_reverse(const mpl_kernel *k) { cblas_daxpy(k->len, -1, k->yb, 1, k->ab, 1); }

/* }====== */

/* {====== MATMUL: the matrix product (r x k)(k x c) ====== */

static mpl_expr *matmul_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) {
  if (!ts || !a || !b) return NULL;
  char sa[32], sb[32];
  if (a->cols != b->rows) {
    mpl__builder_error(ts, "matrix product: inner dimensions differ (%s times %s)", mpl__shape_str(a, sa),
                       mpl__shape_str(b, sb));
    return NULL;
  }
  return node(ts, op, a->rows, b->cols, a, b);
}
static void matmul_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  wrapped(e->a, fmt, s, 4);
  put(s, " ");
  wrapped(e->b, fmt, s, 5);
}
static int matmul_emit(mpl_lowering *C, const mpl_expr *e) {
  const mpl_expr *a = e->a, *b = e->b;
  if (a->cols == MPL_DIM_ONE) return mpl__pbin(C, MPL_OP_MUL, mpl__emit(C, a), mpl__emit(C, b));
  if (a->rows == MPL_DIM_ONE && b->cols == MPL_DIM_ONE) return mpl__pdot(C, mpl__emit(C, a), mpl__emit(C, b));
  mpl_plist A = {0};
  int x, res = -1;
  if (a->rows != MPL_DIM_ONE) { /* matrix times column vector */
    if (mpl__lower(C, a, &A) == 0 && (x = mpl__emit(C, b)) >= 0) res = mpl__apply(C, &A, x);
  } else { /* row vector times matrix: (b^T a^T)^T */
    if (mpl__lower(C, b, &A) == 0 && (x = mpl__emit(C, a)) >= 0) {
      mpl__transpose_pieces(&A);
      res = mpl__apply(C, &A, x);
    }
  }
  free(A.p);
  return res;
}
static int matmul_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) {
  if (e->a->cols == MPL_DIM_ONE) return mpl__push_outer(C, L, mpl__emit(C, e->a), mpl__emit(C, e->b), -1, 1);
  mpl_plist A = {0}, B = {0};
  int rc = mpl__lower(C, e->a, &A);
  if (rc == 0) rc = mpl__lower(C, e->b, &B);
  if (rc == 0) rc = mpl__lower_product(C, &A, &B, L);
  free(A.p);
  free(B.p);
  return rc;
}

/* }====== */

/* {====== T: the transpose ====== */

static mpl_expr *t_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) {
  (void)b;
  if (!ts || !a) return NULL;
  if (mpl__is_scalar(a)) return a;
  if (a->op == MPL_OP_T) return a->a;
  return node(ts, op, a->cols, a->rows, a, NULL);
}
/* LaTeX: an operand that ends in a superscript (x^{2}, x^\top) is braced: no double superscript. */
static void t_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  int latex = fmt == MPL_FMT_LATEX;
  int sup = latex && (e->a->op == MPL_OP_T || (e->a->op == MPL_OP_FN && e->a->sig == MPL_FN_SQUARE));
  if (sup) put(s, "{");
  wrapped(e->a, fmt, s, 5);
  put(s, sup ? "}^\\top" : latex ? "^\\top" : "ᵀ");
}
static int t_emit(mpl_lowering *C, const mpl_expr *e) { return mpl__emit(C, e->a); }
static int t_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) {
  mpl_plist A = {0};
  int rc = mpl__lower(C, e->a, &A);
  mpl__transpose_pieces(&A);
  if (rc == 0) rc = mpl__append_scaled(C, L, &A, -1, 1);
  free(A.p);
  return rc;
}

/* }====== */

/* {====== SUM: the sum of all entries, 1x1 ====== */

static mpl_expr *sum_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) {
  (void)b;
  if (!ts || !a) return NULL;
  if (mpl__is_scalar(a)) return a;
  return node(ts, op, MPL_DIM_ONE, MPL_DIM_ONE, a, NULL);
}
/* The operand between an opening and a closing text, LaTeX's or the text form's. */
static void enclosed(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s, const char *latex_open, const char *latex_close,
                     const char *text_open, const char *text_close) {
  int latex = fmt == MPL_FMT_LATEX;
  put(s, latex ? latex_open : text_open);
  print_rec(e->a, fmt, s);
  put(s, latex ? latex_close : text_close);
}
static void sigma_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  enclosed(e, fmt, s, "\\textstyle\\sum\\left(", "\\right)", "Σ(", ")");
}
static int sigma_emit(mpl_lowering *C, const mpl_expr *e) {
  if (is_vec_or_scalar(e->a)) {
    int a = mpl__emit(C, e->a);
    return a < 0 ? -1 : mpl__pnode(C, MPL_OP_SUM, MPL_DIM_ONE, a, -1, 0, 0);
  }
  mpl_plist A = {0};
  int res = mpl__lower(C, e->a, &A) == 0 ? mpl__sum_pieces(C, &A, e->a->rows, e->a->cols) : -1;
  free(A.p);
  return res;
}
static void sigma_forward(const mpl_kernel *k) {
  double s = 0;
  for (int j = 0; j < k->la; j++) s += k->a[j];
  k->y[0] = s;
}
static void sigma_reverse(const mpl_kernel *k) {
  for (int j = 0; j < k->la; j++) k->ab[j] += k->yb[0];
}

/* }====== */

/* {====== FN: a smooth elementwise function (expr.c: mpl__fn_eval, mpl__fn_deriv) ====== */

mpl_expr *mpl_fn(mpl_termset *ts, mpl_func f, mpl_expr *a) {
  if (!ts || !a) return NULL;
  if ((int)f < 0 || f >= MPL_FN_COUNT) return mpl__builder_error(ts, "unknown function %d", (int)f), NULL;
  return mpl__node(ts, MPL_OP_FN, a->rows, a->cols, a, NULL, (int)f, 0);
}

/* A function in its usual notation (issue 25): \exp(x), \log(x), \tanh(x), \sigma(x), x^{2}
 * (parenthesised unless x is a signal), \sqrt{x}, \frac{1}{x}, [x]_{+}, |x|, \operatorname{sgn}(x);
 * elementwise, as in the text form. */
static void fn_print_latex(const mpl_expr *e, mpl_sbuf *s) {
  static const struct { const char *open, *close; } form[] = {
    [MPL_FN_EXP] = {"\\exp\\left(", "\\right)"},   [MPL_FN_LOG] = {"\\log\\left(", "\\right)"},
    [MPL_FN_TANH] = {"\\tanh\\left(", "\\right)"}, [MPL_FN_SIGMOID] = {"\\sigma\\left(", "\\right)"},
    [MPL_FN_SQRT] = {"\\sqrt{", "}"},               [MPL_FN_RECIP] = {"\\frac{1}{", "}"},
    [MPL_FN_RELU] = {"\\left[", "\\right]_{+}"},     [MPL_FN_ABS] = {"\\left|", "\\right|"},
    [MPL_FN_SIGN] = {"\\operatorname{sgn}\\left(", "\\right)"}};
  if (e->sig == MPL_FN_SQUARE) {
    int atom = e->a->op == MPL_OP_SIG || e->a->op == MPL_OP_ONES;
    put(s, atom ? "{" : "\\left(");
    print_rec(e->a, MPL_FMT_LATEX, s);
    put(s, atom ? "}^{2}" : "\\right)^{2}");
    return;
  }
  put(s, form[e->sig].open);
  print_rec(e->a, MPL_FMT_LATEX, s);
  put(s, form[e->sig].close);
}
static void fn_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  if (fmt == MPL_FMT_LATEX) { fn_print_latex(e, s); return; }
  put(s, mpl__fn_name((mpl_func)e->sig));
  put(s, "(");
  print_rec(e->a, fmt, s);
  put(s, ")");
}
static void fn_code(const mpl_expr *e, mpl_sbuf *s) {
  put(s, mpl__fn_name((mpl_func)e->sig));
  put(s, "(");
  print_code(e->a, s);
  put(s, ")");
}
static int fn_emit(mpl_lowering *C, const mpl_expr *e) {
  int a = mpl__emit(C, e->a);
  return a < 0 ? -1 : mpl__pnode(C, MPL_OP_FN, vec_dim(e), a, -1, e->sig, 0);
}
/* A function of a matrix: of W alone (tanh(W), square(1 - W)), an elementwise piece g(W) (lower.c). */
static int fn_lower(mpl_lowering *C, const mpl_expr *e, mpl_plist *L) {
  mpl_plist A = {0};
  int rc = mpl__lower(C, e->a, &A);
  if (rc == 0) rc = mpl__lower_wfn(C, e->sig, &A, L);
  free(A.p);
  return C->failed ? -1 : rc;
}
static void fn_forward(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) k->y[j] = mpl__fn_eval((mpl_func)k->arg, k->a[j]);
}
static void fn_reverse(const mpl_kernel *k) {
  for (int j = 0; j < k->len; j++) k->ab[j] += k->yb[j] * mpl__fn_deriv((mpl_func)k->arg, k->a[j]);
}

/* }====== */

/* {====== MEAN, NORM: reductions of a vector to a scalar ====== */

/* A vector (column or row) or a scalar; a matrix is refused with the formula named. mean(s) = s,
 * norm(s) = abs(s). */
static mpl_expr *reduction_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) {
  (void)b;
  if (!ts || !a) return NULL;
  if (mpl__is_scalar(a)) return op == MPL_OP_MEAN ? a : mpl_fn(ts, MPL_FN_ABS, a);
  if (!is_vec_or_scalar(a)) {
    char sa[32], text[80];
    if (mpl_expr_print(a, MPL_FMT_CODE, text, sizeof text) >= sizeof text) strcpy(text + sizeof text - 4, "...");
    mpl__builder_error(ts, "%s(%s): %s reduces a vector (n x 1 or 1 x n) to a scalar, got %s%s", mpl__ops[op].name,
                       text, mpl__ops[op].name, mpl__shape_str(a, sa),
                       op == MPL_OP_MEAN ? " (the sum of a matrix's entries is sum(...))" : "");
    return NULL;
  }
  return node(ts, op, MPL_DIM_ONE, MPL_DIM_ONE, a, NULL);
}
/* Text: mean(x), ‖x‖; LaTeX: \operatorname{mean}(x), \lVert x \rVert. */
static void mean_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  enclosed(e, fmt, s, "\\operatorname{mean}\\left(", "\\right)", "mean(", ")");
}
static void norm_print(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  enclosed(e, fmt, s, "\\left\\lVert ", "\\right\\rVert", "‖", "‖");
}
static int reduction_emit(mpl_lowering *C, const mpl_expr *e) {
  int a = mpl__emit(C, e->a);
  return a < 0 ? -1 : mpl__pnode(C, (mpl_op)e->op, MPL_DIM_ONE, a, -1, 0, 0);
}
static void mean_forward(const mpl_kernel *k) {
  double s = 0;
  for (int j = 0; j < k->la; j++) s += k->a[j];
  k->y[0] = s / k->la;
}
static void mean_reverse(const mpl_kernel *k) {
  double g = k->yb[0] / k->la;
  for (int j = 0; j < k->la; j++) k->ab[j] += g;
}
/* The Euclidean norm sqrt(a^T a); its gradient a / ||a||, and the subgradient 0 at a = 0. */
static double norm2(const double *a, int n) { return sqrt(cblas_ddot(n, a, 1, a, 1)); }
static void norm_forward(const mpl_kernel *k) { k->y[0] = norm2(k->a, k->la); }
static void norm_reverse(const mpl_kernel *k) {
  double r = norm2(k->a, k->la); /* recomputed: a reverse kernel is not handed its value */
  if (r > 0) cblas_daxpy(k->la, k->yb[0] / r, k->a, 1, k->ab, 1);
}

/* }====== */

/* {====== DOT (plan only): a^T b ====== */

static void dot_forward(const mpl_kernel *k) { k->y[0] = cblas_ddot(k->la, k->a, 1, k->b, 1); }
static void dot_reverse(const mpl_kernel *k) {
  cblas_daxpy(k->la, k->yb[0], k->b, 1, k->ab, 1);
  cblas_daxpy(k->lb, k->yb[0], k->a, 1, k->bb, 1);
}

/* }====== */

/* {====== The table ====== */

/* GEMV and GEMVT (W x, W^T x) have no kernels here: they read the layer's weights, which the
 * plan may hold lazily, and queue their adjoint's rank-1 part (plan.c, weight_product_*). */
const mpl_op_class mpl__ops[MPL_OP_COUNT] = {
  [MPL_OP_SIG] = {.prec = 5, .print = sig_print, .print_code = sig_code, .emit = sig_emit, .lower = sig_lower,
                  .forward = sig_forward, .reverse = sig_reverse},
  [MPL_OP_ONES] = {.prec = 5, .print = ones_print, .print_code = ones_code, .emit = ones_emit,
                   .forward = ones_forward},
  [MPL_OP_NUM] = {.prec = 5, .prec_of = num_prec, .print = num_print, .print_code = num_code, .emit = num_emit,
                  .forward = num_forward},
  [MPL_OP_ADD] = {.name = "add", .arity = 2, .prec = 1, .commutative = 1, .build = add_build, .print = add_print,
                  .emit = binary_emit, .lower = add_lower, .forward = add_forward, .reverse = add_reverse},
  [MPL_OP_SUB] = {.name = "sub", .arity = 2, .prec = 1, .build = sub_build, .print = sub_print,
                  .emit = binary_emit, .lower = sub_lower, .forward = sub_forward, .reverse = sub_reverse},
  [MPL_OP_NEG] = {.name = "neg", .arity = 1, .prec = 2, .build = neg_build, .print = neg_print,
                  .emit = neg_emit, .lower = neg_lower, .forward = neg_forward, .reverse = neg_reverse},
  [MPL_OP_MUL] = {.name = "mul", .arity = 2, .prec = 3, .commutative = 1, .build = mul_build, .print = mul_print,
                  .emit = binary_emit, .lower = mul_lower, .forward = mul_forward, .reverse = mul_reverse},
  [MPL_OP_MATMUL] = {.name = "matmul", .arity = 2, .prec = 4, .build = matmul_build, .print = matmul_print,
                     .emit = matmul_emit, .lower = matmul_lower},
  [MPL_OP_T] = {.name = "t", .arity = 1, .prec = 5, .build = t_build, .print = t_print, .emit = t_emit,
                .lower = t_lower},
  [MPL_OP_SUM] = {.name = "sum", .arity = 1, .prec = 5, .build = sum_build, .print = sigma_print,
                  .emit = sigma_emit, .forward = sigma_forward, .reverse = sigma_reverse},
  [MPL_OP_FN] = {.arity = 1, .prec = 5, .print = fn_print, .print_code = fn_code, .emit = fn_emit,
                 .lower = fn_lower, .forward = fn_forward, .reverse = fn_reverse},
  [MPL_OP_MEAN] = {.name = "mean", .arity = 1, .prec = 5, .build = reduction_build, .print = mean_print,
                   .emit = reduction_emit, .forward = mean_forward, .reverse = mean_reverse},
  [MPL_OP_NORM] = {.name = "norm", .arity = 1, .prec = 5, .build = reduction_build, .print = norm_print,
                   .emit = reduction_emit, .forward = norm_forward, .reverse = norm_reverse},
  [MPL_OP_DOT] = {.arity = 2, .prec = 5, .commutative = 1, .forward = dot_forward, .reverse = dot_reverse},
  [MPL_OP_GEMV] = {.arity = 1, .prec = 5},
  [MPL_OP_GEMVT] = {.arity = 1, .prec = 5},
};

int mpl__op_find(const char *name) {
  for (int op = 0; op < MPL_OP_COUNT; op++)
    if (mpl__ops[op].name && mpl__ops[op].build && !strcmp(name, mpl__ops[op].name)) return op;
  return -1;
}

mpl_expr *mpl__op_build(mpl_termset *ts, mpl_op op, mpl_expr *a, mpl_expr *b) {
  return mpl__ops[op].build(ts, op, a, b);
}

/* }====== */

/* {====== The public builders ====== */

mpl_expr *mpl_add(mpl_termset *ts, mpl_expr *a, mpl_expr *b) { return mpl__op_build(ts, MPL_OP_ADD, a, b); }
mpl_expr *mpl_sub(mpl_termset *ts, mpl_expr *a, mpl_expr *b) { return mpl__op_build(ts, MPL_OP_SUB, a, b); }
mpl_expr *mpl_mul(mpl_termset *ts, mpl_expr *a, mpl_expr *b) { return mpl__op_build(ts, MPL_OP_MUL, a, b); }
mpl_expr *mpl_neg(mpl_termset *ts, mpl_expr *a) { return mpl__op_build(ts, MPL_OP_NEG, a, NULL); }
mpl_expr *mpl_matmul(mpl_termset *ts, mpl_expr *a, mpl_expr *b) { return mpl__op_build(ts, MPL_OP_MATMUL, a, b); }
mpl_expr *mpl_t(mpl_termset *ts, mpl_expr *a) { return mpl__op_build(ts, MPL_OP_T, a, NULL); }
mpl_expr *mpl_sum(mpl_termset *ts, mpl_expr *a) { return mpl__op_build(ts, MPL_OP_SUM, a, NULL); }
mpl_expr *mpl_mean(mpl_termset *ts, mpl_expr *a) { return mpl__op_build(ts, MPL_OP_MEAN, a, NULL); }
mpl_expr *mpl_norm(mpl_termset *ts, mpl_expr *a) { return mpl__op_build(ts, MPL_OP_NORM, a, NULL); }

/* Conveniences, not node kinds: outer(u, v) = u v^T, dot(a, b) = a^T b. */
mpl_expr *mpl_outer(mpl_termset *ts, mpl_expr *u, mpl_expr *v) {
  if (!ts || !u || !v) return NULL;
  char su[32], sv[32];
  if (u->cols != MPL_DIM_ONE || v->cols != MPL_DIM_ONE || u->rows == MPL_DIM_ONE || v->rows == MPL_DIM_ONE) {
    mpl__builder_error(ts, "outer product needs two column vectors, got %s and %s", mpl__shape_str(u, su),
                       mpl__shape_str(v, sv));
    return NULL;
  }
  return mpl_matmul(ts, u, mpl_t(ts, v));
}

mpl_expr *mpl_dot(mpl_termset *ts, mpl_expr *a, mpl_expr *b) {
  if (!ts || !a || !b) return NULL;
  char sa[32], sb[32];
  if (a->cols != MPL_DIM_ONE || b->cols != MPL_DIM_ONE || a->rows != b->rows) {
    mpl__builder_error(ts, "dot product needs two column vectors of one length, got %s and %s",
                       mpl__shape_str(a, sa), mpl__shape_str(b, sb));
    return NULL;
  }
  return mpl_matmul(ts, mpl_t(ts, a), b);
}

/* }====== */

/* {====== Printing ====== */

static void put(mpl_sbuf *s, const char *txt) {
  size_t k = strlen(txt);
  if (s->len < s->n) {
    size_t room = s->n - s->len - 1, c = k < room ? k : room;
    if (c < k) /* never cut a UTF-8 character in two */
      while (c > 0 && ((unsigned char)txt[c] & 0xC0) == 0x80) c--;
    memcpy(s->p + s->len, txt, c);
    s->p[s->len + c] = '\0';
    if (c < k) s->n = s->len + c + 1; /* full: later pieces must not append after the cut */
  }
  s->len += k;
}

static int prec(const mpl_expr *e) {
  const mpl_op_class *k = &mpl__ops[e->op];
  return k->prec_of ? k->prec_of(e) : k->prec;
}

static void wrapped(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s, int min_prec) {
  int paren = prec(e) < min_prec;
  if (paren) put(s, fmt == MPL_FMT_LATEX ? "\\left(" : "(");
  print_rec(e, fmt, s);
  if (paren) put(s, fmt == MPL_FMT_LATEX ? "\\right)" : ")");
}

static void print_rec(const mpl_expr *e, mpl_format fmt, mpl_sbuf *s) {
  const mpl_op_class *k = &mpl__ops[e->op];
  if (k->print) k->print(e, fmt, s);
  else put(s, "?");
}

/* The code form: a kind's own, or name(a[, b]). */
static void print_code(const mpl_expr *e, mpl_sbuf *s) {
  const mpl_op_class *k = &mpl__ops[e->op];
  if (k->print_code) { k->print_code(e, s); return; }
  put(s, k->name);
  put(s, "(");
  print_code(e->a, s);
  if (e->b) { put(s, ", "); print_code(e->b, s); }
  put(s, ")");
}

size_t mpl_expr_print(const mpl_expr *e, mpl_format fmt, char *buf, size_t n) {
  mpl_sbuf s = {buf, n, 0};
  if (n) buf[0] = '\0';
  if (!e) put(&s, "(null)");
  else if (fmt == MPL_FMT_CODE) print_code(e, &s);
  else print_rec(e, fmt, &s);
  return s.len;
}

/* A native term without a LaTeX form, in LaTeX: F_{\text{name}} (its formula is Unicode text, which
 * would break a document; issue 25), the name's underscores escaped. */
static void native_latex(const char *name, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "F_{\\text{");
  for (const char *p = name; *p && k + 12 < n; p++) {
    if (*p == '_') out[k++] = '\\';
    if (*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) out[k++] = *p;
  }
  snprintf(out + k, n - k, "}}");
}

size_t mpl_termset_print(const mpl_termset *ts, int i, mpl_format fmt, char *buf, size_t n) {
  const mpl_term *t = &ts->terms[i];
  if (!t->native) return mpl_expr_print(t->expr, fmt, buf, n);
  char fallback[600];
  if (fmt == MPL_FMT_LATEX && !t->native->latex) native_latex(t->name, fallback, sizeof fallback);
  const char *txt = fmt == MPL_FMT_LATEX ? (t->native->latex ? t->native->latex : fallback)
                    : fmt == MPL_FMT_CODE ? t->name : t->native->formula;
  size_t k = strlen(txt);
  if (n) snprintf(buf, n, "%s", txt);
  return k;
}

/* }====== */
