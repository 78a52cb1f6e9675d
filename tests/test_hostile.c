/* Hostile rule files (tests/hostile/, issue 23): every one must fail with a message that
 * names the file (and, when its first line reads "-- expect: TEXT", contains TEXT; "-- expect: ok"
 * marks a file that must load, for what the sandbox replaces) within a
 * bounded CPU time, and nothing may escape the sandbox. Each load runs in a child process with
 * an alarm, so a hang fails the test naming the file instead of stalling ctest. Also: the stop
 * flag (mpl_terms_set_stop) ends a load in progress, as SIGTERM does for `metaplast search`.
 * See LICENSE for copyright. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metaplast/terms.h"

#include "front.h"
#include "testutil.h"

#define MAX_CPU 5.0     /* CPU seconds a hostile file may take to be refused (the budget is 2 s; ASan) */
#define HANG 60         /* seconds after which the child is killed and the file reported as a hang */
#define ESCAPED "/tmp/metaplast-hostile-escaped"

/* The text after "-- expect: " on the file's first line, or "" (then any refusal naming the file). */
static void read_expect(const char *path, char *expect, size_t n) {
  char line[512] = "";
  FILE *f = fopen(path, "rb");
  expect[0] = '\0';
  if (!f) return;
  if (fgets(line, sizeof line, f) && !strncmp(line, "-- expect: ", 11)) {
    snprintf(expect, n, "%s", line + 11);
    expect[strcspn(expect, "\r\n")] = '\0';
  }
  fclose(f);
}

/* Load path in a child; rc and message come back through a pipe. Returns 0 when the child
 * reported, -1 when it died (signal, hang). */
static int load_in_child(const char *path, int *rc, char *msg, size_t n, char *how, size_t nhow, double *cpu) {
  int fd[2];
  if (pipe(fd) < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    alarm(HANG);
    mpl_termset *ts = mpl_termset_new();
    mpl_err err = {0};
    int r = mpl__rules_load_file(path, path, ts, &err);
    mpl_termset_free(ts);
    if (write(fd[1], &r, sizeof r) != (ssize_t)sizeof r) _exit(3);
    if (write(fd[1], err.msg, strlen(err.msg) + 1) < 0) _exit(3);
    _exit(0);
  }
  close(fd[1]);
  char buf[sizeof(int) + sizeof ((mpl_err *)0)->msg + 1];
  size_t got = 0;
  ssize_t k;
  while (got < sizeof buf - 1 && (k = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)k;
  close(fd[0]);
  buf[got] = '\0';
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  wait4(pid, &status, 0, &ru); /* the child's CPU time: what the budget bounds, whatever the load */
  *cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
         1e-6 * (double)ru.ru_stime.tv_usec;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got < sizeof(int)) {
    snprintf(how, nhow, WIFSIGNALED(status) ? (WTERMSIG(status) == SIGALRM ? "hung (killed after %d s)" : "died of signal %d")
                                            : "exited %d", WIFSIGNALED(status) ? (WTERMSIG(status) == SIGALRM ? HANG : WTERMSIG(status))
                                                                               : WEXITSTATUS(status));
    return -1;
  }
  memcpy(rc, buf, sizeof(int));
  snprintf(msg, n, "%s", buf + sizeof(int));
  return 0;
}

static int check_file(const char *path) {
  char expect[512], msg[1100], how[128] = "";
  int rc = 0;
  double dt = 0;
  read_expect(path, expect, sizeof expect);
  int died = load_in_child(path, &rc, msg, sizeof msg, how, sizeof how, &dt) < 0;
  int accept = !strcmp(expect, "ok"); /* a file that must load: the sandbox's replacements still work */
  const char *why = died ? how
                    : accept ? (rc < 0 ? "was refused" : dt > MAX_CPU ? "took too long (CPU time)" : NULL)
                    : rc >= 0 ? "was accepted"
                    : strncmp(msg, path, strlen(path)) ? "message does not start with the file's name"
                    : expect[0] && !strstr(msg, expect) ? "message lacks the expected text"
                    : dt > MAX_CPU ? "took too long (CPU time)"
                    : access(ESCAPED, F_OK) == 0 ? "escaped the sandbox (" ESCAPED " exists)" : NULL;
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  printf("%s %6.2f s CPU  %-32s %.160s\n", why ? "FAIL" : "ok  ", dt, base, died ? "" : msg);
  if (why) printf("     %s: %s%s%s\n", base, why, expect[0] ? "; expected: " : "", expect);
  return why ? 1 : 0;
}

