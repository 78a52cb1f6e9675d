/* metaplast tests: long online training with a fixed rule (train.h, issue 26). Same seed, same
 * numbers; an interrupted run resumed bit for bit; learning rules beat chance on a small problem;
 * FA at rate 0 leaves the test accuracy where it started; bad settings and files give errors that
 * name the flag, file or field; the command and its figure. See LICENSE for copyright. */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metaplast/train.h"

static char root[3000], images_path[4200], labels_path[4200];

static const char *in_root(const char *name) {
  static char buf[8][4200];
  static int k;
  char *b = buf[k++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", root, name);
  return b;
}

/* The synthetic data (6 classes, 180 images of 8 x 8): 120 trained on, the last 60 tested. */
static void base(mpl_train_cfg *c, const char *out) {
  mpl_train_defaults(c);
  c->images = images_path, c->labels = labels_path;
  c->holdout = 60;
  c->n_hidden = 2, c->hidden[0] = 20, c->hidden[1] = 12;
  c->passes = 5;
  c->every = 50;
  c->test_size = 40;
  c->checkpoint_every = 3;
  c->seed = 4;
  c->out = in_root(out);
}

static void train_ok(const mpl_train_cfg *c, mpl_train_result *r) {
  mpl_err err = {0};
  if (mpl_train_run(c, r, &err) != MPL_OK) fail_msg("mpl_train_run: %s", err.msg);
}

static void train_fails(const mpl_train_cfg *c, const char *needle) {
  mpl_train_result r;
  mpl_err err = {0};
  int rc = mpl_train_run(c, &r, &err);
  if (rc >= 0) fail_msg("expected an error containing '%s'", needle);
  mpl_assert_contains(err.msg, needle);
}

/* train.csv without its wall-time column. */
static char *rows_of(const char *dir) {
  char *t = mpl_test_read_in(dir, "train.csv"), *s = mpl_test_strip_last_column(t);
  free(t);
  return s;
}

/* A column of train.csv (rows after the header) into v; returns the row count. */
static int column(const char *dir, int col, double *v, int max) {
  char *t = mpl_test_read_in(dir, "train.csv"), *p = strchr(t, '\n') + 1;
  int n = 0;
  for (; *p && n < max; p = strchr(p, '\n') + 1) {
    const char *f = p;
    for (int c = 0; c < col; c++) f = strchr(f, ',') + 1;
    v[n++] = strtod(f, NULL);
  }
  free(t);
  return n;
}

/* Train c, then read train.csv's column col (at most 32 rows). */
static int train_column(const mpl_train_cfg *c, mpl_train_result *r, int col, double *v) {
  train_ok(c, r);
  return column(c->out, col, v, 32);
}

static void rm_rf(const char *dir) {
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void terms_f0(mpl_train_cfg *c, const char *theta) {
  c->terms = "paper:F0";
  c->theta = theta;
}

/* Same settings twice: the same rows bit for bit; another seed: other numbers. */
static void test_deterministic(void **state) {
  (void)state;
  mpl_train_cfg a, b;
  mpl_train_result ra, rb;
  base(&a, "det-a");
  a.baseline = "fa", a.rate = 0.05;
  b = a, b.out = in_root("det-b");
  train_ok(&a, &ra), train_ok(&b, &rb);
  char *x = rows_of(a.out), *y = rows_of(b.out);
  assert_string_equal(x, y);
  assert_int_equal(ra.steps, 600);
  assert_int_equal(ra.tests, 13);
  b.seed = 5, b.out = in_root("det-c");
  train_ok(&b, &rb);
  char *z = rows_of(b.out);
  assert_true(strcmp(x, z) != 0);
  free(x), free(y), free(z);
  struct stat st;
  assert_int_not_equal(stat(in_root("det-a/checkpoint"), &st), 0);   /* a finished run keeps none */
}

/* Stopped after its first chunk (the stop flag already set), then resumed from the checkpoint with
 * config.json's settings: train.csv and train.json as an uninterrupted run's, bit for bit. */
static void test_resume_identical(void **state) {
  (void)state;
  mpl_train_cfg c, whole;
  mpl_train_result r;
  base(&whole, "res-whole");
  terms_f0(&whole, "F0=0.05");
  train_ok(&whole, &r);
  base(&c, "res-cut");
  terms_f0(&c, "F0=0.05");
  volatile sig_atomic_t stop = 1;
  c.stop = &stop;
  train_ok(&c, &r);
  assert_true(r.interrupted);
  assert_int_equal(r.steps, 50);
  mpl_train_cfg back;
  mpl_train_defaults(&back);
  char *mem = NULL;
  mpl_err err = {0};
  if (mpl_train_config_load(c.out, &back, &mem, &err) < 0) fail_msg("config_load: %s", err.msg);
  back.out = c.out, back.resume = 1;
  train_ok(&back, &r);
  assert_false(r.interrupted);
  assert_int_equal(r.steps, 600);
  char *x = rows_of(whole.out), *y = rows_of(c.out);
  assert_string_equal(x, y);
  char *jx = mpl_test_read_in(whole.out, "train.json"), *jy = mpl_test_read_in(c.out, "train.json");
  assert_string_equal(strstr(jx, "\"network\""), strstr(jy, "\"network\""));
  free(x), free(y), free(jx), free(jy), free(mem);
}

/* F0 under symmetric feedback (BP) and a term selection with FA both learn the small problem:
 * test accuracy far above chance (1/6) at the end, and better than at the start. */
static void test_learns(void **state) {
  (void)state;
  mpl_train_cfg c;
  mpl_train_result r;
  base(&c, "learn-bp");
  c.baseline = "bp", c.rate = 0.1;
  train_ok(&c, &r);
  assert_false(r.diverged);
  assert_true(r.accuracy > 0.8);
  assert_true(r.final_accuracy > 0.8);
  base(&c, "learn-terms");
  c.terms = "paper:F0,F9", c.theta = "F0=0.1,F9=0.001";
  double acc[32];
  int n = train_column(&c, &r, 2, acc);
  assert_int_equal(n, 13);
  assert_true(acc[n - 1] > 0.5 && acc[n - 1] > acc[0] + 0.2);
}

/* --baseline dfa: F0 under direct feedback, recorded as such in train.json and config.json, other
 * rows than FA's from the same weights; stopped and resumed, bit-identical; F0 with --feedback
 * direct is the same run as the baseline. */
static void test_direct(void **state) {
  (void)state;
  mpl_train_cfg c, fa, t;
  mpl_train_result r;
  base(&c, "dfa-whole");
  c.baseline = "dfa", c.rate = 0.1;
  train_ok(&c, &r);
  assert_false(r.diverged);
  base(&fa, "dfa-fa");
  fa.baseline = "fa", fa.rate = 0.1;
  train_ok(&fa, &r);
  char *x = rows_of(c.out), *y = rows_of(fa.out);
  assert_true(strcmp(x, y) != 0);
  char *j = mpl_test_read_in(c.out, "train.json");
  mpl_assert_contains(j, "\"feedback\": \"direct\"");
  free(j), free(y);
  base(&t, "dfa-terms");
  terms_f0(&t, "F0=0.1");
  t.feedback = MPL_FB_DIRECT;
  train_ok(&t, &r);
  y = rows_of(t.out);
  assert_string_equal(x, y);
  free(y);
  mpl_train_cfg cut, back;
  base(&cut, "dfa-cut");
  cut.baseline = "dfa", cut.rate = 0.1;
  volatile sig_atomic_t stop = 1;
  cut.stop = &stop;
  train_ok(&cut, &r);
  assert_true(r.interrupted);
  mpl_train_defaults(&back);
  char *mem = NULL;
  mpl_err err = {0};
  if (mpl_train_config_load(cut.out, &back, &mem, &err) < 0) fail_msg("config_load: %s", err.msg);
  back.out = cut.out, back.resume = 1;
  train_ok(&back, &r);
  y = rows_of(cut.out);
  assert_string_equal(x, y);
  free(x), free(y), free(mem);
}

/* FA at rate 0: the weights never move, so every test gives the accuracy of step 0. */
static void test_rate_zero(void **state) {
  (void)state;
  mpl_train_cfg c;
  mpl_train_result r;
  base(&c, "zero");
  c.baseline = "fa", c.rate = 0;
  double acc[32], loss[32];
  int n = train_column(&c, &r, 2, acc);
  column(c.out, 3, loss, 32);
  for (int i = 1; i < n; i++) assert_true(acc[i] == acc[0] && loss[i] == loss[0]);
  assert_true(r.accuracy == acc[0]);
}

/* Bad settings and files: errors that name what is wrong; nothing aborts. */
static void test_bad_inputs(void **state) {
  (void)state;
  mpl_train_cfg c;
  base(&c, "bad");
  train_fails(&c, "give exactly one rule");
  c.baseline = "fa";
  train_fails(&c, "--baseline fa needs --rate");
  c.rate = 0.1, c.terms = "paper:F0";
  train_fails(&c, "(2 given)");
  base(&c, "bad");
  c.terms = "paper:F0,F9", c.theta = "F0=0.1";
  train_fails(&c, "no coefficient for the term F9");
  c.theta = "F0=0.1,F9=x";
  train_fails(&c, "--theta");
  c.terms = "paper:F0,Fnope", c.theta = "F0=1";
  train_fails(&c, "Fnope");
  base(&c, "bad");
  c.rule = in_root("no-such-run");
  train_fails(&c, "no-such-run");
  base(&c, "bad");
  c.baseline = "fa", c.rate = 0.1, c.labels = in_root("missing-labels.gz");
  train_fails(&c, "missing-labels.gz");
  base(&c, "bad");
  c.baseline = "fa", c.rate = 0.1, c.holdout = 180;
  train_fails(&c, "--holdout 180");
  base(&c, "bad");
  c.baseline = "fa", c.rate = 0.1, c.holdout = 0;
  train_fails(&c, "no test set");
  /* a directory that holds a run is not overwritten */
  base(&c, "zero");
  c.baseline = "fa", c.rate = 0;
  train_fails(&c, "already holds a training run");
  /* config.json and checkpoint: the file and the field */
  mpl_train_cfg back;
  mpl_train_defaults(&back);
  char *mem = NULL;
  mpl_err err = {0};
  const char *bad = in_root("badcfg");
  mkdir(bad, 0777);
  const char *text = "{\"format\": \"metaplast-train-config\", \"hidden\": \"20,12\", \"every\": \"ten\"}";
  assert_int_equal(mpl_test_write(in_root("badcfg/config.json"), text, strlen(text)), 0);
  assert_true(mpl_train_config_load(bad, &back, &mem, &err) < 0);
  mpl_assert_contains(err.msg, "config.json: every");
  free(mem);
  base(&c, "badck");
  c.baseline = "fa", c.rate = 0.1;
  volatile sig_atomic_t stop = 1;
  c.stop = &stop;
  mpl_train_result r;
  train_ok(&c, &r);
  assert_int_equal(mpl_test_write(in_root("badck/checkpoint"), "garbage\n", 8), 0);
  c.stop = NULL, c.resume = 1;
  train_fails(&c, "badck/checkpoint");
}

/* Run the command made of fmt: its exit status must be status and its output hold each needle. */
static void cli_expect(int status, const char *needle, const char *needle2, const char *fmt, ...) {
  char cmd[16384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int st;
  char *s = mpl_test_run(cmd, &st);
  if (st != status) fail_msg("%s: exit %d, expected %d; output:\n%s", cmd, st, status, s);
  mpl_assert_contains(s, needle);
  if (needle2) mpl_assert_contains(s, needle2);
  free(s);
}

/* The command: a run, its refusal of flags beside --resume, usage errors (exit 2), a figure. */
static void test_cli(void **state) {
  (void)state;
  const char *out = in_root("cli");
  cli_expect(0, "240 steps, 5 tests", "whole test set: accuracy",
             "%s train --baseline bp --rate 0.1 --images %s --labels %s --holdout 60 --hidden 20,12 --passes 2 "
             "--every 60 --test-size 0 --out %s --quiet 2>&1", MPL_CLI, images_path, labels_path, out);
  cli_expect(2, "a resumed run keeps its settings", NULL, "%s train --resume %s --seed 3 2>&1", MPL_CLI, out);
  cli_expect(2, "--baseline 'xx'", NULL, "%s train --baseline xx --out %s 2>&1", MPL_CLI, out);
  if (system("gnuplot -e 'exit' >/dev/null 2>&1") != 0) return;
  cli_expect(0, "figs/train.png", "figs/train-loss.png", "%s plot %s %s --labels BP,FA --out %s/figs/ --format png 2>&1",
             MPL_CLI, out, in_root("zero"), root);
  char *gp = mpl_test_read(in_root("figs/plot.gp"));
  mpl_assert_contains(gp, "title 'BP'");
  free(gp);
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("train"));
  rm_rf(root);
  if (mkdir(root, 0777) != 0) return -1;
  snprintf(images_path, sizeof images_path, "%s", in_root("images-idx3-ubyte.gz"));
  snprintf(labels_path, sizeof labels_path, "%s", in_root("labels-idx1-ubyte.gz"));
  mpl_test_write_synthetic(images_path, labels_path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rm_rf(root);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deterministic),
    cmocka_unit_test(test_resume_identical),
    cmocka_unit_test(test_learns),
    cmocka_unit_test(test_direct),
    cmocka_unit_test(test_rate_zero),
    cmocka_unit_test(test_bad_inputs),
    cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests_name("train", tests, setup, teardown);
}
