/* metaplast eval: a frozen rule against FA and BP on fresh tasks. See LICENSE for copyright. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/eval.h"
#include "metaplast/stats.h"

#include "cli.h"

static void eval_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " eval RULE [options]\n"
    "Freeze a discovered rule (a results directory or a JSON rule) and run it, inner loop only, on fresh\n"
    "tasks beside two baselines that see the SAME tasks and initial weights:\n"
    "  FA  F0 alone (−e_ℓ y_{ℓ−1}ᵀ) with fixed random feedback, at a meta-learned rate\n"
    "  BP  F0 alone with symmetric feedback (gradient descent), at the same rate\n"
    "Prints each method's mean query accuracy with a 98%% percentile-bootstrap interval (500 resamples).\n\n"
    "  --tasks N          number of tasks (default 100)\n"
    "  --seed S           tasks, weights and bootstrap (default 1); same seed, same table\n"
    "  --data NAME        another dataset (fashion-mnist, fashion-mnist-test, emnist-bymerge:DIR,\n"
    "                     csv:FILE[:COLUMN]; 'metaplast data' lists them);\n"
    "                     default: the rule's own\n"
    "  --images F --labels F   or an image/label pair (IDX or .npy)\n"
    "  --per-class N      with --data/--images: first N images per class (default all)\n"
    "  --sampling MODE    clean or paper task sampler (default: the rule's own)\n"
    "  --fa RULE2         FA and BP use θ_F0 of RULE2 (default: the rule's own θ_F0)\n"
    "  --fa-rate X        or this rate\n"
    "  --out DIR          write DIR/eval.csv (per task) and DIR/eval.json (summary)\n"
    "  --final            the search's last iterate instead of its reported (best validated) rule\n"
    "  --strict           exit 3 when the rule diverged on a task or did worse than FA (the verdict line),\n"
    "                     or a term source (plugin, rule file) changed since the run (its recorded hash)\n"
    "  --jobs J           tasks run on J threads (default: the number of online CPUs); the results are\n"
    "                     the same bit for bit whatever J\n"
    "  --quiet            no progress lines\n"
    "Task shape (M-way, K+Q), network and feedback are the rule's (its config): a rule found under\n"
    "direct feedback (DFA) runs under DFA; the baselines stay FA and BP ('train --baseline dfa' runs F0\n"
    "under DFA).\n"
    "The rule's term sources are found again (rule.json \"sources\"): a plugin or rule file given as a\n"
    "file is looked for on METAPLAST_PLUGIN_PATH (METAPLAST_RULES_PATH) by its file name, at the path the\n"
    "run recorded, then as given; a named one on the plugin and rule paths. A source whose content\n"
    "changed since the run is a warning (an error with --strict).\n");
}

static int eval_option(int o, const char *arg, mpl_eval_cfg *c, int *quiet) {
  unsigned long u;
  switch (o) {
  case 'n': return cli_parse_int("--tasks", arg, 1, 1000000, &c->tasks);
  case 's': return cli_parse_ulong("--seed", arg, &c->seed);
  case 'd': c->data = arg; return 0;
  case 'i': c->images = arg; return 0;
  case 'l': c->labels = arg; return 0;
  case 'p': if (cli_parse_ulong("--per-class", arg, &u) < 0) return -1; c->per_class = u; return 0;
  case 'f': c->fa = arg; return 0;
  case 'r': return cli_parse_double("--fa-rate", arg, -HUGE_VAL, HUGE_VAL, &c->fa_rate);
  case 'o': c->out = arg; return 0;
  case 'm':
    if (strcmp(arg, "clean") && strcmp(arg, "paper")) return cli_bad("--sampling", arg, "expected clean or paper");
    c->sampling = arg;
    return 0;
  case 'q': *quiet = 1; return 0;
  case 'F': c->final = 1; return 0;
  case 'j': return cli_parse_int("--jobs", arg, 1, 4096, &c->jobs);
  default: return -1;
  }
}

int cmd_eval(int argc, char **argv) {
  static const struct option opts[] = {
    {"tasks", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
    {"data", required_argument, NULL, 'd'}, {"images", required_argument, NULL, 'i'},
    {"labels", required_argument, NULL, 'l'}, {"per-class", required_argument, NULL, 'p'},
    {"fa", required_argument, NULL, 'f'}, {"fa-rate", required_argument, NULL, 'r'},
    {"out", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'}, {"sampling", required_argument, NULL, 'm'},
    {"final", no_argument, NULL, 'F'}, {"strict", no_argument, NULL, 'S'}, {"jobs", required_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  mpl_eval_cfg c;
  mpl_eval_defaults(&c);
  int o, quiet = 0, strict = 0;
  optind = 1;
  while ((o = cli_getopt(argc, argv, opts)) != -1) {
    if (o == 'h') { eval_help(stdout); return 0; }
    if (o == 'S') { strict = 1; continue; }
    if (o == '?' || eval_option(o, optarg, &c, &quiet) < 0) {
      fprintf(stderr, "Try '" PROG " eval --help'.\n");
      return 2;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "usage: " PROG " eval RULE [options]\nTry '" PROG " eval --help'.\n");
    return 2;
  }
  if (c.fa && isfinite(c.fa_rate)) {
    fprintf(stderr, PROG ": --fa and --fa-rate exclude each other\n");
    return 2;
  }
  c.rule = argv[optind];
  c.progress = quiet ? NULL : stderr;
  mpl_eval_result res;
  mpl_err err = {0};
  int rc = mpl_eval_run(&c, &res, &err);
  for (const char *p = res.notes; *p;) {   /* terms evaluated from their stored formula */
    size_t k = strcspn(p, "\n");
    fprintf(stderr, PROG ": %s%.*s\n", strncmp(p, "warning: ", 9) ? "note: " : "", (int)k, p);
    p += k + (p[k] == '\n');
  }
  if (rc < 0) fprintf(stderr, PROG ": %s\n", err.msg);
  else {
    size_t n = mpl_eval_table(&res, &c, NULL, 0);
    char *text = malloc(n + 1);
    if (text) mpl_eval_table(&res, &c, text, n + 1), fputs(text, stdout);
    if (c.out) printf("per task: %s/eval.csv; summary: %s/eval.json\n", c.out, c.out);
    free(text);
  }
  /* --strict: a rule that diverged on a task or did worse than FA is a failure (exit 3) */
  int bad = rc == 0 && (res.diverged[MPL_EVAL_RULE] > 0 || !(res.mean[MPL_EVAL_RULE] >= res.mean[MPL_EVAL_FA]));
  if (rc == 0 && strict && res.changed) { /* a source rebuilt or edited since the run: not the same rule */
    fprintf(stderr, PROG ": --strict: %d term source%s changed since the run (the warning above)\n", res.changed,
            res.changed == 1 ? "" : "s");
    bad = 1;
  }
  mpl_eval_result_free(&res);
  return rc < 0 ? 1 : strict && bad ? 3 : 0;
}
