/* metaplast tests: figures drawn by gnuplot from a search, a trials directory, a comparison and
 * a sparsity path: files written with the right magic, the script's titles and legend, the data
 * against a direct moving average, quoting of odd paths, and a clear error without gnuplot.
 * Tiny runs on Debian's Fashion-MNIST test split. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metaplast/plot.h"
#include "metaplast/search.h"
#include "metaplast/trials.h"

#define EPISODES 30

static char run_dir[4096], trials_dir[4096], path_dir[4096], odd_dir[4096];

/* {====== Helpers ====== */

/* The file exists, is not empty and starts with magic. */
static void assert_magic(const char *prefix, const char *name, const char *magic) {
  char p[8192];
  snprintf(p, sizeof p, "%s%s", prefix, name);
  FILE *f = fopen(p, "rb");
  if (!f) fail_msg("%s: not written", p);
  char head[16] = {0};
  size_t k = fread(head, 1, sizeof head - 1, f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  if (size < 1000 || k < strlen(magic) || memcmp(head, magic, strlen(magic)))
    fail_msg("%s: %ld bytes, does not start with %s", p, size, magic);
}

static char *read_in(const char *prefix, const char *name) {
  char p[8192];
  snprintf(p, sizeof p, "%s%s", prefix, name);
  return mpl_test_read(p);
}

static int have_gnuplot(void) { return system("gnuplot -e 'exit' >/dev/null 2>&1") == 0; }
static int have_data(void) { return access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) == 0; }

static void cfg_small(mpl_search_cfg *c, const char *out, const char *terms) {
  mpl_search_defaults(c);
  c->data = "fashion-mnist-test";
  c->per_class = 100;
  c->n_hidden = 1;
  c->hidden[0] = 8;
  c->episodes = EPISODES;
  c->terms = terms;
  c->out = out;
}

/* One search, one trials directory, one sparsity path, and a search in a directory whose
 * name needs quoting. */
static int setup(void **state) {
  (void)state;
  if (!have_data()) return 0;
  mpl_search_cfg c;
  mpl_search_result r;
  mpl_trials_result t;
  mpl_path_result p;
  mpl_err err = {0};
  const double lam[] = {0, 30};
  snprintf(run_dir, sizeof run_dir, "%s", mpl_test_path("plot-run"));
  snprintf(trials_dir, sizeof trials_dir, "%s", mpl_test_path("plot-trials"));
  snprintf(path_dir, sizeof path_dir, "%s", mpl_test_path("plot-path"));
  snprintf(odd_dir, sizeof odd_dir, "%s", mpl_test_path("plot it's \"odd\""));
  cfg_small(&c, run_dir, "paper:F0,F2");
  if (mpl_search_run(&c, &r, &err) < 0) return -1;
  mpl_search_result_free(&r);
  cfg_small(&c, odd_dir, "paper:F0");
  c.episodes = 5;
  if (mpl_search_run(&c, &r, &err) < 0) return -1;
  mpl_search_result_free(&r);
  cfg_small(&c, trials_dir, "paper:F0,F2");
  int rc = mpl_trials_run(&c, 2, 2, &t, &err);
  mpl_trials_result_free(&t);
  if (rc < 0) return -1;
  cfg_small(&c, path_dir, "paper:F0,F2,F9");
  rc = mpl_path_run(&c, lam, 2, 1, 2, &p, &err);
  mpl_path_result_free(&p);
  return rc < 0 ? -1 : 0;
}

#define NEED()                                                                                        \
  do {                                                                                                \
    if (!have_data() || !have_gnuplot()) { print_message("needs gnuplot and fashion-mnist\n"); skip(); } \
  } while (0)

/* }====== */

