/* metaplast: the command-line interface. One file per command (cmd_*.c); this one dispatches.
 * See LICENSE for copyright. */
#include <stdio.h>
#include <string.h>

#include "metaplast/version.h"

#include "cli.h"

/* The commands, in the order of the help text. */
static const struct { const char *name; int (*run)(int, char **); } commands[] = {
  {"search", cmd_search}, {"gradcheck", cmd_gradcheck}, {"report", cmd_report}, {"eval", cmd_eval}, {"terms", cmd_terms},
  {"check", cmd_check},
  {"run", cmd_run},
  {"plot", cmd_plot},
};

static void main_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " COMMAND [options]\n"
    "metaplast discovers interpretable synaptic plasticity rules by meta-learning the coefficients of\n"
    "candidate terms through online learning episodes (Shervani-Tabar & Rosenbaum 2023).\n\n"
    "commands:\n"
    "  search      meta-learn a rule and write a results directory\n"
    "  gradcheck   check the meta-gradient against finite differences\n"
    "  report DIR  print the rule a search discovered\n"
    "  eval RULE   run a discovered rule on fresh tasks against FA and BP\n"
    "  terms SRC   list a term source's terms (plugin name or file)\n"
    "  check SRC   check every term's derivatives against finite differences\n"
    "  run FILE    run a Lua script with the metaplast module (docs/lua.md)\n"
    "  plot DIR..  figures of results directories (gnuplot; docs/trials.md)\n"
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
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, PROG ": unknown command '%s'\n", cmd);
  main_help(stderr);
  return 2;
}
