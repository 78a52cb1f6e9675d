/* Native terms that misbehave at run time (issue 23, items 3 and 4; tests/plugins/faulty.c):
 * - a NaN value or an infinite derivative fails mpl_check_terms and `metaplast check`, naming
 *   the term, while the plugin's sound terms are still checked;
 * - a segfault or SIGFPE inside a callback ends `metaplast check` and `metaplast search` with
 *   exit status 70 and a message naming the term, its plugin and the phase (value or vjp);
 * - outside a callback, mpl_native_current reports nothing.
 * See LICENSE for copyright. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metaplast/check.h"
#include "metaplast/terms.h"

#include "testutil.h"

static int failures;

#define EXPECT(cond, ...)                      \
  do {                                         \
    if (!(cond)) {                             \
      printf("FAIL line %d: ", __LINE__);      \
      printf(__VA_ARGS__);                     \
      printf("\n");                            \
      failures++;                              \
    }                                          \
  } while (0)

static const char *plugin(const char *name) {
  static char path[4][4096];
  static int k;
  char *p = path[k++ % 4];
  snprintf(p, 4096, "%s/%s.so", MPL_TEST_PLUGIN_DIR, name);
  return p;
}

/* The library: rel[] of a plugin's three terms (bad native, F0, hebb) and the error. */
static void check_library(const char *name, const char *bad_term, const char *what) {
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel = {0};
  mpl_err err = {0};
  int rc = mpl_terms_parse(plugin(name), ts, &sel, &err);
  EXPECT(rc == 0 && sel.n == 3, "%s: loads with 3 terms: %s", name, err.msg);
  if (rc == 0 && sel.n == 3) {
    double rel[3] = {-1, -1, -1};
    rc = mpl_check_terms(ts, sel.which, sel.n, 5, 1, rel, &err);
    EXPECT(rc == MPL_ENUMERIC, "%s: check fails with MPL_ENUMERIC, got %d (%s)", name, rc, err.msg);
    EXPECT(strstr(err.msg, bad_term) && strstr(err.msg, what) && strstr(err.msg, name),
           "%s: the message names the term '%s', '%s' and the plugin: %s", name, bad_term, what, err.msg);
    int bad = -1;
    for (int i = 0; i < 3; i++)
      if (!strcmp(mpl_termset_name(ts, sel.which[i]), bad_term)) bad = i;
    for (int i = 0; i < 3; i++)
      EXPECT(i == bad ? isnan(rel[i]) : rel[i] >= 0 && rel[i] <= 1e-6, "%s: term %s rel %g", name,
             mpl_termset_name(ts, sel.which[i]), rel[i]);
    printf("ok   library check of %s: %s\n", name, err.msg);
  }
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* Run the command (argv, NULL-terminated) with stderr into a file; its exit status and stderr. */
static int run_cli(char *const argv[], char **text) {
  const char *log = mpl_test_path("faults.log");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(log, "w", stderr) || dup2(fileno(stderr), STDOUT_FILENO) < 0) _exit(126);
    execv(MPL_CLI, argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  *text = mpl_test_slurp(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void expect_cli(char *const argv[], int status, const char *const *needles) {
  char *text = NULL;
  int got = run_cli(argv, &text);
  int ok = got == status && text;
  for (int i = 0; ok && needles[i]; i++) ok = strstr(text, needles[i]) != NULL;
  EXPECT(ok, "metaplast %s %s: expected exit %d and the words given, got exit %d: %s", argv[1], argv[2], status, got,
         text ? text : "(no output)");
  if (ok) printf("ok   metaplast %s ... exit %d: %s", argv[1], got, text);
  free(text);
}

int main(void) {
  const char *term, *source, *phase;
  EXPECT(mpl_native_current(&term, &source, &phase) == 0, "no native call is current outside callbacks");

  check_library("faulty_nan_value", "nan_value", "value is NaN");
  check_library("faulty_inf_vjp", "inf_vjp", "derivative (reverse mode, vjp) is infinite");

  expect_cli((char *[]){MPL_CLI, "check", (char *)plugin("faulty_nan_value"), NULL}, 1,
             (const char *[]){"nan_value", "faulty_nan_value.so", "NaN", NULL});
  expect_cli((char *[]){MPL_CLI, "check", (char *)plugin("faulty_inf_vjp"), NULL}, 1,
             (const char *[]){"inf_vjp", "infinite", NULL});
  /* check runs each term of a source with native terms in a process of its own: the crash is
   * named, the other two terms are still checked, and the check fails */
  expect_cli((char *[]){MPL_CLI, "check", (char *)plugin("faulty_segv_value"), NULL}, 1,
             (const char *[]){"SIGSEGV", "native term 'segv_value'", "faulty_segv_value.so", "value callback",
                              "segv_value crashed", "F0         worst relative error", "hebb       worst relative error",
                              "FAIL", NULL});
  expect_cli((char *[]){MPL_CLI, "check", (char *)plugin("faulty_segv_vjp"), NULL}, 1,
             (const char *[]){"SIGSEGV", "native term 'segv_vjp'", "faulty_segv_vjp.so", "vjp callback",
                              "segv_vjp   crashed", "hebb       worst relative error", NULL});
  expect_cli((char *[]){MPL_CLI, "check", (char *)plugin("faulty_fpe_value"), NULL}, 1,
             (const char *[]){"SIGFPE", "native term 'fpe_value'", "value callback", "fpe_value  crashed", NULL});
  expect_cli((char *[]){MPL_CLI, "check", (char *)plugin("faulty_nan_value"), NULL}, 1,
             (const char *[]){"nan_value  value or derivative not finite  FAIL", "hebb       worst relative error", NULL});

  /* a search: the crash in vjp comes after value, during the first meta-gradient */
  char img[4096], lab[4096], out[4096], terms[8192];
  snprintf(img, sizeof img, "%s", mpl_test_path("faults-images.idx"));
  snprintf(lab, sizeof lab, "%s", mpl_test_path("faults-labels.idx"));
  snprintf(out, sizeof out, "%s", mpl_test_path("faults-search"));
  mpl_test_write_synthetic(img, lab);
  snprintf(terms, sizeof terms, "%s:F0,segv_vjp", plugin("faulty_segv_vjp"));
  expect_cli((char *[]){MPL_CLI, "search", "--images", img, "--labels", lab, "--ways", "3", "--shots", "5", "--queries",
                        "3", "--hidden", "12,10", "--terms", terms, "--init", "F0=0.001,segv_vjp=0.001", "--episodes", "2",
                        "--quiet", "--force", "--out", out, NULL},
             70, (const char *[]){"SIGSEGV", "native term 'segv_vjp'", "faulty_segv_vjp.so", "vjp callback", NULL});
  snprintf(terms, sizeof terms, "%s:F0,segv_value", plugin("faulty_segv_value"));
  expect_cli((char *[]){MPL_CLI, "search", "--images", img, "--labels", lab, "--ways", "3", "--shots", "5", "--queries",
                        "3", "--hidden", "12,10", "--terms", terms, "--episodes", "2", "--quiet", "--force", "--out", out,
                        NULL},
             70, (const char *[]){"SIGSEGV", "native term 'segv_value'", "value callback", NULL});
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
