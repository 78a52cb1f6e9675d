/* metaplast tests: the library's side of distributed runs (metaplast/comm.h) without MPI. Three
 * threads play three ranks over an in-process transport (a barrier and shared pointers); a split
 * meta-batch, trials and a lambda path must give the files of one process byte for byte, and a
 * set-up failure on one rank must stop every rank with rank 0 naming it. tests/test_mpi.sh does
 * the same over real MPI. Tiny runs on Debian's Fashion-MNIST test split. See LICENSE for
 * copyright. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metaplast/comm.h"
#include "metaplast/search.h"
#include "metaplast/trials.h"

#define P 3

/* {====== An in-process transport: P threads ====== */

typedef struct world {
  pthread_barrier_t bar;
  const void *src, *send[P];
  int failed;
} world;

typedef struct rank_ud { world *w; int rank; } rank_ud;

static int t_bcast(void *ud, void *buf, size_t n) {
  rank_ud *u = ud;
  if (u->rank == 0) u->w->src = buf;
  pthread_barrier_wait(&u->w->bar);
  if (u->rank != 0) memcpy(buf, u->w->src, n);
  pthread_barrier_wait(&u->w->bar);
  return MPL_OK;
}

static int t_gather(void *ud, const void *send, size_t n, void *recv) {
  rank_ud *u = ud;
  u->w->send[u->rank] = send;
  pthread_barrier_wait(&u->w->bar);
  if (u->rank == 0)
    for (int r = 0; r < P; r++) memcpy((char *)recv + (size_t)r * n, u->w->send[r], n);
  pthread_barrier_wait(&u->w->bar);
  return MPL_OK;
}

static void t_fail(void *ud, const mpl_err *err) {
  rank_ud *u = ud;
  (void)err;
  u->w->failed = 1;   /* none of these tests should get here: the others would wait */
}

enum { SEARCH, TRIALS, PATH };

typedef struct rank_job {
  int mode, rc;
  mpl_search_cfg cfg;
  mpl_comm comm;
  rank_ud ud;
  mpl_search_result sr;
  mpl_trials_result tr;
  mpl_path_result pr;
  mpl_err err;
} rank_job;

static const double lambdas[] = {0, 1e-3, 1e-2};

static void *rank_main(void *arg) {
  rank_job *J = arg;
  if (J->mode == SEARCH) J->rc = mpl_search_run(&J->cfg, &J->sr, &J->err);
  else if (J->mode == TRIALS) J->rc = mpl_trials_run(&J->cfg, 4, 1, &J->tr, &J->err);
  else J->rc = mpl_path_run(&J->cfg, lambdas, 3, 1, 1, &J->pr, &J->err);
  return NULL;
}

/* Run cfg on P threads as ranks 0..P-1 (rank r's cfg from cfgs[r] if given). */
static void run_ranks(rank_job *J, int mode, const mpl_search_cfg *cfg, const mpl_search_cfg *cfgs) {
  static world w;
  memset(&w, 0, sizeof w);
  pthread_barrier_init(&w.bar, NULL, P);
  pthread_t th[P];
  for (int r = 0; r < P; r++) {
    memset(&J[r], 0, sizeof J[r]);
    J[r].mode = mode;
    J[r].cfg = cfgs ? cfgs[r] : *cfg;
    J[r].ud = (rank_ud){&w, r};
    J[r].comm = (mpl_comm){.rank = r, .size = P, .ud = &J[r].ud, .bcast = t_bcast, .gather = t_gather, .fail = t_fail};
    J[r].cfg.comm = &J[r].comm;
  }
  for (int r = 0; r < P; r++) assert_int_equal(pthread_create(&th[r], NULL, rank_main, &J[r]), 0);
  for (int r = 0; r < P; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&w.bar);
  assert_false(w.failed);
}

static void free_ranks(rank_job *J) {
  for (int r = 0; r < P; r++) {
    mpl_search_result_free(&J[r].sr);
    mpl_trials_result_free(&J[r].tr);
    mpl_path_result_free(&J[r].pr);
  }
}

/* }====== */

/* {====== Helpers ====== */

/* Each line without its last field (log.csv's wall time). */
static void strip_last(char *s) {
  char *o = s;
  for (char *line = s; *line;) {
    char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line), *comma = NULL;
    for (char *p = line; p < end; p++)
      if (*p == ',') comma = p;
    size_t keep = (size_t)((comma ? comma : end) - line);
    memmove(o, line, keep);
    o += keep;
    *o++ = '\n';
    line = nl ? nl + 1 : end;
  }
  *o = '\0';
}

static void assert_same(const char *d1, const char *d2, const char *file) {
  char *a = mpl_test_read_in(d1, file), *b = mpl_test_read_in(d2, file);
  if (strstr(file, "log.csv")) strip_last(a), strip_last(b);
  if (strcmp(a, b)) fail_msg("%s/%s and %s/%s differ", d1, file, d2, file);
  free(a), free(b);
}

static const char *tmpdir(const char *name) {
  static char buf[4][4096];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, sizeof buf[0], "%s", mpl_test_path(name));
  return b;
}

static void cfg_small(mpl_search_cfg *c, const char *out) {
  mpl_search_defaults(c);
  c->data = "fashion-mnist-test";
  c->n_hidden = 1;
  c->hidden[0] = 8;
  c->episodes = 8;
  c->terms = "paper:F0,F2,F9";
  c->out = out;
  c->force = 1;
}

#define NEED_DATA()                                                                               \
  do {                                                                                            \
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) != 0) {       \
      print_message("dataset-fashion-mnist not installed\n");                                     \
      skip();                                                                                     \
    }                                                                                             \
  } while (0)

/* }====== */

