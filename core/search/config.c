/* metaplast: a search's settings: their defaults, and the configuration a results directory
 * records (config.txt): written by a run, checked when it resumes, read back, compared, extended.
 * See LICENSE for copyright. */
#include "config.h"
#include "metaplast/results.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {====== Defaults ====== */

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
  cfg->dead_guard = 0; /* plain method: detected and logged, failing the episode opt-in; robust: always a failure */
  cfg->method = MPL_METHOD_ROBUST;
  cfg->lambda_auto = 1;   /* robust: lambda chosen on a path by validation (docs/discovery.md) */
  cfg->val_tasks = 16;
  cfg->checkpoint_every = 10;
}

/* max(5, episodes / 20): the validation interval of a run whose validate_every is 0. */
int mpl__validate_every(int episodes) { return episodes / 20 > 5 ? episodes / 20 : 5; }

/* }====== */

/* {====== Writing config.txt ====== */

int mpl__config_write(const mpl_search_cfg *c, const mpl__config_facts *f, int check, mpl_err *err) {
  char text[8192];
  mpl__sb s = {text, sizeof text, 0};
  const char *strs[] = {c->data, c->images, c->labels, c->terms, c->init, c->sign};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
    if (strs[i] && strpbrk(strs[i], "\r\n"))
      return mpl_errorf(err, MPL_EINVAL, "setting '%.100s' holds a line break: cannot be recorded in config.txt", strs[i]);
  if (f->signs_len >= sizeof text) return mpl_errorf(err, MPL_EINVAL, "configuration too long to record");
  mpl__sb_printf(&s, "# metaplast search configuration (every value in force, defaults included)\n");
  if (c->command) {
    mpl__sb_printf(&s, "command = ");
    for (const char *p = c->command; *p; p++) mpl__sb_printf(&s, "%c", *p == '\n' || *p == '\r' ? ' ' : *p);
    mpl__sb_printf(&s, "\n");
  }
  mpl__sb_printf(&s, "data = %s\n", f->data);
  if (c->images) mpl__sb_printf(&s, "images = %s\nlabels = %s\n", c->images, c->labels);
  else mpl__sb_printf(&s, "source = %s\n", c->data);
  mpl__sb_printf(&s, "per_class = %zu\nclasses = %d\n", c->per_class, f->classes);
  mpl__sb_printf(&s, "sampling = %s\nM = %d\nK = %d\nQ = %d\n", c->task.mode == MPL_SAMPLE_PAPER ? "paper" : "clean",
            c->task.m, c->task.k, c->task.q);
  mpl__sb_printf(&s, "network = %s\nbeta = %.17g\nfeedback = %s\nbp_detach = %d\n", f->network, c->beta,
            mpl_feedback_name(c->feedback), c->bp_detach);
  mpl__sb_printf(&s, "terms = %s\ninit = %s\nsign = %s\n", c->terms, c->init ? c->init : "", c->sign ? c->sign : "");
  mpl__sb_printf(&s, "# sign constraints in force (declared by the terms, then --sign):");
  mpl__sb_printf(&s, "%s%s\n", f->signs, f->signs[0] ? "" : " none");
  mpl__sb_printf(&s, "episodes = %d\nmeta_batch = %d\nseed = %lu\n", c->episodes, c->meta_batch, c->seed);
  mpl__sb_printf(&s, "lr = %.17g\nbeta1 = %.17g\nbeta2 = %.17g\neps = %.17g\nlambda = %.17g\nl1 = %s\n",
            c->adam.lr, c->adam.beta1, c->adam.beta2, c->adam.eps, c->adam.lambda,
            c->adam.l1 == MPL_L1_PENALTY ? "penalty" : "prox");
  mpl__sb_printf(&s, "zero_tol = %.17g\nmax_failures = %d\n", c->zero_tol, c->max_failures);
  mpl__sb_printf(&s, "clip_grad = %.17g\nclip_rms = %.17g\ndead_guard = %s\ncheckpoint_every = %d\n", c->clip_grad,
                 c->adam.clip_rms, c->dead_guard ? "on" : "off", c->checkpoint_every);
  mpl__sb_printf(&s, "method = %s\nlambda_auto = %s\nval_tasks = %d\nvalidate_every = %d\n",
                 c->method == MPL_METHOD_PLAIN ? "plain" : "robust", c->lambda_auto ? "on" : "off", c->val_tasks,
                 c->validate_every);
  if (s.len >= sizeof text) return mpl_errorf(err, MPL_EINVAL, "configuration too long to record");
  if (!check) return mpl__write_atomic(c->out, MPL_RESULTS_CONFIG, text, err);
  /* resuming: the recorded facts the configuration does not set (the data's name, its classes,
   * the network's input and output widths) must still hold */
  char path[4200], *old;
  size_t len;
  mpl__join(path, sizeof path, c->out, MPL_RESULTS_CONFIG);
  int rc = mpl__read_file(path, 1 << 20, &old, &len, err);
  if (rc < 0) return rc;
  static const char *const facts[] = {"\ndata = ", "\nclasses = ", "\nnetwork = "};
  for (size_t i = 0; rc == 0 && i < sizeof facts / sizeof *facts; i++) {
    const char *a = strstr(text, facts[i]), *b = strstr(old, facts[i]);
    size_t na = a ? strcspn(a + 1, "\n") : 0, nb = b ? strcspn(b + 1, "\n") : 0;
    if (!a || !b || na != nb || memcmp(a, b, na + 1))
      rc = mpl_errorf(err, MPL_EINVAL, "%s: '%.*s' but the data now gives '%.*s': cannot resume", path, (int)nb,
                      b ? b + 1 : "", (int)na, a ? a + 1 : "");
  }
  free(old);
  return rc;
}

