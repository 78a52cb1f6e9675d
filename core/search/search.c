/* metaplast: the outer loop of a search (task sampling, episodes, meta-gradient, Adam), its
 * log and results directory, and the rule's read-out. See LICENSE for copyright. */
#include "metaplast/search.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <gsl/gsl_errno.h>

#include "metaplast/report.h"
#include "metaplast/terms.h"
#include "metaplast/results.h"

#include "checkpoint.h"
#include "config.h"
#include "dataio.h"
#include "discover.h"
#include "dist.h"
#include "episode.h"
#include "results.h"

/* {====== Helpers ====== */

/* One independent, reproducible seed per (run seed, stream, episode): splitmix64. */
static unsigned long mix_seed(unsigned long seed, unsigned long stream, unsigned long episode) {
  uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)stream * 0xD1B54A32D192ED03ull ^
               ((uint64_t)episode + 1) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (unsigned long)(z ^ (z >> 31));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* {====== Results directory ====== */

#define MAX_PATH 6                  /* lambda auto: the most stages of the path */
#define MAX_STAGES (MAX_PATH + 1)  /* and the refit after it */

/* One lambda of the path (the only one unless lambda auto): its best validated rule. */
typedef struct stage {
  double lambda, best;     /* best: mean validation accuracy of theta (-1: not validated yet) */
  int best_episode, active;
  double *theta, *acc;     /* [n] and [val_tasks] */
} stage;

/* One thread's workspace: everything a task's episode writes (mpl_episode holds an episode's whole
 * state). A run has one per thread; outside parallel loops it uses the first. */
typedef struct lane {
  mpl_episode *ep, *fa_ep;  /* the rule's episode; FA alone (the verdict's baseline), if validating */
  mpl_task task;
  gsl_rng *rng;
  mpl__task_buf b;          /* the task being run (dataio.h) */
  double *act[2];           /* forward-pass buffers of the dead-network probe */
  int failed;               /* in a parallel loop: the item that failed here (-1: none), its error in err */
  mpl_err err;
} lane;

typedef struct run {
  const mpl_search_cfg *cfg;
  mpl_dataset *ds;
  mpl_termset *ts;
  mpl_selection sel;
  lane *w;                /* [n_lanes] (search_lanes); w[0] outside parallel loops */
  int n_lanes;
  mpl_net_cfg net;
  mpl_adam opt;
  double *grad, *gsum;
  FILE *log, *vlog;       /* log.csv, validation.csv */
  double spread;        /* the probe's last measure: output spread, adapted / initial network */
  /* The state between episodes (what a checkpoint holds): theta and Adam's, and the rollback
   * point, the state before the last episode that went well. */
  double *theta, *good_theta, *good_m, *good_v;
  long good_t;
  int good_episode, streak, failures;
  /* The robust method (discover.h, docs/discovery.md). Training tasks come from tds, validation
   * tasks from vds: views of ds split by image (robust), or ds itself (plain). */
  const mpl_dataset *tds, *vds;
  mpl_dataset tview, vview;
  double *scale, *pf;      /* theta = scale * standardized; L1 penalty factor per coefficient */
  double *phi, *gphi;      /* scratch: standardized theta and gradient */
  double kappa;            /* the step's trust factor in (0, 1]: halved by a failure, regrown by successes */
  double lambda_max;       /* lambda auto: the smallest lambda at which every penalized coefficient is 0 */
  double *lmx;             /* the null stage: each penalized coefficient's largest |Adam first moment| */
  int n_stages, every;     /* lambda stages (1 unless lambda auto), episodes between validations */
  int null_stage;          /* lambda auto: stage 0 fits the unpenalized coefficients alone (FA) and measures lambda_max */
  int refit;               /* lambda auto: the last stage trains the chosen stage's rule on, at its lambda */
  int frozen, measuring;   /* this episode is in the null stage (its second half) */
  int pg;                  /* the first coefficient whose term is the pseudo-gradient, or -1 */
  stage st[MAX_STAGES];
  double *vacc, *fail_theta; /* the last validation's accuracy per task; theta of a failed episode */
  int *vdiv;               /* scratch: which validation tasks diverged */
  double val_last;
  int shared_val;          /* validation tasks drawn from the training images (plain, or too few to split) */
  mpl_termset *fa_ts;      /* FA alone (the pseudo-gradient), the verdict's baseline (lane.fa_ep) */
  int failures_logged;  /* resuming: failed rows in the part of the log kept */
  /* Distributed meta-steps (comm.h): this process's block of task records, and on process 0
   * everyone's, in task order. In one process on several threads, recs alone holds the meta-batch's
   * records (NULL when the search runs on one thread in one process). */
  char *mine, *recs;
  size_t rec_size;
  int locked, lock_fd;  /* cfg->out's lock (mpl__dir_lock), held from open_outputs to teardown */
} run;

/* config.txt (config.c) with what this run adds to its settings: the data, the network, the signs. */
static int write_config(run *R, int check, mpl_err *err) {
  char sizes[512] = "", signs[8192] = "";
  for (int l = 0, k = 0; l <= R->net.n_layers; l++)
    k += snprintf(sizes + k, sizeof sizes - (size_t)k, "%s%d", l ? "-" : "", R->net.sizes[l]);
  mpl__sb s = {signs, sizeof signs, 0};
  int any = 0;
  for (int i = 0; i < R->sel.n; i++)
    if (R->sel.sign[i])
      mpl__sb_printf(&s, "%s %s %s 0", any++ ? "," : "", mpl_termset_name(R->ts, R->sel.which[i]),
                     R->sel.sign[i] > 0 ? ">=" : "<=");
  mpl__config_facts f = {R->ds->name, R->ds->n_classes, sizes, signs, s.len};
  return mpl__config_write(R->cfg, &f, check, err);
}

static void log_header(run *R, mpl__sb *s) {
  mpl__sb_printf(s, "episode,loss,meta_loss,accuracy,active");
  for (int i = 0; i < R->sel.n; i++) mpl__sb_printf(s, ",theta_%s", mpl_termset_name(R->ts, R->sel.which[i]));
  for (int i = 0; i < R->sel.n; i++) mpl__sb_printf(s, ",grad_%s", mpl_termset_name(R->ts, R->sel.which[i]));
  for (int l = 0; l <= R->net.n_layers; l++) mpl__sb_printf(s, ",alpha_%d", l);
  for (int l = 1; l <= R->net.n_layers; l++) mpl__sb_printf(s, ",ortho_%d", l);
  mpl__sb_printf(s, ",status,seconds\n");
}

static int open_log(run *R, mpl_err *err) {
  char path[4200], head[16384];
  mpl__sb s = {head, sizeof head, 0};
  mpl__join(path, sizeof path, R->cfg->out, MPL_RESULTS_LOG);
  log_header(R, &s);
  if (s.len >= sizeof head) return mpl_errorf(err, MPL_EINVAL, "too many terms for the log's header");
  if (!(R->log = fopen(path, "w"))) return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
  fputs(head, R->log);
  return fflush(R->log) == 0 ? MPL_OK : mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
}

/* Resuming at episode E: keep the header and the first E rows of log.csv (rows written after the
 * checkpoint are redone), read back their loss, accuracy and wall time, and append from there. */
static int reopen_log(run *R, int E, mpl_search_result *res, double *secs, mpl_err *err) {
  char path[4200], head[16384], *text;
  size_t len;
  mpl__sb s = {head, sizeof head, 0};
  mpl__join(path, sizeof path, R->cfg->out, MPL_RESULTS_LOG);
  int rc = mpl__read_file(path, (size_t)1 << 34, &text, &len, err);
  if (rc == MPL_ENOTFOUND && E == 0) return open_log(R, err);
  if (rc < 0) return rc;
  log_header(R, &s);
  if (E == 0 && s.len < sizeof head && len < s.len && !memcmp(text, head, len)) {
    free(text);   /* killed while its header was being written (an empty log.csv): nothing to keep */
    return open_log(R, err);
  }
  if (s.len >= sizeof head) rc = mpl_errorf(err, MPL_EINVAL, "too many terms for the log's header");
  else if (len < s.len || memcmp(text, head, s.len))
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: its header is not that of this run's configuration", path);
  size_t off = s.len;
  int status_col = 5 + 2 * R->sel.n + 2 * R->net.n_layers + 1;
  for (int e = 0; rc == 0 && e < E; e++) {
    char *line = text + off, *nl = memchr(line, '\n', len - off);
    if (!nl) { rc = mpl_errorf(err, MPL_EFORMAT, "%s: %d rows, but the checkpoint is at episode %d", path, e, E); break; }
    *nl = '\0';
    off = (size_t)(nl - text) + 1;
    char *f = line, *end;
    double v[4] = {0};
    int col = 0;
    for (; f; col++) {
      char *comma = strchr(f, ',');
      if (col < 4) v[col] = strtod(f, &end);
      if (col == 0 && (end == f || (int)v[0] != e + 1)) break;
      if (col == status_col) R->failures_logged += strncmp(f, "ok,", 3) != 0, res->dead += !strncmp(f, "dead,", 5);
      if (col == status_col + 1) secs[e] = strtod(f, &end);
      f = comma ? comma + 1 : NULL;
    }
    if (col != status_col + 2) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: malformed row", path, e + 2); break; }
    res->loss[e] = v[1];
    res->accuracy[e] = v[3];
  }
  free(text);
  if (rc < 0) return rc;
  if (truncate(path, (off_t)off) < 0) return mpl_errorf(err, MPL_EIO, "%s: cannot truncate: %s", path, strerror(errno));
  if (!(R->log = fopen(path, "a"))) return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
  return MPL_OK;
}

static int count_active(const double *theta, int n, double tol) {
  int k = 0;
  for (int i = 0; i < n; i++) k += fabs(theta[i]) > tol;
  return k;
}

/* The L1 term of the meta-loss: lambda sum |theta| (plain), lambda sum pf |standardized| (robust). */
static double penalty(const run *R, const double *theta) {
  double lambda = R->opt.cfg.lambda, s = 0;
  if (R->cfg->method == MPL_METHOD_PLAIN) return mpl_l1(theta, R->sel.n, lambda);
  for (int i = 0; i < R->sel.n; i++) s += R->pf[i] * fabs(theta[i] / R->scale[i]);
  return lambda * s;
}

static int log_row(run *R, int e, const mpl_episode_stats *st, const double *theta, const char *status, double secs,
                   mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  if (!R->log) return MPL_OK;
  fprintf(R->log, "%d,%.17g,%.17g,%.17g,%d", e + 1, st->loss, st->loss + penalty(R, theta),
          st->accuracy, count_active(theta, R->sel.n, c->zero_tol));
  for (int i = 0; i < R->sel.n; i++) fprintf(R->log, ",%.17g", theta[i]);
  for (int i = 0; i < R->sel.n; i++) fprintf(R->log, ",%.17g", R->grad[i]);
  for (int l = 0; l <= R->net.n_layers; l++) fprintf(R->log, ",%.17g", st->angle[l]);
  for (int l = 1; l <= R->net.n_layers; l++) fprintf(R->log, ",%.17g", st->ortho[l]);
  fprintf(R->log, ",%s,%.6f\n", status, secs);
  if (fflush(R->log) != 0 || ferror(R->log))
    return mpl_errorf(err, MPL_EIO, "%s/log.csv: cannot write: %s", c->out, strerror(errno));
  return MPL_OK;
}

/* }====== */

/* {====== The search ====== */

/* The rollback point := the state now, before episode e. */
static void save_good(run *R, int e) {
  size_t b = (size_t)R->sel.n * sizeof(double);
  memcpy(R->good_theta, R->theta, b);
  memcpy(R->good_m, R->opt.m, b);
  memcpy(R->good_v, R->opt.v, b);
  R->good_t = R->opt.t;
  R->good_episode = e;
}

static void rollback(run *R) {
  size_t b = (size_t)R->sel.n * sizeof(double);
  memcpy(R->theta, R->good_theta, b);
  memcpy(R->opt.m, R->good_m, b);
  memcpy(R->opt.v, R->good_v, b);
  R->opt.t = R->good_t;
}

static int robust_setup(run *R, mpl_err *err);
static void robust_teardown(run *R);
static int dist_on(const run *R);
static int dist_chunk(const run *R);

/* The workspaces: one per thread (cfg->threads; 0: every online CPU), no more than the tasks run
 * at once (this process's block of a meta-step, or the validation tasks). */
static int search_lanes(run *R, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  if (c->threads < 0 || c->threads > 4096)
    return mpl_errorf(err, MPL_EINVAL, "threads (--jobs) must be in [0, 4096], got %d", c->threads);
  int n = c->threads > 0 ? c->threads : mpl__online_cpus(), block = dist_on(R) ? dist_chunk(R) : c->meta_batch;
  int most = block > c->val_tasks ? block : c->val_tasks;
  R->n_lanes = n < most ? n : most;
  if (R->n_lanes < 1) R->n_lanes = 1;
  if (!(R->w = calloc((size_t)R->n_lanes, sizeof *R->w))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  return MPL_OK;
}

/* After a parallel loop whose lowest failing item is `first`: that item's error (its lane's). */
static int lane_error(run *R, int first, mpl_err *err) {
  for (int k = 0; k < R->n_lanes; k++)
    if (R->w[k].failed == first) return *err = R->w[k].err, err->code;
  return mpl_errorf(err, MPL_EINVAL, "item %d failed without an error", first + 1);   /* not reached */
}

static void lanes_reset(run *R) {
  for (int k = 0; k < R->n_lanes; k++) R->w[k].failed = -1, mpl_err_clear(&R->w[k].err);
}
static int lambda_path(run *R, mpl_err *err);

static int setup(run *R, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  int rc;
  if (c->meta_batch < 1 || c->meta_batch > 4096)
    return mpl_errorf(err, MPL_EINVAL, "--meta-batch must be in [1, 4096], got %d", c->meta_batch);
  if (c->episodes < 1) return mpl_errorf(err, MPL_EINVAL, "--episodes must be at least 1, got %d", c->episodes);
  if (c->n_hidden < 0 || c->n_hidden > MPL_MAX_LAYERS - 1)
    return mpl_errorf(err, MPL_EINVAL, "network: %d hidden layers (at most %d)", c->n_hidden, MPL_MAX_LAYERS - 1);
  if (c->images || c->labels) {
    if (!c->images || !c->labels) return mpl_errorf(err, MPL_EINVAL, "--images and --labels go together");
    rc = mpl_dataset_load_idx(c->images, c->labels, c->per_class, &R->ds, err);
  } else {
    rc = mpl_dataset_open(c->data, c->per_class, &R->ds, err);
  }
  if (rc < 0) return rc;
  if ((rc = search_lanes(R, err)) < 0) return rc;
  for (int k = 0; k < R->n_lanes; k++)
    if ((rc = mpl__task_setup(R->ds, &c->task, &R->w[k].task, &R->w[k].b, err)) < 0) return rc;
  if (!(R->ts = mpl_termset_new())) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if ((rc = mpl_terms_parse(c->terms, R->ts, &R->sel, err)) < 0) return rc;
  if (c->init && (rc = mpl_selection_set_init(&R->sel, R->ts, c->init, err)) < 0) return rc;
  if (c->sign && (rc = mpl_selection_set_sign(&R->sel, R->ts, c->sign, err)) < 0) return rc;
  for (int i = 0; i < R->sel.n; i++)
    if (R->sel.sign[i] * R->sel.theta0[i] < 0)
      return mpl_errorf(err, MPL_EINVAL, "--init: term %s starts at %g, against its sign constraint (--sign %s=free lifts it)",
                        mpl_termset_name(R->ts, R->sel.which[i]), R->sel.theta0[i],
                        mpl_termset_name(R->ts, R->sel.which[i]));
  R->net = (mpl_net_cfg){.n_layers = c->n_hidden + 1, .beta = c->beta, .feedback = c->feedback, .bp_detach = c->bp_detach};
  R->net.sizes[0] = (int)R->ds->dim;
  for (int l = 0; l < c->n_hidden; l++) R->net.sizes[l + 1] = c->hidden[l];
  R->net.sizes[R->net.n_layers] = R->ds->n_classes;
  for (int k = 0; k < R->n_lanes; k++)
    if ((rc = mpl_episode_new(&R->net, R->ts, R->sel.which, R->sel.n, &R->w[k].ep, err)) < 0) return rc;
  if ((rc = mpl_adam_init(&R->opt, R->sel.n, &c->adam, err)) < 0) return rc;
  int nq = c->task.m * c->task.q;
  R->grad = calloc((size_t)R->sel.n + 1, sizeof *R->grad);   /* defined even before the first gradient */
  R->gsum = malloc((size_t)R->sel.n * sizeof *R->gsum);
  size_t n = (size_t)R->sel.n + 1, wmax = 0;
  for (int l = 0; l <= R->net.n_layers; l++) wmax = (size_t)R->net.sizes[l] > wmax ? (size_t)R->net.sizes[l] : wmax;
  for (int k = 0; k < R->n_lanes; k++) {
    lane *w = &R->w[k];
    w->rng = gsl_rng_alloc(gsl_rng_mt19937);
    w->act[0] = malloc((size_t)nq * wmax * sizeof(double));
    w->act[1] = malloc((size_t)nq * wmax * sizeof(double));
    if (!w->rng || !w->act[0] || !w->act[1]) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  R->theta = malloc(n * sizeof(double)), R->good_theta = malloc(n * sizeof(double));
  R->good_m = malloc(n * sizeof(double)), R->good_v = malloc(n * sizeof(double));
  if (!R->grad || !R->gsum || !R->theta || !R->good_theta || !R->good_m || !R->good_v)
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (c->clip_grad < 0 || !(c->clip_grad < INFINITY))
    return mpl_errorf(err, MPL_EINVAL, "--clip-grad must be a finite norm >= 0 (0 = off), got %g", c->clip_grad);
  if (c->checkpoint_every < 0)
    return mpl_errorf(err, MPL_EINVAL, "--checkpoint-every must be >= 0, got %d", c->checkpoint_every);
  if (c->max_failures < 1) return mpl_errorf(err, MPL_EINVAL, "--max-failures must be at least 1, got %d", c->max_failures);
  if (c->resume && !c->out) return mpl_errorf(err, MPL_EINVAL, "resume: no results directory given");
  memcpy(R->theta, R->sel.theta0, (size_t)R->sel.n * sizeof *R->theta);
  save_good(R, 0);
  if ((rc = robust_setup(R, err)) < 0) return rc;
  return lambda_path(R, err);
}

static void teardown(run *R) {
  if (R->log) fclose(R->log);
  mpl_dataset_free(R->ds);
  mpl_selection_free(&R->sel);
  for (int k = 0; R->w && k < R->n_lanes; k++) {
    lane *w = &R->w[k];
    mpl_episode_free(w->ep), mpl_episode_free(w->fa_ep);
    mpl_task_free(&w->task);
    if (w->rng) gsl_rng_free(w->rng);
    mpl__task_buf_free(&w->b), free(w->act[0]), free(w->act[1]);
  }
  free(R->w);
  mpl_termset_free(R->ts);
  mpl_adam_free(&R->opt);
  free(R->grad); free(R->gsum);
  free(R->theta); free(R->good_theta); free(R->good_m); free(R->good_v);
  free(R->mine); free(R->recs);
  robust_teardown(R);
  if (R->locked) mpl__dir_unlock(R->cfg->out, R->lock_fd);   /* after the last write (validation.csv) */
}

/* Draw a task from ds and weights into ep (lane w's) from stream (stream, e) and gather its images
 * into w's buffers. */
static int prepare_task(run *R, lane *w, const mpl_dataset *ds, mpl_episode *ep, unsigned long stream, int e,
                        mpl_err *err) {
  gsl_rng_set(w->rng, mix_seed(R->cfg->seed, stream, (unsigned long)e));
  int rc = mpl_task_sample(ds, &R->cfg->task, w->rng, &w->task, err);
  if (rc < 0) return rc;
  mpl_episode_init_weights(ep, w->rng);
  mpl_task_gather(ds, &w->task, w->b.tx, w->b.ty, w->b.qx, w->b.qy);
  return MPL_OK;
}

static void progress(const run *R, int e, int start, const double *acc, const double *theta, double t0) {
  FILE *f = R->cfg->progress;
  if (!f) return;
  int N = R->cfg->episodes, tty = isatty(fileno(f)), every = N >= 20 ? N / 20 : 1;
  if (!tty && (e + 1) % every != 0 && e + 1 != N) return;
  double sum = 0;
  int k = 0;
  for (int i = e; i >= 0 && k < 10; i--)
    if (!isnan(acc[i])) sum += acc[i], k++;
  double el = mpl__now() - t0, eta = el / (e + 1 - start) * (N - e - 1);
  fprintf(f, "%sepisode %d/%d  acc(avg10) %.3f  active %d/%d  failed %d  %.3f s/ep  ETA %02d:%02d:%02d%s",
          tty ? "\r" : "", e + 1, N, k ? sum / k : NAN, count_active(theta, R->sel.n, R->cfg->zero_tol), R->sel.n,
          R->failures, el / (e + 1 - start), (int)(eta / 3600), (int)fmod(eta / 60, 60), (int)fmod(eta, 60),
          tty ? "  " : "\n");
  if (tty && e + 1 == N) fputc('\n', f);
  fflush(f);
}

static int fill_result(run *R, mpl_search_result *res, const double *theta, mpl_err *err) {
  res->n_terms = R->sel.n;
  res->names = calloc((size_t)R->sel.n, sizeof *res->names);
  res->formulas = calloc((size_t)R->sel.n, sizeof *res->formulas);
  res->theta = malloc((size_t)R->sel.n * sizeof *res->theta);
  if (!res->names || !res->formulas || !res->theta) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int i = 0; i < R->sel.n; i++) {
    char f[4096];
    mpl_termset_print(R->ts, R->sel.which[i], MPL_FMT_TEXT, f, sizeof f);
    res->names[i] = mpl__strdup(mpl_termset_name(R->ts, R->sel.which[i]));
    res->formulas[i] = mpl__strdup(f);
    if (!res->names[i] || !res->formulas[i]) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    res->theta[i] = theta[i];
  }
  return MPL_OK;
}

static void reported_theta(run *R, mpl_search_result *res);
static int robust(const run *R);
static int judge(run *R, mpl_search_result *res, int episodes, mpl_err *err);

/* The last iterate, the scales, the rule reported and its verdict. */
static int conclude(run *R, mpl_search_result *res, int episodes, mpl_err *err) {
  size_t b = (size_t)R->sel.n * sizeof(double);
  res->theta_final = malloc(b + sizeof(double));
  res->scale = malloc(b + sizeof(double));
  if (!res->theta_final || !res->scale) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  memcpy(res->theta_final, res->theta, b);
  memcpy(res->scale, R->scale, b);
  if (!robust(R)) free(res->scale), res->scale = NULL;   /* the plain method has no standardized values */
  reported_theta(R, res);
  return judge(R, res, episodes, err);
}

/* A finished run resumed (nothing left to run): its reported rule, last iterate, scales and
 * verdict as its rule.json recorded them; its files stay as they are. */
static int recall(run *R, mpl_search_result *res, mpl_err *err) {
  mpl_readout r;
  int rc = mpl_readout_load(R->cfg->out, &r, err), n = R->sel.n;
  if (rc < 0) return rc;
  size_t b = ((size_t)n + 1) * sizeof(double);
  if (!(res->theta_final = malloc(b)) || !(res->scale = malloc(b))) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int i = 0; rc == 0 && i < n; i++) {
    if (i >= r.n_terms || strcmp(r.terms[i].name, res->names[i])) {
      rc = mpl_errorf(err, MPL_EFORMAT, "%s/rule.json: its terms are not the run's", R->cfg->out);
      break;
    }
    res->theta[i] = r.terms[i].theta;
    res->theta_final[i] = isfinite(r.terms[i].theta_final) ? r.terms[i].theta_final : r.terms[i].theta;
    res->scale[i] = isfinite(r.terms[i].scale) ? r.terms[i].scale : 1;
  }
  if (rc == 0 && r.health) snprintf(res->health, sizeof res->health, "%s", r.health), res->healthy = r.healthy;
  res->best_episode = r.health && r.episode >= 0 ? r.episode : R->cfg->episodes;
  mpl_readout_free(&r);
  return rc;
}

static int write_outputs(run *R, const mpl_search_result *res, mpl_err *err) {
  if (!R->cfg->out) return MPL_OK;
  size_t cap = 65536;
  char *text = malloc(cap);
  if (!text) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  mpl__sb s = {text, cap, 0};
  mpl__sb_printf(&s, "name\ttheta\tformula\tlatex\tcode\n");
  for (int i = 0; i < R->sel.n; i++) {
    char latex[4096], code[4096];
    mpl_termset_print(R->ts, R->sel.which[i], MPL_FMT_LATEX, latex, sizeof latex);
    mpl_termset_print(R->ts, R->sel.which[i], MPL_FMT_CODE, code, sizeof code);
    mpl__sb_printf(&s, "%s\t%.17g\t%s\t%s\t%s\n", res->names[i], res->theta[i], res->formulas[i], latex, code);
  }
  int rc = s.len < cap ? mpl__write_atomic(R->cfg->out, MPL_RESULTS_THETA, text, err) : mpl_errorf(err, MPL_EINVAL, "too many terms");
  if (rc == 0) {
    size_t h = strlen(res->health) < cap ? strlen(res->health) : 0;
    memcpy(text, res->health, h);
    mpl__rule_terms terms = {res->n_terms, res->names, res->formulas, res->theta, res->scale};
    size_t need = h + mpl__rule_text(&terms, R->cfg->zero_tol, text + h, cap - h);
    rc = need < cap ? mpl__write_atomic(R->cfg->out, MPL_RESULTS_RULE_TXT, text, err) : mpl_errorf(err, MPL_EINVAL, "rule too long");
  }
  if (rc == 0)
    rc = mpl_report_write_run(R->cfg->out, R->ts, R->sel.which, res->theta, res->theta_final, res->scale, res->n_terms,
                              res->health, res->healthy, res->best_episode, err); /* report.h */
  free(text);
  return rc;
}

/* {====== The robust method (docs/discovery.md) ====== */

#define STREAM_VAL 0x76616cUL      /* validation task t: stream (STREAM_VAL, t) */
#define STREAM_PROBE 0x70726fUL    /* the magnitude probe's task and weights; lambda auto's probe tasks follow */
#define PROBE_IMAGES 50            /* images of the probe task whose signals measure the terms */
#define LAMBDA_PROBE_TASKS 4       /* tasks whose mean gradient at the start gives lambda_max */
#define LAMBDA_SPAN 3.0            /* decades from lambda_max to the path's last lambda (glmnet: 2 to 4) */
#define KAPPA_MIN (1.0 / 1024)     /* the smallest trust factor: failing there stops the search */
#define KAPPA_GROW 1.25            /* the trust factor's growth per successful episode (up to 1) */
#define DECLINE 0.05               /* a validation this far below the stage's best reverts to it */
#define ONE_SE_CAP 0.02            /* lambda auto: the 1-SE tolerance, at most this much accuracy */

static int robust(const run *R) { return R->cfg->method == MPL_METHOD_ROBUST; }
static int validating(const run *R) { return R->cfg->val_tasks > 0; }

#define REFIT_SHARE 6              /* lambda auto: the refit has 1/REFIT_SHARE of the episodes */

/* The first episode (0-based) of stage s: the path's stages share the episodes equally, or with a
 * refit the first (REFIT_SHARE - 1)/REFIT_SHARE of them, the refit the rest. */
static int stage_start(const run *R, int s) {
  long E = R->cfg->episodes, path = R->refit ? E - E / REFIT_SHARE : E;
  int k = R->n_stages - R->refit;
  return s >= R->n_stages ? (int)E : s == k ? (int)path : (int)((s * path + k - 1) / k);
}

/* Which lambda stage episode e (0-based) belongs to. */
static int stage_of(const run *R, int e) {
  int s = 0;
  while (s + 1 < R->n_stages && stage_start(R, s + 1) <= e) s++;
  return s;
}

static int in_refit(const run *R, int s) { return R->refit && s == R->n_stages - 1; }

static int split_data(run *R, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  R->tds = R->vds = R->ds;
  if (!robust(R) || !validating(R)) return MPL_OK;
  int rc = mpl__dataset_split(R->ds, &c->task, &R->tview, &R->vview, err);
  if (rc < 0) return rc;
  R->tds = &R->tview, R->vds = &R->vview;
  mpl_err e1 = {0};
  if (mpl_task_check(R->tds, &c->task, &e1) < 0 || mpl_task_check(R->vds, &c->task, &e1) < 0) {
    /* too few images per class to hold a sixth out: validate on tasks drawn from all of them */
    mpl__dataset_view_free(&R->tview), mpl__dataset_view_free(&R->vview);
    R->tds = R->vds = R->ds;
    R->shared_val = 1;
  }
  return MPL_OK;
}

/* Scale-free coefficients: theta_r = scale_r * standardized_r with scale_r = 1 / (|F_r| / |F_0|),
 * measured on the start network; the pseudo-gradient keeps scale 1 and no L1 penalty. */
static int standardize(run *R, mpl_err *err) {
  int n = R->sel.n, nt = R->cfg->task.m * R->cfg->task.k;
  R->pg = -1;
  for (int i = 0; i < n; i++) {
    R->scale[i] = 1, R->pf[i] = 1;
    if (mpl__is_pseudo_gradient(R->ts, R->sel.which[i])) {   /* once per run: the verdict's FA rate uses it too */
      if (R->pg < 0) R->pg = i;
      if (robust(R)) R->pf[i] = 0;
    }
  }
  if (!robust(R)) return MPL_OK;
  lane *w = R->w;
  int rc = prepare_task(R, w, R->tds, w->ep, STREAM_PROBE, 0, err);
  gsl_rng_set(w->rng, mix_seed(R->cfg->seed, STREAM_PROBE, 1));
  if (rc == 0)
    rc = mpl__term_magnitudes(&R->net, w->ep, R->ts, R->sel.which, n, w->b.tx, w->b.ty,
                              nt < PROBE_IMAGES ? nt : PROBE_IMAGES, w->rng, R->phi, err);
  for (int i = 0; rc == 0 && i < n; i++) R->scale[i] = R->pf[i] == 0 ? 1.0 : 1.0 / R->phi[i];
  return rc;
}

/* lambda auto's null stage (glmnet's null model): the penalized coefficients stay 0 while the
 * unpenalized ones (the pseudo-gradient's rate) fit. Adam's bias-corrected first moment of a
 * penalized coefficient is what its proximal step compares with lambda (the coefficient leaves 0
 * when |m| > lambda): lmx[i] is its largest size over the stage's second half, and lambda_max
 * their largest, taken in the units restandardize sets at the stage's end. */
static void null_fit(run *R) {
  double bc1 = 1 - pow(R->opt.cfg.beta1, (double)R->opt.t);
  for (int i = 0; i < R->sel.n; i++) {
    if (R->pf[i] == 0) continue;
    R->theta[i] = 0;
    if (R->measuring) R->lmx[i] = fmax(R->lmx[i], fabs(R->opt.m[i] / bc1));
  }
}

static int choose_stage(const run *R);

/* The refit's step factor after episode e (0-based) of its stage s: a cosine from 1 at its first
 * episode down toward 0 at the run's last, so that the rule settles rather than jitters. */
static double refit_anneal(const run *R, int s, int e) {
  double a = stage_start(R, s), f = (e - a) / (R->cfg->episodes - a);
  return 0.5 * (1 + cos(3.14159265358979323846 * f));
}

/* One meta-step on theta after episode e: Adam on theta (plain) or on the standardized
 * coefficients with the step scaled by the trust factor (robust). In the refit the terms the
 * chosen rule pruned are held at 0 (their gradient and momentum dropped: Adam moves them by
 * exactly 0) while the others fit without the penalty, with the step annealed. */
static void step(run *R, int e) {
  int n = R->sel.n, s = stage_of(R, e);
  if (!robust(R)) { mpl_adam_step(&R->opt, R->theta, R->grad); return; }
  for (int i = 0; i < n; i++) R->phi[i] = R->theta[i] / R->scale[i], R->gphi[i] = R->grad[i] * R->scale[i];
  double lr = R->opt.cfg.lr;
  R->opt.cfg.lr = lr * R->kappa;
  if (in_refit(R, s)) {
    const stage *c = &R->st[choose_stage(R)];
    for (int i = 0; i < n; i++)
      if (R->pf[i] != 0 && c->theta[i] == 0) R->gphi[i] = 0, R->opt.m[i] = 0;
    R->opt.cfg.lr *= refit_anneal(R, s, e);
  }
  mpl_adam_step(&R->opt, R->phi, R->gphi);
  R->opt.cfg.lr = lr;
  for (int i = 0; i < n; i++) R->theta[i] = R->phi[i] * R->scale[i];
  if (R->frozen) null_fit(R);
}

static void project(run *R, double *theta) {
  for (int i = 0; i < R->sel.n; i++)
    if (R->sel.sign[i] * theta[i] < 0) theta[i] = 0.0;
}

/* One validation loop (validate): theta on validation task t, with the rule's episode or FA's. */
typedef struct val_loop {
  run *R;
  int fa;
  const double *theta;
  double *acc;
} val_loop;

static int validate_task(void *ctx, int k, int t) {
  const val_loop *V = ctx;
  run *R = V->R;
  lane *w = &R->w[k];
  mpl_episode *ep = V->fa ? w->fa_ep : w->ep;
  int nt = R->cfg->task.m * R->cfg->task.k, nq = R->cfg->task.m * R->cfg->task.q;
  mpl_episode_stats st;
  mpl_err eerr = {0};
  int rc = prepare_task(R, w, R->vds, ep, STREAM_VAL, t, &w->err);
  if (rc < 0) return w->failed = t, mpl_err_prefix(&w->err, "validation task %d: ", t + 1);
  rc = mpl_episode_run(ep, V->theta, w->b.tx, w->b.ty, nt, w->b.qx, w->b.qy, nq, &st, NULL, &eerr);
  R->vdiv[t] = rc == MPL_ENUMERIC || (rc == 0 && !st.finite);
  if (R->vdiv[t]) return V->acc[t] = 0, MPL_OK;
  if (rc < 0) return w->failed = t, mpl_errorf(&w->err, rc, "validation task %d: %s", t + 1, eerr.msg);
  V->acc[t] = st.accuracy;
  return MPL_OK;
}

/* Accuracy of theta (the rule's episode, or FA's with fa) on every validation task (a diverged task
 * scores 0 and is counted); their mean. The tasks run on the lanes' threads; the mean is summed in
 * task order. */
static int validate(run *R, int fa, const double *theta, double *acc, int *diverged, double *mean, mpl_err *err) {
  int V = R->cfg->val_tasks;
  double sum = 0;
  val_loop L = {R, fa, theta, acc};
  lanes_reset(R);
  int first = mpl__parallel_for(V, R->n_lanes, validate_task, &L);
  if (first < V) return lane_error(R, first, err);
  *diverged = 0;
  for (int t = 0; t < V; t++)
    if (R->vdiv[t]) (*diverged)++;
    else sum += acc[t];
  *mean = sum / V;
  return MPL_OK;
}

/* The path's stage with the best validation (the refit left out), or -1 before any. */
static int path_best(const run *R) {
  int b = -1;
  for (int s = 0; s < R->n_stages - R->refit; s++)
    if (R->st[s].best >= 0 && (b < 0 || R->st[s].best > R->st[b].best)) b = s;
  return b;
}

/* The anchor of episode e: the best validated rule of the stages so far (NULL before any
 * validation). A failure or a decline goes back to it, whichever stage it was found in. */
static stage *anchor(run *R, int e) {
  stage *a = NULL;
  int s = stage_of(R, e);
  if (in_refit(R, s)) {   /* the refit keeps to the chosen rule: never back to a denser one */
    stage *c = &R->st[choose_stage(R)], *f = &R->st[s];
    return f->best > c->best ? f : c->best >= 0 ? c : NULL;
  }
  for (; s >= 0; s--)
    if (R->st[s].best >= 0 && (!a || R->st[s].best > a->best)) a = &R->st[s];
  return a;
}

/* Back to a validated rule: theta := its, Adam's first moment forgotten, the step halved. */
static void revert(run *R, const double *theta) {
  memcpy(R->theta, theta, (size_t)R->sel.n * sizeof *R->theta);
  memset(R->opt.m, 0, (size_t)R->sel.n * sizeof *R->opt.m);
  R->kappa = fmax(R->kappa / 2, KAPPA_MIN);
}

/* After a failed episode e (theta already rolled back to the last good one): a first failure
 * moves theta half way back to the best validated rule (the anchor), a second in a row all the
 * way. Either way the momentum is dropped and the step halved. Without validation, rollback only. */
static void back_off(run *R, int e) {
  stage *a = anchor(R, e);
  if (!a) { revert(R, R->theta); return; }
  if (R->streak >= 1) { revert(R, a->theta); return; }
  for (int i = 0; i < R->sel.n; i++) R->theta[i] += 0.5 * (a->theta[i] - R->theta[i]);
  project(R, R->theta);
  revert(R, R->theta);
}

static int open_vlog(run *R, int start, mpl_err *err);

/* How far below the stage's best a validation may fall before the rule is reverted: DECLINE, or
 * three standard errors of the paired difference over the tasks if that is more. */
static double decline_tol(const run *R, const stage *S) {
  double mx, my, se;
  mpl__paired(R->vacc, S->acc, R->cfg->val_tasks, &mx, &my, &se);
  return isfinite(se) ? fmax(DECLINE, 3 * se) : DECLINE;
}

/* The validation after `done` episodes: the stage's best rule, and (robust) a revert to the
 * anchor when the rule declined below it by more than decline_tol; a row of validation.csv. */
static int validation_point(run *R, int done, mpl_err *err) {
  stage *S = &R->st[stage_of(R, done > 0 ? done - 1 : 0)];
  int diverged, n = R->sel.n, active = count_active(R->theta, n, R->cfg->zero_tol);
  double mean;
  int rc = validate(R, 0, R->theta, R->vacc, &diverged, &mean, err);
  if (rc < 0) return rc;
  R->val_last = mean;
  const char *action = "";
  if (mean > S->best && (diverged == 0 || !robust(R))) {   /* robust: a rule that diverges anywhere is never the best */
    S->best = mean, S->best_episode = done, S->active = active, action = "best";
    memcpy(S->theta, R->theta, (size_t)n * sizeof *S->theta);
    memcpy(S->acc, R->vacc, (size_t)R->cfg->val_tasks * sizeof *S->acc);
  }
  stage *A = anchor(R, done > 0 ? done - 1 : 0);
  if (robust(R) && A && mean < A->best - decline_tol(R, A)) {
    revert(R, A->theta);
    action = A == S && S->best_episode == done ? action : *action ? "best;reverted" : "reverted";
  }
  if (R->vlog) {
    fprintf(R->vlog, "%d,%.17g,%.17g,%.17g,%d,%d,%s\n", done, R->frozen ? INFINITY : R->opt.cfg.lambda, R->kappa, mean, diverged, active,
            action);
    if (fflush(R->vlog) != 0) return mpl_errorf(err, MPL_EIO, "%s/validation.csv: cannot write", R->cfg->out);
  }
  return MPL_OK;
}

static int validation_due(const run *R, int done) {
  if (!validating(R)) return 0;
  return done % R->every == 0 || done == R->cfg->episodes || stage_of(R, done) != stage_of(R, done - 1);
}

/* The path's lambdas below lambda_max, log-spaced down LAMBDA_SPAN decades: stages 1.. after a
 * null stage (stage 0 is the null model, at lambda_max), stages 0.. without one. */
static void path_lambdas(run *R) {
  int first = R->null_stage, k = R->n_stages - R->refit - 1;
  if (R->null_stage) R->st[0].lambda = R->lambda_max;
  for (int s = first; s <= k; s++)
    R->st[s].lambda = R->lambda_max * pow(10, -LAMBDA_SPAN * (k > 0 ? (double)s / k : 1));
}

/* lambda auto. With an unpenalized coefficient (the pseudo-gradient), the path starts with a null
 * stage that fits it alone and measures lambda_max there (null_fit): the penalized terms' gradients
 * grow as the network learns, so lambda_max measured at the start let 6-14 terms in at once (zoo,
 * EMNIST). Without one, lambda_max is the largest |dL/d standardized_r| over penalized r and over
 * LAMBDA_PROBE_TASKS tasks at the start: at it the proximal step keeps every penalized coefficient
 * at 0 on every probe task. */
static int lambda_path(run *R, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  int n = R->sel.n, nt = c->task.m * c->task.k, nq = c->task.m * c->task.q, k = 0, free_ = 0, penalized = 0;
  R->n_stages = 1;
  R->st[0].lambda = c->adam.lambda;
  if (!c->lambda_auto) return MPL_OK;
  for (int i = 0; i < n; i++) free_ += R->pf[i] == 0, penalized += R->pf[i] != 0;
  int refit = c->refit && robust(R) && validating(R) && c->episodes / REFIT_SHARE >= 20;
  int path = refit ? c->episodes - c->episodes / REFIT_SHARE : c->episodes;
  int stages = path / 20 < 1 ? 1 : path / 20 > MAX_PATH ? MAX_PATH : path / 20;
  if (robust(R) && free_ > 0 && penalized > 0 && stages >= 2) {   /* (a refit implies stages >= 2) */
    R->null_stage = 1, R->refit = refit, R->n_stages = stages + refit, R->lambda_max = 0;
    return MPL_OK;   /* the lambdas follow the null stage (enter_stage) */
  }
  memset(R->gsum, 0, (size_t)n * sizeof *R->gsum);
  for (int b = 0; b < LAMBDA_PROBE_TASKS; b++) {
    mpl_episode_stats st;
    mpl_err eerr = {0};
    lane *w = R->w;
    int rc = prepare_task(R, w, R->tds, w->ep, STREAM_PROBE + 1 + (unsigned long)b, 0, err);
    if (rc < 0) return rc;
    rc = mpl_episode_run(w->ep, R->theta, w->b.tx, w->b.ty, nt, w->b.qx, w->b.qy, nq, &st, R->grad, &eerr);
    if (rc == MPL_ENUMERIC) continue;
    if (rc < 0) return mpl_errorf(err, rc, "lambda auto: %s", eerr.msg);
    for (int i = 0; i < n; i++) R->gsum[i] = fmax(R->gsum[i], R->pf[i] * fabs(R->grad[i] * R->scale[i]));
    k++;
  }
  R->lambda_max = 0;
  for (int i = 0; k > 0 && i < n; i++) R->lambda_max = fmax(R->lambda_max, R->gsum[i]);
  if (!(R->lambda_max > 0)) {   /* nothing to penalize (FA alone), or every probe task diverged: lambda 0 */
    R->st[0].lambda = 0;
    return MPL_OK;
  }
  R->refit = refit, R->n_stages = stages + refit;
  path_lambdas(R);
  return MPL_OK;
}

/* At the null stage's end, the scales again, on the network FA adapted: one episode of the probe
 * task at the rate the null stage fitted (every penalized coefficient is 0), the terms measured on
 * its final weights. Terms that grow as the network learns are much larger there than on the start
 * network (the paper pool's F6-F8 30-70x on EMNIST), so one standardized unit of theirs changed ΔW
 * far more than one of FA's rate. Adam's moments and lambda_max follow the new units; a term that
 * cannot be measured there (zero, not finite, or the episode diverged) keeps its start scale. */
static int restandardize(run *R, mpl_err *err) {
  int n = R->sel.n, nt = R->cfg->task.m * R->cfg->task.k, nq = R->cfg->task.m * R->cfg->task.q;
  mpl_episode_stats st;
  mpl_err eerr = {0};
  lane *w = R->w;
  int rc = prepare_task(R, w, R->tds, w->ep, STREAM_PROBE, 0, err);
  if (rc < 0) return rc;
  rc = mpl_episode_run(w->ep, R->theta, w->b.tx, w->b.ty, nt, w->b.qx, w->b.qy, nq, &st, NULL, &eerr);
  if (rc < 0 && rc != MPL_ENUMERIC) return mpl_errorf(err, rc, "standardizing on FA's adapted network: %s", eerr.msg);
  for (int i = 0; i < n; i++) R->phi[i] = NAN;   /* scratch here: the terms' magnitudes */
  if (rc == 0 && st.finite) {
    rc = mpl__term_magnitudes(&R->net, w->ep, R->ts, R->sel.which, n, w->b.tx, w->b.ty,
                              nt < PROBE_IMAGES ? nt : PROBE_IMAGES, NULL, R->phi, &eerr);
    if (rc < 0 && rc != MPL_EINVAL) return mpl_errorf(err, rc, "standardizing on FA's adapted network: %s", eerr.msg);
  }
  R->lambda_max = 0;
  for (int i = 0; i < n; i++) {
    if (R->pf[i] == 0) continue;
    double s = R->phi[i] > MPL__MAGNITUDE_MIN && isfinite(R->phi[i]) ? 1 / R->phi[i] : R->scale[i], r = s / R->scale[i];
    R->scale[i] = s, R->opt.m[i] *= r, R->opt.v[i] *= r * r, R->lmx[i] *= r;
    R->lambda_max = fmax(R->lambda_max, R->lmx[i]);
  }
  return MPL_OK;
}

/* Episode e (0-based) is about to run: the null stage's freeze, and at a stage's first episode
 * its lambda (after the null stage: the path's lambdas, now that lambda_max is measured; in the
 * refit the chosen stage's). */
static int enter_stage(run *R, int e, mpl_err *err) {
  int s = stage_of(R, e), rc = 0;
  R->frozen = R->null_stage && s == 0;
  R->measuring = R->frozen && 2 * (e + 1) > stage_start(R, 1);
  if (R->null_stage && s == 1 && stage_of(R, e - 1) == 0) {
    rc = restandardize(R, err);
    path_lambdas(R);
  }
  if (in_refit(R, s)) R->st[s].lambda = R->st[choose_stage(R)].lambda;   /* the lambda that chose its terms */
  R->opt.cfg.lambda = R->frozen || in_refit(R, s) ? 0 : R->st[s].lambda;
  return rc;
}

/* lambda auto's choice: the path's sparsest stage whose validation accuracy is within one
 * standard error (of its paired difference to the best, at most ONE_SE_CAP) of the path's best;
 * ties go to the larger lambda. Otherwise the only stage. */
static int choose_stage(const run *R) {
  int b = path_best(R), pick = -1, k = R->n_stages - R->refit;
  if (b < 0) return k - 1;
  for (int s = 0; s < k; s++) {
    double mx, my, se;
    if (R->st[s].best < 0) continue;
    mpl__paired(R->st[s].acc, R->st[b].acc, R->cfg->val_tasks, &mx, &my, &se);
    double tol = isfinite(se) ? fmin(se, ONE_SE_CAP) : 0;
    if (R->st[s].best >= R->st[b].best - tol && (pick < 0 || R->st[s].active < R->st[pick].active)) pick = s;
  }
  return pick;
}

/* The stage whose best validated rule is reported: the chosen one, or the refit that trained it
 * on when that validated better. */
static int reported_stage(const run *R) {
  int c = choose_stage(R), f = R->n_stages - 1;
  return R->refit && R->st[f].best > R->st[c].best ? f : c;
}

static void path_table(const run *R, mpl_search_result *res);

/* The verdict on the reported theta (health): its validation against FA's on the same tasks at
 * its own pseudo-gradient rate (1e-3 without one), the failures, the coefficients at a bound. */
static int judge(run *R, mpl_search_result *res, int episodes, mpl_err *err) {
  int n = R->sel.n, V = R->cfg->val_tasks, pg = R->pg, dr = 0, df = 0, nb = 0;
  mpl__health h = {.episodes = episodes, .failed = R->failures, .dead = res->dead, .val_tasks = V,
                   .val_last = R->val_last, .best_episode = res->best_episode};
  const char *bound[64];
  for (int i = 0; i < n; i++) {
    if (R->sel.sign[i] && res->theta[i] == 0 && R->sel.sign[i] * R->grad[i] > 0 && nb < 64)
      bound[nb++] = mpl_termset_name(R->ts, R->sel.which[i]);
  }
  if (!robust(R) && !(R->cfg->dead_guard)) h.failed += res->dead;   /* dead episodes are failures here */
  if (V > 0) {
    double rate = pg >= 0 && res->theta[pg] > 0 ? res->theta[pg] : 1e-3, mr, mf;
    double *fa = malloc((size_t)V * sizeof *fa);
    if (!fa) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    int rc = validate(R, 0, res->theta, R->vacc, &dr, &mr, err);
    if (rc == 0) rc = validate(R, 1, &rate, fa, &df, &mf, err);
    if (rc == 0) mpl__paired(R->vacc, fa, V, &h.val_rule, &h.val_fa, &h.val_se);
    free(fa);
    if (rc < 0) return rc;
    h.val_diverged = dr;
  }
  h.shared_val = R->shared_val || !robust(R);
  h.val_best = NAN;
  for (int s = 0; s < R->n_stages; s++)
    if (R->st[s].best >= 0 && !(R->st[s].best <= h.val_best))
      h.val_best = R->st[s].best, h.val_best_episode = R->st[s].best_episode;
  mpl__health_judge(&h, res->accuracy, episodes, R->cfg->task.m, bound, nb);
  res->healthy = h.healthy, res->val_rule = h.val_rule, res->val_fa = h.val_fa;
  snprintf(res->health, sizeof res->health, "%s", h.text);
  path_table(R, res);
  return MPL_OK;
}

/* lambda auto: the path's table and why its lambda was chosen, after the verdict. */
static void path_table(const run *R, mpl_search_result *res) {
  if (R->n_stages < 2) return;
  size_t k = strlen(res->health);
  mpl__sb s = {res->health + k, sizeof res->health - k, 0};
  int pick = choose_stage(R), b = path_best(R), np = R->n_stages - R->refit, rep = reported_stage(R);
  mpl__sb_printf(&s, "lambda auto: %d stages%s from lambda_max %.4g; chosen %.4g, the sparsest within one SE (at most "
                 "%.2f) of the best validation accuracy\n  %12s %9s %7s\n", np, R->refit ? " and a refit" : "", R->lambda_max,
                 R->st[pick].lambda, ONE_SE_CAP, "lambda", "val. acc.", "active");
  for (int t = 0; t < R->n_stages; t++) {
    char v[32] = "        -", a[16] = "      -";   /* a stage without a validated rule that never diverged */
    if (R->st[t].best >= 0) snprintf(v, sizeof v, "%9.3f", R->st[t].best), snprintf(a, sizeof a, "%7d", R->st[t].active);
    mpl__sb_printf(&s, "  %12.4g %s %s%s%s%s%s\n", R->st[t].lambda, v, a, t == pick ? "  <- chosen" : "",
                   t == b && t != pick ? "  (best)" : "", t == 0 && R->null_stage ? "  (null stage: FA's rate alone)" : "",
                   t < np ? "" : t == rep ? "  (refit: the chosen terms without the penalty)  <- reported"
                                         : "  (refit: the chosen terms without the penalty; the chosen validated better)");
  }
  if (s.len >= s.n) res->health[sizeof res->health - 1] = '\0';
}

/* The rule to report: the chosen stage's best validated theta (robust), or the last (plain). */
static void reported_theta(run *R, mpl_search_result *res) {
  int s = reported_stage(R);
  res->best_episode = R->cfg->episodes;
  res->lambda = R->st[s].lambda;
  if (!robust(R) || !validating(R) || R->st[s].best < 0) return;
  memcpy(res->theta, R->st[s].theta, (size_t)R->sel.n * sizeof *res->theta);
  res->best_episode = R->st[s].best_episode;
}

/* The robust method's state for a checkpoint: kappa, lambda_max, the last validation, the scales
 * and the null stage's lmx (n each), then per stage lambda, best, best_episode, active, theta[n],
 * acc[V]. */
static size_t extra_len(const run *R) {
  return 3 + 2 * (size_t)R->sel.n + (size_t)R->n_stages * (4 + (size_t)R->sel.n + (size_t)R->cfg->val_tasks);
}

static void extra_io(run *R, double *x, int save) {
  size_t k = 0, n = (size_t)R->sel.n, V = (size_t)R->cfg->val_tasks;
#define IO(v) (save ? (void)(x[k++] = (double)(v)) : (void)((v) = x[k++]))
  IO(R->kappa); IO(R->lambda_max); IO(R->val_last);
  for (size_t i = 0; i < n; i++) IO(R->scale[i]);
  for (size_t i = 0; i < n; i++) IO(R->lmx[i]);
  for (int s = 0; s < R->n_stages; s++) {
    stage *S = &R->st[s];
    IO(S->lambda); IO(S->best); IO(S->best_episode); IO(S->active);
    if (save) memcpy(x + k, S->theta, n * sizeof *x), memcpy(x + k + n, S->acc, V * sizeof *x);
    else memcpy(S->theta, x + k, n * sizeof *x), memcpy(S->acc, x + k + n, V * sizeof *x);
    k += n + V;
  }
#undef IO
}

/* The robust method's set-up: the split, scales, FA's workspace, stages, the validation log. */
static int robust_setup(run *R, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  int n = R->sel.n, V = c->val_tasks, rc;
  if (V < 0 || V > 100000) return mpl_errorf(err, MPL_EINVAL, "--val-tasks must be in [0, 100000], got %d", V);
  if (c->validate_every < 0) return mpl_errorf(err, MPL_EINVAL, "--validate-every must be >= 0, got %d", c->validate_every);
  if (c->method != MPL_METHOD_ROBUST && c->method != MPL_METHOD_PLAIN)
    return mpl_errorf(err, MPL_EINVAL, "method: expected robust or plain, got %d", c->method);
  R->every = c->validate_every > 0 ? c->validate_every : mpl__validate_every(c->episodes);
  R->kappa = 1;
  R->val_last = NAN;
  R->scale = malloc(((size_t)n + 1) * sizeof(double)), R->pf = malloc(((size_t)n + 1) * sizeof(double));
  R->phi = malloc(((size_t)n + 1) * sizeof(double)), R->gphi = malloc(((size_t)n + 1) * sizeof(double));
  R->fail_theta = malloc(((size_t)n + 1) * sizeof(double)), R->lmx = calloc((size_t)n + 1, sizeof(double));
  R->vacc = malloc(((size_t)V + 1) * sizeof(double)), R->vdiv = malloc(((size_t)V + 1) * sizeof(int));
  for (int s = 0; s < MAX_STAGES; s++) {
    R->st[s].best = -1;
    R->st[s].theta = calloc((size_t)n + 1, sizeof(double)), R->st[s].acc = calloc((size_t)V + 1, sizeof(double));
    if (!R->st[s].theta || !R->st[s].acc) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  if (!R->scale || !R->pf || !R->phi || !R->gphi || !R->fail_theta || !R->lmx || !R->vacc || !R->vdiv)
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if ((rc = split_data(R, err)) < 0 || (rc = standardize(R, err)) < 0) return rc;
  R->opt.pf = robust(R) ? R->pf : NULL;
  if (V > 0) {
    mpl_net_cfg fa = R->net;
    fa.feedback = MPL_FB_FIXED;
    if (!(R->fa_ts = mpl_termset_new())) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    mpl_expr *pg = mpl_neg(R->fa_ts, mpl_outer(R->fa_ts, mpl_sig(R->fa_ts, MPL_SIG_EPOST), mpl_sig(R->fa_ts, MPL_SIG_PRE)));
    if ((rc = mpl_termset_add(R->fa_ts, "FA", "pseudo-gradient", pg, err)) < 0) return rc;
    for (int k = 0; k < R->n_lanes; k++)
      if ((rc = mpl_episode_new(&fa, R->fa_ts, NULL, 1, &R->w[k].fa_ep, err)) < 0) return rc;
  }
  return MPL_OK;
}

static void robust_teardown(run *R) {
  mpl__dataset_view_free(&R->tview), mpl__dataset_view_free(&R->vview);
  free(R->scale), free(R->pf), free(R->phi), free(R->gphi), free(R->fail_theta), free(R->lmx), free(R->vacc), free(R->vdiv);
  for (int s = 0; s < MAX_STAGES; s++) free(R->st[s].theta), free(R->st[s].acc);
  mpl_termset_free(R->fa_ts);
  if (R->vlog) fclose(R->vlog);
}

/* validation.csv: a fresh header, or (resuming at episode start) the rows up to it kept. */
static int open_vlog(run *R, int start, mpl_err *err) {
  static const char head[] = "episode,lambda,kappa,val_accuracy,val_diverged,active,action\n";
  char path[4200], *text = NULL;
  size_t len = 0;
  if (!R->cfg->out || !validating(R)) return MPL_OK;
  mpl__join(path, sizeof path, R->cfg->out, MPL_RESULTS_VALIDATION);
  if (start > 0) {
    int rc = mpl__read_file(path, (size_t)1 << 30, &text, &len, err);
    if (rc == MPL_ENOTFOUND) mpl_err_clear(err), text = NULL;
    else if (rc < 0) return rc;
  }
  size_t keep = 0;
  if (text && len >= sizeof head - 1 && !memcmp(text, head, sizeof head - 1)) {
    keep = sizeof head - 1;
    for (char *p = text + keep; p < text + len;) {
      char *nl = memchr(p, '\n', (size_t)(text + len - p));
      if (!nl || atoi(p) > start) break;
      keep = (size_t)(nl - text) + 1, p = nl + 1;
    }
  }
  FILE *f = fopen(path, "w");
  if (!f) { free(text); return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno)); }
  if (keep) fwrite(text, 1, keep, f);
  else fputs(head, f);
  free(text);
  R->vlog = f;
  return fflush(f) == 0 ? MPL_OK : mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
}

