/* metaplast: long online training with a frozen rule (train.h). The run is a chain of episodes
 * of `every` steps, each from the previous one's adapted weights, with the test subset as the
 * query set: the engine's primal path, its query statistics, no tape. See LICENSE for copyright. */
#include "metaplast/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "metaplast/data.h"
#include "metaplast/eval.h"
#include "metaplast/report.h"
#include "metaplast/terms.h"
#include "metaplast/results.h"

#include "readout.h"
#include "util.h"

#define TRAIN_CKPT_MAGIC "metaplast-train-checkpoint 1"

void mpl_train_defaults(mpl_train_cfg *cfg) {
  static const int hidden[] = {170, 130, 100, 70};
  memset(cfg, 0, sizeof *cfg);
  cfg->rate = NAN;
  cfg->feedback = -1;
  cfg->n_hidden = 4;
  memcpy(cfg->hidden, hidden, sizeof hidden);
  cfg->beta = 10;
  cfg->passes = 1;
  cfg->every = 1000;
  cfg->test_size = 1000;
  cfg->checkpoint_every = 10;
  cfg->seed = 1;
}

/* {====== Setup ====== */

typedef struct trainer {
  const mpl_train_cfg *cfg;
  mpl_readout rule;
  mpl_termset *ts;
  mpl_selection sel;
  double *theta;            /* sel.n coefficients */
  mpl_net_cfg net;
  mpl_episode *ep;
  mpl_dataset *tds, *qds;   /* training and test data (the same dataset with holdout) */
  size_t n_train, q0, nq_all; /* training images [0, n_train); test images [q0, q0 + nq_all) of qds */
  int nq;                   /* the test subset's size */
  double *tx, *qx;
  int *ty, *qy;
  size_t *order;            /* the current pass's order */
  int order_pass;           /* the pass `order` belongs to (-1: none) */
  gsl_rng *rng;
  long total;               /* steps of the whole run */
  FILE *csv;
} trainer;

static int check_cfg(const mpl_train_cfg *c, mpl_err *err) {
  int n = !!c->rule + !!c->terms + !!c->baseline;
  if (n != 1)
    return mpl_errorf(err, MPL_EINVAL, "train: give exactly one rule: a RULE (results directory or rule.json), "
                      "--terms with --theta, or --baseline fa|bp|dfa with --rate (%d given)", n);
  if (c->baseline && strcmp(c->baseline, "fa") && strcmp(c->baseline, "bp") && strcmp(c->baseline, "dfa"))
    return mpl_errorf(err, MPL_EINVAL, "--baseline '%s': expected fa, bp or dfa", c->baseline);
  if (c->baseline && !isfinite(c->rate)) return mpl_errorf(err, MPL_EINVAL, "--baseline %s needs --rate X (θ_F0)", c->baseline);
  if (!c->baseline && isfinite(c->rate)) return mpl_errorf(err, MPL_EINVAL, "--rate goes with --baseline fa|bp|dfa");
  if (c->terms && !c->theta) return mpl_errorf(err, MPL_EINVAL, "--terms needs --theta NAME=X,... (every selected term)");
  if (c->theta && !c->terms) return mpl_errorf(err, MPL_EINVAL, "--theta goes with --terms");
  if (c->baseline && c->feedback >= 0) return mpl_errorf(err, MPL_EINVAL, "--feedback: a baseline's feedback is its own (fa fixed, bp symmetric, dfa direct)");
  if (c->feedback >= 0 && c->feedback != MPL_FB_FIXED && c->feedback != MPL_FB_SYMMETRIC && c->feedback != MPL_FB_DIRECT)
    return mpl_errorf(err, MPL_EINVAL, "--feedback: unknown mode %d (expected " MPL_FEEDBACK_NAMES ")", c->feedback);
  if (!c->out) return mpl_errorf(err, MPL_EINVAL, "train: no results directory (--out DIR)");
  if (c->passes < 1) return mpl_errorf(err, MPL_EINVAL, "--passes must be at least 1, got %d", c->passes);
  if (c->every < 1) return mpl_errorf(err, MPL_EINVAL, "--every must be at least 1, got %d", c->every);
  if (c->test_size < 0) return mpl_errorf(err, MPL_EINVAL, "--test-size must be >= 0, got %d", c->test_size);
  if (c->steps < 0 || c->holdout < 0 || c->checkpoint_every < 0)
    return mpl_errorf(err, MPL_EINVAL, "--steps, --holdout and --checkpoint-every must be >= 0");
  if (!(c->beta > 0)) return mpl_errorf(err, MPL_EINVAL, "beta must be positive, got %g", c->beta);
  if (c->n_hidden < 0 || c->n_hidden > MPL_MAX_LAYERS - 1)
    return mpl_errorf(err, MPL_EINVAL, "--hidden: 0 to %d hidden layers, got %d", MPL_MAX_LAYERS - 1, c->n_hidden);
  if (c->holdout && (c->test || c->test_images))
    return mpl_errorf(err, MPL_EINVAL, "--holdout takes the test set from the training data: no --test as well");
  return MPL_OK;
}

