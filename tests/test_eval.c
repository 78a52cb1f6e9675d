/* metaplast tests: evaluating a frozen rule (eval.h). Determinism, a rule that is F0 alone under
 * FA matching the FA baseline task by task, episodes run by hand with the documented seeds, the
 * bootstrap summary, the rate's origin (--fa, --fa-rate, refusal), diverging rules, the output
 * files, a search's rule.json evaluated, and the eval command. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "metaplast/data.h"
#include "metaplast/eval.h"
#include "metaplast/net.h"
#include "metaplast/report.h"
#include "metaplast/search.h"

static char root[3000], images_path[4200], labels_path[4200];

static void in_root(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", root, name); }

/* A JSON rule over the synthetic data: terms given as JSON array items. */
static const char *write_rule(const char *name, const char *terms) {
  static char path[4200];
  in_root(path, sizeof path, name);
  char *text = malloc(16384);
  snprintf(text, 16384,
           "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [%s],\n"
           " \"config\": {\"images\": \"%s\", \"labels\": \"%s\", \"network\": \"64-10-6\", \"M\": 3, \"K\": 5,"
           " \"Q\": 3, \"beta\": 10, \"feedback\": \"fixed\", \"sampling\": \"clean\"}}\n",
           terms, images_path, labels_path);
  if (mpl_test_write(path, text, strlen(text)) != 0) fail_msg("cannot write %s", path);
  free(text);
  return path;
}

#define F0(theta) "{\"name\": \"F0\", \"source\": \"paper\", \"theta\": " theta ", \"formula\": {\"text\": \"f0\", " \
                  "\"code\": \"neg(matmul(e_post, t(pre)))\"}}"
#define F9(theta) "{\"name\": \"F9\", \"theta\": " theta ", \"formula\": {\"text\": \"oja\", " \
                  "\"code\": \"sub(matmul(post, t(pre)), matmul(matmul(post, t(post)), W))\"}}"
#define F3(theta) "{\"name\": \"F3\", \"theta\": " theta ", \"formula\": {\"text\": \"-W\", \"code\": \"neg(W)\"}}"

static void eval_ok(const mpl_eval_cfg *c, mpl_eval_result *res) {
  mpl_err err = {0};
  if (mpl_eval_run(c, res, &err) != MPL_OK) fail_msg("mpl_eval_run: %s", err.msg);
}

static void base(mpl_eval_cfg *c, const char *rule) {
  mpl_eval_defaults(c);
  c->rule = rule;
  c->tasks = 8;
  c->seed = 3;
}

/* Same configuration twice: bit-identical accuracies and table; another seed: other tasks. */
static void test_deterministic(void **state) {
  (void)state;
  mpl_eval_cfg c;
  base(&c, write_rule("rule.json", F0("0.05") ", " F9("0.01")));
  mpl_eval_result a, b, d;
  eval_ok(&c, &a);
  eval_ok(&c, &b);
  for (int m = 0; m < MPL_EVAL_METHODS; m++) assert_memory_equal(a.acc[m], b.acc[m], sizeof(double) * 8);
  char ta[2048], tb[2048];
  mpl_eval_table(&a, &c, ta, sizeof ta);
  mpl_eval_table(&b, &c, tb, sizeof tb);
  assert_string_equal(ta, tb);
  mpl_assert_contains(ta, "98% interval");
  mpl_assert_contains(ta, "the rule's own θ_F0");
  c.seed = 4;
  eval_ok(&c, &d);
  assert_true(memcmp(a.acc[MPL_EVAL_BP], d.acc[MPL_EVAL_BP], sizeof(double) * 8) != 0);
  mpl_eval_result_free(&a), mpl_eval_result_free(&b), mpl_eval_result_free(&d);
}

/* --sampling overrides the rule's sampler: "clean" here is the rule's own (bit-identical), "paper"
 * draws other tasks; anything else is refused naming the value. */
