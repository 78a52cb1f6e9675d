/* metaplast tests: the term IR (shapes, builder errors, term registration, hash-consing,
 * printing) and the rule compiler's refusals. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/expr.h"
#include "metaplast/terms.h"
#include "plan.h"

#define assert_shape(e, r, c)                      \
  do {                                             \
    const mpl_expr *e_ = (e);                      \
    assert_non_null(e_);                           \
    assert_int_equal(mpl_expr_rows(e_), (r));      \
    assert_int_equal(mpl_expr_cols(e_), (c));      \
  } while (0)

/* Print e in fmt into a fresh buffer and compare with want. */
static void assert_prints(const mpl_expr *e, mpl_format fmt, const char *want) {
  char buf[512];
  size_t n = mpl_expr_print(e, fmt, buf, sizeof buf);
  if (strcmp(buf, want) != 0) fail_msg("format %d: printed \"%s\", expected \"%s\"", (int)fmt, buf, want);
  assert_int_equal(n, strlen(want));
}

/* ---- Shapes ---- */

static void test_leaf_shapes(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  assert_non_null(ts);
  assert_shape(mpl_sig(ts, MPL_SIG_PRE), MPL_DIM_PRE, MPL_DIM_ONE);
  assert_shape(mpl_sig(ts, MPL_SIG_POST), MPL_DIM_POST, MPL_DIM_ONE);
  assert_shape(mpl_sig(ts, MPL_SIG_EPRE), MPL_DIM_PRE, MPL_DIM_ONE);
  assert_shape(mpl_sig(ts, MPL_SIG_EPOST), MPL_DIM_POST, MPL_DIM_ONE);
  assert_shape(mpl_sig(ts, MPL_SIG_W), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_ones(ts, MPL_DIM_PRE), MPL_DIM_PRE, MPL_DIM_ONE);
  assert_shape(mpl_ones(ts, MPL_DIM_POST), MPL_DIM_POST, MPL_DIM_ONE);
  assert_shape(mpl_num(ts, 2.5), MPL_DIM_ONE, MPL_DIM_ONE);
  assert_null(mpl_termset_error(ts));
  assert_string_equal(mpl_dim_name(MPL_DIM_ONE), "1");
  assert_string_equal(mpl_dim_name(MPL_DIM_PRE), "n_pre");
  assert_string_equal(mpl_dim_name(MPL_DIM_POST), "n_post");
  mpl_termset_free(ts);

  /* Bad leaves record an error and return NULL. */
  ts = mpl_termset_new();
  assert_null(mpl_ones(ts, MPL_DIM_ONE));
  mpl_assert_contains(mpl_termset_error(ts), "ones vector");
  mpl_termset_clear_error(ts);
  assert_null(mpl_termset_error(ts));
  assert_null(mpl_num(ts, NAN));
  mpl_assert_contains(mpl_termset_error(ts), "not finite");
  mpl_termset_clear_error(ts);
  assert_null(mpl_num(ts, INFINITY));
  mpl_assert_contains(mpl_termset_error(ts), "constant inf is not finite");
  mpl_termset_clear_error(ts);
  assert_null(mpl_num(ts, -INFINITY));
  mpl_assert_contains(mpl_termset_error(ts), "not finite");
  mpl_termset_clear_error(ts);
  assert_null(mpl_sig(ts, (mpl_signal)17));
  mpl_assert_contains(mpl_termset_error(ts), "unknown signal 17");
  mpl_termset_clear_error(ts);
  assert_null(mpl_fn(ts, (mpl_func)42, mpl_sig(ts, MPL_SIG_PRE)));
  mpl_assert_contains(mpl_termset_error(ts), "unknown function 42");
  /* A NULL set gives NULL without crashing. */
  assert_null(mpl_sig(NULL, MPL_SIG_PRE));
  assert_null(mpl_termset_error(NULL));
  mpl_termset_free(ts);
  mpl_termset_free(NULL);
}

