/* metaplast tests: how the rule compiler groups rank-1 pieces into update rows. The groups share
 * a left vector u (u (sum c v)^T) or a right vector v ((sum c u) v^T), chosen by a minimum vertex
 * cover of the pieces' (u, v) graph: the cover against brute force, the ranks of known rules, and
 * the grouped update, its adjoint and the episode's meta-gradient against ungrouped references.
 * See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/check.h"
#include "metaplast/net.h"
#include "metaplast/terms.h"

#include "front.h"
#include "plan.h"

#define NPRE 7
#define NPOST 5
#define NW (NPRE * NPOST)
#define RMAX 64

#include "layer_fixture.h"

/* ---- The cover ---- */

/* Size of a minimum vertex cover by brute force (nl <= 20): a cover holding the left vertices S
 * must hold every right neighbour of the others, so it is the least |S| + |N(L \ S)|. */
static int brute_cover(int nl, int nr, int ne, const int *el, const int *er) {
  int best = nl + nr;
  char nb[256];
  assert_true(nl <= 20 && nr <= 256);
  for (unsigned m = 0; m < 1u << nl; m++) {
    int size = __builtin_popcount(m);
    memset(nb, 0, (size_t)nr);
    for (int i = 0; i < ne; i++)
      if (!(m >> el[i] & 1) && !nb[er[i]]) nb[er[i]] = 1, size++;
    if (size < best) best = size;
  }
  return best;
}

/* mpl__min_cover's answer: its size is the minimum, it counts what it marks, it covers every edge. */
static void check_cover(int nl, int nr, int ne, const int *el, const int *er, int expect, const char *what) {
  char in_l[16], in_r[16];
  int k = mpl__min_cover(nl, nr, ne, el, er, in_l, in_r), marked = 0;
  if (k != expect) fail_msg("%s: cover of size %d, expected %d", what, k, expect);
  for (int a = 0; a < nl; a++) marked += in_l[a] == 1;
  for (int b = 0; b < nr; b++) marked += in_r[b] == 1;
  if (marked != k) fail_msg("%s: %d vertices marked for a cover of size %d", what, marked, k);
  for (int i = 0; i < ne; i++)
    if (!in_l[el[i]] && !in_r[er[i]]) fail_msg("%s: edge %d (%d, %d) uncovered", what, i, el[i], er[i]);
}

static void test_cover_known(void **state) {
  (void)state;
  check_cover(0, 0, 0, NULL, NULL, 0, "empty graph");
  check_cover(2, 3, 0, NULL, NULL, 0, "no edges");
  const int sl[] = {0, 0, 0, 0, 0}, sr[] = {0, 1, 2, 3, 4};
  check_cover(1, 5, 5, sl, sr, 1, "star around one u");
  check_cover(5, 1, 5, sr, sl, 1, "star around one v");
  const int kl[] = {0, 0, 0, 1, 1, 1}, kr[] = {0, 1, 2, 0, 1, 2};
  check_cover(2, 3, 6, kl, kr, 2, "K_{2,3}");
  const int pl[] = {0, 1, 1, 2}, pr[] = {0, 0, 1, 1};
  check_cover(3, 2, 4, pl, pr, 2, "path u0 v0 u1 v1 u2");
  const int ml[] = {0, 1, 2}, mr[] = {2, 0, 1};
  check_cover(3, 3, 3, ml, mr, 3, "perfect matching");
  const int rl[] = {0, 0, 1, 1, 0}, rr[] = {0, 0, 0, 0, 0};
  check_cover(2, 1, 5, rl, rr, 1, "repeated edges");
  /* quadratic.lua's graph: u = post, epost, 1, W pre, W epre and six Hadamard products; v =
   * pre, 1, W^T post, W^T epost, epre and seven others (numbered as they appear). */
  const int ql[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10};
  const int qr[] = {0, 1, 2, 3, 1, 2, 3, 0, 4, 5, 6, 7, 8, 9, 10, 11, 5, 0, 4, 0, 4, 1, 1, 1, 1, 1, 1};
  check_cover(11, 12, 27, ql, qr, 6, "quadratic.lua's (u, v) graph");
}

