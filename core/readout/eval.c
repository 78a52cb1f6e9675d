/* metaplast: evaluating a frozen rule against FA and BP on fresh tasks (eval.h).
 * See LICENSE for copyright. */
#include "metaplast/eval.h"

#include <errno.h>
#include <stdatomic.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "metaplast/data.h"
#include "metaplast/net.h"
#include "metaplast/report.h"
#include "metaplast/search.h"
#include "metaplast/stats.h"
#include "metaplast/terms.h"
#include "metaplast/results.h"

#include "dataio.h"
#include "util.h"
#include "readout.h"
#include "results.h"

void mpl_eval_defaults(mpl_eval_cfg *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->tasks = 100;
  cfg->seed = 1;
  cfg->fa_rate = NAN;
  cfg->resamples = MPL_BOOT_RESAMPLES;
  cfg->level = MPL_BOOT_LEVEL;
}

const char *mpl_eval_method_name(int m) {
  static const char *names[MPL_EVAL_METHODS] = {"rule", "FA", "BP"};
  return m >= 0 && m < MPL_EVAL_METHODS ? names[m] : "?";
}

/* splitmix64 of (seed, t) on a stream of its own (not the search's episode streams). */
unsigned long mpl_eval_task_seed(unsigned long seed, int t) {
  uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15ull ^ 0x65766131ull * 0xD1B54A32D192ED03ull ^
               ((uint64_t)t + 1) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (unsigned long)(z ^ (z >> 31));
}

/* {====== Setup ====== */

/* A frozen rule from a results directory or rule.json (its last iterate with final), rebuilt into
 * a new term set and a selection whose theta0 is the rule's θ; `eval` and `train` load rules so. */
int mpl__rule_load(const char *path, int final, mpl_readout *r, mpl_termset **ts, mpl_selection *sel, char *notes,
                   size_t nn, int *changed, mpl_err *err) {
  int rc = mpl_readout_load(path, r, err);
  if (rc == 0 && final) rc = mpl_readout_use_final(r, err);
  if (rc < 0) return rc;
  if (!(*ts = mpl_termset_new())) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if ((rc = mpl__readout_build(r, *ts, sel, notes, nn, changed, err)) < 0) return mpl_err_prefix(err, "%s: ", path);
  return MPL_OK;
}

/* One worker's workspace: a task, its images and the three methods' episodes (mpl_episode holds an
 * episode's whole state, so each thread needs its own). */
typedef struct eval_worker {
  mpl_task task;
  mpl__task_buf b;          /* the task being run (dataio.h) */
  mpl_episode *ep[MPL_EVAL_METHODS];
  gsl_rng *rng, *wrng;
  int diverged[MPL_EVAL_METHODS];
  int failed;               /* the task that failed here (-1: none), its error in err */
  mpl_err err;
} eval_worker;

typedef struct evaluation {
  const mpl_eval_cfg *cfg;
  mpl_readout rule;
  mpl_termset *ts;
  mpl_selection sel;
  int f0;                 /* index of F0 in ts */
  mpl_dataset *ds;        /* read only while the tasks run */
  mpl_task_cfg task_cfg;
  mpl_net_cfg net;
  int jobs;               /* workers (threads) */
  eval_worker *w;         /* [jobs] */
  mpl_eval_result *res;
  atomic_int done;        /* tasks finished, for the progress lines */
} evaluation;

static const char *cfg_or(const mpl_readout *r, const char *key, const char *dflt) {
  const char *v = mpl_readout_config(r, key);
  return v && v[0] ? v : dflt;
}

/* θ of the term called F0 in r, or NaN. */
static double theta_f0(const mpl_readout *r) {
  for (int i = 0; i < r->n_terms; i++)
    if (!strcmp(r->terms[i].name, "F0")) return r->terms[i].theta;
  return NAN;
}

