/* metaplast: the command-line interface. One file per command (cmd_*.c); this one dispatches.
 * See LICENSE for copyright. */
#define _GNU_SOURCE /* sigaltstack, SA_ONSTACK */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "metaplast/terms.h"
#include "metaplast/version.h"

#include "cli.h"

/* The commands, in the order of the help text. */
static const struct { const char *name; int (*run)(int, char **); } commands[] = {
  {"search", cmd_search}, {"gradcheck", cmd_gradcheck}, {"report", cmd_report}, {"eval", cmd_eval}, {"terms", cmd_terms},
  {"check", cmd_check},
  {"run", cmd_run},
  {"plot", cmd_plot},
  {"data", cmd_data},
  {"train", cmd_train},
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
    "  train RULE  train a network online on a whole training set with a fixed rule (Fig. 1)\n"
    "  terms SRC   list a term source's terms (plugin name or file)\n"
    "  check SRC   check every term's derivatives against finite differences\n"
    "  run FILE    run a Lua script with the metaplast module (docs/lua.md)\n"
    "  plot DIR..  figures of results directories (gnuplot; docs/trials.md)\n"
    "  data        the --data names and file formats, what each is and where it is read from\n"
    "  --version   version and the BLAS library in use\n\n"
    "'" PROG " COMMAND --help' describes each.\n");
}

/* {====== A fault inside a native term (issue 23) ======
 * A plugin's callback that crashes takes the process with it; the handler names the term, its
 * source and the phase before the process exits with status 70 (write(2) and _exit only: async-
 * signal-safe). A fault anywhere else gets the default action (SA_RESETHAND, then the faulting
 * instruction runs again). `metaplast check` runs each term of a source with native terms in a
 * child process (cmd_terms.c), so one crashing term is reported and the others still checked. */

#define NATIVE_FAULT_STATUS 70

static void put(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t k = write(STDERR_FILENO, s, n);
    if (k <= 0) return;
    s += k, n -= (size_t)k;
  }
}

static void on_fault(int sig) {
  const char *term, *source, *phase;
  if (!mpl_native_current(&term, &source, &phase)) return; /* not ours: the default action */
  const char *name = sig == SIGSEGV ? "SIGSEGV (invalid memory access)" : sig == SIGBUS ? "SIGBUS (bus error)"
                     : sig == SIGFPE ? "SIGFPE (arithmetic fault)" : "SIGILL (illegal instruction)";
  put(PROG ": fatal: ");
  put(name);
  put(" in native term '");
  put(term);
  put("' from ");
  put(source[0] ? source : "(unknown source)");
  put(", in its ");
  put(phase);
  put(" callback: the plugin is at fault ('" PROG " check ");
  put(source[0] ? source : "SOURCE");
  put("' checks its terms one by one; a search keeps its last checkpoint)\n");
  _exit(NATIVE_FAULT_STATUS);
}

static void catch_native_faults(void) {
  static char altstack[1 << 16]; /* a callback that overflows its stack still gets a message (main thread) */
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fault;
  sa.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
}

/* }====== */

int main(int argc, char **argv) {
  catch_native_faults();
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
