/* metaplast tests: a search end to end through the library (mpl_search_run) on a small
 * synthetic IDX dataset: reproducibility, the results directory, refusal to overwrite a run,
 * divergence handling, proximal L1 zeros, paper sampling; and a short run on Fashion-MNIST
 * when it is installed. See LICENSE for copyright. */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "metaplast/data.h"
#include "metaplast/net.h"
#include "metaplast/optim.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"

#define EPISODES 10

static char images_path[4096], labels_path[4096], root[4096];

/* {====== Helpers ====== */

/* buf = root/name */
static void in_root(char *buf, size_t n, const char *name) {
  if (snprintf(buf, n, "%s/%s", root, name) >= (int)n) fail_msg("path too long: %s/%s", root, name);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* Field `col` (0-based) of line `row` (0 = header) of a CSV text, into buf. */
static const char *csv_field(const char *text, int row, int col, char *buf, size_t n) {
  const char *p = text;
  for (int r = 0; r < row && p; r++) p = (p = strchr(p, '\n')) ? p + 1 : NULL;
  if (!p || !*p) return NULL;
  for (int c = 0; c < col; c++) {
    p += strcspn(p, ",\n");
    if (*p != ',') return NULL;
    p++;
  }
  size_t k = strcspn(p, ",\n");
  if (k >= n) k = n - 1;
  memcpy(buf, p, k);
  buf[k] = '\0';
  return buf;
}

/* Index of the header column called name, or -1. */
static int csv_column(const char *text, const char *name) {
  char buf[256];
  for (int c = 0; csv_field(text, 0, c, buf, sizeof buf); c++)
    if (!strcmp(buf, name)) return c;
  return -1;
}

static double csv_number(const char *text, int row, const char *name) {
  char buf[256];
  int c = csv_column(text, name);
  if (c < 0) fail_msg("log.csv has no column %s", name);
  if (!csv_field(text, row, c, buf, sizeof buf)) fail_msg("log.csv row %d has no column %s", row, name);
  char *end;
  double v = strtod(buf, &end);
  if (end == buf || *end) fail_msg("log.csv row %d, %s: '%s' is not a number", row, name, buf);
  return v;
}

static void base_cfg(mpl_search_cfg *c, const char *out) {
  mpl_search_defaults(c);
  c->images = images_path;
  c->labels = labels_path;
  c->task = (mpl_task_cfg){.m = 3, .k = 5, .q = 3, .mode = MPL_SAMPLE_CLEAN};
  c->n_hidden = 2;
  c->hidden[0] = 12;
  c->hidden[1] = 10;
  c->terms = "paper:F0,F2,F9";
  c->episodes = EPISODES;
  c->seed = 7;
  c->out = out;
  c->progress = NULL;
  c->method = MPL_METHOD_PLAIN;   /* these tests pin the plain method's mechanics; test_robust the other's */
  c->lambda_auto = 0;
}

/* Run a search that must succeed. */
static void run_ok(const mpl_search_cfg *c, mpl_search_result *res) {
  mpl_err err = {0};
  int rc = mpl_search_run(c, res, &err);
  if (rc != MPL_OK) fail_msg("mpl_search_run: %s (%d)", err.msg, rc);
  assert_int_equal(res->episodes, c->episodes);
}

/* Directory entries, sorted, one per line (malloc'd). */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static char *listing(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return NULL;
  char *names[64], *s = calloc(1, 4096);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 0; i < n; i++) strcat(strcat(s, names[i]), "\n"), free(names[i]);
  return s;
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("search"));
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0 || mkdir(root, 0777) != 0) return -1;
  in_root(images_path, sizeof images_path, "images-idx3-ubyte.gz");
  in_root(labels_path, sizeof labels_path, "labels-idx1-ubyte.gz");
  mpl_test_write_synthetic(images_path, labels_path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

/* }====== */

/* (a) Same seed: identical log (but for wall time) and theta; another seed: another log. */
static void test_reproducible(void **state) {
  (void)state;
  char d1[4200], d2[4200], d3[4200];
  in_root(d1, sizeof d1, "seed7a");
  in_root(d2, sizeof d2, "seed7b");
  in_root(d3, sizeof d3, "seed8");
  mpl_search_cfg c;
  mpl_search_result r1, r2, r3;
  base_cfg(&c, d1);
  run_ok(&c, &r1);
  c.out = d2;
  run_ok(&c, &r2);
  c.out = d3;
  c.seed = 8;
  run_ok(&c, &r3);
  char *l1 = mpl_test_read_in(d1, "log.csv"), *l2 = mpl_test_read_in(d2, "log.csv"), *l3 = mpl_test_read_in(d3, "log.csv");
  char *s1 = mpl_test_strip_last_column(l1), *s2 = mpl_test_strip_last_column(l2), *s3 = mpl_test_strip_last_column(l3);
  if (csv_column(l1, "seconds") < 0) fail_msg("log.csv has no seconds column");
  assert_string_equal(s1, s2);
  assert_string_not_equal(s1, s3);
  char *t1 = mpl_test_read_in(d1, "theta.tsv"), *t2 = mpl_test_read_in(d2, "theta.tsv"), *t3 = mpl_test_read_in(d3, "theta.tsv");
  assert_string_equal(t1, t2);
  assert_string_not_equal(t1, t3);
  char *u1 = mpl_test_read_in(d1, "rule.txt"), *u2 = mpl_test_read_in(d2, "rule.txt");
  assert_string_equal(u1, u2);
  assert_memory_equal(r1.theta, r2.theta, 3 * sizeof(double));
  assert_memory_equal(r1.accuracy, r2.accuracy, EPISODES * sizeof(double));
  assert_memory_equal(r1.loss, r2.loss, EPISODES * sizeof(double));
  assert_memory_not_equal(r1.loss, r3.loss, EPISODES * sizeof(double));
  free(l1), free(l2), free(l3), free(s1), free(s2), free(s3), free(t1), free(t2), free(t3), free(u1), free(u2);
  mpl_search_result_free(&r3);

  /* Without an output directory the run is the same. */
  base_cfg(&c, NULL);
  run_ok(&c, &r3);
  assert_memory_equal(r1.loss, r3.loss, EPISODES * sizeof(double));
  assert_memory_equal(r1.theta, r3.theta, 3 * sizeof(double));
  mpl_search_result_free(&r1);
  mpl_search_result_free(&r2);
  mpl_search_result_free(&r3);
}

/* {====== Threads (cfg.threads, --jobs) ====== */

static volatile sig_atomic_t stop_flag;
static void stop_at_7(void *ud, int episode, double acc, double loss) {
  (void)ud, (void)acc, (void)loss;
  if (episode == 7) stop_flag = 1;
}

/* Every file of d1 in `files` is in d2, byte for byte (log.csv but for its wall-time column). */
static void assert_same_files(const char *d1, const char *d2, const char *const *files) {
  for (int i = 0; files[i]; i++) {
    char *a = mpl_test_read_in(d1, files[i]), *b = mpl_test_read_in(d2, files[i]);
    if (!strcmp(files[i], "log.csv")) {
      char *sa = mpl_test_strip_last_column(a), *sb = mpl_test_strip_last_column(b);
      free(a), free(b), a = sa, b = sb;
    }
    if (strcmp(a, b)) fail_msg("%s differs between %s and %s", files[i], d1, d2);
    free(a), free(b);
  }
}

/* A meta-batch of 3 on 1, 2 and 3 threads, robust with lambda auto (the null stage, validations,
 * reverts): the same log, theta, validation history, rule and final state bit for bit; stopped
 * after episode 7, the same checkpoint; and a meta-batch whose every task diverges fails the same
 * way on 1 and 2 threads. */
static void test_threads(void **state) {
  (void)state;
  static const char *const files[] = {"log.csv", "theta.tsv", "validation.csv", "rule.json", "rule.txt",
                                      "checkpoint.final", NULL};
  char d[3][4200];
  mpl_search_cfg c;
  mpl_search_result r[3];
  for (int t = 0; t < 3; t++) {
    char name[32];
    snprintf(name, sizeof name, "threads-%d", t + 1);
    in_root(d[t], sizeof d[t], name);
    base_cfg(&c, d[t]);
    c.method = MPL_METHOD_ROBUST, c.lambda_auto = 1, c.val_tasks = 5;
    c.episodes = 40, c.meta_batch = 3, c.threads = t + 1;
    run_ok(&c, &r[t]);
  }
  for (int t = 1; t < 3; t++) {
    assert_same_files(d[0], d[t], files);
    assert_memory_equal(r[0].theta, r[t].theta, 3 * sizeof(double));
    assert_memory_equal(r[0].accuracy, r[t].accuracy, 40 * sizeof(double));
    assert_memory_equal(r[0].loss, r[t].loss, 40 * sizeof(double));
    assert_int_equal(r[0].failures, r[t].failures);
  }
  for (int t = 0; t < 3; t++) mpl_search_result_free(&r[t]);

  static const char *const ckpt[] = {"log.csv", "checkpoint", "validation.csv", NULL};
  for (int t = 0; t < 2; t++) {
    char name[32];
    snprintf(name, sizeof name, "threads-stop-%d", t + 1);
    in_root(d[t], sizeof d[t], name);
    base_cfg(&c, d[t]);
    c.method = MPL_METHOD_ROBUST, c.val_tasks = 4, c.meta_batch = 2, c.threads = t + 1;
    stop_flag = 0;
    c.stop = &stop_flag, c.on_episode = stop_at_7;
    mpl_err err = {0};
    assert_int_equal(mpl_search_run(&c, &r[t], &err), MPL_OK);
    assert_true(r[t].interrupted);
    assert_int_equal(r[t].episodes, 7);
    mpl_search_result_free(&r[t]);
  }
  assert_same_files(d[0], d[1], ckpt);

  mpl_err err[2] = {{0}, {0}};
  for (int t = 0; t < 2; t++) {
    char name[32];
    snprintf(name, sizeof name, "threads-diverge-%d", t + 1);
    in_root(d[t], sizeof d[t], name);
    base_cfg(&c, d[t]);
    c.init = "F9=1e30", c.max_failures = 3, c.meta_batch = 3, c.threads = t + 1;
    assert_int_equal(mpl_search_run(&c, &r[t], &err[t]), MPL_ENUMERIC);
    mpl_search_result_free(&r[t]);
  }
  assert_string_equal(err[0].msg, err[1].msg);
  mpl_assert_contains(err[0].msg, "task 1 of 3");
  static const char *const logs[] = {"log.csv", "theta.tsv", NULL};
  assert_same_files(d[0], d[1], logs);

  base_cfg(&c, NULL);
  c.threads = -1;
  mpl_err bad = {0};
  assert_int_equal(mpl_search_run(&c, &r[0], &bad), MPL_EINVAL);
  mpl_assert_contains(bad.msg, "threads");
  mpl_search_result_free(&r[0]);
}

/* }====== */

/* (b) The results directory. */
static void test_results_directory(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "contents");
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, d);
  c.adam.lambda = 0.01;
  c.command = "metaplast search --test";
  c.progress = tmpfile();
  assert_non_null(c.progress);
  run_ok(&c, &r);
  /* progress: one line per episode when not a terminal (fewer than 20 episodes) */
  char line[512];
  int nprog = 0;
  rewind(c.progress);
  while (fgets(line, sizeof line, c.progress)) {
    nprog++;
    mpl_assert_contains(line, "episode ");
  }
  fclose(c.progress);
  assert_int_equal(nprog, EPISODES);
  mpl_assert_contains(line, "episode 10/10");
  assert_int_equal(r.n_terms, 3);
  assert_string_equal(r.names[0], "F0");
  assert_string_equal(r.names[1], "F2");
  assert_string_equal(r.names[2], "F9");
  assert_int_equal(r.failures, 0);
  for (int e = 0; e < EPISODES; e++) {
    assert_true(r.accuracy[e] >= 0 && r.accuracy[e] <= 1);
    assert_true(isfinite(r.loss[e]) && r.loss[e] > 0);
  }
  assert_true(r.seconds_per_episode >= 0);

  char *list = listing(d);
  /* no temporary files left; the final state kept for --resume --episodes (issue 25) */
  assert_string_equal(list, "checkpoint.final\nconfig.txt\nlog.csv\nrule.json\nrule.txt\ntheta.tsv\nvalidation.csv\n");
  free(list);

  char *cfg = mpl_test_read_in(d, "config.txt");
  static const char *const want[] = {"command = metaplast search --test\n", "seed = 7\n", "terms = paper:F0,F2,F9\n",
                                     "lambda = 0.01", "l1 = prox\n", "episodes = 10\n", "M = 3\n", "K = 5\n", "Q = 3\n",
                                     "sampling = clean\n", "network = 64-12-10-6\n", "feedback = fixed\n", "lr = 0.001",
                                     "images = ", "labels = ", "classes = 6\n"};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) mpl_assert_contains(cfg, want[i]);
  mpl_assert_contains(cfg, images_path);
  free(cfg);

  char *log = mpl_test_read_in(d, "log.csv");
  assert_int_equal(count_lines(log), 1 + EPISODES);
  assert_true(strncmp(log, "episode,loss,meta_loss,accuracy,", 32) == 0);
  static const char *const cols[] = {"theta_F0", "theta_F2", "theta_F9", "alpha_0", "alpha_3", "ortho_1", "ortho_3",
                                     "active", "seconds"};
  for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
    if (csv_column(log, cols[i]) < 0) fail_msg("log.csv header lacks %s: %.200s", cols[i], log);
  char hdr[4096];
  snprintf(hdr, sizeof hdr, "%.*s", (int)strcspn(log, "\n"), log);
  assert_true(strlen(hdr) > 8 && !strcmp(hdr + strlen(hdr) - 8, ",seconds"));
  int ncol = 0;
  for (char *p = hdr; *p; p++) ncol += *p == ',';
  for (int e = 1; e <= EPISODES; e++) {
    char buf[64];
    assert_non_null(csv_field(log, e, ncol, buf, sizeof buf)); /* every row is complete */
    assert_null(csv_field(log, e, ncol + 1, buf, sizeof buf));
    assert_int_equal((int)csv_number(log, e, "episode"), e);
    double loss = csv_number(log, e, "loss"), acc = csv_number(log, e, "accuracy");
    assert_true(loss == r.loss[e - 1]);
    assert_true(acc == r.accuracy[e - 1]);
    assert_true(acc >= 0 && acc <= 1);
    /* meta_loss = loss + lambda ||theta||_1 at the theta the episode ran with */
    double l1 = 0.01 * (fabs(csv_number(log, e, "theta_F0")) + fabs(csv_number(log, e, "theta_F2")) +
                        fabs(csv_number(log, e, "theta_F9")));
    mpl_assert_close(csv_number(log, e, "meta_loss"), loss + l1, 1e-14, 0);
  }
  assert_true(csv_number(log, 1, "theta_F0") == 1e-3); /* the initial theta */
  assert_true(csv_number(log, 1, "theta_F2") == 0);
  /* If the log records the meta-gradient (grad_* columns), replaying Adam on it reproduces the
   * logged theta of every next episode and the final theta, bit for bit. */
  if (csv_column(log, "grad_F0") >= 0) {
    static const char *const tn[3] = {"theta_F0", "theta_F2", "theta_F9"}, *const gn[3] = {"grad_F0", "grad_F2", "grad_F9"};
    mpl_adam opt;
    mpl_err err = {0};
    assert_int_equal(mpl_adam_init(&opt, 3, &c.adam, &err), MPL_OK);
    double th[3], g[3];
    for (int i = 0; i < 3; i++) th[i] = csv_number(log, 1, tn[i]);
    for (int e = 1; e <= EPISODES; e++) {
      for (int i = 0; i < 3; i++) {
        if (csv_number(log, e, tn[i]) != th[i])
          fail_msg("episode %d: logged %s = %.17g, Adam replay gives %.17g", e, tn[i], csv_number(log, e, tn[i]), th[i]);
        g[i] = csv_number(log, e, gn[i]);
      }
      mpl_adam_step(&opt, th, g);
      if (th[2] < 0) th[2] = 0.0; /* F9 (Oja) declares a coefficient >= 0: projected after each step */
    }
    assert_memory_equal(th, r.theta, sizeof th);
    mpl_adam_free(&opt);
  }
  free(log);

  char *tsv = mpl_test_read_in(d, "theta.tsv");
  assert_int_equal(count_lines(tsv), 4);
  assert_true(strncmp(tsv, "name\ttheta\tformula", 18) == 0);
  const char *p = strchr(tsv, '\n') + 1;
  for (int i = 0; i < 3; i++) {
    char name[16];
    double th;
    assert_int_equal(sscanf(p, "%15[^\t]\t%lf", name, &th), 2);
    assert_string_equal(name, r.names[i]);
    assert_true(th == r.theta[i]); /* %.17g round-trips */
    char *tab = strchr(strchr(p, '\t') + 1, '\t') + 1;
    assert_true(strncmp(tab, r.formulas[i], strlen(r.formulas[i])) == 0);
    p = strchr(p, '\n') + 1;
  }
  free(tsv);

  char eq[4096];
  size_t need = mpl_equation(r.names, r.formulas, r.theta, r.n_terms, 0, eq, sizeof eq);
  assert_true(need < sizeof eq && need == strlen(eq));
  assert_true(strncmp(eq, "ΔW =", strlen("ΔW =")) == 0);
  char *rule = mpl_test_read_in(d, "rule.txt");
  mpl_assert_contains(rule, eq);
  for (int i = 0; i < 3; i++) mpl_assert_contains(rule, r.names[i]);
  free(rule);

  /* mpl_report prints the same equation */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  mpl_err err = {0};
  assert_int_equal(mpl_report(d, f, &err), MPL_OK);
  fclose(f);
  mpl_assert_contains(buf, eq);
  free(buf);

  /* and fails clearly on a directory without a run */
  err = (mpl_err){0};
  f = open_memstream(&buf, &len);
  assert_int_equal(mpl_report(root, f, &err), MPL_ENOTFOUND);
  fclose(f);
  mpl_assert_contains(err.msg, "theta.tsv");
  assert_int_equal(len, 0);
  free(buf);
  mpl_search_result_free(&r);
}