static void test_op_shapes(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST);
  mpl_expr *epre = mpl_sig(ts, MPL_SIG_EPRE), *epost = mpl_sig(ts, MPL_SIG_EPOST);
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W), *c = mpl_num(ts, 0.5);
  assert_shape(mpl_t(ts, pre), MPL_DIM_ONE, MPL_DIM_PRE);
  assert_shape(mpl_t(ts, W), MPL_DIM_PRE, MPL_DIM_POST);
  assert_shape(mpl_outer(ts, epost, pre), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_outer(ts, pre, post), MPL_DIM_PRE, MPL_DIM_POST);
  assert_shape(mpl_dot(ts, pre, epre), MPL_DIM_ONE, MPL_DIM_ONE);
  assert_shape(mpl_matmul(ts, W, pre), MPL_DIM_POST, MPL_DIM_ONE);
  assert_shape(mpl_matmul(ts, mpl_t(ts, W), post), MPL_DIM_PRE, MPL_DIM_ONE);
  assert_shape(mpl_matmul(ts, mpl_t(ts, post), W), MPL_DIM_ONE, MPL_DIM_PRE);
  assert_shape(mpl_matmul(ts, mpl_outer(ts, post, post), W), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_add(ts, pre, epre), MPL_DIM_PRE, MPL_DIM_ONE);
  assert_shape(mpl_sub(ts, W, mpl_outer(ts, post, pre)), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_mul(ts, post, epost), MPL_DIM_POST, MPL_DIM_ONE);
  /* A 1x1 side broadcasts, on either side. */
  assert_shape(mpl_add(ts, c, W), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_add(ts, W, c), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_mul(ts, c, pre), MPL_DIM_PRE, MPL_DIM_ONE);
  assert_shape(mpl_mul(ts, mpl_sum(ts, W), mpl_outer(ts, epost, pre)), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_sum(ts, W), MPL_DIM_ONE, MPL_DIM_ONE);
  assert_shape(mpl_sum(ts, post), MPL_DIM_ONE, MPL_DIM_ONE);
  assert_shape(mpl_neg(ts, W), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_fn(ts, MPL_FN_TANH, epost), MPL_DIM_POST, MPL_DIM_ONE);
  assert_shape(mpl_fn(ts, MPL_FN_EXP, W), MPL_DIM_POST, MPL_DIM_PRE);
  assert_shape(mpl_fn(ts, MPL_FN_RELU, pre), MPL_DIM_PRE, MPL_DIM_ONE);
  assert_shape(mpl_mean(ts, post), MPL_DIM_ONE, MPL_DIM_ONE);
  assert_shape(mpl_norm(ts, mpl_t(ts, pre)), MPL_DIM_ONE, MPL_DIM_ONE);
  /* of a scalar: mean(s) = s, norm(s) = abs(s) */
  assert_ptr_equal(mpl_mean(ts, c), c);
  assert_ptr_equal(mpl_norm(ts, c), mpl_fn(ts, MPL_FN_ABS, c));
  assert_null(mpl_termset_error(ts));
  mpl_termset_free(ts);
}

/* ---- Builder errors ---- */

/* Build a bad expression with bad(), check the recorded message, that NULL propagates through
 * later builders, and that registering the result fails naming the term and the error. */
typedef mpl_expr *(*bad_builder)(mpl_termset *ts);

static mpl_expr *bad_add(mpl_termset *ts) { return mpl_add(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_PRE)); }
static mpl_expr *bad_mul(mpl_termset *ts) { return mpl_mul(ts, mpl_sig(ts, MPL_SIG_W), mpl_sig(ts, MPL_SIG_POST)); }
static mpl_expr *bad_matmul(mpl_termset *ts) { return mpl_matmul(ts, mpl_sig(ts, MPL_SIG_W), mpl_sig(ts, MPL_SIG_EPOST)); }
static mpl_expr *bad_outer(mpl_termset *ts) { return mpl_outer(ts, mpl_sig(ts, MPL_SIG_W), mpl_sig(ts, MPL_SIG_PRE)); }
static mpl_expr *bad_outer_row(mpl_termset *ts) {
  return mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_t(ts, mpl_sig(ts, MPL_SIG_PRE)));
}
static mpl_expr *bad_outer_scalar(mpl_termset *ts) { return mpl_outer(ts, mpl_num(ts, 2), mpl_sig(ts, MPL_SIG_PRE)); }
static mpl_expr *bad_dot(mpl_termset *ts) { return mpl_dot(ts, mpl_sig(ts, MPL_SIG_PRE), mpl_sig(ts, MPL_SIG_POST)); }
static mpl_expr *bad_mean(mpl_termset *ts) { return mpl_mean(ts, mpl_sig(ts, MPL_SIG_W)); }
static mpl_expr *bad_norm(mpl_termset *ts) {
  return mpl_norm(ts, mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_PRE)));
}

