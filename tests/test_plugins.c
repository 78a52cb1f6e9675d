/* metaplast tests: plugins — loading, the plugin path, combining sources, and every way a
 * plugin can be broken, each refused with a message that names the problem.
 * See LICENSE for copyright. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "metaplast/check.h"
#include "metaplast/plugin.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"

static const char *plugin(const char *name) {
  static char buf[8][4096];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s.so", MPL_TEST_PLUGIN_DIR, name);
  return buf[k];
}

/* mpl_terms_parse(spec) fails with code and a message containing m1 and m2. */
static void expect_refused(const char *spec, int code, const char *m1, const char *m2) {
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  int rc = mpl_terms_parse(spec, ts, &sel, &err);
  if (rc != code) fail_msg("%s: got %d (%s), expected %d", spec, rc, err.msg, code);
  mpl_assert_contains(err.msg, m1);
  if (m2) mpl_assert_contains(err.msg, m2);
  assert_int_equal(sel.n, 0);
  assert_int_equal(mpl_termset_count(ts), 0); /* a refused plugin leaves nothing behind */
  mpl_termset_free(ts);
}

static void test_missing_file(void **state) {
  (void)state;
  expect_refused(plugin("does_not_exist"), MPL_ENOTFOUND, "does_not_exist.so not found: looked in " MPL_TEST_PLUGIN_DIR
                 "/does_not_exist.so (as given), METAPLAST_PLUGIN_PATH (unset)", "set METAPLAST_PLUGIN_PATH");
  expect_refused("no_such_plugin_name", MPL_ENOTFOUND, "no plugin 'no_such_plugin_name'", "METAPLAST_PLUGIN_PATH");
}

static void test_not_shared_object(void **state) {
  (void)state;
  const char *path = mpl_test_path("notelf.so");
  assert_int_equal(mpl_test_write(path, "this is text, not ELF\n", 22), 0);
  expect_refused(path, MPL_EPLUGIN, "notelf.so", "cannot load plugin");
  remove(path);
}

static void test_bad_descriptors(void **state) {
  (void)state;
  expect_refused(plugin("broken_noentry"), MPL_EPLUGIN, "no entry symbol mpl_plugin_entry", "not a metaplast plugin");
  expect_refused(plugin("broken_nulldesc"), MPL_EPLUGIN, "broken_nulldesc.so", "returned NULL");
  expect_refused(plugin("broken_abi"), MPL_EABI, "built for ABI 99.0", "this metaplast has ABI 1.");
  /* an older major is refused as firmly as a newer one (built for 0.7 here, the major before 1) */
  expect_refused(plugin("broken_abi_old"), MPL_EABI, "built for ABI 0.7", "this metaplast has ABI 1.");
  expect_refused(plugin("broken_small"), MPL_EABI, "descriptor of 16 bytes", "smaller");
  char one_short[64]; /* the bound itself: one byte below ABI 1.0's descriptor */
  snprintf(one_short, sizeof one_short, "descriptor of %zu bytes", sizeof(mpl_plugin_desc) - 1);
  expect_refused(plugin("broken_small1"), MPL_EABI, one_short, "smaller");
}

static void test_bad_terms(void **state) {
  (void)state;
  expect_refused(plugin("broken_shape"), MPL_EPLUGIN, "term 'square'", "n_post x n_post");
  expect_refused(plugin("broken_builder"), MPL_EPLUGIN, "term 'mismatch'", "shapes n_post x 1 and n_pre x 1 differ");
  expect_refused(plugin("broken_init"), MPL_EPLUGIN, "failed to initialise", "deliberate failure: missing calibration file");
  expect_refused(plugin("broken_noterms"), MPL_EPLUGIN, "registered no terms", NULL);
  expect_refused(plugin("broken_native_small"), MPL_EPLUGIN, "native term struct of 16 bytes", "smaller");
}