/* One search: every figure in PNG and PDF, titles saying what is shown, data = moving average. */
static void plot_one_run(void **state) {
  (void)state;
  NEED();
  char prefix[4200];
  snprintf(prefix, sizeof prefix, "%s/plots/", run_dir);
  mpl_plot_cfg c;
  mpl_err err = {0};
  const char *dirs[] = {run_dir};
  mpl_plot_defaults(&c);
  assert_int_equal(mpl_plot(dirs, 1, &c, &err), MPL_OK);   /* default: DIR/plots/, png,pdf */
  const char *figs[] = {"accuracy", "loss", "theta", "alpha", "ortho"};
  for (int i = 0; i < 5; i++) {
    char n[64];
    snprintf(n, sizeof n, "%s.png", figs[i]);
    assert_magic(prefix, n, "\x89PNG\r\n");
    snprintf(n, sizeof n, "%s.pdf", figs[i]);
    assert_magic(prefix, n, "%PDF-");
  }
  char *gp = read_in(prefix, "plot.gp"), *dat = read_in(prefix, "data-1.dat");
  mpl_assert_contains(gp, "set title 'Meta-accuracy: query accuracy after each episode''s inner loop'");
  mpl_assert_contains(gp, "set title 'Meta-loss: query cross-entropy after each episode''s inner loop'");
  mpl_assert_contains(gp, "'lines: moving average over the last 20 episodes'");
  mpl_assert_contains(gp, "set title 'Coefficients θ of the rule''s terms per episode'");
  mpl_assert_contains(gp, "set title 'Alignment angles α_ℓ");
  mpl_assert_contains(gp, "set title 'Orthonormality error per layer");
  mpl_assert_contains(gp, "set xlabel 'episode (meta-step)'");
  mpl_assert_contains(gp, "title 'F2'");
  assert_null(strstr(gp, "98% band"));   /* a single run has no band */
  /* data-1.dat: episode, accuracy, its trailing moving average over 20 episodes (as log.csv) */
  double acc[EPISODES], ma;
  const char *p = strchr(dat, '\n') + 1;
  for (int e = 0; e < EPISODES; e++) {
    int ep;
    assert_int_equal(sscanf(p, "%d %lf %lf", &ep, &acc[e], &ma), 3);
    assert_int_equal(ep, e + 1);
    double s = 0;
    int k = 0;
    for (int j = e - 19 < 0 ? 0 : e - 19; j <= e; j++) s += acc[j], k++;
    mpl_assert_close(ma, s / k, 1e-9, 1e-12);
    p = strchr(p, '\n') + 1;
  }
  free(gp), free(dat);
}

/* A trials directory: the band over trials; SVG. */
/* A BP run: its alignment angles are undefined (all zero in the log); every figure is still drawn,
 * the angles' as an empty frame that says so (gnuplot refuses to plot nothing). */
static void plot_bp_run(void **state) {
  (void)state;
  NEED();
  char dir[4200], prefix[4300];
  snprintf(dir, sizeof dir, "%s", mpl_test_path("plot-bp"));
  mpl_search_cfg c;
  mpl_search_result r;
  mpl_err err = {0};
  cfg_small(&c, dir, "paper:F0");
  c.feedback = MPL_FB_SYMMETRIC;
  c.episodes = 4;
  c.force = 1;
  assert_int_equal(mpl_search_run(&c, &r, &err), MPL_OK);
  mpl_search_result_free(&r);
  mpl_plot_cfg pc;
  const char *dirs[] = {dir};
  mpl_plot_defaults(&pc);
  if (mpl_plot(dirs, 1, &pc, &err) < 0) fail_msg("%s", err.msg);
  snprintf(prefix, sizeof prefix, "%s/plots/", dir);
  const char *figs[] = {"accuracy", "loss", "theta", "alpha", "ortho"};
  for (int i = 0; i < 5; i++) {
    char n[64];
    snprintf(n, sizeof n, "%s.png", figs[i]);
    assert_magic(prefix, n, "\x89PNG\r\n");
  }
  char *gp = read_in(prefix, "plot.gp");
  mpl_assert_contains(gp, "no data for this figure in these runs");
  free(gp);
}

