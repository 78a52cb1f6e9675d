/* metaplast: the IR's private definitions (nodes, terms, term sets; expr.c), shared by the layers
 * above it; never installed.
 * See LICENSE for copyright. */
#ifndef METAPLAST_INTERNAL_H
#define METAPLAST_INTERNAL_H

#include "metaplast/expr.h"
#include "util.h"

struct mpl_expr {
  int id;             /* index in the set's node array (creation order = a topological order) */
  int op;             /* an mpl_op: the node's kind, its row in the table of operations (ops.h) */
  mpl_dim rows, cols;
  mpl_expr *a, *b;    /* operands (NULL where unused) */
  int sig;            /* MPL_OP_SIG: mpl_signal; MPL_OP_ONES: mpl_dim; MPL_OP_FN: mpl_func */
  double num;         /* MPL_OP_NUM */
};

struct mpl_native_term;

typedef struct mpl_term {
  char *name, *description;
  mpl_expr *expr;                  /* NULL for a native term */
  struct mpl_native_term *native;  /* owned copy (strings too), or NULL */
  char *source;                    /* where the term came from ("paper", "x.so", "" for the API) */
  int sign;                        /* declared sign of its coefficient: +1, -1, 0 (none) */
} mpl_term;

struct mpl_termset {
  mpl_expr **nodes;
  int n_nodes, cap_nodes;
  mpl_term *terms;
  int n_terms, cap_terms;
  char error[512];    /* first builder error, "" if none */
  int load_first;     /* names must be unique among terms[load_first..]: the current source */
  const char *source; /* source recorded for terms added now (borrowed; NULL = "") */
  void **handles;     /* dlopen handles of loaded plugins, closed with the set */
  int n_handles;
  struct mpl__source_rec *srcs; /* the files its sources were loaded from (source.c) */
  int n_srcs;
};

/* {====== Term sources on disk (source.c, issue 25) ====== */
/* A source file a term set loaded: the specification as given ("my_terms.so", "paper",
 * "rules/oja.lua"), its resolved absolute path, "plugin" or "rules", and its content's CRC-32
 * (zlib) and size, so that a rule can find it again and tell whether it changed. */
typedef struct mpl__source_rec {
  char *spec, *path;
  const char *kind;
  unsigned long crc32;
  long long size;
} mpl__source_rec;
/* Record spec's file (realpath, hash) once. */
MPL_INTERNAL int mpl__termset_record_source(mpl_termset *ts, const char *spec, const char *path, const char *kind,
                                            mpl_err *err);
MPL_INTERNAL const mpl__source_rec *mpl__termset_source_rec(const mpl_termset *ts, const char *spec);
MPL_INTERNAL void mpl__termset_free_sources(mpl_termset *ts);
/* }====== */

/* Add a native term (copied) to ts, under ts->source. */
MPL_INTERNAL int mpl__termset_add_native(mpl_termset *ts, const struct mpl_native_term *t, mpl_err *err);
/* Drop (and free) the terms from index n on. */
MPL_INTERNAL void mpl__termset_truncate(mpl_termset *ts, int n);
/* Keep a dlopen handle open for the lifetime of ts. */
MPL_INTERNAL int mpl__termset_keep_handle(mpl_termset *ts, void *handle);

/* {====== Nodes (expr.c), for the rows of the table of operations (ops.c) ====== */
/* The node (hash-consed) of kind op (an mpl_op) with operands a, b, shape rows x cols and leaf
 * argument arg (signal, dimension or function) or constant num. */
MPL_INTERNAL mpl_expr *mpl__node(mpl_termset *ts, int op, mpl_dim rows, mpl_dim cols, mpl_expr *a, mpl_expr *b,
                                 int arg, double num);
/* Record the first builder error of ts. */
MPL_INTERNAL void mpl__builder_error(mpl_termset *ts, const char *fmt, ...) MPL_PRINTF(2, 3);
/* "rows x cols" into buf (32 bytes). */
MPL_INTERNAL const char *mpl__shape_str(const mpl_expr *e, char *buf);
MPL_INTERNAL int mpl__is_scalar(const mpl_expr *e);
/* }====== */

/* Elementwise functions: value and derivative (relu, abs, sign: the subgradient 0 at 0). */
MPL_INTERNAL double mpl__fn_eval(mpl_func f, double x);
MPL_INTERNAL double mpl__fn_deriv(mpl_func f, double x);
MPL_INTERNAL const char *mpl__fn_name(mpl_func f);

#endif
