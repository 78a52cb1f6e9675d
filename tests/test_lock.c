/* metaplast tests: the lock on a results directory and a run killed before its config.txt (issue
 * 23, items 2 and 6). Two searches started together into one directory: exactly one runs, the
 * other is refused naming the directory and the holder's process id, and the directory holds
 * one run whole (its config.txt's seed, that seed's log.csv, theta.tsv and rule.json); the same
 * for --trials and --lambda-path; a lock file a dead process left is no obstacle; a held lock
 * refuses a search, a resume, a trials run and a path. --resume on a directory a run left
 * without config.txt says what to run, and a fresh run there removes the temporary file; one
 * killed while writing log.csv's header resumes. The
 * 100-try measurement is tests/soak/concurrent.sh. See LICENSE for copyright. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define PATHMAX 8192
#define TRIES 10

static char root[2048], images[3072], labels[3072], ref[2][3072];

/* {====== Helpers ====== */

/* Start metaplast with argv (NULL-terminated, without the program); stderr to errpath. */
static pid_t spawn(const char *errpath, char *const *args) {
  char *argv[64];
  int k = 0;
  argv[k++] = MPL_CLI;
  for (; *args; args++) argv[k++] = *args;
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

static int reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) fail_msg("waitpid: %s", strerror(errno));
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(const char *errpath, char *const *args) { return reap(spawn(errpath, args)); }

static char *text_of(const char *path) {
  char *s = mpl_test_slurp(path);
  return s ? s : strdup("");
}

static void in_root(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", root, name); }

#define SEARCH(dir, seed, ...) ((char *[]){"search", "--images", images, "--labels", labels, "--ways", "3", "--shots", \
  "5", "--queries", "3", "--hidden", "8", "--terms", "paper:F0,F2,F9", "--episodes", "40", "--seed", (char *)(seed),  \
  "--quiet", "--out", (char *)(dir), __VA_ARGS__ NULL})

/* dir holds seed (3 or 4)'s run whole: config.txt's seed, then log.csv (without seconds), theta.tsv
 * and rule.json (without its configuration block, which records the command) equal to the
 * reference run of that seed; no temporary or lock file is left. */
static void expect_one_run(const char *dir, const char *what) {
  char *cfg = mpl_test_read_in(dir, "config.txt");
  int s = strstr(cfg, "\nseed = 3\n") ? 0 : strstr(cfg, "\nseed = 4\n") ? 1 : -1;
  if (s < 0) fail_msg("%s: config.txt records neither seed:\n%s", what, cfg);
  free(cfg);
  static const char *const files[] = {"log.csv", "theta.tsv", "rule.json", "rule.txt"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char *a = mpl_test_read_in(ref[s], files[i]), *b = mpl_test_read_in(dir, files[i]);
    if (i == 0) {
      char *x = mpl_test_strip_last_column(a), *y = mpl_test_strip_last_column(b);
      free(a), free(b), a = x, b = y;
    } else if (i == 2) { /* rule.json: up to its "config" member */
      char *x = strstr(a, "\"config\""), *y = strstr(b, "\"config\"");
      if (x) *x = '\0';
      if (y) *y = '\0';
    }
    if (strcmp(a, b))
      fail_msg("%s: %s is not that of the seed-%d run config.txt records (a mixed directory)", what, files[i], s + 3);
    free(a), free(b);
  }
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (strstr(e->d_name, ".tmp.") || !strcmp(e->d_name, MPL__LOCK_FILE) || !strcmp(e->d_name, "checkpoint"))
      fail_msg("%s: %s left in %s", what, e->d_name, dir);
  if (d) closedir(d);
}

/* The refused run's message: the directory and why (held, with a process id; or finished). */
static void expect_refusal(const char *err, const char *dir, const char *what) {
  if (strstr(err, "is in use by another run") && strstr(err, dir) && strstr(err, "process ")) return;
  if (strstr(err, "holds a run") && strstr(err, dir)) return; /* it started after the other ended */
  fail_msg("%s: the refused run said: %s", what, err);
}

/* Hold dir's lock as a run would (this process's id in the file); the descriptor, to close. */
static int hold(const char *dir) {
  char p[PATHMAX];
  snprintf(p, sizeof p, "%s/%s", dir, MPL__LOCK_FILE);
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) fail_msg("%s: cannot lock: %s", p, strerror(errno));
  dprintf(fd, "%ld\n", (long)getpid());
  return fd;
}

