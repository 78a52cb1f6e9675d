/* metaplast tests: rule files — the formula language against the IR builders, the CODE print
 * form read back, the shipped files (the paper pool identical to the plugin), the file format,
 * error messages that name file:line and term, and the sandbox from the attacker's side.
 * See LICENSE for copyright. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"

#include "front.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"

#define RULES MPL_SOURCE_DIR "/rules/"
#define BAD MPL_SOURCE_DIR "/tests/rules/"

/* CPU seconds of this thread (the loader runs in it): "fails fast" whatever the machine's load. */
static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Evaluate a formula of the rule language; fail the test on error. */
static mpl_expr *ev(mpl_termset *ts, const char *formula) {
  mpl_expr *e = NULL;
  mpl_err err = {0};
  if (mpl__rules_eval(ts, formula, &e, &err) < 0) fail_msg("'%s': %s", formula, err.msg);
  assert_non_null(e);
  return e;
}

/* Load text as a rule file named chunk into a fresh set: it must fail with code, a message
 * containing m1 and m2, nothing left in the set, and within max_s seconds. */
static void expect_refused(const char *chunk, const char *text, int code, const char *m1, const char *m2,
                           double max_s) {
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  double t0 = seconds();
  int rc = mpl__rules_load_buffer(chunk, text, strlen(text), ts, &err);
  double dt = seconds() - t0;
  if (rc != code) fail_msg("%s: got %d (%s), expected %d", text, rc, err.msg, code);
  mpl_assert_contains(err.msg, m1);
  if (m2) mpl_assert_contains(err.msg, m2);
  assert_int_equal(mpl_termset_count(ts), 0);
  if (dt > max_s) fail_msg("%s: took %.2f s (at most %.2f)", text, dt, max_s);
  mpl_termset_free(ts);
}

/* A --terms specification that must fail the same way (a source that loads but whose selection
 * fails stays in the set, as with plugins: only a failed load leaves nothing behind). */
static void expect_spec_refused(const char *spec, int code, const char *m1, const char *m2) {
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  int rc = mpl_terms_parse(spec, ts, &sel, &err);
  if (rc != code) fail_msg("%s: got %d (%s), expected %d", spec, rc, err.msg, code);
  mpl_assert_contains(err.msg, m1);
  if (m2) mpl_assert_contains(err.msg, m2);
  assert_int_equal(sel.n, 0);
  if (!strstr(m1, "no term") && !strstr(m1, "comes from both")) assert_int_equal(mpl_termset_count(ts), 0);
  mpl_termset_free(ts);
}

/* {====== The formula language ====== */

