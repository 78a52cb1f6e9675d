/* metaplast tests: reading out rules. The code-form parser (every paper/extra term prints and
 * parses back to the identical node; errors with columns), the four report formats agreeing
 * with each other, LaTeX that compiles (when pdflatex is installed), the JSON round trip through
 * a search (rule.json -> fixed rule -> same terms and theta), malformed JSON, the older results
 * layout, and the report command. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "metaplast/expr.h"
#include "metaplast/report.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"

static char root[3000], images_path[4200], labels_path[4200];

static void in_root(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", root, name); }

static void write_text(const char *path, const char *text) {
  if (mpl_test_write(path, text, strlen(text)) != 0) fail_msg("cannot write %s", path);
}

/* Run a shell command, capture stdout (malloc'ed) and the exit status. */
static mpl_termset *load_terms(const char *spec, mpl_selection *sel) {
  mpl_err err = {0};
  mpl_termset *ts = mpl_termset_new();
  if (mpl_terms_parse(spec, ts, sel, &err) != MPL_OK) fail_msg("mpl_terms_parse(%s): %s", spec, err.msg);
  return ts;
}

/* {====== The code-form parser ====== */

static void test_parse_round_trip(void **state) {
  (void)state;
  mpl_selection sel;
  mpl_termset *ts = load_terms("paper;extra", &sel), *fresh = mpl_termset_new();
  int checked = 0;
  for (int i = 0; i < sel.n; i++) {
    int t = sel.which[i];
    if (mpl_termset_is_native(ts, t)) continue;
    char code[4096], again[4096];
    mpl_termset_print(ts, t, MPL_FMT_CODE, code, sizeof code);
    mpl_err err = {0};
    mpl_expr *e = mpl_expr_parse(ts, code, &err);
    if (e != mpl_termset_expr(ts, t)) fail_msg("term %s: '%s' parsed to another node (%s)", mpl_termset_name(ts, t), code, err.msg);
    /* into another set: the same text, the same shape */
    mpl_expr *f = mpl_expr_parse(fresh, code, &err);
    assert_non_null(f);
    mpl_expr_print(f, MPL_FMT_CODE, again, sizeof again);
    assert_string_equal(again, code);
    assert_int_equal(mpl_expr_rows(f), MPL_DIM_POST);
    assert_int_equal(mpl_expr_cols(f), MPL_DIM_PRE);
    checked++;
  }
  assert_true(checked >= 14); /* F0..F9 and the extra plugin's IR terms */
  /* spacing, constants and the conveniences */
  mpl_err err = {0};
  mpl_expr *a = mpl_expr_parse(fresh, "  outer( post ,pre )", &err);
  assert_true(a == mpl_outer(fresh, mpl_sig(fresh, MPL_SIG_POST), mpl_sig(fresh, MPL_SIG_PRE)));
  a = mpl_expr_parse(fresh, "mul(-0.25, W)", &err);
  assert_true(a == mpl_mul(fresh, mpl_num(fresh, -0.25), mpl_sig(fresh, MPL_SIG_W)));
  a = mpl_expr_parse(fresh, "dot(e_pre, ones_pre)", &err);
  assert_true(a == mpl_dot(fresh, mpl_sig(fresh, MPL_SIG_EPRE), mpl_ones(fresh, MPL_DIM_PRE)));
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  mpl_termset_free(fresh);
}

static void parse_fails(mpl_termset *ts, const char *text, const char *msg) {
  mpl_err err = {0};
  mpl_expr *e = mpl_expr_parse(ts, text, &err);
  if (e) fail_msg("'%s' parsed", text);
  assert_int_equal(err.code, MPL_EFORMAT);
  mpl_assert_contains(err.msg, msg);
}