/* }====== */

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("lock"));
  mkdir(root, 0777);
  snprintf(images, sizeof images, "%s/img.gz", root);
  snprintf(labels, sizeof labels, "%s/lab.gz", root);
  mpl_test_write_synthetic(images, labels);
  for (int s = 0; s < 2; s++) {
    char e[PATHMAX], seed[8];
    snprintf(ref[s], sizeof ref[s], "%s/ref%d", root, s + 3);
    snprintf(e, sizeof e, "%s.err", ref[s]);
    snprintf(seed, sizeof seed, "%d", s + 3);
    int rc = run(e, SEARCH(ref[s], seed, ));
    if (rc != 0) fail_msg("the reference run of seed %s failed (%d): %s", seed, rc, text_of(e));
  }
  return 0;
}

/* Two searches (seeds 3 and 4) started together into one directory, TRIES times: one exits 0,
 * the other 1 with a message naming the directory; the directory holds the winner's run whole. */
static void test_concurrent_searches(void **state) {
  (void)state;
  int refused_busy = 0;
  for (int t = 0; t < TRIES; t++) {
    char dir[4096], e3[PATHMAX], e4[PATHMAX], tag[64];
    snprintf(tag, sizeof tag, "two%d", t);
    in_root(dir, sizeof dir, tag);
    snprintf(e3, sizeof e3, "%s.err3", dir), snprintf(e4, sizeof e4, "%s.err4", dir);
    pid_t a = spawn(e3, SEARCH(dir, "3", )), b = spawn(e4, SEARCH(dir, "4", ));
    int ra = reap(a), rb = reap(b);
    if (!((ra == 0 && rb == 1) || (ra == 1 && rb == 0)))
      fail_msg("%s: exit statuses %d and %d, expected one 0 and one 1: %s / %s", tag, ra, rb, text_of(e3), text_of(e4));
    char *err = text_of(ra ? e3 : e4);
    expect_refusal(err, dir, tag);
    refused_busy += strstr(err, "in use") != NULL;
    free(err);
    expect_one_run(dir, tag);
  }
  printf("%d/%d refused while the other ran, the rest after it had finished\n", refused_busy, TRIES);
}

/* The same for two --trials runs and two --lambda-path runs: one whole, the other refused. */
static void test_concurrent_trials_paths(void **state) {
  (void)state;
  for (int t = 0; t < 4; t++) {
    char dir[4096], e3[PATHMAX], e4[PATHMAX], tag[64];
    int path = t % 2;
    snprintf(tag, sizeof tag, "%s%d", path ? "path" : "trials", t);
    in_root(dir, sizeof dir, tag);
    snprintf(e3, sizeof e3, "%s.err3", dir), snprintf(e4, sizeof e4, "%s.err4", dir);
    pid_t a = path ? spawn(e3, SEARCH(dir, "3", "--lambda-path", "0.01,0.02", "--jobs", "1",))
                   : spawn(e3, SEARCH(dir, "3", "--trials", "2", "--jobs", "1",));
    pid_t b = path ? spawn(e4, SEARCH(dir, "4", "--lambda-path", "0.01,0.02", "--jobs", "1",))
                   : spawn(e4, SEARCH(dir, "4", "--trials", "2", "--jobs", "1",));
    int ra = reap(a), rb = reap(b);
    if (!((ra == 0 && rb != 0) || (ra != 0 && rb == 0)))
      fail_msg("%s: exit statuses %d and %d, expected one 0: %s / %s", tag, ra, rb, text_of(e3), text_of(e4));
    char *err = text_of(ra ? e3 : e4), sum[PATHMAX];
    if (!strstr(err, "in use by another run") && !strstr(err, "holds a run")) fail_msg("%s: refused with: %s", tag, err);
    free(err);
    snprintf(sum, sizeof sum, "%s/%s", dir, path ? "path.csv" : "summary.csv");
    free(mpl_test_read(sum));
    char cmd[PATHMAX];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' -o -name .lock | grep -q .", dir);
    if (system(cmd) == 0) fail_msg("%s: a temporary or lock file left", tag);
    /* each run directory holds one seed's run: all trials of one process */
    for (int k = 0; k < 2; k++) {
      char sub[PATHMAX];
      if (path) snprintf(sub, sizeof sub, "%s/lambda-%s/config.txt", dir, k ? "0.02" : "0.01");
      else snprintf(sub, sizeof sub, "%s/trial-%03d/config.txt", dir, k + 1);
      char *c = mpl_test_read(sub);
      unsigned long want = path ? (ra ? 4 : 3) : (ra ? 4 : 3) + (unsigned long)k + 1;
      char line[64];
      snprintf(line, sizeof line, "\nseed = %lu\n", want);
      if (!strstr(c, line)) fail_msg("%s: %s does not hold seed %lu (a mixed directory)", tag, sub, want);
      free(c);
    }
  }
}

