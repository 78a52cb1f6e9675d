/* metaplast: compiling a term set into a plan, and the plan's forward and reverse evaluation.
 *
 * Each term is lowered (ir/lower.c, by the rows of the table of operations, ir/ops.c) into plan
 * nodes, vectors and scalars shared across terms, and pieces c * s * u v^T or c * s * W; nothing
 * costs more than one pass over W. The update then adds one rank-1 matrix per group of pieces that
 * share a vector: u (sum_k theta c s v_k)^T or (sum_k theta c s u_k) v^T, the groups chosen by a
 * minimum vertex cover of the pieces' (u, v) graph, so that the rank (and the meta-gradient's
 * cost, which grows with it) is the least such grouping allows. See LICENSE for copyright. */
#include "plan.h"

#include "metaplast/native.h"

#include <cblas.h>
#include <stdio.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* {====== Compilation ====== */

/* Grouping the pieces: a minimum vertex cover of their (u, v) graph. */

typedef struct bigraph {
  int *first, *adj;      /* left vertex a's neighbours: adj[first[a] .. first[a+1]-1] */
  int *match_l, *match_r; /* matched partner, or -1 */
  char *seen;            /* right vertices visited by the current search */
} bigraph;

/* Kuhn's augmenting path from left vertex a. */
static int augment(bigraph *g, int a) {
  for (int e = g->first[a]; e < g->first[a + 1]; e++) {
    int b = g->adj[e];
    if (g->seen[b]) continue;
    g->seen[b] = 1;
    if (g->match_r[b] < 0 || augment(g, g->match_r[b])) {
      g->match_l[a] = b;
      g->match_r[b] = a;
      return 1;
    }
  }
  return 0;
}

/* Koenig: mark the vertices reachable from left vertex a by alternating paths (any edge from
 * the left, the matching edge back from the right). */
static void reach(const bigraph *g, int a, char *zl, char *zr) {
  if (zl[a]) return;
  zl[a] = 1;
  for (int e = g->first[a]; e < g->first[a + 1]; e++) {
    int b = g->adj[e];
    if (zr[b]) continue;
    zr[b] = 1;
    if (g->match_r[b] >= 0) reach(g, g->match_r[b], zl, zr);
  }
}

int mpl__min_cover(int nl, int nr, int ne, const int *el, const int *er, char *in_l, char *in_r) {
  bigraph g;
  int *ints = malloc(((size_t)2 * nl + nr + ne + 2) * sizeof *ints);
  char *chars = calloc((size_t)nl + 2 * (size_t)nr + 1, 1);
  if (!ints || !chars) {
    free(ints);
    free(chars);
    return MPL_ENOMEM;
  }
  g.first = ints;
  g.adj = g.first + nl + 1;
  g.match_l = g.adj + ne;
  g.match_r = g.match_l + nl;
  g.seen = chars;
  char *zl = chars + nr, *zr = zl + nl;
  memset(g.first, 0, ((size_t)nl + 1) * sizeof *g.first);
  for (int i = 0; i < ne; i++) g.first[el[i] + 1]++;
  for (int a = 0; a < nl; a++) g.first[a + 1] += g.first[a];
  for (int a = 0; a < nl; a++) g.match_l[a] = -1; /* here: the next free slot of a's list */
  for (int i = 0; i < ne; i++) g.adj[g.first[el[i]] + ++g.match_l[el[i]]] = er[i];
  for (int a = 0; a < nl; a++) g.match_l[a] = -1;
  for (int b = 0; b < nr; b++) g.match_r[b] = -1;
  int size = 0;
  for (int a = 0; a < nl; a++) {
    memset(g.seen, 0, (size_t)nr);
    size += augment(&g, a);
  }
  for (int a = 0; a < nl; a++)
    if (g.match_l[a] < 0) reach(&g, a, zl, zr);
  for (int a = 0; a < nl; a++) in_l[a] = !zl[a];
  for (int b = 0; b < nr; b++) in_r[b] = zr[b];
  free(ints);
  free(chars);
  return size;
}

/* The vector a piece shares with its group. */
static int piece_key(const mpl_piece *p) { return p->side ? p->v : p->u; }

static int cmp_piece(const void *x, const void *y) {
  const mpl_piece *p = x, *q = y;
  if (p->wmat != q->wmat) return p->wmat - q->wmat;
  if (p->side != q->side) return p->side - q->side;
  if (piece_key(p) != piece_key(q)) return piece_key(p) - piece_key(q);
  return p->term - q->term;
}

/* Sides of the OUTER pieces[0..n-1] (sorted by u): each piece joins the group of its u if u is
 * in a minimum vertex cover of the (u, v) graph, else that of its v; then sorted by group.
 * Nothing changes when the distinct u are already a minimum cover. */
static int choose_sides(mpl_rule *r, int n) {
  mpl_piece *pc = r->pieces;
  int *ids = calloc(3 * (size_t)n + 1, sizeof *ids), nl = 0, nr = 0;
  char *in = calloc(2 * (size_t)n + 1, 1);
  if (!ids || !in) {
    free(ids);
    free(in);
    return MPL_ENOMEM;
  }
  int *el = ids, *er = el + n, *rnode = er + n; /* left vertices: the distinct u, in order */
  for (int i = 0; i < n; i++) {
    nl += i == 0 || pc[i].u != pc[i - 1].u;
    el[i] = nl - 1;
    int b = 0;
    while (b < nr && rnode[b] != pc[i].v) b++;
    if (b == nr) rnode[nr++] = pc[i].v;
    er[i] = b;
  }
  int k = mpl__min_cover(nl, nr, n, el, er, in, in + n);
  if (k >= 0 && k < nl) {
    for (int i = 0; i < n; i++) pc[i].side = !in[el[i]];
    qsort(pc, (size_t)n, sizeof *pc, cmp_piece);
  }
  free(ids);
  free(in);
  return k < 0 ? k : MPL_OK;
}

/* live[i]: whether plan node i's adjoint reaches anything at a layer where the signals in dead
 * (bit s for signal s) take no adjoint: a signal that takes one, or dL/dW through a W x or
 * W^T x node. Operands come before their users in r->nodes. */
static void live_nodes(const mpl_rule *r, unsigned dead, char *live) {
  for (int i = 0; i < r->n_nodes; i++) {
    const mpl_pnode *n = &r->nodes[i];
    if (n->op == MPL_OP_SIG) live[i] = !(dead >> n->arg & 1u);
    else if (n->op == MPL_OP_GEMV || n->op == MPL_OP_GEMVT) live[i] = 1;
    else live[i] = (n->a >= 0 && live[n->a]) || (n->b >= 0 && live[n->b]);
  }
}

void mpl__rule_row_kinds(const mpl_rule *r, unsigned dead, int sums, char *kind_p, char *kind_q) {
  char live[r->n_nodes > 0 ? r->n_nodes : 1];
  live_nodes(r, dead, live);
  for (int g = 0; g < r->n_groups; g++) {
    int vec = r->group_vec[g];
    char own = sums && mpl__rule_group_is_sum(r, g) ? MPL_ROW_SUM : MPL_ROW_PRODUCT;
    char other = live[vec] ? MPL_ROW_PRODUCT : MPL_ROW_NONE;
    kind_p[g] = r->group_side[g] ? other : own;
    kind_q[g] = r->group_side[g] ? own : other;
  }
}