/* }====== */

/* {====== Guards ====== */

/* The dead-network probe: how much the network's output depends on its input. The mean over
 * output units of the standard deviation of the logits z_L across the query images, for the
 * adapted weights over the same for the initial ones (docs/reliability.md). The adapted
 * network's logits are the episode's own (its query forward pass, the same computation). */
static double logit_spread(const run *R, lane *w, int adapted, int nq) {
  const int L = R->net.n_layers;
  const double *in = w->b.qx;
  double *out = w->act[0], beta = R->net.beta;
  if (adapted) in = mpl__episode_query_logits(w->ep);
  for (int l = 1; l <= L && !adapted; l++) {
    int ni = R->net.sizes[l - 1], no = R->net.sizes[l];
    const double *W = mpl_episode_weights(w->ep, l);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, no, ni, 1.0, in, ni, W, ni, 0.0, out, no);
    if (l < L)
      for (size_t k = 0; k < (size_t)nq * (size_t)no; k++) {
        double bz = beta * out[k];
        out[k] = (fmax(bz, 0) + log1p(exp(-fabs(bz)))) / beta;
      }
    in = out;
    out = out == w->act[0] ? w->act[1] : w->act[0];
  }
  int no = R->net.sizes[L];
  double spread = 0;
  for (int j = 0; j < no; j++) {
    double m = 0, v = 0;
    for (int q = 0; q < nq; q++) m += in[(size_t)q * no + j];
    m /= nq;
    for (int q = 0; q < nq; q++) v += (in[(size_t)q * no + j] - m) * (in[(size_t)q * no + j] - m);
    spread += sqrt(v / nq) / no;
  }
  return spread;
}

