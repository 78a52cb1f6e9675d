/* metaplast tests: the `metaplast` command line, run as a program: help, argument errors,
 * gradcheck, report, and a search on a small synthetic IDX pair. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metaplast/status.h"

static char root[2048], images_path[3072], labels_path[3072], errfile[3072];

/* {====== Helpers ====== */

static char *slurp_stream(FILE *f) {
  size_t cap = 4096, len = 0, k;
  char *s = malloc(cap);
  while ((k = fread(s + len, 1, cap - len - 1, f)) > 0) {
    len += k;
    if (cap - len < 2) s = realloc(s, cap *= 2);
  }
  s[len] = '\0';
  return s;
}

typedef struct result {
  int status;     /* exit status, or -1 if the program did not exit normally */
  char *out, *err;
} result;

static void result_free(result *r) {
  free(r->out);
  free(r->err);
}

/* Run `metaplast ARGS` (a shell fragment) in the scratch directory; capture stdout, stderr and
 * the exit status. */
static result cli(const char *fmt, ...) MPL_PRINTF(1, 2);
static result cli(const char *fmt, ...) {
  char args[8192], cmd[16384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  if (snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>'%s'", root, MPL_CLI, args, errfile) >= (int)sizeof cmd)
    fail_msg("command too long");
  FILE *p = popen(cmd, "r");
  if (!p) fail_msg("popen(%s) failed", cmd);
  result r = {0};
  r.out = slurp_stream(p);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = mpl_test_slurp(errfile);
  if (!r.err) r.err = calloc(1, 1);
  return r;
}

static void expect_status(const result *r, int want, const char *what) {
  if (r->status != want) {
    fprintf(stderr, "--- stdout:\n%s\n--- stderr:\n%s\n", r->out, r->err);
    fail_msg("%s: exit status %d, expected %d", what, r->status, want);
  }
}

/* Run `metaplast args`, which must succeed and print want. */
static void expect_output(const char *args, const char *want) {
  result r = cli("%s", args);
  expect_status(&r, 0, args);
  mpl_assert_contains(r.out, want);
  result_free(&r);
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("cli"));
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0 || mkdir(root, 0777) != 0) return -1;
  snprintf(images_path, sizeof images_path, "%s/images-idx3-ubyte.gz", root);
  snprintf(labels_path, sizeof labels_path, "%s/labels-idx1-ubyte.gz", root);
  snprintf(errfile, sizeof errfile, "%s/stderr.txt", root);
  mpl_test_write_synthetic(images_path, labels_path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

/* }====== */

static void test_help(void **state) {
  (void)state;
  static const struct { const char *args, *want[3]; } cases[] = {
    {"--help", {"usage: metaplast COMMAND", "search", "gradcheck"}},
    {"-h", {"usage: metaplast COMMAND", "report", ""}},
    {"help", {"usage: metaplast COMMAND", "", ""}},
    {"search --help", {"usage: metaplast search", "--episodes", "--terms"}},
    {"search -h", {"usage: metaplast search", "--out", "--force"}},
    {"gradcheck --help", {"usage: metaplast gradcheck", "--steps", "--tol"}},
    {"report --help", {"usage: metaplast report DIR", "", ""}},
    {"search --help", {"rules/oja.lua", "a rule file of Lua formulas (.lua", "METAPLAST_RULES_PATH"}},   /* issue 25 */
    {"--help", {"  data        the --data names", "", ""}},
    {"data --help", {"csv:FILE[:COLUMN]", "fashion-mnist-test", "read from: "}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    result r = cli("%s", cases[i].args);
    expect_status(&r, 0, cases[i].args);
    for (int k = 0; k < 3; k++) mpl_assert_contains(r.out, cases[i].want[k]);
    assert_string_equal(r.err, "");
    result_free(&r);
  }
  /* no command: usage on stderr, status 2 */
  result r = cli("%s", "");
  expect_status(&r, 2, "no command");
  mpl_assert_contains(r.err, "usage: metaplast COMMAND");
  assert_string_equal(r.out, "");
  result_free(&r);
}

static void test_usage_errors(void **state) {
  (void)state;
  /* each: arguments, then strings stderr must contain */
  static const struct { const char *args, *want[2]; } cases[] = {
    {"frobnicate", {"unknown command 'frobnicate'", ""}},
    {"search --episodes abc", {"--episodes", "abc"}},
    {"search --episodes 0", {"--episodes", "'0'"}},
    {"search --episodes 12x", {"--episodes", "12x"}},
    {"search --feedback x", {"--feedback", "'x'"}},
    {"search --feedback xyz", {"--feedback 'xyz'", "expected fixed (fa), symmetric (bp) or direct (dfa)"}},
    {"train --feedback xyz", {"--feedback 'xyz'", "expected fixed (fa), symmetric (bp) or direct (dfa)"}},
    {"train --baseline dfa2", {"--baseline 'dfa2'", "expected fa, bp or dfa"}},
    {"search --l1 foo", {"--l1", "foo"}},
    {"search --hidden 10,,3", {"--hidden", "10,,3"}},
    {"search --hidden 10,abc", {"--hidden", "abc"}},
    {"search --sampling sometimes", {"--sampling", "sometimes"}},
    {"search --seed -1", {"--seed", "-1"}},
    {"search --lambda -0.5", {"--lambda", "-0.5"}},
    {"search --lr nan", {"--lr", "nan"}},
    {"search --beta1 1", {"--beta1", "'1'"}},
    {"search --ways 0", {"--ways", "'0'"}},
    {"search --no-such-flag", {"no-such-flag", "search --help"}},
    {"search --episodes", {"--episodes", "search --help"}},
    {"search stray", {"stray", ""}},
    {"gradcheck --steps 0", {"--steps", "'0'"}},
    {"gradcheck --steps many", {"--steps", "many"}},
    {"gradcheck --feedback x", {"--feedback", "'x'"}},
    {"gradcheck --feedback xyz", {"--feedback 'xyz'", "direct (dfa), both or all"}},
    {"gradcheck --tol abc", {"--tol", "abc"}},
    {"report", {"usage: metaplast report DIR", ""}},
    {"report a b", {"usage: metaplast report DIR", ""}},
    /* issue 25: every command's errors start "metaplast: " (getopt's started with the command) */
    {"search --no-such-flag", {"metaplast: unrecognized option '--no-such-flag'\n", ""}},
    {"search --episodes", {"metaplast: option '--episodes' requires a value\n", ""}},
    {"search stray", {"metaplast: unexpected argument 'stray'\n", ""}},
    {"report --nope x", {"metaplast: unrecognized option '--nope'\n", ""}},
    {"eval --bogus x", {"metaplast: unrecognized option '--bogus'\n", ""}},
    {"gradcheck -x", {"metaplast: unrecognized option '-x'\n", ""}},
    {"plot", {"metaplast: plot: no results directory given\n", ""}},
    {"plot --zap d", {"metaplast: unrecognized option '--zap'\n", ""}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    result r = cli("%s", cases[i].args);
    expect_status(&r, 2, cases[i].args);
    for (int k = 0; k < 2; k++)
      if (!strstr(r.err, cases[i].want[k])) fail_msg("%s: stderr lacks \"%s\":\n%s", cases[i].args, cases[i].want[k], r.err);
    for (const char *l = r.err; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))   /* one prefix */
      if (strncmp(l, "metaplast: ", 11) && strncmp(l, "Try '", 5) && strncmp(l, "usage: ", 7) && *l != '\n' &&
          strncmp(l, "commands:", 9) && strncmp(l, "  ", 2) && strncmp(l, "metaplast discovers", 19) &&
          strncmp(l, "candidate terms", 15) && strncmp(l, "'metaplast COMMAND", 18))
        fail_msg("%s: a stderr line without the 'metaplast: ' prefix: %.*s", cases[i].args, (int)strcspn(l, "\n"), l);
    assert_string_equal(r.out, "");
    result_free(&r);
  }
  /* nothing was written (no default runs/ directory) */
  struct stat st;
  char runs[3072];
  snprintf(runs, sizeof runs, "%s/runs", root);
  assert_int_not_equal(stat(runs, &st), 0);
}

/* `metaplast gradcheck --steps 8`: a short episode, all ten terms, the three feedback modes. */
static void test_gradcheck_steps8(void **state) {
  (void)state;
  result r = cli("gradcheck --steps 8");
  mpl_assert_contains(r.out, "fixed (FA) feedback, 8 steps");
  mpl_assert_contains(r.out, "symmetric (BP) feedback, 8 steps");
  mpl_assert_contains(r.out, "direct (DFA) feedback, 8 steps");
  mpl_assert_contains(r.out, "F9");
  int status = r.status, pass = strstr(r.out, "PASS") != NULL;
  if (status != 0 || !pass) fprintf(stderr, "%s", r.out);
  result_free(&r);
  if (status != 0 || !pass) fail_msg("gradcheck --steps 8: status %d, expected 0 and PASS", status);
}

static void test_gradcheck(void **state) {
  (void)state;
  expect_output("gradcheck", "PASS");
  result r = cli("gradcheck --terms paper:F0,F9 --feedback fixed --seed 3");
  expect_status(&r, 0, "gradcheck --terms paper:F0,F9 --feedback fixed");
  mpl_assert_contains(r.out, "PASS");
  assert_null(strstr(r.out, "symmetric"));
  result_free(&r);

  /* an impossible tolerance fails with status 1 */
  r = cli("gradcheck --terms paper:F0 --tol 0");
  expect_status(&r, 1, "gradcheck --tol 0");
  mpl_assert_contains(r.out, "FAIL");
  result_free(&r);

  r = cli("gradcheck --terms paper:F77");
  expect_status(&r, 1, "gradcheck --terms paper:F77");
  mpl_assert_contains(r.err, "F77");
  result_free(&r);
}

static void test_report_missing(void **state) {
  (void)state;
  result r = cli("report /nonexistent");
  expect_status(&r, 1, "report /nonexistent");
  mpl_assert_contains(r.err, "/nonexistent");
  mpl_assert_contains(r.err, "results directory");
  assert_string_equal(r.out, "");
  result_free(&r);
}

/* The equation printed after "discovered rule: " (malloc'd). */
static char *discovered(const char *out) {
  const char *p = strstr(out, "discovered rule: ");
  if (!p && (p = strstr(out, "rule (not a discovery): "))) p += strlen("rule (not a discovery): ") - strlen("discovered rule: ");
  if (!p) return NULL;
  p += strlen("discovered rule: ");
  return strndup(p, strcspn(p, "\n"));
}

static void test_search_and_report(void **state) {
  (void)state;
  const char *common = "--ways 3 --shots 5 --queries 3 --hidden 12,10 --terms paper:F0,F2,F9 --episodes 6 --seed 5";
  result r = cli("search --images '%s' --labels '%s' %s --out run1", images_path, labels_path, common);
  expect_status(&r, 0, "search");
  char *eq = discovered(r.out);
  if (!eq) fail_msg("no \"discovered rule:\" in\n%s", r.out);
  assert_true(strncmp(eq, "ΔW = ", strlen("ΔW = ")) == 0);
  mpl_assert_contains(r.out, "6 episodes");
  mpl_assert_contains(r.out, "run1/");
  mpl_assert_contains(r.err, "episode 6/6"); /* progress on stderr */
  result_free(&r);

  /* report prints the verdict, then the same equation */
  r = cli("report run1");
  expect_status(&r, 0, "report run1");
  const char *at = strstr(r.out, eq);
  if (strncmp(r.out, "health: ", 8) != 0 || !at || at[-1] != '\n' || at[strlen(eq)] != '\n')
    fail_msg("report:\n%s\ndoes not give the verdict, then the search's equation\n%s", r.out, eq);
  mpl_assert_contains(r.out, "F2");
  int unhealthy = strstr(r.out, "UNHEALTHY") != NULL;
  result_free(&r);
  /* --strict: the verdict decides the exit status, the same for search and report */
  r = cli("report run1 --strict");
  expect_status(&r, unhealthy ? 3 : 0, "report --strict");
  result_free(&r);
  r = cli("search --images '%s' --labels '%s' %s --out run1s --strict", images_path, labels_path, common);
  expect_status(&r, unhealthy ? 3 : 0, "search --strict");
  mpl_assert_contains(r.out, unhealthy ? "rule (not a discovery): " : "discovered rule: ");
  result_free(&r);

  char path[3072];
  snprintf(path, sizeof path, "%s/run1/config.txt", root);
  char *cfg = mpl_test_slurp(path);
  assert_non_null(cfg);
  mpl_assert_contains(cfg, "command = ");
  mpl_assert_contains(cfg, "--out run1");
  mpl_assert_contains(cfg, "seed = 5\n");
  free(cfg);

  /* the same run again: refused without --force, status 1, quiet */
  r = cli("search --images '%s' --labels '%s' %s --out run1 --quiet", images_path, labels_path, common);
  expect_status(&r, 1, "search into an existing run");
  mpl_assert_contains(r.err, "--force");
  result_free(&r);
  r = cli("search --images '%s' --labels '%s' %s --out run1 --quiet --force", images_path, labels_path, common);
  expect_status(&r, 0, "search --force");
  assert_string_equal(r.err, "");
  char *eq2 = discovered(r.out);
  assert_non_null(eq2);
  assert_string_equal(eq, eq2); /* same seed, same rule */
  free(eq2);
  result_free(&r);
  free(eq);
}

/* `metaplast terms` ends with what the terms compile to, after a blank line; docs/rules.md quotes
 * the pool's line, which must stay the program's. */
static void test_terms_plan(void **state) {
  (void)state;
  expect_output("terms paper:F0", "\n\ncompiled: 1 term; per layer and step, an update of rank 1, 0 products with W");
  result r = cli("terms paper");
  expect_status(&r, 0, "terms paper");
  const char *last = strstr(r.out, "\n\ncompiled: ");
  assert_non_null(last);
  char line[1024];
  snprintf(line, sizeof line, "%s", last + 2);
  line[strcspn(line, "\n")] = 0;
  mpl_assert_contains(line, "rank 3 (1 of them row or column sums) plus a multiple of W, 1 product with W");
  char *doc = mpl_test_read(MPL_SOURCE_DIR "/docs/rules.md");
  mpl_assert_contains(doc, line);
  free(doc);
  result_free(&r);
}

/* issue 25: a native term says "(native)" once; long names keep the formula column aligned. */
static void test_terms_table(void **state) {
  (void)state;
  result r = cli("terms extra");
  expect_status(&r, 0, "terms extra");
  mpl_assert_contains(r.out, "row normalisation towards unit norm (native)\n");
  assert_null(strstr(r.out, "(native) (native)"));
  result_free(&r);
  r = cli("terms '%s/rules/quadratic.lua'", MPL_SOURCE_DIR);
  expect_status(&r, 0, "terms quadratic.lua");
  /* every term line: the formula starts in one column, after the longest name and a space */
  long col = -1;
  int lines = 0;
  for (char *p = r.out; *p && strncmp(p, "\ncompiled", 9); p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
    if (*p == ' ' || *p == '\n') continue;   /* a description line, or the blank line */
    size_t name = strcspn(p, " ");
    long start = (long)(name + strspn(p + name, " "));
    if (col < 0) col = start;
    if (start != col) fail_msg("the formula of '%.*s' starts at column %ld, the first term's at %ld", (int)name, p, start, col);
    lines++;
  }
  assert_int_equal(lines, 44);
  assert_int_equal(col, (long)strlen("sum_epost_one_epre") + 1); /* the longest of quadratic.lua's names */
  result_free(&r);
}

static void test_missing_data(void **state) {
  (void)state;
  result r = cli("search --images /nonexistent/imgs-idx3-ubyte.gz --labels '%s' --episodes 2 --quiet --out never",
                 labels_path);
  expect_status(&r, 1, "missing image file");
  mpl_assert_contains(r.err, "/nonexistent/imgs-idx3-ubyte.gz");
  result_free(&r);

  r = cli("search --images '%s' --labels /nonexistent/labels.gz --episodes 2 --quiet --out never", images_path);
  expect_status(&r, 1, "missing label file");
  mpl_assert_contains(r.err, "/nonexistent/labels.gz");
  result_free(&r);

  /* --images without --labels */
  r = cli("search --images '%s' --episodes 2 --quiet --out never", images_path);
  assert_int_not_equal(r.status, 0);
  mpl_assert_contains(r.err, "--labels");
  result_free(&r);

  /* an unknown term names it */
  r = cli("search --images '%s' --labels '%s' --ways 3 --shots 5 --queries 3 --terms paper:F0,Fx --quiet --out never",
          images_path, labels_path);
  expect_status(&r, 1, "unknown term");
  mpl_assert_contains(r.err, "Fx");
  result_free(&r);

  struct stat st;
  char never[3072];
  snprintf(never, sizeof never, "%s/never", root);
  assert_int_not_equal(stat(never, &st), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_help),
    cmocka_unit_test(test_usage_errors),
    cmocka_unit_test(test_gradcheck),
    cmocka_unit_test(test_gradcheck_steps8),
    cmocka_unit_test(test_report_missing),
    cmocka_unit_test(test_search_and_report),
    cmocka_unit_test(test_terms_plan),
    cmocka_unit_test(test_terms_table),
    cmocka_unit_test(test_missing_data),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