static void test_parse_errors(void **state) {
  (void)state;
  mpl_termset *ts = mpl_termset_new();
  parse_fails(ts, "neg(matmul(e_post, t(pre))", "column 27: expected ')', found the end");
  parse_fails(ts, "neg(matmul(e_post t(pre)))", "column 19: expected ','");
  parse_fails(ts, "neg(foo)", "column 5: unknown signal 'foo'");
  parse_fails(ts, "frob(pre)", "column 1: unknown operation or function 'frob'");
  parse_fails(ts, "matmul(pre, pre)", "column 1: matmul(...): matrix product: inner dimensions differ");
  parse_fails(ts, "add(pre, post)", "column 1: add(...)");
  parse_fails(ts, "t(pre, post)", "column 6: 't' takes one argument");
  parse_fails(ts, "pre post", "column 5: unexpected text after the expression");
  parse_fails(ts, "", "column 1: expected an expression");
  parse_fails(ts, "neg", "'neg' needs arguments");
  parse_fails(ts, "sum(#)", "column 5: unexpected character '#'");
  parse_fails(ts, "mul(1e999, W)", "column 5: number out of range");
  char deep[2000] = "";
  for (int i = 0; i < 300; i++) strcat(deep, "neg(");
  parse_fails(ts, deep, "nested deeper than 256");
  /* the builder error is reported, not left behind for the next mpl_termset_add */
  assert_null(mpl_termset_error(ts));
  mpl_termset_free(ts);
}

/* }====== */

/* {====== The formats agree ====== */

/* One term of an equation: signed coefficient and its parenthesised formula. */
typedef struct eq_term { double coef; char formula[1024]; } eq_term;

/* Split "LHS = c1 (f1) - c2 (f2) ..." (open/close: "(" ")" or "\left(" "\right)"; minus: "−" or
 * "-"). The coefficient may be "m \times 10^{e}". Returns the number of terms (0 for "= 0"). */
static int parse_equation(const char *eq, const char *open, const char *close, const char *minus, eq_term *out,
                          int max) {
  const char *p = strstr(eq, "= ");
  assert_non_null(p);
  p += 2;
  if (!strcmp(p, "0")) return 0;
  int n = 0;
  size_t lo = strlen(open), lc = strlen(close), lm = strlen(minus);
  while (*p && n < max) {
    double sign = 1;
    while (*p == ' ' || *p == '+' || !strncmp(p, minus, lm)) {
      if (!strncmp(p, minus, lm)) sign = -sign, p += lm;
      else p++;
    }
    char *end;
    double c = strtod(p, &end);
    assert_true(end != p);
    p = end;
    if (!strncmp(p, " \\times 10^{", 12)) {
      c *= pow(10, strtol(p + 12, &end, 10));
      p = end + 1;
    }
    assert_true(*p == ' ');
    p++;
    assert_true(!strncmp(p, open, lo));
    p += lo;
    const char *start = p;
    int depth = 1;
    while (*p && depth) {
      if (!strncmp(p, open, lo)) depth++, p += lo;
      else if (!strncmp(p, close, lc)) { if (--depth == 0) break; p += lc; }
      else p++;
    }
    assert_int_equal(depth, 0 + (*p == 0));
    snprintf(out[n].formula, sizeof out[n].formula, "%.*s", (int)(p - start), start);
    out[n++].coef = sign * c;
    p += lc;
  }
  return n;
}

static double round4(double x) {
  char b[64];
  snprintf(b, sizeof b, "%.4g", x);
  return strtod(b, NULL);
}

/* A line of text starting with prefix (copied without the newline), or fail. */
static void line_starting(const char *text, const char *prefix, char *out, size_t n) {
  const char *p = text;
  while (p && strncmp(p, prefix, strlen(prefix))) p = (p = strchr(p, '\n')) ? p + 1 : NULL;
  if (!p) fail_msg("no line starting with '%s' in:\n%s", prefix, text);
  size_t k = strcspn(p, "\n");
  snprintf(out, n, "%.*s", (int)k, p);
}

/* The readout of paper:F0,F2,F3,F9 with theta of both signs, an exact zero, a tiny value and
 * a value between tolerances. */