/* (c) An existing run is not overwritten without force; an unusable --out is a clear error. */
static void test_existing_and_unwritable(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "existing");
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, d);
  c.episodes = 3;
  run_ok(&c, &r);
  mpl_search_result_free(&r);
  static const char *const files[] = {"config.txt", "log.csv", "theta.tsv", "rule.txt"};
  char *before[4], *list0 = listing(d);
  for (int i = 0; i < 4; i++) before[i] = mpl_test_read_in(d, files[i]);

  c.seed = 99; /* would change every file */
  c.episodes = 4;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &r, &err);
  assert_true(rc < 0);
  assert_int_equal(err.code, rc);
  mpl_assert_contains(err.msg, "--force");
  mpl_assert_contains(err.msg, d);
  assert_int_equal(r.episodes, 0);
  mpl_search_result_free(&r);
  char *list1 = listing(d);
  assert_string_equal(list0, list1);
  for (int i = 0; i < 4; i++) {
    char *now = mpl_test_read_in(d, files[i]);
    if (strcmp(now, before[i]) != 0) fail_msg("%s changed by a refused run", files[i]);
    free(now);
  }
  free(list1);

  /* with force it is overwritten */
  c.force = 1;
  run_ok(&c, &r);
  mpl_search_result_free(&r);
  char *cfg = mpl_test_read_in(d, "config.txt"), *log = mpl_test_read_in(d, "log.csv");
  mpl_assert_contains(cfg, "seed = 99\n");
  assert_int_equal(count_lines(log), 1 + 4);
  free(cfg), free(log), free(list0);
  for (int i = 0; i < 4; i++) free(before[i]);

  /* an output path under a regular file */
  char file[4200], bad[4300];
  in_root(file, sizeof file, "plainfile");
  assert_int_equal(mpl_test_write(file, "x", 1), 0);
  snprintf(bad, sizeof bad, "%s/run", file);
  base_cfg(&c, bad);
  err = (mpl_err){0};
  rc = mpl_search_run(&c, &r, &err);
  assert_true(rc < 0);
  mpl_assert_contains(err.msg, file);
  if (!strstr(err.msg, "directory")) fail_msg("unclear error for --out %s: %s", bad, err.msg);
  mpl_search_result_free(&r);
  /* the output path is itself a regular file */
  base_cfg(&c, file);
  err = (mpl_err){0};
  rc = mpl_search_run(&c, &r, &err);
  assert_true(rc < 0);
  mpl_assert_contains(err.msg, file);
  mpl_assert_contains(err.msg, "not a directory");
  mpl_search_result_free(&r);
  char *x = mpl_test_slurp(file);
  assert_string_equal(x, "x");
  free(x);

  /* nested directories are created */
  char nested[4300];
  snprintf(nested, sizeof nested, "%s/a/b/c", root);
  base_cfg(&c, nested);
  c.episodes = 1;
  run_ok(&c, &r);
  mpl_search_result_free(&r);
  free(mpl_test_read_in(nested, "theta.tsv"));
}