static int resolve_rate(evaluation *E, mpl_eval_result *res, mpl_err *err) {
  const mpl_eval_cfg *c = E->cfg;
  if (isfinite(c->fa_rate)) {
    res->rate = c->fa_rate;
    snprintf(res->rate_from, sizeof res->rate_from, "given");
    return MPL_OK;
  }
  if (!c->fa) {
    res->rate = theta_f0(&E->rule);
    snprintf(res->rate_from, sizeof res->rate_from, "the rule's own θ_F0");
    if (isfinite(res->rate)) return MPL_OK;
    char names[512] = "";
    for (int i = 0, k = 0; i < E->rule.n_terms && k < (int)sizeof names - 1; i++)
      k += snprintf(names + k, sizeof names - (size_t)k, "%s%s", i ? ", " : "", E->rule.terms[i].name);
    return mpl_errorf(err, MPL_EINVAL, "%s: the rule has no term F0 to give FA and BP their rate (its terms: %s); "
                      "pass a rate (--fa-rate X) or a run with an F0 (--fa RULE)", c->rule, names);
  }
  mpl_readout other;
  int rc = mpl_readout_load(c->fa, &other, err);
  if (rc < 0) return mpl_err_prefix(err, "--fa: ");
  res->rate = theta_f0(&other);
  mpl_readout_free(&other);
  snprintf(res->rate_from, sizeof res->rate_from, "θ_F0 of %s", c->fa);
  return isfinite(res->rate) ? MPL_OK : mpl_errorf(err, MPL_EINVAL, "--fa %s: that rule has no term F0", c->fa);
}

/* The term F0 in ts: the rule's own, else the paper's. */
static int find_f0(evaluation *E, mpl_err *err) {
  for (int i = 0; i < E->sel.n; i++)
    if (!strcmp(mpl_termset_name(E->ts, E->sel.which[i]), "F0")) return E->f0 = E->sel.which[i], MPL_OK;
  mpl_selection one = {0};
  int rc = mpl_terms_parse("paper:F0", E->ts, &one, err);
  if (rc < 0) return mpl_err_prefix(err, "FA/BP baseline: ");
  E->f0 = one.which[0];
  mpl_selection_free(&one);
  return MPL_OK;
}

static int open_data(evaluation *E, mpl_err *err) {
  const mpl_eval_cfg *c = E->cfg;
  const mpl_readout *r = &E->rule;
  if (c->images || c->labels) {
    if (!c->images || !c->labels) return mpl_errorf(err, MPL_EINVAL, "--images and --labels go together");
    return mpl_dataset_load_idx(c->images, c->labels, c->per_class, &E->ds, err);
  }
  if (c->data) return mpl_dataset_open(c->data, c->per_class, &E->ds, err);
  size_t per_class = strtoul(cfg_or(r, "per_class", "0"), NULL, 10);
  const char *im = mpl_readout_config(r, "images"), *lb = mpl_readout_config(r, "labels");
  /* "source" is the --data spec; older runs have only "data", the dataset's name, which ends in
   * "-N" when N images per class were kept */
  char spec[4096];
  snprintf(spec, sizeof spec, "%s", cfg_or(r, "source", cfg_or(r, "data", "fashion-mnist")));
  size_t k = strlen(spec);
  const char *pc = cfg_or(r, "per_class", "0");
  if (!mpl_readout_config(r, "source") && per_class && k > strlen(pc) + 1 && !strcmp(spec + k - strlen(pc), pc) &&
      spec[k - strlen(pc) - 1] == '-')
    spec[k - strlen(pc) - 1] = '\0';
  int rc = im && lb ? mpl_dataset_load_idx(im, lb, per_class, &E->ds, err)
                    : mpl_dataset_open(spec, per_class, &E->ds, err);
  return rc < 0 ? mpl_err_prefix(err, "the rule's dataset: ") : rc;
}

/* An integer configuration value in [lo, hi]. */
static int cfg_int(const evaluation *E, const char *key, int dflt, int lo, int hi, int *out, mpl_err *err) {
  const char *v = mpl_readout_config(&E->rule, key);
  char *end;
  long x = v ? strtol(v, &end, 10) : dflt;
  if (v && (end == v || *end || x < lo || x > hi))
    return mpl_errorf(err, MPL_EFORMAT, "%s: config %s = '%s': expected an integer in [%d, %d]", E->cfg->rule, key,
                      v, lo, hi);
  *out = (int)x;
  return MPL_OK;
}