/* }====== */

/* {====== Reading config.txt ====== */

/* One line of the file, split in place into key and value. */
typedef struct kv { const char *path; int line; char *key, *val; } kv;

static int bad_value(mpl_err *err, const kv *p, const char *what) {
  return mpl_errorf(err, MPL_EFORMAT, "%s:%d: %s = '%.200s': %s", p->path, p->line, p->key, p->val, what);
}

static int get_long(const kv *p, long lo, long hi, long *out, mpl_err *err) {
  char *end;
  errno = 0;
  long v = strtol(p->val, &end, 10);
  if (end == p->val || *end || errno) return bad_value(err, p, "not an integer");
  if (v < lo || v > hi) {
    char what[96];
    snprintf(what, sizeof what, "out of range [%ld, %ld]", lo, hi);
    return bad_value(err, p, what);
  }
  *out = v;
  return MPL_OK;
}

static int get_int(const kv *p, long lo, long hi, int *out, mpl_err *err) {
  long v;
  int rc = get_long(p, lo, hi, &v, err);
  if (rc == 0) *out = (int)v;
  return rc;
}

static int get_double(const kv *p, double lo, double hi, double *out, mpl_err *err) {
  char *end;
  double v = strtod(p->val, &end);
  if (end == p->val || *end) return bad_value(err, p, "not a number");
  if (!(v >= lo && v <= hi)) {
    char what[96];
    snprintf(what, sizeof what, "out of range [%g, %g]", lo, hi);
    return bad_value(err, p, what);
  }
  *out = v;
  return MPL_OK;
}

/* "784-170-130-100-70-10": the hidden sizes are the inner numbers. */
static int get_network(const kv *p, mpl_search_cfg *c, mpl_err *err) {
  int sizes[MPL_MAX_LAYERS + 2], n = 0;
  const char *s = p->val;
  for (;;) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno || v < 1 || v > 1000000 || (*end && *end != '-'))
      return bad_value(err, p, "expected layer sizes such as 784-170-10");
    if (n == MPL_MAX_LAYERS + 1) return bad_value(err, p, "too many layers");
    sizes[n++] = (int)v;
    if (!*end) break;
    s = end + 1;
  }
  if (n < 2) return bad_value(err, p, "expected at least input and output sizes");
  c->n_hidden = n - 2;
  for (int i = 0; i < n - 2; i++) c->hidden[i] = sizes[i + 1];
  return MPL_OK;
}

static int get_choice(const kv *p, const char *a, const char *b, int *out, mpl_err *err) {
  if (!strcmp(p->val, a)) *out = 0;
  else if (!strcmp(p->val, b)) *out = 1;
  else {
    char what[128];
    snprintf(what, sizeof what, "expected %s or %s", a, b);
    return bad_value(err, p, what);
  }
  return MPL_OK;
}

