/* metaplast plot: figures of one or several results directories (gnuplot). See LICENSE for copyright. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/plot.h"

#include "cli.h"

static void plot_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " plot DIR [DIR2 ...] [options]\n"
    "Draw the figures of results directories with gnuplot (docs/trials.md). A DIR is a search's\n"
    "directory, a --trials directory (mean over trials with its 98%% bootstrap band) or a\n"
    "--lambda-path directory (its runs compared, and accuracy against surviving terms), or an\n"
    "'eval --out' directory (the rule, FA and BP with their intervals and each task: figure eval).\n"
    "A trials directory adds the survival figure (share of trials each term survived in); failed\n"
    "episodes are marked in a single run's accuracy, loss and theta.\n"
    "One DIR: one figure per quantity; several: one comparison figure per quantity.\n\n"
    "Figures: accuracy, loss (meta-accuracy and meta-loss per episode with a moving average),\n"
    "theta (coefficient trajectories), alpha (alignment angles per layer), ortho (orthonormality\n"
    "error per layer), path (sparsity path only).\n\n"
    "  --out PREFIX         figures are PREFIX<figure>.<ext>; a PREFIX ending in '/' is a directory\n"
    "                       (default DIR/plots/ for one DIR, plots/ for several)\n"
    "  --format LIST        png, pdf, svg, comma-separated (png,pdf)\n"
    "  --labels A,B,...     legend names of the DIRs, in order (default: each DIR's last component)\n"
    "  --window W           moving average over the last W episodes (%d)\n"
    "  -h, --help           this help\n", MPL_PLOT_WINDOW);
}

enum { O_OUT = 256, O_FORMAT, O_LABELS, O_WINDOW };

static const struct option plot_opts[] = {
  {"out", 1, 0, O_OUT}, {"format", 1, 0, O_FORMAT}, {"labels", 1, 0, O_LABELS}, {"window", 1, 0, O_WINDOW},
  {"help", 0, 0, 'h'}, {0, 0, 0, 0}};

/* Split "A,B,C" in place into at most max names; returns the count. */
static int split_labels(char *s, char **out, int max) {
  int n = 0;
  for (char *p = s; n < max;) {
    out[n++] = p;
    p += strcspn(p, ",");
    if (!*p) break;
    *p++ = '\0';
  }
  return n;
}

int cmd_plot(int argc, char **argv) {
  mpl_plot_cfg c;
  mpl_plot_defaults(&c);
  char *labels_arg = NULL;
  int o;
  optind = 1;
  while ((o = cli_getopt(argc, argv, plot_opts)) != -1) {
    int bad = 0;
    switch (o) {
    case 'h': plot_help(stdout); return 0;
    case O_OUT: c.out = optarg; break;
    case O_FORMAT: c.formats = optarg; break;
    case O_LABELS: labels_arg = optarg; break;
    case O_WINDOW: bad = cli_parse_int("--window", optarg, 1, INT_MAX, &c.window) < 0; break;
    default: bad = 1;
    }
    if (bad) {
      fprintf(stderr, "Try '" PROG " plot --help'.\n");
      return 2;
    }
  }
  int n = argc - optind;
  if (n < 1) {
    fprintf(stderr, PROG ": plot: no results directory given\nTry '" PROG " plot --help'.\n");
    return 2;
  }
  char *labels[64] = {0}, *lcopy = labels_arg ? strdup(labels_arg) : NULL;
  if (lcopy && split_labels(lcopy, labels, 64) != n) {
    fprintf(stderr, PROG ": --labels '%s' names %d runs, %d DIRs given\n", labels_arg,
            split_labels(strcpy(lcopy, labels_arg), labels, 64), n);
    free(lcopy);
    return 2;
  }
  c.labels = lcopy ? (const char *const *)labels : NULL;
  c.report = stdout;
  mpl_err err = {0};
  int rc = mpl_plot((const char *const *)(argv + optind), n, &c, &err);
  if (rc < 0) fprintf(stderr, PROG ": %s\n", err.msg);
  free(lcopy);
  return rc < 0 ? 1 : 0;
}