static double probe_dead(const run *R, lane *w, int nq) {
  double before = logit_spread(R, w, 0, nq), after = logit_spread(R, w, 1, nq);
  return before > 0 && isfinite(after) ? after / before : 1.0;
}

/* Dead: the adapted network's output hardly depends on its input (spread ratio below 5%) and
 * it classifies the query images no better than chance (accuracy <= 1.5/M). */
#define DEAD_SPREAD 0.05
#define DEAD_ACCURACY 1.5

/* Scale the gradient down to global L2 norm c (if c > 0 and it is longer); its norm. */
static double clip(double *g, int n, double c) {
  double s = 0;
  for (int i = 0; i < n; i++) s += g[i] * g[i];
  s = sqrt(s);
  if (c > 0 && s > c)
    for (int i = 0; i < n; i++) g[i] *= c / s;
  return s;
}

/* }====== */

/* {====== Checkpoints ====== */

/* Write out/file: the state before episode e (e episodes done and logged). */
static int write_state(run *R, int e, const char *file, mpl_err *err) {
  if (!R->cfg->out) return MPL_OK;
  if (R->log && (fflush(R->log) != 0 || fsync(fileno(R->log)) != 0))
    return mpl_errorf(err, MPL_EIO, "%s/log.csv: cannot write: %s", R->cfg->out, strerror(errno));
  char names[8192];
  mpl__sb s = {names, sizeof names, 0};
  for (int i = 0; i < R->sel.n; i++) mpl__sb_printf(&s, "%s%s", i ? " " : "", mpl_termset_name(R->ts, R->sel.which[i]));
  if (s.len >= sizeof names) return mpl_errorf(err, MPL_EINVAL, "too many terms for a checkpoint");
  mpl__ckpt c = {.episode = e, .streak = R->streak, .failures = R->failures, .n = R->sel.n, .terms = names,
                 .theta = R->theta, .m = R->opt.m, .v = R->opt.v, .t = R->opt.t, .good_episode = R->good_episode,
                 .good_theta = R->good_theta, .good_m = R->good_m, .good_v = R->good_v, .good_t = R->good_t};
  double *extra = NULL;
  if (robust(R) || validating(R)) {
    c.n_extra = (int)extra_len(R);
    if (!(c.extra = extra = malloc((size_t)c.n_extra * sizeof *extra))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    extra_io(R, extra, 1);
  }
  char *text = mpl__ckpt_format(&c);
  free(extra);
  if (!text) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  int rc = mpl__write_atomic(R->cfg->out, file, text, err);
  free(text);
  return rc;
}

static int write_checkpoint(run *R, int e, mpl_err *err) { return write_state(R, e, MPL__CKPT_FILE, err); }

/* Restore the state from out/file into R; *start = its episode. MPL_ENOTFOUND if none. */
static int read_state(run *R, int *start, const char *file, mpl_err *err) {
  char path[4200], *text, names[8192];
  size_t len;
  mpl__join(path, sizeof path, R->cfg->out, file);
  int rc = mpl__read_file(path, 1 << 24, &text, &len, err);
  if (rc < 0) return rc;
  mpl__ckpt c;
  rc = mpl__ckpt_parse(text, len, path, &c, err);
  free(text);
  if (rc < 0) return rc;
  mpl__sb s = {names, sizeof names, 0};
  for (int i = 0; i < R->sel.n; i++) mpl__sb_printf(&s, "%s%s", i ? " " : "", mpl_termset_name(R->ts, R->sel.which[i]));
  if (c.n != R->sel.n || strcmp(c.terms, names))
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: holds terms '%.200s', but the configuration gives '%.200s'", path, c.terms,
                    names);
  else if (c.episode > R->cfg->episodes)
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: at episode %d, beyond the configuration's %d episodes", path, c.episode,
                    R->cfg->episodes);
  if (rc == 0) {
    size_t b = (size_t)c.n * sizeof(double);
    memcpy(R->theta, c.theta, b), memcpy(R->opt.m, c.m, b), memcpy(R->opt.v, c.v, b);
    memcpy(R->good_theta, c.good_theta, b), memcpy(R->good_m, c.good_m, b), memcpy(R->good_v, c.good_v, b);
    R->opt.t = c.t, R->good_t = c.good_t, R->good_episode = c.good_episode;
    R->streak = c.streak, R->failures = c.failures;
    *start = c.episode;
    if ((robust(R) || validating(R)) && c.n_extra != (int)extra_len(R))
      rc = mpl_errorf(err, MPL_EFORMAT, "%s: holds %d numbers of the discovery state, the configuration needs %zu", path,
                      c.n_extra, extra_len(R));
    else if (c.n_extra) extra_io(R, c.extra, 0);
  }
  mpl__ckpt_free(&c);
  return rc;
}

