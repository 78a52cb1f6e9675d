/* metaplast: a parallel loop over independent items on POSIX threads (util.h). See LICENSE for
 * copyright. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

typedef struct loop {
  int n, next, first_fail;   /* the next item to claim; the lowest item that failed (n: none) */
  mpl__item_fn fn;
  void *ctx;
  pthread_mutex_t mu;
} loop;

typedef struct worker { loop *L; int w; } worker;

/* Claim items in increasing order until none is left or one has failed; run each. */
static void *work(void *arg) {
  const worker *W = arg;
  loop *L = W->L;
  for (;;) {
    pthread_mutex_lock(&L->mu);
    int i = L->first_fail < L->n ? L->n : L->next++;
    pthread_mutex_unlock(&L->mu);
    if (i >= L->n) return NULL;
    if (L->fn(L->ctx, W->w, i) < 0) {
      pthread_mutex_lock(&L->mu);
      if (i < L->first_fail) L->first_fail = i;
      pthread_mutex_unlock(&L->mu);
    }
  }
}

int mpl__parallel_for(int n, int workers, mpl__item_fn fn, void *ctx) {
  if (workers > n) workers = n;
  if (workers <= 1) {   /* the plain loop, on the calling thread */
    for (int i = 0; i < n; i++)
      if (fn(ctx, 0, i) < 0) return i;
    return n;
  }
  loop L = {.n = n, .first_fail = n, .fn = fn, .ctx = ctx};
  worker *W = malloc((size_t)workers * sizeof *W);
  pthread_t *th = malloc((size_t)workers * sizeof *th);
  int started = 1;   /* worker 0 is the calling thread */
  if (W && th && pthread_mutex_init(&L.mu, NULL) == 0) {
    for (int w = 0; w < workers; w++) W[w] = (worker){&L, w};
    /* fewer threads than asked (pthread_create failed) only means the ones running take more items */
    for (; started < workers && pthread_create(&th[started], NULL, work, &W[started]) == 0; started++) {}
    work(&W[0]);
    for (int w = 1; w < started; w++) pthread_join(th[w], NULL);
    pthread_mutex_destroy(&L.mu);
  } else {   /* out of memory for the bookkeeping: the plain loop */
    free(W), free(th);
    return mpl__parallel_for(n, 1, fn, ctx);
  }
  free(W), free(th);
  return L.first_fail;
}

int mpl__online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}