void mpl__rule_products_needed(const mpl_rule *r, unsigned dead, int *need_p, int *need_q) {
  int ng = r->n_groups;
  char kp[ng > 0 ? ng : 1], kq[ng > 0 ? ng : 1];
  mpl__rule_row_kinds(r, dead, 0, kp, kq);
  *need_p = *need_q = 0;
  for (int g = 0; g < ng; g++) {
    if (kp[g] == MPL_ROW_PRODUCT) *need_p = 1;
    if (kq[g] == MPL_ROW_PRODUCT) *need_q = 1;
  }
}

/* A group of one piece may share either of its vectors. Sharing v where v's adjoint is not
 * needed at layer 1 (the input image's, pre) lets the reverse pass skip the products G^T u
 * there (FA's F0 = -e_post pre^T); the rank is the same. pieces[0..n-1] are sorted by group. */
static void prefer_dead_v(mpl_rule *r, int n) {
  char live[r->n_nodes > 0 ? r->n_nodes : 1];
  live_nodes(r, 1u << MPL_SIG_PRE, live);
  mpl_piece *pc = r->pieces;
  int flipped = 0;
  for (int i = 0; i < n; i++) {
    int alone = (i == 0 || pc[i - 1].side || pc[i - 1].u != pc[i].u) && (i + 1 == n || pc[i + 1].side || pc[i + 1].u != pc[i].u);
    if (!pc[i].side && alone && !live[pc[i].v]) pc[i].side = 1, flipped = 1;
  }
  if (flipped) qsort(pc, (size_t)n, sizeof *pc, cmp_piece);
}

/* Sort pieces (OUTER by group, then WMAT) and index the groups. */
static int build_groups(mpl_rule *r, mpl_err *err) {
  if (r->n_pieces > 0) qsort(r->pieces, (size_t)r->n_pieces, sizeof *r->pieces, cmp_piece);
  r->group_vec = malloc(((size_t)r->n_pieces + 1) * sizeof *r->group_vec);
  r->group_side = malloc(((size_t)r->n_pieces + 1) * sizeof *r->group_side);
  r->group_first = malloc(((size_t)r->n_pieces + 2) * sizeof *r->group_first);
  if (!r->group_vec || !r->group_side || !r->group_first) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  int i = 0, n_outer = 0;
  while (n_outer < r->n_pieces && !r->pieces[n_outer].wmat) n_outer++;
  if (choose_sides(r, n_outer) < 0) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  prefer_dead_v(r, n_outer);
  r->n_groups = 0;
  for (; i < n_outer; i++) {
    const mpl_piece *p = &r->pieces[i];
    if (i == 0 || p->side != p[-1].side || piece_key(p) != piece_key(&p[-1])) {
      r->group_vec[r->n_groups] = piece_key(p);
      r->group_side[r->n_groups] = p->side;
      r->group_first[r->n_groups++] = i;
    }
  }
  r->group_first[r->n_groups] = i;
  r->first_wmat = i;
  for (int k = 0; k < r->n_nodes; k++)
    if (r->nodes[k].op == MPL_OP_SIG) r->uses[r->nodes[k].arg] = 1;
    else if (r->nodes[k].op == MPL_OP_GEMV || r->nodes[k].op == MPL_OP_GEMVT) r->uses[MPL_SIG_W] = 1;
  if (r->first_wmat < r->n_pieces || r->n_ew) r->uses[MPL_SIG_W] = 1;
  if (r->n_natives) /* a native term may read anything */
    for (int s = 0; s < MPL_SIG_COUNT; s++) r->uses[s] = 1;
  return MPL_OK;
}

int mpl__rule_compile(const mpl_termset *ts, const int *which, int n, mpl_rule **out, mpl_err *err) {
  *out = NULL;
  mpl_rule *r = calloc(1, sizeof *r);
  if (!r) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (!which) n = mpl_termset_count(ts);
  r->n_terms = n;
  mpl_lowering C = {.err = err};
  mpl_plist all = {0}, ew = {0};
  r->native_term = malloc(((size_t)n + 1) * sizeof *r->native_term);
  r->natives = malloc(((size_t)n + 1) * sizeof *r->natives);
  r->native_src = malloc(((size_t)n + 1) * sizeof *r->native_src);
  r->native_name = malloc(((size_t)n + 1) * sizeof *r->native_name);
  if (!r->native_term || !r->natives || !r->native_src || !r->native_name) {
    mpl__rule_free(r);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  for (int t = 0; t < n && !C.failed; t++) {
    int idx = which ? which[t] : t;
    mpl_plist L = {0};
    C.term = mpl_termset_name(ts, idx);
    C.work = 0;
    if (ts->terms[idx].native) {
      r->native_term[r->n_natives] = t;
      r->native_src[r->n_natives] = mpl_termset_source(ts, idx);
      r->native_name[r->n_natives] = mpl_termset_name(ts, idx);
      r->natives[r->n_natives++] = ts->terms[idx].native;
      continue;
    }
    if (mpl__lower(&C, mpl_termset_expr(ts, idx), &L) == 0)
      for (int i = 0; i < L.n; i++) {
        mpl_piece p = L.p[i];
        p.term = t;
        if (p.c != 0 && mpl__push(&C, p.wf ? &ew : &all, p) < 0) break;
      }
    free(L.p);
  }
  r->nodes = C.nodes;
  r->n_nodes = C.n_nodes;
  r->pieces = all.p;
  r->n_pieces = all.n;
  r->ew = ew.p;
  r->n_ew = ew.n;
  r->wnodes = C.wnodes;
  r->n_wnodes = C.n_wnodes;
  r->wleaf = -1;
  for (int k = 0; k < r->n_wnodes; k++)
    if (r->wnodes[k].op == MPL_OP_SIG) r->wleaf = k;
  if (C.failed || build_groups(r, err) < 0) {
    mpl__rule_free(r);
    return err ? err->code : MPL_EINVAL;
  }
  *out = r;
  return MPL_OK;
}

void mpl__rule_free(mpl_rule *r) {
  if (!r) return;
  free(r->nodes);
  free(r->pieces);
  free(r->group_vec);
  free(r->group_side);
  free(r->group_first);
  free(r->native_term);
  free(r->natives);
  free(r->native_src);
  free(r->native_name);
  free(r->ew);
  free(r->wnodes);
  free(r);
}

/* }====== */

/* {====== Native callbacks, with the fault context ====== */

/* The native callback this thread is running, for a fault handler (mpl_native_current): plain
 * thread-local pointers, written before the call and cleared after it. */
static _Thread_local const char *cur_term, *cur_src, *cur_phase;

int mpl_native_current(const char **term, const char **source, const char **phase) {
  if (!cur_term) return 0;
  if (term) *term = cur_term;
  if (source) *source = cur_src ? cur_src : "";
  if (phase) *phase = cur_phase;
  return 1;
}

static void enter(const mpl_rule *r, int k, const char *phase) {
  cur_src = r->native_src[k];
  cur_phase = phase;
  cur_term = r->native_name[k];
  atomic_signal_fence(memory_order_seq_cst); /* set before the callback runs, as a handler sees it */
}

static void leave(void) {
  atomic_signal_fence(memory_order_seq_cst);
  cur_term = NULL;
}

static void native_value(const mpl_rule *r, int k, const mpl_native_io *io, double *out) {
  enter(r, k, "value");
  r->natives[k]->value(r->natives[k]->user, io, out);
  leave();
}

static void native_vjp_call(const mpl_rule *r, int k, const mpl_native_io *io, const double *G, double *const bar[4],
                            double *bar_W) {
  enter(r, k, "vjp");
  r->natives[k]->vjp(r->natives[k]->user, io, G, bar, bar_W);
  leave();
}

/* }====== */

/* {====== Evaluation ====== */

static int dimlen(mpl_dim d, int n_pre, int n_post) {
  return d == MPL_DIM_ONE ? 1 : d == MPL_DIM_PRE ? n_pre : n_post;
}

size_t mpl__rule_nvals(const mpl_rule *r, int n_pre, int n_post) {
  size_t s = 0;
  for (int i = 0; i < r->n_nodes; i++) s += (size_t)dimlen(r->nodes[i].dim, n_pre, n_post);
  return s;
}

/* Scratch of the elementwise pieces' row passes: W-function values and adjoints of one row, and a
 * copy of the row. It ends mpl__rule_nscratch's scratch. */
static size_t ew_scratch(const mpl_rule *r, int n_pre) {
  return r->n_ew ? (2 * (size_t)r->n_wnodes + 3) * (size_t)n_pre : 0;
}

size_t mpl__rule_nscratch(const mpl_rule *r, int n_pre, int n_post) {
  size_t dense = r->n_natives ? 2 * (size_t)n_pre * (size_t)n_post + 2 * ((size_t)n_pre + (size_t)n_post) : 0;
  return 2 * ((size_t)r->n_groups + 1) * ((size_t)n_pre + (size_t)n_post) + dense + ew_scratch(r, n_pre);
}

size_t mpl__rule_nscratch_lazy(const mpl_rule *r, int n_pre, int n_post, int kmax) {
  return mpl__rule_nscratch(r, n_pre, n_post) + 2 * ((size_t)r->n_groups + 1) * (size_t)(kmax > 0 ? kmax : 0);
}

int mpl__rule_is_lazy(const mpl_rule *r) { return r->n_natives == 0 && r->n_ew == 0; }
int mpl__rule_needs_dense(const mpl_rule *r) { return r->n_natives > 0; }
int mpl__rule_has_wmat(const mpl_rule *r) { return r->first_wmat < r->n_pieces; }

static double vsum(int n, const double *x) {
  double s = 0;
  for (int j = 0; j < n; j++) s += x[j];
  return s;
}

void mpl__lazy_gemv(int n_post, int n_pre, const double *M, int k, const double *A, const double *B,
                    const double *S, const double *R, int trans, double alpha, const double *x, double beta,
                    double *y, double *tmp) {
  cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, n_post, n_pre, alpha, M, n_pre, x, 1, beta, y, 1);
  if (k > 0 && !trans) { /* + A^T (B x) */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, k, n_pre, 1, B, n_pre, x, 1, 0, tmp, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, k, n_post, alpha, A, n_post, tmp, 1, 1, y, 1);
  } else if (k > 0) {    /* + B^T (A x) */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, k, n_post, 1, A, n_post, x, 1, 0, tmp, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, k, n_pre, alpha, B, n_pre, tmp, 1, 1, y, 1);
  }
  int ny = trans ? n_pre : n_post, nx = trans ? n_post : n_pre;
  const double *rows_one = trans ? R : S, *cols_one = trans ? S : R; /* (1 s^T) x = (s . x) 1, (r 1^T) x = (1 . x) r */
  if (rows_one) {
    double c = alpha * cblas_ddot(nx, rows_one, 1, x, 1);
    for (int j = 0; j < ny; j++) y[j] += c;
  }
  if (cols_one) cblas_daxpy(ny, alpha * vsum(nx, x), cols_one, 1, y, 1);
}

