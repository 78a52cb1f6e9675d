/* metaplast: the paper's candidate pool, built from the term IR, and `--terms` parsing.
 * See LICENSE for copyright. */
#include "metaplast/terms.h"

#include "front.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int list_names(const mpl_termset *ts, int first, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = first; i < mpl_termset_count(ts) && len < n; i++)
    len += (size_t)snprintf(buf + len, n - len, "%s%s", i > first ? ", " : "", mpl_termset_name(ts, i));
  return 0;
}

/* Grow sel by n entries. */
static int sel_grow(mpl_selection *sel, int n, mpl_err *err) {
  int *w = realloc(sel->which, ((size_t)sel->n + n + 1) * sizeof *w);
  if (w) sel->which = w;
  double *t = realloc(sel->theta0, ((size_t)sel->n + n + 1) * sizeof *t);
  if (t) sel->theta0 = t;
  int *g = realloc(sel->sign, ((size_t)sel->n + n + 1) * sizeof *g);
  if (g) sel->sign = g;
  return (w && t && g) ? MPL_OK : mpl_errorf(err, MPL_ENOMEM, "out of memory");
}

static int sel_push(mpl_selection *sel, const mpl_termset *ts, int idx) {
  sel->which[sel->n] = idx;
  sel->sign[sel->n] = mpl_termset_sign(ts, idx); /* the term's declared sign; --sign overrides it */
  sel->theta0[sel->n++] = 0;
  return MPL_OK;
}

/* Select the comma-separated names in list among terms [first, last) of ts. */
static int select_names(mpl_selection *sel, const mpl_termset *ts, int first, int last, const char *src,
                        const char *list, mpl_err *err) {
  int start = sel->n;
  for (const char *p = list; *p;) {
    size_t k = strcspn(p, ",");
    char name[128];
    if (k == 0 || k >= sizeof name) return mpl_errorf(err, MPL_EINVAL, "--terms %s: empty or overlong term name in '%s'", src, list);
    memcpy(name, p, k);
    name[k] = '\0';
    int idx = -1;
    for (int i = first; i < last && idx < 0; i++)
      if (!strcmp(mpl_termset_name(ts, i), name)) idx = i;
    if (idx < 0) {
      char names[1024];
      list_names(ts, first, names, sizeof names);
      return mpl_errorf(err, MPL_ENOTFOUND, "--terms %s: no term '%s' (it has: %s)", src, name, names);
    }
    for (int i = start; i < sel->n; i++)
      if (sel->which[i] == idx) return mpl_errorf(err, MPL_EINVAL, "--terms %s: term '%s' is listed twice", src, name);
    int rc = sel_grow(sel, 1, err);
    if (rc < 0) return rc;
    sel_push(sel, ts, idx);
    p += k + (p[k] == ',');
  }
  if (sel->n == start) return mpl_errorf(err, MPL_EINVAL, "--terms %s: no terms selected", src);
  return MPL_OK;
}

/* Load one source from path (mpl__source_locate's), recorded under src. */
static int load_at(const char *src, const char *path, const char *kind, mpl_termset *ts, mpl_err *err) {
  int rules = !strcmp(kind, "rules");
  int rc = rules ? mpl__rules_load_file(path, src, ts, err) : mpl__plugin_load(path, src, ts, err);
  return rc < 0 ? rc : mpl__termset_record_source(ts, src, path, kind, err);
}

/* Load one source ("paper", "x.so", "dir/x.so", "dir/x.lua", "oja") into ts. A bare name is a
 * plugin on the plugin path, else a rule file NAME.lua on the rule path. */
static int load_source(const char *src, const char *at, mpl_termset *ts, mpl_err *err) {
  if (!src[0]) return mpl_errorf(err, MPL_EINVAL, "--terms: empty term source");
  size_t k = strlen(src);
  char path[4096];
  const char *kind = k > 4 && !strcmp(src + k - 4, ".lua") ? "rules" : "plugin";
  int rc = at ? MPL_OK : mpl__source_locate(src, NULL, path, sizeof path, &kind, err);
  return rc < 0 ? rc : load_at(src, at ? at : path, kind, ts, err);
}