/* Every selected term must have its coefficient in spec ("F0=0.01,F2=..."). */
static int theta_names_all(const trainer *T, mpl_err *err) {
  const char *spec = T->cfg->theta;
  for (int i = 0; i < T->sel.n; i++) {
    const char *name = mpl_termset_name(T->ts, T->sel.which[i]);
    size_t k = strlen(name);
    int found = 0;
    for (const char *p = spec; *p && !found; p += strcspn(p, ","), p += *p == ',')
      found = !strncmp(p, name, k) && p[k] == '=';
    if (!found) return mpl_errorf(err, MPL_EINVAL, "--theta '%s': no coefficient for the term %s", spec, name);
  }
  return MPL_OK;
}

/* The feedback of the search that found the rule (fixed if its config has none). */
static int feedback_of_rule(const trainer *T, mpl_feedback *fb, mpl_err *err) {
  const char *v = mpl_readout_config(&T->rule, "feedback");
  *fb = MPL_FB_FIXED;
  if (v && mpl_feedback_parse(v, fb) < 0)
    return mpl_errorf(err, MPL_EFORMAT, "%s: config feedback = '%s': expected fixed, symmetric or direct", T->cfg->rule, v);
  return MPL_OK;
}

static int make_rule(trainer *T, mpl_err *err) {
  const mpl_train_cfg *c = T->cfg;
  int rc;
  T->net.feedback = c->feedback >= 0 ? (mpl_feedback)c->feedback : MPL_FB_FIXED;
  if (c->rule) {
    char notes[2048] = "";
    rc = mpl__rule_load(c->rule, c->final, &T->rule, &T->ts, &T->sel, notes, sizeof notes, NULL, err);
    if (rc == 0 && notes[0] && c->progress) fprintf(c->progress, "train: note: %s", notes);
    if (rc == 0 && c->feedback < 0) rc = feedback_of_rule(T, &T->net.feedback, err);
  } else {
    if (!(T->ts = mpl_termset_new())) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    rc = mpl_terms_parse(c->terms ? c->terms : "paper:F0", T->ts, &T->sel, err);
    if (rc < 0) mpl_err_prefix(err, "%s: ", c->terms ? "--terms" : "baseline");
    if (rc == 0 && c->terms && (rc = mpl_selection_set_init(&T->sel, T->ts, c->theta, err)) < 0)
      mpl_err_prefix(err, "--theta: ");
    if (rc == 0 && c->terms) rc = theta_names_all(T, err);
    if (rc == 0 && c->baseline) {
      T->sel.theta0[0] = c->rate;
      T->net.feedback = !strcmp(c->baseline, "bp") ? MPL_FB_SYMMETRIC : !strcmp(c->baseline, "dfa") ? MPL_FB_DIRECT : MPL_FB_FIXED;
    }
  }
  if (rc < 0) return rc;
  for (int i = 0; i < T->sel.n; i++)
    if (!isfinite(T->sel.theta0[i]))
      return mpl_errorf(err, MPL_EINVAL, "θ of the term %s is %g", mpl_termset_name(T->ts, T->sel.which[i]), T->sel.theta0[i]);
  T->theta = T->sel.theta0;
  return MPL_OK;
}

static int open_one(const char *spec, const char *images, const char *labels, const char *what, mpl_dataset **ds,
                    mpl_err *err) {
  int rc;
  if (images || labels) {
    if (!images || !labels) return mpl_errorf(err, MPL_EINVAL, "%s: images and labels go together", what);
    rc = mpl_dataset_load_idx(images, labels, 0, ds, err);
  } else rc = mpl_dataset_open(spec, 0, ds, err);
  return rc < 0 ? mpl_err_prefix(err, "%s: ", what) : rc;
}