static void test_builders(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST), *epre = mpl_sig(ts, MPL_SIG_EPRE);
  mpl_expr *epost = mpl_sig(ts, MPL_SIG_EPOST), *W = mpl_sig(ts, MPL_SIG_W);
  mpl_expr *o_pre = mpl_ones(ts, MPL_DIM_PRE), *o_post = mpl_ones(ts, MPL_DIM_POST);
  mpl_expr *two = mpl_num(ts, 2), *half = mpl_num(ts, 0.5);
  mpl_expr *hebb = mpl_outer(ts, post, pre);
  struct { const char *f; mpl_expr *e; } cases[] = {
    {"pre", pre}, {"post", post}, {"e_pre", epre}, {"e_post", epost}, {"W", W},
    {"ones_pre", o_pre}, {"ones_post", o_post}, {"2", two},
    {"W + W", mpl_add(ts, W, W)}, {"add(W, W)", mpl_add(ts, W, W)},
    {"pre + 2", mpl_add(ts, pre, two)}, {"2 + pre", mpl_add(ts, two, pre)},
    {"W - 0.5", mpl_sub(ts, W, half)}, {"sub(0.5, W)", mpl_sub(ts, half, W)},
    {"2 * W", mpl_mul(ts, two, W)}, {"W * 2", mpl_mul(ts, W, two)}, {"mul(post, e_post)", mpl_mul(ts, post, epost)},
    {"post * e_post", mpl_mul(ts, post, epost)},
    {"-W", mpl_neg(ts, W)}, {"neg(W)", mpl_neg(ts, W)}, {"-(-W)", W}, {"-2", mpl_num(ts, -2)},
    {"W.T", mpl_t(ts, W)}, {"t(W)", mpl_t(ts, W)}, {"W.T.T", W},
    {"W % pre", mpl_matmul(ts, W, pre)}, {"matmul(W, pre)", mpl_matmul(ts, W, pre)},
    {"post % pre.T % W.T", mpl_matmul(ts, hebb, mpl_t(ts, W))},
    {"matmul(post, pre.T, W.T)", mpl_matmul(ts, hebb, mpl_t(ts, W))},
    {"-post % pre.T", mpl_matmul(ts, mpl_neg(ts, post), mpl_t(ts, pre))},
    {"W * post % pre.T", mpl_matmul(ts, mpl_mul(ts, W, post), mpl_t(ts, pre))}, /* shape error, below */
    {"outer(post, pre)", hebb}, {"dot(pre, e_pre)", mpl_dot(ts, pre, epre)}, {"sum(W)", mpl_sum(ts, W)},
    {"exp(pre)", mpl_fn(ts, MPL_FN_EXP, pre)}, {"log(pre)", mpl_fn(ts, MPL_FN_LOG, pre)},
    {"tanh(pre)", mpl_fn(ts, MPL_FN_TANH, pre)}, {"sigmoid(pre)", mpl_fn(ts, MPL_FN_SIGMOID, pre)},
    {"square(pre)", mpl_fn(ts, MPL_FN_SQUARE, pre)}, {"sqrt(pre)", mpl_fn(ts, MPL_FN_SQRT, pre)},
    {"recip(pre)", mpl_fn(ts, MPL_FN_RECIP, pre)}, {"tanh(2)", mpl_fn(ts, MPL_FN_TANH, two)},
    {"relu(pre)", mpl_fn(ts, MPL_FN_RELU, pre)}, {"abs(pre)", mpl_fn(ts, MPL_FN_ABS, pre)},
    {"sign(pre)", mpl_fn(ts, MPL_FN_SIGN, pre)}, {"mean(post)", mpl_mean(ts, post)},
    {"norm(post.T)", mpl_norm(ts, mpl_t(ts, post))}, {"mean(2)", two}, {"norm(2)", mpl_fn(ts, MPL_FN_ABS, two)},
    {"post * mean(post)", mpl_mul(ts, post, mpl_mean(ts, post))},
    {"post - mean(square(post))", mpl_sub(ts, post, mpl_mean(ts, mpl_fn(ts, MPL_FN_SQUARE, post)))},
    {"0.5 * outer(post, pre) - W % pre % pre.T", mpl_sub(ts, mpl_mul(ts, half, hebb),
                                                         mpl_matmul(ts, mpl_matmul(ts, W, pre), mpl_t(ts, pre)))},
  };
  mpl_termset_clear_error(ts);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (!cases[i].e) { /* W * post: elementwise n_post x n_pre by n_post x 1 is a shape error */
      mpl_termset_clear_error(ts);
      mpl_expr *e = NULL;
      mpl_err err = {0};
      assert_int_equal(mpl__rules_eval(ts, cases[i].f, &e, &err), MPL_ESHAPE);
      mpl_assert_contains(err.msg, "formula:1: elementwise *: shapes n_post x n_pre and n_post x 1 differ");
      continue;
    }
    if (ev(ts, cases[i].f) != cases[i].e) fail_msg("'%s' is not its builder's node", cases[i].f);
  }
  /* shape(), tostring and == inside a file */
  const char *text = "assert(shape(W) == 'n_post x n_pre' and shape(pre.T) == '1 x n_pre' and shape(3) == '1 x 1')\n"
                     "assert(tostring(outer(post, pre)) == 'y_ℓ y_{ℓ−1}ᵀ')\n"
                     "assert(outer(post, pre) == post % pre.T and W ~= W.T)\n"
                     "local bad = post + pre\n"
                     "assert(not pcall(shape, bad) and tostring(bad):sub(1, 26) == 'invalid expression (line 4')\n"
                     "return { { name = 'ok', expr = W } }\n";
  mpl_err err = {0};
  int rc = mpl__rules_load_buffer("inline.lua", text, strlen(text), ts, &err);
  if (rc < 0) fail_msg("%s", err.msg);
  mpl_termset_free(ts);
}

/* Every node of the pool, of the quadratic library and of rectified.lua (relu, abs, mean, norm),
 * printed in CODE form, reads back as itself; so do constants and elementwise functions. */