static void test_cover_random(void **state) {
  (void)state;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 11);
  for (int trial = 0; trial < 400; trial++) {
    int nl = 1 + (int)gsl_rng_uniform_int(rng, 7), nr = 1 + (int)gsl_rng_uniform_int(rng, 7);
    int ne = (int)gsl_rng_uniform_int(rng, (unsigned long)(nl * nr + 3)), el[60], er[60];
    for (int i = 0; i < ne; i++) {
      el[i] = (int)gsl_rng_uniform_int(rng, (unsigned long)nl);
      er[i] = (int)gsl_rng_uniform_int(rng, (unsigned long)nr);
    }
    char what[64];
    snprintf(what, sizeof what, "random graph %d (%d x %d, %d edges)", trial, nl, nr, ne);
    check_cover(nl, nr, ne, el, er, brute_cover(nl, nr, ne, el, er), what);
  }
  gsl_rng_free(rng);
}

/* ---- Compiled rules ---- */

#include "quadratic_fixture.h"

static mpl_rule *compile(const mpl_termset *ts, const int *which, int n) {
  mpl_rule *r = NULL;
  mpl_err err = {0};
  if (mpl__rule_compile(ts, which, n, &r, &err) < 0) fail_msg("mpl__rule_compile: %s", err.msg);
  return r;
}

/* The least rank of a rule's rank-1 part, by brute force over its (u, v) graph. */
static int rule_min_rank(const mpl_rule *r) {
  int nodes_l[RMAX], nodes_r[RMAX], el[4 * RMAX], er[4 * RMAX], nl = 0, nr = 0, ne = r->first_wmat;
  assert_true(ne <= 4 * RMAX);
  for (int i = 0; i < ne; i++) {
    int a = 0, b = 0;
    while (a < nl && nodes_l[a] != r->pieces[i].u) a++;
    while (b < nr && nodes_r[b] != r->pieces[i].v) b++;
    if (a == nl) nodes_l[nl++] = r->pieces[i].u;
    if (b == nr) nodes_r[nr++] = r->pieces[i].v;
    el[i] = a, er[i] = b;
  }
  return brute_cover(nl, nr, ne, el, er);
}

/* Groups index every OUTER piece once, and each piece shares its group's vector. */
static void check_groups(const mpl_rule *r) {
  assert_int_equal(r->group_first[0], 0);
  assert_int_equal(r->group_first[r->n_groups], r->first_wmat);
  for (int g = 0; g < r->n_groups; g++) {
    assert_true(r->group_first[g] < r->group_first[g + 1]);
    for (int i = r->group_first[g]; i < r->group_first[g + 1]; i++) {
      const mpl_piece *p = &r->pieces[i];
      assert_int_equal(p->side, r->group_side[g]);
      assert_int_equal(r->group_side[g] ? p->v : p->u, r->group_vec[g]);
    }
  }
}

/* The rank of the rule's rank-1 part grouped by u alone: its distinct left vectors. */
static int count_distinct_u(const mpl_rule *r) {
  int n = 0;
  for (int i = 0; i < r->first_wmat; i++) {
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= r->pieces[j].u == r->pieces[i].u;
    n += !seen;
  }
  return n;
}

/* quadratic.lua: 12 distinct left vectors, rank 6 after the cover; the paper's pool keeps its
 * three groups by u (so its results stay bit-identical). */
