/* metaplast: the term IR: hash-consed expression nodes in a term-set arena, shape checking
 * and printing. See LICENSE for copyright. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metaplast/native.h"

#include <dlfcn.h>

/* {====== Term sets ====== */

mpl_termset *mpl_termset_new(void) { return calloc(1, sizeof(mpl_termset)); }

static void free_native(mpl_native_term *n) {
  if (!n) return;
  free((char *)n->formula);
  free((char *)n->latex);
  free(n);
}

void mpl__termset_truncate(mpl_termset *ts, int n) {
  while (ts->n_terms > n) {
    mpl_term *t = &ts->terms[--ts->n_terms];
    free(t->name);
    free(t->description);
    free(t->source);
    free_native(t->native);
  }
}

void mpl_termset_free(mpl_termset *ts) {
  if (!ts) return;
  for (int i = 0; i < ts->n_nodes; i++) free(ts->nodes[i]);
  mpl__termset_truncate(ts, 0);
  free(ts->nodes);
  free(ts->terms);
  for (int i = 0; i < ts->n_handles; i++) dlclose(ts->handles[i]); /* after the terms: natives live there */
  free(ts->handles);
  mpl__termset_free_sources(ts);
  free(ts);
}

const char *mpl_termset_error(const mpl_termset *ts) {
  return (ts && ts->error[0]) ? ts->error : NULL;
}

void mpl_termset_clear_error(mpl_termset *ts) {
  if (ts) ts->error[0] = '\0';
}

void mpl__builder_error(mpl_termset *ts, const char *fmt, ...) {
  if (ts->error[0]) return; /* keep the first: later errors are usually its consequences */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ts->error, sizeof ts->error, fmt, ap);
  va_end(ap);
}

/* }====== */

/* {====== Node construction (hash-consed) ====== */

static int same_node(const mpl_expr *x, const mpl_expr *y) {
  return x->op == y->op && x->a == y->a && x->b == y->b && x->sig == y->sig &&
         x->rows == y->rows && x->cols == y->cols &&
         memcmp(&x->num, &y->num, sizeof x->num) == 0;
}

static mpl_expr *intern(mpl_termset *ts, mpl_expr proto) {
  for (int i = ts->n_nodes - 1; i >= 0; i--)
    if (same_node(ts->nodes[i], &proto)) return ts->nodes[i];
  if (ts->n_nodes == ts->cap_nodes) {
    int cap = ts->cap_nodes ? 2 * ts->cap_nodes : 64;
    mpl_expr **p = realloc(ts->nodes, (size_t)cap * sizeof *p);
    if (!p) return mpl__builder_error(ts, "out of memory"), NULL;
    ts->nodes = p;
    ts->cap_nodes = cap;
  }
  mpl_expr *e = malloc(sizeof *e);
  if (!e) return mpl__builder_error(ts, "out of memory"), NULL;
  *e = proto;
  e->id = ts->n_nodes;
  ts->nodes[ts->n_nodes++] = e;
  return e;
}

mpl_expr *mpl__node(mpl_termset *ts, int op, mpl_dim rows, mpl_dim cols, mpl_expr *a, mpl_expr *b, int arg,
                    double num) {
  mpl_expr proto = {.op = op, .rows = rows, .cols = cols, .a = a, .b = b, .sig = arg, .num = num};
  return intern(ts, proto);
}

const char *mpl_dim_name(mpl_dim d) {
  static const char *names[] = {"1", "n_pre", "n_post"};
  return (d >= 0 && d <= MPL_DIM_POST) ? names[d] : "?";
}

mpl_dim mpl_expr_rows(const mpl_expr *e) { return e->rows; }
mpl_dim mpl_expr_cols(const mpl_expr *e) { return e->cols; }

const char *mpl__shape_str(const mpl_expr *e, char *buf) {
  snprintf(buf, 32, "%s x %s", mpl_dim_name(e->rows), mpl_dim_name(e->cols));
  return buf;
}

int mpl__is_scalar(const mpl_expr *e) { return e->rows == MPL_DIM_ONE && e->cols == MPL_DIM_ONE; }

/* }====== */

/* {====== Terms ====== */

char *mpl__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  return d ? memcpy(d, s, n) : NULL;
}