/* Task shape, network and feedback from the rule's configuration (search defaults if absent). */
static int read_config(evaluation *E, mpl_err *err) {
  const mpl_readout *r = &E->rule;
  mpl_search_cfg d;
  mpl_search_defaults(&d);
  E->task_cfg = d.task;
  const char *sampling = E->cfg->sampling ? E->cfg->sampling : cfg_or(r, "sampling", "clean");
  if (strcmp(sampling, "clean") && strcmp(sampling, "paper"))
    return mpl_errorf(err, MPL_EINVAL, "sampling '%s': expected clean or paper", sampling);
  E->task_cfg.mode = !strcmp(sampling, "paper") ? MPL_SAMPLE_PAPER : MPL_SAMPLE_CLEAN;
  int rc = cfg_int(E, "M", d.task.m, 1, 1 << 20, &E->task_cfg.m, err);
  if (rc == 0) rc = cfg_int(E, "K", d.task.k, 1, 1 << 20, &E->task_cfg.k, err);
  if (rc == 0) rc = cfg_int(E, "Q", d.task.q, 1, 1 << 20, &E->task_cfg.q, err);
  if (rc < 0) return rc;
  E->net = (mpl_net_cfg){.beta = strtod(cfg_or(r, "beta", "10"), NULL)};
  const char *fb = cfg_or(r, "feedback", "fixed");
  if (mpl_feedback_parse(fb, &E->net.feedback) < 0)
    return mpl_errorf(err, MPL_EFORMAT, "%s: config feedback = '%s': expected fixed, symmetric or direct", E->cfg->rule, fb);
  /* "784-170-130-100-70-10": the hidden sizes are the inner ones; input and output come from the data */
  const char *net = cfg_or(r, "network", "784-170-130-100-70-10");
  int sizes[MPL_MAX_LAYERS + 2], n = 0;
  for (const char *p = net; *p && n < MPL_MAX_LAYERS + 2;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 1 << 20 || (*end && *end != '-'))
      return mpl_errorf(err, MPL_EFORMAT, "%s: config network = '%s': expected sizes like 784-170-10", E->cfg->rule, net);
    sizes[n++] = (int)v;
    p = *end ? end + 1 : end;
  }
  if (n < 2 || n > MPL_MAX_LAYERS + 1)
    return mpl_errorf(err, MPL_EFORMAT, "%s: config network = '%s': 2 to %d sizes", E->cfg->rule, net, MPL_MAX_LAYERS + 1);
  E->net.n_layers = n - 1;
  E->net.sizes[0] = (int)E->ds->dim;
  for (int l = 1; l < n - 1; l++) E->net.sizes[l] = sizes[l];
  E->net.sizes[n - 1] = E->ds->n_classes;
  return MPL_OK;
}

static int make_episodes(evaluation *E, eval_worker *W, mpl_err *err) {
  mpl_net_cfg fa = E->net, bp = E->net;
  fa.feedback = MPL_FB_FIXED;
  bp.feedback = MPL_FB_SYMMETRIC;
  int rc = mpl_episode_new(&E->net, E->ts, E->sel.which, E->sel.n, &W->ep[MPL_EVAL_RULE], err);
  if (rc == 0) rc = mpl_episode_new(&fa, E->ts, &E->f0, 1, &W->ep[MPL_EVAL_FA], err);
  if (rc == 0) rc = mpl_episode_new(&bp, E->ts, &E->f0, 1, &W->ep[MPL_EVAL_BP], err);
  return rc;
}

/* The number of workers: jobs (0: every online CPU), at most one per task. */
static int eval_jobs(const mpl_eval_cfg *c) {
  int j = c->jobs > 0 ? c->jobs : mpl__online_cpus();
  return j < c->tasks ? j : c->tasks;
}

