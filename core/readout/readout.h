/* metaplast: the read-out layer's private interface (eval.c), shared by eval and train. Never
 * installed. See LICENSE for copyright. */
#ifndef METAPLAST_READOUT_H
#define METAPLAST_READOUT_H

#include "metaplast/terms.h"

#include <jansson.h>

#include "results.h"

/* A frozen rule loaded and rebuilt (eval.c; `eval` and `train`): *ts is new (free it with its
 * selection even on failure), sel->theta0 holds the rule's θ. */
MPL_INTERNAL int mpl__rule_load(const char *path, int final, struct mpl_readout *r, mpl_termset **ts,
                                mpl_selection *sel, char *notes, size_t nn, int *changed, mpl_err *err);
/* doc (its reference taken, NULL: out of memory) as indented JSON with a final newline, written
 * atomically to dir/file (eval.json, train's files). */
MPL_INTERNAL int mpl__write_json(const char *dir, const char *file, json_t *doc, mpl_err *err);

#endif
