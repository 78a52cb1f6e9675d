/* metaplast tests: checkpoint and exact resume through the command line. Runs are killed with
 * SIGKILL at random points (during episodes, log writes and checkpoint writes), stopped with
 * SIGINT, resumed, and must end with a log.csv (all columns but the wall time) and theta.tsv
 * byte-identical to an uninterrupted run. Also: flags that contradict config.txt, corrupt and
 * truncated checkpoints, resuming a complete run. See LICENSE for copyright. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[2048], images[3072], labels[3072], ref[3072];
#define PATHMAX 8192

#define EPISODES 240

/* {====== Helpers ====== */

static int count_lines(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int n = 0, c;
  while ((c = getc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

/* Start the CLI: metaplast search <common options> --out dir [extra...]; stderr to dir.err. */
static pid_t spawn(const char *dir, char *const *extra) {
  char *argv[64];
  int k = 0;
  static char errpath[PATHMAX];
  snprintf(errpath, sizeof errpath, "%s.err", dir);
  argv[k++] = MPL_CLI;
  argv[k++] = "search";
  for (; *extra; extra++) argv[k++] = *extra;
  argv[k] = NULL;
  pid_t pid = fork();
  if (pid == 0) {
    FILE *e = freopen(errpath, "w", stderr);
    FILE *o = freopen("/dev/null", "w", stdout);
    (void)e, (void)o;
    execv(MPL_CLI, argv);
    _exit(127);
  }
  if (pid < 0) fail_msg("fork: %s", strerror(errno));
  return pid;
}

/* Exit status of pid (128 + signal if killed). */
static int reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) fail_msg("waitpid: %s", strerror(errno));
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define FRESH(dir, ...) ((char *[]){"--images", images, "--labels", labels, "--ways", "3", "--shots", "5", \
  "--queries", "3", "--hidden", "12,10", "--terms", "paper:F0,F2,F9", "--episodes", "240", "--seed", "5",   \
  "--lambda", "0.01", "--quiet", "--out", (char *)(dir), __VA_ARGS__, NULL})
#define RESUME(dir, ...) ((char *[]){"--resume", (char *)(dir), "--quiet", __VA_ARGS__, NULL})

static int run(const char *dir, char *const *argv) { return reap(spawn(dir, argv)); }

static char *errtext(const char *dir) {
  char p[PATHMAX];
  snprintf(p, sizeof p, "%s.err", dir);
  char *s = mpl_test_slurp(p);
  return s ? s : strdup("");
}

/* dir's log.csv (no seconds) and theta.tsv equal the uninterrupted run's, and no checkpoint or
 * temporary file is left. */
static void expect_same(const char *ref, const char *dir, const char *what) {
  char *la = mpl_test_read_in(ref, "log.csv"), *lb = mpl_test_read_in(dir, "log.csv");
  char *a = mpl_test_strip_last_column(la), *b = mpl_test_strip_last_column(lb);
  free(la), free(lb);
  if (strcmp(a, b)) {
    size_t i = 0;
    while (a[i] == b[i]) i++;
    fail_msg("%s: log.csv differs from the uninterrupted run's at byte %zu:\n%.200s\nvs\n%.200s", what, i,
             a + (i > 60 ? i - 60 : 0), b + (i > 60 ? i - 60 : 0));
  }
  free(a), free(b);
  a = mpl_test_read_in(ref, "theta.tsv"), b = mpl_test_read_in(dir, "theta.tsv");
  if (strcmp(a, b)) fail_msg("%s: theta.tsv differs:\n%s\nvs\n%s", what, a, b);
  free(a), free(b);
  DIR *d = opendir(dir);
  struct dirent *ent;
  while ((ent = readdir(d)))
    if (strstr(ent->d_name, ".tmp.") || !strcmp(ent->d_name, "checkpoint"))
      fail_msg("%s: %s left in %s after completion", what, ent->d_name, dir);
  closedir(d);
}

static void expect_identical(const char *dir, const char *what) { expect_same(ref, dir, what); }

static void in_root(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", root, name); }

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* }====== */

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("resume"));
  mkdir(root, 0777);
  snprintf(images, sizeof images, "%s/img.gz", root);
  snprintf(labels, sizeof labels, "%s/lab.gz", root);
  mpl_test_write_synthetic(images, labels);
  in_root(ref, sizeof ref, "ref");
  int rc = run(ref, FRESH(ref, "--checkpoint-every", "4"));
  if (rc != 0) fail_msg("the uninterrupted run failed (%d): %s", rc, errtext(ref));
  assert_int_equal(count_lines(strcat(strcpy((char[4200]){0}, ref), "/log.csv")), 1 + EPISODES);
  return 0;
}