/* An empty output path is refused clearly (not read past its end). */
static void test_empty_out(void **state) {
  (void)state;
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, "");
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &r, &err);
  mpl_search_result_free(&r);
  assert_true(rc < 0);
  if (!strstr(err.msg, "--out") && !strstr(err.msg, "output directory"))
    fail_msg("out = \"\": unclear message \"%s\" (expected it to name --out or the output directory)", err.msg);
}

/* (d) A diverging run stops with MPL_ENUMERIC after max_failures episodes; theta stays finite. */
static void test_divergence(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "diverge");
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, d);
  c.init = "F9=1e30"; /* Oja's term with a huge coefficient: the weights overflow within an episode */
  c.max_failures = 3;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &r, &err);
  if (rc != MPL_ENUMERIC) fail_msg("rc %d (%s), expected MPL_ENUMERIC", rc, err.msg);
  mpl_assert_contains(err.msg, "diverged");
  assert_int_equal(r.episodes, 3);
  assert_int_equal(r.failures, 3);
  for (int e = 0; e < 3; e++) assert_true(isnan(r.accuracy[e]) && isnan(r.loss[e]));
  assert_non_null(r.theta);
  assert_true(r.theta[0] == 1e-3 && r.theta[1] == 0 && r.theta[2] == 1e30); /* never updated */
  char *tsv = mpl_test_read_in(d, "theta.tsv"), *log = mpl_test_read_in(d, "log.csv");
  for (char *p = tsv; *p; p++)
    if (!strncasecmp(p, "nan", 3) || !strncasecmp(p, "inf", 3)) fail_msg("theta.tsv holds a non-finite value:\n%s", tsv);
  assert_int_equal(count_lines(log), 1 + 3);
  for (int e = 1; e <= 3; e++) {
    assert_true(csv_number(log, e, "theta_F9") == 1e30);
    assert_true(isnan(csv_number(log, e, "loss")));
  }
  free(mpl_test_read_in(d, "rule.txt"));
  free(tsv), free(log);
  mpl_search_result_free(&r);

  /* failures below max_failures in a row are tolerated: the run completes */
  in_root(d, sizeof d, "diverge-tolerated");
  base_cfg(&c, d);
  c.init = "F9=1e30";
  c.episodes = 4;
  c.max_failures = 5;
  err = (mpl_err){0};
  rc = mpl_search_run(&c, &r, &err);
  assert_int_equal(rc, MPL_OK);
  assert_int_equal(r.episodes, 4);
  assert_int_equal(r.failures, 4);
  mpl_search_result_free(&r);
}