/* The keys mpl__config_write writes, in its order. */
enum { K_COMMAND, K_DATA, K_SOURCE, K_IMAGES, K_LABELS, K_PERCLASS, K_CLASSES, K_SAMPLING, K_M, K_K, K_Q, K_NETWORK,
       K_BETA, K_FEEDBACK, K_DETACH, K_TERMS, K_INIT, K_SIGN, K_EPISODES, K_MBATCH, K_SEED, K_LR, K_B1, K_B2, K_EPS,
       K_LAMBDA, K_L1, K_ZTOL, K_MAXFAIL, K_CLIP, K_CLIPRMS, K_DEAD, K_CKPT, K_METHOD, K_LAUTO, K_VTASKS, K_VEVERY, K_NKEYS };
static const char *const keys[K_NKEYS] = {
  "command", "data", "source", "images", "labels", "per_class", "classes", "sampling", "M", "K", "Q", "network",
  "beta", "feedback", "bp_detach", "terms", "init", "sign", "episodes", "meta_batch", "seed", "lr", "beta1", "beta2",
  "eps", "lambda", "l1", "zero_tol", "max_failures", "clip_grad", "clip_rms", "dead_guard", "checkpoint_every",
  "method", "lambda_auto", "val_tasks", "validate_every"};
/* Keys a config.txt must hold (the others have defaults or are informative). */
static const int required[] = {K_DATA, K_PERCLASS, K_SAMPLING, K_M, K_K, K_Q, K_NETWORK, K_BETA, K_FEEDBACK, K_DETACH,
                               K_TERMS, K_EPISODES, K_MBATCH, K_SEED, K_LR, K_B1, K_B2, K_EPS, K_LAMBDA, K_L1, K_ZTOL,
                               K_MAXFAIL};

static int set_key(int k, const kv *p, mpl_search_cfg *c, mpl_err *err) {
  int v = 0, rc = MPL_OK;
  long lv;
  switch (k) {
  case K_COMMAND: c->command = p->val; break;
  case K_DATA: if (!c->data) c->data = p->val; break; /* source, when present, wins */
  case K_SOURCE: c->data = p->val; break;
  case K_IMAGES: c->images = p->val; break;
  case K_LABELS: c->labels = p->val; break;
  case K_PERCLASS: if ((rc = get_long(p, 0, INT_MAX, &lv, err)) == 0) c->per_class = (size_t)lv; break;
  case K_CLASSES: rc = get_int(p, 1, 1000000, &v, err); break; /* informative: checked against the data */
  case K_SAMPLING: if ((rc = get_choice(p, "clean", "paper", &v, err)) == 0) c->task.mode = v ? MPL_SAMPLE_PAPER : MPL_SAMPLE_CLEAN; break;
  case K_M: rc = get_int(p, 1, 10000, &c->task.m, err); break;
  case K_K: rc = get_int(p, 1, 100000, &c->task.k, err); break;
  case K_Q: rc = get_int(p, 1, 100000, &c->task.q, err); break;
  case K_NETWORK: rc = get_network(p, c, err); break;
  case K_BETA: rc = get_double(p, 1e-6, 1e6, &c->beta, err); break;
  case K_FEEDBACK: /* the names config.txt writes */
    if (strcmp(p->val, "fixed") && strcmp(p->val, "symmetric") && strcmp(p->val, "direct"))
      rc = bad_value(err, p, "expected fixed, symmetric or direct");
    else
      mpl_feedback_parse(p->val, &c->feedback);
    break;
  case K_DETACH: rc = get_int(p, 0, 1, &c->bp_detach, err); break;
  case K_TERMS: c->terms = p->val; break;
  case K_INIT: c->init = p->val[0] ? p->val : NULL; break;
  case K_SIGN: c->sign = p->val[0] ? p->val : NULL; break;
  case K_EPISODES: rc = get_int(p, 1, INT_MAX, &c->episodes, err); break;
  case K_MBATCH: rc = get_int(p, 1, 4096, &c->meta_batch, err); break;
  case K_SEED: {
    char *end;
    errno = 0;
    unsigned long s = strtoul(p->val, &end, 10);
    if (end == p->val || *end || errno || p->val[0] == '-') return bad_value(err, p, "not an unsigned integer");
    c->seed = s;
    break;
  }
  case K_LR: rc = get_double(p, 1e-300, 1e6, &c->adam.lr, err); break;
  case K_B1: rc = get_double(p, 0, 0.999999999, &c->adam.beta1, err); break;
  case K_B2: rc = get_double(p, 0, 0.999999999, &c->adam.beta2, err); break;
  case K_EPS: rc = get_double(p, 1e-300, 1, &c->adam.eps, err); break;
  case K_LAMBDA: rc = get_double(p, 0, 1e12, &c->adam.lambda, err); break;
  case K_L1: if ((rc = get_choice(p, "prox", "penalty", &v, err)) == 0) c->adam.l1 = v ? MPL_L1_PENALTY : MPL_L1_PROX; break;
  case K_ZTOL: rc = get_double(p, 0, 1e12, &c->zero_tol, err); break;
  case K_MAXFAIL: rc = get_int(p, 1, INT_MAX, &c->max_failures, err); break;
  case K_CLIP: rc = get_double(p, 0, 1e300, &c->clip_grad, err); break;
  case K_CLIPRMS: rc = get_double(p, 0, 1e300, &c->adam.clip_rms, err); break;
  case K_DEAD: rc = get_choice(p, "off", "on", &c->dead_guard, err); break;
  case K_CKPT: rc = get_int(p, 0, INT_MAX, &c->checkpoint_every, err); break;
  case K_METHOD: if ((rc = get_choice(p, "robust", "plain", &v, err)) == 0) c->method = v ? MPL_METHOD_PLAIN : MPL_METHOD_ROBUST; break;
  case K_LAUTO: rc = get_choice(p, "off", "on", &c->lambda_auto, err); break;
  case K_VTASKS: rc = get_int(p, 0, 100000, &c->val_tasks, err); break;
  case K_VEVERY: rc = get_int(p, 0, INT_MAX, &c->validate_every, err); break;
  }
  return rc;
}