/* Node n is W pre. */
static int is_wpre(const mpl_rule *r, const mpl_pnode *n) {
  return n->op == MPL_OP_GEMV && r->nodes[n->a].op == MPL_OP_SIG && r->nodes[n->a].arg == MPL_SIG_PRE;
}

int mpl__rule_has_wpre(const mpl_rule *r) {
  for (int i = 0; i < r->n_nodes; i++)
    if (is_wpre(r, &r->nodes[i])) return 1;
  return 0;
}

int mpl__rule_group_is_sum(const mpl_rule *r, int g) { return r->nodes[r->group_vec[g]].op == MPL_OP_ONES; }

int mpl__rule_nrank1(const mpl_rule *r) {
  int k = 0;
  for (int i = 0; i < r->n_nodes; i++) k += r->nodes[i].op == MPL_OP_GEMV || r->nodes[i].op == MPL_OP_GEMVT;
  return k;
}

int mpl_termset_plan(const mpl_termset *ts, const int *which, int n, mpl_plan_info *info, mpl_err *err) {
  int count = mpl_termset_count(ts);
  if (which && n < 0) return mpl_errorf(err, MPL_EINVAL, "mpl_termset_plan: %d terms", n);
  for (int t = 0; which && t < n; t++)
    if (which[t] < 0 || which[t] >= count)
      return mpl_errorf(err, MPL_EINVAL, "mpl_termset_plan: term index %d is not among the %d terms", which[t], count);
  mpl_rule *r;
  int rc = mpl__rule_compile(ts, which, n, &r, err);
  if (rc < 0) return rc;
  /* the products as the engine counts them (mpl_episode's nwx): every W x or W^T x node but W pre */
  *info = (mpl_plan_info){.terms = r->n_terms, .rank = r->n_groups, .wmat = mpl__rule_has_wmat(r),
                          .wproducts = mpl__rule_nrank1(r) - mpl__rule_has_wpre(r), .natives = r->n_natives,
                          .elementwise = r->n_ew};
  for (int g = 0; g < r->n_groups; g++) info->rank_sums += mpl__rule_group_is_sum(r, g);
  for (int i = 0; i < r->n_nodes; i++) info->vectors += r->nodes[i].dim != MPL_DIM_ONE;
  mpl__rule_free(r);
  return MPL_OK;
}

/* {====== Deferred rank-k updates ====== */

int mpl__rankk_init(mpl_rankk *acc, int kmax, int n_post, int n_pre, int dense) {
  *acc = (mpl_rankk){.kmax = kmax, .n_post = n_post, .n_pre = n_pre, .eta = 1};
  acc->at = malloc(((size_t)kmax * n_post + 1) * sizeof *acc->at);
  acc->b = malloc(((size_t)kmax * n_pre + 1) * sizeof *acc->b);
  if (dense) acc->dense = calloc((size_t)n_post * n_pre, sizeof *acc->dense);
  return acc->at && acc->b && (!dense || acc->dense) ? 0 : -1;
}

void mpl__rankk_free(mpl_rankk *acc) {
  free(acc->at);
  free(acc->b);
  free(acc->dense);
  free(acc->cs);
  acc->at = acc->b = acc->dense = acc->cs = acc->rs = NULL;
}

int mpl__rankk_track_sums(mpl_rankk *acc) {
  if (acc->dense) return -1;
  if (!acc->cs) acc->cs = malloc(((size_t)acc->n_pre + acc->n_post) * sizeof *acc->cs);
  if (!acc->cs) return -1;
  acc->rs = acc->cs + acc->n_pre;
  return 0;
}

void mpl__rankk_reset_sums(mpl_rankk *acc, const double *C) {
  int m = acc->n_post, n = acc->n_pre;
  if (!acc->cs) return;
  memset(acc->cs, 0, (size_t)n * sizeof *acc->cs);
  for (int i = 0; i < m; i++) {
    const double *row = C + (size_t)i * n;
    double s = 0;
    for (int j = 0; j < n; j++) s += row[j], acc->cs[j] += row[j];
    acc->rs[i] = s;
  }
}

