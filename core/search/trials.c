/* metaplast: independent trials of a search run in parallel (one POSIX thread per job), their
 * summary with bootstrap bands, and the sparsity (lambda) path. See LICENSE for copyright. */
#include "metaplast/trials.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <gsl/gsl_errno.h>

#include "metaplast/stats.h"
#include "metaplast/results.h"

#include "dist.h"
#include "util.h"

int mpl_trials_default_jobs(void) { return mpl__online_cpus(); }

/* {====== The job pool ======
 * Every run (a trial, or one lambda's search) is a job; worker threads take the next job in
 * order, run mpl_search_run on a private copy of its configuration and record its status. Each
 * job's outcome depends only on its configuration, never on which thread ran it or when. */

#define RECENT 10

typedef struct job {
  mpl_search_cfg cfg;         /* the run's own configuration (seed, out, lambda) */
  char out[4200];
  mpl_search_result *res;     /* where its result goes (owned by a trials result) */
  int *status;
  mpl_err err;
  int done;                   /* episodes finished (progress) */
  double recent[RECENT];      /* the last accuracies, a ring (progress) */
  int n_recent;
  struct pool *pool;
} job;

typedef struct pool {
  job *jobs;
  int n, next, running, finished, alive;
  int interrupted;            /* runs a stop signal ended early (checkpointed; not done) */
  int step, mine;             /* this process runs jobs next, next + step, ... (comm.h): mine of n */
  int stop;                   /* a job failed: start no more */
  long total, done;           /* episodes, over all jobs */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  FILE *progress;
  const char *what;           /* "trials" or "runs", for the progress line */
  double t0;
  long shown;                 /* episodes at the last non-terminal progress line */
} pool;

static void on_episode(void *ud, int episode, double accuracy, double loss) {
  job *J = ud;
  (void)loss;
  pthread_mutex_lock(&J->pool->mu);
  J->done = episode;
  J->pool->done++;
  if (!isnan(accuracy)) J->recent[J->n_recent++ % RECENT] = accuracy;
  pthread_mutex_unlock(&J->pool->mu);
}

/* The caller's stop flag (cfg->stop, e.g. set by SIGINT) is raised. */
static int stopped(const job *J) { return J->cfg.stop && *J->cfg.stop; }

static void *worker(void *arg) {
  pool *P = arg;
  pthread_mutex_lock(&P->mu);
  while (!P->stop && P->next < P->n && !stopped(&P->jobs[P->next])) {
    job *J = &P->jobs[P->next];
    P->next += P->step;
    P->running++;
    pthread_mutex_unlock(&P->mu);
    int rc = mpl_search_run(&J->cfg, J->res, &J->err);
    pthread_mutex_lock(&P->mu);
    *J->status = rc;
    P->running--;
    if (rc == MPL_OK && J->res->interrupted) {
      P->interrupted++;                       /* stopped by a signal: neither done nor its episodes */
    } else {
      P->finished++;
      P->done += J->cfg.episodes - J->done;   /* a run that stopped early (failures) counts as done */
    }
    if (rc < 0 && rc != MPL_ENUMERIC) P->stop = 1;
    pthread_cond_signal(&P->cv);
  }
  P->alive--;
  pthread_cond_signal(&P->cv);
  pthread_mutex_unlock(&P->mu);
  return NULL;
}

/* One line for all jobs: how many are done and running, episodes, the recent accuracy of the
 * running and finished jobs, and an estimate of the time left. Called with P->mu held. */
static void show_progress(pool *P, int last) {
  FILE *f = P->progress;
  if (!f) return;
  int tty = isatty(fileno(f));
  long step = P->total >= 20 ? P->total / 20 : 1;
  if (!tty && !last && P->done / step == P->shown / step) return;
  P->shown = P->done;
  double sum = 0;
  int k = 0;
  for (int j = 0; j < P->n; j++) {
    const job *J = &P->jobs[j];
    int m = J->n_recent < RECENT ? J->n_recent : RECENT;
    for (int i = 0; i < m; i++) sum += J->recent[i], k++;
  }
  double el = mpl__now() - P->t0, eta = P->done > 0 ? el / (double)P->done * (double)(P->total - P->done) : 0;
  char stopped_text[48] = "";
  if (P->interrupted) snprintf(stopped_text, sizeof stopped_text, ", %d interrupted", P->interrupted);
  fprintf(f, "%s%s %d/%d done, %d running%s  episodes %ld/%ld  acc(last %d ep.) %.3f  ETA %02d:%02d:%02d%s",
          tty ? "\r" : "", P->what, P->finished, P->mine, P->running, stopped_text, P->done, P->total, RECENT,
          k ? sum / k : NAN,
          (int)(eta / 3600), (int)fmod(eta / 60, 60), (int)fmod(eta, 60), tty ? "  " : "\n");
  if (tty && last) fputc('\n', f);
  fflush(f);
}

/* Several processes: pass this process's first failed job to comm->fail (MPI: prints it and ends
 * the whole job). Called with P->mu held. */
static int tell_failure(pool *P, const mpl_comm *comm) {
  for (int j = comm->rank; j < P->n; j += P->step)
    if (*P->jobs[j].status < 0 && *P->jobs[j].status != MPL_ENUMERIC) {
      mpl_err e;
      mpl_errorf(&e, *P->jobs[j].status, "%s: %s", P->jobs[j].out, P->jobs[j].err.msg);
      pthread_mutex_unlock(&P->mu);
      mpl__comm_fail(comm, &e);
      pthread_mutex_lock(&P->mu);
      return 1;
    }
  return 0;
}