static void plot_trials_svg(void **state) {
  (void)state;
  NEED();
  char prefix[4200];
  snprintf(prefix, sizeof prefix, "%s/fig-", trials_dir);
  mpl_plot_cfg c;
  mpl_err err = {0};
  const char *dirs[] = {trials_dir};
  mpl_plot_defaults(&c);
  c.out = prefix;
  c.formats = "svg";
  c.window = 5;
  assert_int_equal(mpl_plot(dirs, 1, &c, &err), MPL_OK);
  assert_magic(prefix, "accuracy.svg", "<?xml");
  assert_magic(prefix, "theta.svg", "<?xml");
  assert_magic(prefix, "survival.svg", "<?xml");   /* issue 25: the survival frequencies */
  char *gp = read_in(prefix, "plot.gp");
  mpl_assert_contains(gp, "set title 'Survival frequency: the share of trials in which each term survived'");
  mpl_assert_contains(gp, "using 0:2:xtic(1) with boxes");
  /* its data: terms.csv's terms, survival, counts and theta, in order */
  char *sd = read_in(prefix, "survival.dat"), *tc = read_in(trials_dir, "/terms.csv");
  const char *tl = strchr(tc, '\n') + 1, *dl = strchr(sd, '\n') + 1;
  int nterms = 0;
  for (; *tl; tl = strchr(tl, '\n') + 1, dl = strchr(dl, '\n') + 1, nterms++) {
    char name[64], dname[64];
    double surv, dsurv, a, b, da, db;
    assert_int_equal(sscanf(tl, "%63[^,],%lf,%lf,%lf", name, &surv, &a, &b), 4);
    assert_int_equal(sscanf(dl, "\"%63[^\"]\" %lf %lf %lf", dname, &dsurv, &da, &db), 4);
    assert_string_equal(name, dname);
    assert_true(surv == dsurv && a == da && b == db && b == 2);
  }
  assert_true(nterms >= 1);
  free(sd), free(tc);
  mpl_assert_contains(gp, "98% band over 2 trials (moving average)");
  mpl_assert_contains(gp, "with filledcurves");
  mpl_assert_contains(gp, "moving average over the last 5 episodes");
  assert_null(strstr(gp, ".png'"));
  free(gp);
  /* the band's numbers: fig-data-1.dat's accuracy_lo_ma and accuracy_hi_ma are the trailing
   * 5-episode averages of summary.csv's accuracy_lo and accuracy_hi, its accuracy the mean */
  char *dat = read_in(prefix, "data-1.dat"), *sum = read_in(trials_dir, "/summary.csv");
  mpl_assert_contains(dat, "episode accuracy accuracy_ma loss loss_ma accuracy_lo_ma accuracy_hi_ma ");
  const char *p = strchr(dat, '\n') + 1, *q = strchr(sum, '\n') + 1;
  double lo[64], hi[64];
  int rows = 0;
  for (; *p && *q && rows < 64; rows++) {
    int ep, e2, n;
    double acc, ma, loss, lma, blo, bhi, mean, slo, shi;
    assert_int_equal(sscanf(p, "%d %lf %lf %lf %lf %lf %lf", &ep, &acc, &ma, &loss, &lma, &blo, &bhi), 7);
    assert_int_equal(sscanf(q, "%d,%d,%lf,%lf,%lf", &e2, &n, &mean, &slo, &shi), 5);
    assert_int_equal(ep, rows + 1);
    assert_int_equal(e2, rows + 1);
    lo[rows] = slo, hi[rows] = shi;
    double sl = 0, sh = 0;
    int k = 0;
    for (int j = rows - 4 < 0 ? 0 : rows - 4; j <= rows; j++) sl += lo[j], sh += hi[j], k++;
    mpl_assert_close(acc, mean, 1e-9, 1e-12);
    mpl_assert_close(blo, sl / k, 1e-9, 1e-12);
    mpl_assert_close(bhi, sh / k, 1e-9, 1e-12);
    p = strchr(p, '\n') + 1, q = strchr(q, '\n') + 1;
  }
  assert_true(rows >= 5);
  free(dat), free(sum);
}

/* Several runs: one figure per quantity, the legend naming each run. */
static void plot_comparison(void **state) {
  (void)state;
  NEED();
  const char *prefix = mpl_test_path("plot-cmp");
  char pre[4200];
  snprintf(pre, sizeof pre, "%s/", prefix);
  const char *dirs[] = {run_dir, trials_dir}, *labels[] = {"FA", "BP"};
  mpl_plot_cfg c;
  mpl_err err = {0};
  mpl_plot_defaults(&c);
  c.out = pre;
  c.labels = labels;
  c.formats = "png";
  assert_int_equal(mpl_plot(dirs, 2, &c, &err), MPL_OK);
  assert_magic(pre, "accuracy.png", "\x89PNG");
  char *gp = read_in(pre, "plot.gp");
  mpl_assert_contains(gp, "'FA: moving average (20 episodes)'");
  mpl_assert_contains(gp, "'BP, mean over trials: moving average (20 episodes)'");
  mpl_assert_contains(gp, "'FA: F2'");
  mpl_assert_contains(gp, "'BP: F2'");
  free(gp);
}

