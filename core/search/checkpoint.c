/* metaplast: reading a search's config.txt back (for --resume) and the checkpoint file: a
 * versioned, checksummed text file with hexadecimal floats, so every double round-trips
 * exactly. See docs/reliability.md. See LICENSE for copyright. */
#include "checkpoint.h"
#include "discover.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* {====== Files ====== */

int mpl__read_file(const char *path, size_t max, char **text, size_t *len, mpl_err *err) {
  *text = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return mpl_errorf(err, errno == ENOENT ? MPL_ENOTFOUND : MPL_EIO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *s = malloc(cap);
  while (s) {
    size_t k = fread(s + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) break;
    if (n > max) break;
    if (cap - n < 2) {
      char *t = realloc(s, cap * 2);
      if (!t) { free(s); s = NULL; break; }
      s = t, cap *= 2;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!s) return mpl_errorf(err, MPL_ENOMEM, "%s: out of memory", path);
  if (bad) { free(s); return mpl_errorf(err, MPL_EIO, "%s: read error", path); }
  if (n > max) { free(s); return mpl_errorf(err, MPL_EFORMAT, "%s: larger than %zu bytes", path, max); }
  s[n] = '\0';
  *text = s;
  *len = n;
  return MPL_OK;
}

/* }====== */

/* {====== config.txt ====== */

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

/* The keys write_config (search.c) writes, in its order. */
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
  case K_FEEDBACK: if ((rc = get_choice(p, "fixed", "symmetric", &v, err)) == 0) c->feedback = v ? MPL_FB_SYMMETRIC : MPL_FB_FIXED; break;
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
    if (!strncmp(name, "config.txt.tmp.", 15)) mpl__join(tmp, sizeof tmp, dir, name);
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
  mpl__join(path, sizeof path, dir, "config.txt");
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

/* {====== The checkpoint file ======
 *
 *   metaplast-checkpoint 1
 *   episode 40
 *   streak 0
 *   failures 1
 *   terms F0 F2 F9
 *   theta 0x1.0624dd2f1a9fcp-10 0x0p+0 ...
 *   adam_t 39
 *   adam_m ...
 *   adam_v ...
 *   good_episode 40
 *   good_theta ...
 *   good_adam_t 38
 *   good_adam_m ...
 *   good_adam_v ...
 *   crc32 89abcdef          (of every byte before this line)
 */

int mpl__ckpt_alloc(mpl__ckpt *c, int n, const char *terms, mpl_err *err) {
  memset(c, 0, sizeof *c);
  c->n = n;
  size_t k = n > 0 ? (size_t)n : 1;
  c->terms = mpl__strdup(terms);
  c->theta = calloc(k, sizeof *c->theta), c->m = calloc(k, sizeof *c->m), c->v = calloc(k, sizeof *c->v);
  c->good_theta = calloc(k, sizeof *c->theta), c->good_m = calloc(k, sizeof *c->m), c->good_v = calloc(k, sizeof *c->v);
  if (!c->terms || !c->theta || !c->m || !c->v || !c->good_theta || !c->good_m || !c->good_v) {
    mpl__ckpt_free(c);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  return MPL_OK;
}

void mpl__ckpt_free(mpl__ckpt *c) {
  free(c->terms);
  free(c->theta), free(c->m), free(c->v);
  free(c->good_theta), free(c->good_m), free(c->good_v);
  free(c->extra);
  memset(c, 0, sizeof *c);
}

static void put_vec(mpl__sb *s, const char *key, const double *x, int n) {
  mpl__sb_printf(s, "%s", key);
  for (int i = 0; i < n; i++) mpl__sb_printf(s, " %a", x[i]);
  mpl__sb_printf(s, "\n");
}

char *mpl__ckpt_format(const mpl__ckpt *c) {
  size_t cap = 512 + strlen(c->terms) + (size_t)c->n * 6 * 32 + (size_t)c->n_extra * 32;
  char *text = malloc(cap);
  if (!text) return NULL;
  mpl__sb s = {text, cap, 0};
  mpl__sb_printf(&s, "metaplast-checkpoint %d\nepisode %d\nstreak %d\nfailures %d\nterms %s\n", MPL__CKPT_VERSION,
                 c->episode, c->streak, c->failures, c->terms);
  put_vec(&s, "theta", c->theta, c->n);
  mpl__sb_printf(&s, "adam_t %ld\n", c->t);
  put_vec(&s, "adam_m", c->m, c->n);
  put_vec(&s, "adam_v", c->v, c->n);
  mpl__sb_printf(&s, "good_episode %d\n", c->good_episode);
  put_vec(&s, "good_theta", c->good_theta, c->n);
  mpl__sb_printf(&s, "good_adam_t %ld\n", c->good_t);
  put_vec(&s, "good_adam_m", c->good_m, c->n);
  put_vec(&s, "good_adam_v", c->good_v, c->n);
  if (c->n_extra > 0) {
    mpl__sb_printf(&s, "extra %d\n", c->n_extra);
    put_vec(&s, "extra_values", c->extra, c->n_extra);
  }
  if (s.len + 32 >= cap) { free(text); return NULL; }
  unsigned long crc = crc32(0L, (const Bytef *)text, (uInt)s.len);
  mpl__sb_printf(&s, "crc32 %08lx\n", crc);
  return text;
}

/* A cursor over the checkpoint's lines. */
typedef struct cur { const char *path; char *p; int line; mpl_err *err; } cur;

/* The next line, which must start with `key `: its value (in place). */
static char *field(cur *c, const char *key) {
  if (!*c->p) { mpl_errorf(c->err, MPL_EFORMAT, "%s: truncated: '%s' missing", c->path, key); return NULL; }
  char *line = c->p, *nl = strchr(line, '\n');
  if (!nl) { mpl_errorf(c->err, MPL_EFORMAT, "%s: truncated at line %d", c->path, c->line + 1); return NULL; }
  *nl = '\0';
  c->p = nl + 1;
  c->line++;
  size_t k = strlen(key);
  if (strncmp(line, key, k) || line[k] != ' ') {
    mpl_errorf(c->err, MPL_EFORMAT, "%s:%d: expected '%s', got '%.100s'", c->path, c->line, key, line);
    return NULL;
  }
  return line + k + 1;
}

static int field_long(cur *c, const char *key, long lo, long hi, long *out) {
  char *v = field(c, key), *end;
  if (!v) return MPL_EFORMAT;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (end == v || *end || errno || x < lo || x > hi)
    return mpl_errorf(c->err, MPL_EFORMAT, "%s:%d: %s '%.100s' is not an integer in [%ld, %ld]", c->path, c->line, key,
                      v, lo, hi);
  *out = x;
  return MPL_OK;
}

static int field_int(cur *c, const char *key, int lo, int hi, int *out) {
  long x;
  int rc = field_long(c, key, lo, hi, &x);
  if (rc == 0) *out = (int)x;
  return rc;
}

static int field_vec(cur *c, const char *key, double *x, int n) {
  char *v = field(c, key);
  if (!v) return MPL_EFORMAT;
  for (int i = 0; i < n; i++) {
    char *end;
    if (*v != ' ' && i > 0)
      return mpl_errorf(c->err, MPL_EFORMAT, "%s:%d: %s: expected %d numbers", c->path, c->line, key, n);
    x[i] = strtod(v, &end);
    if (end == v || !isfinite(x[i]))
      return mpl_errorf(c->err, MPL_EFORMAT, "%s:%d: %s: number %d is missing or not finite", c->path, c->line, key, i + 1);
    v = end;
  }
  if (*v) return mpl_errorf(c->err, MPL_EFORMAT, "%s:%d: %s: more than %d numbers", c->path, c->line, key, n);
  return MPL_OK;
}

int mpl__ckpt_parse(const char *text, size_t len, const char *path, mpl__ckpt *ck, mpl_err *err) {
  memset(ck, 0, sizeof *ck);
  /* the checksum line first: anything truncated or altered fails here */
  const char *tail = NULL;
  for (size_t i = len; i-- > 0 && !tail; )
    if (i + 6 <= len && !memcmp(text + i, "crc32 ", 6) && (i == 0 || text[i - 1] == '\n')) tail = text + i;
  if (!tail || len - (size_t)(tail - text) != 15 || text[len - 1] != '\n')
    return mpl_errorf(err, MPL_EFORMAT, "%s: truncated or corrupt (no checksum line at its end)", path);
  char hex[9];
  memcpy(hex, tail + 6, 8);
  hex[8] = '\0';
  char *end;
  unsigned long want = strtoul(hex, &end, 16);
  if (end != hex + 8) return mpl_errorf(err, MPL_EFORMAT, "%s: malformed checksum line", path);
  unsigned long got = crc32(0L, (const Bytef *)text, (uInt)(tail - text));
  if (got != want)
    return mpl_errorf(err, MPL_EFORMAT, "%s: corrupt (checksum %08lx, expected %08lx)", path, got, want);
  size_t body = (size_t)(tail - text);
  char *s = malloc(body + 1);
  if (!s) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  memcpy(s, text, body);
  s[body] = '\0';
  if (memchr(s, '\0', body)) { free(s); return mpl_errorf(err, MPL_EFORMAT, "%s: holds a NUL byte", path); }
  cur c = {path, s, 0, err};
  int version = 0, n = 0, rc, episode = 0, streak = 0, failures = 0, good = 0;
  long t = 0, good_t = 0;
  char *terms;
  if ((rc = field_int(&c, "metaplast-checkpoint", 0, INT_MAX, &version)) < 0) goto done;
  if (version != MPL__CKPT_VERSION) {
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: checkpoint format version %d; this metaplast reads version %d", path,
                    version, MPL__CKPT_VERSION);
    goto done;
  }
  if ((rc = field_int(&c, "episode", 0, INT_MAX, &episode)) < 0) goto done;
  if ((rc = field_int(&c, "streak", 0, INT_MAX, &streak)) < 0) goto done;
  if ((rc = field_int(&c, "failures", 0, INT_MAX, &failures)) < 0) goto done;
  if (!(terms = field(&c, "terms"))) { rc = MPL_EFORMAT; goto done; }
  for (const char *p = terms; *p; p++) n += (p == terms || p[-1] == ' ') && *p != ' ';
  if ((rc = mpl__ckpt_alloc(ck, n, terms, err)) < 0) goto done;
  ck->episode = episode, ck->streak = streak, ck->failures = failures;
  if ((rc = field_vec(&c, "theta", ck->theta, n)) < 0) goto done;
  if ((rc = field_long(&c, "adam_t", 0, LONG_MAX, &t)) < 0) goto done;
  if ((rc = field_vec(&c, "adam_m", ck->m, n)) < 0) goto done;
  if ((rc = field_vec(&c, "adam_v", ck->v, n)) < 0) goto done;
  if ((rc = field_int(&c, "good_episode", 0, INT_MAX, &good)) < 0) goto done;
  if ((rc = field_vec(&c, "good_theta", ck->good_theta, n)) < 0) goto done;
  if ((rc = field_long(&c, "good_adam_t", 0, LONG_MAX, &good_t)) < 0) goto done;
  if ((rc = field_vec(&c, "good_adam_m", ck->good_m, n)) < 0) goto done;
  if ((rc = field_vec(&c, "good_adam_v", ck->good_v, n)) < 0) goto done;
  ck->t = t, ck->good_episode = good, ck->good_t = good_t;
  if (!strncmp(c.p, "extra ", 6)) {   /* optional: the discovery method's state */
    int ne = 0;
    if ((rc = field_int(&c, "extra", 1, 1 << 24, &ne)) < 0) goto done;
    if (!(ck->extra = malloc((size_t)ne * sizeof *ck->extra))) { rc = mpl_errorf(err, MPL_ENOMEM, "out of memory"); goto done; }
    ck->n_extra = ne;
    if ((rc = field_vec(&c, "extra_values", ck->extra, ne)) < 0) goto done;
  }
  if (*c.p) rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: unexpected line before the checksum", path, c.line + 1);
  else if (failures < streak || good > episode)
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: inconsistent counters (episode %d, failures %d, streak %d, good %d)", path,
                    episode, failures, streak, good);
done:
  free(s);
  if (rc < 0) mpl__ckpt_free(ck);
  return rc;
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
  mpl__join(path, sizeof path, dir, "config.txt");
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
    rc = mpl__write_atomic(dir, "config.txt", out, err);
  }
  free(text), free(a), free(b), free(out);
  return rc;
}

/* }====== */