/* Run the n jobs on up to `jobs` threads; the jobs' statuses tell what happened. With several
 * processes (comm.h), this one runs jobs rank, rank + size, ...; a failure among them is passed
 * to comm->fail (the others would go on without knowing). */
static int pool_run(job *jobs, int n, int n_threads, FILE *progress, const char *what, const mpl_comm *comm,
                    mpl_err *err) {
  int on = mpl__comm_on(comm), told = 0;
  pool P = {.jobs = jobs, .n = n, .progress = progress, .what = what, .t0 = mpl__now(), .next = on ? comm->rank : 0,
            .step = on ? comm->size : 1};
  for (int j = 0; j < n; j++) {
    jobs[j].pool = &P;
    jobs[j].cfg.on_episode = on_episode;
    jobs[j].cfg.on_episode_ud = &jobs[j];
    jobs[j].cfg.progress = NULL;
    jobs[j].cfg.comm = NULL;   /* each run is one process's */
    jobs[j].cfg.threads = 1;   /* and one thread's: the runs share the cores */
    if (j % P.step == P.next) P.total += jobs[j].cfg.episodes, P.mine++;
  }
  if (n_threads <= 0) n_threads = mpl_trials_default_jobs();
  if (n_threads > P.mine) n_threads = P.mine;
  /* Process-wide settings once, before any thread runs: mpl_search_run makes the same ones,
   * which then store the values already there. */
  gsl_set_error_handler_off();
  openblas_set_num_threads(1);
  pthread_t *th = malloc((size_t)n_threads * sizeof *th);
  if (!th) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  pthread_mutex_init(&P.mu, NULL);
  pthread_cond_init(&P.cv, NULL);
  int started = 0, rc = MPL_OK;
  pthread_mutex_lock(&P.mu);
  for (; started < n_threads; started++) {
    int e = pthread_create(&th[started], NULL, worker, &P);
    if (e) {
      if (started == 0) rc = mpl_errorf(err, MPL_ENOMEM, "cannot start a thread: %s", strerror(e));
      break;   /* fewer threads than asked: the ones running take all jobs */
    }
    P.alive++;
  }
  while (P.alive > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 500000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&P.cv, &P.mu, &ts);
    show_progress(&P, P.alive == 0);
    if (on && P.stop && !told) told = tell_failure(&P, comm);   /* at once, not when the others finish */
  }
  if (on && P.stop && !told) tell_failure(&P, comm);
  pthread_mutex_unlock(&P.mu);
  for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
  pthread_cond_destroy(&P.cv);
  pthread_mutex_destroy(&P.mu);
  free(th);
  return rc;
}

/* }====== */

/* {====== Summary statistics ====== */

/* An independent, reproducible seed per (base, quantity, index): splitmix64. */
static unsigned long boot_seed(unsigned long base, unsigned long what, unsigned long i) {
  uint64_t z = (uint64_t)base * 0x9E3779B97F4A7C15ull ^ (what + 1) * 0xD1B54A32D192ED03ull ^ (i + 1) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (unsigned long)(z ^ (z >> 31));
}

/* Mean and 98% band of x[0..n-1] (NaN skipped); all NaN if no value is finite. */
static int band(const double *x, int n, unsigned long seed, double *mean, double *lo, double *hi, mpl_err *err) {
  if (mpl_count_nan(x, n) == n) {
    *mean = *lo = *hi = NAN;
    return MPL_OK;
  }
  return mpl_bootstrap_mean(x, n, MPL_BOOT_RESAMPLES, MPL_BOOT_LEVEL, seed, mean, lo, hi, err);
}

/* The mean of the last w episodes' accuracy of r (NaN skipped). */
static double window_mean(const mpl_search_result *r, int w) {
  double s = 0;
  int k = 0;
  for (int e = r->episodes - w; e < r->episodes; e++)
    if (e >= 0 && !isnan(r->accuracy[e])) s += r->accuracy[e], k++;
  return k ? s / k : NAN;
}

static int alloc_summary(mpl_trials_result *T, int n_terms) {
  int E = T->episodes;
  double **per_ep[] = {&T->acc_mean, &T->acc_lo, &T->acc_hi, &T->loss_mean, &T->loss_lo, &T->loss_hi};
  double **per_term[] = {&T->survival, &T->theta_mean, &T->theta_lo, &T->theta_hi};
  int ok = 1;
  for (size_t i = 0; i < 6; i++) ok &= (*per_ep[i] = malloc((size_t)(E > 0 ? E : 1) * sizeof(double))) != NULL;
  for (size_t i = 0; i < 4; i++) ok &= (*per_term[i] = calloc((size_t)(n_terms > 0 ? n_terms : 1), sizeof(double))) != NULL;
  ok &= (T->final_acc = malloc((size_t)T->n_trials * sizeof(double))) != NULL;
  T->n_terms = n_terms;
  return ok ? MPL_OK : MPL_ENOMEM;
}

