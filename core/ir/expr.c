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

static void builder_error(mpl_termset *ts, const char *fmt, ...) MPL_PRINTF(2, 3);
static void builder_error(mpl_termset *ts, const char *fmt, ...) {
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
    if (!p) return builder_error(ts, "out of memory"), NULL;
    ts->nodes = p;
    ts->cap_nodes = cap;
  }
  mpl_expr *e = malloc(sizeof *e);
  if (!e) return builder_error(ts, "out of memory"), NULL;
  *e = proto;
  e->id = ts->n_nodes;
  ts->nodes[ts->n_nodes++] = e;
  return e;
}

static mpl_expr *node(mpl_termset *ts, mpl_op op, mpl_dim r, mpl_dim c, mpl_expr *a, mpl_expr *b) {
  mpl_expr proto = {.op = op, .rows = r, .cols = c, .a = a, .b = b};
  return intern(ts, proto);
}

const char *mpl_dim_name(mpl_dim d) {
  static const char *names[] = {"1", "n_pre", "n_post"};
  return (d >= 0 && d <= MPL_DIM_POST) ? names[d] : "?";
}

mpl_dim mpl_expr_rows(const mpl_expr *e) { return e->rows; }
mpl_dim mpl_expr_cols(const mpl_expr *e) { return e->cols; }

static const char *shape_str(const mpl_expr *e, char *buf) {
  snprintf(buf, 32, "%s x %s", mpl_dim_name(e->rows), mpl_dim_name(e->cols));
  return buf;
}

static int is_scalar(const mpl_expr *e) { return e->rows == MPL_DIM_ONE && e->cols == MPL_DIM_ONE; }

mpl_expr *mpl_sig(mpl_termset *ts, mpl_signal s) {
  static const mpl_dim rows[] = {MPL_DIM_PRE, MPL_DIM_POST, MPL_DIM_PRE, MPL_DIM_POST, MPL_DIM_POST};
  if (!ts) return NULL;
  if ((int)s < 0 || s >= MPL_SIG_COUNT) return builder_error(ts, "unknown signal %d", (int)s), NULL;
  mpl_expr proto = {.op = MPL_OP_SIG, .rows = rows[s],
                    .cols = s == MPL_SIG_W ? MPL_DIM_PRE : MPL_DIM_ONE, .sig = (int)s};
  return intern(ts, proto);
}

mpl_expr *mpl_ones(mpl_termset *ts, mpl_dim d) {
  if (!ts) return NULL;
  if (d != MPL_DIM_PRE && d != MPL_DIM_POST)
    return builder_error(ts, "ones vector: dimension must be n_pre or n_post"), NULL;
  mpl_expr proto = {.op = MPL_OP_ONES, .rows = d, .cols = MPL_DIM_ONE, .sig = (int)d};
  return intern(ts, proto);
}

mpl_expr *mpl_num(mpl_termset *ts, double c) {
  if (!ts) return NULL;
  if (!isfinite(c)) return builder_error(ts, "constant %g is not finite", c), NULL;
  if (c == 0) c = 0.0; /* -0 and +0 are one constant */
  mpl_expr proto = {.op = MPL_OP_NUM, .rows = MPL_DIM_ONE, .cols = MPL_DIM_ONE, .num = c};
  return intern(ts, proto);
}

/* Elementwise binary operations: equal shapes, or one side 1x1 (broadcast). */
static mpl_expr *elementwise(mpl_termset *ts, mpl_op op, const char *what, mpl_expr *a, mpl_expr *b) {
  if (!ts || !a || !b) return NULL;
  char sa[32], sb[32];
  if (is_scalar(a)) return node(ts, op, b->rows, b->cols, a, b);
  if (is_scalar(b) || (a->rows == b->rows && a->cols == b->cols)) return node(ts, op, a->rows, a->cols, a, b);
  builder_error(ts, "%s: shapes %s and %s differ", what, shape_str(a, sa), shape_str(b, sb));
  return NULL;
}

mpl_expr *mpl_add(mpl_termset *ts, mpl_expr *a, mpl_expr *b) { return elementwise(ts, MPL_OP_ADD, "+", a, b); }
mpl_expr *mpl_sub(mpl_termset *ts, mpl_expr *a, mpl_expr *b) { return elementwise(ts, MPL_OP_SUB, "-", a, b); }
mpl_expr *mpl_mul(mpl_termset *ts, mpl_expr *a, mpl_expr *b) { return elementwise(ts, MPL_OP_MUL, "elementwise *", a, b); }

