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

#include "metaplast/terms.h"

#include "internal.h"

void mpl_search_defaults(mpl_search_cfg *cfg) {
  static const int hidden[] = {170, 130, 100, 70};
  memset(cfg, 0, sizeof *cfg);
  cfg->data = "fashion-mnist";
  cfg->task = (mpl_task_cfg){.m = 5, .k = 50, .q = 10, .mode = MPL_SAMPLE_CLEAN};
  cfg->n_hidden = 4;
  memcpy(cfg->hidden, hidden, sizeof hidden);
  cfg->beta = 10;
  cfg->feedback = MPL_FB_FIXED;
  cfg->terms = "paper:F0";
  cfg->episodes = 600;
  cfg->seed = 1;
  mpl_adam_defaults(&cfg->adam);
  cfg->max_failures = 20;
  cfg->meta_batch = 1;
}

/* {====== Helpers ====== */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

typedef struct run {
  const mpl_search_cfg *cfg;
  mpl_dataset *ds;
  mpl_termset *ts;
  mpl_selection sel;
  mpl_episode *ep;
  mpl_net_cfg net;
  mpl_adam opt;
  mpl_task task;
  gsl_rng *rng;
  double *tx, *qx, *grad, *gsum;
  int *ty, *qy;
  FILE *log;
} run;

static int write_config(run *R, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  char text[8192], sizes[512] = "";
  mpl__sb s = {text, sizeof text, 0};
  for (int l = 0, k = 0; l <= R->net.n_layers; l++)
    k += snprintf(sizes + k, sizeof sizes - (size_t)k, "%s%d", l ? "-" : "", R->net.sizes[l]);
  mpl__sb_printf(&s, "# metaplast search configuration (every value in force, defaults included)\n");
  if (c->command) mpl__sb_printf(&s, "command = %s\n", c->command);
  mpl__sb_printf(&s, "data = %s\n", R->ds->name);
  if (c->images) mpl__sb_printf(&s, "images = %s\nlabels = %s\n", c->images, c->labels);
  mpl__sb_printf(&s, "per_class = %zu\nclasses = %d\n", c->per_class, R->ds->n_classes);
  mpl__sb_printf(&s, "sampling = %s\nM = %d\nK = %d\nQ = %d\n", c->task.mode == MPL_SAMPLE_PAPER ? "paper" : "clean",
            c->task.m, c->task.k, c->task.q);
  mpl__sb_printf(&s, "network = %s\nbeta = %.17g\nfeedback = %s\nbp_detach = %d\n", sizes, c->beta,
            c->feedback == MPL_FB_SYMMETRIC ? "symmetric" : "fixed", c->bp_detach);
  mpl__sb_printf(&s, "terms = %s\ninit = %s\nsign = %s\n", c->terms, c->init ? c->init : "", c->sign ? c->sign : "");
  mpl__sb_printf(&s, "episodes = %d\nmeta_batch = %d\nseed = %lu\n", c->episodes, c->meta_batch, c->seed);
  mpl__sb_printf(&s, "lr = %.17g\nbeta1 = %.17g\nbeta2 = %.17g\neps = %.17g\nlambda = %.17g\nl1 = %s\n",
            c->adam.lr, c->adam.beta1, c->adam.beta2, c->adam.eps, c->adam.lambda,
            c->adam.l1 == MPL_L1_PENALTY ? "penalty" : "prox");
  mpl__sb_printf(&s, "zero_tol = %.17g\nmax_failures = %d\n", c->zero_tol, c->max_failures);
  if (s.len >= sizeof text) return mpl_errorf(err, MPL_EINVAL, "configuration too long to record");
  return mpl__write_atomic(c->out, "config.txt", text, err);
}

static int open_log(run *R, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, R->cfg->out, "log.csv");
  if (!R->cfg->force && access(path, F_OK) == 0)
    return mpl_errorf(err, MPL_EIO, "%s already exists: %s holds a run; choose another --out or pass --force",
                      path, R->cfg->out);
  if (!(R->log = fopen(path, "w"))) return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
  fprintf(R->log, "episode,loss,meta_loss,accuracy,active");
  for (int i = 0; i < R->sel.n; i++) fprintf(R->log, ",theta_%s", mpl_termset_name(R->ts, R->sel.which[i]));
  for (int i = 0; i < R->sel.n; i++) fprintf(R->log, ",grad_%s", mpl_termset_name(R->ts, R->sel.which[i]));
  for (int l = 0; l <= R->net.n_layers; l++) fprintf(R->log, ",alpha_%d", l);
  for (int l = 1; l <= R->net.n_layers; l++) fprintf(R->log, ",ortho_%d", l);
  fprintf(R->log, ",seconds\n");
  return fflush(R->log) == 0 ? MPL_OK : mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
}