static void check_builder_error(bad_builder bad, const char *msg, const char *shape_a, const char *shape_b) {
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *epost = mpl_sig(ts, MPL_SIG_EPOST);
  assert_null(mpl_termset_error(ts));
  mpl_expr *e = bad(ts);
  assert_null(e);
  const char *m = mpl_termset_error(ts);
  mpl_assert_contains(m, msg);
  mpl_assert_contains(m, shape_a);
  mpl_assert_contains(m, shape_b);
  char first[512];
  snprintf(first, sizeof first, "%s", m);
  /* NULL propagates through every builder. */
  assert_null(mpl_neg(ts, e));
  assert_null(mpl_t(ts, e));
  assert_null(mpl_sum(ts, e));
  assert_null(mpl_mean(ts, e));
  assert_null(mpl_norm(ts, e));
  assert_null(mpl_fn(ts, MPL_FN_TANH, e));
  assert_null(mpl_add(ts, e, epost));
  assert_null(mpl_sub(ts, epost, e));
  assert_null(mpl_mul(ts, e, e));
  assert_null(mpl_matmul(ts, e, mpl_t(ts, pre)));
  assert_null(mpl_outer(ts, epost, e));
  assert_null(mpl_dot(ts, e, pre));
  mpl_expr *term = mpl_neg(ts, mpl_outer(ts, e, pre));
  assert_null(term);
  /* A later, unrelated shape error does not replace the first one. */
  assert_null(mpl_add(ts, pre, epost));
  assert_string_equal(mpl_termset_error(ts), first);
  /* Registration reports the term and the builder error. */
  mpl_err err = {0};
  assert_int_equal(mpl_termset_add(ts, "Fbad", "broken", term, &err), MPL_ESHAPE);
  assert_int_equal(err.code, MPL_ESHAPE);
  mpl_assert_contains(err.msg, "Fbad");
  mpl_assert_contains(err.msg, first);
  assert_int_equal(mpl_termset_count(ts), 0);
  /* After clearing, the set is usable again. */
  mpl_termset_clear_error(ts);
  assert_int_equal(mpl_termset_add(ts, "F0", NULL, mpl_neg(ts, mpl_outer(ts, epost, pre)), &err), MPL_OK);
  assert_int_equal(mpl_termset_count(ts), 1);
  mpl_termset_free(ts);
}

static void test_builder_errors(void **state) {
  (void)state;
  check_builder_error(bad_add, "+: shapes", "n_post x 1", "n_pre x 1");
  check_builder_error(bad_mul, "elementwise *", "n_post x n_pre", "n_post x 1");
  check_builder_error(bad_matmul, "inner dimensions differ", "n_post x n_pre", "n_post x 1");
  check_builder_error(bad_outer, "outer product", "n_post x n_pre", "n_pre x 1");
  check_builder_error(bad_outer_row, "outer product", "n_post x 1", "1 x n_pre");
  check_builder_error(bad_outer_scalar, "outer product", "1 x 1", "n_pre x 1");
  check_builder_error(bad_dot, "dot product", "n_pre x 1", "n_post x 1");
  /* a reduction of a matrix names its formula (issue 27) */
  check_builder_error(bad_mean, "mean(W): mean reduces a vector (n x 1 or 1 x n) to a scalar", "got n_post x n_pre",
                      "sum(...)");
  check_builder_error(bad_norm, "norm(matmul(post, t(pre))): norm reduces a vector", "got n_post x n_pre", "norm");
}

/* A NULL expression with no builder error still fails cleanly. */
static void test_add_null_without_error(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  assert_int_equal(mpl_termset_add(ts, "X", NULL, NULL, &err), MPL_ESHAPE);
  mpl_assert_contains(err.msg, "'X'");
  mpl_assert_contains(err.msg, "no expression");
  mpl_termset_free(ts);
}

/* ---- Term registration ---- */

static void test_term_shape_refused(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST);
  mpl_err err = {0};
  /* The transpose of W's shape. */
  assert_int_equal(mpl_termset_add(ts, "Tr", NULL, mpl_outer(ts, pre, post), &err), MPL_ESHAPE);
  mpl_assert_contains(err.msg, "'Tr'");
  mpl_assert_contains(err.msg, "n_post x n_pre");
  mpl_assert_contains(err.msg, "got n_pre x n_post");
  /* A vector and a scalar. */
  assert_int_equal(mpl_termset_add(ts, "Vec", NULL, post, &err), MPL_ESHAPE);
  mpl_assert_contains(err.msg, "'Vec'");
  mpl_assert_contains(err.msg, "got n_post x 1");
  assert_int_equal(mpl_termset_add(ts, "Sc", NULL, mpl_dot(ts, pre, pre), &err), MPL_ESHAPE);
  mpl_assert_contains(err.msg, "got 1 x 1");
  /* n_post x n_post */
  assert_int_equal(mpl_termset_add(ts, "Sq", NULL, mpl_outer(ts, post, post), &err), MPL_ESHAPE);
  mpl_assert_contains(err.msg, "got n_post x n_post");
  assert_int_equal(mpl_termset_count(ts), 0);
  assert_null(mpl_termset_error(ts)); /* these are not builder errors */
  mpl_termset_free(ts);
}