/* A meta-batch of 5 tasks in blocks 2 + 2 + 1, all ten terms (some episodes diverge, so failed
 * tasks travel too), each rank's block on 2 threads: rank 0 writes what one process on one thread
 * writes; the other ranks write nothing. */
static void meta_batch_split(void **state) {
  (void)state;
  NEED_DATA();
  const char *d1 = tmpdir("comm-batch1"), *d3 = tmpdir("comm-batch3");
  mpl_search_cfg c;
  cfg_small(&c, d1);
  c.terms = "paper";
  c.episodes = 16;
  c.meta_batch = 5;
  c.checkpoint_every = 4;
  c.threads = 1;   /* one process on one thread against 3 ranks on 2 threads each (their blocks of 2) */
  mpl_search_result one;
  mpl_err err = {0};
  assert_int_equal(mpl_search_run(&c, &one, &err), MPL_OK);
  rank_job J[P];
  c.out = d3;
  c.threads = 2;
  run_ranks(J, SEARCH, &c, NULL);
  for (int r = 0; r < P; r++) {
    if (J[r].rc) fail_msg("rank %d: %s", r, J[r].err.msg);
    assert_int_equal(J[r].sr.episodes, r == 0 ? c.episodes : 0);
  }
  assert_same(d1, d3, "log.csv");
  assert_same(d1, d3, "theta.tsv");
  assert_same(d1, d3, "rule.json");
  char *log = mpl_test_read_in(d1, "log.csv");
  assert_true(one.failures > 0 && strstr(log, ",diverged,"));   /* the failed-task path was taken */
  assert_int_equal(J[0].sr.failures, one.failures);
  for (int e = 0; e < c.episodes; e++)
    assert_memory_equal(&J[0].sr.accuracy[e], &one.accuracy[e], sizeof(double));
  free(log);
  free_ranks(J);
  mpl_search_result_free(&one);
}

/* 4 trials on 3 ranks (rank 0 runs trials 1 and 4): rank 0 holds every trial's result and writes
 * the summaries of one process. */
static void trials_split(void **state) {
  (void)state;
  NEED_DATA();
  const char *d1 = tmpdir("comm-trials1"), *d3 = tmpdir("comm-trials3");
  mpl_search_cfg c;
  cfg_small(&c, d1);
  c.adam.lambda = 1e-3;
  mpl_trials_result one;
  mpl_err err = {0};
  assert_int_equal(mpl_trials_run(&c, 4, 2, &one, &err), MPL_OK);
  rank_job J[P];
  c.out = d3;
  run_ranks(J, TRIALS, &c, NULL);
  for (int r = 0; r < P; r++)
    if (J[r].rc) fail_msg("rank %d: %s", r, J[r].err.msg);
  assert_same(d1, d3, "summary.csv");
  assert_same(d1, d3, "terms.csv");
  static const char *const trials[] = {"trial-001", "trial-002", "trial-003", "trial-004"};
  for (int t = 0; t < 4; t++) {
    char a[8192], b[8192];
    snprintf(a, sizeof a, "%s/%s", d1, trials[t]), snprintf(b, sizeof b, "%s/%s", d3, trials[t]);
    assert_same(a, b, "log.csv");
    assert_same(a, b, "theta.tsv");
    assert_int_equal(J[0].tr.status[t], MPL_OK);
    assert_memory_equal(J[0].tr.trial[t].theta, one.trial[t].theta, (size_t)one.n_terms * sizeof(double));
    assert_string_equal(J[0].tr.trial[t].names[0], one.trial[t].names[0]);
  }
  assert_memory_equal(&J[0].tr.final_mean, &one.final_mean, sizeof(double));
  assert_null(J[1].tr.names);   /* the other ranks summarise nothing */
  free_ranks(J);
  mpl_trials_result_free(&one);
}

/* A lambda path of 3 values on 3 ranks: path.csv as one process writes it. */
static void path_split(void **state) {
  (void)state;
  NEED_DATA();
  const char *d1 = tmpdir("comm-path1"), *d3 = tmpdir("comm-path3");
  mpl_search_cfg c;
  cfg_small(&c, d1);
  mpl_path_result one;
  mpl_err err = {0};
  assert_int_equal(mpl_path_run(&c, lambdas, 3, 1, 2, &one, &err), MPL_OK);
  rank_job J[P];
  c.out = d3;
  run_ranks(J, PATH, &c, NULL);
  for (int r = 0; r < P; r++)
    if (J[r].rc) fail_msg("rank %d: %s", r, J[r].err.msg);
  assert_same(d1, d3, "path.csv");
  assert_same(d1, d3, "lambda-0.01/theta.tsv");
  free_ranks(J);
  mpl_path_result_free(&one);
}

/* Rank 1 cannot load its data: every rank returns an error (none waits forever), and rank 0's
 * message names rank 1 and its reason; nothing is run. */
static void setup_failure(void **state) {
  (void)state;
  NEED_DATA();
  mpl_search_cfg c[P];
  for (int r = 0; r < P; r++) {
    cfg_small(&c[r], tmpdir("comm-fail"));
    c[r].meta_batch = 3;
  }
  c[1].data = "no-such-data";
  rank_job J[P];
  run_ranks(J, SEARCH, NULL, c);
  for (int r = 0; r < P; r++) assert_true(J[r].rc < 0);
  mpl_assert_contains(J[0].err.msg, "process 1: ");
  mpl_assert_contains(J[0].err.msg, "no-such-data");
  assert_int_equal(J[0].sr.episodes, 0);
  free_ranks(J);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(meta_batch_split), cmocka_unit_test(trials_split), cmocka_unit_test(path_split),
    cmocka_unit_test(setup_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
