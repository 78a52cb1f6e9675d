/* metaplast command line: what the commands share (strict argument parsing). Each command is
 * one file, cmd_NAME.c, with its entry point registered in main.c. See LICENSE for copyright. */
#ifndef METAPLAST_CLI_H
#define METAPLAST_CLI_H

#include <stdio.h>

#include "metaplast/net.h"
#include "metaplast/search.h"

#define PROG "metaplast"

struct option;
/* getopt_long(argc, argv, "h", opts) with its errors as "metaplast: unrecognized option '--x'". */
int cli_getopt(int argc, char **argv, const struct option *opts);
/* Print "metaplast: FLAG 'VAL': WHAT" to stderr; returns -1. */
int cli_bad(const char *flag, const char *val, const char *what);
/* Parse a whole string as a number in [lo, hi] or print why not (returns -1). */
int cli_parse_int(const char *flag, const char *s, long lo, long hi, int *out);
int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out);
int cli_parse_ulong(const char *flag, const char *s, unsigned long *out);
/* "170,130,100,70" or "none" into c->hidden. */
int cli_parse_hidden(const char *s, mpl_search_cfg *c);
/* fixed|fa, symmetric|bp or direct|dfa. */
int cli_parse_feedback(const char *s, mpl_feedback *fb);
/* SIGINT and SIGTERM call handler once; a second signal has the default action (SA_RESETHAND). */
void cli_catch_stop(void (*handler)(int));
/* argv joined with spaces (malloc'ed), recorded in config.txt. */
char *cli_join_argv(int argc, char **argv);

/* The commands: argv[0] is the command's name. Exit status: 0 ok, 1 failure, 2 usage. */
int cmd_search(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_terms(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