static void test_code_roundtrip(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  if (mpl_test_paper_pool(ts, &err) < 0) fail_msg("%s", err.msg);
  if (mpl__rules_load_file(RULES "quadratic.lua", "quadratic", ts, &err) < 0) fail_msg("%s", err.msg);
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *W = mpl_sig(ts, MPL_SIG_W);
  mpl_mul(ts, mpl_num(ts, 0.1), mpl_fn(ts, MPL_FN_TANH, mpl_matmul(ts, W, pre)));
  mpl_sub(ts, mpl_num(ts, -3.25e-300), mpl_fn(ts, MPL_FN_SIGMOID, mpl_dot(ts, pre, pre)));
  mpl_add(ts, mpl_num(ts, 1.0 / 3), mpl_sum(ts, mpl_fn(ts, MPL_FN_RECIP, W)));
  if (mpl__rules_load_file(RULES "rectified.lua", "rectified", ts, &err) < 0) fail_msg("%s", err.msg);
  mpl_mul(ts, mpl_norm(ts, mpl_fn(ts, MPL_FN_SIGN, pre)), mpl_fn(ts, MPL_FN_RELU, mpl_t(ts, pre)));
  mpl_sub(ts, mpl_fn(ts, MPL_FN_ABS, pre), mpl_mean(ts, mpl_t(ts, pre)));
  int n = ts->n_nodes;
  assert_true(n > 100);
  for (int i = 0; i < n; i++) {
    char code[4096];
    assert_true(mpl_expr_print(ts->nodes[i], MPL_FMT_CODE, code, sizeof code) < sizeof code);
    if (ev(ts, code) != ts->nodes[i]) fail_msg("node %d: '%s' does not read back as itself", i, code);
  }
  assert_int_equal(ts->n_nodes, n); /* nothing new was built */
  mpl_termset_free(ts);
}

/* }====== */

/* {====== Shipped rule files ====== */