/* A sparsity path: accuracy against surviving terms, and its runs compared. */
static void plot_path(void **state) {
  (void)state;
  NEED();
  char prefix[4200];
  snprintf(prefix, sizeof prefix, "%s/plots/", path_dir);
  mpl_plot_cfg c;
  mpl_err err = {0};
  const char *dirs[] = {path_dir};
  mpl_plot_defaults(&c);
  c.formats = "png";
  assert_int_equal(mpl_plot(dirs, 1, &c, &err), MPL_OK);
  assert_magic(prefix, "path.png", "\x89PNG");
  assert_magic(prefix, "accuracy.png", "\x89PNG");
  char *gp = read_in(prefix, "plot.gp"), *dat = read_in(prefix, "path-1.dat");
  mpl_assert_contains(gp, "set title 'Sparsity path: final accuracy against the number of surviving terms'");
  mpl_assert_contains(gp, "'λ = 30: moving average (20 episodes)'");
  mpl_assert_contains(dat, "\"λ=30\"");
  free(gp), free(dat);
}

/* A directory name with quotes reaches gnuplot intact. */
static void plot_quoting(void **state) {
  (void)state;
  NEED();
  const char *dirs[] = {odd_dir};
  char prefix[4200];
  snprintf(prefix, sizeof prefix, "%s/plots/", odd_dir);
  mpl_plot_cfg c;
  mpl_err err = {0};
  mpl_plot_defaults(&c);
  c.formats = "png";
  assert_int_equal(mpl_plot(dirs, 1, &c, &err), MPL_OK);
  assert_magic(prefix, "loss.png", "\x89PNG");
}

/* No gnuplot: a clear error from the library and from the command (PATH without gnuplot). */
/* A trials directory whose run was interrupted has no summary.csv: each trial-NNN/ with a log.csv
 * is drawn as a run of its own (docs/trials.md), not refused as "not a results directory". */
static void plot_interrupted_trials(void **state) {
  (void)state;
  NEED();
  char dir[4200], prefix[4300], cmd[40000];
  snprintf(dir, sizeof dir, "%s", mpl_test_path("plot-interrupted"));
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/trial-001' '%s/trial-002' '%s/trial-003' && "
           "cp '%s/log.csv' '%s/trial-001/' && head -n 11 '%s/log.csv' > '%s/trial-002/log.csv'",
           dir, dir, dir, dir, run_dir, dir, run_dir, dir);
  assert_int_equal(system(cmd), 0);   /* trial-003 never started: no log.csv */
  snprintf(prefix, sizeof prefix, "%s/fig-", dir);
  mpl_plot_cfg c;
  mpl_err err = {0};
  const char *dirs[] = {dir};
  mpl_plot_defaults(&c);
  c.out = prefix;
  c.formats = "png";
  if (mpl_plot(dirs, 1, &c, &err) < 0) fail_msg("%s", err.msg);
  assert_magic(prefix, "accuracy.png", "\x89PNG\r\n");
  char *gp = read_in(prefix, "plot.gp");
  mpl_assert_contains(gp, "trial-001");
  mpl_assert_contains(gp, "trial-002");
  assert_null(strstr(gp, "trial-003"));
  free(gp);
}