static int open_data(trainer *T, mpl_err *err) {
  const mpl_train_cfg *c = T->cfg;
  const char *data = c->data ? c->data : "fashion-mnist";
  int rc = open_one(data, c->images, c->labels, "training data", &T->tds, err);
  if (rc < 0) return rc;
  T->n_train = T->tds->n;
  if (c->holdout) {
    if ((size_t)c->holdout >= T->tds->n)
      return mpl_errorf(err, MPL_EINVAL, "--holdout %ld: the training data (%s) has only %zu images", c->holdout,
                        T->tds->name, T->tds->n);
    T->n_train -= (size_t)c->holdout;
    T->qds = T->tds, T->q0 = T->n_train, T->nq_all = (size_t)c->holdout;
  } else {
    const char *test = c->test;
    if (!test && !c->test_images && !c->images && !strcmp(data, "fashion-mnist")) test = "fashion-mnist-test";
    if (!test && !c->test_images)
      return mpl_errorf(err, MPL_EINVAL, "no test set for %s: give --test NAME, --test-images/--test-labels or --holdout N",
                        T->tds->name);
    if ((rc = open_one(test, c->test_images, c->test_labels, "test data", &T->qds, err)) < 0) return rc;
    T->nq_all = T->qds->n;
  }
  if (T->qds->dim != T->tds->dim)
    return mpl_errorf(err, MPL_ESHAPE, "the test images have %zu inputs, the training images %zu", T->qds->dim, T->tds->dim);
  int nc = T->qds->n_classes > T->tds->n_classes ? T->qds->n_classes : T->tds->n_classes;
  T->nq = c->test_size == 0 || (size_t)c->test_size > T->nq_all ? (int)T->nq_all : c->test_size;
  T->total = (long)T->n_train * c->passes;
  if (c->steps > 0 && c->steps < T->total) T->total = c->steps;
  T->net.n_layers = c->n_hidden + 1;
  T->net.sizes[0] = (int)T->tds->dim;
  for (int l = 0; l < c->n_hidden; l++) T->net.sizes[l + 1] = c->hidden[l];
  T->net.sizes[c->n_hidden + 1] = nc;
  T->net.beta = c->beta;
  return MPL_OK;
}

static int alloc_buffers(trainer *T, mpl_err *err) {
  size_t d = T->tds->dim, chunk = (size_t)T->cfg->every;
  if ((long)chunk > T->total) chunk = (size_t)(T->total > 0 ? T->total : 1);
  T->tx = malloc(chunk * d * sizeof *T->tx);
  T->ty = malloc(chunk * sizeof *T->ty);
  T->qx = malloc((size_t)T->nq * d * sizeof *T->qx);
  T->qy = malloc((size_t)T->nq * sizeof *T->qy);
  T->order = malloc(T->n_train * sizeof *T->order);
  T->rng = gsl_rng_alloc(gsl_rng_mt19937);
  T->order_pass = -1;
  if (!T->tx || !T->ty || !T->qx || !T->qy || !T->order || !T->rng) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int i = 0; i < T->nq; i++) {
    mpl_dataset_image(T->qds, T->q0 + (size_t)i, T->qx + (size_t)i * d);
    T->qy[i] = T->qds->labels[T->q0 + (size_t)i];
  }
  return MPL_OK;
}

static int setup(trainer *T, mpl_err *err) {
  int rc = check_cfg(T->cfg, err);
  if (rc == 0) rc = make_rule(T, err);
  if (rc == 0) rc = open_data(T, err);
  if (rc == 0) rc = mpl_episode_new(&T->net, T->ts, T->sel.which, T->sel.n, &T->ep, err);
  if (rc == 0) rc = alloc_buffers(T, err);
  if (rc < 0) return rc;
  gsl_rng_set(T->rng, mpl_eval_task_seed(T->cfg->seed, -1));
  mpl_episode_init_weights(T->ep, T->rng);
  return MPL_OK;
}

static void teardown(trainer *T) {
  if (T->csv) fclose(T->csv);
  mpl_episode_free(T->ep);
  mpl_selection_free(&T->sel);
  mpl_termset_free(T->ts);
  if (T->cfg->rule) mpl_readout_free(&T->rule);
  if (T->qds != T->tds) mpl_dataset_free(T->qds);
  mpl_dataset_free(T->tds);
  if (T->rng) gsl_rng_free(T->rng);
  free(T->tx), free(T->ty), free(T->qx), free(T->qy), free(T->order);
}

