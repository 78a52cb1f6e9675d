/* metaplast: the command-line interface (search, gradcheck, report). See LICENSE for copyright. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metaplast/check.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"
#include "metaplast/version.h"

#define PROG "metaplast"

/* {====== Strict argument parsing ====== */

static int bad(const char *flag, const char *val, const char *what) {
  fprintf(stderr, PROG ": %s '%s': %s\n", flag, val, what);
  return -1;
}

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno) return bad(flag, s, "not an integer");
  if (v < lo || v > hi) {
    char m[96];
    snprintf(m, sizeof m, "out of range [%ld, %ld]", lo, hi);
    return bad(flag, s, m);
  }
  *out = (int)v;
  return 0;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v)) return bad(flag, s, "not a finite number");
  if (v < lo || v > hi) {
    char m[96];
    snprintf(m, sizeof m, "out of range [%g, %g]", lo, hi);
    return bad(flag, s, m);
  }
  *out = v;
  return 0;
}

static int parse_ulong(const char *flag, const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  if (*s == '-') return bad(flag, s, "must not be negative");
  unsigned long v = strtoul(s, &end, 10);
  if (end == s || *end || errno) return bad(flag, s, "not a non-negative integer");
  *out = v;
  return 0;
}

static int parse_hidden(const char *s, mpl_search_cfg *c) {
  c->n_hidden = 0;
  if (!strcmp(s, "none")) return 0;
  for (const char *p = s; *p;) {
    char item[32];
    size_t k = strcspn(p, ",-");
    if (k == 0 || k >= sizeof item || c->n_hidden == MPL_MAX_LAYERS - 1) return bad("--hidden", s, "expected sizes like 170,130,100,70 (at most 15)");
    memcpy(item, p, k);
    item[k] = '\0';
    if (parse_int("--hidden", item, 1, 100000, &c->hidden[c->n_hidden++]) < 0) return -1;
    p += k + (p[k] != '\0');
  }
  return 0;
}

static int parse_feedback(const char *s, mpl_feedback *fb) {
  if (!strcmp(s, "fixed") || !strcmp(s, "fa")) *fb = MPL_FB_FIXED;
  else if (!strcmp(s, "symmetric") || !strcmp(s, "bp")) *fb = MPL_FB_SYMMETRIC;
  else return bad("--feedback", s, "expected fixed or symmetric");
  return 0;
}

/* }====== */

/* {====== search ====== */

static void search_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " search [options]\n"
    "Meta-learn the coefficients of candidate plasticity terms (PAPER.md §1-§6).\n\n"
    "Data\n"
    "  --data NAME          fashion-mnist (default, Debian's dataset-fashion-mnist), fashion-mnist-test,\n"
    "                       emnist-bymerge:DIR (EMNIST ByMerge test split in DIR)\n"
    "  --images F --labels F  any IDX image/label pair (raw or .gz) instead of --data\n"
    "  --per-class N        keep the first N images of each class (400 as in the paper; 0 = all)\n"
    "Tasks\n"
    "  --ways M             classes per task (5)\n"
    "  --shots K            training images per class (50)\n"
    "  --queries Q          query images per class (10)\n"
    "  --sampling MODE      clean (default: distinct classes, images drawn afresh, train/query disjoint)\n"
    "                       or paper (classes with replacement, each class's fixed first K+Q images)\n"
    "Network\n"
    "  --hidden SIZES       hidden layer sizes (170,130,100,70); output width = the dataset's classes\n"
    "  --beta B             softplus sharpness (10)\n"
    "  --feedback MODE      fixed (FA, default) or symmetric (BP)\n"
    "  --bp-detach          symmetric feedback: no meta-gradient through W's role as feedback (reference)\n"
    "Rule\n"
    "  --terms SPEC         paper | paper:F0,F2,F9 | x.so | x.so:a,b (default paper:F0); repeat or join\n"
    "                       with ';' to combine sources\n"
    "  --init NAME=V,...    initial coefficients (default: F0 = 1e-3, others 0)\n"
    "  --sign NAME=+|-,...  keep a coefficient >= 0 (+) or <= 0 (-), projected after each step (none)\n"
    "Meta-optimisation\n"
    "  --episodes N         meta-training episodes, i.e. meta-steps (600)\n"
    "  --meta-batch B       tasks per meta-step, gradients averaged (1, the paper; >1 damps noisy steps)\n"
    "  --seed S             seed of every random draw (1); same seed, same results bit for bit\n"
    "  --lr, --beta1, --beta2, --eps   Adam (1e-3, 0.9, 0.999, 1e-8; eps > 0)\n"
    "  --lambda L           L1 weight (0)\n"
    "  --l1 MODE            prox (default: proximal step, exact zeros) or penalty (the reference)\n"
    "  --zero-tol T         |theta| <= T counts as zero in the printed rule (0)\n"
    "  --max-failures N     stop after N consecutive diverged episodes (20)\n"
    "Output\n"
    "  --out DIR            results directory (default runs/YYYYmmdd-HHMMSS)\n"
    "  --force              write into a directory that already holds a run\n"
    "  --quiet              no progress line\n"
    "  -h, --help           this help\n");
}