/* SIGKILL at random points (several per run: the resumed run is killed again), then resume to
 * the end: identical to the uninterrupted run. Checkpoints every episode in half the runs, so
 * that kills land inside checkpoint writes too. */
static void test_kill_resume(void **state) {
  (void)state;
  unsigned seed = 12345;
  for (int trial = 0; trial < 8; trial++) {
    char dir[4200], tag[64];
    snprintf(tag, sizeof tag, "kill%d", trial);
    in_root(dir, sizeof dir, tag);
    const char *every = trial % 2 ? "1" : "7";
    pid_t pid = spawn(dir, FRESH(dir, "--checkpoint-every", (char *)every));
    int kills = 0, rc = -1;
    for (int round = 0; round < 3; round++) {
      /* kill once the log has reached a random row (or a random delay has passed) */
      seed = seed * 1103515245u + 12345u;
      int target = 1 + (int)((seed >> 8) % (EPISODES - 20));
      char log[4300];
      snprintf(log, sizeof log, "%s/log.csv", dir);
      long waited = 0;
      while (count_lines(log) < target && waited < 20000000) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) { pid = 0; break; }
        sleep_us(200 + (seed >> 20) % 300);
        waited += 400;
      }
      if (pid) {
        kill(pid, SIGKILL);
        assert_int_equal(reap(pid), 128 + SIGKILL);
        kills++;
      }
      if (round == 1) { /* as if killed inside a write: a stale temporary file and a torn last row */
        char p[4300];
        snprintf(p, sizeof p, "%s/checkpoint.tmp.99999", dir);
        FILE *f = fopen(p, "w");
        fputs("metaplast-checkpoint 1\nepisode 3", f);
        fclose(f);
        f = fopen(log, "a");
        fputs("9999,0.12", f);
        fclose(f);
      }
      pid = spawn(dir, RESUME(dir, "--checkpoint-every", (char *)every));
    }
    rc = reap(pid);
    if (rc != 0) fail_msg("%s: the final resume failed (%d): %s", tag, rc, errtext(dir));
    if (kills == 0) fail_msg("%s: no kill landed", tag);
    expect_identical(dir, tag);
  }
}

/* lambda auto: a run killed in the null stage's second half (where lambda_max is measured, per
 * coefficient), one killed after it (where the scales were measured again on FA's adapted
 * network) and one killed in the refit resume to the uninterrupted run's log, theta and reported
 * rule (its scales). The path has the first 200 episodes in 6 stages (the null stage is 0-33), the
 * refit the last 40. */
static void test_lambda_auto_resume(void **state) {
  (void)state;
  char ra[4200];
  in_root(ra, sizeof ra, "auto-ref");
  int rc = run(ra, FRESH(ra, "--lambda", "auto", "--checkpoint-every", "0"));
  if (rc != 0) fail_msg("the uninterrupted lambda auto run failed (%d): %s", rc, errtext(ra));
  char *want = mpl_test_read_in(ra, "rule.txt");
  const int targets[] = {20, 44, 210};
  for (int k = 0; k < 3; k++) {
    char dir[4200], log[4300], tag[32];
    snprintf(tag, sizeof tag, "auto-kill%d", targets[k]);
    in_root(dir, sizeof dir, tag);
    snprintf(log, sizeof log, "%s/log.csv", dir);
    pid_t pid = spawn(dir, FRESH(dir, "--lambda", "auto", "--checkpoint-every", "1"));
    while (count_lines(log) < targets[k] + 1) sleep_us(100);
    kill(pid, SIGKILL);
    reap(pid);
    int n = count_lines(log) - 1;
    if (n >= EPISODES) fail_msg("%s: the run finished before the kill", tag);
    if ((rc = run(dir, RESUME(dir, "--checkpoint-every", "1"))) != 0) fail_msg("%s: resume failed (%d): %s", tag, rc, errtext(dir));
    expect_same(ra, dir, tag);
    char *got = mpl_test_read_in(dir, "rule.txt");
    if (strcmp(want, got)) fail_msg("%s (killed after %d episodes): rule.txt differs:\n%s\nvs\n%s", tag, n, want, got);
    free(got);
  }
  free(want);
}

