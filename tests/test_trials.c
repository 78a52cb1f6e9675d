/* metaplast tests: independent trials in parallel (identical to one-by-one runs, at any number of
 * jobs), their summary against a direct computation from the trials' own files, the sparsity
 * path, lambda lists, and the CLI's one-line progress. Tiny runs on Debian's Fashion-MNIST test
 * split (dataset-fashion-mnist). See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metaplast/search.h"
#include "metaplast/stats.h"
#include "metaplast/report.h"
#include "metaplast/trials.h"

#define EPISODES 12
#define SEED 5

/* {====== Helpers ====== */

static void assert_same_file(const char *d1, const char *d2, const char *file, int strip) {
  char *a = mpl_test_read_in(d1, file), *b = mpl_test_read_in(d2, file);
  if (strip) { /* log.csv without its wall-time column */
    char *sa = mpl_test_strip_last_column(a), *sb = mpl_test_strip_last_column(b);
    free(a), free(b);
    a = sa, b = sb;
  }
  if (strcmp(a, b)) fail_msg("%s/%s and %s/%s differ", d1, file, d2, file);
  free(a), free(b);
}

/* Field `col` (0-based) of line `row` (0 = header), unquoted CSV. */
static const char *csv_field(const char *text, int row, int col, char *buf, size_t n) {
  const char *p = text;
  for (int r = 0; r < row && p; r++) p = (p = strchr(p, '\n')) ? p + 1 : NULL;
  if (!p || !*p) return NULL;
  for (int c = 0; c < col; c++) {
    p += strcspn(p, ",\n");
    if (*p != ',') return NULL;
    p++;
  }
  size_t k = strcspn(p, ",\n");
  if (k >= n) k = n - 1;
  memcpy(buf, p, k);
  buf[k] = '\0';
  return buf;
}

static double csv_num(const char *text, int row, const char *name) {
  char buf[512];
  int c = 0;
  for (; csv_field(text, 0, c, buf, sizeof buf); c++)
    if (!strcmp(buf, name)) break;
  if (!csv_field(text, row, c, buf, sizeof buf)) fail_msg("no row %d column %s", row, name);
  return strtod(buf, NULL);
}

/* theta of term `name` in a theta.tsv text. */
static double tsv_theta(const char *tsv, const char *name) {
  char key[64];
  snprintf(key, sizeof key, "\n%s\t", name);
  const char *p = strstr(tsv, key);
  if (!p) fail_msg("theta.tsv has no term %s", name);
  return strtod(p + strlen(key), NULL);
}

static void cfg_small(mpl_search_cfg *c, const char *out) {
  mpl_search_defaults(c);
  c->data = "fashion-mnist-test";
  c->per_class = 100;
  c->n_hidden = 1;
  c->hidden[0] = 8;
  c->episodes = EPISODES;
  c->terms = "paper:F0,F2,F9";
  c->adam.lambda = 1e-3;
  c->method = MPL_METHOD_PLAIN;   /* trials' mechanics, fast; the robust method's: test_robust */
  c->lambda_auto = 0;
  c->seed = SEED;
  c->out = out;
  c->force = 1;   /* directories are per process (mpl_test_path); some are reused */
}

static const char *tmpdir(const char *name) {
  static char buf[8][4096];
  static int k;
  char *b = buf[k++ % 8];
  snprintf(b, sizeof buf[0], "%s", mpl_test_path(name));
  return b;
}

static int have_data(void) {
  return access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) == 0;
}

#define NEED_DATA()                                                                       \
  do {                                                                                    \
    if (!have_data()) { print_message("dataset-fashion-mnist not installed\n"); skip(); } \
  } while (0)

/* }====== */

