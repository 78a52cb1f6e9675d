/* metaplast tests: a rule's terms are who they say they are (issue 23, item 7). eval used to
 * evaluate any stored formula whatever its term's name or source: a renamed term was blamed on a
 * missing F0 rate, and with --fa-rate ran anyway. Now (mpl_readout_build_noted): a term whose
 * recorded source is installed must be that source's term of the same name with the same formula
 * (an error naming the term, the source and the mismatch otherwise); a term whose source is not
 * installed, or that records none, is evaluated from its stored formula with a note; a rule
 * without F0 names its terms and says to pass --fa-rate or --fa. See LICENSE for copyright. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metaplast/eval.h"
#include "metaplast/expr.h"
#include "metaplast/report.h"
#include "metaplast/terms.h"

static char root[2048], images[3072], labels[3072];

#define F0_CODE "neg(matmul(e_post, t(pre)))"
#define F9_CODE "sub(matmul(post, t(pre)), matmul(matmul(post, t(post)), W))"
/* A term: name, source, code formula. */
#define TERM(name, source, code) "{\"name\": \"" name "\", \"source\": \"" source "\", \"theta\": 0.01, " \
  "\"formula\": {\"text\": \"x\", \"code\": \"" code "\"}}"

static const char *write_rule(const char *name, const char *terms) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/%s", root, name);
  char *text = malloc(16384);
  snprintf(text, 16384,
           "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [%s],\n"
           " \"config\": {\"images\": \"%s\", \"labels\": \"%s\", \"network\": \"64-10-6\", \"M\": 3, \"K\": 5,"
           " \"Q\": 3, \"beta\": 10, \"feedback\": \"fixed\", \"sampling\": \"clean\"}}\n",
           terms, images, labels);
  if (mpl_test_write(path, text, strlen(text)) != 0) fail_msg("cannot write %s", path);
  free(text);
  return path;
}

/* Build the rule in file `name` with these terms: its status, error and notes. */
static int build(const char *name, const char *terms, char *notes, size_t n, mpl_err *err) {
  mpl_readout r;
  int rc = mpl_readout_load(write_rule(name, terms), &r, err);
  if (rc < 0) fail_msg("%s: %s", name, err->msg);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  rc = mpl_readout_build_noted(&r, ts, &sel, notes, n, err);
  if (rc == 0) assert_int_equal(sel.n, r.n_terms);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  mpl_readout_free(&r);
  return rc;
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("identity"));
  mkdir(root, 0777);
  snprintf(images, sizeof images, "%s/img.gz", root);
  snprintf(labels, sizeof labels, "%s/lab.gz", root);
  mpl_test_write_synthetic(images, labels);
  return 0;
}

/* The paper's terms as the paper plugin has them (the formula respelled too): no note. */
static void test_matching(void **state) {
  (void)state;
  char notes[1024];
  mpl_err err = {0};
  if (build("ok.json", TERM("F0", "paper", F0_CODE) "," TERM("F9", "paper", F9_CODE), notes, sizeof notes, &err) < 0)
    fail_msg("%s", err.msg);
  assert_string_equal(notes, "");
  if (build("spaced.json", TERM("F0", "paper", "neg( matmul(e_post,t(pre)) )"), notes, sizeof notes, &err) < 0)
    fail_msg("a respelled formula: %s", err.msg);
  assert_string_equal(notes, "");
  /* a rule file as the source: MPL_SOURCE_DIR/rules/oja.lua's F9 */
  if (build("oja.json", TERM("F9", MPL_SOURCE_DIR "/rules/oja.lua", F9_CODE), notes, sizeof notes, &err) < 0)
    fail_msg("oja.lua's F9: %s", err.msg);
  assert_string_equal(notes, "");
}

/* A renamed term, an edited formula, a formula recorded for a term its source has as another:
 * errors naming the term, the source and the mismatch. --fa-rate does not get past them. */
static void test_mismatch(void **state) {
  (void)state;
  char notes[1024];
  mpl_err err = {0};
  assert_int_equal(build("renamed.json", TERM("G0", "paper", F0_CODE), notes, sizeof notes, &err), MPL_EFORMAT);
  mpl_assert_contains(err.msg, "term G0: its source paper has no term G0 (it has F0, F1");
  assert_int_equal(build("edited.json", TERM("F0", "paper", "matmul(e_post, t(pre))"), notes, sizeof notes, &err),
                   MPL_EFORMAT);
  mpl_assert_contains(err.msg, "term F0: the stored formula matmul(e_post, t(pre)) is not paper's F0, which is "
                               F0_CODE);
  assert_int_equal(build("swapped.json", TERM("F9", "paper", F0_CODE), notes, sizeof notes, &err), MPL_EFORMAT);
  mpl_assert_contains(err.msg, "term F9");
  mpl_assert_contains(err.msg, "is not paper's F9");
  assert_int_equal(build("oja_edited.json", TERM("F9", MPL_SOURCE_DIR "/rules/oja.lua", "matmul(post, t(pre))"), notes,
                         sizeof notes, &err), MPL_EFORMAT);
  mpl_assert_contains(err.msg, "rules/oja.lua's F9");
  /* through eval, with a rate given */
  mpl_eval_cfg c;
  mpl_eval_defaults(&c);
  c.rule = write_rule("renamed.json", TERM("G0", "paper", F0_CODE));
  c.tasks = 2;
  c.fa_rate = 0.01;
  mpl_eval_result res;
  assert_int_equal(mpl_eval_run(&c, &res, &err), MPL_EFORMAT);
  mpl_assert_contains(err.msg, "renamed.json: term G0: its source paper has no term G0");
  mpl_eval_result_free(&res);
}