int mpl__config_parse(const char *text, size_t len, const char *path, mpl_search_cfg *cfg, char **mem, mpl_err *err) {
  mpl_search_defaults(cfg);
  cfg->data = NULL;
  cfg->adam.clip_rms = 0; /* a config.txt without the key predates --clip-rms: plain Adam */
  cfg->method = MPL_METHOD_PLAIN; /* one without `method` predates the robust method ... */
  cfg->val_tasks = 0;             /* ... and validation */
  cfg->dead_guard = 0;
  cfg->lambda_auto = 0;
  *mem = NULL;
  if (memchr(text, '\0', len)) return mpl_errorf(err, MPL_EFORMAT, "%s: not a text file (holds a NUL byte)", path);
  char *s = malloc(len + 1);
  if (!s) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  memcpy(s, text, len);
  s[len] = '\0';
  int seen[K_NKEYS] = {0}, rc = MPL_OK, line = 0;
  for (char *p = s; *p && rc == 0; ) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    line++;
    char *next = nl ? nl + 1 : p + strlen(p);
    size_t n = strlen(p);
    if (n && p[n - 1] == '\r') p[--n] = '\0';
    if (!p[0] || p[0] == '#') { p = next; continue; }
    char *eq = strstr(p, " = ");
    if (!eq && n >= 2 && !strcmp(p + n - 2, " =")) eq = p + n - 2; /* empty value */
    if (!eq) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: expected 'key = value', got '%.200s'", path, line, p); break; }
    *eq = '\0';
    kv pair = {path, line, p, eq[2] ? eq + 3 : eq + 2};
    int k = 0;
    while (k < K_NKEYS && strcmp(keys[k], p)) k++;
    if (k == K_NKEYS) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: unknown key '%.200s'", path, line, p); break; }
    if (seen[k]++) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: key '%s' given twice", path, line, p); break; }
    rc = set_key(k, &pair, cfg, err);
    p = next;
  }
  for (size_t i = 0; rc == 0 && i < sizeof required / sizeof *required; i++)
    if (!seen[required[i]]) rc = mpl_errorf(err, MPL_EFORMAT, "%s: key '%s' missing", path, keys[required[i]]);
  if (rc == 0 && !cfg->images != !cfg->labels)
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: images and labels go together", path);
  if (rc == 0 && cfg->images) cfg->data = NULL;
  if (rc == 0 && !cfg->images && !seen[K_SOURCE] && cfg->per_class) {
    /* no source key (older files): data holds the dataset's name, base-N when per_class = N */
    char suffix[32];
    int k = snprintf(suffix, sizeof suffix, "-%zu", cfg->per_class);
    size_t dn = strlen(cfg->data);
    if (dn > (size_t)k && !strcmp(cfg->data + dn - (size_t)k, suffix)) ((char *)cfg->data)[dn - (size_t)k] = '\0';
  }
  if (rc < 0) {
    free(s);
    mpl_search_defaults(cfg);
    return rc;
  }
  *mem = s;
  return MPL_OK;
}

