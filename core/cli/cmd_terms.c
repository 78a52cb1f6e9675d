/* metaplast terms, metaplast check: list a term source, check its derivatives.
 * See LICENSE for copyright. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
  printf("\n");
}

int cmd_terms(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
    return source_help("terms", "List a term source's terms with their formulas in the paper's notation.");
  if (argc != 2) { fprintf(stderr, "usage: " PROG " terms SOURCE\n"); return 2; }
  mpl_selection sel;
  mpl_termset *ts = load_spec(argv[1], &sel);
  if (!ts) return 1;
  for (int i = 0; i < sel.n; i++) {
    int t = sel.which[i];
    char f[4096];
    mpl_termset_print(ts, t, MPL_FMT_TEXT, f, sizeof f);
    int sg = mpl_termset_sign(ts, t);
    printf("%-10s %s\n%-10s   %s%s%s\n", mpl_termset_name(ts, t), f, "", mpl_termset_description(ts, t),
           mpl_termset_is_native(ts, t) ? " (native)" : "",
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

int cmd_check(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
    return source_help("check", "Check every term's derivatives (IR or native) against central finite differences\n"
                       "on random signals and weights; print the worst relative error per term; fail above 1e-6.");
  if (argc != 2) { fprintf(stderr, "usage: " PROG " check SOURCE\n"); return 2; }
  mpl_selection sel;
  mpl_termset *ts = load_spec(argv[1], &sel);
  if (!ts) return 1;
  double *rel = calloc((size_t)sel.n + 1, sizeof *rel), worst = 0;
  mpl_err err = {0};
  int rc = rel ? mpl_check_terms(ts, sel.which, sel.n, 5, 1, rel, &err) : mpl_errorf(&err, MPL_ENOMEM, "out of memory");
  for (int i = 0; rc == 0 && i < sel.n; i++) {
    int bad = !(rel[i] <= 1e-6);
    printf("%-10s worst relative error %.2e  %s\n", mpl_termset_name(ts, sel.which[i]), rel[i], bad ? "FAIL" : "ok");
    worst = fmax(worst, rel[i]);
    if (bad) fprintf(stderr, PROG ": term '%s' from %s: its derivatives disagree with finite differences (%.2e)\n",
                     mpl_termset_name(ts, sel.which[i]), mpl_termset_source(ts, sel.which[i]), rel[i]);
  }
  if (rc < 0) fprintf(stderr, PROG ": %s\n", err.msg);
  else printf("worst relative error %.2e (tolerance 1e-6): %s\n", worst, worst <= 1e-6 ? "PASS" : "FAIL");
  free(rel);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  return rc < 0 || !(worst <= 1e-6) ? 1 : 0;
}