static int count_active(const double *theta, int n, double tol) {
  int k = 0;
  for (int i = 0; i < n; i++) k += fabs(theta[i]) > tol;
  return k;
}

static int log_row(run *R, int e, const mpl_episode_stats *st, const double *theta, double secs, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  if (!R->log) return MPL_OK;
  fprintf(R->log, "%d,%.17g,%.17g,%.17g,%d", e + 1, st->loss, st->loss + mpl_l1(theta, R->sel.n, c->adam.lambda),
          st->accuracy, count_active(theta, R->sel.n, c->zero_tol));
  for (int i = 0; i < R->sel.n; i++) fprintf(R->log, ",%.17g", theta[i]);
  for (int i = 0; i < R->sel.n; i++) fprintf(R->log, ",%.17g", R->grad[i]);
  for (int l = 0; l <= R->net.n_layers; l++) fprintf(R->log, ",%.17g", st->angle[l]);
  for (int l = 1; l <= R->net.n_layers; l++) fprintf(R->log, ",%.17g", st->ortho[l]);
  fprintf(R->log, ",%.6f\n", secs);
  if (fflush(R->log) != 0 || ferror(R->log))
    return mpl_errorf(err, MPL_EIO, "%s/log.csv: cannot write: %s", c->out, strerror(errno));
  return MPL_OK;
}

/* }====== */

/* {====== The search ====== */

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
  if ((rc = mpl_task_check(R->ds, &c->task, err)) < 0) return rc;
  if ((rc = mpl_task_init(&R->task, &c->task, err)) < 0) return rc;
  if (!(R->ts = mpl_termset_new())) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if ((rc = mpl_terms_parse(c->terms, R->ts, &R->sel, err)) < 0) return rc;
  if (c->init && (rc = mpl_selection_set_init(&R->sel, R->ts, c->init, err)) < 0) return rc;
  if (c->sign && (rc = mpl_selection_set_sign(&R->sel, R->ts, c->sign, err)) < 0) return rc;
  for (int i = 0; i < R->sel.n; i++)
    if (R->sel.sign[i] * R->sel.theta0[i] < 0)
      return mpl_errorf(err, MPL_EINVAL, "--init: term %s starts at %g, against its --sign constraint",
                        mpl_termset_name(R->ts, R->sel.which[i]), R->sel.theta0[i]);
  R->net = (mpl_net_cfg){.n_layers = c->n_hidden + 1, .beta = c->beta, .feedback = c->feedback, .bp_detach = c->bp_detach};
  R->net.sizes[0] = (int)R->ds->dim;
  for (int l = 0; l < c->n_hidden; l++) R->net.sizes[l + 1] = c->hidden[l];
  R->net.sizes[R->net.n_layers] = R->ds->n_classes;
  if ((rc = mpl_episode_new(&R->net, R->ts, R->sel.which, R->sel.n, &R->ep, err)) < 0) return rc;
  if ((rc = mpl_adam_init(&R->opt, R->sel.n, &c->adam, err)) < 0) return rc;
  int nt = c->task.m * c->task.k, nq = c->task.m * c->task.q;
  R->tx = malloc((size_t)nt * R->ds->dim * sizeof *R->tx);
  R->qx = malloc((size_t)nq * R->ds->dim * sizeof *R->qx);
  R->ty = malloc((size_t)nt * sizeof *R->ty);
  R->qy = malloc((size_t)nq * sizeof *R->qy);
  R->grad = malloc((size_t)R->sel.n * sizeof *R->grad);
  R->gsum = malloc((size_t)R->sel.n * sizeof *R->gsum);
  R->rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!R->tx || !R->qx || !R->ty || !R->qy || !R->grad || !R->gsum || !R->rng) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (c->out) {
    if ((rc = mpl__make_dirs(c->out, err)) < 0) return rc;
    if ((rc = open_log(R, err)) < 0) return rc;
    if ((rc = write_config(R, err)) < 0) return rc;
  }
  return MPL_OK;
}