static void test_term_names(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *f0 = mpl_neg(ts, mpl_outer(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_PRE)));
  mpl_expr *f3 = mpl_neg(ts, mpl_sig(ts, MPL_SIG_W));
  mpl_err err = {0};
  char name[8] = "F0";
  assert_int_equal(mpl_termset_add(ts, name, "pseudo-gradient", f0, &err), MPL_OK);
  name[1] = 'x'; /* the name is copied */
  assert_int_equal(mpl_termset_add(ts, "F3", NULL, f3, &err), MPL_OK);
  assert_int_equal(mpl_termset_count(ts), 2);
  assert_string_equal(mpl_termset_name(ts, 0), "F0");
  assert_string_equal(mpl_termset_description(ts, 0), "pseudo-gradient");
  assert_string_equal(mpl_termset_description(ts, 1), "");
  assert_ptr_equal(mpl_termset_expr(ts, 0), f0);
  assert_ptr_equal(mpl_termset_expr(ts, 1), f3);
  assert_int_equal(mpl_termset_find(ts, "F3"), 1);
  assert_int_equal(mpl_termset_find(ts, "F9"), -1);
  /* Duplicate (even with another expression), empty and missing names. */
  assert_int_equal(mpl_termset_add(ts, "F0", NULL, f3, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "'F0'");
  mpl_assert_contains(err.msg, "twice");
  assert_int_equal(mpl_termset_add(ts, "", NULL, f0, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "name");
  assert_int_equal(mpl_termset_add(ts, NULL, NULL, f0, &err), MPL_EINVAL);
  assert_int_equal(mpl_termset_count(ts), 2);
  assert_int_equal(mpl_termset_add(NULL, "F0", NULL, f0, &err), MPL_EINVAL);
  /* Declared signs: none by default; set by name; unknown names and values refused. */
  assert_int_equal(mpl_termset_sign(ts, 0), 0);
  assert_int_equal(mpl_termset_set_sign(ts, "F3", +1, &err), MPL_OK);
  assert_int_equal(mpl_termset_sign(ts, 1), 1);
  assert_int_equal(mpl_termset_sign(ts, 0), 0);
  assert_int_equal(mpl_termset_set_sign(ts, "F3", 0, &err), MPL_OK);
  assert_int_equal(mpl_termset_sign(ts, 1), 0);
  assert_int_equal(mpl_termset_set_sign(ts, "F9", +1, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "'F9'");
  assert_int_equal(mpl_termset_set_sign(ts, "F0", 2, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "'F0'");
  assert_int_equal(mpl_termset_set_sign(ts, NULL, 1, &err), MPL_ENOTFOUND);
  assert_int_equal(mpl_termset_sign(ts, 0), 0);
  mpl_termset_free(ts);
}

/* ---- Hash-consing ---- */

static mpl_expr *build_oja(mpl_termset *ts) {
  mpl_expr *post = mpl_sig(ts, MPL_SIG_POST), *pre = mpl_sig(ts, MPL_SIG_PRE);
  return mpl_sub(ts, mpl_outer(ts, post, pre), mpl_matmul(ts, mpl_outer(ts, post, post), mpl_sig(ts, MPL_SIG_W)));
}

static void test_hash_consing(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  assert_ptr_equal(mpl_sig(ts, MPL_SIG_PRE), mpl_sig(ts, MPL_SIG_PRE));
  assert_ptr_not_equal(mpl_sig(ts, MPL_SIG_PRE), mpl_sig(ts, MPL_SIG_EPRE));
  assert_ptr_equal(mpl_num(ts, 0.25), mpl_num(ts, 0.25));
  assert_ptr_equal(mpl_num(ts, 0.0), mpl_num(ts, -0.0));
  assert_ptr_not_equal(mpl_num(ts, 0.25), mpl_num(ts, 0.5));
  assert_ptr_equal(mpl_ones(ts, MPL_DIM_POST), mpl_ones(ts, MPL_DIM_POST));
  assert_ptr_not_equal(mpl_ones(ts, MPL_DIM_POST), mpl_ones(ts, MPL_DIM_PRE));
  int before = ts->n_nodes;
  mpl_expr *a = build_oja(ts);
  int after = ts->n_nodes;
  mpl_expr *b = build_oja(ts);
  assert_non_null(a);
  assert_ptr_equal(a, b);
  assert_int_equal(ts->n_nodes, after); /* nothing new the second time */
  assert_true(after > before);
  /* Operand order matters, and the function is part of the node. */
  mpl_expr *post = mpl_sig(ts, MPL_SIG_POST), *epost = mpl_sig(ts, MPL_SIG_EPOST);
  assert_ptr_not_equal(mpl_sub(ts, post, epost), mpl_sub(ts, epost, post));
  assert_ptr_not_equal(mpl_fn(ts, MPL_FN_TANH, post), mpl_fn(ts, MPL_FN_EXP, post));
  assert_ptr_equal(mpl_fn(ts, MPL_FN_TANH, post), mpl_fn(ts, MPL_FN_TANH, post));
  /* Simplifications: double negation and double transpose are the operand itself. */
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W);
  assert_ptr_equal(mpl_neg(ts, mpl_neg(ts, W)), W);
  assert_ptr_equal(mpl_t(ts, mpl_t(ts, W)), W);
  assert_ptr_equal(mpl_neg(ts, mpl_num(ts, 2)), mpl_num(ts, -2));
  /* Two sets never share nodes. */
  mpl_termset *ts2 = mpl_termset_new();
  assert_ptr_not_equal(build_oja(ts2), a);
  mpl_termset_free(ts2);
  mpl_termset_free(ts);
}

/* ---- Printing ---- */

static void test_print_paper_terms(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  assert_int_equal(mpl_test_paper_pool(ts, &err), MPL_OK);
  const mpl_expr *f0 = mpl_termset_expr(ts, mpl_termset_find(ts, "F0"));
  const mpl_expr *f9 = mpl_termset_expr(ts, mpl_termset_find(ts, "F9"));
  assert_prints(f0, MPL_FMT_TEXT, "−e_ℓ y_{ℓ−1}ᵀ");
  assert_prints(f0, MPL_FMT_LATEX, "-e_{\\ell} y_{\\ell-1}^\\top");
  assert_prints(f0, MPL_FMT_CODE, "neg(matmul(e_post, t(pre)))");
  assert_prints(f9, MPL_FMT_TEXT, "y_ℓ y_{ℓ−1}ᵀ − y_ℓ y_ℓᵀ W");
  assert_prints(f9, MPL_FMT_LATEX, "y_{\\ell} y_{\\ell-1}^\\top - y_{\\ell} y_{\\ell}^\\top W_{\\ell-1,\\ell}");
  assert_prints(f9, MPL_FMT_CODE, "sub(matmul(post, t(pre)), matmul(matmul(post, t(post)), W))");
  const mpl_expr *f4 = mpl_termset_expr(ts, mpl_termset_find(ts, "F4"));
  assert_prints(f4, MPL_FMT_TEXT, "−1_ℓ e_{ℓ−1}ᵀ");
  assert_prints(f4, MPL_FMT_LATEX, "-\\mathbf{1}_{\\ell} e_{\\ell-1}^\\top");
  assert_prints(f4, MPL_FMT_CODE, "neg(matmul(ones_post, t(e_pre)))");
  mpl_termset_free(ts);
}

static void test_print_parentheses(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST);
  mpl_expr *epre = mpl_sig(ts, MPL_SIG_EPRE), *epost = mpl_sig(ts, MPL_SIG_EPOST), *W = mpl_sig(ts, MPL_SIG_W);
  /* eHebb with an offset: e_l (e_{l-1} + 0.01)^T */
  mpl_expr *off = mpl_outer(ts, epost, mpl_add(ts, epre, mpl_num(ts, 0.01)));
  assert_prints(off, MPL_FMT_TEXT, "e_ℓ (e_{ℓ−1} + 0.01)ᵀ");
  assert_prints(off, MPL_FMT_LATEX, "e_{\\ell} \\left(e_{\\ell-1} + 0.01\\right)^\\top");
  assert_prints(off, MPL_FMT_CODE, "matmul(e_post, t(add(e_pre, 0.01)))");
  /* A scaled sum and a right-nested difference. */
  mpl_expr *sc = mpl_mul(ts, mpl_num(ts, 2), mpl_add(ts, mpl_outer(ts, post, pre), W));
  assert_prints(sc, MPL_FMT_TEXT, "2 (y_ℓ y_{ℓ−1}ᵀ + W)");
  assert_prints(sc, MPL_FMT_LATEX, "2 \\left(y_{\\ell} y_{\\ell-1}^\\top + W_{\\ell-1,\\ell}\\right)");
  assert_prints(sc, MPL_FMT_CODE, "mul(2, add(matmul(post, t(pre)), W))");
  mpl_expr *nd = mpl_sub(ts, W, mpl_sub(ts, W, mpl_outer(ts, epost, epre)));
  assert_prints(nd, MPL_FMT_TEXT, "W − (W − e_ℓ e_{ℓ−1}ᵀ)");
  assert_prints(nd, MPL_FMT_CODE, "sub(W, sub(W, matmul(e_post, t(e_pre))))");
  /* Hadamard product, a function, a sum and a negative constant. */
  mpl_expr *had = mpl_mul(ts, mpl_outer(ts, post, pre), mpl_outer(ts, epost, mpl_fn(ts, MPL_FN_TANH, epre)));
  assert_prints(had, MPL_FMT_TEXT, "y_ℓ y_{ℓ−1}ᵀ ⊙ e_ℓ tanh(e_{ℓ−1})ᵀ");
  assert_prints(had, MPL_FMT_LATEX,
                "y_{\\ell} y_{\\ell-1}^\\top \\odot e_{\\ell} \\tanh\\left(e_{\\ell-1}\\right)^\\top");
  /* issue 25: every function in its usual LaTeX notation, not \operatorname{square} */
  static const struct { mpl_func f; const char *latex; } fns[] = {
    {MPL_FN_EXP, "\\exp\\left(y_{\\ell}\\right)"}, {MPL_FN_LOG, "\\log\\left(y_{\\ell}\\right)"},
    {MPL_FN_TANH, "\\tanh\\left(y_{\\ell}\\right)"}, {MPL_FN_SIGMOID, "\\sigma\\left(y_{\\ell}\\right)"},
    {MPL_FN_SQUARE, "{y_{\\ell}}^{2}"}, {MPL_FN_SQRT, "\\sqrt{y_{\\ell}}"}, {MPL_FN_RECIP, "\\frac{1}{y_{\\ell}}"},
    {MPL_FN_RELU, "\\left[y_{\\ell}\\right]_{+}"}, {MPL_FN_ABS, "\\left|y_{\\ell}\\right|"},
    {MPL_FN_SIGN, "\\operatorname{sgn}\\left(y_{\\ell}\\right)"}};
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) assert_prints(mpl_fn(ts, fns[i].f, post), MPL_FMT_LATEX, fns[i].latex);
  assert_prints(mpl_fn(ts, MPL_FN_SQUARE, mpl_add(ts, post, post)), MPL_FMT_LATEX,
                "\\left(y_{\\ell} + y_{\\ell}\\right)^{2}");
  /* a transposed square: one superscript on each brace level (x^{2}^\top does not compile) */
  assert_prints(mpl_t(ts, mpl_fn(ts, MPL_FN_SQUARE, mpl_add(ts, post, post))), MPL_FMT_LATEX,
                "{\\left(y_{\\ell} + y_{\\ell}\\right)^{2}}^\\top");
  assert_prints(had, MPL_FMT_CODE, "mul(matmul(post, t(pre)), matmul(e_post, t(tanh(e_pre))))");
  /* issue 27: the reductions of a vector, as a threshold and as a normalisation, in all three forms */
  mpl_expr *thr = mpl_sub(ts, post, mpl_mean(ts, mpl_fn(ts, MPL_FN_SQUARE, post)));
  assert_prints(thr, MPL_FMT_TEXT, "y_ℓ − mean(square(y_ℓ))");
  assert_prints(thr, MPL_FMT_LATEX, "y_{\\ell} - \\operatorname{mean}\\left({y_{\\ell}}^{2}\\right)");
  assert_prints(thr, MPL_FMT_CODE, "sub(post, mean(square(post)))");
  mpl_expr *nr = mpl_mul(ts, mpl_norm(ts, mpl_fn(ts, MPL_FN_RELU, epost)), mpl_t(ts, pre));
  assert_prints(nr, MPL_FMT_TEXT, "‖relu(e_ℓ)‖ y_{ℓ−1}ᵀ");
  assert_prints(nr, MPL_FMT_LATEX, "\\left\\lVert \\left[e_{\\ell}\\right]_{+}\\right\\rVert y_{\\ell-1}^\\top");
  assert_prints(nr, MPL_FMT_CODE, "mul(norm(relu(e_post)), t(pre))");
  /* a relu under a transpose: [x]_{+}^\top compiles (a subscript, then one superscript) */
  assert_prints(mpl_t(ts, mpl_fn(ts, MPL_FN_RELU, pre)), MPL_FMT_LATEX, "\\left[y_{\\ell-1}\\right]_{+}^\\top");
  mpl_expr *sw = mpl_mul(ts, mpl_num(ts, -0.5), mpl_mul(ts, mpl_sum(ts, W), W));
  assert_prints(sw, MPL_FMT_TEXT, "(-0.5) (Σ(W) W)");
  assert_prints(sw, MPL_FMT_CODE, "mul(-0.5, mul(sum(W), W))");
  /* A transposed product needs parentheses before ᵀ. */
  mpl_expr *tp = mpl_t(ts, mpl_matmul(ts, W, epre));
  assert_prints(tp, MPL_FMT_TEXT, "(W e_{ℓ−1})ᵀ");
  assert_prints(tp, MPL_FMT_CODE, "t(matmul(W, e_pre))");
  mpl_termset_free(ts);
}

