/* metaplast report: print a discovered rule. See LICENSE for copyright. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metaplast/search.h"

#include "cli.h"

int cmd_report(int argc, char **argv) {
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
