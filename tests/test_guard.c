/* metaplast tests: the numerical guards of a search (divergence forced with a huge theta, rollback
 * to the last good theta and Adam state, the dead-network probe, gradient clipping, the failure
 * limit) and output directories that cannot be written (under a regular file, a full disk
 * simulated with RLIMIT_FSIZE): clear errors, no partial files. See LICENSE for copyright. */
#include "search_fixture.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metaplast/search.h"

#include "checkpoint.h"
#include "config.h"

static char root[2048], images[3072], labels[3072];

/* {====== Helpers ====== */

static char *must(const char *dir, const char *file) {
  char *s = mpl_test_slurp_in(dir, file);
  if (!s) fail_msg("%s/%s: missing", dir, file);
  return s;
}

/* Field `name` of row `row` (1 = first episode) of a log.csv text, into buf. */
static const char *field(const char *log, int row, const char *name, char *buf, size_t n) {
  int col = -1, c = 0;
  size_t k = strlen(name);
  for (const char *p = log; *p && *p != '\n'; c++) {
    size_t w = strcspn(p, ",\n");
    if (w == k && !strncmp(p, name, k)) col = c;
    p += w + (p[w] == ',');
  }
  if (col < 0) fail_msg("log.csv has no column %s", name);
  const char *p = log;
  for (int r = 0; r < row; r++)
    if (!(p = strchr(p, '\n')) || !*++p) fail_msg("log.csv has no row %d", row);
  for (c = 0; c < col; c++) p += strcspn(p, ",\n") + 1;
  size_t w = strcspn(p, ",\n");
  snprintf(buf, n, "%.*s", (int)w, p);
  return buf;
}

static double number(const char *log, int row, const char *name) {
  char buf[128];
  return strtod(field(log, row, name, buf, sizeof buf), NULL);
}

static void base_cfg(mpl_search_cfg *c, const char *out) {
  mpl_test_small_search(c, images, labels, out);
  c->episodes = 10;
  c->seed = 3;
  c->method = MPL_METHOD_PLAIN;   /* the plain method's guards; the robust method's: test_robust */
  c->lambda_auto = 0;
}

static void in_root(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", root, name); }

static void no_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".tmp.")) fail_msg("%s: temporary file %s left behind", dir, e->d_name);
  closedir(d);
}

/* }====== */

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("guard"));
  mkdir(root, 0777);
  snprintf(images, sizeof images, "%s/img.gz", root);
  snprintf(labels, sizeof labels, "%s/lab.gz", root);
  mpl_test_write_synthetic(images, labels);
  return 0;
}

/* A huge theta diverges every episode: each one is reported (log and progress line), theta never
 * becomes non-finite, the run stops after max_failures with a clear message, and the results
 * directory is complete and readable (and resumable). */
static void test_huge_theta(void **state) {
  (void)state;
  char d[4200], progress[4300];
  in_root(d, sizeof d, "huge");
  snprintf(progress, sizeof progress, "%s.progress", d);
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.init = "F9=1e30";
  c.max_failures = 4;
  c.checkpoint_every = 100;
  c.progress = fopen(progress, "w");
  mpl_search_result r;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &r, &err);
  fclose(c.progress);
  if (rc != MPL_ENUMERIC) fail_msg("rc %d (%s), expected MPL_ENUMERIC", rc, err.msg);
  mpl_assert_contains(err.msg, "stopped at episode 4");
  mpl_assert_contains(err.msg, "4 consecutive episodes failed");
  mpl_assert_contains(err.msg, "diverged");
  assert_int_equal(r.episodes, 4);
  assert_int_equal(r.failures, 4);
  for (int i = 0; i < r.n_terms; i++) assert_true(isfinite(r.theta[i]));
  char *log = must(d, "log.csv"), *prog = must(root, "huge.progress"), buf[64];
  for (int e = 1; e <= 4; e++) {
    assert_string_equal(field(log, e, "status", buf, sizeof buf), "diverged");
    assert_true(number(log, e, "theta_F9") == 1e30);
    snprintf(buf, sizeof buf, "episode %d diverged: ", e);
    mpl_assert_contains(prog, buf);
  }
  /* complete and readable: every file, the report, a resumable checkpoint */
  static const char *const files[] = {"config.txt", "log.csv", "theta.tsv", "rule.txt", "checkpoint"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) free(must(d, files[i]));
  char *tsv = must(d, "theta.tsv");
  for (char *p = tsv; *p; p++)
    if (!strncasecmp(p, "nan", 3) || !strncasecmp(p, "inf", 3)) fail_msg("theta.tsv holds a non-finite value:\n%s", tsv);
  FILE *devnull = fopen("/dev/null", "w");
  assert_int_equal(mpl_report(d, devnull, &err), MPL_OK);
  fclose(devnull);
  mpl_search_cfg rcfg;
  char *mem;
  assert_int_equal(mpl_search_config_load(d, &rcfg, &mem, &err), MPL_OK);
  mpl_search_result r2;
  rc = mpl_search_run(&rcfg, &r2, &err); /* one more failure: the streak is already at the limit */
  assert_int_equal(rc, MPL_ENUMERIC);
  assert_int_equal(r2.episodes, 5);
  mpl_search_result_free(&r2);
  free(mem);
  free(log), free(prog), free(tsv);
  mpl_search_result_free(&r);
  no_temporaries(d);
}