static void test_print_truncation(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *f9 = build_oja(ts);
  char full[256];
  size_t n = mpl_expr_print(f9, MPL_FMT_CODE, full, sizeof full);
  assert_int_equal(n, strlen(full));
  assert_true(n > 20);
  for (size_t cap = 0; cap <= n + 1; cap++) {
    char buf[256];
    memset(buf, 'Z', sizeof buf);
    size_t m = mpl_expr_print(f9, MPL_FMT_CODE, buf, cap);
    assert_int_equal(m, n); /* the length the full text needs, whatever the buffer */
    if (cap == 0) {
      assert_int_equal(buf[0], 'Z'); /* nothing written */
      continue;
    }
    size_t k = cap - 1 < n ? cap - 1 : n;
    assert_int_equal(buf[k], '\0');
    assert_memory_equal(buf, full, k);
    assert_int_equal(buf[cap], 'Z'); /* nothing past the buffer */
  }
  /* Unicode text: the byte length is returned. */
  char t[256];
  size_t nt = mpl_expr_print(f9, MPL_FMT_TEXT, t, sizeof t);
  assert_int_equal(nt, strlen(t));
  char small[4];
  memset(small, 'Z', sizeof small);   /* (was read uninitialised: a cut before a UTF-8 character ends earlier) */
  assert_int_equal(mpl_expr_print(f9, MPL_FMT_TEXT, small, sizeof small), nt);
  const char *end = memchr(small, '\0', sizeof small);
  assert_non_null(end);                                  /* terminated inside the buffer */
  assert_memory_equal(small, t, (size_t)(end - small));   /* a prefix of the whole text */
  assert_true(((unsigned char)t[end - small] & 0xC0) != 0x80); /* not inside a character */
  /* NULL prints as (null). */
  assert_int_equal(mpl_expr_print(NULL, MPL_FMT_TEXT, t, sizeof t), strlen("(null)"));
  assert_string_equal(t, "(null)");
  mpl_termset_free(ts);
}

