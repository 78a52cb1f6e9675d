/* metaplast: the episode engine's private interface (episode.c), for white-box use by the search
 * and the tests. Never installed. See LICENSE for copyright. */
#ifndef METAPLAST_EPISODE_H
#define METAPLAST_EPISODE_H

#include "metaplast/net.h"

#include "util.h"


/* The adapted network's query logits in the last mpl_episode_run (n_query rows of n_L), as its
 * query forward pass computed them (before the loss overwrote them with their adjoint). Borrowed,
 * valid until the next run (episode.c). */
MPL_INTERNAL const double *mpl__episode_query_logits(const struct mpl_episode *ep);
/* Steps per segment of layer l's weights in the last mpl_episode_run on the lazy path (episode.c). */
MPL_INTERNAL int mpl__episode_segment(const struct mpl_episode *ep, int l);

#endif