/* rules/paper_pool.lua builds the plugin's nodes, in the plugin's order, with its names. */
static void test_paper_pool_same_trees(void **state) {
  (void)state;
  mpl_termset *a = mpl_termset_new(), *b = mpl_termset_new();
  mpl_err err = {0};
  if (mpl_test_paper_pool(a, &err) < 0) fail_msg("%s", err.msg);
  if (mpl__rules_load_file(RULES "paper_pool.lua", "paper_pool.lua", b, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(mpl_termset_count(b), 10);
  assert_int_equal(a->n_nodes, b->n_nodes);
  for (int i = 0; i < a->n_nodes; i++) {
    char ca[4096], cb[4096];
    mpl_expr_print(a->nodes[i], MPL_FMT_CODE, ca, sizeof ca);
    mpl_expr_print(b->nodes[i], MPL_FMT_CODE, cb, sizeof cb);
    assert_string_equal(ca, cb);
  }
  for (int i = 0; i < 10; i++) {
    assert_string_equal(mpl_termset_name(a, i), mpl_termset_name(b, i));
    assert_string_equal(mpl_termset_description(a, i), mpl_termset_description(b, i));
    assert_int_equal(mpl_termset_expr(a, i)->id, mpl_termset_expr(b, i)->id);
    assert_string_equal(mpl_termset_source(b, i), "paper_pool.lua");
    assert_int_equal(mpl_termset_sign(a, i), mpl_termset_sign(b, i)); /* F9 declared >= 0 in both */
    assert_int_equal(mpl_termset_sign(b, i), i == 9 ? 1 : 0);
  }
  /* and in one set, hash-consing makes them the same nodes */
  if (mpl__rules_load_file(RULES "paper_pool.lua", "paper_pool.lua", a, &err) < 0) fail_msg("%s", err.msg);
  for (int i = 0; i < 10; i++) assert_ptr_equal(mpl_termset_expr(a, i), mpl_termset_expr(a, 10 + i));
  mpl_termset_free(a);
  mpl_termset_free(b);
}

/* bio, ehebb and oja are the pool's F0, F2, F9 subsets, term for term. */
static void test_paper_subsets(void **state) {
  (void)state;
  static const struct { const char *file; const char *names[4]; } sets[] = {
    {"bio.lua", {"F0", "F2", "F9"}}, {"ehebb.lua", {"F0", "F2"}}, {"oja.lua", {"F0", "F9"}}};
  for (size_t s = 0; s < 3; s++) {
    mpl_termset *ts = mpl_termset_new();
    mpl_err err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s%s", RULES, sets[s].file);
    if (mpl_test_paper_pool(ts, &err) < 0 || mpl__rules_load_file(path, sets[s].file, ts, &err) < 0)
      fail_msg("%s", err.msg);
    int k = 0;
    for (; sets[s].names[k]; k++) {
      int p = mpl_termset_find(ts, sets[s].names[k]);
      assert_true(p >= 0 && p < 10);
      assert_string_equal(mpl_termset_name(ts, 10 + k), sets[s].names[k]);
      assert_ptr_equal(mpl_termset_expr(ts, 10 + k), mpl_termset_expr(ts, p));
    }
    assert_int_equal(mpl_termset_count(ts), 10 + k);
    mpl_termset_free(ts);
  }
}

/* quadratic.lua: at least 40 distinct terms, none equal to a pool term, all compilable. */
static void test_quadratic(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  if (mpl_test_paper_pool(ts, &err) < 0) fail_msg("%s", err.msg);
  if (mpl__rules_load_file(RULES "quadratic.lua", "quadratic", ts, &err) < 0) fail_msg("%s", err.msg);
  int n = mpl_termset_count(ts);
  assert_true(n - 10 >= 40);
  for (int i = 10; i < n; i++)
    for (int j = 0; j < i; j++) {
      mpl_expr *a = mpl_termset_expr(ts, i), *b = mpl_termset_expr(ts, j);
      if (a == b || a == mpl_neg(ts, b)) fail_msg("%s repeats %s", mpl_termset_name(ts, i), mpl_termset_name(ts, j));
    }
  mpl_termset_free(ts);
}

static char *log_without_seconds(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/log.csv", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *out = calloc(1, 1 << 20), line[8192];
  size_t len = 0;
  while (fgets(line, sizeof line, f)) {
    char *c = strrchr(line, ',');
    if (c) *c = '\0';
    len += (size_t)snprintf(out + len, (1 << 20) - len, "%s\n", line);
  }
  fclose(f);
  return out;
}

/* A search over rules/paper_pool.lua logs what a search over the plugin logs (seconds aside). */
static void test_paper_pool_identical_logs(void **state) {
  (void)state;
  char images[4096], labels[4096], out[2][4096];
  snprintf(images, sizeof images, "%s", mpl_test_path("rules-images.gz"));
  snprintf(labels, sizeof labels, "%s", mpl_test_path("rules-labels.gz"));
  snprintf(out[0], sizeof out[0], "%s", mpl_test_path("rules-run-plugin"));
  snprintf(out[1], sizeof out[1], "%s", mpl_test_path("rules-run-lua"));
  mpl_test_write_synthetic(images, labels);
  const char *specs[2] = {"paper", RULES "paper_pool.lua"};
  for (int i = 0; i < 2; i++) {
    mpl_search_cfg c;
    mpl_search_defaults(&c);
    c.images = images;
    c.labels = labels;
    c.task = (mpl_task_cfg){.m = 3, .k = 5, .q = 3, .mode = MPL_SAMPLE_CLEAN};
    c.n_hidden = 2;
    c.hidden[0] = 12;
    c.hidden[1] = 10;
    c.terms = specs[i];
    c.episodes = 6;
    c.out = out[i];
    c.force = 1;
    mpl_search_result r;
    mpl_err err = {0};
    if (mpl_search_run(&c, &r, &err) < 0) fail_msg("%s: %s", specs[i], err.msg);
    mpl_search_result_free(&r);
  }
  char *a = log_without_seconds(out[0]), *b = log_without_seconds(out[1]);
  mpl_assert_contains(a, "theta_F9");
  assert_string_equal(a, b);
  free(a);
  free(b);
}

/* }====== */

/* {====== --terms with rule files ====== */

static void test_terms_spec(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  if (mpl_terms_parse(RULES "paper_pool.lua:F9,F0", ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(sel.n, 2);
  assert_string_equal(mpl_termset_name(ts, sel.which[0]), "F9");
  assert_string_equal(mpl_termset_source(ts, sel.which[0]), RULES "paper_pool.lua");
  assert_true(sel.theta0[0] == 0 && sel.theta0[1] == 1e-3);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  /* a bare name: a plugin first, then NAME.lua on the rule path */
  setenv("METAPLAST_RULES_PATH", "/nonexistent:" MPL_SOURCE_DIR "/rules", 1);
  ts = mpl_termset_new();
  if (mpl_terms_parse("oja;quadratic:post_pre", ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(sel.n, 3);
  assert_string_equal(mpl_termset_source(ts, sel.which[0]), "oja");
  assert_string_equal(mpl_termset_name(ts, sel.which[2]), "post_pre");
  assert_string_equal(mpl_termset_source(ts, sel.which[2]), "quadratic");
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  unsetenv("METAPLAST_RULES_PATH");
  expect_spec_refused("no_such_source", MPL_ENOTFOUND, "no plugin 'no_such_source'", "no rule file 'no_such_source.lua'");
  expect_spec_refused(RULES "oja.lua:F1", MPL_ENOTFOUND, "no term 'F1'", "F0, F9");
  expect_spec_refused(BAD "does_not_exist.lua", MPL_ENOTFOUND, "does_not_exist.lua not found: looked in " BAD
                      "does_not_exist.lua (as given)", "set METAPLAST_RULES_PATH");
  expect_spec_refused("paper:F0;" RULES "oja.lua", MPL_EINVAL, "term 'F0' comes from both paper and", "oja.lua");
}

/* }====== */

/* {====== Errors name the place ====== */

static void test_error_files(void **state) {
  (void)state;
  expect_spec_refused(BAD "bad_shape.lua", MPL_ESHAPE,
                      "bad_shape.lua:6: term 'wrong': matrix product: inner dimensions differ", "(n_post x n_pre times n_post x 1)");
  expect_spec_refused(BAD "bad_syntax.lua", MPL_EFORMAT, "bad_syntax.lua:3:", "'}' expected");
  expect_spec_refused(BAD "bad_return.lua", MPL_EINVAL, "bad_return.lua: a rule file returns a list of terms",
                      "this one returned a single term: put it in a list");
  expect_spec_refused(BAD "bad_operand.lua", MPL_EINVAL, "bad_operand.lua:3: bad operand to '+'", "got string");
  expect_spec_refused(BAD "bad_os_execute.lua", MPL_EINVAL, "bad_os_execute.lua:2: 'os' is not available in rule files", NULL);
  expect_spec_refused(BAD "bad_endless_loop.lua", MPL_EINVAL, "bad_endless_loop.lua:",
                      "rule file exceeds its budget of 10000000 instructions (an endless loop?)");
  expect_spec_refused(BAD "bad_memory_bomb.lua", MPL_ENOMEM, "bad_memory_bomb.lua: rule file exceeds its memory limit",
                      "16 MiB");
  expect_spec_refused(BAD "bad_duplicate.lua", MPL_EINVAL, "bad_duplicate.lua:4: term 'hebb' is defined twice", NULL);
  expect_spec_refused(BAD "bad_unknown.lua", MPL_EINVAL, "bad_unknown.lua:3: unknown name 'sigmiod'", NULL);
  expect_spec_refused(BAD "bad_unsupported.lua", MPL_EUNSUPPORTED, "bad_unsupported.lua:3: term 'gated'",
                      "function of W alone (tanh(W), square(1 - W)), not of W plus an outer product");
  FILE *f = fopen("/tmp/metaplast-rule-file-escaped", "r");
  if (f) fclose(f);
  assert_null(f);
  /* a file whose path is longer than Lua's 60-character chunk names: its errors still start with the
   * whole path (Lua writes "...TAIL"), wherever the tree is */
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s", mpl_test_path("a-directory-whose-name-is-long-enough-to-be-cut-by-lua"));
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/bad_index.lua", dir);
  static const char text[] = "local s = 'x'\nreturn s.a.b\n";
  assert_int_equal(mpl_test_write(path, text, sizeof text - 1), 0);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_true(strlen(path) > 60);
  assert_int_equal(mpl_terms_parse(path, ts, &sel, &err), MPL_EINVAL);
  if (strncmp(err.msg, path, strlen(path)) || strncmp(err.msg + strlen(path), ":2: ", 4))
    fail_msg("'%s' does not start with '%s:2: '", err.msg, path);
  mpl_termset_free(ts);
}

static void test_return_values(void **state) {
  (void)state;
  static const struct { const char *text, *m1, *m2; } cases[] = {
    {"local x = 1", "x.lua: a rule file returns a list of terms", "this one returned nothing"},
    {"return 'F0'", "returns a list of terms", "returned string"},
    {"return {}", "x.lua: the returned list of terms is empty", NULL},
    {"return { W }", "x.lua: term #1: expected a table {name = ..., expr = ..., desc = ...}", "got userdata"},
    {"return { {expr = W} }", "x.lua: term #1: 'name' must be a string, got nil", NULL},
    {"return { {name = 'a,b', expr = W} }", "term #1: bad name 'a,b'", "letters, digits and '_'"},
    {"return { {name = '9x', expr = W} }", "term #1: bad name '9x'", NULL},
    {"return { {name = 'a', expr = 3} }", "term 'a': 'expr' must be an expression, got number", NULL},
    {"return { {name = 'a', expr = W, desc = 3} }", "term 'a': 'desc' must be a string, got number", NULL},
    {"return { {name = 'a', expr = W, descr = 'x'} }", "term 'a': unknown field 'descr'", "name, expr, desc and sign"},
    {"return { {name = 'a', expr = W, sign = '>='} }", "term 'a': 'sign' must be \"+\" or \"-\", got \">=\"", NULL},
    {"return { {name = 'a', expr = W, sign = 1} }", "term 'a': 'sign' must be \"+\" or \"-\", got number", NULL},
    {"return { {name = 'a', expr = W}, x = 1 }", "the returned list has a key 'x'", NULL},
    {"local t = {} for i = 1, 5000 do t[i] = {name = 't' .. i, expr = W} end return t", "returns 5000 terms",
     "at most 4096"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_refused("x.lua", cases[i].text, MPL_EINVAL, cases[i].m1, cases[i].m2, 3.0);
  expect_refused("x.lua", "return { {name = 'a',\n expr = 2 * pre} }", MPL_ESHAPE,
                 "x.lua:2: term 'a': a term must be n_post x n_pre", "got n_pre x 1", 3.0);
  /* a term that fails leaves none of the file's terms behind, after good ones */
  expect_refused("x.lua", "return { {name = 'a', expr = W}, {name = 'b', expr = pre + post} }", MPL_ESHAPE,
                 "x.lua:1: term 'b': +: shapes n_pre x 1 and n_post x 1 differ", NULL, 3.0);
  /* the same name in two files is fine until both are selected */
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  const char *one = "return { {name = 'a', expr = W} }";
  assert_int_equal(mpl__rules_load_buffer("1.lua", one, strlen(one), ts, &err), MPL_OK);
  assert_int_equal(mpl__rules_load_buffer("2.lua", one, strlen(one), ts, &err), MPL_OK);
  assert_int_equal(mpl_termset_count(ts), 2);
  assert_string_equal(mpl_termset_source(ts, 1), "2.lua");
  /* a declared sign lands on the file's own term, not on an earlier one of the same name */
  const char *neg = "return { {name = 'a', expr = W, sign = '-'}, {name = 'b', expr = W, sign = '+'} }";
  assert_int_equal(mpl__rules_load_buffer("3.lua", neg, strlen(neg), ts, &err), MPL_OK);
  assert_int_equal(mpl_termset_sign(ts, 0), 0);
  assert_int_equal(mpl_termset_sign(ts, 1), 0);
  assert_int_equal(mpl_termset_sign(ts, 2), -1);
  assert_int_equal(mpl_termset_sign(ts, 3), 1);
  mpl_termset_free(ts);
}

static void test_operand_errors(void **state) {
  (void)state;
  static const struct { const char *text, *m1, *m2; } cases[] = {
    {"local x = W\nreturn { {name = 'a', expr = x + 'b'} }", "x.lua:2: bad operand to '+'", "got string"},
    {"local x = 'b' * W", "x.lua:1: bad operand to '*'", "got string"},
    {"local x = W % {}", "x.lua:1: bad operand to '%' (matrix product)", "got table"},
    {"local x = outer(post, nil)", "x.lua:1: bad argument #2 to 'outer'", "got nil"},
    {"local x = outer(post)", "x.lua:1: 'outer' expects 2 arguments, got 1", NULL},
    {"local x = matmul(W)", "x.lua:1: 'matmul' expects at least 2 arguments, got 1", NULL},
    {"local x = W / 2", "x.lua:1: '/' is not defined on expressions", "recip"},
    {"local x = W ^ 2", "x.lua:1: '^' is not defined on expressions", "square"},
    {"local x = W .. W", "x.lua:1: '..' is not defined on expressions", "a % b"},
    {"local x = W.foo", "x.lua:1: an expression has no field 'foo'", "x.T"},
    {"W.T = 1", "x.lua:1: expressions cannot be modified", NULL},
    {"local x = sigmiod(W)", "x.lua:1: unknown name 'sigmiod'", NULL},
    {"local x = e_pos", "x.lua:1: unknown name 'e_pos'", NULL},
    {"local y = shape(mean(W))", "x.lua:1: mean(W): mean reduces a vector (n x 1 or 1 x n) to a scalar, got n_post x n_pre",
     "sum(...)"},
    {"local y = shape(norm(post % pre.T))", "x.lua:1: norm(matmul(post, t(pre))): norm reduces a vector", NULL},
    {"W = 1", "x.lua:1: 'W' is built in and cannot be assigned", NULL},
    {"outer = 1", "x.lua:1: 'outer' is built in and cannot be assigned", NULL},
    {"local x = 1\n\nlocal y = shape(post + pre)", "x.lua:3: +: shapes n_post x 1 and n_pre x 1 differ", NULL},
    {"local x = W\nfor i = 1, 300 do x = x + 1 end", "x.lua:2: expression nested deeper than 256", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int code = strstr(cases[i].m1, "shapes") || strstr(cases[i].m1, "reduces a vector") ? MPL_ESHAPE : MPL_EINVAL;
    expect_refused("x.lua", cases[i].text, code, cases[i].m1, cases[i].m2, 3.0);
  }
  /* a non-finite constant poisons the expression like a shape error */
  expect_refused("x.lua", "return { {name = 'a', expr = (1/0) * W} }", MPL_ESHAPE, "x.lua:1: term 'a': constant inf",
                 "not finite", 3.0);
}

/* }====== */

/* {====== The sandbox, from the attacker's side ====== */

static void test_sandbox(void **state) {
  (void)state;
  static const struct { const char *text, *m1; } cases[] = {
    {"os.execute('touch /tmp/metaplast-rule-file-escaped')", "'os' is not available in rule files"},
    {"io.open('/etc/passwd')", "'io' is not available in rule files"},
    {"print('hello')", "'print' is not available in rule files"},
    {"require('os')", "'require' is not available in rule files"},
    {"local p = package.loaded", "'package' is not available in rule files"},
    {"load('return os')()", "'load' is not available in rule files"},
    {"local f = load('x = 1', 'c', 't', {})", "'load' is not available in rule files"},
    {"loadstring('return 1')", "'loadstring' is not available in rule files"},
    {"dofile('/etc/passwd')", "'dofile' is not available in rule files"},
    {"loadfile('/etc/passwd')", "'loadfile' is not available in rule files"},
    {"string.dump(pairs)", "'string.dump' is not available in rule files"},
    {"local d = ('x').dump", "'string.dump' is not available in rule files"},
    {"local f = ('x'):gsub('x', 'y')", "'string.gsub' is not available in rule files"},
    {"local f = string.find('aaa', '.-.-.-b')", "'string.find' is not available in rule files"},
    {"local m = getmetatable('')", "'getmetatable' is not available in rule files"},
    {"setmetatable({}, {__gc = function() end})", "'setmetatable' is not available in rule files"},
    {"debug.sethook()", "'debug' is not available in rule files"},
    {"collectgarbage('stop')", "'collectgarbage' is not available in rule files"},
    {"rawset(_ENV, 'W', 1)", "'rawset' is not available in rule files"},
    {"local x = rawget(_ENV, 'os')", "'rawget' is not available in rule files"},
    {"_ENV.pre = post", "'pre' is built in and cannot be assigned"},
    {"local c = coroutine.create(print)", "'coroutine' is not available in rule files"},
    {"local u = utf8.char(72)", "'utf8' is not available in rule files"},
    {"local r = math.random()", "'math.random' is not available in rule files"},
    {"math.randomseed(1)", "'math.randomseed' is not available in rule files"},
    {"table.move({}, 1, math.maxinteger, 2)", "'table.move' is not available in rule files"},
    {"local s = string.rep('', 1e18)", "x.lua:1: string.rep: repeating an empty string"},
    {"local s = ('x'):rep(1e12)", "x.lua:1: string.rep: result too large"},
    {"error({})", "x.lua: the rule file raised an error that is not a message but a table"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_refused("x.lua", cases[i].text, MPL_EINVAL, cases[i].m1, NULL, 3.0);
  /* unbounded recursion grows the Lua stack until the memory cap stops it */
  expect_refused("x.lua", "local function f() return f() + 1 end\nf()", MPL_ENOMEM, "exceeds its memory limit", NULL, 3.0);
  /* bytecode is refused: only text chunks load */
  expect_refused("x.lua", "\x1bLua\x54\x00", MPL_EFORMAT, "x.lua: attempt to load a binary chunk", NULL, 3.0);
  /* budgets: instructions (also when the script catches the error), memory, time */
  expect_refused("x.lua", "while true do end", MPL_EINVAL, "x.lua:1: rule file exceeds its budget of 10000000 instructions",
                 NULL, 1.0);
  expect_refused("x.lua", "for i = 1, 1e6 do pcall(function() while true do end end) end\nreturn {{name = 'a', expr = W}}",
                 MPL_EINVAL, "exceeds its budget of 10000000 instructions", NULL, 1.0);
  expect_refused("x.lua", "local s = 'x'\nwhile true do s = s .. s end", MPL_ENOMEM,
                 "x.lua: rule file exceeds its memory limit of 16 MiB", NULL, 3.0);
  expect_refused("x.lua", "local ok = pcall(string.rep, 'x', 1e9)\nlocal t = {}\nfor i = 1, 1e8 do t[i] = {} end",
                 MPL_ENOMEM, "exceeds its memory limit of 16 MiB", NULL, 3.0);
  expect_refused("x.lua", "for i = 1, 200000 do local y = W * i end", MPL_EINVAL,
                 "x.lua:1: rule file builds more than 10000 expression nodes", NULL, 3.0);
  expect_refused("x.lua", "for i = 1, 200000 do local y = W * 2 end", MPL_EINVAL,
                 "x.lua:1: rule file performs more than 100000 expression operations", NULL, 3.0);
  /* work inside library calls, which the instruction count does not see: the time budget */
  expect_refused("x.lua", "local t = {string.byte(string.rep('a', 200000), 1, -1)}\n"
                          "while true do table.remove(t, 1); t[#t + 1] = 0 end", MPL_EINVAL,
                 "x.lua:2: rule file exceeds its time budget of 2 s", NULL, 5.0);
  /* none of that left a mark on the process: a good file still loads */
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  assert_int_equal(mpl__rules_load_file(RULES "bio.lua", "bio", ts, &err), MPL_OK);
  mpl_termset_free(ts);
}

/* }====== */

/* {====== The documentation's examples ====== */

static void test_doc_examples(void **state) {
  (void)state;
  DIR *d = opendir(MPL_SOURCE_DIR "/docs/examples");
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t k = strlen(e->d_name);
    if (k < 5 || strcmp(e->d_name + k - 4, ".lua")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/examples/%s", MPL_SOURCE_DIR, e->d_name);
    mpl_termset *ts = mpl_termset_new();
    mpl_err err = {0};
    if (mpl__rules_load_file(path, e->d_name, ts, &err) < 0) fail_msg("%s", err.msg);
    assert_true(mpl_termset_count(ts) > 0);
    mpl_termset_free(ts);
    n++;
  }
  closedir(d);
  assert_true(n >= 2);
}

/* Every ```lua block of docs/rules.md loads as a rule file; a block that names its file under
 * docs/examples/ on its first line is that file, byte for byte. */
static void test_doc_blocks(void **state) {
  (void)state;
  char *doc = mpl_test_read(MPL_SOURCE_DIR "/docs/rules.md");
  int blocks = 0, files = 0;
  for (char *p = doc; (p = strstr(p, "\n```lua\n"));) {
    char *start = p + 8, *end = strstr(start, "```\n");
    assert_non_null(end);
    *end = '\0';
    mpl_termset *ts = mpl_termset_new();
    mpl_err err = {0};
    if (mpl__rules_load_buffer("docs/rules.md", start, strlen(start), ts, &err) < 0)
      fail_msg("block %d of docs/rules.md: %s", blocks + 1, err.msg);
    mpl_termset_free(ts);
    char name[256];
    if (sscanf(start, "-- docs/examples/%200[a-z_].lua", name) == 1) {
      char path[4096];
      snprintf(path, sizeof path, "%s/docs/examples/%s.lua", MPL_SOURCE_DIR, name);
      char *file = mpl_test_read(path);
      assert_string_equal(start, file);
      free(file);
      files++;
    }
    blocks++;
    p = end + 4;
  }
  assert_true(blocks >= 3 && files >= 3);
  free(doc);
}

/* }====== */

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_builders),          cmocka_unit_test(test_code_roundtrip),
    cmocka_unit_test(test_paper_pool_same_trees), cmocka_unit_test(test_paper_subsets),
    cmocka_unit_test(test_quadratic),         cmocka_unit_test(test_paper_pool_identical_logs),
    cmocka_unit_test(test_terms_spec),        cmocka_unit_test(test_error_files),
    cmocka_unit_test(test_return_values),     cmocka_unit_test(test_operand_errors),
    cmocka_unit_test(test_sandbox),           cmocka_unit_test(test_doc_examples),
    cmocka_unit_test(test_doc_blocks),
  };
  return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
