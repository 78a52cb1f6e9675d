/* metaplast: exchanging results between the processes of a distributed run (comm.h). The
 * transport (MPI in the metaplast command) only moves bytes; here they are made and read.
 * See LICENSE for copyright. */
#include "dist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int mpl__comm_on(const mpl_comm *c) { return c && c->size > 1; }

void mpl__comm_fail(const mpl_comm *c, const mpl_err *err) {
  if (c && c->fail) c->fail(c->ud, err);
}

int mpl__comm_gatherv(const mpl_comm *c, const void *send, size_t len, char **recv, size_t **lens, size_t *stride,
                      mpl_err *err) {
  uint64_t mine = len, *all = NULL, max = 0;
  char *pad = NULL;
  int rc = MPL_OK;
  *recv = NULL, *lens = NULL, *stride = 0;
  if (c->rank == 0 && !(all = calloc((size_t)c->size, sizeof *all))) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (rc < 0) {   /* process 0 cannot take part: the others would wait */
    mpl__comm_fail(c, err);
    return rc;
  }
  rc = c->gather(c->ud, &mine, sizeof mine, all);
  for (int r = 0; rc == 0 && c->rank == 0 && r < c->size; r++) max = all[r] > max ? all[r] : max;
  if (rc == 0) rc = c->bcast(c->ud, &max, sizeof max);   /* every process sends max bytes */
  if (rc < 0) {
    free(all);
    return mpl_errorf(err, rc, "cannot exchange results with the other processes");
  }
  pad = calloc(max ? max : 1, 1);
  if (c->rank == 0) *recv = malloc((size_t)c->size * (max ? max : 1)), *lens = malloc((size_t)c->size * sizeof **lens);
  if (!pad || (c->rank == 0 && (!*recv || !*lens))) {
    free(pad), free(all), free(*recv), free(*lens);
    *recv = NULL, *lens = NULL;
    mpl_errorf(err, MPL_ENOMEM, "out of memory");
    mpl__comm_fail(c, err);
    return MPL_ENOMEM;
  }
  if (len) memcpy(pad, send, len);
  rc = c->gather(c->ud, pad, (size_t)max, *recv);
  for (int r = 0; c->rank == 0 && r < c->size; r++) (*lens)[r] = (size_t)all[r];
  *stride = (size_t)max;
  free(pad), free(all);
  return rc < 0 ? mpl_errorf(err, rc, "cannot exchange results with the other processes") : MPL_OK;
}

int mpl__comm_agree(const mpl_comm *c, int rc, mpl_err *err) {
  int v = rc;
  if (c->bcast(c->ud, &v, sizeof v) < 0) return rc < 0 ? rc : mpl_errorf(err, MPL_EIO, "cannot reach process 0");
  if (c->rank != 0 && v < 0 && rc == 0)
    return mpl_errorf(err, v, "stopped with process 0 (%s; its message says why)", mpl_strerror(v));
  return c->rank == 0 ? rc : v;
}

/* {====== Bytes ====== */

void mpl__buf_put(mpl__buf *b, const void *x, size_t n) {
  if (b->oom) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return; }
    b->p = p, b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, x, n);
  b->len += n;
}

void mpl__rd_get(mpl__rd *r, void *x, size_t n) {
  if (r->bad || n > r->len - r->off) {
    r->bad = 1;
    memset(x, 0, n);
    return;
  }
  memcpy(x, r->p + r->off, n);
  r->off += n;
}

void mpl__buf_put_str(mpl__buf *b, const char *s) {
  uint64_t n = s ? strlen(s) : 0;
  mpl__buf_put(b, &n, sizeof n);
  mpl__buf_put(b, s, (size_t)n);
}

char *mpl__rd_get_str(mpl__rd *r) {
  uint64_t n;
  mpl__rd_get(r, &n, sizeof n);
  if (r->bad || n > r->len - r->off) return r->bad = 1, NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return r->bad = 1, NULL;
  mpl__rd_get(r, s, (size_t)n);
  s[n] = '\0';
  return s;
}

double *mpl__rd_get_doubles(mpl__rd *r, int n) {
  if (r->bad || n < 0 || (size_t)n > (r->len - r->off) / sizeof(double)) return r->bad = 1, NULL;
  double *x = malloc((size_t)(n ? n : 1) * sizeof *x);
  if (!x) return r->bad = 1, NULL;
  mpl__rd_get(r, x, (size_t)n * sizeof *x);
  return x;
}

/* }====== */
