/* metaplast tests: the lazy engine's cost-saving paths. The reverse pass computes only the
 * adjoint products a group uses, and takes those of a ones vector (G^T 1, G 1) from running sums
 * of the adjoint; the rule's W pre node is the forward pass's z (its value and its adjoint);
 * each layer's weights have their own segment length; the values of signals, ones vectors and
 * W pre are read where they are, not stored per step. Each against its reference.
 * See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "metaplast/net.h"
#include "metaplast/terms.h"

#include "episode.h"
#include "plan.h"

#define NQ 44 /* quadratic.lua's terms */

#include "quadratic_fixture.h"

static double unif(gsl_rng *rng, double a, double b) { return a + (b - a) * gsl_rng_uniform(rng); }

/* The paper's pool (quadratic = 0) or quadratic.lua's terms: their indices into which. */
static int rule_terms(const fixture *f, int quadratic, int *which) {
  int n = quadratic ? NQ : 10;
  for (int t = 0; t < n; t++) which[t] = (quadratic ? f->nq0 : 0) + t;
  return n;
}

static mpl_rule *compile(const fixture *f, int quadratic) {
  int which[NQ], n = rule_terms(f, quadratic, which);
  mpl_rule *r = NULL;
  mpl_err err = {0};
  if (mpl__rule_compile(f->ts, which, n, &r, &err) < 0)
    fail_msg("mpl__rule_compile: %s", err.msg);
  return r;
}

static int is_ones(const mpl_rule *r, int g) { return r->nodes[r->group_vec[g]].op == MPL_OP_ONES; }

/* ---- Which adjoint products a group needs ---- */

/* quadratic.lua's six update rows: post, e_post, W pre and W e_pre each share u (both products
 * needed: the coefficients' and u's adjoint), one shares ones_post (only G^T 1), one ones_pre
 * (only G 1); the pool's three rows share e_post, post and ones_post. With running sums the
 * ones vectors' products are sums, without them products; a ones vector's adjoint is never
 * wanted. */
static void test_row_kinds(void **state) {
  fixture *f = *state;
  for (int quad = 0; quad <= 1; quad++) {
    mpl_rule *r = compile(f, quad);
    int ng = r->n_groups, nones = 0;
    assert_int_equal(ng, quad ? 6 : 3);
    for (int sums = 0; sums <= 1; sums++) {
      char kp[8], kq[8];
      int np = 0, nq = 0, ns = 0;
      mpl__rule_row_kinds(r, 0, sums, kp, kq);
      for (int g = 0; g < ng; g++) {
        char own = r->group_side[g] ? kq[g] : kp[g], other = r->group_side[g] ? kp[g] : kq[g];
        assert_int_equal(own, sums && is_ones(r, g) ? MPL_ROW_SUM : MPL_ROW_PRODUCT);
        assert_int_equal(other, is_ones(r, g) ? MPL_ROW_NONE : MPL_ROW_PRODUCT);
        np += kp[g] == MPL_ROW_PRODUCT, nq += kq[g] == MPL_ROW_PRODUCT;
        ns += (kp[g] == MPL_ROW_SUM) + (kq[g] == MPL_ROW_SUM);
        nones += sums && is_ones(r, g);
      }
      assert_int_equal(ns, sums ? nones : 0);
      if (quad) { /* 12 products before, 8 with the sums */
        assert_int_equal(np + nq, sums ? 8 : 10);
      } else {
        assert_int_equal(np + nq, sums ? 4 : 5);
      }
    }
    assert_int_equal(nones, quad ? 2 : 1);
    mpl__rule_free(r);
  }
}

/* ---- Running sums of a deferred rank-k matrix ---- */

/* The represented matrix eta (C + sum at_k^T b_k) into M. */
static void represented(const mpl_rankk *acc, const double *C, double *M) {
  int m = acc->n_post, n = acc->n_pre;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = C[i * n + j];
      for (int k = 0; k < acc->k; k++) s += acc->at[k * m + i] * acc->b[k * n + j];
      M[i * n + j] = acc->eta * s;
    }
}