static void plot_without_gnuplot(void **state) {
  (void)state;
  if (!have_data()) skip();
  const char *dirs[] = {run_dir};
  mpl_plot_cfg c;
  mpl_err err = {0};
  mpl_plot_defaults(&c);
  char out[4200], e[4200], out2[4200];
  snprintf(out, sizeof out, "%s/", mpl_test_path("plot-none"));
  snprintf(e, sizeof e, "%s", mpl_test_path("plot-none.err"));
  snprintf(out2, sizeof out2, "%s/x-", mpl_test_path("plot-none2"));
  c.gnuplot = "gnuplot-does-not-exist";
  c.out = out;
  assert_int_equal(mpl_plot(dirs, 1, &c, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "gnuplot-does-not-exist not found on PATH");
  mpl_assert_contains(err.msg, "gnuplot-nox");
  char cmd[16384];
  snprintf(cmd, sizeof cmd, "PATH=/nonexistent '%s' plot '%s' --out '%s' 2>'%s'", MPL_CLI, run_dir, out2, e);
  int st = system(cmd);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
  char *msg = mpl_test_read(e);
  mpl_assert_contains(msg, "metaplast: gnuplot not found on PATH");
  free(msg);
}

/* issue 25: failed episodes are marked (diverged at 0, dead at their value, on every per-episode
 * figure, with their counts); a run without failures has no such marks (plot_one_run). */
static void plot_failed_episodes(void **state) {
  (void)state;
  if (!have_gnuplot()) skip();
  char dir[4200], prefix[4300], log[4300];
  snprintf(dir, sizeof dir, "%s", mpl_test_path("failed"));
  assert_int_equal(mkdir(dir, 0777), 0);
  snprintf(log, sizeof log, "%s/log.csv", dir);
  FILE *f = fopen(log, "w");
  fprintf(f, "episode,loss,meta_loss,accuracy,active,theta_F0,grad_F0,alpha_0,ortho_1,status,seconds\n");
  for (int e = 1; e <= 40; e++) {
    const char *st = e == 7 || e == 8 || e == 30 ? "diverged" : e == 20 ? "dead" : "ok";
    if (!strcmp(st, "diverged")) fprintf(f, "%d,nan,nan,nan,1,%g,nan,nan,nan,diverged,0.01\n", e, 1e-3 * e);
    else fprintf(f, "%d,%g,%g,%g,1,%g,0.1,10,0.5,%s,0.01\n", e, 2 - e / 40.0, 2 - e / 40.0, e / 50.0, 1e-3 * e, st);
  }
  fclose(f);
  snprintf(prefix, sizeof prefix, "%s/plots/", dir);
  mpl_plot_cfg c;
  mpl_err err = {0};
  const char *dirs[] = {dir};
  mpl_plot_defaults(&c);
  c.formats = "png";
  if (mpl_plot(dirs, 1, &c, &err) < 0) fail_msg("%s", err.msg);
  assert_magic(prefix, "accuracy.png", "\x89PNG\r\n");
  assert_magic(prefix, "theta.png", "\x89PNG\r\n");
  char *gp = read_in(prefix, "plot.gp");
  /* accuracy, loss and theta: each marks the 3 diverged and the 1 dead episode */
  const char *p = gp;
  int div = 0, dead = 0;
  while ((p = strstr(p, "title 'diverged episodes (3; θ rolled back), at 0'"))) div++, p++;
  for (p = gp; (p = strstr(p, "title 'dead episode (1)'")); p++) dead++;
  assert_int_equal(div, 3);
  assert_int_equal(dead, 3);
  mpl_assert_contains(gp, " == 1 ? 0 : NaN) with points");
  free(gp);
  snprintf(prefix, sizeof prefix, "%s/plots/data-1.dat", dir);
  char *dat = mpl_test_read(prefix);
  mpl_assert_contains(dat, " loss_ma status F0");   /* the status column: 1 = diverged, 2 = dead */
  free(dat);
  snprintf(prefix, sizeof prefix, "%s/plots/", run_dir);
  if (access(prefix, F_OK) == 0) {   /* plot_one_run's: no failures, no marks */
    char *one = read_in(prefix, "plot.gp");
    assert_null(strstr(one, "diverged episode"));
    free(one);
  }
}

/* issue 25: an evaluation directory (eval --out DIR) gets a figure: the three methods' means with
 * their intervals (eval.json) and each task's accuracy (eval.csv; a diverged task left out). */
static void plot_eval(void **state) {
  (void)state;
  if (!have_gnuplot()) skip();
  char dir[4200], path[4300];
  snprintf(dir, sizeof dir, "%s", mpl_test_path("evaldir"));
  assert_int_equal(mkdir(dir, 0777), 0);
  snprintf(path, sizeof path, "%s/eval.json", dir);
  const char *json = "{\"rule\": \"runs/x\", \"dataset\": \"fashion-mnist-test\", \"tasks\": 3, \"methods\": ["
                     "{\"method\": \"rule\", \"mean\": 0.5, \"lo\": 0.4, \"hi\": 0.6, \"diverged\": 1},"
                     "{\"method\": \"FA\", \"mean\": 0.3, \"lo\": 0.25, \"hi\": 0.35, \"diverged\": 0},"
                     "{\"method\": \"BP\", \"mean\": 0.7, \"lo\": 0.6, \"hi\": 0.8, \"diverged\": 0}]}";
  assert_int_equal(mpl_test_write(path, json, strlen(json)), 0);
  snprintf(path, sizeof path, "%s/eval.csv", dir);
  const char *csv = "task,task_seed,rule,fa,bp\n1,11,0.4,0.2,0.6\n2,12,0.6,0.4,0.8\n3,13,nan,0.3,0.7\n";
  assert_int_equal(mpl_test_write(path, csv, strlen(csv)), 0);
  char prefix[4300];
  snprintf(prefix, sizeof prefix, "%s/plots/", dir);
  mpl_plot_cfg c;
  mpl_err err = {0};
  const char *dirs[] = {dir};
  mpl_plot_defaults(&c);
  c.formats = "png";
  if (mpl_plot(dirs, 1, &c, &err) < 0) fail_msg("%s", err.msg);
  assert_magic(prefix, "eval.png", "\x89PNG\r\n");
  char *gp = read_in(prefix, "plot.gp"), *dat = read_in(prefix, "eval-1.dat"), *tasks = read_in(prefix, "eval-1.dat.tasks");
  mpl_assert_contains(gp, "'runs/x on 3 fresh tasks of fashion-mnist-test'");
  mpl_assert_contains(gp, "with yerrorbars");
  assert_string_equal(dat, "\"rule\" 0.5 0.4 0.6 1\n\"FA\" 0.3 0.25 0.35 0\n\"BP\" 0.7 0.6 0.8 0\n");
  assert_string_equal(tasks, "-0.25 0.4 0.75 0.2 1.75 0.6\n0 0.6 1 0.4 2 0.8\n0.25 NaN 1.25 0.3 2.25 0.7\n");
  free(gp), free(dat), free(tasks);
  snprintf(path, sizeof path, "%s/eval.json", dir);   /* a damaged summary: named */
  assert_int_equal(mpl_test_write(path, "{\"methods\": 3}", 14), 0);
  assert_int_equal(mpl_plot(dirs, 1, &c, &err), MPL_EFORMAT);
  mpl_assert_contains(err.msg, "eval.json: methods: expected an array");
}

static void plot_bad_input(void **state) {
  (void)state;
  mpl_plot_cfg c;
  mpl_err err = {0};
  const char *nodir[] = {"/nonexistent/run"}, *dirs[] = {run_dir};
  char out[4200];
  snprintf(out, sizeof out, "%s/", mpl_test_path("plot-bad"));
  mpl_plot_defaults(&c);
  c.out = out;
  assert_int_equal(mpl_plot(nodir, 1, &c, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "/nonexistent/run: not a results directory");
  c.formats = "png,gif";
  assert_int_equal(mpl_plot(dirs, 1, &c, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "--format 'png,gif'");
  assert_int_equal(mpl_plot(dirs, 0, &c, &err), MPL_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(plot_one_run), cmocka_unit_test(plot_bp_run), cmocka_unit_test(plot_trials_svg), cmocka_unit_test(plot_comparison),
    cmocka_unit_test(plot_path), cmocka_unit_test(plot_quoting), cmocka_unit_test(plot_interrupted_trials),
    cmocka_unit_test(plot_without_gnuplot), cmocka_unit_test(plot_failed_episodes), cmocka_unit_test(plot_eval),
    cmocka_unit_test(plot_bad_input),
  };
  return cmocka_run_group_tests_name("plot", tests, setup, NULL);
}
