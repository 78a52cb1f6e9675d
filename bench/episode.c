/* bench/episode: time metaplast's episode alone (no search around it), with and without the
 * meta-gradient, for the extra measurements of bench/README.md: primal loop vs full episode,
 * cost against the number of terms and the width, and instruction counts under callgrind.
 *
 *   episode [--terms SPEC] [--data NAME] [--per-class N] [--hidden 170,130,100,70]
 *           [--episodes N] [--warmup N] [--primal] [--dense] [--symmetric | --direct] [--seed S] [--theta V] [--others V]
 *
 * Every episode draws a fresh 5-way 50+10 task and fresh weights (seeded), runs the inner loop
 * at a fixed theta (the first term 1e-3 or --theta, every other term --theta/10 or --others;
 * a zero coefficient costs the same work as any other),
 * and prints the median wall and CPU time per episode over --episodes after --warmup, with what
 * the terms compile to (mpl_termset_plan: the update's rank, its row or column sums, the
 * products with W), which the cost follows.
 * --symmetric: backprop's symmetric feedback instead of fixed random feedback (FA); --direct: DFA.
 * See LICENSE for copyright. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

#include "metaplast/data.h"
#include "metaplast/net.h"
#include "metaplast/terms.h"

static double clock_s(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int die(const char *what, const char *msg) {
  fprintf(stderr, "episode: %s: %s\n", what, msg);
  return 1;
}

int main(int argc, char **argv) {
  const char *terms = "paper", *data = "fashion-mnist", *hidden = "170,130,100,70";
  int episodes = 20, warmup = 2, primal = 0, dense = 0, per_class = 0, symmetric = 0;
  unsigned long seed = 1;
  double theta_f0 = 1e-3, others = NAN;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--primal")) primal = 1;
    else if (!strcmp(a, "--dense")) dense = 1;
    else if (!strcmp(a, "--symmetric")) symmetric = 1;
    else if (!strcmp(a, "--direct")) symmetric = 2;
    else if (!v) return die(a, "unknown flag or missing value");
    else if (!strcmp(a, "--terms")) terms = v, i++;
    else if (!strcmp(a, "--data")) data = v, i++;
    else if (!strcmp(a, "--hidden")) hidden = v, i++;
    else if (!strcmp(a, "--per-class")) per_class = atoi(v), i++;
    else if (!strcmp(a, "--episodes")) episodes = atoi(v), i++;
    else if (!strcmp(a, "--warmup")) warmup = atoi(v), i++;
    else if (!strcmp(a, "--seed")) seed = strtoul(v, NULL, 10), i++;
    else if (!strcmp(a, "--theta")) theta_f0 = atof(v), i++;
    else if (!strcmp(a, "--others")) others = atof(v), i++;
    else return die(a, "unknown flag");
  }
  if (episodes < 1 || warmup < 0) return die("--episodes", "must be >= 1");
  gsl_set_error_handler_off();
  mpl_err err = {0};
  mpl_dataset *ds = NULL;
  if (mpl_dataset_open(data, (size_t)per_class, &ds, &err) < 0) return die("data", err.msg);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  if (mpl_terms_parse(terms, ts, &sel, &err) < 0) return die("terms", err.msg);
  mpl_plan_info plan;
  if (mpl_termset_plan(ts, sel.which, sel.n, &plan, &err) < 0) return die("terms", err.msg);
  mpl_net_cfg net = {.beta = 10, .feedback = symmetric == 2 ? MPL_FB_DIRECT : symmetric ? MPL_FB_SYMMETRIC : MPL_FB_FIXED, .dense = dense};
  int nl = 0;
  net.sizes[nl++] = (int)ds->dim;
  for (const char *p = hidden; *p;) {
    net.sizes[nl++] = atoi(p);
    p += strcspn(p, ",");
    if (*p) p++;
  }
  net.sizes[nl] = ds->n_classes;
  net.n_layers = nl;
  mpl_episode *ep = NULL;
  if (mpl_episode_new(&net, ts, sel.which, sel.n, &ep, &err) < 0) return die("network", err.msg);
  mpl_task_cfg tc = {.m = 5, .k = 50, .q = 10, .mode = MPL_SAMPLE_CLEAN};
  mpl_task task;
  if (mpl_task_init(&task, &tc, &err) < 0) return die("task", err.msg);
  int nt = tc.m * tc.k, nq = tc.m * tc.q;
  double *tx = malloc((size_t)nt * ds->dim * sizeof *tx), *qx = malloc((size_t)nq * ds->dim * sizeof *qx);
  int *ty = malloc((size_t)nt * sizeof *ty), *qy = malloc((size_t)nq * sizeof *qy);
  double *theta = calloc((size_t)sel.n, sizeof *theta), *grad = calloc((size_t)sel.n, sizeof *grad);
  double *wall = malloc((size_t)episodes * sizeof *wall), *cpu = malloc((size_t)episodes * sizeof *cpu);
  if (!tx || !qx || !ty || !qy || !theta || !grad || !wall || !cpu) return die("memory", "out of memory");
  for (int i = 0; i < sel.n; i++) theta[i] = i == 0 ? theta_f0 : isnan(others) ? theta_f0 / 10 : others;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, seed);
  double acc = 0;
  for (int e = 0; e < warmup + episodes; e++) {
    if (mpl_task_sample(ds, &tc, rng, &task, &err) < 0) return die("task", err.msg);
    mpl_episode_init_weights(ep, rng);
    mpl_task_gather(ds, &task, tx, ty, qx, qy);
    mpl_episode_stats st;
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    int rc = mpl_episode_run(ep, theta, tx, ty, nt, qx, qy, nq, &st, primal ? NULL : grad, &err);
    double w1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (rc < 0) return die("episode", err.msg);
    if (e >= warmup) wall[e - warmup] = w1 - w0, cpu[e - warmup] = c1 - c0, acc += st.accuracy / episodes;
  }
  printf("{\"terms\": \"%s\", \"R\": %d, \"rank\": %d, \"rank_sums\": %d, \"wproducts\": %d, \"hidden\": \"%s\", \"feedback\": \"%s\", \"primal\": %d, \"dense\": %d, \"episodes\": %d, "
         "\"wall_ms\": %.3f, \"cpu_ms\": %.3f, \"accuracy\": %.4f}\n",
         terms, sel.n, plan.rank, plan.rank_sums, plan.wproducts, hidden, mpl_feedback_name(net.feedback), primal, dense, episodes, 1e3 * median(wall, episodes), 1e3 * median(cpu, episodes), acc);
  gsl_rng_free(rng);
  free(tx); free(qx); free(ty); free(qy); free(theta); free(grad); free(wall); free(cpu);
  mpl_task_free(&task);
  mpl_episode_free(ep);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  mpl_dataset_free(ds);
  return 0;
}