/* Per-episode bands over the finished trials. */
static int summarise_episodes(mpl_trials_result *T, const int *ok, unsigned long seed, double *x, mpl_err *err) {
  for (int e = 0; e < T->episodes; e++) {
    int m = 0, rc;
    for (int t = 0; t < T->n_trials; t++)
      if (ok[t]) x[m++] = e < T->trial[t].episodes ? T->trial[t].accuracy[e] : NAN;
    if ((rc = band(x, m, boot_seed(seed, 0, (unsigned long)e), &T->acc_mean[e], &T->acc_lo[e], &T->acc_hi[e], err)) < 0)
      return rc;
    m = 0;
    for (int t = 0; t < T->n_trials; t++)
      if (ok[t]) x[m++] = e < T->trial[t].episodes ? T->trial[t].loss[e] : NAN;
    if ((rc = band(x, m, boot_seed(seed, 1, (unsigned long)e), &T->loss_mean[e], &T->loss_lo[e], &T->loss_hi[e], err)) < 0)
      return rc;
  }
  return MPL_OK;
}

/* Per-term survival and theta band, and the final accuracy, over the finished trials. */
static int summarise_terms(mpl_trials_result *T, const int *ok, double tol, unsigned long seed, double *x,
                           mpl_err *err) {
  int rc;
  double active = 0;
  for (int i = 0; i < T->n_terms; i++) {
    int m = 0, alive = 0;
    for (int t = 0; t < T->n_trials; t++)
      if (ok[t]) x[m++] = T->trial[t].theta[i], alive += fabs(T->trial[t].theta[i]) > tol;
    T->survival[i] = (double)alive / m;
    active += alive;
    if ((rc = band(x, m, boot_seed(seed, 2, (unsigned long)i), &T->theta_mean[i], &T->theta_lo[i], &T->theta_hi[i],
                   err)) < 0)
      return rc;
  }
  T->active_mean = active / T->n_ok;
  int m = 0, last = 0;
  for (int t = 0; t < T->n_trials; t++) {
    T->final_acc[t] = ok[t] ? window_mean(&T->trial[t], T->window) : NAN;
    if (ok[t]) x[m++] = T->final_acc[t], last = t;
  }
  if (m > 1) return band(x, m, boot_seed(seed, 3, 0), &T->final_mean, &T->final_lo, &T->final_hi, err);
  const mpl_search_result *r = &T->trial[last];   /* one trial: the band over its window's episodes */
  int w = T->window < r->episodes ? T->window : r->episodes;
  return band(r->accuracy + r->episodes - w, w, boot_seed(seed, 3, 0), &T->final_mean, &T->final_lo, &T->final_hi, err);
}