enum { O_DATA = 256, O_IMAGES, O_LABELS, O_PERCLASS, O_WAYS, O_SHOTS, O_QUERIES, O_SAMPLING, O_HIDDEN, O_BETA,
       O_FEEDBACK, O_DETACH, O_TERMS, O_INIT, O_EPISODES, O_SEED, O_LR, O_B1, O_B2, O_EPS, O_LAMBDA, O_L1,
       O_ZTOL, O_MAXFAIL, O_OUT, O_FORCE, O_QUIET, O_STEPS, O_TOL, O_FORMAT, O_MBATCH, O_SIGN };

static const struct option search_opts[] = {
  {"data", 1, 0, O_DATA}, {"images", 1, 0, O_IMAGES}, {"labels", 1, 0, O_LABELS}, {"per-class", 1, 0, O_PERCLASS},
  {"ways", 1, 0, O_WAYS}, {"shots", 1, 0, O_SHOTS}, {"queries", 1, 0, O_QUERIES}, {"sampling", 1, 0, O_SAMPLING},
  {"hidden", 1, 0, O_HIDDEN}, {"beta", 1, 0, O_BETA}, {"feedback", 1, 0, O_FEEDBACK}, {"bp-detach", 0, 0, O_DETACH},
  {"terms", 1, 0, O_TERMS}, {"init", 1, 0, O_INIT}, {"sign", 1, 0, O_SIGN}, {"episodes", 1, 0, O_EPISODES}, {"meta-batch", 1, 0, O_MBATCH}, {"seed", 1, 0, O_SEED},
  {"lr", 1, 0, O_LR}, {"beta1", 1, 0, O_B1}, {"beta2", 1, 0, O_B2}, {"eps", 1, 0, O_EPS}, {"lambda", 1, 0, O_LAMBDA},
  {"l1", 1, 0, O_L1}, {"zero-tol", 1, 0, O_ZTOL}, {"max-failures", 1, 0, O_MAXFAIL}, {"out", 1, 0, O_OUT},
  {"force", 0, 0, O_FORCE}, {"quiet", 0, 0, O_QUIET}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};

static int add_terms(mpl_search_cfg *c, const char *a);

static int search_option(int o, const char *a, mpl_search_cfg *c, int *quiet) {
  int v;
  switch (o) {
  case O_DATA: c->data = a; return 0;
  case O_IMAGES: c->images = a; return 0;
  case O_LABELS: c->labels = a; return 0;
  case O_PERCLASS: if (parse_int("--per-class", a, 0, INT_MAX, &v) < 0) return -1; c->per_class = (size_t)v; return 0;
  case O_WAYS: return parse_int("--ways", a, 1, 10000, &c->task.m);
  case O_SHOTS: return parse_int("--shots", a, 1, 100000, &c->task.k);
  case O_QUERIES: return parse_int("--queries", a, 1, 100000, &c->task.q);
  case O_SAMPLING:
    if (!strcmp(a, "paper")) c->task.mode = MPL_SAMPLE_PAPER;
    else if (!strcmp(a, "clean")) c->task.mode = MPL_SAMPLE_CLEAN;
    else return bad("--sampling", a, "expected clean or paper");
    return 0;
  case O_HIDDEN: return parse_hidden(a, c);
  case O_BETA: return parse_double("--beta", a, 1e-6, 1e6, &c->beta);
  case O_FEEDBACK: return parse_feedback(a, &c->feedback);
  case O_DETACH: c->bp_detach = 1; return 0;
  case O_TERMS: return add_terms(c, a);
  case O_INIT: c->init = a; return 0;
  case O_SIGN: c->sign = a; return 0;
  case O_EPISODES: return parse_int("--episodes", a, 1, INT_MAX, &c->episodes);
  case O_SEED: return parse_ulong("--seed", a, &c->seed);
  case O_MBATCH: return parse_int("--meta-batch", a, 1, 4096, &c->meta_batch);
  case O_LR: return parse_double("--lr", a, 1e-300, 1e6, &c->adam.lr);
  case O_B1: return parse_double("--beta1", a, 0, 0.999999999, &c->adam.beta1);
  case O_B2: return parse_double("--beta2", a, 0, 0.999999999, &c->adam.beta2);
  case O_EPS: return parse_double("--eps", a, 1e-300, 1, &c->adam.eps);
  case O_LAMBDA: return parse_double("--lambda", a, 0, 1e12, &c->adam.lambda);
  case O_L1:
    if (!strcmp(a, "prox")) c->adam.l1 = MPL_L1_PROX;
    else if (!strcmp(a, "penalty")) c->adam.l1 = MPL_L1_PENALTY;
    else return bad("--l1", a, "expected prox or penalty");
    return 0;
  case O_ZTOL: return parse_double("--zero-tol", a, 0, 1e12, &c->zero_tol);
  case O_MAXFAIL: return parse_int("--max-failures", a, 1, INT_MAX, &c->max_failures);
  case O_OUT: c->out = a; return 0;
  case O_FORCE: c->force = 1; return 0;
  case O_QUIET: *quiet = 1; return 0;
  default: return -1;
  }
}