/* Trial i is the search with seed S+i in DIR/trial-00i, at 1 and 2 jobs; the summaries agree. */
static void trials_match_single_runs(void **state) {
  (void)state;
  NEED_DATA();
  const char *a = tmpdir("trials-j2"), *b = tmpdir("trials-j1");
  mpl_search_cfg c;
  mpl_trials_result r1, r2;
  mpl_err err = {0};
  cfg_small(&c, a);
  assert_int_equal(mpl_trials_run(&c, 3, 2, &r2, &err), MPL_OK);
  c.out = b;
  assert_int_equal(mpl_trials_run(&c, 3, 1, &r1, &err), MPL_OK);
  assert_int_equal(r2.n_ok, 3);
  for (int t = 0; t < 3; t++) {
    char ta[4200], tb[4200];
    const char *one = tmpdir("trials-one");
    mpl_search_result res;
    cfg_small(&c, one);
    c.seed = SEED + (unsigned long)t + 1;
    assert_int_equal(mpl_search_run(&c, &res, &err), MPL_OK);
    snprintf(ta, sizeof ta, "%s/trial-%03d", a, t + 1);
    snprintf(tb, sizeof tb, "%s/trial-%03d", b, t + 1);
    assert_same_file(one, ta, "log.csv", 1);
    assert_same_file(one, ta, "theta.tsv", 0);
    assert_same_file(tb, ta, "log.csv", 1);
    assert_same_file(tb, ta, "theta.tsv", 0);
    for (int i = 0; i < res.n_terms; i++) assert_true(res.theta[i] == r2.trial[t].theta[i]);
    assert_int_equal(r2.seed[t], SEED + (unsigned long)t + 1);
    mpl_search_result_free(&res);
  }
  assert_same_file(a, b, "summary.csv", 0);
  assert_same_file(a, b, "terms.csv", 0);
  mpl_trials_result_free(&r1);
  mpl_trials_result_free(&r2);
}

