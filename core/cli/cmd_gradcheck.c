/* metaplast gradcheck: the meta-gradient against finite differences. See LICENSE for copyright. */
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

enum { O_TERMS = 256, O_FEEDBACK, O_SEED, O_STEPS, O_TOL };

static void gradcheck_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " gradcheck [options]\n"
    "Compare the exact meta-gradient dL/dtheta (reverse mode through the whole unroll) with\n"
    "Richardson-extrapolated central finite differences on a small network (12-9-8-7-6, random data),\n"
    "for fixed (FA), symmetric (BP) and direct (DFA) feedback. Fails (exit 1) if the worst relative\n"
    "error > --tol.\n\n"
    "  --terms SPEC       terms to check (paper: all ten)\n"
    "  --feedback MODE    fixed|fa, symmetric|bp, direct|dfa, both (fixed and symmetric) or all (all)\n"
    "  --seed S           seed of the random network, data and theta (1)\n"
    "  --steps N          online steps in the episode (20)\n"
    "  --tol T            largest accepted relative error (1e-6)\n"
    "  -h, --help         this help\n");
}

int cmd_gradcheck(int argc, char **argv) {
  static const struct option opts[] = {{"terms", 1, 0, O_TERMS}, {"feedback", 1, 0, O_FEEDBACK}, {"seed", 1, 0, O_SEED},
                                       {"steps", 1, 0, O_STEPS}, {"tol", 1, 0, O_TOL}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
  const char *terms = "paper", *fbs = "all";
  unsigned long seed = 1;
  int steps = 20, o;
  double tol = 1e-6;
  optind = 1;
  while ((o = cli_getopt(argc, argv, opts)) != -1) {
    int r = 0;
    switch (o) {
    case 'h': gradcheck_help(stdout); return 0;
    case O_TERMS: terms = optarg; break;
    case O_FEEDBACK: fbs = optarg; break;
    case O_SEED: r = cli_parse_ulong("--seed", optarg, &seed); break;
    case O_STEPS: r = cli_parse_int("--steps", optarg, 1, 100000, &steps); break;
    case O_TOL: r = cli_parse_double("--tol", optarg, 0, 1, &tol); break;
    default: r = -1;
    }
    if (r < 0) { fprintf(stderr, "Try '" PROG " gradcheck --help'.\n"); return 2; }
  }
  mpl_feedback only = MPL_FB_FIXED;
  int all = !strcmp(fbs, "all"), both = !strcmp(fbs, "both");
  if (!all && !both && mpl_feedback_parse(fbs, &only) < 0)
    return cli_bad("--feedback", fbs, "expected " MPL_FEEDBACK_NAMES ", both or all"), 2;
  mpl_err err = {0};
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  if (mpl_terms_parse(terms, ts, &sel, &err) < 0) {
    fprintf(stderr, PROG ": %s\n", err.msg);
    mpl_termset_free(ts);
    return 1;
  }
  double worst = 0;
  int rc = 0;
  static const mpl_feedback modes[] = {MPL_FB_FIXED, MPL_FB_SYMMETRIC, MPL_FB_DIRECT};
  static const char *const titles[] = {"fixed (FA)", "symmetric (BP)", "direct (DFA)"};
  for (int fb = 0; fb < 3 && rc == 0; fb++) {
    if (!all && !(both && fb < 2) && !(!both && modes[fb] == only)) continue;
    mpl_gradcheck_cfg cfg;
    mpl_gradcheck_defaults(&cfg);
    cfg.net.feedback = modes[fb];
    cfg.seed = seed;
    cfg.n_train = steps;
    mpl_gradcheck_result r;
    if ((rc = mpl_gradcheck(&cfg, ts, sel.which, sel.n, &r, &err)) < 0) break;
    printf("%s feedback, %d steps, query loss %.6f\n", titles[fb], steps, r.loss);
    printf("  %-6s %24s %24s %10s\n", "term", "reverse mode", "finite differences", "rel. err");
    for (int i = 0; i < r.n; i++)
      printf("  %-6s %24.15e %24.15e %10.2e\n", mpl_termset_name(ts, sel.which[i]), r.grad[i], r.fd[i], r.rel[i]);
    worst = fmax(worst, r.worst);
    mpl_gradcheck_result_free(&r);
  }
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  if (rc < 0) {
    fprintf(stderr, PROG ": %s\n", err.msg);
    return 1;
  }
  printf("worst relative error %.3e (tolerance %.1e): %s\n", worst, tol, worst <= tol ? "PASS" : "FAIL");
  return worst <= tol ? 0 : 1;
}