/* Why dir has no config.txt to resume from: no directory; a run stopped before its config.txt
 * was written (dir holds nothing but config.txt.tmp.PID files and a lock): what to run, its
 * recorded command if a temporary file holds it whole; the parent of a --trials or
 * --lambda-path run; or not a results directory. */
static int no_config(const char *dir, mpl_err *err) {
  DIR *d = opendir(dir);
  if (!d) return mpl_errorf(err, MPL_ENOTFOUND, "%s: cannot open: %s", dir, strerror(errno));
  char tmp[4200] = "";
  int other = 0, runs = 0;
  for (struct dirent *ent; (ent = readdir(d));) {
    const char *name = ent->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, MPL__LOCK_FILE)) continue;
    if (!strncmp(name, MPL_RESULTS_CONFIG ".tmp.", 15)) mpl__join(tmp, sizeof tmp, dir, name);
    else if (!strncmp(name, "trial-", 6) || !strncmp(name, "lambda-", 7)) runs = 1;
    else other = 1;
  }
  closedir(d);
  if (runs)
    return mpl_errorf(err, MPL_ENOTFOUND, "%s: no config.txt: it holds the runs of --trials or --lambda-path; resume "
                      "each of them (%s/trial-NNN, %s/lambda-L)", dir, dir, dir);
  if (other) return mpl_errorf(err, MPL_ENOTFOUND, "%s: no config.txt: is it a metaplast results directory?", dir);
  char *text = NULL, cmd[2048] = "";
  size_t len;
  mpl_err ignore = {0};
  if (tmp[0] && mpl__read_file(tmp, 1 << 20, &text, &len, &ignore) == 0) {
    const char *c = strstr(text, "\ncommand = "), *nl = c ? strchr(c + 11, '\n') : NULL;
    if (nl && nl - (c + 11) < (long)sizeof cmd - 32) snprintf(cmd, sizeof cmd, " (its command: %.*s)", (int)(nl - (c + 11)), c + 11);
  }
  free(text);
  return mpl_errorf(err, MPL_ENOTFOUND, "%s holds no started run (stopped before config.txt was written): run the "
                    "search again with --out %s%s", dir, dir, cmd);
}

int mpl_search_config_load(const char *dir, mpl_search_cfg *cfg, char **mem, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, dir, MPL_RESULTS_CONFIG);
  char *text;
  size_t len;
  *mem = NULL;
  int rc = mpl__read_file(path, 1 << 20, &text, &len, err);
  if (rc == MPL_ENOTFOUND) return no_config(dir, err);
  if (rc < 0) return rc;
  rc = mpl__config_parse(text, len, path, cfg, mem, err);
  free(text);
  if (rc < 0) return rc;
  cfg->out = dir;
  cfg->resume = 1;
  return MPL_OK;
}

static int str_differ(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") != 0;
}