static void teardown(run *R) {
  if (R->log) fclose(R->log);
  mpl_dataset_free(R->ds);
  mpl_selection_free(&R->sel);
  mpl_episode_free(R->ep);
  mpl_termset_free(R->ts);
  mpl_adam_free(&R->opt);
  mpl_task_free(&R->task);
  if (R->rng) gsl_rng_free(R->rng);
  free(R->tx); free(R->qx); free(R->ty); free(R->qy); free(R->grad); free(R->gsum);
}

/* Draw episode e's task and weights (one RNG stream per episode) and gather its images. */
static int prepare_episode(run *R, int e, int task, mpl_err *err) {
  gsl_rng_set(R->rng, mix_seed(R->cfg->seed, (unsigned long)task, (unsigned long)e));
  int rc = mpl_task_sample(R->ds, &R->cfg->task, R->rng, &R->task, err);
  if (rc < 0) return rc;
  mpl_episode_init_weights(R->ep, R->rng);
  int nt = R->task.m * R->task.k, nq = R->task.m * R->task.q;
  size_t d = R->ds->dim;
  for (int i = 0; i < nt; i++) {
    mpl_dataset_image(R->ds, R->task.train[i], R->tx + (size_t)i * d);
    R->ty[i] = R->ds->labels[R->task.train[i]];
  }
  for (int i = 0; i < nq; i++) {
    mpl_dataset_image(R->ds, R->task.query[i], R->qx + (size_t)i * d);
    R->qy[i] = R->ds->labels[R->task.query[i]];
  }
  return MPL_OK;
}

static void progress(const run *R, int e, const double *acc, const double *theta, double t0) {
  FILE *f = R->cfg->progress;
  if (!f) return;
  int N = R->cfg->episodes, tty = isatty(fileno(f)), every = N >= 20 ? N / 20 : 1;
  if (!tty && (e + 1) % every != 0 && e + 1 != N) return;
  double sum = 0;
  int k = 0;
  for (int i = e; i >= 0 && k < 10; i--)
    if (!isnan(acc[i])) sum += acc[i], k++;
  double el = now() - t0, eta = el / (e + 1) * (N - e - 1);
  fprintf(f, "%sepisode %d/%d  acc(avg10) %.3f  active %d/%d  %.3f s/ep  ETA %02d:%02d:%02d%s", tty ? "\r" : "",
          e + 1, N, k ? sum / k : NAN, count_active(theta, R->sel.n, R->cfg->zero_tol), R->sel.n, el / (e + 1),
          (int)(eta / 3600), (int)fmod(eta / 60, 60), (int)fmod(eta, 60), tty ? "  " : "\n");
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
  int rc = s.len < cap ? mpl__write_atomic(R->cfg->out, "theta.tsv", text, err) : mpl_errorf(err, MPL_EINVAL, "too many terms");
  if (rc == 0) {
    size_t need = mpl__rule_text(res, R->cfg, text, cap);
    rc = need < cap ? mpl__write_atomic(R->cfg->out, "rule.txt", text, err) : mpl_errorf(err, MPL_EINVAL, "rule too long");
  }
  free(text);
  return rc;
}

/* One meta-step: meta_batch tasks of episode e (task 0 alone is the paper's setting), their mean
 * statistics in st and mean gradient in R->grad. MPL_ENUMERIC if any task diverged. */