static int read_checkpoint(run *R, int *start, mpl_err *err) { return read_state(R, start, MPL__CKPT_FILE, err); }

/* A finished run extended (--resume DIR --episodes N, mpl_search_extend): its final state
 * (MPL__FINAL_FILE) before an episode count it did not reach; config.txt then records the new count
 * (and the validation interval the run used), a comment saying so. */
static int read_final_state(run *R, int *start, mpl_err *err) {
  int rc = read_state(R, start, MPL__FINAL_FILE, err);
  if (rc < 0 || *start >= R->cfg->episodes) return rc;
  return mpl__config_extend(R->cfg->out, *start, R->cfg, err);
}

/* A complete run: its final theta, from theta.tsv (%.17g round-trips). MPL_ENOTFOUND if absent. */
static int read_final_theta(run *R, mpl_err *err) {
  char path[4200], *text;
  size_t len;
  mpl__join(path, sizeof path, R->cfg->out, MPL_RESULTS_THETA);
  int rc = mpl__read_file(path, 1 << 24, &text, &len, err);
  if (rc < 0) return rc;
  char *p = strchr(text, '\n');
  for (int i = 0; rc == 0 && i < R->sel.n; i++) {
    const char *name = mpl_termset_name(R->ts, R->sel.which[i]);
    size_t k = strlen(name);
    char *end;
    if (!p || strncmp(p + 1, name, k) || p[1 + k] != '\t' ||
        (R->theta[i] = strtod(p + 2 + k, &end), end == p + 2 + k || *end != '\t' || !isfinite(R->theta[i])))
      rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: expected term %s and its theta", path, i + 2, name);
    else p = strchr(p + 1, '\n');
  }
  free(text);
  return rc;
}