/* SIGINT: the run checkpoints, says how to resume, exits 130; the resumed run is identical. */
static void test_sigint(void **state) {
  (void)state;
  char dir[4200], log[4300];
  in_root(dir, sizeof dir, "sigint");
  snprintf(log, sizeof log, "%s/log.csv", dir);
  pid_t pid = spawn(dir, FRESH(dir, "--checkpoint-every", "100"));
  while (count_lines(log) < 30) sleep_us(200);
  kill(pid, SIGINT);
  int rc = reap(pid);
  char *e = errtext(dir);
  if (rc != 130) fail_msg("SIGINT: exit %d, expected 130; stderr: %s", rc, e);
  mpl_assert_contains(e, "--resume");
  free(e);
  free(mpl_test_read_in(dir, "checkpoint"));
  free(mpl_test_read_in(dir, "theta.tsv")); /* the results so far are readable */
  rc = run(dir, RESUME(dir, "--checkpoint-every", "100"));
  assert_int_equal(rc, 0);
  expect_identical(dir, "SIGINT");
  /* resuming a complete run rewrites the same results */
  rc = run(dir, RESUME(dir, "--checkpoint-every", "100"));
  if (rc != 0) fail_msg("resuming a complete run: exit %d: %s", rc, errtext(dir));
  expect_identical(dir, "complete");
}

/* Direct feedback (DFA): config.txt records it, and a killed run resumes to the uninterrupted
 * run's log and theta (D_l are drawn again from each episode's stream); FA's log differs. */
static void test_direct_resume(void **state) {
  (void)state;
  char rd[4200], dir[4200], log[4300];
  in_root(rd, sizeof rd, "dfa-ref");
  int rc = run(rd, FRESH(rd, "--feedback", "dfa", "--checkpoint-every", "0"));
  if (rc != 0) fail_msg("the uninterrupted DFA run failed (%d): %s", rc, errtext(rd));
  char *cfg = mpl_test_read_in(rd, "config.txt");
  mpl_assert_contains(cfg, "\nfeedback = direct\n");
  free(cfg);
  char *a = mpl_test_read_in(ref, "theta.tsv"), *b = mpl_test_read_in(rd, "theta.tsv");
  if (!strcmp(a, b)) fail_msg("DFA's theta.tsv equals FA's");
  free(a), free(b);
  in_root(dir, sizeof dir, "dfa-kill");
  snprintf(log, sizeof log, "%s/log.csv", dir);
  pid_t pid = spawn(dir, FRESH(dir, "--feedback", "direct", "--checkpoint-every", "3"));
  while (count_lines(log) < 60) sleep_us(200);
  kill(pid, SIGKILL);
  reap(pid);
  if (count_lines(log) - 1 >= EPISODES) fail_msg("dfa-kill: the run finished before the kill");
  if ((rc = run(dir, RESUME(dir, "--feedback", "dfa", "--checkpoint-every", "3"))) != 0)
    fail_msg("dfa-kill: resume failed (%d): %s", rc, errtext(dir));
  expect_same(rd, dir, "DFA resume");
}