/* A held lock refuses a search, a resume, --trials and --lambda-path, naming the directory and
 * the holder's process id; a lock file a dead process left (its id inside, no flock) does not. */
static void test_held_and_stale(void **state) {
  (void)state;
  char dir[4096], e[PATHMAX], pid[32], p[PATHMAX];
  in_root(dir, sizeof dir, "held");
  snprintf(e, sizeof e, "%s.err", dir);
  snprintf(pid, sizeof pid, "process %ld", (long)getpid());
  mkdir(dir, 0777);
  int fd = hold(dir);
  int rc = run(e, SEARCH(dir, "3", ));
  char *m = text_of(e);
  if (rc != 1 || !strstr(m, dir) || !strstr(m, pid) || !strstr(m, "in use by another run"))
    fail_msg("a search into a held directory: exit %d: %s", rc, m);
  free(m);
  snprintf(p, sizeof p, "%s/config.txt", dir);
  if (access(p, F_OK) == 0) fail_msg("the refused search wrote %s", p);
  static const char *const multi[][2] = {{"--trials", "2"}, {"--lambda-path", "0.01,0.02"}};
  for (int i = 0; i < 2; i++) {
    rc = run(e, SEARCH(dir, "3", (char *)multi[i][0], (char *)multi[i][1],));
    m = text_of(e);
    if (rc == 0 || !strstr(m, dir) || !strstr(m, pid)) fail_msg("%s into a held directory: exit %d: %s", multi[i][0], rc, m);
    free(m);
  }
  close(fd); /* released (the file stays, as after a kill) */
  rc = run(e, SEARCH(dir, "3", "--checkpoint-every", "5",));
  if (rc != 0) fail_msg("a search after the lock was released: exit %d: %s", rc, text_of(e));
  /* a resume while held */
  fd = hold(dir);
  rc = run(e, (char *[]){"search", "--resume", dir, "--quiet", NULL});
  m = text_of(e);
  if (rc != 1 || !strstr(m, dir) || !strstr(m, pid)) fail_msg("a resume of a held directory: exit %d: %s", rc, m);
  free(m);
  close(fd);
  /* a stale lock file: a dead process's id, nobody holding it */
  char stale[4096];
  in_root(stale, sizeof stale, "stale");
  mkdir(stale, 0777);
  snprintf(p, sizeof p, "%s/%s", stale, MPL__LOCK_FILE);
  FILE *f = fopen(p, "w");
  fputs("999999999\n", f);
  fclose(f);
  rc = run(e, SEARCH(stale, "3", ));
  if (rc != 0) fail_msg("a search over a dead process's lock file: exit %d: %s", rc, text_of(e));
  expect_one_run(stale, "stale lock");
}

/* The lock within one process (two threads of a Lua script, say): a second holder is refused,
 * the file is removed on release, and taken again. */
static void test_in_process(void **state) {
  (void)state;
  char dir[4096], p[PATHMAX];
  in_root(dir, sizeof dir, "inproc");
  mkdir(dir, 0777);
  int a, b;
  mpl_err err = {0};
  assert_int_equal(mpl__dir_lock(dir, &a, &err), MPL_OK);
  assert_int_equal(mpl__dir_lock(dir, &b, &err), MPL_EIO);
  assert_int_equal(b, -1);
  mpl_assert_contains(err.msg, dir);
  char pid[32];
  snprintf(pid, sizeof pid, "process %ld", (long)getpid());
  mpl_assert_contains(err.msg, pid);
  mpl__dir_unlock(dir, a);
  snprintf(p, sizeof p, "%s/%s", dir, MPL__LOCK_FILE);
  assert_int_not_equal(access(p, F_OK), 0);
  assert_int_equal(mpl__dir_lock(dir, &b, &err), MPL_OK);
  mpl__dir_unlock(dir, b);
  char nodir[PATHMAX];
  snprintf(nodir, sizeof nodir, "%s/no/such", dir);
  assert_int_equal(mpl__dir_lock(nodir, &b, &err), MPL_EIO);
  mpl_assert_contains(err.msg, nodir);
}

