/* metaplast command line: strict argument parsing. See LICENSE for copyright. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* getopt_long with the messages in the one format of every command's errors ("metaplast: ...";
 * getopt's own would start with the command's name, "search: unrecognized option"). */
int cli_getopt(int argc, char **argv, const struct option *opts) {
  opterr = 0;
  int o = getopt_long(argc, argv, "h", opts, NULL);
  if (o != '?') return o;
  const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
  int missing = 0;
  for (const struct option *x = opts; x->name && !missing; x++)   /* --flag at the end, its value missing */
    missing = x->has_arg == required_argument && !strncmp(arg, "--", 2) && !strcmp(arg + 2, x->name);
  if (missing) fprintf(stderr, PROG ": option '%s' requires a value\n", arg);
  else if (optopt) fprintf(stderr, PROG ": unrecognized option '-%c'\n", optopt);
  else fprintf(stderr, PROG ": unrecognized option '%s'\n", arg);
  return '?';
}

int cli_bad(const char *flag, const char *val, const char *what) {
  fprintf(stderr, PROG ": %s '%s': %s\n", flag, val, what);
  return -1;
}

int cli_parse_int(const char *flag, const char *s, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno) return cli_bad(flag, s, "not an integer");
  if (v < lo || v > hi) {
    char m[96];
    snprintf(m, sizeof m, "out of range [%ld, %ld]", lo, hi);
    return cli_bad(flag, s, m);
  }
  *out = (int)v;
  return 0;
}

int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v)) return cli_bad(flag, s, "not a finite number");
  if (v < lo || v > hi) {
    char m[96];
    snprintf(m, sizeof m, "out of range [%g, %g]", lo, hi);
    return cli_bad(flag, s, m);
  }
  *out = v;
  return 0;
}

int cli_parse_ulong(const char *flag, const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  if (*s == '-') return cli_bad(flag, s, "must not be negative");
  unsigned long v = strtoul(s, &end, 10);
  if (end == s || *end || errno) return cli_bad(flag, s, "not a non-negative integer");
  *out = v;
  return 0;
}

/* The reader of --hidden is the table's (the setting network, whose flag it is). */
int cli_parse_hidden(const char *s, mpl_search_cfg *c) {
  const mpl_setting *t = mpl_search_setting("hidden", MPL_SETTING_BY_FLAG);
  char why[200];
  return mpl_setting_parse(t, s, MPL_FROM_FLAG, c, why, sizeof why) < 0 ? cli_bad("--hidden", s, why) : 0;
}

int cli_parse_feedback(const char *s, mpl_feedback *fb) {
  if (mpl_feedback_parse(s, fb) < 0) return cli_bad("--feedback", s, "expected " MPL_FEEDBACK_NAMES);
  return 0;
}

char *cli_join_argv(int argc, char **argv) {
  size_t n = 1;
  for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
  char *s = malloc(n);
  if (!s) return NULL;
  s[0] = '\0';
  for (int i = 0; i < argc; i++) strcat(strcat(s, i ? " " : ""), argv[i]);
  return s;
}

void cli_catch_stop(void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}