/* Prepare the results directory, under its lock (held until teardown: a second run into it is
 * refused, so the checks below hold while this run writes): a fresh run (config.txt, log.csv
 * header; refuse to overwrite a run without force), or a resumed one (state from the
 * checkpoint, log cut back). Temporary files of a killed run are removed either way. *start is
 * the first episode to run. */
static int open_outputs(run *R, mpl_search_result *res, double *secs, int *start, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  char path[4200];
  int rc;
  *start = 0;
  if (!c->out) return MPL_OK;
  if (!c->resume && (rc = mpl__make_dirs(c->out, err)) < 0) return rc;
  if ((rc = mpl__dir_lock(c->out, &R->lock_fd, err)) < 0) return rc;
  R->locked = 1;
  mpl__remove_stale(c->out);
  if (!c->resume) {
    mpl__join(path, sizeof path, c->out, MPL_RESULTS_LOG);
    if (!c->force && access(path, F_OK) == 0)
      return mpl_errorf(err, MPL_EIO, "%s already exists: %s holds a run; choose another --out or pass --force",
                        path, c->out);
    static const char *const stale[] = {MPL__CKPT_FILE, MPL__FINAL_FILE, MPL_RESULTS_THETA, MPL_RESULTS_RULE_TXT}; /* an old run's (--force) */
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++) {
      mpl__join(path, sizeof path, c->out, stale[i]);
      if (unlink(path) < 0 && errno != ENOENT)
        return mpl_errorf(err, MPL_EIO, "%s: cannot remove the old run's file: %s", path, strerror(errno));
    }
    if ((rc = write_config(R, 0, err)) < 0) return rc;
    return open_log(R, err);
  }
  if ((rc = write_config(R, 1, err)) < 0) return rc;
  rc = read_checkpoint(R, start, err);
  if (rc == MPL_ENOTFOUND) mpl_err_clear(err), rc = read_final_state(R, start, err);
  if (rc == 0 && *start == c->episodes) rc = MPL_ENOTFOUND; /* finished: as below */
  if (rc == MPL_ENOTFOUND) { /* complete (theta.tsv holds the final theta), or killed before its first checkpoint */
    mpl_err_clear(err);
    rc = read_final_theta(R, err);
    if (rc == 0) *start = c->episodes;
    else if (rc == MPL_ENOTFOUND) mpl_err_clear(err), rc = MPL_OK;
  }
  if (rc < 0) return rc;
  mpl__join(path, sizeof path, c->out, MPL__CKPT_FILE);
  int complete = *start == c->episodes && access(path, F_OK) != 0;
  if ((rc = reopen_log(R, *start, res, secs, err)) < 0) {
    if (complete && rc == MPL_EFORMAT)
      mpl_errorf(err, rc, "%s: a finished run (no checkpoint left) with fewer rows than config.txt's %d episodes: "
                 "it cannot be extended (it kept no final state, %s: it finished before metaplast kept one); start "
                 "a new run", c->out, c->episodes, MPL__FINAL_FILE);
    return rc;
  }
  if (*start == c->episodes) R->failures = R->failures_logged - (c->dead_guard ? 0 : res->dead);
  return MPL_OK;
}