/* Append a term after checking its name (unique within the current source). */
static int append_term(mpl_termset *ts, const char *name, const char *description, mpl_expr *e,
                       mpl_native_term *native, mpl_err *err) {
  if (!name || !name[0]) return mpl_errorf(err, MPL_EINVAL, "a term needs a name");
  for (int i = ts->load_first; i < ts->n_terms; i++)
    if (strcmp(ts->terms[i].name, name) == 0) return mpl_errorf(err, MPL_EINVAL, "term '%s' is defined twice", name);
  if (ts->n_terms == ts->cap_terms) {
    int cap = ts->cap_terms ? 2 * ts->cap_terms : 16;
    mpl_term *p = realloc(ts->terms, (size_t)cap * sizeof *p);
    if (!p) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    ts->terms = p;
    ts->cap_terms = cap;
  }
  mpl_term t = {mpl__strdup(name), mpl__strdup(description ? description : ""), e, native,
                mpl__strdup(ts->source ? ts->source : ""), 0};
  if (!t.name || !t.description || !t.source) {
    free(t.name);
    free(t.description);
    free(t.source);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  ts->terms[ts->n_terms++] = t;
  return MPL_OK;
}

int mpl_termset_add(mpl_termset *ts, const char *name, const char *description, mpl_expr *e, mpl_err *err) {
  char se[32];
  if (!ts) return mpl_errorf(err, MPL_EINVAL, "no term set");
  if (!name || !name[0]) return mpl_errorf(err, MPL_EINVAL, "a term needs a name");
  if (!e)
    return mpl_errorf(err, MPL_ESHAPE, "term '%s': %s", name,
                      ts->error[0] ? ts->error : "no expression");
  if (e->rows != MPL_DIM_POST || e->cols != MPL_DIM_PRE)
    return mpl_errorf(err, MPL_ESHAPE, "term '%s': a term must be n_post x n_pre (the shape of W), got %s",
                      name, mpl__shape_str(e, se));
  return append_term(ts, name, description, e, NULL, err);
}

int mpl__termset_add_native(mpl_termset *ts, const mpl_native_term *t, mpl_err *err) {
  const char *name = t->name ? t->name : "";
  if (!t->value || !t->vjp)
    return mpl_errorf(err, MPL_EPLUGIN, "native term '%s': value and vjp callbacks are both required", name);
  if (!t->formula || !t->formula[0])
    return mpl_errorf(err, MPL_EPLUGIN, "native term '%s': a formula (its text for reports) is required", name);
  mpl_native_term *c = calloc(1, sizeof *c);
  if (!c) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  *c = *t;
  c->struct_size = sizeof *c;
  c->name = c->description = NULL; /* kept in the term itself */
  c->formula = mpl__strdup(t->formula);
  c->latex = t->latex ? mpl__strdup(t->latex) : NULL;
  int rc = (!c->formula || (t->latex && !c->latex)) ? mpl_errorf(err, MPL_ENOMEM, "out of memory")
                                                     : append_term(ts, name, t->description, NULL, c, err);
  if (rc < 0) free_native(c);
  return rc;
}

int mpl__termset_keep_handle(mpl_termset *ts, void *handle) {
  void **h = realloc(ts->handles, ((size_t)ts->n_handles + 1) * sizeof *h);
  if (!h) return MPL_ENOMEM;
  ts->handles = h;
  ts->handles[ts->n_handles++] = handle;
  return MPL_OK;
}

const char *mpl_termset_source(const mpl_termset *ts, int i) { return ts->terms[i].source; }
int mpl_termset_is_native(const mpl_termset *ts, int i) { return ts->terms[i].native != NULL; }

int mpl_termset_set_sign(mpl_termset *ts, const char *name, int sign, mpl_err *err) {
  if (!ts) return mpl_errorf(err, MPL_EINVAL, "no term set");
  if (sign < -1 || sign > 1)
    return mpl_errorf(err, MPL_EINVAL, "term '%s': a declared sign is +1, -1 or 0, got %d", name ? name : "", sign);
  int i = ts->n_terms - 1; /* the latest term of that name: the one its source just added */
  while (i >= 0 && name && strcmp(ts->terms[i].name, name)) i--;
  if (i < 0 || !name) return mpl_errorf(err, MPL_ENOTFOUND, "no term '%s' to declare a sign for", name ? name : "(null)");
  ts->terms[i].sign = sign;
  return MPL_OK;
}

int mpl_termset_sign(const mpl_termset *ts, int i) { return ts->terms[i].sign; }

int mpl_termset_count(const mpl_termset *ts) { return ts ? ts->n_terms : 0; }
const char *mpl_termset_name(const mpl_termset *ts, int i) { return ts->terms[i].name; }
const char *mpl_termset_description(const mpl_termset *ts, int i) { return ts->terms[i].description; }
mpl_expr *mpl_termset_expr(const mpl_termset *ts, int i) { return ts->terms[i].expr; }

int mpl_termset_find(const mpl_termset *ts, const char *name) {
  for (int i = 0; ts && i < ts->n_terms; i++)
    if (strcmp(ts->terms[i].name, name) == 0) return i;
  return -1;
}

/* }====== */

/* {====== Elementwise functions (the smooth ones, and relu, abs, sign: exact where differentiable) ====== */

double mpl__fn_eval(mpl_func f, double x) {
  switch (f) {
  case MPL_FN_EXP: return exp(x);
  case MPL_FN_LOG: return log(x);
  case MPL_FN_TANH: return tanh(x);
  case MPL_FN_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
  case MPL_FN_SQUARE: return x * x;
  case MPL_FN_SQRT: return sqrt(x);
  case MPL_FN_RECIP: return 1 / x;
  case MPL_FN_RELU: return x > 0 || isnan(x) ? x : 0.0; /* NaN stays NaN */
  case MPL_FN_ABS: return fabs(x);
  case MPL_FN_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : isnan(x) ? x : 0.0;
  default: return NAN;
  }
}

double mpl__fn_deriv(mpl_func f, double x) {
  switch (f) {
  case MPL_FN_EXP: return exp(x);
  case MPL_FN_LOG: return 1 / x;
  case MPL_FN_TANH: { double t = tanh(x); return 1 - t * t; }
  case MPL_FN_SIGMOID: { double s = mpl__fn_eval(MPL_FN_SIGMOID, x); return s * (1 - s); }
  case MPL_FN_SQUARE: return 2 * x;
  case MPL_FN_SQRT: return 0.5 / sqrt(x);
  case MPL_FN_RECIP: return -1 / (x * x);
  /* Not differentiable at 0: the subgradient 0 there (docs/rules.md). */
  case MPL_FN_RELU: return x > 0 ? 1.0 : 0.0;
  case MPL_FN_ABS: return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
  case MPL_FN_SIGN: return 0.0;
  default: return NAN;
  }
}

const char *mpl__fn_name(mpl_func f) {
  static const char *names[] = {"exp", "log", "tanh", "sigmoid", "square", "sqrt", "recip",
                                "relu", "abs", "sign"};
  return (f >= 0 && f < MPL_FN_COUNT) ? names[f] : "?";
}

/* }====== */