mpl_expr *mpl_neg(mpl_termset *ts, mpl_expr *a) {
  if (!ts || !a) return NULL;
  if (a->op == MPL_OP_NEG) return a->a;
  if (a->op == MPL_OP_NUM) return mpl_num(ts, -a->num);
  return node(ts, MPL_OP_NEG, a->rows, a->cols, a, NULL);
}

mpl_expr *mpl_matmul(mpl_termset *ts, mpl_expr *a, mpl_expr *b) {
  if (!ts || !a || !b) return NULL;
  char sa[32], sb[32];
  if (a->cols != b->rows) {
    builder_error(ts, "matrix product: inner dimensions differ (%s times %s)", shape_str(a, sa), shape_str(b, sb));
    return NULL;
  }
  return node(ts, MPL_OP_MATMUL, a->rows, b->cols, a, b);
}

mpl_expr *mpl_t(mpl_termset *ts, mpl_expr *a) {
  if (!ts || !a) return NULL;
  if (is_scalar(a)) return a;
  if (a->op == MPL_OP_T) return a->a;
  return node(ts, MPL_OP_T, a->cols, a->rows, a, NULL);
}

mpl_expr *mpl_sum(mpl_termset *ts, mpl_expr *a) {
  if (!ts || !a) return NULL;
  if (is_scalar(a)) return a;
  return node(ts, MPL_OP_SUM, MPL_DIM_ONE, MPL_DIM_ONE, a, NULL);
}

mpl_expr *mpl_fn(mpl_termset *ts, mpl_func f, mpl_expr *a) {
  if (!ts || !a) return NULL;
  if ((int)f < 0 || f >= MPL_FN_COUNT) return builder_error(ts, "unknown function %d", (int)f), NULL;
  mpl_expr proto = {.op = MPL_OP_FN, .rows = a->rows, .cols = a->cols, .a = a, .sig = (int)f};
  return intern(ts, proto);
}

mpl_expr *mpl_outer(mpl_termset *ts, mpl_expr *u, mpl_expr *v) {
  if (!ts || !u || !v) return NULL;
  char su[32], sv[32];
  if (u->cols != MPL_DIM_ONE || v->cols != MPL_DIM_ONE || u->rows == MPL_DIM_ONE || v->rows == MPL_DIM_ONE) {
    builder_error(ts, "outer product needs two column vectors, got %s and %s", shape_str(u, su), shape_str(v, sv));
    return NULL;
  }
  return mpl_matmul(ts, u, mpl_t(ts, v));
}

mpl_expr *mpl_dot(mpl_termset *ts, mpl_expr *a, mpl_expr *b) {
  if (!ts || !a || !b) return NULL;
  char sa[32], sb[32];
  if (a->cols != MPL_DIM_ONE || b->cols != MPL_DIM_ONE || a->rows != b->rows) {
    builder_error(ts, "dot product needs two column vectors of one length, got %s and %s",
                  shape_str(a, sa), shape_str(b, sb));
    return NULL;
  }
  return mpl_matmul(ts, mpl_t(ts, a), b);
}

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
                      name, shape_str(e, se));
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

/* A native term without a LaTeX form, in LaTeX: F_{\text{name}} (its formula is Unicode text, which
 * would break a document; issue 25), the name's underscores escaped. */
static void native_latex(const char *name, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "F_{\\text{");
  for (const char *p = name; *p && k + 12 < n; p++) {
    if (*p == '_') out[k++] = '\\';
    if (*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) out[k++] = *p;
  }
  snprintf(out + k, n - k, "}}");
}

size_t mpl_termset_print(const mpl_termset *ts, int i, mpl_format fmt, char *buf, size_t n) {
  const mpl_term *t = &ts->terms[i];
  if (!t->native) return mpl_expr_print(t->expr, fmt, buf, n);
  char fallback[600];
  if (fmt == MPL_FMT_LATEX && !t->native->latex) native_latex(t->name, fallback, sizeof fallback);
  const char *txt = fmt == MPL_FMT_LATEX ? (t->native->latex ? t->native->latex : fallback)
                    : fmt == MPL_FMT_CODE ? t->name : t->native->formula;
  size_t k = strlen(txt);
  if (n) snprintf(buf, n, "%s", txt);
  return k;
}

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