/* A network killed by a huge learning rate (every unit dead: loss ln M, meta-gradient exactly
 * 0) with Adam's eps = 0: theta must not become NaN (0/0), or eps = 0 must be refused. */
static void test_eps0_zero_gradient(void **state) {
  (void)state;
  char d[4200], msg[2048] = "";
  in_root(d, sizeof d, "eps0");
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, d);
  c.init = "F0=1e6";
  c.adam.eps = 0;
  c.max_failures = 3;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &r, &err);
  if (rc == MPL_EINVAL) {
    mpl_assert_contains(err.msg, "eps");
  } else {
    for (int i = 0; i < r.n_terms && !msg[0]; i++)
      if (!isfinite(r.theta[i]))
        snprintf(msg, sizeof msg, "eps = 0, F0 = 1e6: theta_%s = %g after %d episodes (rc %d: %s)", r.names[i],
                 r.theta[i], r.episodes, rc, err.msg);
    char *tsv = mpl_test_read_in(d, "theta.tsv");
    for (char *p = tsv; *p && !msg[0]; p++)
      if (!strncasecmp(p, "nan", 3)) snprintf(msg, sizeof msg, "theta.tsv holds NaN:\n%.1000s", tsv);
    free(tsv);
  }
  mpl_search_result_free(&r);
  if (msg[0]) fail_msg("%s", msg);
}