void mpl__rankk_push(mpl_rankk *acc, double s, const double *a, const double *b) {
  int m = acc->n_post, n = acc->n_pre;
  double *ra = acc->at + (size_t)acc->k * m, *rb = acc->b + (size_t)acc->k * n;
  s /= acc->eta;
  for (int j = 0; j < m; j++) ra[j] = s * a[j];
  memcpy(rb, b, (size_t)n * sizeof *rb);
  acc->k++;
  if (acc->cs) { /* (ra rb^T)^T 1 = (1 . ra) rb, (ra rb^T) 1 = (1 . rb) ra */
    double sa = 0, sb = 0;
    for (int j = 0; j < m; j++) sa += ra[j];
    for (int j = 0; j < n; j++) sb += rb[j];
    cblas_daxpy(n, sa, rb, 1, acc->cs, 1);
    cblas_daxpy(m, sb, ra, 1, acc->rs, 1);
  }
}

void mpl__rankk_flush(mpl_rankk *acc, double *C) {
  int m = acc->n_post, n = acc->n_pre;
  double eta = acc->eta;
  if (acc->k == 0) {
    if (eta != 1) cblas_dscal(m * n, eta, C, 1);
  } else if (acc->k == 1 && eta == 1) {
    cblas_dger(CblasRowMajor, m, n, 1, acc->at, 1, acc->b, 1, C, n);
  } else {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, acc->k, eta, acc->at, m, acc->b, n, eta, C, n);
  }
  if (acc->cs && eta != 1) {
    cblas_dscal(n, eta, acc->cs, 1);
    cblas_dscal(m, eta, acc->rs, 1);
  }
  acc->k = 0;
  acc->eta = 1;
  if (acc->has_dense) {
    cblas_daxpy(m * n, 1, acc->dense, 1, C, 1);
    memset(acc->dense, 0, (size_t)m * n * sizeof *acc->dense);
    acc->has_dense = 0;
  }
}

/* }====== */

static double wscale(const mpl_layer_io *io) { return io->wscale != 0 ? io->wscale : 1; }

/* In compact values, node i's value is not stored: a signal, a ones vector or W pre. */
static int external(const mpl_rule *r, int i) {
  const mpl_pnode *n = &r->nodes[i];
  return n->op == MPL_OP_SIG || n->op == MPL_OP_ONES || is_wpre(r, n);
}

size_t mpl__rule_nvals_compact(const mpl_rule *r, int n_pre, int n_post) {
  size_t s = 0;
  for (int i = 0; i < r->n_nodes; i++)
    if (!external(r, i)) s += (size_t)dimlen(r->nodes[i].dim, n_pre, n_post);
  return s;
}

/* The nodes' adjoints at offs[i] (mpl__rule_nvals's layout) and their values at vp[i]: in val
 * at the same offsets, or with compact values (io->ones and io->z given) a signal, a ones
 * vector or W pre where io has it and every other node in val packed in order. */
static void node_layout(const mpl_rule *r, const mpl_layer_io *io, const double *val, size_t *offs,
                        const double **vp) {
  size_t off = 0, voff = 0;
  int compact = io->ones && io->z;
  for (int i = 0; i < r->n_nodes; i++) {
    const mpl_pnode *n = &r->nodes[i];
    size_t len = (size_t)dimlen(n->dim, io->n_pre, io->n_post);
    offs[i] = off;
    off += len;
    if (compact && external(r, i)) {
      vp[i] = n->op == MPL_OP_SIG ? io->sig[n->arg] : n->op == MPL_OP_ONES ? io->ones : io->z;
    } else {
      vp[i] = val + (compact ? voff : offs[i]);
      voff += len;
    }
  }
}

/* The products with W (GEMV: W a, GEMVT: W^T a), the only plan kinds without a kernel in the
 * table of operations: they read the layer's weights, held lazily, and queue their adjoint's
 * rank-1 part. */
static int is_wproduct(const mpl_pnode *n) { return n->op == MPL_OP_GEMV || n->op == MPL_OP_GEMVT; }

static void wproduct_forward(const mpl_rule *r, const mpl_layer_io *io, const mpl_pnode *n, const double *a,
                             double *y) {
  int np = io->n_pre, nq = io->n_post;
  if (n->op == MPL_OP_GEMV && io->z && is_wpre(r, n)) memcpy(y, io->z, (size_t)nq * sizeof *y);
  else mpl__lazy_gemv(nq, np, io->W, io->wk, io->WA, io->WB, io->WS, io->WR, n->op == MPL_OP_GEMVT, wscale(io), a, 0,
                      y, io->tmp);
}

void mpl__rule_eval(const mpl_rule *r, const mpl_layer_io *io, double *val) {
  size_t offs[r->n_nodes > 0 ? r->n_nodes : 1];
  const double *vp[r->n_nodes > 0 ? r->n_nodes : 1];
  node_layout(r, io, val, offs, vp);
  int np = io->n_pre, nq = io->n_post, compact = io->ones && io->z;
  for (int i = 0; i < r->n_nodes; i++) {
    const mpl_pnode *n = &r->nodes[i];
    if (compact && external(r, i)) continue; /* read where io has it */
    int len = dimlen(n->dim, np, nq);
    double *y = (double *)vp[i]; /* in val */
    const double *a = n->a >= 0 ? vp[n->a] : NULL, *b = n->b >= 0 ? vp[n->b] : NULL;
    int la = n->a >= 0 ? dimlen(r->nodes[n->a].dim, np, nq) : 0;
    int lb = n->b >= 0 ? dimlen(r->nodes[n->b].dim, np, nq) : 0;
    if (is_wproduct(n)) { wproduct_forward(r, io, n, a, y); continue; }
    mpl_kernel k = {.len = len, .la = la, .lb = lb, .a = a, .b = b, .y = y, .arg = n->arg, .num = n->num,
                    .sig = io->sig};
    mpl__ops[n->op].forward(&k);
  }
}

/* The scalar factor theta_t c s of a piece. */
static double piece_coef(const mpl_piece *p, const double *theta, const double *const *vp) {
  double k = theta[p->term] * p->c;
  return p->s >= 0 ? k * vp[p->s][0] : k;
}

/* sum over group g's pieces of theta c s v (side 0, n = n_pre) or theta c s u (side 1, n_post). */
static void group_sum(const mpl_rule *r, int g, const double *theta, const double *const *vp, int n, double *sum) {
  for (int i = r->group_first[g]; i < r->group_first[g + 1]; i++) {
    const mpl_piece *p = &r->pieces[i];
    const double c = piece_coef(p, theta, vp), *x = vp[r->group_side[g] ? p->u : p->v];
    if (i == r->group_first[g]) /* 0 + c x, exactly */
      for (int j = 0; j < n; j++) sum[j] = c * x[j];
    else
      cblas_daxpy(n, c, x, 1, sum, 1);
  }
}

static double wmat_coef(const mpl_rule *r, const double *theta, const double *const *vp) {
  double w = 0;
  for (int i = r->first_wmat; i < r->n_pieces; i++) w += piece_coef(&r->pieces[i], theta, vp);
  return w;
}

/* Rows of the update sum_g Ut_g Vm_g^T (Ut: n_groups x n_post, Vm: n_groups x n_pre): u_g and
 * vsum_g for a group sharing u, usum_g and v_g for one sharing v. */
static void group_matrices(const mpl_rule *r, const double *theta, const double *const *vp, int np, int nq,
                           double *Ut, double *Vm) {
  for (int g = 0; g < r->n_groups; g++) {
    double *ut = Ut + (size_t)g * nq, *vm = Vm + (size_t)g * np;
    const double *shared = vp[r->group_vec[g]];
    if (r->group_side[g]) {
      group_sum(r, g, theta, vp, nq, ut);
      memcpy(vm, shared, (size_t)np * sizeof *vm);
    } else {
      memcpy(ut, shared, (size_t)nq * sizeof *ut);
      group_sum(r, g, theta, vp, np, vm);
    }
  }
}

