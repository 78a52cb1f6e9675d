/* metaplast: reading the MPL_FMT_CODE print form back into the term IR (mpl_expr_parse).
 * A recursive-descent parser over the grammar
 *     expr  := NUMBER | LEAF | NAME '(' expr [',' expr] ')'
 * where LEAF is pre, post, e_pre, e_post, W, ones_pre or ones_post and NAME a node kind of the
 * table of operations (ops.c: add sub mul matmul neg t sum mean norm), a convenience (outer dot) or an
 * elementwise function (exp log ...). Nodes are built by the table's shape rules, as the public
 * builders build them, so a printed term parses back to the very same node.
 * See LICENSE for copyright. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/expr.h"

#include "ops.h"

#define MAX_DEPTH 256

typedef struct parser {
  mpl_termset *ts;
  const char *text, *p;
  int depth;
  mpl_err *err;
  int failed;
} parser;

static int col(const parser *P, const char *at) { return (int)(at - P->text) + 1; }

static mpl_expr *fail(parser *P, const char *at, const char *fmt, const char *what) {
  if (!P->failed) {
    char msg[1000];
    snprintf(msg, sizeof msg, fmt, what);
    mpl_errorf(P->err, MPL_EFORMAT, "column %d: %s", col(P, at), msg);
  }
  P->failed = 1;
  return NULL;
}

static void skip_space(parser *P) {
  while (isspace((unsigned char)*P->p)) P->p++;
}

/* The leaves, by their code names. */
static mpl_expr *leaf(parser *P, const char *name) {
  static const char *sig[MPL_SIG_COUNT] = {"pre", "post", "e_pre", "e_post", "W"};
  for (int s = 0; s < MPL_SIG_COUNT; s++)
    if (!strcmp(name, sig[s])) return mpl_sig(P->ts, (mpl_signal)s);
  if (!strcmp(name, "ones_pre")) return mpl_ones(P->ts, MPL_DIM_PRE);
  if (!strcmp(name, "ones_post")) return mpl_ones(P->ts, MPL_DIM_POST);
  return NULL;
}

/* Conveniences that are not node kinds of their own. */
static const struct { const char *name; mpl_expr *(*f)(mpl_termset *, mpl_expr *, mpl_expr *); } conveniences[] = {
  {"outer", mpl_outer}, {"dot", mpl_dot},
};
enum { CONVENIENCE = 1000, FUNCTION = 2000 };

/* A node kind of the table of operations (its mpl_op), a convenience (CONVENIENCE + i) or an
 * elementwise function (FUNCTION + f); -1 if unknown. */
static int find_op(const char *name) {
  int op = mpl__op_find(name);
  if (op >= 0) return op;
  for (size_t i = 0; i < sizeof conveniences / sizeof *conveniences; i++)
    if (!strcmp(name, conveniences[i].name)) return CONVENIENCE + (int)i;
  for (int f = 0; f < MPL_FN_COUNT; f++)
    if (!strcmp(name, mpl__fn_name((mpl_func)f))) return FUNCTION + f;
  return -1;
}

static int arity(int k) { return k >= FUNCTION ? 1 : k >= CONVENIENCE ? 2 : mpl__ops[k].arity; }

static mpl_expr *build(parser *P, int k, mpl_expr *a, mpl_expr *b) {
  if (k >= FUNCTION) return mpl_fn(P->ts, (mpl_func)(k - FUNCTION), a);
  if (k >= CONVENIENCE) return conveniences[k - CONVENIENCE].f(P->ts, a, b);
  return mpl__op_build(P->ts, (mpl_op)k, a, b);
}

static mpl_expr *parse_expr(parser *P);

static int expect(parser *P, char c) {
  skip_space(P);
  if (*P->p == c) { P->p++; return 1; }
  char want[2] = {c, 0};
  fail(P, P->p, *P->p ? "expected '%s'" : "expected '%s', found the end", want);
  return 0;
}

/* Apply a built node or report the builder's (shape) error at the call. */
static mpl_expr *built(parser *P, const char *at, const char *name, mpl_expr *e) {
  if (e || P->failed) return e;
  const char *why = mpl_termset_error(P->ts);
  char msg[700];
  snprintf(msg, sizeof msg, "%s(...): %s", name, why ? why : "cannot build");
  mpl_termset_clear_error(P->ts);
  return fail(P, at, "%s", msg);
}

static mpl_expr *parse_call(parser *P, const char *at, const char *name) {
  int k = find_op(name);
  if (k < 0) return fail(P, at, "unknown operation or function '%s'", name);
  int binary = arity(k) == 2;
  P->p++; /* '(' */
  mpl_expr *a = parse_expr(P), *b = NULL;
  if (!a) return NULL;
  if (binary) {
    if (!expect(P, ',')) return NULL;
    if (!(b = parse_expr(P))) return NULL;
  } else {
    skip_space(P);
    if (*P->p == ',') return fail(P, P->p, "'%s' takes one argument", name);
  }
  if (!expect(P, ')')) return NULL;
  return built(P, at, name, build(P, k, a, b));
}

static mpl_expr *parse_number(parser *P) {
  const char *at = P->p;
  char *end;
  errno = 0;
  double v = strtod(at, &end);
  if (end == at) return fail(P, at, "expected a number%s", "");
  if (errno == ERANGE || !isfinite(v)) return fail(P, at, "number out of range%s", "");
  P->p = end;
  return built(P, at, "number", mpl_num(P->ts, v));
}

static mpl_expr *parse_expr(parser *P) {
  skip_space(P);
  const char *at = P->p;
  if (++P->depth > MAX_DEPTH) return fail(P, at, "nested deeper than %s levels", "256");
  mpl_expr *e = NULL;
  if (isdigit((unsigned char)*at) || *at == '-' || *at == '+' || *at == '.') {
    e = parse_number(P);
  } else if (isalpha((unsigned char)*at) || *at == '_') {
    char name[64];
    size_t k = 0;
    while (isalnum((unsigned char)P->p[k]) || P->p[k] == '_') k++;
    if (k >= sizeof name) return fail(P, at, "name too long%s", "");
    memcpy(name, at, k);
    name[k] = '\0';
    P->p += k;
    skip_space(P);
    if (*P->p == '(') e = parse_call(P, at, name);
    else if (!(e = leaf(P, name)))
      e = fail(P, at, find_op(name) >= 0 ? "'%s' needs arguments in parentheses" : "unknown signal '%s'", name);
  } else {
    e = fail(P, at, *at ? "unexpected character '%.1s'" : "expected an expression, found the end%s", at);
  }
  P->depth--;
  return e;
}

mpl_expr *mpl_expr_parse(mpl_termset *ts, const char *text, mpl_err *err) {
  if (!ts || !text) {
    mpl_errorf(err, MPL_EINVAL, "mpl_expr_parse: NULL argument");
    return NULL;
  }
  parser P = {.ts = ts, .text = text, .p = text, .err = err};
  mpl_expr *e = parse_expr(&P);
  skip_space(&P);
  if (e && *P.p) e = fail(&P, P.p, "unexpected text after the expression: '%.20s'", P.p);
  return e;
}