/* }====== */

/* {====== The run ====== */

/* Steps [s, s + n) of the run into tx/ty: step s is image order_p[s mod n_train] of pass p. */
static void gather(trainer *T, long s, int n) {
  size_t d = T->tds->dim;
  for (int i = 0; i < n; i++, s++) {
    int p = (int)(s / (long)T->n_train);
    if (p != T->order_pass) {
      for (size_t k = 0; k < T->n_train; k++) T->order[k] = k;
      gsl_rng_set(T->rng, mpl_eval_task_seed(T->cfg->seed, p));
      for (size_t k = T->n_train - 1; k > 0; k--) {   /* Fisher-Yates */
        size_t j = gsl_rng_uniform_int(T->rng, k + 1), t = T->order[k];
        T->order[k] = T->order[j], T->order[j] = t;
      }
      T->order_pass = p;
    }
    size_t img = T->order[s % (long)T->n_train];
    mpl_dataset_image(T->tds, img, T->tx + (size_t)i * d);
    T->ty[i] = T->tds->labels[img];
  }
}

/* n online steps from the current weights (none: a test only), then the test subset; the adapted
 * weights become the next chunk's start. */
static int chunk(trainer *T, int n, mpl_episode_stats *st, mpl_err *err) {
  int rc = mpl_episode_run(T->ep, T->theta, T->tx, T->ty, n, T->qx, T->qy, T->nq, st, NULL, err);
  if (rc < 0 || !st->finite) return rc;
  for (int l = 1; l <= T->net.n_layers; l++)
    memcpy(mpl_episode_weights(T->ep, l), mpl_episode_adapted(T->ep, l),
           (size_t)T->net.sizes[l] * (size_t)T->net.sizes[l - 1] * sizeof(double));
  return MPL_OK;
}

/* The whole test set, in blocks of the subset's size: mean accuracy and loss. */
static int test_all(trainer *T, mpl_train_result *res, mpl_err *err) {
  double acc = 0, loss = 0;
  size_t d = T->qds->dim;
  for (size_t b = 0; b < T->nq_all; b += (size_t)T->nq) {
    int n = T->nq_all - b < (size_t)T->nq ? (int)(T->nq_all - b) : T->nq;
    for (int i = 0; i < n; i++) {
      mpl_dataset_image(T->qds, T->q0 + b + (size_t)i, T->qx + (size_t)i * d);
      T->qy[i] = T->qds->labels[T->q0 + b + (size_t)i];
    }
    mpl_episode_stats st;
    int rc = mpl_episode_run(T->ep, T->theta, NULL, NULL, 0, T->qx, T->qy, n, &st, NULL, err);
    if (rc < 0) return rc;
    acc += st.accuracy * n, loss += st.loss * n;
  }
  res->final_accuracy = acc / (double)T->nq_all, res->final_loss = loss / (double)T->nq_all;
  return MPL_OK;
}

static void csv_header(const trainer *T, FILE *f) {
  fprintf(f, "step,pass,accuracy,loss");
  for (int l = 0; l < T->net.n_layers; l++) fprintf(f, ",alpha_%d", l);
  for (int l = 1; l <= T->net.n_layers; l++) fprintf(f, ",ortho_%d", l);
  fprintf(f, ",seconds\n");
}

static void csv_row(const trainer *T, long step, const mpl_episode_stats *st, double seconds) {
  FILE *f = T->csv;
  double pass = T->n_train ? (double)step / (double)T->n_train : 0;
  fprintf(f, "%ld,%.6f,%.17g,%.17g", step, pass, st->accuracy, st->finite ? st->loss : NAN);
  for (int l = 0; l < T->net.n_layers; l++) fprintf(f, ",%.17g", st->angle[l]);
  for (int l = 1; l <= T->net.n_layers; l++) fprintf(f, ",%.17g", st->ortho[l]);
  fprintf(f, ",%.3f\n", seconds);
  fflush(f);
}