/* Fill T's summary from its trials. MPL_ENUMERIC if no trial finished. */
static int summarise(mpl_trials_result *T, const mpl_search_cfg *cfg, mpl_err *err) {
  int *ok = calloc((size_t)T->n_trials, sizeof *ok), first = -1;
  double *x = malloc((size_t)(T->n_trials > T->episodes ? T->n_trials : T->episodes) * sizeof *x);
  if (!ok || !x) {
    free(ok), free(x);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  T->n_ok = 0;
  for (int t = 0; t < T->n_trials; t++) {
    const mpl_search_result *r = &T->trial[t];
    ok[t] = T->status[t] == MPL_OK && r->theta && r->episodes == T->episodes &&
            (first < 0 || r->n_terms == T->trial[first].n_terms);
    if (ok[t] && first < 0) first = t;
    T->n_ok += ok[t];
  }
  T->window = T->episodes < MPL_FINAL_WINDOW ? T->episodes : MPL_FINAL_WINDOW;
  int rc = MPL_OK;
  if (first < 0) rc = mpl_errorf(err, MPL_ENUMERIC, "no trial finished (all %d diverged)", T->n_trials);
  else if (alloc_summary(T, T->trial[first].n_terms) < 0) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (rc == 0) {
    T->names = T->trial[first].names;
    T->formulas = T->trial[first].formulas;
    rc = summarise_episodes(T, ok, cfg->seed, x, err);
  }
  if (rc == 0) rc = summarise_terms(T, ok, cfg->zero_tol, cfg->seed, x, err);
  free(ok), free(x);
  return rc;
}

/* }====== */

/* {====== Files ====== */

/* Write the text built in a memory stream to dir/name, then free it. */
static int write_stream(const char *dir, const char *name, FILE *f, char **text, mpl_err *err) {
  int bad = ferror(f);
  bad |= fclose(f) != 0;   /* sets *text */
  int rc = bad || !*text ? mpl_errorf(err, MPL_ENOMEM, "%s/%s: out of memory", dir, name)
                         : mpl__write_atomic(dir, name, *text, err);
  free(*text);
  return rc;
}

/* A CSV field: quoted, with quotes doubled. */
static void csv_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static int write_summary_csv(const mpl_trials_result *T, const char *dir, mpl_err *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  fprintf(f, "episode,trials,accuracy_mean,accuracy_lo,accuracy_hi,loss_mean,loss_lo,loss_hi\n");
  for (int e = 0; e < T->episodes; e++) {
    int m = 0;
    for (int t = 0; t < T->n_trials; t++)
      m += T->status[t] == MPL_OK && e < T->trial[t].episodes && !isnan(T->trial[t].accuracy[e]);
    fprintf(f, "%d,%d,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", e + 1, m, T->acc_mean[e], T->acc_lo[e], T->acc_hi[e],
            T->loss_mean[e], T->loss_lo[e], T->loss_hi[e]);
  }
  return write_stream(dir, MPL_RESULTS_SUMMARY_CSV, f, &text, err);
}

static int write_terms_csv(const mpl_trials_result *T, const char *dir, mpl_err *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  fprintf(f, "term,survival,survived,trials,theta_mean,theta_lo,theta_hi,formula\n");
  for (int i = 0; i < T->n_terms; i++) {
    fprintf(f, "%s,%.17g,%d,%d,%.17g,%.17g,%.17g,", T->names[i], T->survival[i], (int)lround(T->survival[i] * T->n_ok),
            T->n_ok, T->theta_mean[i], T->theta_lo[i], T->theta_hi[i]);
    csv_string(f, T->formulas[i]);
    fputc('\n', f);
  }
  return write_stream(dir, MPL_RESULTS_TERMS_CSV, f, &text, err);
}

char *mpl_trials_summary_text(const mpl_trials_result *T, const mpl_search_cfg *cfg) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  fprintf(f, "# Trials: %s\n\n", cfg->out ? cfg->out : "");
  char lam[32];
  snprintf(lam, sizeof lam, cfg->lambda_auto ? "auto" : "%g", cfg->adam.lambda);
  fprintf(f, "%d trials (seeds %lu..%lu), %d episodes each, %d finished; lambda = %s.\n", T->n_trials,
          T->seed[0], T->seed[T->n_trials - 1], T->episodes, T->n_ok, lam);
  for (int t = 0; t < T->n_trials; t++)
    if (T->status[t] != MPL_OK) fprintf(f, "Trial %d (seed %lu) failed: %s.\n", t + 1, T->seed[t], mpl_strerror(T->status[t]));
  int healthy = 0, judged = 0;   /* the trials' verdicts (docs/discovery.md) */
  for (int t = 0; t < T->n_trials; t++)
    if (T->trial[t].health[0]) judged++, healthy += T->trial[t].healthy;
  if (judged) {
    fprintf(f, "Health: %d of %d trials healthy%s\n", healthy, T->n_trials, healthy < T->n_trials ? ":" : ".");
    for (int t = 0; t < T->n_trials; t++) {
      const char *h = T->trial[t].health;
      if (T->trial[t].healthy || !h[0]) continue;
      const char *reason = strchr(h, '\n');   /* the first reason after the verdict line */
      reason = reason && reason[1] ? reason + 1 : h;
      reason += 3 * !strncmp(reason, "  -", 3);
      fprintf(f, "  trial %d (seed %lu):%.*s\n", t + 1, T->seed[t], (int)strcspn(reason, "\n"), reason);
    }
  }
  if (T->n_ok > 0) {
    fprintf(f, "Final accuracy (mean query accuracy of the last %d episodes): %.4f, 98%% bootstrap interval "
            "[%.4f, %.4f] over %s.\nSurviving terms per trial: %.2f on average (|theta| > %g).\n\n",
            T->window, T->final_mean, T->final_lo, T->final_hi, T->n_ok > 1 ? "trials" : "the episodes",
            T->active_mean, cfg->zero_tol);
    fprintf(f, "| term | formula | survived | mean theta | 98%% interval |\n|---|---|---|---|---|\n");
    for (int i = 0; i < T->n_terms; i++)
      fprintf(f, "| %s | %s | %d/%d | %.4g | [%.4g, %.4g] |\n", T->names[i], T->formulas[i],
              (int)lround(T->survival[i] * T->n_ok), T->n_ok, T->theta_mean[i], T->theta_lo[i], T->theta_hi[i]);
    fprintf(f, "\nMeans over trials with zeros included; intervals: percentile bootstrap, %d resamples.\n",
            MPL_BOOT_RESAMPLES);
  }
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

static int write_summaries(const mpl_trials_result *T, const mpl_search_cfg *cfg, mpl_err *err) {
  int rc = write_summary_csv(T, cfg->out, err);
  if (rc == 0) rc = write_terms_csv(T, cfg->out, err);
  if (rc == 0) {
    char *md = mpl_trials_summary_text(T, cfg);
    rc = md ? mpl__write_atomic(cfg->out, MPL_RESULTS_SUMMARY_MD, md, err) : mpl_errorf(err, MPL_ENOMEM, "out of memory");
    free(md);
  }
  return rc;
}

/* }====== */

/* {====== Trials ====== */

void mpl_trials_result_free(mpl_trials_result *T) {
  if (!T) return;
  for (int t = 0; T->trial && t < T->n_trials; t++) mpl_search_result_free(&T->trial[t]);
  free(T->trial), free(T->status), free(T->seed);
  free(T->acc_mean), free(T->acc_lo), free(T->acc_hi), free(T->loss_mean), free(T->loss_lo), free(T->loss_hi);
  free(T->survival), free(T->theta_mean), free(T->theta_lo), free(T->theta_hi), free(T->final_acc);
  memset(T, 0, sizeof *T);
}

static int trials_alloc(mpl_trials_result *T, int n, int episodes) {
  memset(T, 0, sizeof *T);
  T->n_trials = n;
  T->episodes = episodes;
  T->trial = calloc((size_t)n, sizeof *T->trial);
  T->status = calloc((size_t)n, sizeof *T->status);
  T->seed = calloc((size_t)n, sizeof *T->seed);
  return T->trial && T->status && T->seed ? MPL_OK : MPL_ENOMEM;
}

/* Set up job J as run t of T: seed, directory, result slot. */
static int job_setup(job *J, const mpl_search_cfg *cfg, mpl_trials_result *T, int t, unsigned long seed,
                     const char *dir, const char *sub, mpl_err *err) {
  J->cfg = *cfg;
  J->cfg.seed = T->seed[t] = seed;
  int k = sub ? snprintf(J->out, sizeof J->out, "%s/%s", dir, sub) : snprintf(J->out, sizeof J->out, "%s", dir);
  if (k < 0 || (size_t)k >= sizeof J->out) return mpl_errorf(err, MPL_EINVAL, "%s: path too long", dir);
  J->cfg.out = J->out;
  J->res = &T->trial[t];
  J->status = &T->status[t];
  T->status[t] = 1;   /* not run (yet) */
  return MPL_OK;
}

/* A search result as bytes, and back (into a zeroed res; free with mpl_search_result_free). */
static void result_pack(mpl__buf *b, const mpl_search_result *res) {
  int32_t h[6] = {res->n_terms, res->episodes, res->failures, res->interrupted, res->dead,
                  (res->theta ? 1 : 0) | (res->accuracy && res->loss ? 2 : 0)};
  mpl__buf_put(b, h, sizeof h);
  mpl__buf_put(b, &res->seconds_per_episode, sizeof res->seconds_per_episode);
  if (res->theta) {
    for (int i = 0; i < res->n_terms; i++) mpl__buf_put_str(b, res->names[i]), mpl__buf_put_str(b, res->formulas[i]);
    mpl__buf_put(b, res->theta, (size_t)res->n_terms * sizeof *res->theta);
    for (int k = 0; k < 2; k++) {   /* the last iterate and the scales (robust method: conclude) */
      const double *x = k ? res->scale : res->theta_final;
      int32_t have = x != NULL;
      mpl__buf_put(b, &have, sizeof have);
      if (have) mpl__buf_put(b, x, (size_t)res->n_terms * sizeof *x);
    }
  }
  int32_t v[2] = {res->healthy, res->best_episode};
  double d[3] = {res->lambda, res->val_rule, res->val_fa};
  mpl__buf_put(b, v, sizeof v);
  mpl__buf_put(b, d, sizeof d);
  mpl__buf_put_str(b, res->health);
  if (h[5] & 2) {
    mpl__buf_put(b, res->accuracy, (size_t)res->episodes * sizeof *res->accuracy);
    mpl__buf_put(b, res->loss, (size_t)res->episodes * sizeof *res->loss);
  }
}

static int result_unpack(mpl__rd *r, mpl_search_result *res) {
  int32_t h[6];
  mpl__rd_get(r, h, sizeof h);
  mpl__rd_get(r, &res->seconds_per_episode, sizeof res->seconds_per_episode);
  res->episodes = h[1], res->failures = h[2], res->interrupted = h[3], res->dead = h[4];
  if (!r->bad && (h[0] < 0 || h[1] < 0)) r->bad = 1;
  if (!r->bad && (h[5] & 1)) {
    res->n_terms = h[0];
    res->names = calloc((size_t)(h[0] ? h[0] : 1), sizeof *res->names);
    res->formulas = calloc((size_t)(h[0] ? h[0] : 1), sizeof *res->formulas);
    if (!res->names || !res->formulas) r->bad = 1;
    for (int i = 0; !r->bad && i < h[0]; i++) res->names[i] = mpl__rd_get_str(r), res->formulas[i] = mpl__rd_get_str(r);
    res->theta = mpl__rd_get_doubles(r, h[0]);
    for (int k = 0; k < 2 && !r->bad; k++) {
      int32_t have = 0;
      mpl__rd_get(r, &have, sizeof have);
      if (have) *(k ? &res->scale : &res->theta_final) = mpl__rd_get_doubles(r, h[0]);
    }
  }
  int32_t v[2] = {0, 0};
  double d[3] = {0, 0, 0};
  mpl__rd_get(r, v, sizeof v);
  mpl__rd_get(r, d, sizeof d);
  res->healthy = v[0], res->best_episode = v[1], res->lambda = d[0], res->val_rule = d[1], res->val_fa = d[2];
  char *health = mpl__rd_get_str(r);
  if (health) snprintf(res->health, sizeof res->health, "%s", health);
  free(health);
  if (!r->bad && (h[5] & 2)) res->accuracy = mpl__rd_get_doubles(r, h[1]), res->loss = mpl__rd_get_doubles(r, h[1]);
  return r->bad ? MPL_EFORMAT : MPL_OK;
}

/* The first error among the jobs (in job order), copied into err; MPL_OK if none but divergence.
 * An interruption (cfg->stop) is an error too: the runs it stopped hold checkpoints. */
static int first_error(const job *jobs, int n, mpl_err *err) {
  int stopped_runs = 0, unstarted = 0;
  for (int j = 0; j < n; j++) stopped_runs += *jobs[j].status == MPL_OK && jobs[j].res->interrupted, unstarted += *jobs[j].status == 1;
  if (stopped_runs || (n > 0 && stopped(&jobs[0])))
    return mpl_errorf(err, MPL_EIO, "interrupted: %d run(s) stopped with a checkpoint (continue each with metaplast "
                      "search --resume DIR/...), %d not started; no summary written", stopped_runs, unstarted);
  for (int j = 0; j < n; j++)
    if (*jobs[j].status < 0 && *jobs[j].status != MPL_ENUMERIC) {
      mpl_errorf(err, *jobs[j].status, "%s: %s", jobs[j].out, jobs[j].err.msg);
      return *jobs[j].status;
    }
  return MPL_OK;
}

/* {====== Several processes (comm.h) ====== */

/* Process 0 receives the outcome (status, message, result) of every job the others ran. */
static int share(job *jobs, int n, const mpl_comm *c, mpl_err *err) {
  mpl__buf b = {0};
  for (int j = c->rank; j < n; j += c->size) {
    int32_t h[2] = {j, *jobs[j].status};
    mpl__buf_put(&b, h, sizeof h);
    mpl__buf_put(&b, &jobs[j].err, sizeof jobs[j].err);
    result_pack(&b, jobs[j].res);
  }
  if (b.oom) {
    free(b.p);
    mpl_errorf(err, MPL_ENOMEM, "out of memory");
    mpl__comm_fail(c, err);
    return MPL_ENOMEM;
  }
  char *all;
  size_t *lens, stride;
  int rc = mpl__comm_gatherv(c, b.p, b.len, &all, &lens, &stride, err);
  free(b.p);
  for (int r = 1; rc == 0 && c->rank == 0 && r < c->size; r++) {
    mpl__rd rd = {all + (size_t)r * stride, lens[r], 0, 0};
    while (rc == 0 && rd.off < rd.len) {
      int32_t h[2];
      mpl__rd_get(&rd, h, sizeof h);
      if (rd.bad || h[0] < 0 || h[0] >= n || h[0] % c->size != r) {
        rc = mpl_errorf(err, MPL_EFORMAT, "process %d sent a malformed result", r);
        break;
      }
      job *J = &jobs[h[0]];
      mpl__rd_get(&rd, &J->err, sizeof J->err);
      *J->status = h[1];
      mpl_search_result_free(J->res);
      if (result_unpack(&rd, J->res) < 0) rc = mpl_errorf(err, MPL_EFORMAT, "process %d sent a malformed result", r);
    }
  }
  free(all), free(lens);
  return rc;
}

/* After this process's runs: process 0 receives everyone's (share). A failure here before that
 * is this process's alone: comm->fail (the others would wait for it). */
static int gather_runs(job *J, int n, const mpl_comm *comm, int rc, mpl_err *err) {
  if (!mpl__comm_on(comm)) return rc;
  if (rc < 0) {
    mpl__comm_fail(comm, err);
    return rc;
  }
  return share(J, n, comm, err);
}

/* Process 0 (or the only one) summarises and writes the files. */
static int is_root(const mpl_search_cfg *cfg) { return !mpl__comm_on(cfg->comm) || cfg->comm->rank == 0; }

/* Every process returns process 0's status. */
static int agree(const mpl_search_cfg *cfg, int rc, mpl_err *err) {
  return mpl__comm_on(cfg->comm) ? mpl__comm_agree(cfg->comm, rc, err) : rc;
}

/* }====== */

/* Check the settings and make cfg->out; process 0 (or the only one) locks it, for the summaries it
 * writes there (*lock, -1 if not locked; each run locks its own directory). */
static int check_cfg(const mpl_search_cfg *cfg, int n_trials, int *lock, mpl_err *err) {
  *lock = -1;
  if (n_trials < 1 || n_trials > 999999) return mpl_errorf(err, MPL_EINVAL, "--trials must be in [1, 999999], got %d", n_trials);
  if (!cfg->out || !cfg->out[0]) return mpl_errorf(err, MPL_EINVAL, "trials need a results directory (--out)");
  if (cfg->episodes < 1) return mpl_errorf(err, MPL_EINVAL, "--episodes must be at least 1, got %d", cfg->episodes);
  int rc = mpl__make_dirs(cfg->out, err);
  if (rc == 0 && is_root(cfg) && (rc = mpl__dir_lock(cfg->out, lock, err)) == 0) mpl__remove_stale(cfg->out);
  return rc;
}

int mpl_trials_run(const mpl_search_cfg *cfg, int n_trials, int jobs, mpl_trials_result *res, mpl_err *err) {
  memset(res, 0, sizeof *res);
  int lock, rc = check_cfg(cfg, n_trials, &lock, err);
  if (rc < 0) return gather_runs(NULL, 0, cfg->comm, rc, err);
  job *J = calloc((size_t)n_trials, sizeof *J);
  if (!J || trials_alloc(res, n_trials, cfg->episodes) < 0) {
    free(J);
    mpl__dir_unlock(cfg->out, lock);
    return gather_runs(NULL, 0, cfg->comm, mpl_errorf(err, MPL_ENOMEM, "out of memory"), err);
  }
  for (int t = 0; t < n_trials && rc == 0; t++) {
    char sub[32];
    snprintf(sub, sizeof sub, "trial-%03d", t + 1);
    rc = job_setup(&J[t], cfg, res, t, cfg->seed + (unsigned long)t + 1, cfg->out, sub, err);
  }
  if (rc == 0) rc = pool_run(J, n_trials, jobs, cfg->progress, "trials", cfg->comm, err);
  rc = gather_runs(J, n_trials, cfg->comm, rc, err);
  if (rc == 0 && is_root(cfg)) rc = first_error(J, n_trials, err);
  if (rc == 0 && is_root(cfg)) rc = summarise(res, cfg, err);
  if (rc == 0 && is_root(cfg)) rc = write_summaries(res, cfg, err);
  free(J);
  mpl__dir_unlock(cfg->out, lock);
  return agree(cfg, rc, err);
}

/* }====== */

/* {====== The sparsity path ====== */

void mpl_lambda_dirname(double lambda, char *buf, size_t len) { snprintf(buf, len, "lambda-%g", lambda); }

static int lambda_push(double **v, int *n, int *cap, double x) {
  if (*n == *cap) {
    int c = *cap ? 2 * *cap : 16;
    double *p = realloc(*v, (size_t)c * sizeof *p);
    if (!p) return MPL_ENOMEM;
    *v = p, *cap = c;
  }
  (*v)[(*n)++] = x;
  return MPL_OK;
}

static int parse_number(const char *s, const char *spec, double *x, mpl_err *err) {
  char *end;
  errno = 0;
  *x = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(*x) || *x < 0)
    return mpl_errorf(err, MPL_EINVAL, "--lambda-path '%s': '%s' is not a finite number >= 0", spec, s);
  return MPL_OK;
}