/* Killed before config.txt was renamed into place: the directory holds config.txt.tmp.PID (or
 * nothing). --resume says what to run (with the recorded command); a fresh run there succeeds
 * and removes the temporary file. */
static void test_killed_before_config(void **state) {
  (void)state;
  for (int k = 0; k < 2; k++) {
    char dir[4096], e[PATHMAX], p[PATHMAX];
    in_root(dir, sizeof dir, k ? "early-empty" : "early");
    snprintf(e, sizeof e, "%s.err", dir);
    mkdir(dir, 0777);
    if (!k) { /* the torn temporary file of the kill, and a lock file of the dead run */
      snprintf(p, sizeof p, "%s/config.txt.tmp.99999", dir);
      FILE *f = fopen(p, "w");
      fprintf(f, "# metaplast search configuration\ncommand = metaplast search --seed 3 --out %s\ndata = synth", dir);
      fclose(f);
      snprintf(p, sizeof p, "%s/%s", dir, MPL__LOCK_FILE);
      f = fopen(p, "w");
      fputs("99999\n", f);
      fclose(f);
    }
    int rc = run(e, (char *[]){"search", "--resume", dir, "--quiet", NULL});
    char *m = text_of(e), want[2 * 4096 + 200];
    snprintf(want, sizeof want, "%s holds no started run (stopped before config.txt was written): run the search "
             "again with --out %s", dir, dir);
    if (rc == 0 || !strstr(m, want)) fail_msg("--resume of a run killed before config.txt: exit %d: %s", rc, m);
    if (!k) mpl_assert_contains(m, "(its command: metaplast search --seed 3 --out ");
    free(m);
    rc = run(e, SEARCH(dir, "3", ));
    if (rc != 0) fail_msg("a fresh run into it: exit %d: %s", rc, text_of(e));
    expect_one_run(dir, "after a kill before config.txt");
  }
  /* killed while log.csv's header was being written (found by tests/soak/soak.sh): config.txt and
   * an empty log.csv; --resume starts the run from episode 1 */
  char torn[4096], e0[PATHMAX], p0[PATHMAX];
  in_root(torn, sizeof torn, "torn-header");
  snprintf(e0, sizeof e0, "%s.err", torn);
  mkdir(torn, 0777);
  char *cfg = mpl_test_read_in(ref[0], "config.txt");
  snprintf(p0, sizeof p0, "%s/config.txt", torn);
  mpl_test_write(p0, cfg, strlen(cfg));
  free(cfg);
  snprintf(p0, sizeof p0, "%s/log.csv", torn);
  mpl_test_write(p0, "", 0);
  int rc0 = run(e0, (char *[]){"search", "--resume", torn, "--quiet", NULL});
  if (rc0 != 0) fail_msg("--resume with an empty log.csv: exit %d: %s", rc0, text_of(e0));
  expect_one_run(torn, "an empty log.csv resumed");
  /* a directory of other files is not called a run, and a trials directory says to resume each */
  char e[PATHMAX], other[4096];
  in_root(other, sizeof other, "other");
  snprintf(e, sizeof e, "%s.err", other);
  mkdir(other, 0777);
  char p[PATHMAX];
  snprintf(p, sizeof p, "%s/notes.txt", other);
  mpl_test_write(p, "x", 1);
  int rc = run(e, (char *[]){"search", "--resume", other, "--quiet", NULL});
  char *m = text_of(e);
  if (rc == 0 || !strstr(m, "is it a metaplast results directory?")) fail_msg("--resume of another directory: %s", m);
  free(m);
  snprintf(p, sizeof p, "%s/trial-001", other);
  mkdir(p, 0777);
  snprintf(p, sizeof p, "%s/notes.txt", other);
  unlink(p);
  rc = run(e, (char *[]){"search", "--resume", other, "--quiet", NULL});
  m = text_of(e);
  if (rc == 0 || !strstr(m, "trial-NNN")) fail_msg("--resume of a trials directory: %s", m);
  free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_in_process),
    cmocka_unit_test(test_concurrent_searches),
    cmocka_unit_test(test_concurrent_trials_paths),
    cmocka_unit_test(test_held_and_stale),
    cmocka_unit_test(test_killed_before_config),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
