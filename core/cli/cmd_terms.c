/* metaplast terms, metaplast check: list a term source, check its derivatives.
 * See LICENSE for copyright. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metaplast/check.h"
#include "metaplast/terms.h"

#include "cli.h"

/* Load SOURCE[:names] (a --terms specification) or fail with a message. */
static mpl_termset *load_spec(const char *spec, mpl_selection *sel) {
  mpl_err err = {0};
  mpl_termset *ts = mpl_termset_new();
  if (!ts || mpl_terms_parse(spec, ts, sel, &err) < 0) {
    fprintf(stderr, PROG ": %s\n", ts ? err.msg : "out of memory");
    mpl_termset_free(ts);
    return NULL;
  }
  return ts;
}

static int source_help(const char *cmd, const char *what) {
  printf("usage: " PROG " %s SOURCE\n%s\nSOURCE is a --terms specification: a plugin file (x.so, dir/x.so), a rule file\n"
         "(x.lua, dir/x.lua: Lua formulas, docs/rules.md), or a name: a plugin NAME.so on the plugin path\n"
         "(METAPLAST_PLUGIN_PATH, then the install dir), else a rule file NAME.lua on the rule path\n"
         "(METAPLAST_RULES_PATH, then the install dir); optionally with :name1,name2, several joined by ';'.\n",
         cmd, what);
  return 0;
}

/* After a blank line, what the terms compile to (mpl_plan_info): the figures an episode's cost
 * follows. */
static void print_plan(const mpl_plan_info *pi) {
  printf("\ncompiled: %d term%s; per layer and step, an update of rank %d", pi->terms, pi->terms == 1 ? "" : "s",
         pi->rank);
  if (pi->rank_sums) printf(" (%d of them row or column sums)", pi->rank_sums);
  if (pi->wmat) printf(" plus a multiple of W");
  printf(", %d product%s with W besides W pre, %d vector values", pi->wproducts, pi->wproducts == 1 ? "" : "s",
         pi->vectors);
  if (pi->natives) printf("; %d native term%s (dense updates)", pi->natives, pi->natives == 1 ? "" : "s");
  if (pi->elementwise)
    printf("; %d elementwise piece%s g(W) ⊙ u vᵀ (dense weights, one pass over W per step)", pi->elementwise,
           pi->elementwise == 1 ? "" : "s");
  printf("\n");
}

/* The width of the name column: the longest selected name, at least 10. */
static int name_width(const mpl_termset *ts, const mpl_selection *sel) {
  size_t w = 10;
  for (int i = 0; i < sel->n; i++) {
    size_t k = strlen(mpl_termset_name(ts, sel->which[i]));
    w = k > w ? k : w;
  }
  return w > 64 ? 64 : (int)w;
}

int cmd_terms(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
    return source_help("terms", "List a term source's terms with their formulas in the paper's notation.");
  if (argc != 2) { fprintf(stderr, "usage: " PROG " terms SOURCE\n"); return 2; }
  mpl_selection sel;
  mpl_termset *ts = load_spec(argv[1], &sel);
  if (!ts) return 1;
  int w = name_width(ts, &sel);
  for (int i = 0; i < sel.n; i++) {
    int t = sel.which[i];
    char f[4096];
    mpl_termset_print(ts, t, MPL_FMT_TEXT, f, sizeof f);
    int sg = mpl_termset_sign(ts, t);
    const char *desc = mpl_termset_description(ts, t);
    printf("%-*s %s\n%-*s   %s%s%s\n", w, mpl_termset_name(ts, t), f, w, "", desc,
           mpl_termset_is_native(ts, t) && !strstr(desc, "(native)") ? " (native)" : "", /* once */
           sg > 0 ? " [coefficient kept >= 0]" : sg < 0 ? " [coefficient kept <= 0]" : "");
  }
  mpl_plan_info pi;
  mpl_err err = {0};
  int rc = mpl_termset_plan(ts, sel.which, sel.n, &pi, &err);
  if (rc < 0) fprintf(stderr, PROG ": %s: %s\n", argv[1], err.msg);
  else print_plan(&pi);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  return rc < 0;
}

/* {====== Checking a term in a process of its own (issue 23) ======
 * A native term is a plugin's C code: if it crashes, the child's fault handler (main.c) names
 * it and the child exits 70, and the other terms are still checked. */

typedef struct child_report { int rc; double rel; mpl_err err; } child_report;