static void progress(const trainer *T, long step, long start, const mpl_episode_stats *st, double t0, int last) {
  FILE *f = T->cfg->progress;
  if (!f) return;
  int tty = isatty(fileno(f));
  long tests = T->total / T->cfg->every + 1, k = step / T->cfg->every, every = tests >= 20 ? tests / 20 : 1;
  if (!tty && k % every != 0 && !last) return;
  double el = mpl__now() - t0, per = step > start ? el / (double)(step - start) : 0, eta = per * (double)(T->total - step);
  fprintf(f, "%strain: step %ld/%ld  test acc %.4f  loss %.4f  %.1f µs/step  ETA %02d:%02d:%02d%s", tty ? "\r" : "",
          step, T->total, st->accuracy, st->loss, 1e6 * per, (int)(eta / 3600), (int)fmod(eta / 60, 60),
          (int)fmod(eta, 60), tty && !last ? "  " : "\n");
  fflush(f);
}

/* }====== */

/* {====== The results directory: config.json, checkpoint, train.csv, train.json ====== */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static char *hidden_text(const mpl_train_cfg *c, char *buf, size_t n) {
  mpl__sb s = {buf, n, 0};
  buf[0] = '\0';
  if (!c->n_hidden) mpl__sb_printf(&s, "none");
  for (int l = 0; l < c->n_hidden; l++) mpl__sb_printf(&s, "%s%d", l ? "," : "", c->hidden[l]);
  return buf;
}

static int write_config(const trainer *T, mpl_err *err) {
  const mpl_train_cfg *c = T->cfg;
  char hid[256];
  json_t *doc = json_pack("{s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:s, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:I, "
                          "s:i, s:I, s:i, s:i, s:i, s:I}",
    "format", "metaplast-train-config", "rule", str_or_null(c->rule), "final", c->final,
    "terms", str_or_null(c->terms), "theta", str_or_null(c->theta), "baseline", str_or_null(c->baseline),
    "rate", isfinite(c->rate) ? json_real(c->rate) : json_null(),
    "feedback", c->feedback >= 0 ? json_string(mpl_feedback_name((mpl_feedback)c->feedback)) : json_null(),
    "hidden", hidden_text(c, hid, sizeof hid), "beta", c->beta,
    "data", str_or_null(c->data), "images", str_or_null(c->images), "labels", str_or_null(c->labels),
    "test", str_or_null(c->test), "test_images", str_or_null(c->test_images),
    "test_labels", str_or_null(c->test_labels), "holdout", (json_int_t)c->holdout,
    "passes", c->passes, "steps", (json_int_t)c->steps, "every", c->every, "test_size", c->test_size,
    "checkpoint_every", c->checkpoint_every, "seed", (json_int_t)c->seed);
  return mpl__write_json(c->out, MPL_RESULTS_TRAIN_CONFIG, doc, err);
}

/* A string field of config.json copied into the bump buffer mem (NULL for null or absent). */
static int get_str(json_t *doc, const char *key, const char **out, mpl__sb *mem, const char *path, mpl_err *err) {
  json_t *v = json_object_get(doc, key);
  *out = NULL;
  if (!v || json_is_null(v)) return MPL_OK;
  if (!json_is_string(v)) return mpl_errorf(err, MPL_EFORMAT, "%s: %s: expected a string or null", path, key);
  *out = mem->p + mem->len;
  mpl__sb_printf(mem, "%s%c", json_string_value(v), '\0');
  return MPL_OK;
}

static int get_num(json_t *doc, const char *key, double lo, double hi, double *out, const char *path, mpl_err *err) {
  json_t *v = json_object_get(doc, key);
  if (!v || json_is_null(v)) return MPL_OK;   /* absent: the default */
  double x = json_number_value(v);
  if (!json_is_number(v) || !(x >= lo && x <= hi))
    return mpl_errorf(err, MPL_EFORMAT, "%s: %s: expected a number in [%g, %g]", path, key, lo, hi);
  *out = x;
  return MPL_OK;
}

static int get_hidden(json_t *doc, mpl_train_cfg *c, const char *path, mpl_err *err) {
  const char *s = json_string_value(json_object_get(doc, "hidden"));
  if (!s) return mpl_errorf(err, MPL_EFORMAT, "%s: hidden: expected sizes like \"170,130,100,70\" or \"none\"", path);
  c->n_hidden = 0;
  for (const char *p = s; strcmp(s, "none") && *p; p += *p == ',') {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 1 || v > 100000 || c->n_hidden == MPL_MAX_LAYERS - 1 || (*end && *end != ','))
      return mpl_errorf(err, MPL_EFORMAT, "%s: hidden '%s': expected sizes like \"170,130,100,70\"", path, s);
    c->hidden[c->n_hidden++] = (int)v;
    p = end;
  }
  return MPL_OK;
}