/* }====== */

/* Task b of episode e (one RNG stream per task of a meta-step) on lane w: its statistics in *one,
 * gradient in grad, dead-network probe in *spread. A task sampling error is in err, an episode's in
 * eerr. Only w and the outputs are written: the lanes run tasks side by side. */
static int run_task(run *R, lane *w, int e, int b, const double *theta, mpl_episode_stats *one, double *grad,
                    double *spread, mpl_err *eerr, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  int nt = c->task.m * c->task.k, nq = c->task.m * c->task.q;
  int rc = prepare_task(R, w, R->tds, w->ep, (unsigned long)b, e, err);
  if (rc < 0) return rc;
  rc = mpl_episode_run(w->ep, theta, w->b.tx, w->b.ty, nt, w->b.qx, w->b.qy, nq, one, grad, eerr);
  if (rc < 0) {
    if (c->meta_batch > 1) mpl_err_prefix(eerr, "task %d of %d: ", b + 1, c->meta_batch);
    return rc;
  }
  *spread = probe_dead(R, w, nq);
  return MPL_OK;
}

static int all_finite(const double *x, int n);

/* {====== Distributed meta-steps (comm.h) ======
 * Process r runs tasks [r * chunk, (r + 1) * chunk) of each meta-step, chunk = ceil(B / size),
 * and sends one record per task; process 0 reads the records in task order in place of running
 * the tasks, so the sums of meta_step are those of one process, bit for bit. The threads of one
 * process share its block the same way: each task's record is written by whichever lane runs it,
 * and read in task order (block_run); one process on several threads is the case size = 1. */