/* (e) Proximal L1 with a large lambda: exact zeros, dropped from rule.txt and the equation. */
/* Declared signs: the paper's F9 (Oja) keeps its coefficient >= 0 unless the user frees it;
 * config.txt says which constraints were in force; a start against one is refused by name. */
static void test_declared_signs(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_int_equal(mpl_terms_parse("paper:F9,F0", ts, &sel, &err), MPL_OK);
  assert_int_equal(sel.sign[0], 1);
  assert_int_equal(sel.sign[1], 0);
  assert_int_equal(mpl_selection_set_sign(&sel, ts, "F0=-,F9=free", &err), MPL_OK);
  assert_int_equal(sel.sign[0], 0);
  assert_int_equal(sel.sign[1], -1);
  assert_int_equal(mpl_selection_set_sign(&sel, ts, "F9=+,F0=x", &err), MPL_EINVAL); /* nothing applied */
  mpl_assert_contains(err.msg, "'x' for term F0");
  assert_int_equal(sel.sign[0], 0);
  assert_int_equal(mpl_selection_set_sign(&sel, ts, "none", &err), MPL_OK);
  assert_int_equal(sel.sign[0], 0);
  assert_int_equal(sel.sign[1], 0);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);

  char d[3][4200];
  const char *signs[3] = {NULL, "none", "F9=free"};
  mpl_search_result r;
  for (int k = 0; k < 3; k++) {
    char name[16];
    snprintf(name, sizeof name, "signs-%d", k);
    in_root(d[k], sizeof d[k], name);
    mpl_search_cfg c;
    base_cfg(&c, d[k]);
    c.sign = signs[k];
    run_ok(&c, &r);
    mpl_search_result_free(&r);
    char *cfg = mpl_test_read_in(d[k], "config.txt"), *log = mpl_test_read_in(d[k], "log.csv");
    mpl_assert_contains(cfg, k ? "# sign constraints in force (declared by the terms, then --sign): none\n"
                               : "# sign constraints in force (declared by the terms, then --sign): F9 >= 0\n");
    double lowest = 0;
    for (int e = 1; e <= EPISODES; e++) lowest = fmin(lowest, csv_number(log, e, "theta_F9"));
    if (k == 0) assert_true(lowest == 0); /* kept >= 0 ... */
    else assert_true(lowest < 0);          /* ... where this seed's free search goes negative */
    free(cfg), free(log);
  }
  char *a = mpl_test_read_in(d[1], "theta.tsv"), *b = mpl_test_read_in(d[2], "theta.tsv");
  assert_string_equal(a, b); /* "none" and "F9=free" are the same search here */
  free(a), free(b);

  mpl_search_cfg c;
  base_cfg(&c, d[0]);
  c.init = "F9=-0.002";
  c.force = 1;
  assert_int_equal(mpl_search_run(&c, &r, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "term F9 starts at -0.002");
  mpl_assert_contains(err.msg, "--sign F9=free");
}