/* ---- Compiler refusals ---- */

static void check_unsupported(mpl_expr *(*build)(mpl_termset *), const char *name, const char *why) {
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *epost = mpl_sig(ts, MPL_SIG_EPOST);
  assert_int_equal(mpl_termset_add(ts, "good", NULL, mpl_neg(ts, mpl_outer(ts, epost, pre)), &err), MPL_OK);
  mpl_expr *e = build(ts);
  assert_non_null(e);
  assert_int_equal(mpl_termset_add(ts, name, NULL, e, &err), MPL_OK);
  mpl_rule *r = (mpl_rule *)0x1;
  mpl_err_clear(&err);
  assert_int_equal(mpl__rule_compile(ts, NULL, 0, &r, &err), MPL_EUNSUPPORTED);
  assert_null(r);
  assert_int_equal(err.code, MPL_EUNSUPPORTED);
  char quoted[64];
  snprintf(quoted, sizeof quoted, "'%s'", name);
  mpl_assert_contains(err.msg, quoted);
  mpl_assert_contains(err.msg, why);
  /* Selecting only the bad term fails the same way; the good one alone compiles. */
  int bad = 1, good = 0;
  assert_int_equal(mpl__rule_compile(ts, &bad, 1, &r, &err), MPL_EUNSUPPORTED);
  mpl_assert_contains(err.msg, quoted);
  mpl_err_clear(&err);
  assert_int_equal(mpl__rule_compile(ts, &good, 1, &r, &err), MPL_OK);
  assert_non_null(r);
  assert_int_equal(r->n_terms, 1);
  mpl__rule_free(r);
  mpl_termset_free(ts);
}