int mpl__rule_update_rows(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                          const double *val, double *Ut, double *Vm, double *omega) {
  size_t offs[r->n_nodes > 0 ? r->n_nodes : 1];
  const double *vp[r->n_nodes > 0 ? r->n_nodes : 1];
  node_layout(r, io, val, offs, vp);
  group_matrices(r, theta, vp, io->n_pre, io->n_post, Ut, Vm);
  *omega = wmat_coef(r, theta, vp);
  return r->n_groups;
}

/* {====== Elementwise pieces: one pass over W ====== */

/* The W-function nodes at one row w of W (n_pre weights, or 1 for a constant): wv[k] points at node
 * k's values, w itself for the leaf, else buf + k n_pre; by the table's forward kernels. */
static int wlen(const mpl_pnode *n, int np) { return n->dim == MPL_DIM_ONE ? 1 : np; }

static void wfn_row(const mpl_rule *r, const double *w, int np, double *buf, const double **wv) {
  for (int k = 0; k < r->n_wnodes; k++) {
    const mpl_pnode *n = &r->wnodes[k];
    if (n->op == MPL_OP_SIG) { wv[k] = w; continue; }
    double *y = buf + (size_t)k * np;
    mpl_kernel K = {.len = wlen(n, np), .la = n->a >= 0 ? wlen(&r->wnodes[n->a], np) : 0,
                    .lb = n->b >= 0 ? wlen(&r->wnodes[n->b], np) : 0, .a = n->a >= 0 ? wv[n->a] : NULL,
                    .b = n->b >= 0 ? wv[n->b] : NULL, .y = y, .arg = n->arg, .num = n->num};
    mpl__ops[n->op].forward(&K);
    wv[k] = y;
  }
}

/* Reverse of wfn_row: the adjoints wbar (n_wnodes rows of n_pre, seeded) flow down through the
 * table's reverse kernels; w's own adjoint is added to wb (not to its row of wbar). */
static void wfn_row_reverse(const mpl_rule *r, int np, const double *const *wv, double *wbar, double *wb) {
  for (int k = r->n_wnodes - 1; k >= 0; k--) {
    const mpl_pnode *n = &r->wnodes[k];
    if (n->op == MPL_OP_SIG || n->op == MPL_OP_NUM) continue;
    double *ab = n->a < 0 ? NULL : n->a == r->wleaf ? wb : wbar + (size_t)n->a * np;
    double *bb = n->b < 0 ? NULL : n->b == r->wleaf ? wb : wbar + (size_t)n->b * np;
    mpl_kernel K = {.len = wlen(n, np), .la = n->a >= 0 ? wlen(&r->wnodes[n->a], np) : 0,
                    .lb = n->b >= 0 ? wlen(&r->wnodes[n->b], np) : 0, .a = n->a >= 0 ? wv[n->a] : NULL,
                    .b = n->b >= 0 ? wv[n->b] : NULL, .yb = wbar + (size_t)k * np, .ab = ab, .bb = bb,
                    .arg = n->arg, .num = n->num};
    mpl__ops[n->op].reverse(&K);
  }
}

/* The scratch of the row passes (ew_scratch doubles at the end of mpl__rule_nscratch's). */
static double *ew_work(const mpl_rule *r, double *scratch, int np, int nq) {
  return scratch + mpl__rule_nscratch(r, np, nq) - ew_scratch(r, np);
}

/* Row kernels of the elementwise pieces, built for AVX2 as well where the compiler can dispatch at
 * run time (no FMA: the same rounding on every machine). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MPL_ROW_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define MPL_ROW_KERNEL
#endif

/* y = beta x + c (a ⊙ b) (first; beta 0: x is not read) or y += c (a ⊙ b); x and a may be y. */
MPL_ROW_KERNEL static void row_had(int n, int first, double beta, const double *x, double c, const double *a,
                                   const double *restrict b, double *y) {
  if (first && beta == 0)
    for (int j = 0; j < n; j++) y[j] = c * a[j] * b[j];
  else if (first)
    for (int j = 0; j < n; j++) y[j] = beta * x[j] + c * a[j] * b[j];
  else
    for (int j = 0; j < n; j++) y[j] += c * a[j] * b[j];
}

/* y = beta x + c (a ⊙ b) + u m: a row of the update with one piece and one rank-1 row; x and a (g = w
 * itself) may be y. */
MPL_ROW_KERNEL static void row_update(int n, double beta, const double *x, double c, const double *a,
                                      const double *restrict b, double u, const double *restrict m, double *y) {
  for (int j = 0; j < n; j++) y[j] = beta * x[j] + c * a[j] * b[j] + u * m[j];
}

/* y += a x. */
MPL_ROW_KERNEL static void row_axpy(int n, double a, const double *restrict x, double *restrict y) {
  for (int j = 0; j < n; j++) y[j] += a * x[j];
}

/* h = a ⊙ b. */
MPL_ROW_KERNEL static void row_mul(int n, const double *restrict a, const double *restrict b, double *restrict h) {
  for (int j = 0; j < n; j++) h[j] = a[j] * b[j];
}

/* W <- beta Wg + Ut^T Vm (ng rows) + sum_k theta c s g_k(Wg) ⊙ (u_k v_k^T) + D (natives, or NULL):
 * the whole update, one row at a time, from the weights Wg (W itself, or another matrix: then W
 * is only written). In place with several pieces, row i's part of the pieces is summed in acc
 * first (a piece's g may read the row). */
static void apply_elementwise(const mpl_rule *r, const double *theta, int np, int nq, const double *const *vp,
                              double beta, int ng, const double *Ut, const double *Vm, const double *D,
                              const double *Wg, double *W, double *work) {
  double *acc = work, *buf = acc + np, coef[r->n_ew];
  const double *wv[r->n_wnodes];
  int direct = r->n_ew == 1 || Wg != W;
  for (int k = 0; k < r->n_ew; k++) coef[k] = piece_coef(&r->ew[k], theta, vp);
  for (int i = 0; i < nq; i++) {
    const double *src = Wg + (size_t)i * np;
    double *row = W + (size_t)i * np;
    wfn_row(r, src, np, buf, wv);
    int g0 = direct && ng > 0; /* the first rank-1 row joins the first piece's pass */
    for (int k = 0; k < r->n_ew; k++) {
      const mpl_piece *p = &r->ew[k];
      double c = coef[k] * vp[p->u][i];
      if (k == 0 && g0) row_update(np, beta, src, c, wv[p->wf - 1], vp[p->v], Ut[i], Vm, row);
      else row_had(np, k == 0, direct ? beta : 0, src, c, wv[p->wf - 1], vp[p->v], direct ? row : acc);
    }
    if (!direct)
      for (int j = 0; j < np; j++) row[j] = beta * src[j] + acc[j];
    for (int g = g0; g < ng; g++) row_axpy(np, Ut[(size_t)g * nq + i], Vm + (size_t)g * np, row);
    if (D) row_axpy(np, 1, D + (size_t)i * np, row);
  }
}

/* Row i's adjoints of the pieces, from G's row gi (unchanged here): theta_bar, the adjoints of u,
 * v and s (vbar), and the W-function nodes' seeds: wbar's rows for nodes other than w itself,
 * and *lead (n_pre) the sum over the pieces whose g is w itself of their theta c s u_i v / eta. */