static void check_sums(const mpl_rankk *acc, const double *C) {
  int m = acc->n_post, n = acc->n_pre;
  double M[5 * 7];
  represented(acc, C, M);
  for (int j = 0; j < n; j++) {
    double s = 0;
    for (int i = 0; i < m; i++) s += M[i * n + j];
    mpl_assert_close(acc->eta * acc->cs[j], s, 1e-13, 1e-13);
  }
  for (int i = 0; i < m; i++) {
    double s = 0;
    for (int j = 0; j < n; j++) s += M[i * n + j];
    mpl_assert_close(acc->eta * acc->rs[i], s, 1e-13, 1e-13);
  }
}

/* eta cs and eta rs stay the column and row sums of the represented matrix through pushes,
 * scalings (eta) and flushes. */
static void test_running_sums(void **state) {
  (void)state;
  enum { M = 5, N = 7 };
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 3);
  mpl_rankk acc;
  assert_int_equal(mpl__rankk_init(&acc, 6, M, N, 0), 0);
  assert_int_equal(mpl__rankk_track_sums(&acc), 0);
  double C[M * N], a[M], b[N];
  for (int i = 0; i < M * N; i++) C[i] = unif(rng, -1, 1);
  mpl__rankk_reset_sums(&acc, C);
  check_sums(&acc, C);
  for (int it = 0; it < 40; it++) {
    double u = gsl_rng_uniform(rng);
    if (u < 0.2 || acc.k == acc.kmax) {
      mpl__rankk_flush(&acc, C);
    } else if (u < 0.4) {
      acc.eta *= unif(rng, 0.5, 1.5);
    } else {
      for (int i = 0; i < M; i++) a[i] = unif(rng, -1, 1);
      for (int j = 0; j < N; j++) b[j] = unif(rng, -1, 1);
      mpl__rankk_push(&acc, unif(rng, -2, 2), a, b);
    }
    check_sums(&acc, C);
  }
  mpl__rankk_free(&acc);
  gsl_rng_free(rng);
}

/* mpl__rule_vjp_acc with running sums (the ones vectors' products read from them) against the
 * same call computing every product, on quadratic.lua and the pool, with queued rows and a
 * scalar in the adjoint: the same coefficient and signal adjoints and the same queue, to
 * rounding. */
static void test_vjp_with_sums(void **state) {
  fixture *f = *state;
  enum { NP = 7, NQP = 5, KQ = 4 };
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 11);
  for (int quad = 0; quad <= 1; quad++) {
    mpl_rule *r = compile(f, quad);
    int R = r->n_terms, kmax = KQ + mpl__rule_nrank1(r) + 1;
    double sig[4][NP], W[NQP * NP], G[NQP * NP], theta[NQ], a[NQP], b[NP];
    for (int s = 0; s < 4; s++)
      for (int j = 0; j < NP; j++) sig[s][j] = unif(rng, 0.1, 1);
    for (int i = 0; i < NQP * NP; i++) W[i] = unif(rng, -1, 1), G[i] = unif(rng, -1, 1);
    for (int t = 0; t < R; t++) theta[t] = unif(rng, -0.1, 0.1);
    mpl_layer_io io = {.n_pre = NP, .n_post = NQP, .sig = {sig[0], sig[1], sig[2], sig[3]}, .W = W};
    size_t nv = mpl__rule_nvals(r, NP, NQP), nsc = mpl__rule_nscratch_lazy(r, NP, NQP, kmax);
    double *val = calloc(nv, sizeof *val), *vbar = calloc(nv, sizeof *vbar), *scratch = calloc(nsc, sizeof *scratch);
    assert_non_null(val);
    assert_non_null(vbar);
    assert_non_null(scratch);
    mpl__rule_eval(r, &io, val);
    mpl_rankk acc[2];
    double tbar[2][NQ], bar[2][4][NP];
    for (int v = 0; v < 2; v++) {
      assert_int_equal(mpl__rankk_init(&acc[v], kmax, NQP, NP, 0), 0);
      if (v) {
        assert_int_equal(mpl__rankk_track_sums(&acc[v]), 0);
        mpl__rankk_reset_sums(&acc[v], G);
      }
      memset(tbar[v], 0, sizeof tbar[v]);
      memset(bar[v], 0, sizeof bar[v]);
    }
    for (int k = 0; k < KQ; k++) { /* the same queued rows and scalar in both */
      for (int i = 0; i < NQP; i++) a[i] = unif(rng, -1, 1);
      for (int j = 0; j < NP; j++) b[j] = unif(rng, -1, 1);
      double s = unif(rng, -1, 1);
      for (int v = 0; v < 2; v++) mpl__rankk_push(&acc[v], s, a, b);
    }
    acc[0].eta = acc[1].eta = 0.8;
    for (int v = 0; v < 2; v++) {
      double *bars[4] = {NULL, bar[v][1], bar[v][2], bar[v][3]}; /* pre's adjoint unwanted (layer 1) */
      mpl__rule_vjp_acc(r, theta, &io, val, G, &acc[v], NULL, tbar[v], bars, vbar, scratch);
    }
    for (int t = 0; t < R; t++) mpl_assert_close(tbar[1][t], tbar[0][t], 1e-12, 1e-13);
    for (int s = 1; s < 4; s++)
      for (int j = 0; j < (s % 2 ? NQP : NP); j++) mpl_assert_close(bar[1][s][j], bar[0][s][j], 1e-12, 1e-13);
    assert_int_equal(acc[1].k, acc[0].k);
    assert_memory_equal(&acc[1].eta, &acc[0].eta, sizeof acc[0].eta);
    for (int i = 0; i < acc[0].k * NQP; i++) mpl_assert_close(acc[1].at[i], acc[0].at[i], 1e-12, 1e-13);
    for (int i = 0; i < acc[0].k * NP; i++) mpl_assert_close(acc[1].b[i], acc[0].b[i], 1e-12, 1e-13);
    for (int v = 0; v < 2; v++) mpl__rankk_free(&acc[v]);
    free(val);
    free(vbar);
    free(scratch);
    mpl__rule_free(r);
  }
  gsl_rng_free(rng);
}