/* {====== Elementwise functions ====== */

double mpl__fn_eval(mpl_func f, double x) {
  switch (f) {
  case MPL_FN_EXP: return exp(x);
  case MPL_FN_LOG: return log(x);
  case MPL_FN_TANH: return tanh(x);
  case MPL_FN_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
  case MPL_FN_SQUARE: return x * x;
  case MPL_FN_SQRT: return sqrt(x);
  case MPL_FN_RECIP: return 1 / x;
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
  default: return NAN;
  }
}

const char *mpl__fn_name(mpl_func f) {
  static const char *names[] = {"exp", "log", "tanh", "sigmoid", "square", "sqrt", "recip"};
  return (f >= 0 && f < MPL_FN_COUNT) ? names[f] : "?";
}

/* }====== */

/* {====== Printing ====== */

typedef struct sbuf { char *p; size_t n, len; } sbuf;

static void put(sbuf *s, const char *txt) {
  size_t k = strlen(txt);
  if (s->len < s->n) {
    size_t room = s->n - s->len - 1, c = k < room ? k : room;
    if (c < k) /* never cut a UTF-8 character in two */
      while (c > 0 && ((unsigned char)txt[c] & 0xC0) == 0x80) c--;
    memcpy(s->p + s->len, txt, c);
    s->p[s->len + c] = '\0';
    if (c < k) s->n = s->len + c + 1; /* full: later pieces must not append after the cut */
  }
  s->len += k;
}

static const char *sig_text[MPL_FMT_CODE + 1][MPL_SIG_COUNT] = {
  {"y_{ℓ−1}", "y_ℓ", "e_{ℓ−1}", "e_ℓ", "W"},
  {"y_{\\ell-1}", "y_{\\ell}", "e_{\\ell-1}", "e_{\\ell}", "W_{\\ell-1,\\ell}"},
  {"pre", "post", "e_pre", "e_post", "W"},
};

/* Binding strength: sums 1, negation 2, Hadamard 3, products 4, postfix/atoms 5. */
static int prec(const mpl_expr *e) {
  switch (e->op) {
  case MPL_OP_ADD: case MPL_OP_SUB: return 1;
  case MPL_OP_NEG: return 2;
  case MPL_OP_MUL: return 3;
  case MPL_OP_MATMUL: return 4;
  case MPL_OP_NUM: return e->num < 0 ? 2 : 5;
  default: return 5;
  }
}

static void print_rec(const mpl_expr *e, mpl_format fmt, sbuf *s);

static void print_wrapped(const mpl_expr *e, mpl_format fmt, sbuf *s, int min_prec) {
  int paren = prec(e) < min_prec;
  if (paren) put(s, fmt == MPL_FMT_LATEX ? "\\left(" : "(");
  print_rec(e, fmt, s);
  if (paren) put(s, fmt == MPL_FMT_LATEX ? "\\right)" : ")");
}

static void print_code(const mpl_expr *e, sbuf *s) {
  static const char *fname[MPL_OP_COUNT] = {
    [MPL_OP_ADD] = "add", [MPL_OP_SUB] = "sub", [MPL_OP_NEG] = "neg", [MPL_OP_MUL] = "mul",
    [MPL_OP_MATMUL] = "matmul", [MPL_OP_T] = "t", [MPL_OP_SUM] = "sum"};
  char num[64];
  switch (e->op) {
  case MPL_OP_SIG: put(s, sig_text[MPL_FMT_CODE][e->sig]); return;
  case MPL_OP_ONES: put(s, e->sig == MPL_DIM_PRE ? "ones_pre" : "ones_post"); return;
  case MPL_OP_NUM: snprintf(num, sizeof num, "%.17g", e->num); put(s, num); return;
  case MPL_OP_FN: put(s, mpl__fn_name((mpl_func)e->sig)); break;
  default: put(s, fname[e->op]); break;
  }
  put(s, "(");
  print_code(e->a, s);
  if (e->b) { put(s, ", "); print_code(e->b, s); }
  put(s, ")");
}

