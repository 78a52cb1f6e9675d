/* metaplast tests: --resume DIR --episodes N extends a run (issue 25): a finished run of 4 episodes
 * extended to 8 writes the same log.csv, validation.csv, theta.tsv and rule.json as an
 * uninterrupted run of 8 (plain and robust, fixed lambda, validation every 4), also when the
 * extension is itself interrupted and resumed; a lambda-auto run and fewer episodes are refused with
 * the reason; the command line does the same. See LICENSE for copyright. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metaplast/search.h"
#include "search_fixture.h"
#include "testutil.h"

static char root[2048], images[3072], labels[3072];

static void base(mpl_search_cfg *c, const char *name, int method, int episodes) {
  static char out[8][4200];
  static int k;
  char *o = out[k++ % 8];
  snprintf(o, 4200, "%s/%s", root, name);
  mpl_test_small_search(c, images, labels, o);
  c->method = method;
  c->lambda_auto = 0;
  c->adam.lambda = method == MPL_METHOD_ROBUST ? 0.05 : 0;
  c->validate_every = 4;
  c->seed = 7;
  c->episodes = episodes;
  c->checkpoint_every = 3;
}

static void run(const mpl_search_cfg *c) {
  mpl_search_result r;
  mpl_err err = {0};
  if (mpl_search_run(c, &r, &err) < 0) fail_msg("search into %s: %s", c->out, err.msg);
  mpl_search_result_free(&r);
}

/* A file of dir with each line's last comma field dropped (log.csv's wall time); others whole. */
static char *read_cmp(const char *dir, const char *file) {
  char *t = mpl_test_read_in(dir, file);
  if (strcmp(file, "log.csv")) return t;
  char *s = mpl_test_strip_last_column(t);
  free(t);
  return s;
}

static void same_outputs(const char *a, const char *b) {
  static const char *const files[] = {"log.csv", "validation.csv", "theta.tsv", "rule.json"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char *x = read_cmp(a, files[i]), *y = read_cmp(b, files[i]);
    if (strcmp(x, y)) fail_msg("%s/%s differs from %s/%s", b, files[i], a, files[i]);
    free(x), free(y);
  }
}

/* The run in dir extended to episodes (as --resume DIR --episodes N does). */
static void extend(const char *dir, int episodes) {
  mpl_search_cfg c;
  char *mem;
  mpl_err err = {0};
  if (mpl_search_config_load(dir, &c, &mem, &err) < 0) fail_msg("%s", err.msg);
  if (episodes && mpl_search_extend(&c, episodes, &err) < 0) fail_msg("%s", err.msg);
  run(&c);
  free(mem);
}

static void check_method(int method, const char *tag) {
  char full[64], part[64];
  snprintf(full, sizeof full, "%s-full", tag);
  snprintf(part, sizeof part, "%s-part", tag);
  mpl_search_cfg a, b;
  base(&a, full, method, 8);
  base(&b, part, method, 4);
  run(&a);
  run(&b);
  char kept[4300];
  snprintf(kept, sizeof kept, "%s/checkpoint.final", b.out);
  assert_int_equal(access(kept, F_OK), 0); /* a finished run keeps its final state */
  extend(b.out, 8);
  same_outputs(a.out, b.out);
  char *cfg = mpl_test_read_in(b.out, "config.txt");
  mpl_assert_contains(cfg, "\nepisodes = 8\n");
  mpl_assert_contains(cfg, "# extended from 4 to 8 episodes");
  free(cfg);
  extend(b.out, 0); /* resumed again: finished, nothing changes */
  same_outputs(a.out, b.out);
}

static void test_plain(void **state) {
  (void)state;
  check_method(MPL_METHOD_PLAIN, "plain");
}

static void test_robust(void **state) {
  (void)state;
  check_method(MPL_METHOD_ROBUST, "robust");
}