/* --terms may be repeated: the sources are joined with ';'. */
static char terms_buf[8192];
static int add_terms(mpl_search_cfg *c, const char *a) {
  if (c->terms != terms_buf) terms_buf[0] = '\0';
  size_t k = strlen(terms_buf);
  if (k + strlen(a) + 2 > sizeof terms_buf) return bad("--terms", a, "too long");
  snprintf(terms_buf + k, sizeof terms_buf - k, "%s%s", k ? ";" : "", a);
  c->terms = terms_buf;
  return 0;
}

static char *join_argv(int argc, char **argv) {
  size_t n = 1;
  for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
  char *s = malloc(n);
  if (!s) return NULL;
  s[0] = '\0';
  for (int i = 0; i < argc; i++) strcat(strcat(s, i ? " " : ""), argv[i]);
  return s;
}

static int cmd_search(int argc, char **argv) {
  mpl_search_cfg c;
  mpl_search_defaults(&c);
  int o, quiet = 0;
  optind = 1;
  while ((o = getopt_long(argc, argv, "h", search_opts, NULL)) != -1) {
    if (o == 'h') { search_help(stdout); return 0; }
    if (o == '?' || search_option(o, optarg, &c, &quiet) < 0) {
      fprintf(stderr, "Try '" PROG " search --help'.\n");
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, PROG " search: unexpected argument '%s'\nTry '" PROG " search --help'.\n", argv[optind]);
    return 2;
  }
  char outbuf[64];
  if (!c.out) {
    time_t t = time(NULL);
    strftime(outbuf, sizeof outbuf, "runs/%Y%m%d-%H%M%S", localtime(&t));
    c.out = outbuf;
  }
  c.progress = quiet ? NULL : stderr;
  char *cmd = join_argv(argc + 1, argv - 1);
  c.command = cmd;
  mpl_search_result res;
  mpl_err err = {0};
  int rc = mpl_search_run(&c, &res, &err);
  free(cmd);
  if (rc < 0) fprintf(stderr, PROG ": %s\n", err.msg);
  if (res.episodes > 0) {
    double acc = 0;
    int k = 0;
    for (int i = 0; i < res.episodes; i++) if (!isnan(res.accuracy[i])) acc += res.accuracy[i], k++;
    printf("%d episodes, %.4f s/episode (median), mean query accuracy %.4f, %d diverged\n", res.episodes,
           res.seconds_per_episode, k ? acc / k : NAN, res.failures);
    if (res.theta) {
      char eq[16384];
      mpl_equation(res.names, res.formulas, res.theta, res.n_terms, c.zero_tol, eq, sizeof eq);
      printf("discovered rule: %s\nresults in %s/\n", eq, c.out);
    }
  }
  mpl_search_result_free(&res);
  return rc < 0 ? 1 : 0;
}

/* }====== */

/* {====== gradcheck ====== */

static void gradcheck_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " gradcheck [options]\n"
    "Compare the exact meta-gradient dL/dtheta (reverse mode through the whole unroll) with\n"
    "Richardson-extrapolated central finite differences on a small network (12-9-8-7-6, random data),\n"
    "for fixed (FA) and symmetric (BP) feedback. Fails (exit 1) if the worst relative error > --tol.\n\n"
    "  --terms SPEC       terms to check (paper: all ten)\n"
    "  --feedback MODE    fixed, symmetric or both (both)\n"
    "  --seed S           seed of the random network, data and theta (1)\n"
    "  --steps N          online steps in the episode (20)\n"
    "  --tol T            largest accepted relative error (1e-6)\n"
    "  -h, --help         this help\n");
}

