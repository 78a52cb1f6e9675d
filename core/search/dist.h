/* metaplast: the library's side of comm.h — exchanging results between processes over the
 * transport's bcast and gather (no message-passing system here). See LICENSE for copyright. */
#ifndef METAPLAST_DIST_H
#define METAPLAST_DIST_H

#include <stddef.h>

#include "metaplast/comm.h"

/* More than one process shares the work. */
int mpl__comm_on(const mpl_comm *c);

/* This process failed and the others cannot know: the transport's fail (ends the job, or returns). */
void mpl__comm_fail(const mpl_comm *c, const mpl_err *err);

/* Every process sends len bytes (lengths may differ); process 0 receives them in *recv
 * (malloc'ed, process r's at r * *stride, lens[r] bytes; *lens malloc'ed). NULL elsewhere. */
int mpl__comm_gatherv(const mpl_comm *c, const void *send, size_t len, char **recv, size_t **lens, size_t *stride,
                      mpl_err *err);

/* Every process returns process 0's rc (with process 0's message there, a pointer to it elsewhere). */
int mpl__comm_agree(const mpl_comm *c, int rc, mpl_err *err);

/* A growing byte buffer and a reader over one. */
typedef struct mpl__buf { char *p; size_t len, cap; int oom; } mpl__buf;
typedef struct mpl__rd { const char *p; size_t len, off; int bad; } mpl__rd;
void mpl__buf_put(mpl__buf *b, const void *x, size_t n);
void mpl__rd_get(mpl__rd *r, void *x, size_t n);

/* A string (length, bytes) and back (malloc'ed); n doubles back (malloc'ed). NULL and r->bad set
 * when the bytes run out or memory is short. */
void mpl__buf_put_str(mpl__buf *b, const char *s);
char *mpl__rd_get_str(mpl__rd *r);
double *mpl__rd_get_doubles(mpl__rd *r, int n);

#endif
