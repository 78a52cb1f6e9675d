/* metaplast: term sources: the paper's pool and the `--terms` specification.
 * See LICENSE for copyright. */
#ifndef METAPLAST_TERMS_H
#define METAPLAST_TERMS_H

#include <signal.h>

#include "metaplast/expr.h"
#include "metaplast/native.h" /* mpl_native_current */
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A selection of terms from a term set, with their initial coefficients. */
typedef struct mpl_selection {
  int n;          /* number of selected terms */
  int *which;     /* indices into the term set, in the order given */
  double *theta0; /* initial coefficient per selected term */
  int *sign;      /* per selected term: 0 free, +1 kept >= 0, -1 kept <= 0 (projected after each step);
                   * starts as the term's declared sign */
} mpl_selection;

/* Parse a `--terms` specification into ts and sel. Sources are separated by ';':
 *   "paper"              every term of the plugin `paper` (paper.so on the plugin path:
 *                        METAPLAST_PLUGIN_PATH, then the install dir, then the build tree)
 *   "paper:F0,F2,F9"     a subset, in that order
 *   "dir/x.so", "x.so:a,b"   a plugin file (a source with '/' or ending in .so)
 *   "rules/oja.lua", "x.lua:F0,F9"   a rule file: Lua formulas run once in a sandbox (docs/rules.md)
 *   "oja"                a bare name that is no plugin: the rule file oja.lua on the rule path
 *                        (METAPLAST_RULES_PATH, then the install dir's share/metaplast/rules, then
 *                        the source tree's rules/)
 *   "paper:F0,F9;x.so"   several sources in one search
 * Two selected terms with one name are an error naming both sources.
 * Initial theta: 1e-3 for a term named F0, 0 for every other term; sign constraint: the
 * term's declared sign (the paper's F9, Oja's rule: >= 0). An unknown source or term
 * name is MPL_ENOTFOUND with a message that lists what exists. Free sel with
 * mpl_selection_free. */
MPL_API int mpl_terms_parse(const char *spec, mpl_termset *ts, mpl_selection *sel, mpl_err *err);

/* Override initial coefficients: "F9=0.01,F2=-0.001" (names must be selected terms). */
MPL_API int mpl_selection_set_init(mpl_selection *sel, const mpl_termset *ts, const char *spec, mpl_err *err);

/* Sign constraints: "F9=+,F2=-" (+, -, or 0/free), or "none" (every term free). Names must be
 * selected terms. A selection starts with each term's declared sign (mpl_termset_sign); this
 * overrides it. */
MPL_API int mpl_selection_set_sign(mpl_selection *sel, const mpl_termset *ts, const char *spec, mpl_err *err);

MPL_API void mpl_selection_free(mpl_selection *sel);

/* A stop flag for loading term sources, e.g. the one a SIGINT/SIGTERM handler sets: while
 * *flag is non-zero, a rule file being loaded stops at its next Lua instruction and the load
 * fails with "FILE:LINE: rule file was interrupted ...". Process-wide (loads in every thread
 * poll it); NULL, the default, turns it off. `metaplast search` passes its signal flag here. */
MPL_API void mpl_terms_set_stop(volatile sig_atomic_t *flag);


#ifdef __cplusplus
}
#endif
#endif