static int filter_lua(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  return n > 4 && !strcmp(d->d_name + n - 4, ".lua");
}

static int check_corpus(const char *dir) {
  struct dirent **names;
  int m = scandir(dir, &names, filter_lua, alphasort), failed = 0;
  if (m <= 0) {
    printf("FAIL %s: no hostile rule files\n", dir);
    return 1;
  }
  for (int i = 0; i < m; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]->d_name);
    failed += check_file(p);
    free(names[i]);
  }
  free(names);
  printf("%d hostile rule files, %d failed\n", m, failed);
  return failed;
}

/* The stop flag: set before the load, and set by a signal handler during it. */
static volatile sig_atomic_t stop;
static void on_alarm(int sig) { stop = sig; }

/* CPU time of this thread: the load's, whatever the machine's load (without the flag, 2 s). */
static double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int expect_stopped(const char *path, double max_seconds) {
  mpl_termset *ts = mpl_termset_new();
  mpl_err err = {0};
  double t0 = thread_cpu();
  int rc = mpl__rules_load_file(path, path, ts, &err);
  double dt = thread_cpu() - t0;
  mpl_termset_free(ts);
  int bad = rc >= 0 || !strstr(err.msg, "rule file was interrupted") || strncmp(err.msg, path, strlen(path)) ||
            dt > max_seconds;
  printf("%s %6.2f s CPU  stop flag: %s\n", bad ? "FAIL" : "ok  ", dt, err.msg);
  return bad;
}

static int check_stop(const char *dir) {
  char slow[4096], loop[4096];
  snprintf(slow, sizeof slow, "%s/rep_churn.lua", dir); /* 2 s of CPU without the flag */
  snprintf(loop, sizeof loop, "%s/goto_loop.lua", dir);
  int failed = 0;
  mpl_terms_set_stop(&stop);
  stop = 1; /* stopped at the first check, 100 instructions in */
  failed += expect_stopped(loop, 1.0);
  stop = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 200000}};
  setitimer(ITIMER_REAL, &it, NULL);
  failed += expect_stopped(slow, 1.5);
  mpl_terms_set_stop(NULL);
  stop = 0;
  return failed;
}

/* `metaplast search` on a rule file that works for 2 s of CPU: SIGTERM 1 s in ends it at once,
 * with the file named (before the CLI passed its flag to mpl_terms_set_stop, the load ran on).
 * Judged on the command's CPU time, which the machine's load does not stretch. */
static int check_cli_sigterm(const char *dir) {
  char terms[4096], img[4096], lab[4096], out[4096], log[4096];
  snprintf(terms, sizeof terms, "%s/rep_churn.lua", dir);
  snprintf(img, sizeof img, "%s", mpl_test_path("hostile-images.idx"));
  snprintf(lab, sizeof lab, "%s", mpl_test_path("hostile-labels.idx"));
  snprintf(out, sizeof out, "%s", mpl_test_path("hostile-sigterm"));
  snprintf(log, sizeof log, "%s", mpl_test_path("hostile-sigterm.log"));
  mpl_test_write_synthetic(img, lab);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(log, "w", stderr)) _exit(126);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);   /* no idle BLAS threads adding to the CPU time judged below */
    execl(MPL_CLI, MPL_CLI, "search", "--terms", terms, "--images", img, "--labels", lab, "--ways", "3", "--shots", "5",
          "--queries", "5", "--episodes", "1", "--quiet", "--out", out, "--force", (char *)NULL);
    _exit(127);
  }
  struct timespec d = {1, 0};
  nanosleep(&d, NULL);
  kill(pid, SIGTERM);
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  wait4(pid, &status, 0, &ru);
  double dt = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
              1e-6 * (double)ru.ru_stime.tv_usec;
  char *text = mpl_test_slurp(log);
  int bad = !WIFEXITED(status) || WEXITSTATUS(status) != 128 + SIGTERM || !text || !strstr(text, "rule file was interrupted") ||
            !strstr(text, terms) || dt > 1.95;   /* the load alone is 2 s of CPU: below it, the stop came during it */
  printf("%s %6.2f s CPU  metaplast search, SIGTERM during the load: exit %d: %s", bad ? "FAIL" : "ok  ", dt,
         WIFEXITED(status) ? WEXITSTATUS(status) : -1, text ? text : "(no output)\n");
  free(text);
  return bad;
}

int main(void) {
  const char *dir = MPL_SOURCE_DIR "/tests/hostile";
  unlink(ESCAPED);
  int failed = check_corpus(dir) + check_stop(dir) + check_cli_sigterm(dir);
  return failed ? 1 : 0;
}