static mpl_expr *wwtw(mpl_termset *ts) {
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W);
  return mpl_matmul(ts, mpl_matmul(ts, W, mpl_t(ts, W)), W);
}
static mpl_expr *wtw(mpl_termset *ts) {
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W);
  return mpl_matmul(ts, W, mpl_matmul(ts, mpl_t(ts, W), W));
}
static mpl_expr *fn_outer(mpl_termset *ts) {
  return mpl_fn(ts, MPL_FN_EXP, mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_PRE)));
}
/* Elementwise functions of W: only of W alone, and only in the update itself (g(W) ⊙ u v^T). */
static mpl_expr *fn_w_plus_outer(mpl_termset *ts) {
  return mpl_fn(ts, MPL_FN_TANH, mpl_add(ts, mpl_sig(ts, MPL_SIG_W), mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_PRE))));
}
static mpl_expr *fn_w_signal_scaled(mpl_termset *ts) {
  return mpl_fn(ts, MPL_FN_EXP, mpl_mul(ts, mpl_sum(ts, mpl_sig(ts, MPL_SIG_PRE)), mpl_sig(ts, MPL_SIG_W)));
}
static mpl_expr *had_w_product(mpl_termset *ts) { /* (W ⊙ y x^T)(x x^T) */
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE);
  return mpl_matmul(ts, mpl_mul(ts, mpl_sig(ts, MPL_SIG_W), mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), pre)),
                    mpl_outer(ts, pre, pre));
}
static mpl_expr *had_w_sum(mpl_termset *ts) { /* sum(W ⊙ W) y x^T */
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W);
  return mpl_mul(ts, mpl_sum(ts, mpl_mul(ts, W, W)), mpl_outer(ts, mpl_sig(ts, MPL_SIG_POST), mpl_sig(ts, MPL_SIG_PRE)));
}