static int meta_step(run *R, int e, const double *theta, mpl_episode_stats *st, mpl_err *eerr, mpl_err *err) {
  const mpl_search_cfg *c = R->cfg;
  int nt = c->task.m * c->task.k, nq = c->task.m * c->task.q, B = c->meta_batch, n = R->sel.n;
  mpl_episode_stats one;
  memset(st, 0, sizeof *st);
  memset(R->gsum, 0, (size_t)n * sizeof *R->gsum);
  for (int b = 0; b < B; b++) {
    int rc = prepare_episode(R, e, b, err);
    if (rc < 0) return rc;
    rc = mpl_episode_run(R->ep, theta, R->tx, R->ty, nt, R->qx, R->qy, nq, &one, R->grad, eerr);
    if (rc < 0) {
      if (B > 1) mpl_err_prefix(eerr, "task %d of %d: ", b + 1, B);
      return rc;
    }
    st->loss += one.loss / B;
    st->accuracy += one.accuracy / B;
    for (int l = 0; l <= MPL_MAX_LAYERS; l++) st->angle[l] += one.angle[l] / B, st->ortho[l] += one.ortho[l] / B;
    for (int i = 0; i < n; i++) R->gsum[i] += R->grad[i];
  }
  for (int i = 0; i < n; i++) R->grad[i] = B == 1 ? R->gsum[i] : R->gsum[i] / B;
  st->finite = 1;
  return MPL_OK;
}

int mpl_search_run(const mpl_search_cfg *cfg, mpl_search_result *res, mpl_err *err) {
  gsl_set_error_handler_off();   /* the library reports errors; it never aborts */
  openblas_set_num_threads(1);   /* one episode is one core's work: fixed reduction order */
  memset(res, 0, sizeof *res);
  run R = {.cfg = cfg};
  int rc = setup(&R, err);
  double *theta = rc == 0 ? malloc((size_t)R.sel.n * sizeof *theta) : NULL;
  double *secs = rc == 0 ? malloc((size_t)cfg->episodes * sizeof *secs) : NULL;
  res->accuracy = rc == 0 ? malloc((size_t)cfg->episodes * sizeof(double)) : NULL;
  res->loss = rc == 0 ? malloc((size_t)cfg->episodes * sizeof(double)) : NULL;
  if (rc == 0 && (!theta || !secs || !res->accuracy || !res->loss)) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (rc == 0) memcpy(theta, R.sel.theta0, (size_t)R.sel.n * sizeof *theta);
  int streak = 0, e = 0;
  double t0 = now();
  for (; rc == 0 && e < cfg->episodes; e++) {
    double t1 = now();
    mpl_episode_stats st;
    mpl_err eerr = {0};
    int erc = meta_step(&R, e, theta, &st, &eerr, err);
    if (erc < 0 && erc != MPL_ENUMERIC && err->code == erc) { rc = erc; break; } /* task sampling */
    if (erc == MPL_ENUMERIC) {
      res->failures++;
      if (cfg->progress)
        fprintf(cfg->progress, "%sepisode %d: %s; theta not updated\n", isatty(fileno(cfg->progress)) ? "\n" : "",
                e + 1, eerr.msg);
      st.loss = st.accuracy = NAN;
      if (++streak >= cfg->max_failures) {
        rc = mpl_errorf(err, MPL_ENUMERIC, "search stopped at episode %d: %d consecutive episodes diverged (last: %s)",
                        e + 1, streak, eerr.msg);
      }
    } else if (erc < 0) {
      rc = mpl_errorf(err, erc, "episode %d: %s", e + 1, eerr.msg);
      break;
    } else {
      streak = 0;
    }
    secs[e] = now() - t1;
    res->accuracy[e] = st.accuracy;
    res->loss[e] = st.loss;
    int lrc = log_row(&R, e, &st, theta, secs[e], err);
    if (lrc < 0) { rc = lrc; e++; break; }
    if (erc == 0) {
      mpl_adam_step(&R.opt, theta, R.grad);
      for (int i = 0; i < R.sel.n; i++) /* projection onto the sign constraints */
        if (R.sel.sign[i] * theta[i] < 0) theta[i] = 0.0;
    }
    progress(&R, e, res->accuracy, theta, t0);
  }
  res->episodes = e;
  if (e > 0 && secs) {
    qsort(secs, (size_t)e, sizeof *secs, cmp_double);
    res->seconds_per_episode = e % 2 ? secs[e / 2] : 0.5 * (secs[e / 2 - 1] + secs[e / 2]);
  }
  if (theta && R.sel.n > 0 && e > 0) {
    mpl_err werr = {0};
    int frc = fill_result(&R, res, theta, &werr);
    if (frc == 0) frc = write_outputs(&R, res, &werr);
    if (frc < 0 && rc == 0) rc = frc, *err = werr;
  }
  free(theta);
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
  free(res->accuracy);
  free(res->loss);
  memset(res, 0, sizeof *res);
}

/* }====== */


