/* metaplast: the checkpoint file that lets a search resume exactly (config.txt: config.c): a
 * versioned, checksummed text file with hexadecimal floats, so every double round-trips
 * exactly. See docs/reliability.md. See LICENSE for copyright. */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

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
