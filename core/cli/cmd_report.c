/* metaplast report: print a discovered rule as text, LaTeX, Markdown or JSON.
 * See LICENSE for copyright. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/report.h"

#include "cli.h"

static void report_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " report DIR [--format text|latex|markdown|json] [--tol T]\n"
    "Print the rule a search discovered as the equation ΔW = Σ θ_r F_r over its surviving terms, with\n"
    "every coefficient. DIR is a results directory (its rule.json, or theta.tsv and config.txt); a JSON\n"
    "rule file (rule.json) works too.\n\n"
    "  --format F   text (rule.txt, the default), latex (an equation environment; needs amsmath),\n"
    "               markdown (the equation in $$...$$ and a table), json (rule.json: every term with\n"
    "               its source, description, θ, formulas and survival, and the run's configuration;\n"
    "               it loads back as a fixed rule, e.g. in '" PROG " eval')\n"
    "  --tol T      a term survives when |θ| > T (default: the run's --zero-tol; 0 keeps every\n"
    "               nonzero θ: with proximal L1 a pruned term is exactly 0)\n"
    "  --final      the search's last iterate instead of the reported (best validated) rule\n"
    "  --strict     exit 3 when the run's verdict is not healthy (or it has none)\n\n"
    "The run's health verdict (docs/discovery.md) is printed above the equation.\n"
    "Sign convention: " MPL_SIGN_CONVENTION " (W <- W + ΔW at every online step).\n");
}

int cmd_report(int argc, char **argv) {
  static const struct option opts[] = {
    {"format", required_argument, NULL, 'f'}, {"tol", required_argument, NULL, 't'},
    {"final", no_argument, NULL, 'F'}, {"strict", no_argument, NULL, 'S'},
    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  mpl_report_format fmt = MPL_REPORT_TEXT;
  double tol = -1;
  int o, final = 0, strict = 0;
  optind = 1;
  while ((o = cli_getopt(argc, argv, opts)) != -1) {
    if (o == 'h') { report_help(stdout); return 0; }
    if (o == 'f' && mpl_report_format_parse(optarg, &fmt) < 0) o = cli_bad("--format", optarg, "expected text, latex, markdown or json");
    if (o == 't' && cli_parse_double("--tol", optarg, 0, HUGE_VAL, &tol) < 0) o = -1;
    if (o == 'F') final = 1;
    if (o == 'S') strict = 1;
    if (o == '?' || o == -1) {
      fprintf(stderr, "Try '" PROG " report --help'.\n");
      return 2;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "usage: " PROG " report DIR [--format text|latex|markdown|json] [--tol T]\n");
    return 2;
  }
  mpl_err err = {0};
  mpl_readout r;
  if (mpl_readout_load(argv[optind], &r, &err) < 0) {
    fprintf(stderr, PROG ": %s\n", err.msg);
    return 1;
  }
  if (tol >= 0) r.zero_tol = tol;
  char *text = final && mpl_readout_use_final(&r, &err) < 0 ? NULL : mpl_readout_format(&r, fmt, &err);
  int healthy = r.health && r.healthy;
  if (text) fputs(text, stdout);
  else fprintf(stderr, PROG ": %s: %s\n", argv[optind], err.msg);
  free(text);
  mpl_readout_free(&r);
  return !text ? 1 : strict && !healthy ? 3 : 0;
}