static void test_sampling_override(void **state) {
  (void)state;
  mpl_eval_cfg c;
  base(&c, write_rule("rule.json", F0("0.05")));
  mpl_eval_result a, b, d;
  eval_ok(&c, &a);
  c.sampling = "clean";
  eval_ok(&c, &b);
  for (int m = 0; m < MPL_EVAL_METHODS; m++) assert_memory_equal(a.acc[m], b.acc[m], sizeof(double) * 8);
  c.sampling = "paper";
  eval_ok(&c, &d);
  assert_true(memcmp(a.acc[MPL_EVAL_FA], d.acc[MPL_EVAL_FA], sizeof(double) * 8) != 0);
  mpl_eval_result_free(&a), mpl_eval_result_free(&b), mpl_eval_result_free(&d);
  c.sampling = "fresh";
  mpl_err err = {0};
  assert_int_equal(mpl_eval_run(&c, &a, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "sampling 'fresh'");
  mpl_eval_result_free(&a);
}

/* A rule that is F0 alone under fixed feedback is the FA baseline at its rate: equal task by task
 * (same tasks, same initial weights and feedback). BP at the same rate differs. The summary is
 * the plain mean with an interval around it. */
static void test_f0_rule_is_fa(void **state) {
  (void)state;
  mpl_eval_cfg c;
  base(&c, write_rule("f0.json", F0("0.2")));
  mpl_eval_result r;
  eval_ok(&c, &r);
  assert_true(r.rate == 0.2);
  assert_memory_equal(r.acc[MPL_EVAL_RULE], r.acc[MPL_EVAL_FA], sizeof(double) * 8);
  assert_true(memcmp(r.acc[MPL_EVAL_FA], r.acc[MPL_EVAL_BP], sizeof(double) * 8) != 0);
  for (int m = 0; m < MPL_EVAL_METHODS; m++) {
    double s = 0;
    for (int t = 0; t < 8; t++) s += r.acc[m][t];
    mpl_assert_close(r.mean[m], s / 8, 1e-15, 0);
    assert_true(r.lo[m] <= r.mean[m] && r.mean[m] <= r.hi[m]);
    assert_int_equal(r.diverged[m], 0);
  }
  /* a given rate replaces the rule's own: the rule row stays, FA changes */
  mpl_eval_result g;
  c.fa_rate = 0.01;
  eval_ok(&c, &g);
  assert_true(g.rate == 0.01);
  mpl_assert_contains(g.rate_from, "given");
  assert_memory_equal(g.acc[MPL_EVAL_RULE], r.acc[MPL_EVAL_RULE], sizeof(double) * 8);
  mpl_eval_result_free(&r), mpl_eval_result_free(&g);
}

/* Task t by hand from the documented seeds: the task's generator draws the task, then (a copy of
 * it) the weights; the rule's episode gives the reported accuracy. */
static void test_hand_run(void **state) {
  (void)state;
  mpl_eval_cfg c;
  base(&c, write_rule("hand.json", F0("0.05") ", " F9("0.02")));
  c.tasks = 3;
  mpl_eval_result res;
  eval_ok(&c, &res);

  mpl_err err = {0};
  mpl_dataset *ds;
  assert_int_equal(mpl_dataset_load_idx(images_path, labels_path, 0, &ds, &err), MPL_OK);
  mpl_readout r;
  assert_int_equal(mpl_readout_load(c.rule, &r, &err), MPL_OK);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  assert_int_equal(mpl_readout_build(&r, ts, &sel, &err), MPL_OK);
  mpl_net_cfg net = {.n_layers = 2, .sizes = {64, 10, 6}, .beta = 10, .feedback = MPL_FB_FIXED};
  mpl_episode *ep;
  assert_int_equal(mpl_episode_new(&net, ts, sel.which, sel.n, &ep, &err), MPL_OK);
  mpl_task_cfg tc = {.m = 3, .k = 5, .q = 3, .mode = MPL_SAMPLE_CLEAN};
  mpl_task task;
  assert_int_equal(mpl_task_init(&task, &tc, &err), MPL_OK);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937), *wrng = gsl_rng_alloc(gsl_rng_mt19937);
  double tx[15 * 64], qx[9 * 64], sum[MPL_EVAL_METHODS] = {0};
  int ty[15], qy[9];
  /* FA and BP: F0 alone at the rule's theta_F0 (0.05), fixed and symmetric feedback */
  mpl_termset *f0 = mpl_termset_new();
  mpl_selection f0sel;
  assert_int_equal(mpl_terms_parse("paper:F0", f0, &f0sel, &err), MPL_OK);
  mpl_episode *base_ep[2];
  for (int m = 0; m < 2; m++) {
    mpl_net_cfg bnet = net;
    bnet.feedback = m ? MPL_FB_SYMMETRIC : MPL_FB_FIXED;
    assert_int_equal(mpl_episode_new(&bnet, f0, f0sel.which, 1, &base_ep[m], &err), MPL_OK);
  }
  const double rate = 0.05;
  assert_true(res.rate == rate);
  for (int t = 0; t < 3; t++) {
    gsl_rng_set(rng, mpl_eval_task_seed(3, t));
    assert_int_equal(mpl_task_sample(ds, &tc, rng, &task, &err), MPL_OK);
    for (int i = 0; i < 15; i++) mpl_dataset_image(ds, task.train[i], tx + i * 64), ty[i] = ds->labels[task.train[i]];
    for (int i = 0; i < 9; i++) mpl_dataset_image(ds, task.query[i], qx + i * 64), qy[i] = ds->labels[task.query[i]];
    gsl_rng_memcpy(wrng, rng); /* every method starts from the same W and B */
    mpl_episode_init_weights(ep, rng);
    mpl_episode_stats st;
    assert_int_equal(mpl_episode_run(ep, sel.theta0, tx, ty, 15, qx, qy, 9, &st, NULL, &err), MPL_OK);
    assert_true(st.accuracy == res.acc[MPL_EVAL_RULE][t]);
    sum[MPL_EVAL_RULE] += st.accuracy;
    for (int m = 0; m < 2; m++) {
      gsl_rng *w = gsl_rng_clone(wrng);
      mpl_episode_init_weights(base_ep[m], w);
      gsl_rng_free(w);
      assert_int_equal(mpl_episode_run(base_ep[m], &rate, tx, ty, 15, qx, qy, 9, &st, NULL, &err), MPL_OK);
      assert_true(st.accuracy == res.acc[m ? MPL_EVAL_BP : MPL_EVAL_FA][t]);
      sum[m ? MPL_EVAL_BP : MPL_EVAL_FA] += st.accuracy;
    }
  }
  /* the reported means are the plain means of these hand-run accuracies */
  for (int m = 0; m < MPL_EVAL_METHODS; m++) mpl_assert_close(res.mean[m], sum[m] / 3, 1e-15, 0);
  for (int m = 0; m < 2; m++) mpl_episode_free(base_ep[m]);
  mpl_selection_free(&f0sel);
  mpl_termset_free(f0);
  gsl_rng_free(wrng);
  gsl_rng_free(rng);
  mpl_task_free(&task);
  mpl_episode_free(ep);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  mpl_readout_free(&r);
  mpl_dataset_free(ds);
  mpl_eval_result_free(&res);
}