static void elementwise_row_reverse(const mpl_rule *r, const double *theta, int i, int np, const double *const *vp,
                                    const size_t *offs, const double *coef, double eta, const double *restrict gi,
                                    const double *const *wv, double *wbar, double *lead, double *restrict h,
                                    double *theta_bar, double *vbar) {
  for (int k = 0; k < r->n_ew; k++) {
    const mpl_piece *p = &r->ew[k];
    int gnode = p->wf - 1, gs = r->wnodes[gnode].dim != MPL_DIM_ONE;
    const double *restrict gv = wv[gnode], *restrict v = vp[p->v], ui = vp[p->u][i], cu = coef[k] * ui, ce = cu / eta;
    double *restrict gb = gnode == r->wleaf ? lead : wbar + (size_t)gnode * np;
    if (gs) row_mul(np, gi, gv, h); /* h = G_i ⊙ g(W_i) */
    else for (int j = 0; j < np; j++) h[j] = gi[j] * gv[0];
    double d = cblas_ddot(np, h, 1, v, 1); /* <G_i, g(W_i) ⊙ v> */
    row_axpy(np, cu, h, vbar + offs[p->v]);
    if (gs) row_had(np, gnode == r->wleaf && k == 0, 0, NULL, ce, gi, v, gb); /* the seed ce G_i ⊙ v */
    else gb[0] += ce * cblas_ddot(np, gi, 1, v, 1);
    double sv = p->s >= 0 ? vp[p->s][0] : 1;
    theta_bar[p->term] += p->c * sv * ui * d;
    if (p->s >= 0) vbar[offs[p->s]] += theta[p->term] * p->c * ui * d;
    vbar[offs[p->u] + i] += coef[k] * d;
  }
}

/* Reverse of the elementwise pieces with dL/dW_new = eta (G + queued rows) (acc's matrix): theta_bar,
 * the adjoints of u, v and s (vbar), and dL/dW_old's part through the g_k, c, added to G as c / eta
 * (acc's flush then makes it c), one row at a time. */
static void vjp_elementwise(const mpl_rule *r, const double *theta, const mpl_layer_io *io, const double *const *vp,
                            const size_t *offs, double *G, double eta, double *theta_bar, double *vbar, double *work) {
  int np = io->n_pre, nq = io->n_post, has_lead = 0, lead_first = r->ew[0].wf - 1 == r->wleaf;
  double *buf = work, *wbar = buf + (size_t)r->n_wnodes * np, *lead = wbar + (size_t)r->n_wnodes * np,
         *h = lead + np, coef[r->n_ew];
  const double *wv[r->n_wnodes];
  for (int k = 0; k < r->n_ew; k++) {
    coef[k] = piece_coef(&r->ew[k], theta, vp);
    has_lead |= r->ew[k].wf - 1 == r->wleaf; /* a piece whose g is w itself: its seed is `lead` */
  }
  for (int i = 0; i < nq; i++) {
    double *gi = G + (size_t)i * np;
    wfn_row(r, io->W + (size_t)i * np, np, buf, wv);
    for (int k = 0; k < r->n_wnodes; k++) /* the seeds of the nodes other than w */
      if (k != r->wleaf) memset(wbar + (size_t)k * np, 0, (size_t)np * sizeof *wbar);
    if (has_lead && !lead_first) memset(lead, 0, (size_t)np * sizeof *lead);
    elementwise_row_reverse(r, theta, i, np, vp, offs, coef, eta, gi, wv, wbar, lead, h, theta_bar, vbar);
    if (has_lead) row_axpy(np, 1, lead, gi);
    wfn_row_reverse(r, np, wv, wbar, gi); /* the rest flows into G's row */
  }
}

/* }====== */

static mpl_native_io native_io(const mpl_layer_io *io) {
  return (mpl_native_io){io->n_pre, io->n_post, io->sig[MPL_SIG_PRE], io->sig[MPL_SIG_POST],
                         io->sig[MPL_SIG_EPRE], io->sig[MPL_SIG_EPOST], io->W};
}

void mpl__rule_apply(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                     const double *val, double *W, double *scratch) {
  size_t offs[r->n_nodes > 0 ? r->n_nodes : 1];
  const double *vp[r->n_nodes > 0 ? r->n_nodes : 1];
  node_layout(r, io, val, offs, vp);
  int np = io->n_pre, nq = io->n_post, ng = r->n_groups;
  size_t nw = (size_t)np * nq;
  double beta = 1 + wmat_coef(r, theta, vp);
  mpl_rankk acc = {.k = ng, .kmax = ng, .n_post = nq, .n_pre = np, .eta = 1, .at = scratch, .b = scratch + (size_t)ng * nq};
  if (r->n_natives) { /* sum_n theta_n F_n(W_old), before W changes */
    double *D = acc.b + (size_t)ng * np, *tmp = D + nw;
    mpl_native_io nio = native_io(io);
    memset(D, 0, nw * sizeof *D);
    for (int k = 0; k < r->n_natives; k++) {
      native_value(r, k, &nio, tmp);
      cblas_daxpy((int)nw, theta[r->native_term[k]], tmp, 1, D, 1);
    }
    acc.dense = D;
    acc.has_dense = 1;
  }
  group_matrices(r, theta, vp, np, nq, acc.at, acc.b);
  if (r->n_ew) { /* elementwise pieces: the whole update in one pass over the rows of W */
    apply_elementwise(r, theta, np, nq, vp, beta, ng, acc.at, acc.b, acc.has_dense ? acc.dense : NULL, io->W, W,
                      ew_work(r, scratch, np, nq));
    return;
  }
  /* W <- (1 + omega) W + sum_g u_g vsum_g^T (+ natives), one pass */
  if (ng == 0) {
    if (beta != 1) cblas_dscal((int)nw, beta, W, 1);
  } else if (ng == 1 && beta == 1) {
    cblas_dger(CblasRowMajor, nq, np, 1, acc.at, 1, acc.b, 1, W, np);
  } else {
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nq, np, ng, 1, acc.at, nq, acc.b, np, beta, W, np);
  }
  if (acc.has_dense) cblas_daxpy((int)nw, 1, acc.dense, 1, W, 1);
}

void mpl__rule_apply_to(const mpl_rule *r, const double *theta, const mpl_layer_io *io, const double *val, double *W,
                        double *scratch) {
  if (!r->n_ew && W != io->W) memcpy(W, io->W, (size_t)io->n_pre * io->n_post * sizeof *W);
  mpl__rule_apply(r, theta, io, val, W, scratch); /* elementwise pieces: one pass from io->W into W */
}

/* y = W a: abar += W^T ybar, Wbar += ybar a^T; y = W^T a: abar += W ybar, Wbar += a ybar^T. pw
 * (weight-proportional rules) gains ybar^T y. */
static void wproduct_reverse(const mpl_rule *r, const mpl_layer_io *io, const double *const *vp, int i,
                             const char *live, const double *yb, double *ab, mpl_rankk *acc, double *pw) {
  const mpl_pnode *n = &r->nodes[i];
  const double *a = vp[n->a];
  int np = io->n_pre, nq = io->n_post;
  if (n->op == MPL_OP_GEMV) {
    if (io->zbar && is_wpre(r, n)) { /* the caller's z = W pre takes the adjoint */
      cblas_daxpy(nq, 1, yb, 1, io->zbar, 1);
      return;
    }
    if (live[n->a]) mpl__lazy_gemv(nq, np, io->W, io->wk, io->WA, io->WB, io->WS, io->WR, 1, wscale(io), yb, 1, ab, io->tmp);
    mpl__rankk_push(acc, 1, yb, a);
    if (pw) *pw += cblas_ddot(nq, yb, 1, vp[i], 1); /* ybar^T (W a) */
    return;
  }
  if (live[n->a]) mpl__lazy_gemv(nq, np, io->W, io->wk, io->WA, io->WB, io->WS, io->WR, 0, wscale(io), yb, 1, ab, io->tmp);
  mpl__rankk_push(acc, 1, a, yb);
  if (pw) *pw += cblas_ddot(np, yb, 1, vp[i], 1); /* a^T W ybar = (W^T a)^T ybar */
}