static void test_known_ranks(void **state) {
  fixture *f = *state;
  int q[44];
  for (int t = 0; t < 44; t++) q[t] = f->nq0 + t;
  mpl_rule *r = compile(f->ts, q, 44);
  check_groups(r);
  assert_int_equal(count_distinct_u(r), 12);
  assert_int_equal(r->n_groups, 6);
  assert_int_equal(r->n_groups, rule_min_rank(r));
  int sides = 0;
  for (int g = 0; g < r->n_groups; g++) sides += r->group_side[g];
  assert_true(sides > 0);
  mpl__rule_free(r);
  const int pool[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  r = compile(f->ts, pool, 10);
  check_groups(r);
  assert_int_equal(r->n_groups, 3);
  for (int g = 0; g < r->n_groups; g++) assert_int_equal(r->group_side[g], 0);
  mpl__rule_free(r);
  /* Small rules written for a known graph. */
  static const struct { const char *lua; int rank; } rules[] = {
      {"return {{name='a', expr=outer(post, pre)}, {name='b', expr=outer(e_post, pre)},"
       " {name='c', expr=outer(post * e_post, pre)}}", 1},            /* one shared v */
      {"return {{name='a', expr=outer(post, pre)}, {name='b', expr=outer(post, e_pre)}}", 1},
      {"return {{name='a', expr=outer(post, pre)}, {name='b', expr=outer(e_post, e_pre)}}", 2},
      {"return {{name='a', expr=outer(post, pre) + outer(e_post, pre) + outer(e_post, e_pre)},"
       " {name='b', expr=outer(post * post, e_pre) + W}}", 2},        /* a path: post-pre-epost-epre-post^2 */
      {"return {{name='a', expr=outer(post, pre) + outer(post, e_pre) + outer(e_post, pre)"
       " + outer(e_post, e_pre)}}", 2},                               /* K_{2,2} */
  };
  for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
    mpl_termset *ts = mpl_termset_new();
    mpl_err err = {0};
    if (mpl__rules_load_buffer("known.lua", rules[i].lua, strlen(rules[i].lua), ts, &err) < 0)
      fail_msg("rule %zu: %s", i, err.msg);
    r = compile(ts, NULL, 0);
    check_groups(r);
    if (r->n_groups != rules[i].rank) fail_msg("rule %zu: rank %d, expected %d", i, r->n_groups, rules[i].rank);
    mpl__rule_free(r);
    mpl_termset_free(ts);
  }
}

/* mpl_termset_plan describes the compiled plan: for rules written for a known plan, and for
 * quadratic.lua against the compiled rule. */
static void test_plan_info(void **state) {
  fixture *f = *state;
  static const struct { const char *lua; mpl_plan_info want; } rules[] = {
      {"return {{name='a', expr=outer(post, pre)}}", {.terms = 1, .rank = 1, .vectors = 2}},
      {"return {{name='a', expr=outer(post, pre)}, {name='b', expr=outer(e_post, pre)}}",
       {.terms = 2, .rank = 1, .vectors = 3}},
      {"return {{name='a', expr=outer(ones_post, pre)}, {name='b', expr=outer(ones_post, e_pre)},"
       " {name='c', expr=outer(post, e_pre)}}", {.terms = 3, .rank = 2, .rank_sums = 1, .vectors = 4}},
      /* post (W^T post)^T and (W pre) pre^T: one product with W besides W pre, rank 2 */
      {"return {{name='a', expr=post % post.T % W}, {name='b', expr=W % pre % pre.T}}",
       {.terms = 2, .rank = 2, .wproducts = 1, .vectors = 4}},
      /* a scalar times W: no rank-1 part, no product (the dot is a scalar) */
      {"return {{name='a', expr=dot(post, post) * W}}", {.terms = 1, .wmat = 1, .vectors = 1}},
      /* (post^T W e_pre) W: W e_pre is a product, then a dot */
      {"return {{name='a', expr=(post.T % W % e_pre) * W}, {name='b', expr=outer(post, pre)}}",
       {.terms = 2, .rank = 1, .wproducts = 1, .vectors = 4, .wmat = 1}},
  };
  for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
    mpl_termset *ts = mpl_termset_new();
    mpl_err err = {0};
    mpl_plan_info got;
    if (mpl__rules_load_buffer("plan.lua", rules[i].lua, strlen(rules[i].lua), ts, &err) < 0 ||
        mpl_termset_plan(ts, NULL, 0, &got, &err) < 0)
      fail_msg("rule %zu: %s", i, err.msg);
    const mpl_plan_info *w = &rules[i].want;
    if (got.terms != w->terms || got.rank != w->rank || got.rank_sums != w->rank_sums ||
        got.wproducts != w->wproducts || got.vectors != w->vectors || got.wmat != w->wmat || got.natives != 0)
      fail_msg("rule %zu: terms %d rank %d (sums %d) W products %d vectors %d wmat %d natives %d; expected "
               "%d %d (%d) %d %d %d 0", i, got.terms, got.rank, got.rank_sums, got.wproducts, got.vectors, got.wmat,
               got.natives, w->terms, w->rank, w->rank_sums, w->wproducts, w->vectors, w->wmat);
    mpl_termset_free(ts);
  }
  /* quadratic.lua: rank 6 (two groups share a ones vector), W^T post, W^T e_post and W e_pre */
  int q[44];
  for (int t = 0; t < 44; t++) q[t] = f->nq0 + t;
  mpl_plan_info got;
  mpl_err err = {0};
  assert_int_equal(mpl_termset_plan(f->ts, q, 44, &got, &err), MPL_OK);
  mpl_rule *r = compile(f->ts, q, 44);
  assert_int_equal(got.terms, 44);
  assert_int_equal(got.rank, r->n_groups);
  assert_int_equal(got.rank, 6);
  assert_int_equal(got.rank_sums, 2);
  assert_int_equal(got.wproducts, 3);
  assert_int_equal(got.wmat, 1);
  mpl__rule_free(r);
  /* an unknown term index fails cleanly */
  const int bad = mpl_termset_count(f->ts);
  assert_int_not_equal(mpl_termset_plan(f->ts, &bad, 1, &got, &err), MPL_OK);
}