/* summary.csv and terms.csv against the trials' own log.csv and theta.tsv. */
static void summary_matches_direct(void **state) {
  (void)state;
  NEED_DATA();
  const char *dir = tmpdir("trials-sum");
  enum { N = 4 };
  mpl_search_cfg c;
  mpl_trials_result r;
  mpl_err err = {0};
  cfg_small(&c, dir);
  c.adam.lambda = 10;   /* strong enough for a term to die in some trials and not others */
  assert_int_equal(mpl_trials_run(&c, N, 2, &r, &err), MPL_OK);
  char *sum = mpl_test_read_in(dir, "summary.csv"), *terms = mpl_test_read_in(dir, "terms.csv"), *logs[N], *tsv[N];
  for (int t = 0; t < N; t++) {
    char sub[64];
    snprintf(sub, sizeof sub, "trial-%03d/log.csv", t + 1);
    logs[t] = mpl_test_read_in(dir, sub);
    snprintf(sub, sizeof sub, "trial-%03d/theta.tsv", t + 1);
    tsv[t] = mpl_test_read_in(dir, sub);
  }
  for (int e = 1; e <= EPISODES; e++) {
    double acc[N], s = 0, lo = 1e300, hi = -1e300, ls = 0;
    for (int t = 0; t < N; t++) {
      acc[t] = csv_num(logs[t], e, "accuracy");
      s += acc[t], ls += csv_num(logs[t], e, "loss");
      lo = acc[t] < lo ? acc[t] : lo, hi = acc[t] > hi ? acc[t] : hi;
    }
    mpl_assert_close(csv_num(sum, e, "accuracy_mean"), s / N, 1e-12, 1e-15);
    mpl_assert_close(csv_num(sum, e, "loss_mean"), ls / N, 1e-12, 1e-15);
    mpl_assert_close(r.acc_mean[e - 1], s / N, 1e-12, 1e-15);
    double blo = csv_num(sum, e, "accuracy_lo"), bhi = csv_num(sum, e, "accuracy_hi");
    assert_true(lo - 1e-12 <= blo && blo <= s / N + 1e-12 && s / N <= bhi + 1e-12 && bhi <= hi + 1e-12);
    assert_int_equal((int)csv_num(sum, e, "trials"), N);
  }
  int survived_any = 0;
  const char *names[] = {"F0", "F2", "F9"};
  for (int i = 0; i < 3; i++) {
    int alive = 0;
    double th[N], s = 0, m, blo, bhi;
    for (int t = 0; t < N; t++) th[t] = tsv_theta(tsv[t], names[i]), alive += th[t] != 0, s += th[t];
    mpl_assert_close(csv_num(terms, i + 1, "survival"), (double)alive / N, 0, 1e-15);
    assert_int_equal((int)csv_num(terms, i + 1, "survived"), alive);
    mpl_assert_close(csv_num(terms, i + 1, "theta_mean"), s / N, 1e-12, 1e-18);
    /* the band is the stats module's bootstrap of these same values: same mean, inside the range */
    assert_int_equal(mpl_bootstrap_mean(th, N, MPL_BOOT_RESAMPLES, MPL_BOOT_LEVEL, 1, &m, &blo, &bhi, &err), 0);
    mpl_assert_close(m, r.theta_mean[i], 1e-12, 1e-18);
    assert_true(r.theta_lo[i] <= r.theta_mean[i] + 1e-18 && r.theta_mean[i] <= r.theta_hi[i] + 1e-18);
    survived_any += alive;
  }
  mpl_assert_close(r.active_mean, (double)survived_any / N, 0, 1e-15);
  double fin = 0;   /* final accuracy: window = all EPISODES (< MPL_FINAL_WINDOW) */
  for (int t = 0; t < N; t++) {
    double s = 0;
    for (int e = 1; e <= EPISODES; e++) s += csv_num(logs[t], e, "accuracy");
    mpl_assert_close(r.final_acc[t], s / EPISODES, 1e-12, 1e-15);
    fin += s / EPISODES / N;
  }
  assert_int_equal(r.window, EPISODES);
  mpl_assert_close(r.final_mean, fin, 1e-12, 1e-15);
  char *md = mpl_test_read_in(dir, "summary.md");
  mpl_assert_contains(md, "| F9 |");
  mpl_assert_contains(md, "4 trials (seeds 6..9)");
  /* the trials directory reads out as its consensus rule: each term's mean theta over the trials,
   * its survival in the description; every format renders it and JSON loads back the same */
  mpl_readout ro, back;
  assert_int_equal(mpl_readout_load(dir, &ro, &err), MPL_OK);
  assert_int_equal(ro.n_terms, 3);
  assert_string_equal(mpl_readout_config(&ro, "trials"), "4");
  for (int i = 0; i < 3; i++) {
    assert_string_equal(ro.terms[i].name, names[i]);
    mpl_assert_close(ro.terms[i].theta, r.theta_mean[i], 1e-15, 1e-18);
    char want[64];
    snprintf(want, sizeof want, "survived in %d of 4 trials", (int)csv_num(terms, i + 1, "survived"));
    mpl_assert_contains(ro.terms[i].description, want);
  }
  for (int f = MPL_REPORT_TEXT; f <= MPL_REPORT_JSON; f++) {
    char *out = mpl_readout_format(&ro, (mpl_report_format)f, &err);
    assert_non_null(out);
    if (f == MPL_REPORT_TEXT) mpl_assert_contains(out, "mean over 4 trials");
    if (f == MPL_REPORT_JSON) {
      char jpath[4200];
      snprintf(jpath, sizeof jpath, "%s/consensus.json", dir);
      FILE *jf = fopen(jpath, "w");
      assert_non_null(jf);
      fputs(out, jf);
      fclose(jf);
      assert_int_equal(mpl_readout_load(jpath, &back, &err), MPL_OK);
      for (int i = 0; i < 3; i++) assert_memory_equal(&back.terms[i].theta, &ro.terms[i].theta, sizeof(double));
      mpl_readout_free(&back);
    }
    free(out);
  }
  mpl_readout_free(&ro);
  free(md), free(sum), free(terms);
  for (int t = 0; t < N; t++) free(logs[t]), free(tsv[t]);
  mpl_trials_result_free(&r);
}