int mpl_train_config_load(const char *dir, mpl_train_cfg *c, char **mem, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, dir, MPL_RESULTS_TRAIN_CONFIG);
  json_error_t je;
  json_t *doc = json_load_file(path, 0, &je);
  if (!doc) return mpl_errorf(err, MPL_EFORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
  size_t cap = 1 << 16;
  mpl__sb sb = {*mem = malloc(cap), cap, 0};
  const char *fmt = json_string_value(json_object_get(doc, "format"));
  int rc = !sb.p ? mpl_errorf(err, MPL_ENOMEM, "out of memory")
           : !fmt || strcmp(fmt, "metaplast-train-config") ? mpl_errorf(err, MPL_EFORMAT, "%s: format: expected \"metaplast-train-config\"", path)
                                                           : MPL_OK;
  static const char *keys[] = {"rule", "terms", "theta", "baseline", "data", "images", "labels", "test",
                               "test_images", "test_labels"};
  const char **dst[] = {&c->rule, &c->terms, &c->theta, &c->baseline, &c->data, &c->images, &c->labels, &c->test,
                        &c->test_images, &c->test_labels};
  for (int i = 0; rc == 0 && i < 10; i++) rc = get_str(doc, keys[i], dst[i], &sb, path, err);
  const char *fb = NULL;
  if (rc == 0) rc = get_str(doc, "feedback", &fb, &sb, path, err);
  if (rc == 0 && sb.len >= cap) rc = mpl_errorf(err, MPL_EFORMAT, "%s: the strings are too long", path);
  mpl_feedback fbm = MPL_FB_FIXED;
  c->feedback = -1;
  if (rc == 0 && fb && (strcmp(fb, "symmetric") && strcmp(fb, "fixed") && strcmp(fb, "direct")))
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: feedback '%s': expected fixed, symmetric or direct", path, fb);
  else if (fb && mpl_feedback_parse(fb, &fbm) == 0)
    c->feedback = (int)fbm;
  double v[9] = {c->final, c->beta, (double)c->holdout, c->passes, (double)c->steps, c->every, c->test_size,
                 c->checkpoint_every, (double)c->seed};
  static const char *nk[] = {"final", "beta", "holdout", "passes", "steps", "every", "test_size",
                             "checkpoint_every", "seed"};
  json_t *f = json_object_get(doc, "final");
  if (json_is_boolean(f)) v[0] = json_is_true(f);
  for (int i = 1; rc == 0 && i < 9; i++) rc = get_num(doc, nk[i], i == 1 ? 1e-300 : 0, i == 8 ? 1.8e19 : 2e9, &v[i], path, err);
  if (rc == 0) rc = get_num(doc, "rate", -HUGE_VAL, HUGE_VAL, &c->rate, path, err);
  if (rc == 0) rc = get_hidden(doc, c, path, err);
  c->final = (int)v[0], c->beta = v[1], c->holdout = (long)v[2], c->passes = (int)v[3], c->steps = (long)v[4];
  c->every = (int)v[5], c->test_size = (int)v[6], c->checkpoint_every = (int)v[7], c->seed = (unsigned long)v[8];
  json_decref(doc);
  return rc;
}

/* checkpoint: the step reached, the rows of train.csv, the seconds spent so far and every layer's
 * weights as exact hex floats (B is drawn again from the seed). */
static int write_checkpoint(const trainer *T, long step, int tests, double seconds, mpl_err *err) {
  size_t total = 0;
  for (int l = 1; l <= T->net.n_layers; l++) total += (size_t)T->net.sizes[l] * (size_t)T->net.sizes[l - 1];
  size_t cap = 256 + total * 26;
  char *text = malloc(cap);
  if (!text) return mpl_errorf(err, MPL_ENOMEM, "out of memory (checkpoint)");
  mpl__sb s = {text, cap, 0};
  mpl__sb_printf(&s, TRAIN_CKPT_MAGIC "\nstep %ld\ntests %d\nseconds %.3f\nweights %zu\n", step, tests, seconds, total);
  for (int l = 1; l <= T->net.n_layers; l++) {
    const double *W = mpl_episode_weights(T->ep, l);
    size_t n = (size_t)T->net.sizes[l] * (size_t)T->net.sizes[l - 1];
    for (size_t i = 0; i < n; i++) mpl__sb_printf(&s, "%a%c", W[i], i + 1 == n ? '\n' : ' ');
  }
  int rc = s.len < cap ? mpl__write_atomic(T->cfg->out, MPL_RESULTS_CHECKPOINT, text, err)
                       : mpl_errorf(err, MPL_ENOMEM, "checkpoint too long");
  free(text);
  return rc;
}