/* ---- The grouped update and its adjoint against per-piece references ---- */

static double *eval_vals(const mpl_rule *r, layer *d) {
  mpl_layer_io io = layer_io(d);
  double *val = calloc(mpl__rule_nvals(r, NPRE, NPOST) + 1, sizeof *val);
  mpl__rule_eval(r, &io, val);
  return val;
}

/* W + sum_r theta_r F_r through the grouped rows (eval + apply). */
static void update_grouped(const mpl_rule *r, const double *theta, layer *d, double *Wn) {
  mpl_layer_io io = layer_io(d);
  double *val = eval_vals(r, d), *scratch = calloc(mpl__rule_nscratch(r, NPRE, NPOST), sizeof *scratch);
  memcpy(Wn, d->W, sizeof d->W);
  mpl__rule_apply(r, theta, &io, val, Wn, scratch);
  free(scratch);
  free(val);
}

/* The same, term by term, each term piece by piece (mpl__rule_term_dense ignores groups). */
static void update_pieces(const mpl_rule *r, const double *theta, layer *d, double *Wn) {
  mpl_layer_io io = layer_io(d);
  double *val = eval_vals(r, d), F[NW];
  memcpy(Wn, d->W, sizeof d->W);
  for (int t = 0; t < r->n_terms; t++) {
    mpl__rule_term_dense(r, t, &io, val, F);
    for (int k = 0; k < NW; k++) Wn[k] += theta[t] * F[k];
  }
  free(val);
}