/* Compact values (the engine's: signals, ones vectors and W pre read where they are, not
 * stored) against the full layout: the same update rows and the same adjoints (to rounding:
 * W pre is z, computed apart), on quadratic.lua and the pool; fewer doubles stored. */
static void test_compact_values(void **state) {
  fixture *f = *state;
  enum { NP = 7, NQP = 5 };
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 13);
  for (int quad = 0; quad <= 1; quad++) {
    mpl_rule *r = compile(f, quad);
    int R = r->n_terms, ng = r->n_groups, kmax = mpl__rule_nrank1(r) + 1;
    double sig[4][NP], W[NQP * NP], G[NQP * NP], theta[NQ], z[NQP], ones[NP];
    for (int s = 0; s < 4; s++)
      for (int j = 0; j < NP; j++) sig[s][j] = unif(rng, 0.1, 1);
    for (int i = 0; i < NQP * NP; i++) W[i] = unif(rng, -1, 1), G[i] = unif(rng, -1, 1);
    for (int t = 0; t < R; t++) theta[t] = unif(rng, -0.1, 0.1);
    for (int i = 0; i < NQP; i++) { /* z = W pre */
      z[i] = 0;
      for (int j = 0; j < NP; j++) z[i] += W[i * NP + j] * sig[0][j];
    }
    for (int j = 0; j < NP; j++) ones[j] = 1;
    size_t nv = mpl__rule_nvals(r, NP, NQP), nc = mpl__rule_nvals_compact(r, NP, NQP);
    size_t nsc = mpl__rule_nscratch_lazy(r, NP, NQP, kmax);
    assert_true(nc < nv);
    double *val[2] = {calloc(nv, sizeof(double)), calloc(nc + 1, sizeof(double))};
    double *vbar = calloc(nv, sizeof *vbar), *scratch = calloc(nsc, sizeof *scratch);
    double *U[2] = {calloc((size_t)ng * NQP, sizeof(double)), calloc((size_t)ng * NQP, sizeof(double))};
    double *V[2] = {calloc((size_t)ng * NP, sizeof(double)), calloc((size_t)ng * NP, sizeof(double))};
    double tbar[2][NQ] = {{0}}, bar[2][4][NP] = {{{0}}}, omega[2];
    mpl_rankk acc[2];
    for (int c = 0; c < 2; c++) {
      mpl_layer_io io = {.n_pre = NP, .n_post = NQP, .sig = {sig[0], sig[1], sig[2], sig[3]}, .W = W};
      if (c) io.z = z, io.ones = ones;
      assert_non_null(val[c]);
      mpl__rule_eval(r, &io, val[c]);
      mpl__rule_update_rows(r, theta, &io, val[c], U[c], V[c], &omega[c]);
      assert_int_equal(mpl__rankk_init(&acc[c], kmax, NQP, NP, 0), 0);
      double *bars[4] = {bar[c][0], bar[c][1], bar[c][2], bar[c][3]};
      mpl__rule_vjp_acc(r, theta, &io, val[c], G, &acc[c], NULL, tbar[c], bars, vbar, scratch);
    }
    /* W pre from z instead of a product: the same to rounding, so compare to rounding */
    for (int i = 0; i < ng * NQP; i++) mpl_assert_close(U[1][i], U[0][i], 1e-13, 1e-14);
    for (int i = 0; i < ng * NP; i++) mpl_assert_close(V[1][i], V[0][i], 1e-13, 1e-14);
    mpl_assert_close(omega[1], omega[0], 1e-13, 1e-14);
    for (int t = 0; t < R; t++) mpl_assert_close(tbar[1][t], tbar[0][t], 1e-12, 1e-13);
    for (int s = 0; s < 4; s++)
      for (int j = 0; j < (s % 2 ? NQP : NP); j++) mpl_assert_close(bar[1][s][j], bar[0][s][j], 1e-12, 1e-13);
    assert_int_equal(acc[1].k, acc[0].k);
    for (int c = 0; c < 2; c++) {
      mpl__rankk_free(&acc[c]);
      free(val[c]);
      free(U[c]);
      free(V[c]);
    }
    free(vbar);
    free(scratch);
    mpl__rule_free(r);
  }
  gsl_rng_free(rng);
}