/* A native term whose vjp is wrong loads (it cannot be told at load time) but fails the check. */
static void test_native_check_fails(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_int_equal(mpl_terms_parse(plugin("broken_native"), ts, &sel, &err), MPL_OK);
  assert_int_equal(sel.n, 1);
  assert_true(mpl_termset_is_native(ts, sel.which[0]));
  char tex[256];   /* issue 25: no LaTeX form given: F_{\text{name}}, not its Unicode formula */
  mpl_termset_print(ts, sel.which[0], MPL_FMT_LATEX, tex, sizeof tex);
  assert_string_equal(tex, "F_{\\text{hebb\\_bad}}");
  double rel = 0;
  assert_int_equal(mpl_check_terms(ts, sel.which, 1, 3, 1, &rel, &err), MPL_OK);
  if (!(rel > 1e-3)) fail_msg("a wrong vjp passed the check (rel %g)", rel);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

static void test_path_and_sources(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  /* found by name on METAPLAST_PLUGIN_PATH */
  setenv("METAPLAST_PLUGIN_PATH", "/nonexistent:" MPL_TEST_PLUGIN_DIR, 1);
  assert_int_equal(mpl_terms_parse("paper_copy:F9;paper:F0,F2", ts, &sel, &err), MPL_OK);
  assert_int_equal(sel.n, 3);
  assert_string_equal(mpl_termset_name(ts, sel.which[0]), "F9");
  assert_string_equal(mpl_termset_source(ts, sel.which[0]), "paper_copy");
  assert_string_equal(mpl_termset_source(ts, sel.which[1]), "paper");
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  unsetenv("METAPLAST_PLUGIN_PATH");
  /* the same name from two sources is an error naming both */
  char spec[8192];
  snprintf(spec, sizeof spec, "paper:F0;%s", plugin("paper_copy"));
  ts = mpl_termset_new();
  assert_int_equal(mpl_terms_parse(spec, ts, &sel, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "term 'F0' comes from both paper and ");
  mpl_assert_contains(err.msg, "paper_copy.so");
  assert_int_equal(sel.n, 0);
  mpl_termset_free(ts);
}

/* The log of a search over paper:F0,F9 equals the log over the same terms from another plugin. */
static char *log_without_seconds(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/log.csv", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *out = calloc(1, 1 << 20), line[8192];
  size_t len = 0;
  while (fgets(line, sizeof line, f)) {
    char *c = strrchr(line, ',');
    if (c) *c = '\0';
    len += (size_t)snprintf(out + len, (1 << 20) - len, "%s\n", line);
  }
  fclose(f);
  return out;
}

static void test_identical_logs(void **state) {
  (void)state;
  char images[4096], labels[4096], out1[4096], out2[4096];
  snprintf(images, sizeof images, "%s", mpl_test_path("plug-images.gz"));
  snprintf(labels, sizeof labels, "%s", mpl_test_path("plug-labels.gz"));
  snprintf(out1, sizeof out1, "%s", mpl_test_path("plug-run1"));
  snprintf(out2, sizeof out2, "%s", mpl_test_path("plug-run2"));
  mpl_test_write_synthetic(images, labels);
  const char *specs[2] = {"paper:F0,F9", plugin("paper_copy")};
  const char *outs[2] = {out1, out2};
  for (int i = 0; i < 2; i++) {
    mpl_search_cfg c;
    mpl_search_defaults(&c);
    c.images = images;
    c.labels = labels;
    c.task = (mpl_task_cfg){.m = 3, .k = 5, .q = 3, .mode = MPL_SAMPLE_CLEAN};
    c.n_hidden = 2;
    c.hidden[0] = 12;
    c.hidden[1] = 10;
    c.terms = specs[i];
    c.episodes = 8;
    c.out = outs[i];
    c.force = 1;
    mpl_search_result r;
    mpl_err err = {0};
    if (mpl_search_run(&c, &r, &err) < 0) fail_msg("%s: %s", specs[i], err.msg);
    mpl_search_result_free(&r);
  }
  char *a = log_without_seconds(out1), *b = log_without_seconds(out2);
  assert_string_equal(a, b);
  free(a);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_missing_file),     cmocka_unit_test(test_not_shared_object),
    cmocka_unit_test(test_bad_descriptors),  cmocka_unit_test(test_bad_terms),
    cmocka_unit_test(test_native_check_fails), cmocka_unit_test(test_path_and_sources),
    cmocka_unit_test(test_identical_logs),
  };
  return cmocka_run_group_tests_name("plugins", tests, NULL, NULL);
}