static int read_checkpoint(trainer *T, long *step, int *tests, double *seconds, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, T->cfg->out, MPL_RESULTS_CHECKPOINT);
  uint8_t *buf;
  size_t len;
  int rc = mpl__read_whole(path, &buf, &len, err);
  if (rc < 0) return mpl_err_prefix(err, "--resume: ");
  char *text = realloc(buf, len + 1), *p, *end;
  if (!text) return free(buf), mpl_errorf(err, MPL_ENOMEM, "out of memory");
  text[len] = '\0';
  size_t n = 0, total = 0;
  for (int l = 1; l <= T->net.n_layers; l++) total += (size_t)T->net.sizes[l] * (size_t)T->net.sizes[l - 1];
  if (sscanf(text, TRAIN_CKPT_MAGIC "\nstep %ld\ntests %d\nseconds %lf\nweights %zu\n", step, tests, seconds, &n) != 4 ||
      *step < 0 || *step > T->total || *tests < 1 || n != total || !(p = strstr(text, "weights ")))
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: expected '" TRAIN_CKPT_MAGIC "', step, tests, seconds and weights %zu "
                    "(this network's count)", path, total);
  p = rc == 0 ? p + strcspn(p, "\n") : NULL;
  for (int l = 1; rc == 0 && l <= T->net.n_layers; l++) {
    double *W = mpl_episode_weights(T->ep, l);
    for (size_t i = 0; rc == 0 && i < (size_t)T->net.sizes[l] * (size_t)T->net.sizes[l - 1]; i++, p = end) {
      W[i] = strtod(p, &end);
      if (end == p || !isfinite(W[i])) rc = mpl_errorf(err, MPL_EFORMAT, "%s: layer %d weight %zu: expected a finite number", path, l, i);
    }
  }
  free(text);
  return rc;
}

/* train.csv anew (header), or on resume its header and first `tests` rows kept. */
static int open_csv(trainer *T, int tests, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, T->cfg->out, MPL_RESULTS_TRAIN_CSV);
  if (!tests) {
    if (!(T->csv = fopen(path, "w"))) return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
    csv_header(T, T->csv);
    return MPL_OK;
  }
  uint8_t *buf;
  size_t len, keep = 0;
  int rc = mpl__read_whole(path, &buf, &len, err);
  if (rc < 0) return mpl_err_prefix(err, "--resume: ");
  for (int lines = 0; keep < len && lines < tests + 1; keep++) lines += buf[keep] == '\n';
  FILE *f = fopen(path, "w");
  if (!f) rc = mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
  else if (fwrite(buf, 1, keep, f) != keep) rc = mpl_errorf(err, MPL_EIO, "%s: cannot write", path);
  free(buf);
  T->csv = f;
  return rc;
}

static int start_dir(trainer *T, mpl_err *err) {
  const char *dir = T->cfg->out;
  char path[4200];
  mpl__join(path, sizeof path, dir, MPL_RESULTS_TRAIN_CSV);
  if (access(path, F_OK) == 0)
    return mpl_errorf(err, MPL_EINVAL, "%s already holds a training run (train.csv): resume it with --resume %s, "
                      "or choose another --out", dir, dir);
  int rc = mpl__make_dirs(dir, err);
  if (rc == 0) rc = write_config(T, err);
  return rc;
}