/* One search per lambda; path.csv against each lambda directory's own files. */
static void lambda_path(void **state) {
  (void)state;
  NEED_DATA();
  const char *dir = tmpdir("path"), *one = tmpdir("path-one");
  const double lam[] = {0, 0.3, 30};
  mpl_search_cfg c;
  mpl_path_result P;
  mpl_err err = {0};
  cfg_small(&c, dir);
  assert_int_equal(mpl_path_run(&c, lam, 3, 1, 2, &P, &err), MPL_OK);
  char *path = mpl_test_read_in(dir, "path.csv"), *md = mpl_test_read_in(dir, "path.md");
  for (int l = 0; l < 3; l++) {
    char sub[64], ldir[4200];
    mpl_lambda_dirname(lam[l], sub, sizeof sub);
    snprintf(ldir, sizeof ldir, "%s/%s", dir, sub);
    char *tsv = mpl_test_read_in(ldir, "theta.tsv"), *log = mpl_test_read_in(ldir, "log.csv");
    int alive = (tsv_theta(tsv, "F0") != 0) + (tsv_theta(tsv, "F2") != 0) + (tsv_theta(tsv, "F9") != 0);
    double acc = 0;
    for (int e = 1; e <= EPISODES; e++) acc += csv_num(log, e, "accuracy") / EPISODES;
    assert_true(csv_num(path, l + 1, "lambda") == lam[l]);
    mpl_assert_close(csv_num(path, l + 1, "active_mean"), alive, 0, 0);
    mpl_assert_close(csv_num(path, l + 1, "accuracy"), acc, 1e-12, 1e-15);
    mpl_assert_close(csv_num(path, l + 1, "survival_F0"), tsv_theta(tsv, "F0") != 0, 0, 0);
    char row[128];   /* path.md's row: lambda, number of survivors, the first survivor */
    snprintf(row, sizeof row, "| %g | %d.00 | %s", lam[l], alive,
             tsv_theta(tsv, "F0") != 0 ? "F0" : tsv_theta(tsv, "F2") != 0 ? "F2" : tsv_theta(tsv, "F9") != 0 ? "F9" : "none");
    mpl_assert_contains(md, row);
    if (l == 0) {  /* a single run per lambda is the plain search with the same seed */
      mpl_search_result res;
      cfg_small(&c, one);
      c.adam.lambda = 0;
      assert_int_equal(mpl_search_run(&c, &res, &err), MPL_OK);
      assert_same_file(one, ldir, "log.csv", 1);
      mpl_search_result_free(&res);
    }
    free(tsv), free(log);
  }
  free(path), free(md);
  mpl_path_result_free(&P);
}

static void lambda_lists(void **state) {
  (void)state;
  double *v;
  int n;
  mpl_err err = {0};
  assert_int_equal(mpl_lambda_parse("0,1e-4:1e-2:3,0.5", &v, &n, &err), MPL_OK);
  assert_int_equal(n, 5);
  assert_true(v[0] == 0 && v[1] == 1e-4 && v[3] == 1e-2 && v[4] == 0.5);
  mpl_assert_close(v[2], 1e-3, 1e-12, 0);
  free(v);
  const char *bad[] = {"", "1,", "a", "-1", "1:0:3", "0:1:3", "1:2:1", "1:2", "1:2:3:4", "1e-4,0.0001", "inf"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err.code = 0;
    assert_int_equal(mpl_lambda_parse(bad[i], &v, &n, &err), MPL_EINVAL);
    assert_null(v);
    mpl_assert_contains(err.msg, "--lambda-path");
  }
  char name[64];
  mpl_lambda_dirname(3e-4, name, sizeof name);
  assert_string_equal(name, "lambda-0.0003");
}