static void test_prox_zeros(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "prox");
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, d);
  c.init = "F2=0.002,F9=-0.002";
  c.sign = "none"; /* F9 starts below its declared sign */
  c.adam.lambda = 1e3;
  c.adam.l1 = MPL_L1_PROX;
  run_ok(&c, &r);
  for (int i = 0; i < 3; i++)
    if (r.theta[i] != 0.0) fail_msg("theta_%s = %.17g, expected exactly 0", r.names[i], r.theta[i]);
  char eq[4096];
  mpl_equation(r.names, r.formulas, r.theta, r.n_terms, 0, eq, sizeof eq);
  assert_string_equal(eq, "ΔW = 0");
  char *rule = mpl_test_read_in(d, "rule.txt"), *tsv = mpl_test_read_in(d, "theta.tsv"), *log = mpl_test_read_in(d, "log.csv");
  assert_true(strncmp(rule, "health: ", 8) == 0 && strstr(rule, "\nΔW = 0\n")); /* the verdict, then the rule */
  mpl_assert_contains(rule, "(zero)");
  for (int i = 0; i < 3; i++) {
    char line[256];
    snprintf(line, sizeof line, "%s\t0\t", r.names[i]);
    mpl_assert_contains(tsv, line);
  }
  assert_true(csv_number(log, EPISODES, "active") == 0);
  assert_true(csv_number(log, 1, "active") == 3);
  free(rule), free(tsv), free(log);
  mpl_search_result_free(&r);

  /* A moderate lambda: F0, started well away from zero, survives; a term whose gradient stays
   * below lambda stays at exactly zero; the equation and rule.txt list exactly the live terms. */
  in_root(d, sizeof d, "prox-mixed");
  base_cfg(&c, d);
  c.init = "F0=0.05";
  c.adam.lambda = 3;
  run_ok(&c, &r);
  assert_true(r.theta[0] > 0.01);
  int zeros = 0;
  for (int i = 0; i < 3; i++) zeros += r.theta[i] == 0.0;
  if (zeros == 0) fail_msg("no exact zero: theta = %g, %g, %g", r.theta[0], r.theta[1], r.theta[2]);
  mpl_equation(r.names, r.formulas, r.theta, r.n_terms, 0, eq, sizeof eq);
  for (int i = 0; i < 3; i++) {
    if (r.theta[i] == 0.0 && strstr(eq, r.formulas[i])) fail_msg("zero term %s in %s", r.names[i], eq);
    if (r.theta[i] != 0.0 && !strstr(eq, r.formulas[i])) fail_msg("live term %s missing from %s", r.names[i], eq);
  }
  rule = mpl_test_read_in(d, "rule.txt");
  { /* the verdict's lines, then the equation */
    const char *at = strstr(rule, eq);
    assert_true(!strncmp(rule, "health: ", 8) && at && at[-1] == '\n' && at[strlen(eq)] == '\n');
  }
  free(rule);
  log = mpl_test_read_in(d, "log.csv");
  assert_true(csv_number(log, 1, "active") == 1); /* F0 only: F2 and F9 start at exactly 0 */
  free(log);
  mpl_search_result_free(&r);
}

/* Penalty mode: no exact zeros, so the rule drops |theta| <= zero_tol; mpl_report reads the
 * tolerance back from config.txt. */
