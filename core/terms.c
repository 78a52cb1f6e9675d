/* metaplast: the paper's candidate pool, built from the term IR, and `--terms` parsing.
 * See LICENSE for copyright. */
#include "metaplast/terms.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a b c ... as one left-associated matrix product. */
static mpl_expr *chain(mpl_termset *ts, int n, mpl_expr **f) {
  mpl_expr *e = f[0];
  for (int i = 1; i < n; i++) e = mpl_matmul(ts, e, f[i]);
  return e;
}
#define CHAIN(ts, ...) chain(ts, (int)(sizeof((mpl_expr *[]){__VA_ARGS__}) / sizeof(mpl_expr *)), (mpl_expr *[]){__VA_ARGS__})

int mpl_paper_pool(mpl_termset *ts, mpl_err *err) {
  mpl_expr *pre = mpl_sig(ts, MPL_SIG_PRE), *post = mpl_sig(ts, MPL_SIG_POST);
  mpl_expr *epre = mpl_sig(ts, MPL_SIG_EPRE), *epost = mpl_sig(ts, MPL_SIG_EPOST);
  mpl_expr *W = mpl_sig(ts, MPL_SIG_W), *one = mpl_ones(ts, MPL_DIM_POST);
  struct { const char *name, *desc; mpl_expr *e; } pool[] = {
    {"F0", "pseudo-gradient (FA/BP term)", mpl_neg(ts, mpl_outer(ts, epost, pre))},
    {"F1", "activation times presynaptic error", mpl_neg(ts, mpl_outer(ts, post, epre))},
    {"F2", "error-based Hebbian (eHebb)", mpl_neg(ts, mpl_outer(ts, epost, epre))},
    {"F3", "weight decay", mpl_neg(ts, W)},
    {"F4", "every row equals the presynaptic error", mpl_neg(ts, mpl_outer(ts, one, epre))},
    {"F5", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, epost, mpl_t(ts, one), post, mpl_t(ts, pre)))},
    {"F6", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, post, mpl_t(ts, post), W, epre, mpl_t(ts, epre)))},
    {"F7", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, epost, mpl_t(ts, post), W, epre, mpl_t(ts, pre)))},
    {"F8", "higher-order, literal matrix reading", mpl_neg(ts, CHAIN(ts, post, mpl_t(ts, pre), mpl_t(ts, W), epost, mpl_t(ts, epre)))},
    {"F9", "Oja's rule", mpl_sub(ts, mpl_outer(ts, post, pre), CHAIN(ts, post, mpl_t(ts, post), W))},
  };
  for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
    int rc = mpl_termset_add(ts, pool[i].name, pool[i].desc, pool[i].e, err);
    if (rc < 0) return rc;
  }
  return MPL_OK;
}

static int list_names(const mpl_termset *ts, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < mpl_termset_count(ts) && len < n; i++)
    len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", mpl_termset_name(ts, i));
  return 0;
}

static int select_all(mpl_selection *sel, const mpl_termset *ts, int first, mpl_err *err) {
  int n = mpl_termset_count(ts) - first;
  sel->which = malloc((size_t)n * sizeof *sel->which);
  sel->theta0 = malloc((size_t)n * sizeof *sel->theta0);
  sel->sign = calloc((size_t)n, sizeof *sel->sign);
  if (!sel->which || !sel->theta0 || !sel->sign) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int i = 0; i < n; i++) sel->which[i] = first + i;
  sel->n = n;
  return MPL_OK;
}

/* Select the comma-separated names in list (terms of ts from index first on). */
static int select_names(mpl_selection *sel, const mpl_termset *ts, int first, const char *src,
                        const char *list, mpl_err *err) {
  int cap = 1;
  for (const char *p = list; *p; p++) cap += *p == ',';
  sel->which = malloc((size_t)cap * sizeof *sel->which);
  sel->theta0 = malloc((size_t)cap * sizeof *sel->theta0);
  sel->sign = calloc((size_t)cap, sizeof *sel->sign);
  if (!sel->which || !sel->theta0 || !sel->sign) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  sel->n = 0;
  for (const char *p = list; *p;) {
    size_t k = strcspn(p, ",");
    char name[128];
    if (k == 0 || k >= sizeof name) return mpl_errorf(err, MPL_EINVAL, "--terms %s: empty or overlong term name in '%s'", src, list);
    memcpy(name, p, k);
    name[k] = '\0';
    int idx = mpl_termset_find(ts, name);
    if (idx < first) {
      char names[1024];
      list_names(ts, names, sizeof names);
      return mpl_errorf(err, MPL_ENOTFOUND, "--terms %s: no term '%s' (it has: %s)", src, name, names);
    }
    for (int i = 0; i < sel->n; i++)
      if (sel->which[i] == idx) return mpl_errorf(err, MPL_EINVAL, "--terms %s: term '%s' is listed twice", src, name);
    sel->which[sel->n++] = idx;
    p += k + (p[k] == ',');
  }
  if (sel->n == 0) return mpl_errorf(err, MPL_EINVAL, "--terms %s: no terms selected", src);
  return MPL_OK;
}

int mpl_terms_parse(const char *spec, mpl_termset *ts, mpl_selection *sel, mpl_err *err) {
  memset(sel, 0, sizeof *sel);
  char src[256];
  const char *colon = strchr(spec, ':');
  size_t k = colon ? (size_t)(colon - spec) : strlen(spec);
  if (k >= sizeof src) return mpl_errorf(err, MPL_EINVAL, "--terms: source name too long");
  memcpy(src, spec, k);
  src[k] = '\0';
  if (strcmp(src, "paper") != 0)
    return mpl_errorf(err, MPL_ENOTFOUND, "--terms: unknown term source '%s' (available: paper)", src);
  int first = mpl_termset_count(ts), rc = mpl_paper_pool(ts, err);
  if (rc == 0) rc = colon ? select_names(sel, ts, first, src, colon + 1, err) : select_all(sel, ts, first, err);
  if (rc < 0) {
    mpl_selection_free(sel);
    return rc;
  }
  for (int i = 0; i < sel->n; i++) sel->theta0[i] = strcmp(mpl_termset_name(ts, sel->which[i]), "F0") == 0 ? 1e-3 : 0;
  return MPL_OK;
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