/* Bad input: no directory, a failing configuration reported once, naming the trial. */
static void trials_errors(void **state) {
  (void)state;
  mpl_search_cfg c;
  mpl_trials_result r;
  mpl_err err = {0};
  cfg_small(&c, NULL);
  assert_int_equal(mpl_trials_run(&c, 2, 1, &r, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "--out");
  mpl_trials_result_free(&r);
  cfg_small(&c, tmpdir("trials-bad"));
  c.terms = "paper:F0,NOPE";
  assert_true(mpl_trials_run(&c, 3, 2, &r, &err) < 0);
  mpl_assert_contains(err.msg, "trial-001");
  mpl_assert_contains(err.msg, "NOPE");
  mpl_trials_result_free(&r);
  assert_int_equal(mpl_trials_run(&c, 0, 2, &r, &err), MPL_EINVAL);
  mpl_trials_result_free(&r);
}

/* The CLI: the printed table, and one progress line for all trials (no per-trial lines). */
static void cli_trials(void **state) {
  (void)state;
  NEED_DATA();
  char cmd[16384];
  const char *out = tmpdir("cli-trials"), *o = tmpdir("cli-stdout"), *e = tmpdir("cli-stderr");
  snprintf(cmd, sizeof cmd, "'%s' search --data fashion-mnist-test --per-class 100 --hidden 8 --episodes 30 "
           "--terms paper:F0,F9 --trials 2 --jobs 2 --out '%s' >'%s' 2>'%s'", MPL_CLI, out, o, e);
  assert_int_equal(system(cmd), 0);
  char *so = mpl_test_read(o), *se = mpl_test_read(e);
  mpl_assert_contains(so, "| term | formula | survived | mean theta | 98% interval |");
  mpl_assert_contains(so, "| F9 |");
  mpl_assert_contains(se, "trials 2/2 done, 0 running  episodes 60/60");
  assert_null(strstr(se, "episode 1/"));   /* the single-search progress line */
  free(so), free(se);
  /* the command's summaries against its two trials' own files: every episode's mean accuracy
   * and loss, each term's mean theta and survival count */
  char *sum = mpl_test_read_in(out, "summary.csv"), *terms = mpl_test_read_in(out, "terms.csv"), *logs[2], *tsv[2];
  for (int t = 0; t < 2; t++) {
    char sub[64];
    snprintf(sub, sizeof sub, "trial-%03d/log.csv", t + 1);
    logs[t] = mpl_test_read_in(out, sub);
    snprintf(sub, sizeof sub, "trial-%03d/theta.tsv", t + 1);
    tsv[t] = mpl_test_read_in(out, sub);
  }
  for (int ep = 1; ep <= 30; ep++) {
    mpl_assert_close(csv_num(sum, ep, "accuracy_mean"), (csv_num(logs[0], ep, "accuracy") + csv_num(logs[1], ep, "accuracy")) / 2,
                     1e-12, 1e-15);
    mpl_assert_close(csv_num(sum, ep, "loss_mean"), (csv_num(logs[0], ep, "loss") + csv_num(logs[1], ep, "loss")) / 2, 1e-12,
                     1e-15);
  }
  const char *tn[2] = {"F0", "F9"};
  for (int i = 0; i < 2; i++) {
    double a = tsv_theta(tsv[0], tn[i]), b = tsv_theta(tsv[1], tn[i]);
    mpl_assert_close(csv_num(terms, i + 1, "theta_mean"), (a + b) / 2, 1e-12, 1e-18);
    assert_int_equal((int)csv_num(terms, i + 1, "survived"), (a != 0) + (b != 0));
  }
  free(sum), free(terms);
  for (int t = 0; t < 2; t++) free(logs[t]), free(tsv[t]);
  /* --lambda-path: the printed table, and the path figure when gnuplot is installed */
  char lp[4200], fig[4300];
  snprintf(lp, sizeof lp, "%s", tmpdir("cli-path"));
  snprintf(cmd, sizeof cmd, "'%s' search --data fashion-mnist-test --per-class 100 --hidden 8 --episodes 10 "
           "--terms paper:F0,F9 --lambda-path 0,1:10:2 --out '%s' >'%s' 2>'%s'", MPL_CLI, lp, o, e);
  assert_int_equal(system(cmd), 0);
  so = mpl_test_read(o);
  mpl_assert_contains(so, "| lambda | surviving terms | which | final accuracy | 98% interval |");
  mpl_assert_contains(so, "| 10 | ");
  snprintf(fig, sizeof fig, "%s/plots/path.png", lp);
  if (system("gnuplot -e 'exit' >/dev/null 2>&1") == 0) assert_int_equal(access(fig, R_OK), 0);
  free(so);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(trials_match_single_runs), cmocka_unit_test(summary_matches_direct),
    cmocka_unit_test(lambda_path), cmocka_unit_test(lambda_lists), cmocka_unit_test(trials_errors),
    cmocka_unit_test(cli_trials),
  };
  return cmocka_run_group_tests_name("trials", tests, NULL, NULL);
}