static void test_compile_unsupported(void **state) {
  (void)state;
  check_unsupported(wwtw, "WWtW", "two weight matrices");
  check_unsupported(wtw, "W_WtW", "two weight matrices");
  check_unsupported(fn_outer, "expO", "function of a matrix is supported only as a function of W alone");
  check_unsupported(fn_w_plus_outer, "tanhWH", "not of W plus an outer product or of W scaled by a signal");
  check_unsupported(fn_w_signal_scaled, "expsW", "not of W plus an outer product or of W scaled by a signal");
  check_unsupported(had_w_product, "HwP", "a matrix product (or a sum of entries) of an elementwise function of W");
  check_unsupported(had_w_sum, "sumWW", "a matrix product (or a sum of entries) of an elementwise function of W");
}

/* The paper's pool compiles, reading every signal. */
static void test_compile_ok(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  mpl_rule *r = NULL;
  assert_int_equal(mpl_test_paper_pool(ts, &err), MPL_OK);
  assert_int_equal(mpl__rule_compile(ts, NULL, 0, &r, &err), MPL_OK);
  assert_int_equal(r->n_terms, 10);
  for (int s = 0; s < MPL_SIG_COUNT; s++) assert_true(r->uses[s]);
  mpl__rule_free(r);
  mpl__rule_free(NULL);
  mpl_termset_free(ts);
}

/* Rules without any piece: an empty selection, and a term that is identically zero. Kept last:
 * under UBSan a failure here aborts the executable. */
static void test_compile_empty(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  mpl_rule *r = NULL;
  assert_int_equal(mpl__rule_compile(ts, NULL, 0, &r, &err), MPL_OK);
  assert_int_equal(r->n_terms, 0);
  assert_int_equal(r->n_pieces, 0);
  mpl__rule_free(r);
  /* (0 e_l) y_{l-1}^T: the constant factor is peeled into the piece's coefficient, which is 0. */
  mpl_expr *zero = mpl_outer(ts, mpl_mul(ts, mpl_num(ts, 0), mpl_sig(ts, MPL_SIG_EPOST)), mpl_sig(ts, MPL_SIG_PRE));
  assert_int_equal(mpl_termset_add(ts, "Z", NULL, zero, &err), MPL_OK);
  assert_int_equal(mpl__rule_compile(ts, NULL, 0, &r, &err), MPL_OK);
  assert_int_equal(r->n_terms, 1);
  assert_int_equal(r->n_pieces, 0);
  mpl__rule_free(r);
  mpl_termset_free(ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_leaf_shapes),
      cmocka_unit_test(test_op_shapes),
      cmocka_unit_test(test_builder_errors),
      cmocka_unit_test(test_add_null_without_error),
      cmocka_unit_test(test_term_shape_refused),
      cmocka_unit_test(test_term_names),
      cmocka_unit_test(test_hash_consing),
      cmocka_unit_test(test_print_paper_terms),
      cmocka_unit_test(test_print_parentheses),
      cmocka_unit_test(test_print_truncation),
      cmocka_unit_test(test_compile_unsupported),
      cmocka_unit_test(test_compile_ok),
      cmocka_unit_test(test_compile_empty),
  };
  return cmocka_run_group_tests_name("expr", tests, NULL, NULL);
}