static double dotv(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* A random selection of n of the 54 terms (the pool and quadratic.lua). */
static void random_which(gsl_rng *rng, int total, int n, int *which) {
  for (int i = 0; i < n; i++) {
    int t, dup;
    do {
      t = (int)gsl_rng_uniform_int(rng, (unsigned long)total);
      dup = 0;
      for (int j = 0; j < i; j++) dup |= which[j] == t;
    } while (dup);
    which[i] = t;
  }
}

/* Grouped update == ungrouped update; the adjoint's dL/dtheta == <G, F_t> exactly, and its
 * signal and W adjoints match central differences of <G, W_new>. */
static void check_rule(const mpl_rule *r, gsl_rng *rng, const char *what) {
  int R = r->n_terms;
  double theta[RMAX], theta_bar[RMAX] = {0}, G[NW], Gout[NW], Wg[NW], Wp[NW], F[NW];
  layer d, sb, dd;
  random_layer(rng, &d, 1, 0.5);
  memset(&sb, 0, sizeof sb);
  for (int t = 0; t < R; t++) theta[t] = unif(rng, -1, 1);
  update_grouped(r, theta, &d, Wg);
  update_pieces(r, theta, &d, Wp);
  for (int k = 0; k < NW; k++)
    if (!(fabs(Wg[k] - Wp[k]) <= 1e-13 * (1 + fabs(Wp[k]))))
      fail_msg("%s: W_new[%d] grouped %.17g, per piece %.17g", what, k, Wg[k], Wp[k]);
  for (int k = 0; k < NW; k++) G[k] = unif(rng, -1, 1);
  mpl_layer_io io = layer_io(&d);
  double *val = eval_vals(r, &d), *vbar = calloc(mpl__rule_nvals(r, NPRE, NPOST) + 1, sizeof *vbar);
  double *scratch = calloc(mpl__rule_nscratch(r, NPRE, NPOST), sizeof *scratch);
  double *const bars[4] = {sb.pre, sb.post, sb.epre, sb.epost};
  memcpy(Gout, G, sizeof G);
  assert_int_equal(mpl__rule_vjp(r, theta, &io, val, Gout, theta_bar, bars, vbar, scratch), MPL_OK);
  for (int t = 0; t < R; t++) {
    mpl__rule_term_dense(r, t, &io, val, F);
    double ref = dotv(G, F, NW);
    if (!(fabs(theta_bar[t] - ref) <= 1e-12 * (1 + fabs(ref))))
      fail_msg("%s: dL/dtheta[%d] %.17g, <G, F> %.17g", what, t, theta_bar[t], ref);
  }
  free(val), free(vbar), free(scratch);
  /* all inputs at once along a random direction */
  for (int j = 0; j < NPRE; j++) dd.pre[j] = unif(rng, -1, 1), dd.epre[j] = unif(rng, -1, 1);
  for (int i = 0; i < NPOST; i++) dd.post[i] = unif(rng, -1, 1), dd.epost[i] = unif(rng, -1, 1);
  for (int k = 0; k < NW; k++) dd.W[k] = unif(rng, -1, 1);
  double adj = dotv(sb.pre, dd.pre, NPRE) + dotv(sb.post, dd.post, NPOST) + dotv(sb.epre, dd.epre, NPRE) +
               dotv(sb.epost, dd.epost, NPOST) + dotv(Gout, dd.W, NW);
  const double h = 1e-5;
  double fd[2];
  for (int s = 0; s < 2; s++) {
    layer x = d;
    double sg = s ? -h : h;
    for (int j = 0; j < NPRE; j++) x.pre[j] += sg * dd.pre[j], x.epre[j] += sg * dd.epre[j];
    for (int i = 0; i < NPOST; i++) x.post[i] += sg * dd.post[i], x.epost[i] += sg * dd.epost[i];
    for (int k = 0; k < NW; k++) x.W[k] += sg * dd.W[k];
    update_pieces(r, theta, &x, Wp);
    fd[s] = dotv(G, Wp, NW);
  }
  double num = (fd[0] - fd[1]) / (2 * h);
  if (!(fabs(adj - num) <= 1e-6 * (1 + fabs(num))))
    fail_msg("%s: adjoint along a direction %.12g, central difference %.12g", what, adj, num);
}

static void test_grouped_update(void **state) {
  fixture *f = *state;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 3);
  int total = mpl_termset_count(f->ts), which[RMAX], right_groups = 0, reduced = 0;
  char what[64];
  for (int trial = 0; trial < 120; trial++) {
    int n = trial == 0 ? total : 1 + (int)gsl_rng_uniform_int(rng, 16);
    if (trial == 0) for (int t = 0; t < n; t++) which[t] = t;
    else random_which(rng, total, n, which);
    mpl_rule *r = compile(f->ts, which, n);
    check_groups(r);
    assert_int_equal(r->n_groups, rule_min_rank(r));
    for (int g = 0; g < r->n_groups; g++) right_groups += r->group_side[g];
    reduced += r->n_groups < count_distinct_u(r);
    snprintf(what, sizeof what, "random rule %d (%d terms, rank %d)", trial, n, r->n_groups);
    check_rule(r, rng, what);
    mpl__rule_free(r);
  }
  assert_true(right_groups > 20); /* the draws did exercise groups that share v */
  assert_true(reduced > 10);
  gsl_rng_free(rng);
}

/* ---- The episode: lazy vs dense path, and the meta-gradient against finite differences ---- */