const char *mpl_search_config_diff(const mpl_search_cfg *a, const mpl_search_cfg *b) {
  if (str_differ(a->images, b->images)) return "images";
  if (str_differ(a->labels, b->labels)) return "labels";
  if (!a->images && str_differ(a->data, b->data)) return "data";
  if (a->per_class != b->per_class) return "per_class";
  if (a->task.mode != b->task.mode) return "sampling";
  if (a->task.m != b->task.m) return "M";
  if (a->task.k != b->task.k) return "K";
  if (a->task.q != b->task.q) return "Q";
  if (a->n_hidden != b->n_hidden || memcmp(a->hidden, b->hidden, (size_t)a->n_hidden * sizeof *a->hidden))
    return "network";
  if (a->beta != b->beta) return "beta";
  if (a->feedback != b->feedback) return "feedback";
  if (a->bp_detach != b->bp_detach) return "bp_detach";
  if (str_differ(a->terms, b->terms)) return "terms";
  if (str_differ(a->init, b->init)) return "init";
  if (str_differ(a->sign, b->sign)) return "sign";
  if (a->episodes != b->episodes) return "episodes";
  if (a->meta_batch != b->meta_batch) return "meta_batch";
  if (a->seed != b->seed) return "seed";
  if (a->adam.lr != b->adam.lr) return "lr";
  if (a->adam.beta1 != b->adam.beta1) return "beta1";
  if (a->adam.beta2 != b->adam.beta2) return "beta2";
  if (a->adam.eps != b->adam.eps) return "eps";
  if (a->adam.lambda != b->adam.lambda) return "lambda";
  if (a->adam.l1 != b->adam.l1) return "l1";
  if (a->zero_tol != b->zero_tol) return "zero_tol";
  if (a->max_failures != b->max_failures) return "max_failures";
  if (a->clip_grad != b->clip_grad) return "clip_grad";
  if (a->adam.clip_rms != b->adam.clip_rms) return "clip_rms";
  if (a->dead_guard != b->dead_guard) return "dead_guard";
  if (a->checkpoint_every != b->checkpoint_every) return "checkpoint_every";
  if (a->method != b->method) return "method";
  if (a->lambda_auto != b->lambda_auto) return "lambda_auto";
  if (a->val_tasks != b->val_tasks) return "val_tasks";
  if (a->validate_every != b->validate_every) return "validate_every";
  return NULL;
}

/* }====== */

/* {====== Extending a finished run (--resume DIR --episodes N, issue 25) ====== */

int mpl_search_extend(mpl_search_cfg *cfg, int episodes, mpl_err *err) {
  if (cfg->lambda_auto)
    return mpl_errorf(err, MPL_EINVAL, "%s: --episodes %d: this run chose lambda on a path (lambda_auto = on) whose "
                      "stages are laid over its %d episodes, so more episodes would move every stage and its lambda: "
                      "it cannot be extended; start a new run with --episodes %d, or with a fixed --lambda", cfg->out,
                      episodes, cfg->episodes, episodes);
  if (episodes <= cfg->episodes)
    return mpl_errorf(err, MPL_EINVAL, "%s: --episodes %d: the run has %d episodes; extending it needs more", cfg->out,
                      episodes, cfg->episodes);
  if (cfg->validate_every == 0) cfg->validate_every = mpl__validate_every(cfg->episodes);   /* the interval it used */
  cfg->episodes = episodes;
  return MPL_OK;
}

/* text with the value of line "key = ..." replaced (malloc'ed), or NULL if there is no such line. */
static char *set_line(const char *text, const char *key, const char *value) {
  char k[64];
  snprintf(k, sizeof k, "\n%s = ", key);
  const char *p = strstr(text, k);
  if (!p) return NULL;
  const char *v = p + strlen(k), *end = v + strcspn(v, "\n");
  size_t n = (size_t)(v - text) + strlen(value) + strlen(end) + 1;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%.*s%s%s", (int)(v - text), text, value, end);
  return out;
}

int mpl__config_extend(const char *dir, int from, const mpl_search_cfg *cfg, mpl_err *err) {
  char path[4200], *text, n[32], every[32];
  size_t len;
  mpl__join(path, sizeof path, dir, MPL_RESULTS_CONFIG);
  int rc = mpl__read_file(path, 1 << 20, &text, &len, err);
  if (rc < 0) return rc;
  snprintf(n, sizeof n, "%d", cfg->episodes);
  snprintf(every, sizeof every, "%d", cfg->validate_every);
  char *a = set_line(text, "episodes", n), *b = a ? set_line(a, "validate_every", every) : NULL;
  size_t need = b ? strlen(b) + 200 : 0;
  char *out = b ? malloc(need) : NULL;
  if (!out) rc = mpl_errorf(err, MPL_EFORMAT, "%s: no 'episodes' or 'validate_every' line to extend", path);
  else {
    snprintf(out, need, "%s%s# extended from %d to %d episodes (--resume --episodes; validate_every kept at %d)\n",
             b, b[strlen(b) - 1] == '\n' ? "" : "\n", from, cfg->episodes, cfg->validate_every);
    rc = mpl__write_atomic(dir, MPL_RESULTS_CONFIG, out, err);
  }
  free(text), free(a), free(b), free(out);
  return rc;
}

/* }====== */