static int write_summary(const trainer *T, const mpl_train_result *res, mpl_err *err) {
  json_t *terms = json_array();
  for (int i = 0; terms && i < T->sel.n; i++)
    json_array_append_new(terms, json_pack("{s:s, s:f}", "name", mpl_termset_name(T->ts, T->sel.which[i]), "theta",
                                           T->theta[i]));
  char net[256];
  mpl__sb s = {net, sizeof net, 0};
  for (int l = 0; l <= T->net.n_layers; l++) mpl__sb_printf(&s, "%s%d", l ? "-" : "", T->net.sizes[l]);
  const mpl_train_cfg *c = T->cfg;
  json_t *doc = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:I, s:i, s:o, s:o, s:o, s:o, s:b, s:I}",
    "rule", c->rule ? c->rule : c->terms ? c->terms : c->baseline, "terms", terms,
    "feedback", mpl_feedback_name(T->net.feedback), "network", net,
    "data", T->tds->name, "test", T->qds->name, "train_images", (json_int_t)T->n_train,
    "test_images", (json_int_t)T->nq_all, "test_subset", T->nq, "steps", (json_int_t)res->steps,
    "tests", res->tests,
    "accuracy", isfinite(res->accuracy) ? json_real(res->accuracy) : json_null(),
    "loss", isfinite(res->loss) ? json_real(res->loss) : json_null(),
    "final_accuracy", isfinite(res->final_accuracy) ? json_real(res->final_accuracy) : json_null(),
    "final_loss", isfinite(res->final_loss) ? json_real(res->final_loss) : json_null(),
    "diverged", res->diverged, "seed", (json_int_t)c->seed);
  return mpl__write_json(c->out, MPL_RESULTS_TRAIN_JSON, doc, err);
}

/* }====== */

/* {====== mpl_train_run ====== */

/* The step and rows to start from: a new directory at step 0, or the checkpoint's. */
static int begin(trainer *T, long *step, int *tests, double *before, mpl_err *err) {
  *step = 0, *tests = 0, *before = 0;
  int rc = T->cfg->resume ? read_checkpoint(T, step, tests, before, err) : start_dir(T, err);
  if (rc == 0) rc = open_csv(T, *tests, err);
  if (rc == 0 && T->cfg->resume && T->cfg->progress)
    fprintf(T->cfg->progress, "train: resuming %s at step %ld/%ld\n", T->cfg->out, *step, T->total);
  return rc;
}

static int finish(trainer *T, mpl_train_result *res, mpl_err *err) {
  res->final_accuracy = res->accuracy, res->final_loss = res->loss;
  int rc = MPL_OK;
  if (!res->diverged && (size_t)T->nq < T->nq_all) rc = test_all(T, res, err);
  if (rc == 0) rc = write_summary(T, res, err);
  char path[4200];
  mpl__join(path, sizeof path, T->cfg->out, MPL_RESULTS_CHECKPOINT);
  if (rc == 0) unlink(path);
  return rc;
}

int mpl_train_run(const mpl_train_cfg *c, mpl_train_result *res, mpl_err *err) {
  gsl_set_error_handler_off();   /* the library reports errors; it never aborts */
  openblas_set_num_threads(1);   /* fixed reduction order: same seed, same numbers */
  memset(res, 0, sizeof *res);
  res->accuracy = res->loss = NAN;
  trainer T = {.cfg = c};
  double t0, before = 0;
  long step = 0, start;
  int tests = 0, rc = setup(&T, err);
  if (rc == 0) rc = begin(&T, &step, &tests, &before, err);
  t0 = mpl__now();   /* training time: loading the data is not counted */
  mpl_episode_stats st = {0};
  if (rc == 0 && tests == 0 && (rc = chunk(&T, 0, &st, err)) == 0) csv_row(&T, 0, &st, 0), tests = 1;
  start = rc == 0 ? step : 0;
  while (rc == 0 && step < T.total && !res->diverged) {
    int n = T.total - step < c->every ? (int)(T.total - step) : c->every;
    gather(&T, step, n);
    if ((rc = chunk(&T, n, &st, err)) < 0) break;
    step += n, tests++;
    res->diverged = !st.finite;
    csv_row(&T, step, &st, before + mpl__now() - t0);
    res->accuracy = st.accuracy, res->loss = st.loss;
    progress(&T, step, start, &st, t0, step == T.total || res->diverged);
    if (step == T.total || res->diverged) break;
    res->interrupted = c->stop && *c->stop;
    if (res->interrupted || (c->checkpoint_every && tests % c->checkpoint_every == 0))
      rc = write_checkpoint(&T, step, tests, before + mpl__now() - t0, err);
    if (res->interrupted) break;
  }
  res->steps = step, res->tests = tests;
  res->seconds = mpl__now() - t0;   /* the steps and their tests, not the whole test set at the end */
  if (rc == 0 && !res->interrupted) rc = finish(&T, res, err);
  teardown(&T);
  return rc;
}

/* }====== */
