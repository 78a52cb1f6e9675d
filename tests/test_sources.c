/* metaplast tests: term sources found again (issue 25): a plugin file given without ./, the
 * not-found message listing exactly the directories searched, the record rule.json keeps of each
 * source (absolute path, CRC-32, size) written and read back, a moved plugin found through the
 * recorded path and METAPLAST_PLUGIN_PATH, a changed one reported. See LICENSE for copyright. */
#define _DEFAULT_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"
#include "metaplast/report.h"
#include "metaplast/terms.h"
#include "testutil.h"

#define PAPER_COPY MPL_TEST_PLUGIN_DIR "/paper_copy.so"

static char here[PATH_MAX];

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  if (!a || !b) fail_msg("cannot copy %s to %s", from, to);
  char buf[8192];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, a)) > 0) assert_int_equal(fwrite(buf, 1, k, b), k);
  fclose(a);
  fclose(b);
}

static int restore(void **state) {
  (void)state;
  unsetenv("METAPLAST_PLUGIN_PATH");
  return chdir(here);
}

/* `metaplast terms paper_copy.so` in its directory: an existing path needs no ./ */
static void test_given_without_dot(void **state) {
  (void)state;
  assert_int_equal(chdir(MPL_TEST_PLUGIN_DIR), 0);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  if (mpl_terms_parse("paper_copy.so:F9", ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  assert_string_equal(mpl_termset_source(ts, sel.which[0]), "paper_copy.so"); /* recorded as given */
  const mpl__source_rec *rec = mpl__termset_source_rec(ts, "paper_copy.so");
  assert_non_null(rec);
  char abs[PATH_MAX];
  assert_non_null(realpath(PAPER_COPY, abs));
  assert_string_equal(rec->path, abs);
  assert_string_equal(rec->kind, "plugin");
  unsigned long crc;
  long long size;
  assert_int_equal(mpl__file_hash(abs, &crc, &size, &err), 0);
  assert_true(rec->crc32 == crc && rec->size == size);
  struct stat st;
  assert_int_equal(stat(abs, &st), 0);
  assert_true(size == (long long)st.st_size && size > 0);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* The not-found messages name exactly the directories searched, in order. */
static void test_not_found_lists_searched(void **state) {
  (void)state;
  setenv("METAPLAST_PLUGIN_PATH", "/nonexistent/a:/nonexistent/b", 1);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  assert_int_equal(mpl_terms_parse("zz_no_plugin", ts, &sel, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "no plugin 'zz_no_plugin' (zz_no_plugin.so) in /nonexistent/a (METAPLAST_PLUGIN_PATH), "
                               "/nonexistent/b (METAPLAST_PLUGIN_PATH), ");
  mpl_assert_contains(err.msg, "(install dir)");
  mpl_assert_contains(err.msg, "no rule file 'zz_no_plugin.lua' in METAPLAST_RULES_PATH (unset), ");
  assert_null(strstr(err.msg, "METAPLAST_PLUGIN_PATH (unset)"));
  assert_int_equal(mpl_terms_parse("dir/zz.so", ts, &sel, &err), MPL_ENOTFOUND);
  char want[PATH_MAX + 200];
  snprintf(want, sizeof want, "plugin dir/zz.so not found: looked in %s/dir/zz.so (as given), /nonexistent/a "
           "(METAPLAST_PLUGIN_PATH), /nonexistent/b (METAPLAST_PLUGIN_PATH); set METAPLAST_PLUGIN_PATH to the "
           "directory that holds zz.so", here);
  assert_string_equal(err.msg, want);
  mpl_termset_free(ts);
}

/* A read-out of one plugin term, with its source record, written to path as JSON. */
static void write_rule_from(const char *spec, const char *path) {
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  mpl_err err = {0};
  if (mpl_terms_parse(spec, ts, &sel, &err) < 0) fail_msg("%s", err.msg);
  double theta = 0.5;
  mpl_readout r;
  assert_int_equal(mpl_readout_from_terms(ts, sel.which, &theta, 1, 0, "seed = 1\n", &r, &err), 0);
  assert_int_equal(r.n_sources, 1);
  char *text = mpl_readout_format(&r, MPL_REPORT_JSON, &err);
  assert_non_null(text);
  assert_int_equal(mpl_test_write(path, text, strlen(text)), 0);
  free(text);
  mpl_readout_free(&r);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* rule.json records each source (spec, kind, absolute path, CRC-32, size) and reads it back. */
static void test_record_round_trip(void **state) {
  (void)state;
  const char *path = mpl_test_path("rec.json");
  char json[PATH_MAX];
  snprintf(json, sizeof json, "%s", path);
  write_rule_from(PAPER_COPY ":F0", json);
  char *text = mpl_test_read(json);
  char abs[PATH_MAX];
  assert_non_null(realpath(PAPER_COPY, abs));
  mpl_assert_contains(text, "\"sources\": [");
  mpl_assert_contains(text, "\"kind\": \"plugin\"");
  char want[PATH_MAX + 32];
  snprintf(want, sizeof want, "\"path\": \"%s\"", abs);
  mpl_assert_contains(text, want);
  free(text);
  mpl_readout r;
  mpl_err err = {0};
  if (mpl_readout_load(json, &r, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.n_sources, 1);
  assert_string_equal(r.sources[0].spec, PAPER_COPY);
  assert_string_equal(r.sources[0].path, abs);
  unsigned long crc;
  long long size;
  assert_int_equal(mpl__file_hash(abs, &crc, &size, &err), 0);
  assert_true(r.sources[0].crc32 == crc && r.sources[0].size == size);
  mpl_readout_free(&r);
}

/* A plugin moved after the run: found at the recorded path, then through METAPLAST_PLUGIN_PATH;
 * its content changed: a note and the count. */
static void test_moved_and_changed(void **state) {
  (void)state;
  char a[PATH_MAX], b[PATH_MAX], pa[PATH_MAX + 16], pb[PATH_MAX + 16], json[PATH_MAX];
  snprintf(a, sizeof a, "%s", mpl_test_path("src_a"));
  snprintf(b, sizeof b, "%s", mpl_test_path("src_b"));
  snprintf(json, sizeof json, "%s", mpl_test_path("moved.json"));
  assert_int_equal(mkdir(a, 0777), 0);
  assert_int_equal(mkdir(b, 0777), 0);
  snprintf(pa, sizeof pa, "%s/mine.so", a);
  snprintf(pb, sizeof pb, "%s/mine.so", b);
  copy_file(PAPER_COPY, pa);
  assert_int_equal(chdir(a), 0);
  write_rule_from("mine.so:F9", json); /* relative, as a user types it */
  assert_int_equal(chdir(MPL_TEST_TMPDIR), 0); /* another directory: "mine.so" is not here */
  mpl_readout r;
  mpl_err err = {0};
  if (mpl_readout_load(json, &r, &err) < 0) fail_msg("%s", err.msg);
  char path[4096];
  mpl__source_check chk = {0};
  if (mpl__readout_locate(&r, "mine.so", path, sizeof path, &chk, &err) < 0) fail_msg("%s", err.msg);
  assert_string_equal(path, pa); /* the recorded path */
  assert_int_equal(chk.changed, 0);
  assert_int_equal(rename(pa, pb), 0);
  assert_int_equal(mpl__readout_locate(&r, "mine.so", path, sizeof path, &chk, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "plugin mine.so not found: looked in METAPLAST_PLUGIN_PATH (unset), ");
  mpl_assert_contains(err.msg, pa);
  mpl_assert_contains(err.msg, "(recorded by the run)");
  mpl_assert_contains(err.msg, "set METAPLAST_PLUGIN_PATH to the directory that holds mine.so");
  setenv("METAPLAST_PLUGIN_PATH", b, 1);
  if (mpl__readout_locate(&r, "mine.so", path, sizeof path, &chk, &err) < 0) fail_msg("%s", err.msg);
  assert_string_equal(path, pb);
  assert_int_equal(chk.changed, 0);
  FILE *f = fopen(pb, "ab"); /* the same plugin with one more byte: another file */
  assert_non_null(f);
  fputc(0, f);
  fclose(f);
  assert_int_equal(mpl__readout_locate(&r, "mine.so", path, sizeof path, &chk, &err), 0);
  assert_int_equal(chk.changed, 1);
  mpl_assert_contains(chk.note, "warning: plugin mine.so");
  mpl_assert_contains(chk.note, "changed since the run");
  /* the whole rule: built from the plugin found again, one changed source counted */
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  char notes[4096];
  int changed = 0;
  if (mpl__readout_build(&r, ts, &sel, notes, sizeof notes, &changed, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(changed, 1);
  mpl_assert_contains(notes, "warning: plugin mine.so");
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  mpl_readout_free(&r);
}

/* Malformed records: the file, the field and what was expected. */
static void test_bad_records(void **state) {
  (void)state;
  static const struct { const char *rec, *msg; } cases[] = {
    {"{\"spec\": \"x.so\", \"kind\": \"plugin\", \"path\": \"/x.so\", \"crc32\": \"xyz\", \"size\": 1}",
     "sources[0].crc32: expected 8 hexadecimal digits"},
    {"{\"spec\": \"x.so\", \"kind\": \"dll\", \"path\": \"/x.so\", \"crc32\": \"0\", \"size\": 1}",
     "sources[0].kind: expected \"plugin\" or \"rules\""},
    {"{\"spec\": \"x.so\", \"kind\": \"plugin\", \"path\": \"/x.so\", \"crc32\": \"0\"}", "sources[0].size: missing"},
    {"{\"kind\": \"plugin\", \"path\": \"/x.so\", \"crc32\": \"0\", \"size\": 1}", "sources[0].spec: missing"},
    {"3", "sources[0]: expected an object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[2048];
    snprintf(text, sizeof text, "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [{\"name\": \"F0\", "
             "\"theta\": 1, \"formula\": {\"text\": \"x\", \"code\": \"neg(matmul(e_post, t(pre)))\"}}], "
             "\"sources\": [%s]}", cases[i].rec);
    const char *path = mpl_test_path("bad_sources.json");
    assert_int_equal(mpl_test_write(path, text, strlen(text)), 0);
    mpl_readout r;
    mpl_err err = {0};
    assert_int_equal(mpl_readout_load(path, &r, &err), MPL_EFORMAT);
    mpl_assert_contains(err.msg, path);
    mpl_assert_contains(err.msg, cases[i].msg);
  }
}

int main(void) {
  if (!getcwd(here, sizeof here)) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_given_without_dot, restore),
    cmocka_unit_test_teardown(test_not_found_lists_searched, restore),
    cmocka_unit_test_teardown(test_record_round_trip, restore),
    cmocka_unit_test_teardown(test_moved_and_changed, restore),
    cmocka_unit_test_teardown(test_bad_records, restore),
  };
  return cmocka_run_group_tests_name("sources", tests, NULL, NULL);
}