/* One comma-separated item: a number or lo:hi:n. */
static int parse_item(char *item, const char *spec, double **v, int *n, int *cap, mpl_err *err) {
  char *c1 = strchr(item, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  double lo, hi;
  int rc;
  if (!c1) {
    if ((rc = parse_number(item, spec, &lo, err)) < 0) return rc;
    return lambda_push(v, n, cap, lo) < 0 ? mpl_errorf(err, MPL_ENOMEM, "out of memory") : MPL_OK;
  }
  if (!c2 || strchr(c2 + 1, ':')) return mpl_errorf(err, MPL_EINVAL, "--lambda-path '%s': '%s' is not lo:hi:n", spec, item);
  *c1 = *c2 = '\0';
  char *end;
  long k = strtol(c2 + 1, &end, 10);
  if ((rc = parse_number(item, spec, &lo, err)) < 0 || (rc = parse_number(c1 + 1, spec, &hi, err)) < 0) return rc;
  if (end == c2 + 1 || *end || k < 2 || k > 10000 || !(lo > 0) || !(hi > lo))
    return mpl_errorf(err, MPL_EINVAL, "--lambda-path '%s': a range lo:hi:n needs 0 < lo < hi and 2 <= n <= 10000", spec);
  for (long i = 0; i < k; i++) {
    double x = i == k - 1 ? hi : lo * pow(hi / lo, (double)i / (double)(k - 1));
    if (lambda_push(v, n, cap, x) < 0) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  return MPL_OK;
}

int mpl_lambda_parse(const char *spec, double **lambda, int *n, mpl_err *err) {
  *lambda = NULL, *n = 0;
  char *s = mpl__strdup(spec);
  if (!s) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  int cap = 0, rc = MPL_OK;
  char *p = s;
  for (;;) {
    size_t k = strcspn(p, ",");
    char last = p[k];
    p[k] = '\0';
    if (k == 0) rc = mpl_errorf(err, MPL_EINVAL, "--lambda-path '%s': empty item", spec);
    else rc = parse_item(p, spec, lambda, n, &cap, err);
    if (rc < 0 || !last) break;
    p += k + 1;
  }
  for (int i = 0; rc == 0 && i < *n; i++)
    for (int j = 0; j < i; j++) {
      char a[64], b[64];
      mpl_lambda_dirname((*lambda)[i], a, sizeof a), mpl_lambda_dirname((*lambda)[j], b, sizeof b);
      if (!strcmp(a, b)) {
        rc = mpl_errorf(err, MPL_EINVAL, "--lambda-path '%s': %.17g and %.17g give the same directory %s", spec,
                        (*lambda)[j], (*lambda)[i], a);
        break;
      }
    }
  free(s);
  if (rc < 0) free(*lambda), *lambda = NULL, *n = 0;
  return rc;
}

void mpl_path_result_free(mpl_path_result *P) {
  if (!P) return;
  for (int i = 0; P->run && i < P->n; i++) mpl_trials_result_free(&P->run[i]);
  free(P->run), free(P->lambda);
  memset(P, 0, sizeof *P);
}

/* The surviving terms of one lambda's runs: "F0 F2(3/5)", frequency when not unanimous. */
static void survivors(FILE *f, const mpl_trials_result *T, const char *sep) {
  int any = 0;
  if (T->n_ok == 0) {
    fprintf(f, "diverged");
    return;
  }
  for (int i = 0; i < T->n_terms; i++) {
    int k = (int)lround(T->survival[i] * T->n_ok);
    if (k == 0) continue;
    fprintf(f, "%s%s", any++ ? sep : "", T->names[i]);
    if (k < T->n_ok) fprintf(f, "(%d/%d)", k, T->n_ok);
  }
  if (!any) fprintf(f, "none");
}

static int write_path_csv(const mpl_path_result *P, const char *dir, mpl_err *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  const mpl_trials_result *T0 = &P->run[0];   /* the term names: the first lambda with a finished run */
  for (int l = 0; l < P->n && !T0->n_ok; l++) T0 = &P->run[l];
  fprintf(f, "lambda,trials,finished,active_mean,accuracy,accuracy_lo,accuracy_hi,window,survivors");
  for (int i = 0; i < T0->n_terms; i++) fprintf(f, ",survival_%s", T0->names[i]);
  fprintf(f, "\n");
  for (int l = 0; l < P->n; l++) {
    const mpl_trials_result *T = &P->run[l];
    fprintf(f, "%.17g,%d,%d,%.17g,%.17g,%.17g,%.17g,%d,", P->lambda[l], T->n_trials, T->n_ok, T->active_mean,
            T->final_mean, T->final_lo, T->final_hi, T->window);
    survivors(f, T, " ");
    for (int i = 0; i < T0->n_terms; i++) fprintf(f, ",%.17g", i < T->n_terms ? T->survival[i] : NAN);
    fprintf(f, "\n");
  }
  return write_stream(dir, MPL_RESULTS_PATH_CSV, f, &text, err);
}

char *mpl_path_summary_text(const mpl_path_result *P, const mpl_search_cfg *cfg) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  int n_trials = P->n ? P->run[0].n_trials : 0, window = P->n ? P->run[0].window : 0;
  fprintf(f, "# Sparsity path: %s\n\n%d lambda values, %d %s each, %d episodes, seed %lu; final accuracy = mean "
          "query accuracy of the last %d episodes, 98%% bootstrap interval over %s.\n\n",
          cfg->out ? cfg->out : "", P->n, n_trials, n_trials > 1 ? "trials" : "run", cfg->episodes, cfg->seed,
          window, n_trials > 1 ? "trials" : "those episodes");
  fprintf(f, "| lambda | surviving terms | which | final accuracy | 98%% interval |\n|---|---|---|---|---|\n");
  for (int l = 0; l < P->n; l++) {
    const mpl_trials_result *T = &P->run[l];
    fprintf(f, "| %g | %.2f | ", P->lambda[l], T->active_mean);
    survivors(f, T, ", ");
    fprintf(f, " | %.4f | [%.4f, %.4f]%s |\n", T->final_mean, T->final_lo, T->final_hi, T->n_ok < T->n_trials ? " *" : "");
  }
  for (int l = 0; l < P->n; l++)
    if (P->run[l].n_ok < P->run[l].n_trials) {
      fprintf(f, "\n* over the %s that finished; the others diverged (path.csv: finished).\n",
              n_trials > 1 ? "trials" : "runs");
      break;
    }
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* Summarise each lambda's runs and write the per-lambda and path files. */
static int path_finish(mpl_path_result *P, const mpl_search_cfg *cfg, mpl_err *err) {
  int rc = MPL_OK, finished_none = 0;
  for (int l = 0; l < P->n && rc == 0; l++) {
    char sub[64], dir[4200];
    mpl_search_cfg c = *cfg;
    mpl_lambda_dirname(P->lambda[l], sub, sizeof sub);
    snprintf(dir, sizeof dir, "%s/%s", cfg->out, sub);
    c.out = dir, c.adam.lambda = P->lambda[l], c.lambda_auto = 0;
    mpl_trials_result *T = &P->run[l];
    rc = summarise(T, &c, err);
    if (rc == MPL_ENUMERIC && T->n_ok == 0) {   /* every run of this lambda diverged: a row of NaNs */
      T->active_mean = T->final_mean = T->final_lo = T->final_hi = NAN;
      finished_none++;
      rc = MPL_OK;
      continue;
    }
    if (rc < 0) mpl_err_prefix(err, "%s: ", dir);
    int lock = -1;   /* this lambda's directory holds its trials' summaries: a run of its own may not write there */
    if (rc == 0 && T->n_trials > 1 && (rc = mpl__dir_lock(dir, &lock, err)) == 0) rc = write_summaries(T, &c, err);
    mpl__dir_unlock(dir, lock);
  }
  if (rc == 0 && finished_none == P->n) rc = mpl_errorf(err, MPL_ENUMERIC, "every run of the path diverged");
  if (rc == 0) rc = write_path_csv(P, cfg->out, err);
  if (rc == 0) {
    char *md = mpl_path_summary_text(P, cfg);
    rc = md ? mpl__write_atomic(cfg->out, MPL_RESULTS_PATH_MD, md, err) : mpl_errorf(err, MPL_ENOMEM, "out of memory");
    free(md);
  }
  return rc;
}

int mpl_path_run(const mpl_search_cfg *cfg, const double *lambda, int n, int n_trials, int jobs, mpl_path_result *res,
                 mpl_err *err) {
  memset(res, 0, sizeof *res);
  if (n < 1) return mpl_errorf(err, MPL_EINVAL, "--lambda-path: no lambda value");
  int lock, rc = check_cfg(cfg, n_trials, &lock, err);
  if (rc < 0) return gather_runs(NULL, 0, cfg->comm, rc, err);
  res->lambda = malloc((size_t)n * sizeof *res->lambda);
  res->run = calloc((size_t)n, sizeof *res->run);
  job *J = calloc((size_t)n * (size_t)n_trials, sizeof *J);
  if (!res->lambda || !res->run || !J) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int l = 0; l < n && rc == 0; l++) {
    char dir[4200], sub[64];
    res->lambda[l] = lambda[l];
    res->n = l + 1;
    if (trials_alloc(&res->run[l], n_trials, cfg->episodes) < 0) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
    mpl_lambda_dirname(lambda[l], sub, sizeof sub);
    snprintf(dir, sizeof dir, "%s/%s", cfg->out, sub);
    for (int t = 0; t < n_trials && rc == 0; t++) {
      job *j = &J[l * n_trials + t];
      char tsub[32];
      snprintf(tsub, sizeof tsub, "trial-%03d", t + 1);
      rc = n_trials == 1 ? job_setup(j, cfg, &res->run[l], t, cfg->seed, dir, NULL, err)
                         : job_setup(j, cfg, &res->run[l], t, cfg->seed + (unsigned long)t + 1, dir, tsub, err);
      j->cfg.adam.lambda = lambda[l], j->cfg.lambda_auto = 0;
    }
  }
  if (rc == 0) rc = pool_run(J, n * n_trials, jobs, cfg->progress, "runs", cfg->comm, err);
  rc = gather_runs(J, n * n_trials, cfg->comm, rc, err);
  if (rc == 0 && is_root(cfg)) rc = first_error(J, n * n_trials, err);
  if (rc == 0 && is_root(cfg)) rc = path_finish(res, cfg, err);
  free(J);
  mpl__dir_unlock(cfg->out, lock);
  return agree(cfg, rc, err);
}

/* }====== */