static int check_isolated(const mpl_termset *ts, int idx, double *rel, char *crashed, mpl_err *err) {
  int fd[2];
  if (pipe(fd) < 0) return mpl_errorf(err, MPL_EIO, "check: cannot create a pipe: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fd[0]);
    close(fd[1]);
    return mpl_errorf(err, MPL_EIO, "check: cannot fork: %s", strerror(errno));
  }
  if (pid == 0) {
    child_report m;
    memset(&m, 0, sizeof m);
    close(fd[0]);
    m.rc = mpl_check_terms(ts, &idx, 1, 5, 1, &m.rel, &m.err);
    _exit(write(fd[1], &m, sizeof m) == (ssize_t)sizeof m ? 0 : 1);
  }
  close(fd[1]);
  child_report m;
  size_t got = 0;
  ssize_t k;
  while (got < sizeof m && ((k = read(fd[0], (char *)&m + got, sizeof m - got)) > 0 || (k < 0 && errno == EINTR)))
    if (k > 0) got += (size_t)k;
  close(fd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (got == sizeof m && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    *rel = m.rel;
    if (m.rc < 0) *err = m.err;
    return m.rc;
  }
  *rel = NAN;
  *crashed = 1;
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 70)) /* not reported by the fault handler */
    fprintf(stderr, PROG ": term '%s' from %s: its check died (%s %d)\n", mpl_termset_name(ts, idx),
            mpl_termset_source(ts, idx), WIFSIGNALED(status) ? "signal" : "exit status",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  return 0;
}

/* }====== */

int cmd_check(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
    return source_help("check", "Check every term's derivatives (IR or native) against central finite differences\n"
                       "on random signals and weights; print the worst relative error per term; fail above 1e-6.");
  if (argc != 2) { fprintf(stderr, "usage: " PROG " check SOURCE\n"); return 2; }
  mpl_selection sel;
  mpl_termset *ts = load_spec(argv[1], &sel);
  if (!ts) return 1;
  double *rel = calloc((size_t)sel.n + 1, sizeof *rel), worst = 0;
  char *crashed = calloc((size_t)sel.n + 1, 1);
  mpl_err err = {0};
  int rc = !rel || !crashed ? mpl_errorf(&err, MPL_ENOMEM, "out of memory") : 0, natives = 0, failed = 0;
  for (int i = 0; i < sel.n; i++) natives += mpl_termset_is_native(ts, sel.which[i]);
  if (rc == 0 && !natives) { /* IR terms: one pass, one random stream */
    rc = mpl_check_terms(ts, sel.which, sel.n, 5, 1, rel, &err);
    if (rc == MPL_ENUMERIC) fprintf(stderr, PROG ": %s\n", err.msg), rc = 0; /* NaN in rel[]: FAIL below */
  }
  for (int i = 0; rc == 0 && natives && i < sel.n; i++) { /* each term in a process of its own */
    rc = check_isolated(ts, sel.which[i], &rel[i], &crashed[i], &err);
    if (rc == MPL_ENUMERIC) fprintf(stderr, PROG ": %s\n", err.msg), rc = 0;
  }
  int w = name_width(ts, &sel);
  for (int i = 0; rc == 0 && i < sel.n; i++) {
    int bad = !(rel[i] <= 1e-6);
    const char *name = mpl_termset_name(ts, sel.which[i]);
    failed += bad;
    if (crashed[i]) printf("%-*s crashed (the message above names the signal and the callback)  FAIL\n", w, name);
    else if (isnan(rel[i])) printf("%-*s value or derivative not finite  FAIL\n", w, name);
    else printf("%-*s worst relative error %.2e  %s\n", w, name, rel[i], bad ? "FAIL" : "ok");
    if (isnan(rel[i])) continue;
    worst = fmax(worst, rel[i]);
    if (bad) fprintf(stderr, PROG ": term '%s' from %s: its derivatives disagree with finite differences (%.2e)\n",
                     name, mpl_termset_source(ts, sel.which[i]), rel[i]);
  }
  if (rc < 0) fprintf(stderr, PROG ": %s\n", err.msg);
  else if (failed) printf("worst relative error %.2e (tolerance 1e-6): FAIL (%d of %d terms)\n", worst, failed, sel.n);
  else printf("worst relative error %.2e (tolerance 1e-6): PASS\n", worst);
  free(rel);
  free(crashed);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  return rc < 0 || failed ? 1 : 0;
}