static void test_penalty_zero_tol(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "penalty");
  mpl_search_cfg c;
  mpl_search_result r;
  base_cfg(&c, d);
  c.adam.l1 = MPL_L1_PENALTY;
  c.adam.lambda = 100; /* dominates dCE/dtheta: every theta hovers within a few lr of 0 */
  c.zero_tol = 0.004;
  run_ok(&c, &r);
  for (int i = 0; i < 3; i++) assert_true(fabs(r.theta[i]) <= 0.004);
  char *cfg = mpl_test_read_in(d, "config.txt"), *rule = mpl_test_read_in(d, "rule.txt");
  mpl_assert_contains(cfg, "l1 = penalty\n");
  mpl_assert_contains(cfg, "zero_tol = 0.004");
  assert_true(strncmp(rule, "health: ", 8) == 0 && strstr(rule, "\nΔW = 0\n")); /* the verdict, then the rule */
  mpl_assert_contains(rule, "0.004");
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  mpl_err err = {0};
  assert_int_equal(mpl_report(d, f, &err), MPL_OK);
  fclose(f);
  assert_true(strncmp(buf, "health: ", 8) == 0 && strstr(buf, "\nΔW = 0\n"));
  free(buf), free(cfg), free(rule);
  /* at tolerance 0 the same coefficients are all in the equation */
  char eq[4096];
  mpl_equation(r.names, r.formulas, r.theta, r.n_terms, 0, eq, sizeof eq);
  for (int i = 0; i < 3; i++)
    if (r.theta[i] != 0 && !strstr(eq, r.formulas[i])) fail_msg("%s missing from %s", r.names[i], eq);
  mpl_search_result_free(&r);
}

/* mpl_equation: signs, dropped terms, the needed length when the buffer is short. */
static void test_equation(void **state) {
  (void)state;
  char *names[4] = {"a", "b", "c", "d"}, *formulas[4] = {"A", "B", "C", "D"};
  double theta[4] = {-0.5, 0.25, 0.0, -1e-3};
  char buf[256];
  size_t n = mpl_equation(names, formulas, theta, 4, 0, buf, sizeof buf);
  assert_string_equal(buf, "ΔW = −0.5 (A) + 0.25 (B) − 0.001 (D)");
  assert_int_equal(n, strlen(buf));
  mpl_equation(names, formulas, theta, 4, 0.01, buf, sizeof buf);
  assert_string_equal(buf, "ΔW = −0.5 (A) + 0.25 (B)");
  theta[0] = 2;
  mpl_equation(names, formulas, theta, 4, 0.3, buf, sizeof buf);
  assert_string_equal(buf, "ΔW = 2 (A)");
  mpl_equation(names, formulas, theta, 4, 5, buf, sizeof buf);
  assert_string_equal(buf, "ΔW = 0");
  char small[12];
  size_t need = mpl_equation(names, formulas, theta, 4, 0, small, sizeof small);
  size_t full = mpl_equation(names, formulas, theta, 4, 0, buf, sizeof buf);
  assert_int_equal(need, full);
  assert_true(strlen(small) < sizeof small);
  assert_true(strncmp(small, buf, strlen(small)) == 0);
  assert_int_equal(mpl_equation(names, formulas, theta, 4, 0, NULL, 0), full);
}

/* (f) The reference's sampling. */
static void test_paper_sampling(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "paper-sampling");
  mpl_search_cfg c;
  mpl_search_result r, r2;
  base_cfg(&c, d);
  c.task.mode = MPL_SAMPLE_PAPER;
  c.feedback = MPL_FB_SYMMETRIC;
  run_ok(&c, &r);
  for (int e = 0; e < EPISODES; e++) assert_true(r.accuracy[e] >= 0 && r.accuracy[e] <= 1);
  char *cfg = mpl_test_read_in(d, "config.txt"), *log = mpl_test_read_in(d, "log.csv");
  mpl_assert_contains(cfg, "sampling = paper\n");
  mpl_assert_contains(cfg, "feedback = symmetric\n");
  assert_int_equal(count_lines(log), 1 + EPISODES);
  free(cfg), free(log);
  /* differs from clean sampling with the same seed */
  base_cfg(&c, NULL);
  c.feedback = MPL_FB_SYMMETRIC;
  run_ok(&c, &r2);
  assert_memory_not_equal(r.loss, r2.loss, EPISODES * sizeof(double));
  mpl_search_result_free(&r);
  mpl_search_result_free(&r2);
}

/* Configuration errors are reported before anything is written. */
static void test_bad_configs(void **state) {
  (void)state;
  char d[4200];
  in_root(d, sizeof d, "never-created");
  struct { const char *what, *want; mpl_search_cfg c; } cases[6];
  int n = 0;
  for (int i = 0; i < 6; i++) base_cfg(&cases[i].c, d);
  cases[n].what = "unknown term", cases[n].want = "F42", cases[n++].c.terms = "paper:F0,F42";
  cases[n].what = "unknown init", cases[n].want = "F3", cases[n++].c.init = "F3=0.1";
  cases[n].what = "missing images", cases[n].want = "/nonexistent/images.gz", cases[n++].c.images = "/nonexistent/images.gz";
  cases[n].what = "too many ways", cases[n].want = "", cases[n].c.task.m = 7, n++;
  cases[n].what = "zero episodes", cases[n].want = "episodes", cases[n++].c.episodes = 0;
  cases[n].what = "bad lr", cases[n].want = "lr", cases[n++].c.adam.lr = -1;
  for (int i = 0; i < n; i++) {
    mpl_search_result r;
    mpl_err err = {0};
    int rc = mpl_search_run(&cases[i].c, &r, &err);
    if (rc >= 0) fail_msg("%s: accepted", cases[i].what);
    if (!err.msg[0] || !strstr(err.msg, cases[i].want)) fail_msg("%s: message '%s' lacks '%s'", cases[i].what, err.msg, cases[i].want);
    assert_int_equal(r.episodes, 0);
    mpl_search_result_free(&r);
    struct stat st;
    if (stat(d, &st) == 0) fail_msg("%s: %s was created", cases[i].what, d);
  }
}

/* docs/method.md (deviation 6): episode e's task and weights come from one mt19937 stream seeded
 * with the splitmix64 hash of (seed, task, e); written out from that description. */