/* ---- Episodes: per-layer segments and W pre, lazy against dense ---- */

/* The automatic segments on a 30-12-6-3 network (layer 1 holds most weights and keeps
 * ceil(sqrt(53)) = 8; the others follow the cost model: the pool 4 and 3 steps under fixed
 * feedback, 3 and 2 under symmetric), segments that do not line up with each other or the
 * reverse pass's blocks: the same episode as the dense path and as uniform segments,
 * bit-reproducible; the pool and quadratic.lua (rows with a ones vector on either side, kept as
 * sums), and F0 with F8 (which reads W only through W pre, so that layer 1 is updated in place
 * under fixed feedback). */
static void test_layer_segments(void **state) {
  fixture *f = *state;
  enum { T = 53, NQRY = 6, L = 3 };
  const int sizes[L + 1] = {30, 12, 6, 3};
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 21);
  double x[T * 30], xq[NQRY * 30], theta[NQ];
  int y[T], yq[NQRY], quad[NQ], pool[10];
  for (int i = 0; i < T * 30; i++) x[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < NQRY * 30; i++) xq[i] = gsl_rng_uniform(rng);
  for (int i = 0; i < T; i++) y[i] = (int)gsl_rng_uniform_int(rng, 3);
  for (int i = 0; i < NQRY; i++) yq[i] = (int)gsl_rng_uniform_int(rng, 3);
  rule_terms(f, 1, quad);
  rule_terms(f, 0, pool);
  const int f08[2] = {0, 8};
  /* coefficients: the first term's and the others' range (quadratic.lua's must be tiny: on this
   * network most of its terms make the episode diverge already at 1e-4) */
  struct { const int *which; int n; double scale, f0; } rules[] = {
      {pool, 10, 0.01, 0.05}, {quad, NQ, 0.00002, 0.002}, {f08, 2, 0.05, 0.05}};
  for (size_t k = 0; k < sizeof rules / sizeof *rules; k++)
    for (int fb = 0; fb <= 1; fb++) {
      mpl_feedback mode = fb ? MPL_FB_SYMMETRIC : MPL_FB_FIXED;
      int n = rules[k].n;
      for (int t = 0; t < n; t++) theta[t] = unif(rng, -rules[k].scale, rules[k].scale);
      theta[0] = rules[k].f0;
      double gd[NQ], g0[NQ], g1[NQ], gu[NQ];
      mpl_episode_stats sd, s0, s1, su;
      mpl_episode *dense = episode(f->ts, rules[k].which, n, sizes, L, mode, 0, 1);
      mpl_episode *lazy = episode(f->ts, rules[k].which, n, sizes, L, mode, 0, 0);
      mpl_episode *unif8 = episode(f->ts, rules[k].which, n, sizes, L, mode, 8, 0);
      run_ok(dense, theta, x, y, T, xq, yq, NQRY, gd, &sd);
      run_ok(lazy, theta, x, y, T, xq, yq, NQRY, g0, &s0);
      run_ok(lazy, theta, x, y, T, xq, yq, NQRY, g1, &s1);
      run_ok(unif8, theta, x, y, T, xq, yq, NQRY, gu, &su);
      assert_int_equal(mpl__episode_segment(lazy, 1), 8);
      if (k == 0) {
        assert_int_equal(mpl__episode_segment(lazy, 2), fb ? 3 : 4);
        assert_int_equal(mpl__episode_segment(lazy, 3), fb ? 2 : 3);
      }
      for (int l = 1; l <= L; l++) assert_int_equal(mpl__episode_segment(unif8, l), 8);
      assert_memory_equal(g0, g1, (size_t)n * sizeof *g0);
      assert_memory_equal(&s0.loss, &s1.loss, sizeof s0.loss);
      mpl_assert_close(s0.loss, sd.loss, 1e-12, 1e-14);
      mpl_assert_close(su.loss, sd.loss, 1e-12, 1e-14);
      double gmax = 0;
      for (int t = 0; t < n; t++) gmax = fmax(gmax, fabs(gd[t]));
      for (int t = 0; t < n; t++)
        if (!(fabs(g0[t] - gd[t]) <= 1e-10 * fabs(gd[t]) + 1e-12 * gmax) ||
            !(fabs(gu[t] - gd[t]) <= 1e-10 * fabs(gd[t]) + 1e-12 * gmax))
          fail_msg("rule %zu, feedback %d: dL/dtheta[%d] lazy %.17g, uniform %.17g, dense %.17g", k, fb, t, g0[t], gu[t],
                   gd[t]);
      for (int l = 1; l <= L; l++)
        for (int j = 0; j < sizes[l] * sizes[l - 1]; j++)
          mpl_assert_close(mpl_episode_adapted(lazy, l)[j], mpl_episode_adapted(dense, l)[j], 1e-12, 1e-14);
      run_ok(lazy, theta, x, y, T, xq, yq, NQRY, NULL, &s1); /* the primal loop alone */
      mpl_assert_close(s1.loss, s0.loss, 1e-13, 1e-14);
      mpl_episode_free(dense);
      mpl_episode_free(lazy);
      mpl_episode_free(unif8);
    }
  gsl_rng_free(rng);
}