/* One "source[:names]" item, loaded from at when not NULL. */
static int parse_item(const char *item, const char *at, mpl_termset *ts, mpl_selection *sel, mpl_err *err) {
  char src[4096];
  const char *slash = strrchr(item, '/'), *colon = strchr(slash ? slash : item, ':');
  size_t k = colon ? (size_t)(colon - item) : strlen(item);
  if (k >= sizeof src) return mpl_errorf(err, MPL_EINVAL, "--terms: source name too long");
  memcpy(src, item, k);
  src[k] = '\0';
  int first = mpl_termset_count(ts), rc = load_source(src, at, ts, err);
  if (rc < 0) return rc;
  int last = mpl_termset_count(ts);
  if (colon) return select_names(sel, ts, first, last, src, colon + 1, err);
  if ((rc = sel_grow(sel, last - first, err)) < 0) return rc;
  for (int i = first; i < last; i++) sel_push(sel, ts, i);
  return MPL_OK;
}

/* Two selected terms may not share a name: the report could not tell them apart. */
static int check_unique(const mpl_selection *sel, const mpl_termset *ts, mpl_err *err) {
  for (int i = 0; i < sel->n; i++)
    for (int j = 0; j < i; j++) {
      int a = sel->which[j], b = sel->which[i];
      if (!strcmp(mpl_termset_name(ts, a), mpl_termset_name(ts, b)))
        return mpl_errorf(err, MPL_EINVAL, "--terms: term '%s' comes from both %s and %s; select one of them "
                          "(SOURCE:name,...)", mpl_termset_name(ts, a), mpl_termset_source(ts, a), mpl_termset_source(ts, b));
    }
  return MPL_OK;
}

int mpl_terms_parse(const char *spec, mpl_termset *ts, mpl_selection *sel, mpl_err *err) {
  memset(sel, 0, sizeof *sel);
  int rc = MPL_OK;
  if (!spec || !spec[0]) rc = mpl_errorf(err, MPL_EINVAL, "--terms: empty specification");
  for (const char *p = spec; rc == 0 && *p;) {
    size_t k = strcspn(p, ";");
    char *item = malloc(k + 1);
    if (!item) { rc = mpl_errorf(err, MPL_ENOMEM, "out of memory"); break; }
    memcpy(item, p, k);
    item[k] = '\0';
    rc = parse_item(item, NULL, ts, sel, err);
    free(item);
    p += k + (p[k] == ';');
  }
  if (rc == 0) rc = check_unique(sel, ts, err);
  if (rc < 0) {
    mpl_selection_free(sel);
    return rc;
  }
  for (int i = 0; i < sel->n; i++) sel->theta0[i] = strcmp(mpl_termset_name(ts, sel->which[i]), "F0") == 0 ? 1e-3 : 0;
  return MPL_OK;
}

int mpl__terms_parse_at(const char *item, const char *path, mpl_termset *ts, mpl_selection *sel, mpl_err *err) {
  memset(sel, 0, sizeof *sel);
  int rc = parse_item(item, path, ts, sel, err);
  if (rc < 0) mpl_selection_free(sel);
  return rc;
}

/* Call item(name, value, sel, ts, err) for each NAME=VALUE of a comma-separated spec. */
typedef int (*item_fn)(const char *flag, const char *name, const char *value, mpl_selection *sel,
                       const mpl_termset *ts, mpl_err *err);

static int for_items(const char *flag, const char *spec, item_fn fn, mpl_selection *sel, const mpl_termset *ts,
                     mpl_err *err) {
  for (const char *p = spec; *p;) {
    size_t k = strcspn(p, ",");
    char item[256], *eq;
    if (k == 0 || k >= sizeof item) return mpl_errorf(err, MPL_EINVAL, "%s: bad item in '%s'", flag, spec);
    memcpy(item, p, k);
    item[k] = '\0';
    if (!(eq = strchr(item, '='))) return mpl_errorf(err, MPL_EINVAL, "%s: '%s' is not NAME=VALUE", flag, item);
    *eq = '\0';
    int rc = fn(flag, item, eq + 1, sel, ts, err);
    if (rc < 0) return rc;
    p += k + (p[k] == ',');
  }
  return MPL_OK;
}