/* A step that lands theta in trouble (a huge learning rate): the failed episode rolls theta and
 * Adam's state back to those of the last good episode, so the next episode runs at its theta. */
static void test_rollback(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "rollback");
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.adam.lr = 1e4;
  c.episodes = 16;
  c.max_failures = 1000;
  c.dead_guard = 1;
  mpl_search_result r;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &r, &err);
  if (rc != 0) fail_msg("rc %d: %s", rc, err.msg);
  if (r.failures == 0) fail_msg("lr 1e4 never failed an episode: the test forces nothing");
  char *log = must(d, "log.csv"), st[64];
  int last_good = 0, rolled = 0;
  static const char *const th[] = {"theta_F0", "theta_F2", "theta_F9"};
  for (int e = 1; e <= 16; e++) {
    for (int i = 0; i < 3; i++)
      if (!isfinite(number(log, e, th[i]))) fail_msg("episode %d: %s not finite", e, th[i]);
    field(log, e, "status", st, sizeof st);
    if (!strcmp(st, "ok")) { last_good = e; continue; }
    if (e < 16 && last_good) { /* the next episode starts from the last good one's theta */
      for (int i = 0; i < 3; i++)
        if (number(log, e + 1, th[i]) != number(log, last_good, th[i]))
          fail_msg("episode %d failed (%s): episode %d runs at %s = %.17g, not episode %d's %.17g", e, st, e + 1,
                   th[i], number(log, e + 1, th[i]), last_good, number(log, last_good, th[i]));
      rolled++;
    }
  }
  if (!rolled) fail_msg("no failure after a good episode: rollback untested");
  free(log);
  mpl_search_result_free(&r);
}

/* Oja's term with a large negative coefficient kills the network (PAPER.md §11): every episode
 * is logged "dead"; without the guard the run goes on, with it the run stops. */
static void test_dead(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "dead");
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.init = "F9=-1";
  c.sign = "none"; /* anti-Oja: F9's declared sign would refuse this start */
  c.episodes = 6;
  c.max_failures = 3;
  mpl_search_result r;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &r, &err);
  if (rc != 0) fail_msg("dead guard off: rc %d: %s", rc, err.msg);
  assert_int_equal(r.episodes, 6);
  assert_int_equal(r.dead, 6);
  assert_int_equal(r.failures, 0);
  char *log = must(d, "log.csv"), st[64];
  for (int e = 1; e <= 6; e++) assert_string_equal(field(log, e, "status", st, sizeof st), "dead");
  free(log);
  mpl_search_result_free(&r);

  c.dead_guard = 1;
  rc = mpl_search_run(&c, &r, &err);
  assert_int_equal(rc, MPL_ENUMERIC);
  mpl_assert_contains(err.msg, "dead network");
  assert_int_equal(r.episodes, 3);
  for (int i = 0; i < r.n_terms; i++) /* never updated: there was no good episode to come from */
    assert_true(r.theta[i] == (i == 0 ? 1e-3 : i == 2 ? -1 : 0));
  mpl_search_result_free(&r);

  /* a healthy run is never called dead */
  base_cfg(&c, d);
  c.episodes = 30;
  rc = mpl_search_run(&c, &r, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(r.dead, 0);
  mpl_search_result_free(&r);
}

/* --clip-grad: a tiny global norm freezes Adam (|g| << eps); no clipping moves theta. */
static void test_clip(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "clip");
  double moved[2];
  for (int k = 0; k < 2; k++) {
    mpl_search_cfg c;
    base_cfg(&c, d);
    c.clip_grad = k ? 1e-20 : 0;
    mpl_search_result r;
    mpl_err err = {0};
    assert_int_equal(mpl_search_run(&c, &r, &err), 0);
    moved[k] = fabs(r.theta[0] - 1e-3) + fabs(r.theta[1]) + fabs(r.theta[2]);
    mpl_search_result_free(&r);
  }
  if (!(moved[0] > 1e-4 && moved[1] < 1e-9))
    fail_msg("theta moved %g without clipping, %g clipped to 1e-20", moved[0], moved[1]);
  mpl_search_cfg c;
  base_cfg(&c, d);
  c.clip_grad = -1;
  mpl_search_result r;
  mpl_err err = {0};
  assert_int_equal(mpl_search_run(&c, &r, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "--clip-grad");
  mpl_search_result_free(&r);
}

