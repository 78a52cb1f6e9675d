/* metaplast: figures of results directories, drawn by gnuplot (run as a child process).
 * See LICENSE for copyright. docs/trials.md lists the figures and what each shows. */
#ifndef METAPLAST_PLOT_H
#define METAPLAST_PLOT_H

#include <stdio.h>

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Moving-average window (episodes) of the per-episode curves: each point is the mean of the
 * last MPL_PLOT_WINDOW episodes up to it (fewer at the start; NaN episodes skipped). */
#define MPL_PLOT_WINDOW 20

typedef struct mpl_plot_cfg {
  const char *out;            /* path prefix of the figures: OUT<figure>.<ext>; a prefix ending in
                               * '/' is a directory (created). NULL: "DIR/plots/" for one DIR,
                               * "plots/" for several */
  const char *formats;        /* comma-separated png, pdf, svg (default "png,pdf") */
  const char *const *labels;  /* legend name per DIR, or NULL: each DIR's last path component */
  int window;                 /* moving average window (default MPL_PLOT_WINDOW) */
  const char *gnuplot;        /* the gnuplot program, looked up on PATH (default "gnuplot") */
  FILE *report;               /* receives the path of each figure written, one per line, or NULL */
} mpl_plot_cfg;

MPL_API void mpl_plot_defaults(mpl_plot_cfg *cfg);

/* Plot the results directories dirs[0..n-1]. Each is a search's directory (log.csv), a trials
 * directory (summary.csv and trial-NNN/) or a sparsity path (path.csv and one directory per lambda,
 * whose runs are then compared with each other). One DIR gives one figure per quantity; several give one
 * comparison figure per quantity with a legend naming each run. Figures: accuracy, loss, theta,
 * alpha, ortho (and path for a sparsity path; survival, or survival-K among several runs, for a
 * trials run: the share of trials in which each term survived, from its terms.csv; eval, or
 * eval-K, for an `eval --out` DIR: eval.json's three means with intervals, eval.csv's tasks); failed
 * episodes of a single run are marked in accuracy, loss and theta; beside them OUT plot.gp (the gnuplot script),
 * OUT data-K.dat (its data) and OUT gnuplot.log (gnuplot's messages).
 * MPL_ENOTFOUND (with an installation hint) if gnuplot cannot be run; MPL_EIO if it fails,
 * with the end of its messages. Not thread-safe with respect to the same OUT. */
MPL_API int mpl_plot(const char *const *dirs, int n, const mpl_plot_cfg *cfg, mpl_err *err);

#ifdef __cplusplus
}
#endif
#endif