/* An extension stopped half way (checkpoint at episode 6 of 4..10) resumes to the same end. */
static void test_interrupted_extension(void **state) {
  (void)state;
  mpl_search_cfg a, b;
  base(&a, "int-full", MPL_METHOD_PLAIN, 10);
  base(&b, "int-part", MPL_METHOD_PLAIN, 4);
  run(&a);
  run(&b);
  mpl_search_cfg c;
  char *mem;
  mpl_err err = {0};
  assert_int_equal(mpl_search_config_load(b.out, &c, &mem, &err), 0);
  assert_int_equal(mpl_search_extend(&c, 10, &err), 0);
  volatile sig_atomic_t stop = 0;
  c.stop = &stop;
  /* stop after the first extended episode: the search checkpoints and returns */
  stop = 1;
  mpl_search_result r;
  assert_int_equal(mpl_search_run(&c, &r, &err), 0);
  assert_true(r.interrupted && r.episodes == 5);
  mpl_search_result_free(&r);
  free(mem);
  extend(b.out, 0);
  same_outputs(a.out, b.out);
}

static void test_refused(void **state) {
  (void)state;
  mpl_search_cfg c;
  mpl_err err = {0};
  base(&c, "auto", MPL_METHOD_ROBUST, 4);
  c.lambda_auto = 1;
  assert_int_equal(mpl_search_extend(&c, 8, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "--episodes 8: this run chose lambda on a path (lambda_auto = on) whose stages are laid "
                               "over its 4 episodes");
  mpl_assert_contains(err.msg, "start a new run with --episodes 8, or with a fixed --lambda");
  base(&c, "fewer", MPL_METHOD_PLAIN, 4);
  assert_int_equal(mpl_search_extend(&c, 4, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "--episodes 4: the run has 4 episodes; extending it needs more");
  base(&c, "every", MPL_METHOD_PLAIN, 400);
  c.validate_every = 0;
  assert_int_equal(mpl_search_extend(&c, 800, &err), 0);
  assert_int_equal(c.validate_every, 20); /* the interval the 400-episode run used, not 800's 40 */
}

/* The command: --resume DIR --episodes N; a contradicting flag is still refused. */
static void test_cli(void **state) {
  (void)state;
  mpl_search_cfg a, b;
  base(&a, "cli-full", MPL_METHOD_PLAIN, 6);
  base(&b, "cli-part", MPL_METHOD_PLAIN, 3);
  a.validate_every = b.validate_every = 3;
  run(&a);
  run(&b);
  char cmd[16384], errf[4300];
  snprintf(errf, sizeof errf, "%s/cli.err", root);
  snprintf(cmd, sizeof cmd, "'%s' search --resume '%s' --episodes 6 --quiet > /dev/null 2>'%s'", MPL_CLI, b.out, errf);
  if (system(cmd) != 0) fail_msg("%s: %s", cmd, mpl_test_read(errf));
  same_outputs(a.out, b.out);
  snprintf(cmd, sizeof cmd, "'%s' search --resume '%s' --episodes 9 --seed 99 --quiet > /dev/null 2>'%s'", MPL_CLI,
           b.out, errf);
  assert_int_not_equal(system(cmd), 0);
  char *e = mpl_test_read(errf);
  mpl_assert_contains(e, "a flag contradicts 'seed'");
  free(e);
  snprintf(cmd, sizeof cmd, "'%s' search --resume '%s' --episodes 5 --quiet > /dev/null 2>'%s'", MPL_CLI, b.out, errf);
  assert_int_not_equal(system(cmd), 0);
  e = mpl_test_read(errf);
  mpl_assert_contains(e, "metaplast: --resume ");
  mpl_assert_contains(e, "--episodes 5: the run has 6 episodes; extending it needs more");
  free(e);
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("extend"));
  if (mkdir(root, 0777) != 0) return 1;
  snprintf(images, sizeof images, "%s/images.gz", root);
  snprintf(labels, sizeof labels, "%s/labels.gz", root);
  mpl_test_write_synthetic(images, labels);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_plain), cmocka_unit_test(test_robust), cmocka_unit_test(test_interrupted_extension),
    cmocka_unit_test(test_refused), cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests_name("extend", tests, setup, NULL);
}
