/* metaplast: the results layer's private interface: the rule record's sources (rule_sources.c)
 * and rule.txt (report.c). Never installed. See LICENSE for copyright. */
#ifndef METAPLAST_RESULTS_PRIVATE_H
#define METAPLAST_RESULTS_PRIVATE_H

#include "metaplast/report.h"

#include "front.h"


/* A rule's records of its sources (rule_sources.c): from the term set a search loaded, as JSON
 * (rule.json "sources") and back, and a source found again (mpl__source_locate with the recorded
 * path) with its content compared to the record's. */
struct mpl_readout;
struct mpl_readout_source;
struct json_t;
typedef struct mpl__source_check { int changed; char note[1400]; } mpl__source_check;
MPL_INTERNAL int mpl__readout_sources_from(struct mpl_readout *r, const mpl_termset *ts);
MPL_INTERNAL struct json_t *mpl__readout_sources_json(const struct mpl_readout *r);
MPL_INTERNAL int mpl__readout_sources_load(struct json_t *a, const char *path, struct mpl_readout *r, mpl_err *err);
MPL_INTERNAL const struct mpl_readout_source *mpl__readout_source(const struct mpl_readout *r, const char *spec);
MPL_INTERNAL void mpl__readout_sources_free(struct mpl_readout *r);
MPL_INTERNAL int mpl__readout_locate(const struct mpl_readout *r, const char *spec, char *path, size_t n,
                                     mpl__source_check *chk, mpl_err *err);
/* mpl_readout_build_noted counting the sources whose content changed since the run (report.c). */
MPL_INTERNAL int mpl__readout_build(const struct mpl_readout *r, mpl_termset *ts, mpl_selection *sel, char *notes,
                                    size_t nn, int *changed, mpl_err *err);

/* The terms of a rule as rule.txt lists them: names, formulas, θ and, where a run recorded them,
 * the standardization scales (NULL if not). */
typedef struct mpl__rule_terms {
  int n_terms;
  char *const *names, *const *formulas;
  const double *theta, *scale;
} mpl__rule_terms;
/* The rule.txt text of a rule (report.c): the equation over |θ| > tol and the table of terms. */
MPL_INTERNAL size_t mpl__rule_text(const mpl__rule_terms *r, double tol, char *buf, size_t len);

#endif
