/* metaplast tests: one layer's signals and weights, drawn at random, as a term's input (shared by
 * test_terms and test_group; define NPRE, NPOST and NW = NPRE * NPOST before including).
 * See LICENSE for copyright. */
#ifndef METAPLAST_TEST_LAYER_FIXTURE_H
#define METAPLAST_TEST_LAYER_FIXTURE_H

#include <gsl/gsl_rng.h>

#include "metaplast/terms.h"

static double unif(gsl_rng *rng, double lo, double hi) { return lo + (hi - lo) * gsl_rng_uniform(rng); }

typedef struct layer {
  double pre[NPRE], post[NPOST], epre[NPRE], epost[NPOST], W[NW];
} layer;

/* pre ~ U(0, 1.5), post ~ U(0, post_hi), the errors ~ U(-1, 1), W ~ U(-w_hi, w_hi). */
static void random_layer(gsl_rng *rng, layer *d, double post_hi, double w_hi) {
  for (int j = 0; j < NPRE; j++) d->pre[j] = unif(rng, 0, 1.5), d->epre[j] = unif(rng, -1, 1);
  for (int i = 0; i < NPOST; i++) d->post[i] = unif(rng, 0, post_hi), d->epost[i] = unif(rng, -1, 1);
  for (int k = 0; k < NW; k++) d->W[k] = unif(rng, -w_hi, w_hi);
}

static mpl_layer_io layer_io(layer *d) {
  mpl_layer_io io = {.n_pre = NPRE, .n_post = NPOST, .W = d->W};
  io.sig[MPL_SIG_PRE] = d->pre;
  io.sig[MPL_SIG_POST] = d->post;
  io.sig[MPL_SIG_EPRE] = d->epre;
  io.sig[MPL_SIG_EPOST] = d->epost;
  return io;
}

#endif