static void sample_readout(mpl_readout *r, double tol) {
  mpl_selection sel;
  mpl_termset *ts = load_terms("paper:F0,F2,F3,F9", &sel);
  double theta[4] = {0.0021, -0.000512345, 0.0, 1.5e-5};
  mpl_err err = {0};
  assert_int_equal(mpl_readout_from_terms(ts, sel.which, theta, 4, tol, "seed = 3\nterms = paper:F0,F2,F3,F9\n", r, &err),
                   MPL_OK);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* The LaTeX report's aligned equation (issue 25: one term per line) joined into one line: "={}&"
 * is "=", each " \\\\ newline &" a space. */
static void aligned_joined(const char *tex, char *out, size_t n) {
  const char *b = strstr(tex, "\\begin{aligned}\n  "), *e = b ? strstr(b, "\n\\end{aligned}") : NULL;
  if (!b || !e) fail_msg("no aligned equation in:\n%s", tex);
  size_t k = 0;
  for (const char *p = b + strlen("\\begin{aligned}\n  "); p < e && k + 1 < n;) {
    if (!strncmp(p, " ={}&", 5)) { out[k++] = ' ', out[k++] = '='; p += 5; }
    else if (!strncmp(p, " \\\\\n  &", 7)) p += 7;
    else out[k++] = *p++;
  }
  out[k] = '\0';
}

static void check_formats_agree(double tol, int survivors) {
  mpl_readout r;
  sample_readout(&r, tol);
  mpl_err err = {0};
  char *text = mpl_readout_format(&r, MPL_REPORT_TEXT, &err), *tex = mpl_readout_format(&r, MPL_REPORT_LATEX, &err);
  char *md = mpl_readout_format(&r, MPL_REPORT_MARKDOWN, &err), *js = mpl_readout_format(&r, MPL_REPORT_JSON, &err);
  assert_true(text && tex && md && js);
  json_error_t je;
  json_t *doc = json_loads(js, 0, &je);
  if (!doc) fail_msg("JSON report does not parse: %s (line %d)", je.text, je.line);
  json_t *terms = json_object_get(doc, "terms");
  assert_int_equal(json_array_size(terms), 4);
  mpl_assert_contains(json_string_value(json_object_get(doc, "sign_convention")), "ΔW is added to W");

  char eq_text[4096], eq_tex[4096], eq_md[4096];
  line_starting(text, "ΔW =", eq_text, sizeof eq_text);
  aligned_joined(tex, eq_tex, sizeof eq_tex);
  line_starting(md, "\\Delta W", eq_md, sizeof eq_md);
  assert_string_equal(eq_tex, eq_md); /* Markdown's $$ block is the LaTeX equation, on one line */
  assert_string_equal(eq_text, json_string_value(json_object_get(json_object_get(doc, "equation"), "text")));
  assert_string_equal(eq_md, json_string_value(json_object_get(json_object_get(doc, "equation"), "latex")));
  eq_term a[8], b[8];
  int na = parse_equation(eq_text, "(", ")", "−", a, 8), nb = parse_equation(eq_tex, "\\left(", "\\right)", "-", b, 8);
  assert_int_equal(na, survivors);
  assert_int_equal(nb, survivors);

  int k = 0;
  for (size_t i = 0; i < 4; i++) {
    json_t *t = json_array_get(terms, i), *f = json_object_get(t, "formula");
    const char *name = json_string_value(json_object_get(t, "name"));
    double th = json_real_value(json_object_get(t, "theta"));
    int surv = json_is_true(json_object_get(t, "survives"));
    assert_true(th == r.terms[i].theta);                    /* full precision */
    assert_int_equal(surv, fabs(th) > tol);
    char line[4096], want[256];
    /* text table: name, theta at %.6g, "(zero)" for a dropped term */
    line_starting(strstr(text, "term "), name, line, sizeof line);
    mpl_assert_close(strtod(line + 8, NULL), th, 1e-5, 0);
    assert_int_equal(strstr(line, "(zero)") == NULL, surv);
    /* Markdown table */
    snprintf(want, sizeof want, "| %s | ", name);
    line_starting(md, want, line, sizeof line);
    mpl_assert_close(strtod(line + strlen(want), NULL), th, 1e-5, 0);
    mpl_assert_contains(line, surv ? "| yes |" : "| no |");
    /* LaTeX comment lines carry every theta in full */
    snprintf(want, sizeof want, "%%   %s ", name);
    line_starting(tex, want, line, sizeof line);
    assert_true(strtod(line + strlen(want), NULL) == th);
    if (!surv) continue;
    /* the equations: same coefficient (4 significant digits) and formula, in order */
    mpl_assert_close(a[k].coef, round4(th), 1e-12, 0);
    mpl_assert_close(b[k].coef, round4(th), 1e-12, 0);
    assert_string_equal(a[k].formula, json_string_value(json_object_get(f, "text")));
    assert_string_equal(b[k].formula, json_string_value(json_object_get(f, "latex")));
    k++;
  }
  assert_int_equal(k, survivors);
  json_decref(doc);
  free(text), free(tex), free(md), free(js);
  mpl_readout_free(&r);
}

static void test_formats_agree(void **state) {
  (void)state;
  check_formats_agree(0, 3);      /* proximal: only the exact zero is gone */
  check_formats_agree(1e-4, 2);   /* penalty mode with a stated tolerance: 1.5e-5 is gone too */
  check_formats_agree(1, 0);      /* nothing survives: "= 0" everywhere */
}

/* issue 25: in the text report the formulas start in one column, whatever the names' lengths. */
static void test_text_aligned(void **state) {
  (void)state;
  mpl_selection sel;
  mpl_termset *ts = load_terms("paper:F0;" MPL_SOURCE_DIR "/rules/quadratic.lua:sum_epost_one_epre,post_pre", &sel);
  double theta[3] = {1e-3, -2.5e-4, 0};
  mpl_readout r;
  mpl_err err = {0};
  assert_int_equal(mpl_readout_from_terms(ts, sel.which, theta, sel.n, 0, NULL, &r, &err), MPL_OK);
  char *text = mpl_readout_format(&r, MPL_REPORT_TEXT, &err);
  long col = -1;
  for (int i = 0; i < r.n_terms; i++) {
    char start[64];
    snprintf(start, sizeof start, "\n%s ", r.terms[i].name);
    const char *line = strstr(text, start), *f = line ? strstr(line, r.terms[i].text) : NULL;
    if (!f) fail_msg("no table row for %s in:\n%s", r.terms[i].name, text);
    if (col < 0) col = f - line;
    if (f - line != col) fail_msg("%s's formula starts at column %ld, F0's at %ld:\n%s", r.terms[i].name,
                                  (long)(f - line), col, text);
  }
  free(text);
  mpl_readout_free(&r);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

/* LaTeX: balanced environment, \left/\right and braces; compiled by pdflatex when installed. */
static void test_latex_compiles(void **state) {
  (void)state;
  /* every paper and extra term (sums, functions, Hadamard products, natives' own LaTeX) */
  mpl_selection sel;
  mpl_termset *ts = load_terms("paper;extra", &sel);
  double theta[64];
  for (int i = 0; i < sel.n; i++) theta[i] = (i % 2 ? -1 : 1) * (i + 1) * (i == 3 ? 1e-6 : 1e-3);
  mpl_readout r;
  mpl_err err = {0};
  assert_int_equal(mpl_readout_from_terms(ts, sel.which, theta, sel.n, 0, NULL, &r, &err), MPL_OK);
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
  for (int i = 0; i < r.n_terms; i++)   /* a native term recorded without a LaTeX form: its Unicode text */
    if (!strcmp(r.terms[i].name, "rownorm")) free(r.terms[i].latex), r.terms[i].latex = strdup("−(‖W_j‖² − 1) W_j");
  char *tex = mpl_readout_format(&r, MPL_REPORT_LATEX, &err);
  mpl_assert_contains(tex, "\\left(F_{\\text{rownorm}}\\right)");
  int depth = 0, lr = 0;
  for (const char *p = tex; *p; p++) {
    if (*p == '%') { p = strchr(p, '\n'); if (!p) break; continue; }
    depth += (*p == '{') - (*p == '}');
    assert_true(depth >= 0);
    if (!strncmp(p, "\\left(", 6)) lr++;
    if (!strncmp(p, "\\right)", 7)) lr--;
  }
  assert_int_equal(depth, 0);
  assert_int_equal(lr, 0);
  mpl_assert_contains(tex, "\\begin{equation}\n\\begin{aligned}\n");
  mpl_assert_contains(tex, "\\end{aligned}\n\\end{equation}");
  /* issue 25: only ASCII outside comments (a Unicode minus breaks pdflatex), usual function notation,
   * one term per line, a table of every term */
  for (const char *p = tex; *p; p++) {
    if (*p == '%') { p = strchr(p, '\n'); if (!p) break; continue; }
    if ((unsigned char)*p >= 0x80) fail_msg("a non-ASCII byte in the LaTeX at offset %ld:\n%s", (long)(p - tex), tex);
  }
  assert_null(strstr(tex, "\\operatorname"));
  mpl_assert_contains(tex, "}^{2}");
  mpl_assert_contains(tex, "\\frac{1}{");
  mpl_assert_contains(tex, " \\\\\n  & - ");
  mpl_assert_contains(tex, "\\begin{tabular}{llrl}\n\\hline\nterm & formula & $\\theta$ & survives \\\\\n");
  mpl_assert_contains(tex, "\\texttt{ehebb\\_off} & $");
  mpl_assert_contains(tex, "4 \\times 10^{-6}");
  int st;
  free(mpl_test_run("command -v pdflatex >/dev/null 2>&1", &st));
  if (st == 0) {
    char dir[4200], path[4300], cmd[9000];
    in_root(dir, sizeof dir, "latex");
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/rule.tex", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n%s\\end{document}\n", tex);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd '%s' && pdflatex -interaction=nonstopmode -halt-on-error rule.tex 2>&1", dir);
    char *out = mpl_test_run(cmd, &st);
    if (st != 0) fail_msg("pdflatex failed:\n%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/rule.pdf", dir);
    assert_int_equal(access(path, F_OK), 0);
  } else {
    print_message("pdflatex not installed: LaTeX checked structurally only\n");
  }
  free(tex);
  mpl_readout_free(&r);
}

/* }====== */

/* {====== JSON round trip through a search ====== */

static void search_into(const char *out, const char *terms, mpl_search_result *res) {
  mpl_search_cfg c;
  mpl_search_defaults(&c);
  c.images = images_path;
  c.labels = labels_path;
  c.task = (mpl_task_cfg){.m = 3, .k = 5, .q = 3, .mode = MPL_SAMPLE_CLEAN};
  c.n_hidden = 1;
  c.hidden[0] = 10;
  c.terms = terms;
  c.episodes = 6;
  c.seed = 5;
  c.adam.lr = 3e-3;
  c.out = out;
  c.force = 1;
  mpl_err err = {0};
  if (mpl_search_run(&c, res, &err) != MPL_OK) fail_msg("search: %s", err.msg);
}

static void test_json_round_trip(void **state) {
  (void)state;
  char dir[4200];
  in_root(dir, sizeof dir, "run");
  mpl_search_result res;
  search_into(dir, "paper:F0,F2,F9;extra:bcm,rownorm", &res);
  mpl_readout r;
  mpl_err err = {0};
  assert_int_equal(mpl_readout_load(dir, &r, &err), MPL_OK);
  assert_int_equal(r.n_terms, 5);
  assert_string_equal(mpl_readout_config(&r, "terms"), "paper:F0,F2,F9;extra:bcm,rownorm");
  assert_string_equal(mpl_readout_config(&r, "seed"), "5");
  for (int i = 0; i < 5; i++) {
    assert_string_equal(r.terms[i].name, res.names[i]);
    assert_true(r.terms[i].theta == res.theta[i]);  /* bit-identical */
    assert_string_equal(r.terms[i].text, res.formulas[i]);
  }
  assert_string_equal(r.terms[0].source, "paper");
  assert_string_equal(r.terms[4].source, "extra");
  assert_null(r.terms[4].code);                     /* native */

  /* rebuild as a fixed rule: the same terms as the search's own term set */
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel, orig;
  assert_int_equal(mpl_readout_build(&r, ts, &sel, &err), MPL_OK);
  mpl_termset *ots = load_terms("paper:F0,F2,F9;extra:bcm,rownorm", &orig);
  assert_int_equal(sel.n, 5);
  for (int i = 0; i < 5; i++) {
    char a[4096], b[4096];
    assert_string_equal(mpl_termset_name(ts, sel.which[i]), res.names[i]);
    assert_true(sel.theta0[i] == res.theta[i]);
    assert_int_equal(mpl_termset_is_native(ts, sel.which[i]), i == 4);
    mpl_termset_print(ts, sel.which[i], MPL_FMT_CODE, a, sizeof a);
    mpl_termset_print(ots, orig.which[i], MPL_FMT_CODE, b, sizeof b);
    assert_string_equal(a, b);
    assert_string_equal(mpl_termset_source(ts, sel.which[i]), mpl_termset_source(ots, orig.which[i]));
    assert_string_equal(mpl_termset_description(ts, sel.which[i]), mpl_termset_description(ots, orig.which[i]));
  }
  /* JSON written from the reloaded rule is the same file */
  char *again = mpl_readout_format(&r, MPL_REPORT_JSON, &err), path[4300];
  snprintf(path, sizeof path, "%s/rule.json", dir);
  char *file = mpl_test_slurp(path);
  assert_string_equal(again, file);
  free(again), free(file);

  /* a directory without rule.json (older runs): theta.tsv + config.txt, sources recovered */
  remove(path);
  mpl_readout old;
  assert_int_equal(mpl_readout_load(dir, &old, &err), MPL_OK);
  assert_int_equal(old.n_terms, 5);
  for (int i = 0; i < 5; i++) {
    assert_true(old.terms[i].theta == r.terms[i].theta);
    assert_string_equal(old.terms[i].source, r.terms[i].source);
    assert_string_equal(old.terms[i].description, r.terms[i].description);
    assert_int_equal(old.terms[i].code == NULL, r.terms[i].code == NULL);
  }
  mpl_readout_free(&old);
  mpl_selection_free(&sel), mpl_selection_free(&orig);
  mpl_termset_free(ts), mpl_termset_free(ots);
  mpl_readout_free(&r);
  mpl_search_result_free(&res);
}

/* }====== */

/* {====== Malformed JSON ====== */

static const char *good_term =
  "{\"name\": \"F0\", \"source\": \"paper\", \"theta\": 0.002, \"formula\": {\"text\": \"−e_ℓ y_{ℓ−1}ᵀ\", "
  "\"latex\": \"-e\", \"code\": \"neg(matmul(e_post, t(pre)))\"}}";

static void load_fails(const char *json, int code, const char *msg) {
  char path[4200];
  in_root(path, sizeof path, "bad.json");
  write_text(path, json);
  mpl_readout r;
  mpl_err err = {0};
  int rc = mpl_readout_load(path, &r, &err);
  if (rc == MPL_OK) fail_msg("loaded: %s", json);
  assert_int_equal(rc, code);
  mpl_assert_contains(err.msg, path);
  mpl_assert_contains(err.msg, msg);
}

static void build_fails(const char *json, const char *msg) {
  char path[4200];
  in_root(path, sizeof path, "bad.json");
  write_text(path, json);
  mpl_readout r;
  mpl_err err = {0};
  assert_int_equal(mpl_readout_load(path, &r, &err), MPL_OK);
  mpl_termset *ts = mpl_termset_new();
  mpl_selection sel;
  assert_true(mpl_readout_build(&r, ts, &sel, &err) < 0);
  mpl_assert_contains(err.msg, msg);
  assert_null(sel.which);
  mpl_termset_free(ts);
  mpl_readout_free(&r);
}

static void test_malformed_json(void **state) {
  (void)state;
  char buf[4096];
  /* syntax: file, line and column */
  load_fails("{\"format\": \"metaplast-rule\",\n \"version\": 1,\n \"terms\": [ }\n", MPL_EFORMAT, ":3:");
  load_fails("{\"format\": \"metaplast-rule\", \"format\": \"x\"}", MPL_EFORMAT, "duplicate");
  /* fields */
  load_fails("[1, 2]", MPL_EFORMAT, "(top level): expected an object");
  load_fails("{\"format\": \"other\", \"version\": 1}", MPL_EFORMAT, "format: expected \"metaplast-rule\"");
  load_fails("{\"format\": \"metaplast-rule\", \"version\": 2}", MPL_EFORMAT, "version: expected 1");
  load_fails("{\"format\": \"metaplast-rule\", \"version\": 1}", MPL_EFORMAT, "terms: missing");
  load_fails("{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": []}", MPL_EFORMAT, "terms: expected a non-empty");
  load_fails("{\"format\": \"metaplast-rule\", \"version\": 1, \"zero_tol\": -1, \"terms\": [1]}", MPL_EFORMAT,
             "zero_tol: expected a number >= 0");
  load_fails("{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [1]}", MPL_EFORMAT, "terms[0]: expected an object");
  snprintf(buf, sizeof buf, "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [%s, {\"name\": \"F2\", "
           "\"theta\": \"big\", \"formula\": {\"text\": \"x\", \"code\": \"W\"}}]}", good_term);
  load_fails(buf, MPL_EFORMAT, "terms[1].theta: expected a number");
  snprintf(buf, sizeof buf, "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [{\"theta\": 1, "
           "\"formula\": {\"text\": \"x\", \"code\": \"W\"}}]}");
  load_fails(buf, MPL_EFORMAT, "terms[0].name: missing");
  snprintf(buf, sizeof buf, "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [{\"name\": \"a\", \"theta\": 1, "
           "\"formula\": {\"text\": 3, \"code\": \"W\"}}]}");
  load_fails(buf, MPL_EFORMAT, "terms[0].formula.text: expected a string");
  snprintf(buf, sizeof buf, "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [{\"name\": \"n\", \"theta\": 1, "
           "\"formula\": {\"text\": \"x\", \"code\": null}}]}");
  load_fails(buf, MPL_EFORMAT, "terms[0].source: a native term");
  snprintf(buf, sizeof buf, "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [%s, %s]}", good_term, good_term);
  load_fails(buf, MPL_EFORMAT, "terms[1].name: a second term");
  snprintf(buf, sizeof buf, "{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [%s], \"config\": {\"a\": [1]}}",
           good_term);
  load_fails(buf, MPL_EFORMAT, "config.a: expected");
  in_root(buf, sizeof buf, "no-such-rule.json");
  mpl_readout r;
  mpl_err err = {0};
  assert_int_equal(mpl_readout_load(buf, &r, &err), MPL_ENOTFOUND);
  /* well-formed JSON whose formulas cannot be rebuilt: the term and the column */
  build_fails("{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [{\"name\": \"G\", \"theta\": 1, "
              "\"formula\": {\"text\": \"x\", \"code\": \"matmul(post, post)\"}}]}",
              "term G: formula.code: column 1: matmul(...)");
  build_fails("{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [{\"name\": \"G\", \"theta\": 1, "
              "\"formula\": {\"text\": \"x\", \"code\": \"post\"}}]}", "term G: ");
  build_fails("{\"format\": \"metaplast-rule\", \"version\": 1, \"terms\": [{\"name\": \"nope\", \"source\": \"extra\", "
              "\"theta\": 1, \"formula\": {\"text\": \"x\", \"code\": null}}]}", "native term nope (source extra)");
}

/* }====== */

/* {====== The report command ====== */

static void test_cli_report(void **state) {
  (void)state;
  char dir[4200], cmd[9000];
  in_root(dir, sizeof dir, "cli");
  mpl_search_result res;
  search_into(dir, "paper:F0,F9", &res);
  int st;
  const char *fmts[] = {"text", "latex", "markdown", "json"};
  for (int i = 0; i < 4; i++) {
    mpl_readout r;
    mpl_err err = {0};
    mpl_report_format f;
    assert_int_equal(mpl_readout_load(dir, &r, &err), MPL_OK);
    assert_int_equal(mpl_report_format_parse(fmts[i], &f), MPL_OK);
    char *want = mpl_readout_format(&r, f, &err);
    snprintf(cmd, sizeof cmd, "'%s' report '%s' --format %s", MPL_CLI, dir, fmts[i]);
    char *out = mpl_test_run(cmd, &st);
    assert_int_equal(st, 0);
    assert_string_equal(out, want);
    free(out), free(want);
    mpl_readout_free(&r);
  }
  /* the default is text, identical to rule.txt */
  snprintf(cmd, sizeof cmd, "'%s' report '%s'", MPL_CLI, dir);
  char *out = mpl_test_run(cmd, &st), path[4300];
  snprintf(path, sizeof path, "%s/rule.txt", dir);
  char *rule = mpl_test_slurp(path);
  assert_int_equal(st, 0);
  assert_string_equal(out, rule);
  free(out), free(rule);
  /* --tol above every |theta| leaves ΔW = 0 */
  snprintf(cmd, sizeof cmd, "'%s' report '%s' --tol 100 --format text", MPL_CLI, dir);
  out = mpl_test_run(cmd, &st);
  assert_int_equal(st, 0);
  assert_true(!strncmp(out, "health: ", 8) && strstr(out, "\nΔW = 0\n")); /* the verdict, then the rule */
  mpl_assert_contains(out, "Terms with |θ| <= 100");
  free(out);
  /* a JSON rule file works as well as a directory */
  snprintf(cmd, sizeof cmd, "'%s' report '%s/rule.json' --format markdown", MPL_CLI, dir);
  out = mpl_test_run(cmd, &st);
  assert_int_equal(st, 0);
  mpl_assert_contains(out, "| F9 |");
  free(out);
  /* usage errors: 2; a missing directory: 1 with the path */
  snprintf(cmd, sizeof cmd, "'%s' report '%s' --format pdf 2>&1", MPL_CLI, dir);
  out = mpl_test_run(cmd, &st);
  assert_int_equal(st, 2);
  mpl_assert_contains(out, "--format 'pdf'");
  free(out);
  snprintf(cmd, sizeof cmd, "'%s' report '%s/none' 2>&1", MPL_CLI, dir);
  out = mpl_test_run(cmd, &st);
  assert_int_equal(st, 1);
  mpl_assert_contains(out, "none");
  free(out);
  snprintf(cmd, sizeof cmd, "'%s' report --tol -1 '%s' 2>&1", MPL_CLI, dir);
  free(mpl_test_run(cmd, &st));
  assert_int_equal(st, 2);
  mpl_search_result_free(&res);
}

/* }====== */

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", mpl_test_path("report"));
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
    cmocka_unit_test(test_parse_round_trip),
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test(test_formats_agree),
    cmocka_unit_test(test_text_aligned),
    cmocka_unit_test(test_latex_compiles),
    cmocka_unit_test(test_json_round_trip),
    cmocka_unit_test(test_malformed_json),
    cmocka_unit_test(test_cli_report),
  };
  return cmocka_run_group_tests_name("report", tests, setup, teardown);
}