/* A flag may repeat config.txt's value, never contradict it. */
static void test_contradicting_flags(void **state) {
  (void)state;
  char dir[4200];
  in_root(dir, sizeof dir, "flags");
  pid_t pid = spawn(dir, FRESH(dir, "--checkpoint-every", "4"));
  char log[4300];
  snprintf(log, sizeof log, "%s/log.csv", dir);
  while (count_lines(log) < 10) sleep_us(200);
  kill(pid, SIGKILL);
  reap(pid);
  static const char *const bad[][3] = {{"--seed", "6", "seed"}, {"--lr", "0.01", "lr"},
                                       {"--terms", "paper:F0", "terms"}, {"--hidden", "12", "network"},
                                       {"--checkpoint-every", "5", "checkpoint_every"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = run(dir, RESUME(dir, (char *)bad[i][0], (char *)bad[i][1]));
    char *e = errtext(dir), want[64];
    if (rc != 2) fail_msg("--resume with %s %s: exit %d, expected 2: %s", bad[i][0], bad[i][1], rc, e);
    snprintf(want, sizeof want, "'%s'", bad[i][2]);
    mpl_assert_contains(e, want);
    free(e);
  }
  /* --episodes may only extend (issue 25; test_extend.c): fewer is refused, saying why */
  int rc = run(dir, RESUME(dir, "--episodes", "10"));
  char *e = errtext(dir);
  if (rc != 2) fail_msg("--resume with --episodes 10: exit %d, expected 2: %s", rc, e);
  mpl_assert_contains(e, "--episodes 10: the run has 240 episodes; extending it needs more");
  free(e);
  rc = run(dir, RESUME(dir, "--seed", "5", "--lambda", "0.01", "--out", dir)); /* repeating is fine */
  if (rc != 0) fail_msg("--resume repeating config.txt's values: exit %d: %s", rc, errtext(dir));
  expect_identical(dir, "flags");
}

/* A corrupt or truncated checkpoint, or a damaged config.txt, is refused naming the file. */
static void test_corrupt(void **state) {
  (void)state;
  char dir[4200], ck[4300], cfgp[4300];
  in_root(dir, sizeof dir, "corrupt");
  pid_t pid = spawn(dir, FRESH(dir, "--checkpoint-every", "4"));
  snprintf(ck, sizeof ck, "%s/checkpoint", dir);
  snprintf(cfgp, sizeof cfgp, "%s/config.txt", dir);
  while (access(ck, F_OK) != 0) sleep_us(200);
  kill(pid, SIGKILL);
  reap(pid);
  char *good = mpl_test_slurp(ck), *cfg = mpl_test_slurp(cfgp);
  size_t n = strlen(good);
  struct { const char *what; size_t len; size_t flip; } cases[] = {
    {"truncated", n / 2, (size_t)-1}, {"empty", 0, (size_t)-1}, {"one bit", n, n / 3}, {"checksum", n, n - 3}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *t = strdup(good);
    if (cases[i].flip != (size_t)-1) t[cases[i].flip] ^= 1;
    assert_int_equal(mpl_test_write(ck, t, cases[i].len), 0);
    free(t);
    int rc = run(dir, RESUME(dir, "--checkpoint-every", "4"));
    char *e = errtext(dir);
    if (rc != 1) fail_msg("%s checkpoint: exit %d, expected 1: %s", cases[i].what, rc, e);
    mpl_assert_contains(e, ck);
    free(e);
  }
  assert_int_equal(mpl_test_write(ck, good, n), 0);
  /* config.txt: an unknown key, a bad value */
  static const char *const edits[][2] = {{"seed = 5\n", "sede = 5\n"}, {"lr = ", "lr = x"}};
  for (size_t i = 0; i < 2; i++) {
    char *s = strstr(cfg, edits[i][0]);
    assert_non_null(s);
    size_t pre = (size_t)(s - cfg);
    char buf[16384];
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, cfg, edits[i][1], s + strlen(edits[i][0]));
    assert_int_equal(mpl_test_write(cfgp, buf, strlen(buf)), 0);
    int rc = run(dir, RESUME(dir, "--checkpoint-every", "4"));
    char *e = errtext(dir);
    if (rc == 0) fail_msg("config.txt edited (%s): resumed anyway", edits[i][1]);
    mpl_assert_contains(e, "config.txt:");
    free(e);
  }
  assert_int_equal(mpl_test_write(cfgp, cfg, strlen(cfg)), 0);
  int rc = run(dir, RESUME(dir, "--checkpoint-every", "4"));
  if (rc != 0) fail_msg("restored files: exit %d: %s", rc, errtext(dir));
  expect_identical(dir, "corrupt, then restored");
  free(good), free(cfg);
  /* not a results directory */
  rc = run(root, RESUME(root, "--checkpoint-every", "4"));
  char *e = errtext(root);
  if (rc == 0) fail_msg("--resume of a directory without config.txt succeeded");
  mpl_assert_contains(e, "config.txt");
  free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_kill_resume),
    cmocka_unit_test(test_sigint),
    cmocka_unit_test(test_direct_resume),
    cmocka_unit_test(test_lambda_auto_resume),
    cmocka_unit_test(test_contradicting_flags),
    cmocka_unit_test(test_corrupt),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