/* A source not installed here, or none recorded: the stored formula, with a note per term; the
 * evaluation is that of the same rule with its source (the same formula). */
static void test_unknown_source(void **state) {
  (void)state;
  char notes[1024];
  mpl_err err = {0};
  if (build("nosuch.json", TERM("F0", "nosuch_plugin_zz", F0_CODE) "," TERM("F9", "", F9_CODE), notes, sizeof notes,
            &err) < 0)
    fail_msg("%s", err.msg);
  mpl_assert_contains(notes, "term F0: its source nosuch_plugin_zz is not installed here: evaluated from its stored "
                             "formula (" F0_CODE ")");
  mpl_assert_contains(notes, "\nterm F9 records no source: evaluated from its stored formula");
  mpl_eval_cfg c;
  mpl_eval_result a, b;
  mpl_eval_defaults(&c);
  c.tasks = 3;
  c.rule = write_rule("known.json", TERM("F0", "paper", F0_CODE) "," TERM("F9", "paper", F9_CODE));
  if (mpl_eval_run(&c, &a, &err) < 0) fail_msg("%s", err.msg);
  assert_string_equal(a.notes, "");
  c.rule = write_rule("unknown.json", TERM("F0", "nosuch_plugin_zz", F0_CODE) "," TERM("F9", "", F9_CODE));
  if (mpl_eval_run(&c, &b, &err) < 0) fail_msg("%s", err.msg);
  mpl_assert_contains(b.notes, "nosuch_plugin_zz");
  for (int m = 0; m < MPL_EVAL_METHODS; m++)
    for (int t = 0; t < c.tasks; t++)
      if (memcmp(&a.acc[m][t], &b.acc[m][t], sizeof(double)))
        fail_msg("method %d task %d: %.17g with the source, %.17g from the stored formula", m, t, a.acc[m][t], b.acc[m][t]);
  mpl_eval_result_free(&a), mpl_eval_result_free(&b);
}

/* No F0: the error names the terms and both ways out; a source that exists but does not load is
 * an error naming it. */
static void test_no_f0(void **state) {
  (void)state;
  mpl_eval_cfg c;
  mpl_eval_defaults(&c);
  c.tasks = 2;
  c.rule = write_rule("g0.json", TERM("G0", "", F0_CODE) "," TERM("F9", "", F9_CODE));
  mpl_eval_result res;
  mpl_err err = {0};
  assert_int_equal(mpl_eval_run(&c, &res, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "no term F0");
  mpl_assert_contains(err.msg, "(its terms: G0, F9)");
  mpl_assert_contains(err.msg, "--fa-rate X");
  mpl_assert_contains(err.msg, "--fa RULE");
  mpl_eval_result_free(&res);
  c.fa_rate = 0.01; /* a rate given: it runs (the terms are what they say: no source) */
  if (mpl_eval_run(&c, &res, &err) < 0) fail_msg("%s", err.msg);
  mpl_eval_result_free(&res);
  char bad[4200], notes[1024];
  snprintf(bad, sizeof bad, "%s/broken.lua", root);
  const char *lua = "return {{name = 'F0', expr = nosuch_signal}}\n";
  mpl_test_write(bad, lua, strlen(lua));
  char terms[8192];
  snprintf(terms, sizeof terms, TERM("F0", "%s", F0_CODE), bad);
  assert_true(build("broken.json", terms, notes, sizeof notes, &err) < 0);
  mpl_assert_contains(err.msg, "term F0: its source");
  mpl_assert_contains(err.msg, "broken.lua does not load");
}

/* The command prints the notes on stderr and runs; a renamed term with --fa-rate exits 1. */
static void test_cli(void **state) {
  (void)state;
  char cmd[16384], out[4200];
  snprintf(out, sizeof out, "%s/cli.err", root);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --tasks 2 --quiet >/dev/null 2>'%s'", MPL_CLI,
           write_rule("cli_unknown.json", TERM("F0", "nosuch_plugin_zz", F0_CODE)), out);
  int rc = system(cmd);
  char *e = mpl_test_read(out);
  if (rc != 0) fail_msg("eval of a rule from an unknown source: %d: %s", rc, e);
  mpl_assert_contains(e, "metaplast: note: term F0: its source nosuch_plugin_zz is not installed here");
  free(e);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --tasks 2 --quiet --fa-rate 0.01 >/dev/null 2>'%s'", MPL_CLI,
           write_rule("cli_renamed.json", TERM("G0", "paper", F0_CODE)), out);
  rc = system(cmd);
  e = mpl_test_read(out);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 1) fail_msg("eval of a renamed term: status %d: %s", rc, e);
  mpl_assert_contains(e, "term G0: its source paper has no term G0");
  free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_matching),
    cmocka_unit_test(test_mismatch),
    cmocka_unit_test(test_unknown_source),
    cmocka_unit_test(test_no_f0),
    cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