typedef struct task_rec {   /* one task's outcome; its gradient (sel.n doubles) follows */
  int in_err;               /* the error is a task sampling error (err), not an episode's (eerr) */
  double spread;
  mpl_episode_stats st;
  mpl_err err;              /* code 0: the task went well */
} task_rec;

static int dist_on(const run *R) { return R->cfg->comm && R->cfg->comm->size > 1; }
static int local_on(const run *R) { return !dist_on(R) && R->n_lanes > 1 && R->cfg->meta_batch > 1; }
static int dist_chunk(const run *R) { return (R->cfg->meta_batch + R->cfg->comm->size - 1) / R->cfg->comm->size; }
static task_rec *dist_rec(char *base, const run *R, int k) { return (task_rec *)(base + (size_t)k * R->rec_size); }

static int dist_setup(run *R, mpl_err *err) {
  const mpl_comm *c = R->cfg->comm;
  R->rec_size = sizeof(task_rec) + (size_t)R->sel.n * sizeof(double);
  if (!dist_on(R)) {   /* one process, several threads: the meta-batch's records */
    if (!(R->recs = calloc((size_t)R->cfg->meta_batch, R->rec_size))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    return MPL_OK;
  }
  size_t chunk = (size_t)dist_chunk(R);
  R->mine = calloc(chunk, R->rec_size);
  if (c->rank == 0) R->recs = calloc(chunk * (size_t)c->size, R->rec_size);
  if (!R->mine || (c->rank == 0 && !R->recs)) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  return MPL_OK;
}

/* Tasks first .. first + count - 1 of episode e, their records in recs[0 .. count - 1]. */
typedef struct block {
  run *R;
  int e, first;
  const double *theta;
  char *recs;
} block;

static int block_task(void *ctx, int k, int i) {
  const block *K = ctx;
  task_rec *t = dist_rec(K->recs, K->R, i);
  mpl_err eerr = {0}, serr = {0};
  int rc = run_task(K->R, &K->R->w[k], K->e, K->first + i, K->theta, &t->st, (double *)(t + 1), &t->spread, &eerr,
                    &serr);
  t->in_err = rc < 0 && serr.code == rc;
  t->err = t->in_err ? serr : eerr;
  t->err.code = rc;
  return rc;
}

/* The block on the lanes, up to the first task that fails (the reader reads no further; tasks after
 * it may have run too). */
static void block_run(run *R, int e, int first, int count, const double *theta, char *recs) {
  block K = {R, e, first, theta, recs};
  mpl__parallel_for(count, R->n_lanes, block_task, &K);
}

/* This process's block of episode e's tasks into R->mine (dist_compute's contract: up to the first
 * that fails). */
static void dist_compute(run *R, int e, const double *theta) {
  int B = R->cfg->meta_batch, chunk = dist_chunk(R), first = R->cfg->comm->rank * chunk;
  block_run(R, e, first, first >= B ? 0 : B - first < chunk ? B - first : chunk, theta, R->mine);
}

/* The header process 0 sends before each meta-step: {1, episode, 0}, or {0, 0, rc} at the end. */
static int dist_header(run *R, int op, int e, int rc, mpl_err *err) {
  const mpl_comm *c = R->cfg->comm;
  int h[3] = {op, e, rc};
  int brc = c->bcast(c->ud, h, sizeof h);
  return brc < 0 ? mpl_errorf(err, brc, "process %d: cannot send the meta-step to the others", c->rank) : MPL_OK;
}

/* Process 0: episode e's tasks on every process, their records in R->recs. */
static int dist_step(run *R, int e, const double *theta, mpl_err *err) {
  const mpl_comm *c = R->cfg->comm;
  int rc = dist_header(R, 1, e, 0, err);
  if (rc < 0) return rc;
  double *th = R->gsum;   /* theta goes from a copy (bcast's buffer is not const); gsum is free here */
  memcpy(th, theta, (size_t)R->sel.n * sizeof *th);
  if ((rc = c->bcast(c->ud, th, (size_t)R->sel.n * sizeof *th)) == 0) {
    dist_compute(R, e, theta);
    rc = c->gather(c->ud, R->mine, (size_t)dist_chunk(R) * R->rec_size, R->recs);
  }
  return rc < 0 ? mpl_errorf(err, rc, "episode %d: cannot exchange the meta-batch with the other processes", e + 1)
                : MPL_OK;
}

/* Process 0: task b's outcome as if it had run here (run_task's contract). */
static int dist_task(run *R, int b, const double *theta, mpl_episode_stats *one, double *spread, mpl_err *eerr,
                     mpl_err *err) {
  const task_rec *t = dist_rec(R->recs, R, b);
  /* mpl_episode_run leaves grad as it was only when it returns before the inner loop (theta not
   * finite, or an error that stops the search): otherwise it writes it, failed or not */
  if (t->err.code == 0 || all_finite(theta, R->sel.n))
    memcpy(R->grad, t + 1, (size_t)R->sel.n * sizeof *R->grad);
  if (t->err.code < 0) {
    *(t->in_err ? err : eerr) = t->err;
    return t->err.code;
  }
  *one = t->st;
  *spread = t->spread;
  return MPL_OK;
}

/* After setup, on every process: process 0 learns every process's setup status and tells all
 * whether to go on, so that a bad configuration or missing data stops all of them cleanly. */
static int dist_start(run *R, int rc, mpl_err *err) {
  const mpl_comm *c = R->cfg->comm;
  mpl_err mine = {0}, *all = c->rank == 0 ? calloc((size_t)c->size, sizeof *all) : NULL;
  if (rc < 0) mine = *err, mine.code = rc;
  if (c->rank == 0 && !all) {
    mpl_errorf(err, MPL_ENOMEM, "out of memory");
    c->fail(c->ud, err);   /* the others would wait */
    return MPL_ENOMEM;
  }
  int grc = c->gather(c->ud, &mine, sizeof mine, all);
  if (c->rank == 0) {
    if (rc == 0 && grc < 0) rc = mpl_errorf(err, grc, "cannot reach the other processes");
    for (int r = 1; rc == 0 && r < c->size; r++)
      if (all[r].code < 0) rc = mpl_errorf(err, all[r].code, "process %d: %s", r, all[r].msg);
    free(all);
  }
  int go = rc;
  if (grc == 0 && c->bcast(c->ud, &go, sizeof go) < 0 && rc == 0) go = rc = MPL_EIO;
  if (rc == 0 && go < 0) rc = mpl_errorf(err, go, "stopped with process 0 (%s; its message says why)", mpl_strerror(go));
  return rc;
}

/* Processes other than 0: run their block of each meta-step until process 0 says it is done;
 * its final status is returned (the message stays on process 0). */
static int dist_serve(run *R, mpl_err *err) {
  const mpl_comm *c = R->cfg->comm;
  for (;;) {
    int h[3], rc = c->bcast(c->ud, h, sizeof h);
    if (rc == 0 && h[0] == 0)
      return h[2] < 0 ? mpl_errorf(err, h[2], "stopped with process 0 (%s; its message says why)", mpl_strerror(h[2]))
                      : MPL_OK;
    if (rc == 0) rc = c->bcast(c->ud, R->theta, (size_t)R->sel.n * sizeof *R->theta);
    if (rc == 0) dist_compute(R, h[1], R->theta);
    if (rc == 0) rc = c->gather(c->ud, R->mine, (size_t)dist_chunk(R) * R->rec_size, NULL);
    if (rc < 0) return mpl_errorf(err, rc, "process %d: cannot exchange the meta-batch with process 0", c->rank);
  }
}

/* }====== */

/* One meta-step: meta_batch tasks of episode e (task 0 alone is the paper's setting), their mean
 * statistics in st and mean gradient in R->grad, and the dead-network probe in R->spread (the
 * mean over tasks). MPL_ENUMERIC if any task diverged. Distributed or on several threads, the
 * tasks run on every process or lane and are summed here in the same order. */
static int meta_step(run *R, int e, const double *theta, mpl_episode_stats *st, mpl_err *eerr, mpl_err *err) {
  int B = R->cfg->meta_batch, n = R->sel.n, rc;
  mpl_episode_stats one;
  memset(st, 0, sizeof *st);
  if (local_on(R)) block_run(R, e, 0, B, theta, R->recs);   /* on the lanes, read in task order below */
  else if (R->recs && (rc = dist_step(R, e, theta, err)) < 0) return rc;
  memset(R->gsum, 0, (size_t)n * sizeof *R->gsum);
  R->spread = 0;
  for (int b = 0; b < B; b++) {
    double spread = 0;
    rc = R->recs ? dist_task(R, b, theta, &one, &spread, eerr, err)
                 : run_task(R, R->w, e, b, theta, &one, R->grad, &spread, eerr, err);
    if (rc < 0) return rc;
    R->spread += spread / B;
    st->loss += one.loss / B;
    st->accuracy += one.accuracy / B;
    for (int l = 0; l <= MPL_MAX_LAYERS; l++) st->angle[l] += one.angle[l] / B, st->ortho[l] += one.ortho[l] / B;
    for (int i = 0; i < n; i++) R->gsum[i] += R->grad[i];
  }
  for (int i = 0; i < n; i++) R->grad[i] = B == 1 ? R->gsum[i] : R->gsum[i] / B;
  st->finite = 1;
  return MPL_OK;
}

static int all_finite(const double *x, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

int mpl_search_run(const mpl_search_cfg *cfg, mpl_search_result *res, mpl_err *err) {
  gsl_set_error_handler_off();   /* the library reports errors; it never aborts */
  /* One episode is one core's work: fixed reduction order. metaplast links OpenBLAS's pthreads build
   * (Debian's default libopenblas0-pthread; --version names it): with one thread each BLAS call runs
   * on its caller's thread, so the lanes' threads (cfg->threads) share the cores without OpenBLAS
   * adding threads of its own. */
  openblas_set_num_threads(1);
  memset(res, 0, sizeof *res);
  run R = {.cfg = cfg};
  int rc = setup(&R, err), e = 0, n = R.sel.n, live = 0;
  if (rc == 0 && local_on(&R)) rc = dist_setup(&R, err);   /* one process, the meta-batch on threads */
  if (dist_on(&R)) {   /* one of several processes sharing the meta-batch (comm.h) */
    if (rc == 0) rc = dist_setup(&R, err);
    live = (rc = dist_start(&R, rc, err)) == 0;
    if (cfg->comm->rank != 0) {   /* a helper: its tasks of each meta-step, for process 0 */
      if (rc == 0) rc = dist_serve(&R, err);
      teardown(&R);
      return rc;
    }
  }
  double *secs = rc == 0 ? malloc((size_t)cfg->episodes * sizeof *secs) : NULL;
  res->accuracy = rc == 0 ? malloc((size_t)cfg->episodes * sizeof(double)) : NULL;
  res->loss = rc == 0 ? malloc((size_t)cfg->episodes * sizeof(double)) : NULL;
  if (rc == 0 && (!secs || !res->accuracy || !res->loss)) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (rc == 0 && (rc = open_outputs(&R, res, secs, &e, err)) < 0) e = 0; /* nothing run, nothing to write */
  if (rc == 0 && e < cfg->episodes) rc = enter_stage(&R, e, err);
  if (rc == 0 && R.log && (rc = open_vlog(&R, e, err)) == 0 && e == 0 && validating(&R))
    rc = validation_point(&R, 0, err);   /* the start: the first anchor */
  int start = e, tty = cfg->progress && isatty(fileno(cfg->progress));
  if (rc == 0 && cfg->resume && cfg->progress)
    fprintf(cfg->progress, "resuming %s at episode %d/%d\n", cfg->out, e + 1, cfg->episodes);
  double t0 = mpl__now();
  for (; rc == 0 && e < cfg->episodes; e++) {
    double t1 = mpl__now();
    mpl_episode_stats st;
    mpl_err eerr = {0};
    const char *status = "ok";
    if ((rc = enter_stage(&R, e, err)) < 0) break;
    int erc = meta_step(&R, e, R.theta, &st, &eerr, err);
    if (erc < 0 && erc != MPL_ENUMERIC && err->code == erc) { rc = erc; break; } /* task sampling */
    if (erc < 0 && erc != MPL_ENUMERIC) { rc = mpl_errorf(err, erc, "episode %d: %s", e + 1, eerr.msg); break; }
    if (erc == MPL_ENUMERIC) {
      status = "diverged";
      st.loss = st.accuracy = NAN;
    } else if (R.spread < DEAD_SPREAD && st.accuracy <= DEAD_ACCURACY / cfg->task.m) {
      status = "dead";
      res->dead++;
      snprintf(eerr.msg, sizeof eerr.msg, "dead network: its output barely depends on the input (spread %.3g of the "
               "initial network's) and query accuracy %.3g is at chance", R.spread, st.accuracy);
    }
    int dead = !strcmp(status, "dead"), failed = erc == MPL_ENUMERIC || (dead && (cfg->dead_guard || robust(&R)));
    secs[e] = mpl__now() - t1;
    res->accuracy[e] = st.accuracy;
    res->loss[e] = st.loss;
    int lrc = log_row(&R, e, &st, R.theta, status, secs[e], err);
    if (lrc < 0) { rc = lrc; break; } /* the state is still that before episode e: checkpointed below */
    if (!failed && dead && cfg->progress)
      fprintf(cfg->progress, "%sepisode %d dead: %s\n", tty ? "\n" : "", e + 1, eerr.msg);
    if (!failed) {
      save_good(&R, e);
      clip(R.grad, n, cfg->clip_grad);
      step(&R, e);
      project(&R, R.theta); /* onto the sign constraints */
      if (!all_finite(R.theta, n) || !all_finite(R.opt.m, n) || !all_finite(R.opt.v, n)) {
        rollback(&R); /* a finite but enormous gradient; the next episode redraws */
        if (cfg->progress) fprintf(cfg->progress, "%sepisode %d: the step made theta non-finite; rolled back\n",
                                   tty ? "\n" : "", e + 1);
      }
      R.streak = 0;
      R.kappa = fmin(1, R.kappa * KAPPA_GROW);
    } else {
      R.failures++;
      memcpy(R.fail_theta, R.theta, (size_t)n * sizeof *R.theta);
      rollback(&R);
      if (robust(&R)) back_off(&R, e);
      if (cfg->progress && (!robust(&R) || R.streak == 0 || tty))
        fprintf(cfg->progress, "%sepisode %d %s: %s; %s\n", tty ? "\n" : "", e + 1, status, eerr.msg,
                robust(&R) ? (R.streak ? "back to the best validated rule, step halved"
                                       : "half way back to the best validated rule, step halved")
                           : "theta rolled back");
      if (++R.streak >= cfg->max_failures)
        rc = mpl_errorf(err, MPL_ENUMERIC, "search stopped at episode %d: %d consecutive episodes failed%s (%s; last: %s)",
                        e + 1, R.streak, robust(&R) ? ", each from the best validated rule with a smaller step" : "",
                        dead ? "dead network" : "diverged", eerr.msg);
    }
    if (rc == 0 && validation_due(&R, e + 1)) rc = validation_point(&R, e + 1, err);
    if (rc == 0 && e + 1 < cfg->episodes && stage_of(&R, e + 1) != stage_of(&R, e)) {
      /* the next lambda starts from this one's best rule, the refit from the chosen stage's */
      stage *prev = &R.st[in_refit(&R, stage_of(&R, e + 1)) ? choose_stage(&R) : stage_of(&R, e)];
      if (robust(&R) && prev->best >= 0) memcpy(R.theta, prev->theta, (size_t)n * sizeof *R.theta);
    }
    progress(&R, e, start, res->accuracy, R.theta, t0);
    if (cfg->on_episode) cfg->on_episode(cfg->on_episode_ud, e + 1, st.accuracy, st.loss);
    int stop = cfg->stop && *cfg->stop;
    if (rc == 0 && e + 1 < cfg->episodes &&
        (stop || (cfg->checkpoint_every > 0 && (e + 1) % cfg->checkpoint_every == 0))) {
      if ((rc = write_checkpoint(&R, e + 1, err)) < 0) { e++; break; }
    }
    if (stop && e + 1 < cfg->episodes) { res->interrupted = 1; e++; break; }
  }
  res->episodes = e;
  res->failures = R.failures;
  if (rc == 0 && e == cfg->episodes && e > start && cfg->out) { /* the state a later --episodes extends from */
    mpl_err ferr = {0};
    if (write_state(&R, e, MPL__FINAL_FILE, &ferr) < 0) rc = ferr.code, *err = ferr;
  }
  if (rc < 0 && e > start && cfg->out && R.log) { /* stopped: keep the state for a resume */
    mpl_err cerr = {0};
    write_checkpoint(&R, e, &cerr);
  }
  if (e > 0 && secs) {
    qsort(secs, (size_t)e, sizeof *secs, cmp_double);
    res->seconds_per_episode = e % 2 ? secs[e / 2] : 0.5 * (secs[e / 2 - 1] + secs[e / 2]);
  }
  if (R.theta && n > 0 && e > 0) {
    mpl_err werr = {0};
    int frc = fill_result(&R, res, R.theta, &werr);
    if (frc == 0 && e == start && cfg->resume) frc = recall(&R, res, &werr);   /* a finished run: as it was */
    else if (frc == 0 && (frc = conclude(&R, res, e, &werr)) == 0) frc = write_outputs(&R, res, &werr);
    if (frc < 0 && rc == 0) rc = frc, *err = werr;
    if (frc == 0 && rc == 0 && e == cfg->episodes && cfg->out) { /* complete: the checkpoint has served */
      char path[4200];
      mpl__join(path, sizeof path, cfg->out, MPL__CKPT_FILE);
      unlink(path);
    }
  }
  if (live) {   /* the helpers stop with this status */
    mpl_err derr = {0};
    dist_header(&R, 0, 0, rc, &derr);
  }
  free(secs);
  teardown(&R);
  return rc;
}

void mpl_search_result_free(mpl_search_result *res) {
  if (!res) return;
  for (int i = 0; i < res->n_terms; i++) {
    if (res->names) free(res->names[i]);
    if (res->formulas) free(res->formulas[i]);
  }
  free(res->names);
  free(res->formulas);
  free(res->theta);
  free(res->theta_final);
  free(res->scale);
  free(res->accuracy);
  free(res->loss);
  memset(res, 0, sizeof *res);
}

/* }====== */

