/* metaplast: term sources: the paper's pool and the `--terms` specification.
 * See LICENSE for copyright. */
#ifndef METAPLAST_TERMS_H
#define METAPLAST_TERMS_H

#include "metaplast/expr.h"
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Add the paper's ten candidate terms F0..F9 (PAPER.md §4.1, Eqs. 14-23) to ts, built from the
 * term IR. F5-F8 follow the literal matrix reading (a global scalar times a rank-1 term), as
 * documented in docs/terms.md. */
MPL_API int mpl_paper_pool(mpl_termset *ts, mpl_err *err);

/* A selection of terms from a term set, with their initial coefficients. */
typedef struct mpl_selection {
  int n;          /* number of selected terms */
  int *which;     /* indices into the term set, in the order given */
  double *theta0; /* initial coefficient per selected term */
  int *sign;      /* per selected term: 0 free, +1 kept >= 0, -1 kept <= 0 (projected after each step) */
} mpl_selection;

/* Parse a `--terms` specification into ts and sel:
 *   "paper"              all of F0..F9
 *   "paper:F0,F2,F9"     a subset, in that order
 * Initial theta: 1e-3 for F0, 0 for every other term. An unknown source or term name is
 * MPL_ENOTFOUND with a message that lists what exists. Free sel with mpl_selection_free. */
MPL_API int mpl_terms_parse(const char *spec, mpl_termset *ts, mpl_selection *sel, mpl_err *err);

/* Override initial coefficients: "F9=0.01,F2=-0.001" (names must be selected terms). */
MPL_API int mpl_selection_set_init(mpl_selection *sel, const mpl_termset *ts, const char *spec, mpl_err *err);

/* Sign constraints: "F9=+,F2=-" (+, -, or 0/free). Names must be selected terms. */
MPL_API int mpl_selection_set_sign(mpl_selection *sel, const mpl_termset *ts, const char *spec, mpl_err *err);

MPL_API void mpl_selection_free(mpl_selection *sel);

#ifdef __cplusplus
}
#endif
#endif