static int setup(evaluation *E, mpl_eval_result *res, mpl_err *err) {
  const mpl_eval_cfg *c = E->cfg;
  if (!c->rule) return mpl_errorf(err, MPL_EINVAL, "eval: no rule given");
  if (c->tasks < 1) return mpl_errorf(err, MPL_EINVAL, "--tasks must be at least 1, got %d", c->tasks);
  if (c->jobs < 0 || c->jobs > 4096) return mpl_errorf(err, MPL_EINVAL, "--jobs must be in [0, 4096], got %d", c->jobs);
  if (c->resamples < 1 || !(c->level > 0 && c->level < 1))
    return mpl_errorf(err, MPL_EINVAL, "bootstrap: %d resamples at level %g (need >= 1 and (0, 1))", c->resamples, c->level);
  int rc = mpl__rule_load(c->rule, c->final, &E->rule, &E->ts, &E->sel, res->notes, sizeof res->notes, &res->changed,
                          err);
  if (rc < 0) return rc;
  if ((rc = resolve_rate(E, res, err)) < 0 || (rc = find_f0(E, err)) < 0) return rc;
  if ((rc = open_data(E, err)) < 0 || (rc = read_config(E, err)) < 0) return rc;
  snprintf(res->dataset, sizeof res->dataset, "%s", E->ds->name);
  E->jobs = eval_jobs(c);
  if (!(E->w = calloc((size_t)E->jobs, sizeof *E->w))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int j = 0; j < E->jobs; j++) {
    eval_worker *W = &E->w[j];
    if ((rc = mpl__task_setup(E->ds, &E->task_cfg, &W->task, &W->b, err)) < 0) return rc;
    if ((rc = make_episodes(E, W, err)) < 0) return rc;
    W->rng = gsl_rng_alloc(gsl_rng_mt19937);
    W->wrng = gsl_rng_alloc(gsl_rng_mt19937);
    W->failed = -1;
    if (!W->rng || !W->wrng) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  res->tasks = c->tasks;
  for (int m = 0; m < MPL_EVAL_METHODS; m++) res->acc[m] = malloc((size_t)c->tasks * sizeof *res->acc[m]);
  if (!res->acc[0] || !res->acc[1] || !res->acc[2]) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  return MPL_OK;
}

static void teardown(evaluation *E) {
  for (int j = 0; E->w && j < E->jobs; j++) {
    eval_worker *W = &E->w[j];
    for (int m = 0; m < MPL_EVAL_METHODS; m++) mpl_episode_free(W->ep[m]);
    mpl_task_free(&W->task);
    if (W->rng) gsl_rng_free(W->rng);
    if (W->wrng) gsl_rng_free(W->wrng);
    mpl__task_buf_free(&W->b);
  }
  free(E->w);
  mpl_selection_free(&E->sel);
  mpl_termset_free(E->ts);
  mpl_readout_free(&E->rule);
  mpl_dataset_free(E->ds);
}

/* }====== */

/* {====== The evaluation ====== */

static int draw_task(evaluation *E, eval_worker *W, int t, mpl_err *err) {
  gsl_rng_set(W->rng, mpl_eval_task_seed(E->cfg->seed, t));
  int rc = mpl_task_sample(E->ds, &E->task_cfg, W->rng, &W->task, err);
  if (rc < 0) return rc;
  mpl_task_gather(E->ds, &W->task, W->b.tx, W->b.ty, W->b.qx, W->b.qy);
  return MPL_OK;
}

/* Method m on the worker's task from the weights drawn by a copy of the task's generator. */
static int run_method(eval_worker *W, int m, const double *theta, double *acc, mpl_err *err) {
  mpl_episode_stats st;
  mpl_err eerr = {0};
  gsl_rng_memcpy(W->wrng, W->rng);
  mpl_episode_init_weights(W->ep[m], W->wrng);
  int nt = W->task.m * W->task.k, nq = W->task.m * W->task.q;
  int rc = mpl_episode_run(W->ep[m], theta, W->b.tx, W->b.ty, nt, W->b.qx, W->b.qy, nq, &st, NULL, &eerr);
  /* without a gradient, a diverged episode still returns MPL_OK, with st.finite = 0 */
  if (rc == MPL_ENUMERIC || (rc == 0 && !st.finite)) return *acc = NAN, W->diverged[m]++, MPL_OK;
  *acc = st.accuracy;
  if (rc < 0) *err = eerr;
  return rc;
}

/* Task t on worker w (mpl__parallel_for): its accuracies go to res->acc[.][t], whichever worker
 * runs it; the worker's divergence counts are summed afterwards. */
static int run_eval_task(void *ctx, int w, int t) {
  evaluation *E = ctx;
  eval_worker *W = &E->w[w];
  const mpl_eval_cfg *c = E->cfg;
  mpl_err err = {0};
  int rc = draw_task(E, W, t, &err);
  for (int m = 0; rc == 0 && m < MPL_EVAL_METHODS; m++)
    rc = run_method(W, m, m == MPL_EVAL_RULE ? E->sel.theta0 : &E->res->rate, &E->res->acc[m][t], &err);
  if (rc < 0) {   /* a worker stops at its first failure (no further task is claimed) */
    W->failed = t, W->err = err;
    return mpl_err_prefix(&W->err, "task %d: ", t + 1);
  }
  int done = atomic_fetch_add(&E->done, 1) + 1, every = c->tasks >= 10 ? c->tasks / 10 : 1;
  if (c->progress && done % every == 0) fprintf(c->progress, "eval: task %d/%d\n", done, c->tasks), fflush(c->progress);
  return MPL_OK;
}

/* All tasks on E->jobs workers; the first failing task's error (in task order), as one worker would. */
static int run_tasks(evaluation *E, mpl_eval_result *res, mpl_err *err) {
  int first = mpl__parallel_for(E->cfg->tasks, E->jobs, run_eval_task, E);
  for (int j = 0; j < E->jobs; j++) {
    if (first < E->cfg->tasks && E->w[j].failed == first) return *err = E->w[j].err, err->code;
    for (int m = 0; m < MPL_EVAL_METHODS; m++) res->diverged[m] += E->w[j].diverged[m];
  }
  return MPL_OK;
}

static void summarise(const mpl_eval_cfg *c, mpl_eval_result *res) {
  for (int m = 0; m < MPL_EVAL_METHODS; m++) {
    res->mean[m] = res->lo[m] = res->hi[m] = NAN;
    if (res->diverged[m] < res->tasks)
      mpl_bootstrap_mean(res->acc[m], res->tasks, c->resamples, c->level, c->seed, &res->mean[m], &res->lo[m],
                         &res->hi[m], NULL);
  }
}

static int write_csv(const mpl_eval_result *res, unsigned long seed, const char *dir, mpl_err *err) {
  size_t cap = 64 + (size_t)res->tasks * 96;
  char *text = malloc(cap);
  if (!text) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  mpl__sb s = {text, cap, 0};
  mpl__sb_printf(&s, "task,task_seed,rule,fa,bp\n");
  for (int t = 0; t < res->tasks; t++)
    mpl__sb_printf(&s, "%d,%lu,%.17g,%.17g,%.17g\n", t + 1, mpl_eval_task_seed(seed, t), res->acc[0][t], res->acc[1][t], res->acc[2][t]);
  int rc = s.len < cap ? mpl__write_atomic(dir, MPL_RESULTS_EVAL_CSV, text, err) : mpl_errorf(err, MPL_ENOMEM, "eval.csv too long");
  free(text);
  return rc;
}

static json_t *json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int write_json(const mpl_eval_cfg *c, const mpl_eval_result *res, const evaluation *E, const char *dir,
                      mpl_err *err) {
  json_t *methods = json_array();
  static const char *feedback[] = {NULL, "fixed", "symmetric"};
  for (int m = 0; methods && m < MPL_EVAL_METHODS; m++)
    json_array_append_new(methods, json_pack("{s:s, s:s, s:o, s:o, s:o, s:i}", "method", mpl_eval_method_name(m),
      "feedback", m ? feedback[m] : mpl_feedback_name(E->net.feedback),
      "mean", json_num(res->mean[m]), "lo", json_num(res->lo[m]), "hi", json_num(res->hi[m]),
      "diverged", res->diverged[m]));
  json_t *doc = json_pack("{s:s, s:s, s:i, s:I, s:f, s:s, s:{s:i, s:i, s:i, s:s}, s:f, s:i, s:o}",
    "rule", c->rule, "dataset", res->dataset, "tasks", res->tasks, "seed", (json_int_t)c->seed,
    "rate", res->rate, "rate_from", res->rate_from,
    "task", "M", E->task_cfg.m, "K", E->task_cfg.k, "Q", E->task_cfg.q, "sampling",
    E->task_cfg.mode == MPL_SAMPLE_PAPER ? "paper" : "clean",
    "level", c->level, "resamples", c->resamples, "methods", methods);
  return mpl__write_json(dir, MPL_RESULTS_EVAL_JSON, doc, err);
}

int mpl__write_json(const char *dir, const char *file, json_t *doc, mpl_err *err) {
  char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(doc);
  if (!text) return mpl_errorf(err, MPL_ENOMEM, "out of memory (%s)", file);
  size_t k = strlen(text);
  char *nl = realloc(text, k + 2);
  if (nl) text = nl, strcpy(text + k, "\n");
  int rc = mpl__write_atomic(dir, file, text, err);
  free(text);
  return rc;
}

int mpl_eval_run(const mpl_eval_cfg *c, mpl_eval_result *res, mpl_err *err) {
  gsl_set_error_handler_off();   /* the library reports errors; it never aborts */
  /* Fixed reduction order: same seed, same numbers. metaplast links OpenBLAS's pthreads build
   * (Debian's default libopenblas0-pthread; --version names it): with one thread each BLAS call
   * runs on its caller's thread, so the workers below, each on its own task, share the cores
   * without OpenBLAS adding threads of its own. */
  openblas_set_num_threads(1);
  memset(res, 0, sizeof *res);
  evaluation E = {.cfg = c, .res = res};
  atomic_init(&E.done, 0);
  int rc = setup(&E, res, err);
  if (rc == 0) rc = run_tasks(&E, res, err);
  if (rc == 0) summarise(c, res);
  if (rc == 0 && c->out) {
    rc = mpl__make_dirs(c->out, err);
    if (rc == 0) rc = write_csv(res, c->seed, c->out, err);
    if (rc == 0) rc = write_json(c, res, &E, c->out, err);
  }
  teardown(&E);
  return rc;
}

void mpl_eval_result_free(mpl_eval_result *res) {
  if (!res) return;
  for (int m = 0; m < MPL_EVAL_METHODS; m++) free(res->acc[m]);
  memset(res, 0, sizeof *res);
}

size_t mpl_eval_table(const mpl_eval_result *res, const mpl_eval_cfg *c, char *buf, size_t n) {
  mpl__sb s = {buf, n, 0};
  if (n) buf[0] = '\0';
  mpl__sb_printf(&s, "%s on %s: %d tasks, seed %lu; FA and BP rate %.6g (%s)\n", c->rule, res->dataset, res->tasks,
                 c->seed, res->rate, res->rate_from);
  /* the verdict first: diverged tasks are left out of the means, so they are stated here */
  int dr = res->diverged[MPL_EVAL_RULE];
  if (dr > 0)
    mpl__sb_printf(&s, "verdict: UNHEALTHY: the rule diverged on %d of %d tasks (left out of its mean below)\n", dr,
                   res->tasks);
  else if (!(res->lo[MPL_EVAL_RULE] > res->hi[MPL_EVAL_FA]) && !(res->mean[MPL_EVAL_RULE] >= res->mean[MPL_EVAL_FA]))
    mpl__sb_printf(&s, "verdict: the rule does worse than FA on these tasks (%.4f against %.4f): not a discovery\n",
                   res->mean[MPL_EVAL_RULE], res->mean[MPL_EVAL_FA]);
  else if (res->lo[MPL_EVAL_RULE] > res->hi[MPL_EVAL_FA])
    mpl__sb_printf(&s, "verdict: the rule beats FA (intervals disjoint); no task diverged\n");
  else
    mpl__sb_printf(&s, "verdict: the rule is not significantly better than FA (intervals overlap); no task diverged\n");
  char head[32];
  snprintf(head, sizeof head, "%g%% interval", 100 * c->level);
  mpl__sb_printf(&s, "%-6s %9s  %-22s %s\n", "method", "accuracy", head, "diverged");
  for (int m = 0; m < MPL_EVAL_METHODS; m++) {
    char ci[64];
    snprintf(ci, sizeof ci, "[%.4f, %.4f]", res->lo[m], res->hi[m]);
    mpl__sb_printf(&s, "%-6s %9.4f  %-22s %d\n", mpl_eval_method_name(m), res->mean[m], ci, res->diverged[m]);
  }
  mpl__sb_printf(&s, "accuracy: mean query accuracy over the tasks; interval: %g%% percentile bootstrap, %d resamples\n",
                 100 * c->level, c->resamples);
  return s.len;
}

/* }====== */