static unsigned long splitmix_seed(unsigned long seed, unsigned long stream, unsigned long episode) {
  uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)stream * 0xD1B54A32D192ED03ull ^
               ((uint64_t)episode + 1) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (unsigned long)(z ^ (z >> 31));
}

/* A short search on Fashion-MNIST with the default network. Each episode's logged query loss and
 * accuracy equal the episode run through the public API on the task and weights drawn as
 * documented (M K = 250 online steps at the logged theta), and the first step is Adam's first
 * step, lr g / (|g| + eps) (clip_rms starts with the second step). */
static void test_fashion_mnist(void **state) {
  (void)state;
  struct stat st;
  if (stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &st) != 0) {
    fprintf(stderr, "skipped: /usr/share/datasets/fashion-mnist is not installed\n");
    skip();
  }
  char d[4200];
  in_root(d, sizeof d, "fashion");
  mpl_search_cfg c;
  mpl_search_defaults(&c);
  c.episodes = 5;
  c.terms = "paper:F0";
  c.out = d;
  c.method = MPL_METHOD_PLAIN;   /* the draws below are from the whole set; test_robust checks the split */
  c.lambda_auto = 0;
  mpl_search_result r;
  run_ok(&c, &r);
  assert_int_equal(r.failures, 0);
  char *log = mpl_test_read_in(d, "log.csv"), *cfg = mpl_test_read_in(d, "config.txt");
  assert_int_equal(count_lines(log), 1 + 5);
  mpl_assert_contains(cfg, "data = fashion-mnist\n");
  mpl_assert_contains(cfg, "network = 784-170-130-100-70-10\n");
  /* the first meta-step */
  double g1 = csv_number(log, 1, "grad_F0");
  mpl_assert_close(csv_number(log, 1, "theta_F0"), 1e-3, 0, 0);
  mpl_assert_close(csv_number(log, 2, "theta_F0"), 1e-3 - 1e-3 * g1 / (fabs(g1) + 1e-8), 1e-15, 0);
  /* the episodes through the API */
  mpl_err err = {0};
  mpl_dataset *ds = NULL;
  if (mpl_dataset_open("fashion-mnist", 0, &ds, &err) < 0) fail_msg("%s", err.msg);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  if (mpl_terms_parse("paper:F0", ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  mpl_net_cfg net = {.n_layers = 5, .sizes = {784, 170, 130, 100, 70, 10}, .beta = 10, .feedback = MPL_FB_FIXED};
  mpl_episode *ep = NULL;
  if (mpl_episode_new(&net, ts, sel.which, 1, &ep, &err) < 0) fail_msg("%s", err.msg);
  mpl_task task;
  assert_int_equal(mpl_task_init(&task, &c.task, &err), MPL_OK);
  int nt = c.task.m * c.task.k, nq = c.task.m * c.task.q;
  assert_int_equal(nt, 250);
  double *tx = malloc((size_t)nt * 784 * sizeof *tx), *qx = malloc((size_t)nq * 784 * sizeof *qx);
  int *ty = malloc((size_t)nt * sizeof *ty), *qy = malloc((size_t)nq * sizeof *qy);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  for (int e = 0; e < 5; e++) {
    gsl_rng_set(rng, splitmix_seed(c.seed, 0, (unsigned long)e));
    assert_int_equal(mpl_task_sample(ds, &c.task, rng, &task, &err), MPL_OK);
    mpl_episode_init_weights(ep, rng);
    mpl_task_gather(ds, &task, tx, ty, qx, qy);
    double theta = csv_number(log, e + 1, "theta_F0"), g;
    mpl_episode_stats es;
    if (mpl_episode_run(ep, &theta, tx, ty, nt, qx, qy, nq, &es, &g, &err) < 0) fail_msg("%s", err.msg);
    mpl_assert_close(csv_number(log, e + 1, "loss"), es.loss, 0, 0);
    mpl_assert_close(csv_number(log, e + 1, "accuracy"), es.accuracy, 0, 0);
    mpl_assert_close(csv_number(log, e + 1, "grad_F0"), g, 0, 0);
    mpl_assert_close(r.accuracy[e], es.accuracy, 0, 0);
    mpl_assert_close(r.loss[e], es.loss, 0, 0);
    assert_true(es.accuracy >= 0 && es.accuracy <= 1 && isfinite(es.loss)); /* and sane */
  }
  assert_true(r.theta[0] != 1e-3 && isfinite(r.theta[0]));
  gsl_rng_free(rng);
  free(tx), free(qx), free(ty), free(qy);
  mpl_task_free(&task);
  mpl_episode_free(ep);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  mpl_dataset_free(ds);
  free(log), free(cfg);
  mpl_search_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reproducible),
    cmocka_unit_test(test_threads),
    cmocka_unit_test(test_results_directory),
    cmocka_unit_test(test_existing_and_unwritable),
    cmocka_unit_test(test_empty_out),
    cmocka_unit_test(test_divergence),
    cmocka_unit_test(test_eps0_zero_gradient),
    cmocka_unit_test(test_declared_signs),
    cmocka_unit_test(test_prox_zeros),
    cmocka_unit_test(test_penalty_zero_tol),
    cmocka_unit_test(test_equation),
    cmocka_unit_test(test_paper_sampling),
    cmocka_unit_test(test_bad_configs),
    cmocka_unit_test(test_fashion_mnist),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