/* Reverse sweep over the plan: adjoints of node values in vbar flow to operands, signals and
 * (through W x and W^T x) to G; nodes whose adjoint reaches nothing (live) are skipped. */
static void plan_reverse(const mpl_rule *r, const mpl_layer_io *io, const double *const *vp, const size_t *offs,
                         const char *live, double *vbar, mpl_rankk *acc, double *const sig_bar[4], double *pw) {
  int np = io->n_pre, nq = io->n_post;
  for (int i = r->n_nodes - 1; i >= 0; i--) {
    const mpl_pnode *n = &r->nodes[i];
    if (!live[i]) continue;
    int len = dimlen(n->dim, np, nq);
    const double *yb = vbar + offs[i];
    int la = n->a >= 0 ? dimlen(r->nodes[n->a].dim, np, nq) : 0;
    int lb = n->b >= 0 ? dimlen(r->nodes[n->b].dim, np, nq) : 0;
    double *ab = n->a >= 0 ? vbar + offs[n->a] : NULL, *bb = n->b >= 0 ? vbar + offs[n->b] : NULL;
    const double *a = n->a >= 0 ? vp[n->a] : NULL, *b = n->b >= 0 ? vp[n->b] : NULL;
    if (is_wproduct(n)) { wproduct_reverse(r, io, vp, i, live, yb, ab, acc, pw); continue; }
    mpl_kernel k = {.len = len, .la = la, .lb = lb, .a = a, .b = b, .yb = yb, .ab = ab, .bb = bb, .arg = n->arg,
                    .sig_bar = sig_bar};
    if (mpl__ops[n->op].reverse) mpl__ops[n->op].reverse(&k);
  }
}

/* Native terms: theta_bar += <G, F_n>; the callbacks add theta_n <G, dF_n> to the signals' and
 * (densely) to W's adjoints. */
static void native_vjp(const mpl_rule *r, const double *theta, const mpl_layer_io *io, const double *G,
                       mpl_rankk *acc, double *theta_bar, double *const sig_bar[4], double *work) {
  int np = io->n_pre, nq = io->n_post;
  size_t nw = (size_t)np * nq;
  double *tmp = work, *sink = work + nw; /* sink absorbs adjoints of signals nobody needs */
  double *bar[4];
  for (int s = 0; s < 4; s++) bar[s] = sig_bar[s] ? sig_bar[s] : sink;
  mpl_native_io nio = native_io(io);
  for (int k = 0; k < r->n_natives; k++) {
    int term = r->native_term[k];
    native_value(r, k, &nio, tmp);
    theta_bar[term] += cblas_ddot((int)nw, G, 1, tmp, 1);
    if (theta[term] == 0) continue;
    memcpy(tmp, G, nw * sizeof *tmp);
    cblas_dscal((int)nw, theta[term], tmp, 1);
    native_vjp_call(r, k, &nio, tmp, bar, acc->dense);
    acc->has_dense = 1;
  }
}

/* Row i of the matrix X (rows of n doubles). */
static double *row(double *X, int i, int n) { return X + (size_t)i * n; }

/* The rows of the products: Up's row pi[g] = Ut_g (u_g, or usum_g for a group sharing v) for
 * the P rows that are products, Vq's row qi[g] = Vm_g likewise for the Qt rows. */
static void product_rows(const mpl_rule *r, const double *theta, const double *const *vp, int np, int nq,
                         const char *kp, const char *kq, const int *pi, const int *qi, double *Up, double *Vq) {
  for (int g = 0; g < r->n_groups; g++) {
    const double *shared = vp[r->group_vec[g]];
    int side = r->group_side[g];
    if (kp[g] == MPL_ROW_PRODUCT) {
      if (side) group_sum(r, g, theta, vp, nq, row(Up, pi[g], nq));
      else memcpy(row(Up, pi[g], nq), shared, (size_t)nq * sizeof *Up);
    }
    if (kq[g] == MPL_ROW_PRODUCT) {
      if (side) memcpy(row(Vq, qi[g], np), shared, (size_t)np * sizeof *Vq);
      else group_sum(r, g, theta, vp, np, row(Vq, qi[g], np));
    }
  }
}

/* X (nx rows of n) += (Y (nx rows of m) A^T) B for the k queued rows A (k x m), B (k x n):
 * the part of the products with the represented matrix that the queue adds. T: nx k doubles. */
static void queue_correct(int nx, int m, int n, int k, const double *Y, const double *A, const double *B, double *X,
                          double *T) {
  if (nx == 0 || k == 0) return;
  if (nx <= 4) { /* small products: dgemm's packing would cost more than the arithmetic */
    for (int i = 0; i < nx; i++) {
      cblas_dgemv(CblasRowMajor, CblasNoTrans, k, m, 1, A, m, Y + (size_t)i * m, 1, 0, T, 1);
      cblas_dgemv(CblasRowMajor, CblasTrans, k, n, 1, B, n, T, 1, 1, X + (size_t)i * n, 1);
    }
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nx, k, m, 1, Y, m, A, m, 0, T, k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nx, n, k, 1, T, k, B, n, 1, X, n);
  }
}