static const int SIZES[] = {7, 6, 5, 4};

/* Rules whose groups share v, through the lazy engine (pending rows in the weights and the
 * adjoints, several blocks and segments) and the dense reference path: same gradient. */
static void test_lazy_vs_dense(void **state) {
  fixture *f = *state;
  enum { T = 37 };
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 9);
  double x[T * 7], xq[5 * 7], theta[RMAX];
  int y[T], yq[5], which[RMAX];
  for (int i = 0; i < T * 7; i++) x[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < 5 * 7; i++) xq[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < T; i++) y[i] = (int)gsl_rng_uniform_int(rng, 4);
  for (int i = 0; i < 5; i++) yq[i] = (int)gsl_rng_uniform_int(rng, 4);
  for (int t = 0; t < 44; t++) which[t] = f->nq0 + t;
  for (int t = 0; t < RMAX; t++) theta[t] = unif(rng, -0.002, 0.002);
  theta[0] = 0.02;
  const int segs[] = {0, 1, 16};
  for (int fb = 0; fb <= 1; fb++) {
    mpl_feedback mode = fb ? MPL_FB_SYMMETRIC : MPL_FB_FIXED;
    double gd[RMAX], gl[RMAX];
    mpl_episode_stats sd, sl;
    mpl_episode *dense = episode(f->ts, which, 44, SIZES, 3, mode, 0, 1);
    run_ok(dense, theta, x, y, T, xq, yq, 5, gd, &sd);
    for (size_t k = 0; k < sizeof segs / sizeof *segs; k++) {
      mpl_episode *lazy = episode(f->ts, which, 44, SIZES, 3, mode, segs[k], 0);
      run_ok(lazy, theta, x, y, T, xq, yq, 5, gl, &sl);
      mpl_assert_close(sl.loss, sd.loss, 1e-12, 1e-14);
      double gmax = 0;
      for (int t = 0; t < 44; t++) gmax = fmax(gmax, fabs(gd[t]));
      for (int t = 0; t < 44; t++)
        if (!(fabs(gl[t] - gd[t]) <= 1e-10 * fabs(gd[t]) + 1e-12 * gmax))
          fail_msg("feedback %d, segment %d: dL/dtheta[%d] lazy %.17g, dense %.17g", fb, segs[k], t, gl[t], gd[t]);
      mpl_episode_free(lazy);
    }
    mpl_episode_free(dense);
  }
  gsl_rng_free(rng);
}

/* The whole of quadratic.lua through gradcheck, FA and BP, at coefficients small enough for
 * its 44 terms not to diverge. */
static void test_gradcheck_quadratic(void **state) {
  fixture *f = *state;
  int which[44];
  for (int t = 0; t < 44; t++) which[t] = f->nq0 + t;
  for (int fb = 0; fb <= 1; fb++)
    for (unsigned long seed = 1; seed <= 2; seed++) {
      mpl_gradcheck_cfg cfg;
      mpl_gradcheck_defaults(&cfg);
      cfg.net.feedback = fb ? MPL_FB_SYMMETRIC : MPL_FB_FIXED;
      cfg.seed = seed;
      cfg.theta_scale = 0.002; /* at 0.02 (the default) the episode diverges, at 0.005 it is chaotic */
      mpl_gradcheck_result res;
      mpl_err err = {0};
      if (mpl_gradcheck(&cfg, f->ts, which, 44, &res, &err) < 0) fail_msg("gradcheck: %s", err.msg);
      if (!(res.worst < 1e-6))
        fail_msg("feedback %d, seed %lu: worst relative error %.3g (term %d)", fb, seed, res.worst, res.worst_term);
      mpl_gradcheck_result_free(&res);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cover_known),
      cmocka_unit_test(test_cover_random),
      cmocka_unit_test(test_known_ranks),
      cmocka_unit_test(test_plan_info),
      cmocka_unit_test(test_grouped_update),
      cmocka_unit_test(test_lazy_vs_dense),
      cmocka_unit_test(test_gradcheck_quadratic),
  };
  return cmocka_run_group_tests_name("group", tests, setup, teardown);
}