/* The lengths the cost model gives on the paper's network with 250 steps: quadratic.lua
 * 16, 9, 8, 7, 3; the pool 16, 16, 16, 14, 6; FA (an update of rank 1) 16 but 13 in the last
 * layer. */
static void test_paper_segments(void **state) {
  fixture *f = *state;
  enum { T = 250, L = 5 };
  const int sizes[L + 1] = {784, 170, 130, 100, 70, 10}, f0[1] = {0};
  const int want[3][L + 1] = {{0, 16, 16, 16, 14, 6}, {0, 16, 9, 8, 7, 3}, {0, 16, 16, 16, 16, 13}};
  int quad[NQ], pool[10], y[T], yq[1] = {0};
  double *x = calloc((size_t)T * 784, sizeof *x), theta[NQ] = {0};
  assert_non_null(x);
  rule_terms(f, 1, quad);
  rule_terms(f, 0, pool);
  for (int t = 0; t < T; t++) y[t] = t % 10;
  struct { const int *which; int n; } rules[3] = {{pool, 10}, {quad, NQ}, {f0, 1}};
  for (int k = 0; k < 3; k++) {
    mpl_episode *ep = episode(f->ts, rules[k].which, rules[k].n, sizes, L, MPL_FB_FIXED, 0, 0);
    mpl_episode_stats st;
    run_ok(ep, theta, x, y, T, x, yq, 1, NULL, &st);
    for (int l = 1; l <= L; l++)
      if (mpl__episode_segment(ep, l) != want[k][l])
        fail_msg("rule %d, layer %d: %d steps per segment, expected %d", k, l, mpl__episode_segment(ep, l), want[k][l]);
    mpl_episode_free(ep);
  }
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_row_kinds),
      cmocka_unit_test(test_running_sums),
      cmocka_unit_test(test_vjp_with_sums),
      cmocka_unit_test(test_compact_values),
      cmocka_unit_test(test_layer_segments),
      cmocka_unit_test(test_paper_segments),
  };
  return cmocka_run_group_tests_name("lazy", tests, setup, teardown);
}