void mpl__rule_vjp_acc(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                       const double *val, double *G, mpl_rankk *acc, double *tau,
                       double *theta_bar, double *const sig_bar[4], double *vbar, double *scratch) {
  size_t offs[r->n_nodes > 0 ? r->n_nodes : 1];
  const double *vp[r->n_nodes > 0 ? r->n_nodes : 1];
  node_layout(r, io, val, offs, vp);
  int np = io->n_pre, nq = io->n_post, ng = r->n_groups;
  double *Up = scratch, *Vq = Up + (size_t)ng * nq, *P = Vq + (size_t)ng * np, *Qt = P + (size_t)ng * np;
  memset(vbar, 0, mpl__rule_nvals(r, np, nq) * sizeof *vbar);
  /* Rank-1 pieces c s u v^T: <G, .> = c s u^T G v. P's rows are (G^T Ut_g)^T, Qt's (G Vm_g)^T,
   * each computed only if used (mpl__rule_row_kinds): the products first, in group order (pi,
   * qi: a group's row, -1 if none), then the running sums. */
  unsigned dead = 0;
  for (int s = 0; s < 4; s++) dead |= sig_bar[s] ? 0u : 1u << s;
  char kp[ng > 0 ? ng : 1], kq[ng > 0 ? ng : 1], live[r->n_nodes > 0 ? r->n_nodes : 1];
  int pi[ng > 0 ? ng : 1], qi[ng > 0 ? ng : 1], npr = 0, nqr = 0;
  mpl__rule_row_kinds(r, dead, acc->cs != NULL, kp, kq);
  live_nodes(r, dead, live);
  for (int g = 0; g < ng; g++) {
    pi[g] = kp[g] == MPL_ROW_PRODUCT ? npr++ : -1;
    qi[g] = kq[g] == MPL_ROW_PRODUCT ? nqr++ : -1;
  }
  int np_all = npr, nq_all = nqr;
  for (int g = 0; g < ng; g++) {
    if (kp[g] == MPL_ROW_SUM) memcpy(row(P, pi[g] = np_all++, np), acc->cs, (size_t)np * sizeof *P);
    if (kq[g] == MPL_ROW_SUM) memcpy(row(Qt, qi[g] = nq_all++, nq), acc->rs, (size_t)nq * sizeof *Qt);
  }
  product_rows(r, theta, vp, np, nq, kp, kq, pi, qi, Up, Vq);
  if (acc->base_p || acc->base_q) { /* computed by the caller, a block of steps at once */
    if (npr) memcpy(P, acc->base_p, (size_t)npr * np * sizeof *P);
    if (nqr) memcpy(Qt, acc->base_q, (size_t)nqr * nq * sizeof *Qt);
  } else {
    if (npr <= 4) /* a few products: matrix-vector calls (dgemm would first pack all of G) */
      for (int i = 0; i < npr; i++) cblas_dgemv(CblasRowMajor, CblasTrans, nq, np, 1, G, np, row(Up, i, nq), 1, 0, row(P, i, np), 1);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, npr, np, nq, 1, Up, nq, G, np, 0, P, np);
    if (nqr <= 4)
      for (int i = 0; i < nqr; i++) cblas_dgemv(CblasRowMajor, CblasNoTrans, nq, np, 1, G, np, row(Vq, i, np), 1, 0, row(Qt, i, nq), 1);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nqr, nq, np, 1, Vq, np, G, np, 0, Qt, nq);
  }
  if (acc->k > 0) { /* G + at^T b: P += (Up at^T) b, Qt += (Vq b^T) at */
    double *T = scratch + mpl__rule_nscratch(r, np, nq);
    queue_correct(npr, nq, np, acc->k, Up, acc->at, acc->b, P, T);
    queue_correct(nqr, np, nq, acc->k, Vq, acc->b, acc->at, Qt, T);
  }
  if (acc->eta != 1) {
    if (np_all) cblas_dscal(np_all * np, acc->eta, P, 1);
    if (nq_all) cblas_dscal(nq_all * nq, acc->eta, Qt, 1);
  }
  /* A group sharing u: u^T G v = P_g . v for each piece, and u's adjoint gets G vsum = Qt_g; one
   * sharing v: u^T G v = Qt_g . u, and v's adjoint gets G^T usum = P_g. */
  double GR = 0; /* <G, the update's rank-1 part> */
  for (int g = 0; g < ng; g++) {
    int side = r->group_side[g], n_own = side ? nq : np, n_shared = side ? np : nq;
    const double *own = side ? row(Qt, qi[g], nq) : row(P, pi[g], np);
    int other = side ? pi[g] : qi[g];
    for (int i = r->group_first[g]; i < r->group_first[g + 1]; i++) {
      const mpl_piece *pc = &r->pieces[i];
      int x = side ? pc->u : pc->v; /* the piece's own vector */
      double uGv = cblas_ddot(n_own, own, 1, vp[x], 1);
      double sv = pc->s >= 0 ? vp[pc->s][0] : 1;
      double coef = piece_coef(pc, theta, vp);
      theta_bar[pc->term] += pc->c * sv * uGv;
      if (pc->s >= 0) vbar[offs[pc->s]] += theta[pc->term] * pc->c * uGv;
      cblas_daxpy(n_own, coef, own, 1, vbar + offs[x], 1);
      GR += coef * uGv;
    }
    if (other >= 0)
      cblas_daxpy(n_shared, 1, side ? row(P, other, np) : row(Qt, other, nq), 1, vbar + offs[r->group_vec[g]], 1);
  }
  /* Weight-proportional pieces c s W: <G, W_old>, densely or from tau = <G, W_new> with
   * W_new = (1 + omega) W_old + the rank-1 part. */
  double omega = 0, GW = 0;
  if (r->first_wmat < r->n_pieces) {
    omega = wmat_coef(r, theta, vp);
    GW = tau ? (*tau - GR) / (1 + omega) : cblas_ddot(np * nq, G, 1, io->W, 1);
    for (int i = r->first_wmat; i < r->n_pieces; i++) {
      const mpl_piece *pc = &r->pieces[i];
      double sv = pc->s >= 0 ? vp[pc->s][0] : 1;
      theta_bar[pc->term] += pc->c * sv * GW;
      if (pc->s >= 0) vbar[offs[pc->s]] += theta[pc->term] * pc->c * GW;
    }
  }
  acc->eta *= 1 + omega; /* dL/dW_old = (1 + omega) dL/dW_new + what follows */
  if (r->n_natives) native_vjp(r, theta, io, G, acc, theta_bar, sig_bar, Qt + (size_t)ng * nq);
  if (r->n_ew) /* after every read of G */
    vjp_elementwise(r, theta, io, vp, offs, G, acc->eta, theta_bar, vbar, ew_work(r, scratch, np, nq));
  double pw = 0;
  plan_reverse(r, io, vp, offs, live, vbar, acc, sig_bar, tau ? &pw : NULL);
  if (tau) *tau = (1 + omega) * GW + pw;
}

int mpl__rule_vjp(const mpl_rule *r, const double *theta, const mpl_layer_io *io,
                  const double *val, double *G, double *theta_bar, double *const sig_bar[4],
                  double *vbar, double *scratch) {
  mpl_rankk acc;
  if (mpl__rankk_init(&acc, mpl__rule_nrank1(r), io->n_post, io->n_pre, mpl__rule_needs_dense(r)) < 0) {
    mpl__rankk_free(&acc);
    return MPL_ENOMEM;
  }
  mpl__rule_vjp_acc(r, theta, io, val, G, &acc, NULL, theta_bar, sig_bar, vbar, scratch);
  mpl__rankk_flush(&acc, G);
  mpl__rankk_free(&acc);
  return MPL_OK;
}

void mpl__rule_term_dense(const mpl_rule *r, int t, const mpl_layer_io *io, const double *val, double *out) {
  size_t offs[r->n_nodes > 0 ? r->n_nodes : 1];
  const double *vp[r->n_nodes > 0 ? r->n_nodes : 1];
  node_layout(r, io, val, offs, vp);
  int np = io->n_pre, nq = io->n_post;
  memset(out, 0, (size_t)np * (size_t)nq * sizeof *out);
  for (int k = 0; k < r->n_natives; k++)
    if (r->native_term[k] == t) {
      mpl_native_io nio = native_io(io);
      native_value(r, k, &nio, out);
    }
  for (int i = 0; i < r->n_pieces; i++) {
    const mpl_piece *p = &r->pieces[i];
    if (p->term != t) continue;
    double k = p->c * (p->s >= 0 ? vp[p->s][0] : 1);
    if (p->wmat) cblas_daxpy(np * nq, k, io->W, 1, out, 1);
    else cblas_dger(CblasRowMajor, nq, np, k, vp[p->u], 1, vp[p->v], 1, out, np);
  }
  int any = 0;
  for (int k = 0; k < r->n_ew; k++) any |= r->ew[k].term == t;
  size_t nw = (size_t)np * nq;
  double *work = any ? malloc((ew_scratch(r, np) + nw + 1) * sizeof *work) : NULL;
  double *theta = work ? calloc((size_t)r->n_terms + 1, sizeof *theta) : NULL;
  if (theta) { /* (out of memory: the term's other pieces only) */
    theta[t] = 1;
    apply_elementwise(r, theta, np, nq, vp, 0, 0, NULL, NULL, NULL, io->W, work, work + nw);
    cblas_daxpy((int)nw, 1, work, 1, out, 1);
  }
  free(theta);
  free(work);
}

/* }====== */