/* A function in its usual notation (issue 25): \exp(x), \log(x), \tanh(x), \sigma(x), x^{2}
 * (parenthesised unless x is a signal), \sqrt{x}, \frac{1}{x}; elementwise, as in the text form. */
static void print_fn_latex(const mpl_expr *e, sbuf *s) {
  static const struct { const char *open, *close; } form[] = {
    [MPL_FN_EXP] = {"\\exp\\left(", "\\right)"},   [MPL_FN_LOG] = {"\\log\\left(", "\\right)"},
    [MPL_FN_TANH] = {"\\tanh\\left(", "\\right)"}, [MPL_FN_SIGMOID] = {"\\sigma\\left(", "\\right)"},
    [MPL_FN_SQRT] = {"\\sqrt{", "}"},               [MPL_FN_RECIP] = {"\\frac{1}{", "}"}};
  if (e->sig == MPL_FN_SQUARE) {
    int atom = e->a->op == MPL_OP_SIG || e->a->op == MPL_OP_ONES;
    put(s, atom ? "{" : "\\left(");
    print_rec(e->a, MPL_FMT_LATEX, s);
    put(s, atom ? "}^{2}" : "\\right)^{2}");
    return;
  }
  put(s, form[e->sig].open);
  print_rec(e->a, MPL_FMT_LATEX, s);
  put(s, form[e->sig].close);
}

static void print_rec(const mpl_expr *e, mpl_format fmt, sbuf *s) {
  int latex = fmt == MPL_FMT_LATEX;
  char num[64];
  switch (e->op) {
  case MPL_OP_SIG: put(s, sig_text[fmt][e->sig]); break;
  case MPL_OP_ONES:
    put(s, latex ? (e->sig == MPL_DIM_PRE ? "\\mathbf{1}_{\\ell-1}" : "\\mathbf{1}_{\\ell}")
                 : (e->sig == MPL_DIM_PRE ? "1_{ℓ−1}" : "1_ℓ"));
    break;
  case MPL_OP_NUM: snprintf(num, sizeof num, "%g", e->num); put(s, num); break;
  case MPL_OP_ADD: case MPL_OP_SUB:
    print_wrapped(e->a, fmt, s, 1);
    put(s, e->op == MPL_OP_ADD ? " + " : (latex ? " - " : " − "));
    print_wrapped(e->b, fmt, s, 2);
    break;
  case MPL_OP_NEG: put(s, latex ? "-" : "−"); print_wrapped(e->a, fmt, s, 3); break;
  case MPL_OP_MUL: {
    int scale = is_scalar(e->a) || is_scalar(e->b);
    print_wrapped(e->a, fmt, s, 4);
    put(s, scale ? " " : (latex ? " \\odot " : " ⊙ "));
    print_wrapped(e->b, fmt, s, 4);
    break;
  }
  case MPL_OP_MATMUL: print_wrapped(e->a, fmt, s, 4); put(s, " "); print_wrapped(e->b, fmt, s, 5); break;
  case MPL_OP_T: {   /* LaTeX: an operand that ends in a superscript (x^{2}, x^\top) is braced: no double superscript */
    int sup = latex && (e->a->op == MPL_OP_T || (e->a->op == MPL_OP_FN && e->a->sig == MPL_FN_SQUARE));
    if (sup) put(s, "{");
    print_wrapped(e->a, fmt, s, 5);
    put(s, sup ? "}^\\top" : latex ? "^\\top" : "ᵀ");
    break;
  }
  case MPL_OP_SUM: put(s, latex ? "\\textstyle\\sum\\left(" : "Σ("); print_rec(e->a, fmt, s);
    put(s, latex ? "\\right)" : ")"); break;
  case MPL_OP_FN:
    if (latex) { print_fn_latex(e, s); break; }
    put(s, mpl__fn_name((mpl_func)e->sig));
    put(s, "(");
    print_rec(e->a, fmt, s);
    put(s, ")");
    break;
  default: put(s, "?"); break;
  }
}

size_t mpl_expr_print(const mpl_expr *e, mpl_format fmt, char *buf, size_t n) {
  sbuf s = {buf, n, 0};
  if (n) buf[0] = '\0';
  if (!e) put(&s, "(null)");
  else if (fmt == MPL_FMT_CODE) print_code(e, &s);
  else print_rec(e, fmt, &s);
  return s.len;
}

/* }====== */