static int cmd_gradcheck(int argc, char **argv) {
  static const struct option opts[] = {{"terms", 1, 0, O_TERMS}, {"feedback", 1, 0, O_FEEDBACK}, {"seed", 1, 0, O_SEED},
                                       {"steps", 1, 0, O_STEPS}, {"tol", 1, 0, O_TOL}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
  const char *terms = "paper", *fbs = "both";
  unsigned long seed = 1;
  int steps = 20, o;
  double tol = 1e-6;
  optind = 1;
  while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int r = 0;
    switch (o) {
    case 'h': gradcheck_help(stdout); return 0;
    case O_TERMS: terms = optarg; break;
    case O_FEEDBACK: fbs = optarg; break;
    case O_SEED: r = parse_ulong("--seed", optarg, &seed); break;
    case O_STEPS: r = parse_int("--steps", optarg, 1, 100000, &steps); break;
    case O_TOL: r = parse_double("--tol", optarg, 0, 1, &tol); break;
    default: r = -1;
    }
    if (r < 0) { fprintf(stderr, "Try '" PROG " gradcheck --help'.\n"); return 2; }
  }
  if (strcmp(fbs, "both") && strcmp(fbs, "fixed") && strcmp(fbs, "symmetric"))
    return bad("--feedback", fbs, "expected fixed, symmetric or both"), 2;
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
  for (int fb = 0; fb < 2 && rc == 0; fb++) {
    if ((fb == 0 && !strcmp(fbs, "symmetric")) || (fb == 1 && !strcmp(fbs, "fixed"))) continue;
    mpl_gradcheck_cfg cfg;
    mpl_gradcheck_defaults(&cfg);
    cfg.net.feedback = fb ? MPL_FB_SYMMETRIC : MPL_FB_FIXED;
    cfg.seed = seed;
    cfg.n_train = steps;
    mpl_gradcheck_result r;
    if ((rc = mpl_gradcheck(&cfg, ts, sel.which, sel.n, &r, &err)) < 0) break;
    printf("%s feedback, %d steps, query loss %.6f\n", fb ? "symmetric (BP)" : "fixed (FA)", steps, r.loss);
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

/* }====== */

/* {====== terms and check ====== */

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
  printf("usage: " PROG " %s SOURCE\n%s\nSOURCE is a --terms specification: a plugin name found on the plugin path\n"
         "(METAPLAST_PLUGIN_PATH, then the install dir), a plugin file (x.so, dir/x.so), optionally with\n"
         ":name1,name2, and several joined by ';'.\n", cmd, what);
  return 0;
}

static int cmd_terms(int argc, char **argv) {
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
    printf("%-10s %s\n%-10s   %s%s\n", mpl_termset_name(ts, t), f, "", mpl_termset_description(ts, t),
           mpl_termset_is_native(ts, t) ? " (native)" : "");
  }
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  return 0;
}

static int cmd_check(int argc, char **argv) {
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

/* }====== */

/* {====== report and main ====== */

static int cmd_report(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    printf("usage: " PROG " report DIR\nPrint the rule a search discovered (DIR/theta.tsv) as an equation over its\n"
           "surviving terms, with every coefficient.\n");
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: " PROG " report DIR\n");
    return 2;
  }
  mpl_err err = {0};
  if (mpl_report(argv[1], stdout, &err) < 0) {
    fprintf(stderr, PROG ": %s\n", err.msg);
    return 1;
  }
  return 0;
}

static void main_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " COMMAND [options]\n"
    "metaplast discovers interpretable synaptic plasticity rules by meta-learning the coefficients of\n"
    "candidate terms through online learning episodes (Shervani-Tabar & Rosenbaum 2023).\n\n"
    "commands:\n"
    "  search      meta-learn a rule and write a results directory\n"
    "  gradcheck   check the meta-gradient against finite differences\n"
    "  report DIR  print the rule a search discovered\n"
    "  terms SRC   list a term source's terms (plugin name or file)\n"
    "  check SRC   check every term's derivatives against finite differences\n"
    "  --version   version and the BLAS library in use\n\n"
    "'" PROG " COMMAND --help' describes each.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) { main_help(stderr); return 2; }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) { main_help(stdout); return 0; }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf(PROG " %s\nBLAS (libmetaplast): %s\nBLAS (GSL): %s\n", mpl_version(), mpl_blas_library(),
           mpl_gsl_blas_library());
    return 0;
  }
  if (!strcmp(cmd, "search")) return cmd_search(argc - 1, argv + 1);
  if (!strcmp(cmd, "gradcheck")) return cmd_gradcheck(argc - 1, argv + 1);
  if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
  if (!strcmp(cmd, "terms")) return cmd_terms(argc - 1, argv + 1);
  if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1);
  fprintf(stderr, PROG ": unknown command '%s'\n", cmd);
  main_help(stderr);
  return 2;
}

/* }====== */