/* An output directory under a regular file, or in /proc: a clear error naming it, nothing written. */
static void test_unwritable(void **state) {
  (void)state;
  char file[4200], d[4300];
  in_root(file, sizeof file, "a-file");
  assert_int_equal(mpl_test_write(file, "x", 1), 0);
  snprintf(d, sizeof d, "%s/run", file);
  const char *outs[] = {d, "/proc/metaplast-test/run"};
  for (int i = 0; i < 2; i++) {
    mpl_search_cfg c;
    base_cfg(&c, outs[i]);
    mpl_search_result r;
    mpl_err err = {0};
    int rc = mpl_search_run(&c, &r, &err);
    if (rc >= 0) fail_msg("--out %s: succeeded", outs[i]);
    if (!strstr(err.msg, outs[i]) && !strstr(err.msg, file) && !strstr(err.msg, "/proc/metaplast-test"))
      fail_msg("--out %s: the message does not name it: %s", outs[i], err.msg);
    assert_int_equal(r.episodes, 0);
    mpl_search_result_free(&r);
  }
}

/* A full disk (RLIMIT_FSIZE, SIGXFSZ ignored, in a child): the write that fails is named, atomic
 * files are never partial, no temporary file is left. */
static void full_disk(const char *d, rlim_t limit, char *msg, size_t n) {
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    struct rlimit rl = {limit, limit};
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &rl);
    mpl_search_cfg c;
    base_cfg(&c, d);
    c.episodes = 40;
    mpl_search_result r;
    mpl_err err = {0};
    int rc = mpl_search_run(&c, &r, &err);
    mpl_search_result_free(&r);
    if (write(fd[1], err.msg, strlen(err.msg)) < 0) _exit(3);
    _exit(rc < 0 ? 1 : 0);
  }
  close(fd[1]);
  ssize_t k = read(fd[0], msg, n - 1);
  msg[k > 0 ? k : 0] = '\0';
  close(fd[0]);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 1) fail_msg("limit %lu: child status %d (%s)", (unsigned long)limit, st, msg);
}

static void test_full_disk(void **state) {
  (void)state;
  char d[4200], msg[1024];
  in_root(d, sizeof d, "full1");
  full_disk(d, 200, msg, sizeof msg); /* config.txt does not fit */
  mpl_assert_contains(msg, "config.txt");
  mpl_assert_contains(msg, "File too large");
  char *s = mpl_test_slurp_in(d, "config.txt");
  if (s) fail_msg("a partial config.txt was left:\n%s", s);
  no_temporaries(d);

  in_root(d, sizeof d, "full2");
  full_disk(d, 6000, msg, sizeof msg); /* the log outgrows the disk after some episodes */
  mpl_assert_contains(msg, "log.csv");
  mpl_assert_contains(msg, "File too large");
  no_temporaries(d);
  char *cfg = must(d, "config.txt");
  mpl_assert_contains(cfg, "checkpoint_every = 10\n"); /* complete */
  free(cfg);
  char *tsv = mpl_test_slurp_in(d, "theta.tsv"); /* written whole or not at all */
  if (tsv) {
    assert_true(tsv[strlen(tsv) - 1] == '\n');
    int lines = 0;
    for (char *p = tsv; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 4);
    free(tsv);
  }
}

/* config.txt read back: every key round-trips, and hostile text is refused with file:line. */
static void test_config_parse(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "config");
  mpl_search_cfg c, back;
  base_cfg(&c, d);
  c.init = "F9=0.25";
  c.sign = "F9=+";
  c.clip_grad = 2.5;
  c.dead_guard = 1;
  c.checkpoint_every = 3;
  c.adam.lambda = 1e-3 / 3;
  c.episodes = 2;
  mpl_search_result r;
  mpl_err err = {0};
  assert_int_equal(mpl_search_run(&c, &r, &err), 0);
  mpl_search_result_free(&r);
  char *mem;
  assert_int_equal(mpl_search_config_load(d, &back, &mem, &err), 0);
  const char *key = mpl_search_config_diff(&c, &back);
  if (key) fail_msg("config.txt does not round-trip: %s", key);
  free(mem);
  static const char *const bad[][2] = {
    {"lr = 0.001\n", "unknown key"}, /* no terms etc.: the first error is the key below */
    {"data = x\ndata = y\n", "given twice"},
    {"seed = -1\n", "seed"},
    {"network = 8-x-6\n", "network"},
    {"M = 99999999999999999999\n", "M"},
    {"junk\n", "expected 'key = value'"},
    {"episodes = 0\n", "episodes"},
    {"data = x\n\0\n", "NUL"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    const char *t = bad[i][0];
    size_t n = i == 7 ? 11 : strlen(t);
    char text[256];
    snprintf(text, sizeof text, "%s", i == 0 ? "lr = 0.001\nbogus = 1\n" : t);
    if (i == 0) n = strlen(text);
    else if (i != 7) n = strlen(text);
    else memcpy(text, t, n);
    int rc = mpl__config_parse(text, n, "x/config.txt", &back, &mem, &err);
    if (rc >= 0) fail_msg("config '%s' accepted", t);
    mpl_assert_contains(err.msg, "x/config.txt");
    mpl_assert_contains(err.msg, bad[i][1]);
    assert_null(mem);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_huge_theta),
    cmocka_unit_test(test_rollback),
    cmocka_unit_test(test_dead),
    cmocka_unit_test(test_clip),
    cmocka_unit_test(test_unwritable),
    cmocka_unit_test(test_full_disk),
    cmocka_unit_test(test_config_parse),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