static int find_selected(const char *flag, const char *name, const mpl_selection *sel, const mpl_termset *ts,
                         mpl_err *err) {
  for (int i = 0; i < sel->n; i++)
    if (strcmp(mpl_termset_name(ts, sel->which[i]), name) == 0) return i;
  return mpl_errorf(err, MPL_ENOTFOUND, "%s: '%s' is not a selected term", flag, name);
}

static int init_item(const char *flag, const char *name, const char *value, mpl_selection *sel,
                     const mpl_termset *ts, mpl_err *err) {
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  if (end == value || *end || errno || !isfinite(v))
    return mpl_errorf(err, MPL_EINVAL, "%s: '%s' is not a number (term %s)", flag, value, name);
  int i = find_selected(flag, name, sel, ts, err);
  if (i < 0) return i;
  sel->theta0[i] = v;
  return MPL_OK;
}

static int sign_item(const char *flag, const char *name, const char *value, mpl_selection *sel,
                     const mpl_termset *ts, mpl_err *err) {
  int sg = !strcmp(value, "+") ? 1 : !strcmp(value, "-") ? -1 : (!strcmp(value, "0") || !strcmp(value, "free")) ? 0 : 2;
  if (sg == 2) return mpl_errorf(err, MPL_EINVAL, "%s: '%s' for term %s: expected +, - or free", flag, value, name);
  int i = find_selected(flag, name, sel, ts, err);
  if (i < 0) return i;
  sel->sign[i] = sg;
  return MPL_OK;
}

/* Apply a spec to a copy of sel's arrays, so that a bad item leaves sel unchanged. */
static int apply_spec(const char *flag, const char *spec, item_fn fn, mpl_selection *sel, const mpl_termset *ts,
                      mpl_err *err) {
  mpl_selection tmp = *sel;
  tmp.theta0 = malloc(((size_t)sel->n + 1) * sizeof *tmp.theta0);
  tmp.sign = malloc(((size_t)sel->n + 1) * sizeof *tmp.sign);
  int rc = (!tmp.theta0 || !tmp.sign) ? mpl_errorf(err, MPL_ENOMEM, "out of memory") : MPL_OK;
  if (rc == 0) {
    memcpy(tmp.theta0, sel->theta0, (size_t)sel->n * sizeof *tmp.theta0);
    memcpy(tmp.sign, sel->sign, (size_t)sel->n * sizeof *tmp.sign);
    rc = for_items(flag, spec, fn, &tmp, ts, err);
  }
  if (rc == 0) {
    memcpy(sel->theta0, tmp.theta0, (size_t)sel->n * sizeof *tmp.theta0);
    memcpy(sel->sign, tmp.sign, (size_t)sel->n * sizeof *tmp.sign);
  }
  free(tmp.theta0);
  free(tmp.sign);
  return rc;
}

int mpl_selection_set_init(mpl_selection *sel, const mpl_termset *ts, const char *spec, mpl_err *err) {
  return apply_spec("--init", spec, init_item, sel, ts, err);
}

int mpl_selection_set_sign(mpl_selection *sel, const mpl_termset *ts, const char *spec, mpl_err *err) {
  if (spec && !strcmp(spec, "none")) { /* every coefficient free, declared signs dropped */
    for (int i = 0; i < sel->n; i++) sel->sign[i] = 0;
    return MPL_OK;
  }
  return apply_spec("--sign", spec, sign_item, sel, ts, err);
}

void mpl_selection_free(mpl_selection *sel) {
  if (!sel) return;
  free(sel->which);
  free(sel->theta0);
  free(sel->sign);
  sel->which = NULL;
  sel->theta0 = NULL;
  sel->sign = NULL;
  sel->n = 0;
}