/* The FA/BP rate from another run (--fa), and a refusal when there is none. */
static void test_rate_origin(void **state) {
  (void)state;
  mpl_eval_cfg c;
  char other[4200];
  snprintf(other, sizeof other, "%s", write_rule("other.json", F0("0.125")));
  base(&c, write_rule("oja.json", F9("0.01")));
  mpl_eval_result res;
  mpl_err err = {0};
  assert_int_equal(mpl_eval_run(&c, &res, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "no term F0");
  mpl_assert_contains(err.msg, "--fa");
  mpl_eval_result_free(&res);
  c.fa = other;
  eval_ok(&c, &res);
  assert_true(res.rate == 0.125);
  mpl_assert_contains(res.rate_from, other);
  mpl_eval_result_free(&res);
  c.fa = write_rule("no-f0.json", F3("0.001"));
  assert_int_equal(mpl_eval_run(&c, &res, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "has no term F0");
  mpl_eval_result_free(&res);
}

/* A rule that blows the weights up diverges on every task: counted, NaN, no mean; the baselines
 * are unaffected. */
static void test_diverged(void **state) {
  (void)state;
  mpl_eval_cfg c;
  base(&c, write_rule("boom.json", F3("-1e100")));
  c.fa_rate = 0.05;
  c.tasks = 4;
  mpl_eval_result res;
  eval_ok(&c, &res);
  assert_int_equal(res.diverged[MPL_EVAL_RULE], 4);
  assert_true(isnan(res.acc[MPL_EVAL_RULE][0]) && isnan(res.mean[MPL_EVAL_RULE]));
  assert_int_equal(res.diverged[MPL_EVAL_FA], 0);
  /* the baselines' means are the means of their per-task accuracies (test_hand_run runs those
   * episodes by hand): not NaN, not affected by the rule's divergence */
  for (int m = MPL_EVAL_FA; m <= MPL_EVAL_BP; m++) {
    double sum = 0;
    for (int t = 0; t < 4; t++) sum += res.acc[m][t];
    mpl_assert_close(res.mean[m], sum / 4, 1e-15, 0);
    assert_true(res.mean[m] >= 0 && res.mean[m] <= 1);
  }
  mpl_eval_result_free(&res);
}

/* A search's results directory (its rule.json) evaluated, with eval.csv and eval.json written. */
static void test_search_then_eval(void **state) {
  (void)state;
  char dir[4200], out[4300], path[4400];
  in_root(dir, sizeof dir, "run");
  mpl_search_cfg s;
  mpl_search_defaults(&s);
  s.images = images_path, s.labels = labels_path;
  s.task = (mpl_task_cfg){.m = 3, .k = 5, .q = 3, .mode = MPL_SAMPLE_CLEAN};
  s.n_hidden = 1, s.hidden[0] = 10;
  s.terms = "paper:F0,F2,F9";
  s.episodes = 5, s.seed = 2, s.out = dir;
  mpl_search_result sr;
  mpl_err err = {0};
  if (mpl_search_run(&s, &sr, &err) != MPL_OK) fail_msg("search: %s", err.msg);
  mpl_eval_cfg c;
  base(&c, dir);
  c.tasks = 5;
  snprintf(out, sizeof out, "%s/eval", dir);
  c.out = out;
  mpl_eval_result res;
  eval_ok(&c, &res);
  assert_true(res.rate == sr.theta[0]);   /* the run's own θ_F0 */
  snprintf(path, sizeof path, "%s/eval.csv", out);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512];
  int lines = 0;
  while (fgets(line, sizeof line, f)) {
    if (lines == 0) assert_string_equal(line, "task,task_seed,rule,fa,bp\n");
    else assert_true(strtod(strrchr(line, ',') + 1, NULL) == res.acc[MPL_EVAL_BP][lines - 1]);
    lines++;
  }
  fclose(f);
  assert_int_equal(lines, 6);
  snprintf(path, sizeof path, "%s/eval.json", out);
  json_error_t je;
  json_t *doc = json_load_file(path, 0, &je);
  assert_non_null(doc);
  json_t *m = json_array_get(json_object_get(doc, "methods"), MPL_EVAL_FA);
  assert_string_equal(json_string_value(json_object_get(m, "method")), "FA");
  assert_true(json_real_value(json_object_get(m, "mean")) == res.mean[MPL_EVAL_FA]);
  assert_int_equal(json_integer_value(json_object_get(doc, "tasks")), 5);
  json_decref(doc);
  mpl_eval_result_free(&res);
  mpl_search_result_free(&sr);
}

/* The tasks on 1, 2 and 3 threads (--jobs): the same accuracies, divergence counts, summary and
 * eval.csv, bit for bit; a rule diverging everywhere is counted the same on several threads. */
static void test_jobs(void **state) {
  (void)state;
  mpl_eval_cfg c;
  base(&c, write_rule("jobs.json", F0("0.05") ", " F9("0.01")));
  c.tasks = 9;
  char out[3][4100], *csv[3];
  mpl_eval_result r[3];
  for (int j = 0; j < 3; j++) {
    snprintf(out[j], sizeof out[j], "%s/jobs-%d", root, j + 1);
    c.jobs = j + 1, c.out = out[j];
    eval_ok(&c, &r[j]);
    char path[4400];
    snprintf(path, sizeof path, "%s/jobs-%d/eval.csv", root, j + 1);
    csv[j] = mpl_test_read(path);
    assert_non_null(csv[j]);
  }
  for (int j = 1; j < 3; j++) {
    for (int m = 0; m < MPL_EVAL_METHODS; m++) {
      assert_memory_equal(r[0].acc[m], r[j].acc[m], sizeof(double) * 9);
      assert_int_equal(r[0].diverged[m], r[j].diverged[m]);
      assert_memory_equal(&r[0].mean[m], &r[j].mean[m], sizeof(double));
      assert_memory_equal(&r[0].lo[m], &r[j].lo[m], sizeof(double));
      assert_memory_equal(&r[0].hi[m], &r[j].hi[m], sizeof(double));
    }
    assert_string_equal(csv[0], csv[j]);
  }
  for (int j = 0; j < 3; j++) mpl_eval_result_free(&r[j]), free(csv[j]);
  base(&c, write_rule("boom-jobs.json", F3("-1e100")));
  c.fa_rate = 0.05, c.tasks = 5, c.jobs = 3;
  eval_ok(&c, &r[0]);
  assert_int_equal(r[0].diverged[MPL_EVAL_RULE], 5);
  assert_int_equal(r[0].diverged[MPL_EVAL_FA], 0);
  mpl_eval_result_free(&r[0]);
  c.jobs = -1;
  mpl_err err = {0};
  assert_int_equal(mpl_eval_run(&c, &r[0], &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "--jobs");
  mpl_eval_result_free(&r[0]);
}

static void test_cli_eval(void **state) {
  (void)state;
  const char *rule = write_rule("cli.json", F0("0.05"));
  char cmd[9000];
  int st;
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --tasks 4 --seed 9 --quiet", MPL_CLI, rule);
  char *a = mpl_test_run(cmd, &st);
  assert_int_equal(st, 0);
  char *b = mpl_test_run(cmd, &st);
  assert_string_equal(a, b);
  mpl_assert_contains(a, "\nrule ");
  mpl_assert_contains(a, "\nFA ");
  mpl_assert_contains(a, "\nBP ");
  mpl_assert_contains(a, "4 tasks, seed 9");
  free(a), free(b);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --tasks 4 --seed 9 --quiet --jobs 1", MPL_CLI, rule);
  a = mpl_test_run(cmd, &st);
  assert_int_equal(st, 0);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --tasks 4 --seed 9 --quiet --jobs 2", MPL_CLI, rule);
  b = mpl_test_run(cmd, &st);
  assert_int_equal(st, 0);
  assert_string_equal(a, b);
  free(a), free(b);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --jobs 0 2>&1", MPL_CLI, rule);
  free(mpl_test_run(cmd, &st));
  assert_int_equal(st, 2);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --fa x --fa-rate 1 2>&1", MPL_CLI, rule);
  free(mpl_test_run(cmd, &st));
  assert_int_equal(st, 2);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --tasks 0 2>&1", MPL_CLI, rule);
  free(mpl_test_run(cmd, &st));
  assert_int_equal(st, 2);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s/missing' 2>&1", MPL_CLI, root);
  a = mpl_test_run(cmd, &st);
  assert_int_equal(st, 1);
  mpl_assert_contains(a, "missing");
  free(a);
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("eval"));
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0 || mkdir(root, 0777) != 0) return -1;
  in_root(images_path, sizeof images_path, "images-idx3-ubyte.gz");
  in_root(labels_path, sizeof labels_path, "labels-idx1-ubyte.gz");
  mpl_test_write_synthetic(images_path, labels_path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deterministic),
    cmocka_unit_test(test_sampling_override),
    cmocka_unit_test(test_f0_rule_is_fa),
    cmocka_unit_test(test_hand_run),
    cmocka_unit_test(test_rate_origin),
    cmocka_unit_test(test_diverged),
    cmocka_unit_test(test_search_then_eval),
    cmocka_unit_test(test_jobs),
    cmocka_unit_test(test_cli_eval),
  };
  return cmocka_run_group_tests_name("eval", tests, setup, teardown);
}
