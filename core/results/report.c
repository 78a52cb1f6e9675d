/* metaplast: reading out a discovered rule: the read-out record (report.h), its four formats
 * (text, LaTeX, Markdown, JSON through jansson), loading it back from a results directory or a
 * JSON file, and rebuilding it as a fixed rule. See LICENSE for copyright. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "metaplast/report.h"
#include "metaplast/results.h"

#include "results.h"

#define RULE_FORMAT "metaplast-rule"
#define RULE_VERSION 1

/* {====== The equation and rule.txt ====== */

size_t mpl_equation(char *const *names, char *const *formulas, const double *theta, int n, double tol,
                    char *buf, size_t len) {
  mpl__sb s = {buf, len, 0};
  if (len) buf[0] = '\0';
  int k = 0;
  (void)names;
  mpl__sb_printf(&s, "ΔW =");
  for (int i = 0; i < n; i++) {
    if (!(fabs(theta[i]) > tol)) continue;
    const char *sign = theta[i] < 0 ? (k ? " − " : " −") : (k ? " + " : " ");
    mpl__sb_printf(&s, "%s%.4g (%s)", sign, fabs(theta[i]), formulas[i]);
    k++;
  }
  if (!k) mpl__sb_printf(&s, " 0");
  return s.len;
}

static void tol_sentence(mpl__sb *s, double tol) {
  if (tol == 0) mpl__sb_printf(s, "Terms whose θ is exactly 0 are dropped.\n");
  else mpl__sb_printf(s, "Terms with |θ| <= %g (the zero tolerance) are dropped.\n", tol);
}

/* The width of a names column: the longest name, at least 8 (so long names keep the columns aligned). */
static int name_width(char *const *names, int n) {
  size_t w = 8;
  for (int i = 0; i < n; i++) w = strlen(names[i]) > w ? strlen(names[i]) : w;
  return w > 64 ? 64 : (int)w;
}

size_t mpl__rule_text(const mpl__rule_terms *r, double tol, char *buf, size_t len) {
  mpl__sb s = {buf, len, 0};
  if (len) buf[0] = '\0';
  size_t need = mpl_equation(r->names, r->formulas, r->theta, r->n_terms, tol, NULL, 0);
  char *eq = malloc(need + 1);
  if (!eq) return 0;
  mpl_equation(r->names, r->formulas, r->theta, r->n_terms, tol, eq, need + 1);
  mpl__sb_printf(&s, "%s\n\n", eq);
  free(eq);
  mpl__sb_printf(&s, "Shared by every layer ℓ; W = W_{ℓ−1,ℓ}; " MPL_SIGN_CONVENTION ".\n");
  tol_sentence(&s, tol);
  int std = r->scale != NULL;   /* the standardized coefficients, where the run recorded its scales */
  for (int i = 0; std && i < r->n_terms; i++) std = isfinite(r->scale[i]) && r->scale[i] > 0;
  if (std) mpl__sb_printf(&s, "θ = scale · standardized (docs/discovery.md); L1 acts on the standardized values.\n");
  int w = name_width(r->names, r->n_terms);
  mpl__sb_printf(&s, "\n%-*s %14s  %s%s\n", w, "term", "theta", std ? "  standardized  " : "", "formula");
  for (int i = 0; i < r->n_terms; i++) {
    char z[32] = "";
    if (std) snprintf(z, sizeof z, "%14.6g  ", r->theta[i] / r->scale[i]);
    mpl__sb_printf(&s, "%-*s %14.6g  %s%s%s\n", w, r->names[i], r->theta[i], z, r->formulas[i],
                   fabs(r->theta[i]) > tol ? "" : "   (zero)");
  }
  return s.len;
}

/* }====== */

/* {====== The read-out record ====== */

static void term_free(mpl_readout_term *t) {
  free(t->name), free(t->source), free(t->description);
  free(t->text), free(t->latex), free(t->code);
}

int mpl_readout_use_final(mpl_readout *r, mpl_err *err) {
  for (int i = 0; i < r->n_terms; i++)
    if (!isfinite(r->terms[i].theta_final))
      return mpl_errorf(err, MPL_ENOTFOUND, "term %s: the rule records no last iterate (theta_final)", r->terms[i].name);
  for (int i = 0; i < r->n_terms; i++) r->terms[i].theta = r->terms[i].theta_final;
  free(r->health);
  r->health = mpl__strdup("health: not judged: the last iterate (--final); the verdict was given on the reported rule\n");
  r->healthy = 0;
  return MPL_OK;
}

void mpl_readout_free(mpl_readout *r) {
  if (!r) return;
  free(r->health);
  mpl__readout_sources_free(r);
  for (int i = 0; i < r->n_terms; i++) term_free(&r->terms[i]);
  for (int i = 0; i < r->n_config; i++) free(r->keys[i]), free(r->values[i]);
  free(r->terms), free(r->keys), free(r->values);
  memset(r, 0, sizeof *r);
}

/* A new zeroed term at the end of r (NULL when out of memory). */
static mpl_readout_term *push_term(mpl_readout *r) {
  mpl_readout_term *t = realloc(r->terms, ((size_t)r->n_terms + 1) * sizeof *t);
  if (!t) return NULL;
  r->terms = t;
  t = &r->terms[r->n_terms++];
  memset(t, 0, sizeof *t);
  return t;
}

static int term_complete(const mpl_readout_term *t) {
  return t->name && t->source && t->description && t->text && t->latex;
}

static int push_config(mpl_readout *r, const char *key, const char *value) {
  char **k = realloc(r->keys, ((size_t)r->n_config + 1) * sizeof *k);
  if (k) r->keys = k;
  char **v = k ? realloc(r->values, ((size_t)r->n_config + 1) * sizeof *v) : NULL;
  if (v) r->values = v;
  if (!k || !v) return MPL_ENOMEM;
  r->keys[r->n_config] = mpl__strdup(key);
  r->values[r->n_config] = mpl__strdup(value);
  r->n_config++;
  return r->keys[r->n_config - 1] && r->values[r->n_config - 1] ? MPL_OK : MPL_ENOMEM;
}

/* "key = value" lines ('#' comments) into r's configuration. */
static int parse_config_text(mpl_readout *r, const char *text) {
  for (const char *p = text; p && *p;) {
    size_t k = strcspn(p, "\n");
    const char *eq = memchr(p, '=', k);
    if (*p != '#' && eq) {
      char key[256], *val = malloc(k + 1);
      if (!val) return MPL_ENOMEM;
      size_t kl = (size_t)(eq - p);
      while (kl && p[kl - 1] == ' ') kl--;
      snprintf(key, sizeof key, "%.*s", (int)kl, p);
      const char *v = eq + 1 + (eq[1] == ' ');
      snprintf(val, k + 1, "%.*s", (int)(p + k - v), v);
      int rc = push_config(r, key, val);
      free(val);
      if (rc) return rc;
    }
    p += k + (p[k] == '\n');
  }
  return MPL_OK;
}

const char *mpl_readout_config(const mpl_readout *r, const char *key) {
  for (int i = r->n_config - 1; i >= 0; i--)
    if (!strcmp(r->keys[i], key)) return r->values[i];
  return NULL;
}

int mpl_readout_survives(const mpl_readout *r, int i) { return fabs(r->terms[i].theta) > r->zero_tol; }

/* Term i of ts's formula in fmt (malloc'ed). */
static char *print_term(const mpl_termset *ts, int i, mpl_format fmt) {
  size_t n = mpl_termset_print(ts, i, fmt, NULL, 0);
  char *s = malloc(n + 1);
  if (s) mpl_termset_print(ts, i, fmt, s, n + 1);
  return s;
}

int mpl_readout_from_terms(const mpl_termset *ts, const int *which, const double *theta, int n, double zero_tol,
                           const char *config_text, mpl_readout *r, mpl_err *err) {
  memset(r, 0, sizeof *r);
  r->zero_tol = zero_tol;
  int rc = parse_config_text(r, config_text);
  for (int i = 0; rc == 0 && i < n; i++) {
    int j = which ? which[i] : i;
    mpl_readout_term *t = push_term(r);
    if (!t) { rc = MPL_ENOMEM; break; }
    t->name = mpl__strdup(mpl_termset_name(ts, j));
    t->source = mpl__strdup(mpl_termset_source(ts, j));
    t->description = mpl__strdup(mpl_termset_description(ts, j));
    t->text = print_term(ts, j, MPL_FMT_TEXT);
    t->latex = print_term(ts, j, MPL_FMT_LATEX);
    t->code = mpl_termset_is_native(ts, j) ? NULL : print_term(ts, j, MPL_FMT_CODE);
    t->theta = theta[i];
    t->theta_final = t->scale = NAN;
    if (!term_complete(t) || (!t->code && !mpl_termset_is_native(ts, j))) rc = MPL_ENOMEM;
  }
  if (rc == 0) rc = mpl__readout_sources_from(r, ts);
  if (rc) {
    mpl_readout_free(r);
    return mpl_errorf(err, rc, "out of memory");
  }
  return MPL_OK;
}

/* }====== */

/* {====== Formats ====== */

/* A coefficient's magnitude in LaTeX: %.4g with "e-05" written as "\times 10^{-5}". */
static void latex_number(char *buf, size_t n, double v) {
  char t[64], *e;
  snprintf(t, sizeof t, "%.4g", v);
  if (!(e = strchr(t, 'e'))) { snprintf(buf, n, "%s", t); return; }
  *e = '\0';
  snprintf(buf, n, "%s \\times 10^{%d}", t, atoi(e + 1));
}

/* A term's LaTeX, or F_{\text{name}} when what was recorded is not plain ASCII (a native term
 * without a LaTeX form carries its Unicode formula, which breaks a document; issue 25). */
static const char *latex_safe(const mpl_readout_term *t, char *buf, size_t n) {
  for (const unsigned char *p = (const unsigned char *)t->latex; *p; p++)
    if (*p >= 0x80) {
      size_t k = (size_t)snprintf(buf, n, "F_{\\text{");
      for (const char *q = t->name; *q && k + 12 < n; q++) {
        if (*q == '_') buf[k++] = '\\';
        if (isalnum((unsigned char)*q) || *q == '_') buf[k++] = *q;
      }
      snprintf(buf + k, n - k, "}}");
      return buf;
    }
  return t->latex;
}

/* One term's signed coefficient and formula: " + 0.0047 \left(F\right)" (the first without " + "). */
static void latex_term(const mpl_readout *r, int i, int first, mpl__sb *s) {
  char num[96], safe[600];
  double th = r->terms[i].theta;
  latex_number(num, sizeof num, fabs(th));
  mpl__sb_printf(s, "%s%s \\left(%s\\right)", th < 0 ? (first ? " -" : " - ") : (first ? " " : " + "), num,
                 latex_safe(&r->terms[i], safe, sizeof safe));
}

static void latex_equation(const mpl_readout *r, mpl__sb *s) {
  int k = 0;
  mpl__sb_printf(s, "\\Delta W_{\\ell-1,\\ell} =");
  for (int i = 0; i < r->n_terms; i++)
    if (mpl_readout_survives(r, i)) latex_term(r, i, k++ == 0, s);
  if (!k) mpl__sb_printf(s, " 0");
}

/* The same as an aligned equation, one term per line (a long rule no longer runs off the page). */
static void latex_aligned(const mpl_readout *r, mpl__sb *s) {
  int k = 0;
  mpl__sb_printf(s, "\\begin{equation}\n\\begin{aligned}\n  \\Delta W_{\\ell-1,\\ell} ={}&");
  for (int i = 0; i < r->n_terms; i++) {
    if (!mpl_readout_survives(r, i)) continue;
    if (k) mpl__sb_printf(s, " \\\\\n  &");
    latex_term(r, i, k++ == 0, s);
  }
  if (!k) mpl__sb_printf(s, " 0");
  mpl__sb_printf(s, "\n\\end{aligned}\n\\end{equation}\n");
}

/* Every term: name, formula, θ, whether it survives (a trials consensus: in how many trials). */
static void latex_table(const mpl_readout *r, mpl__sb *s) {
  mpl__sb_printf(s, "\\begin{tabular}{llrl}\n\\hline\nterm & formula & $\\theta$ & survives \\\\\n\\hline\n");
  for (int i = 0; i < r->n_terms; i++) {
    const mpl_readout_term *t = &r->terms[i];
    char num[96], safe[600];
    latex_number(num, sizeof num, fabs(t->theta));
    mpl__sb_printf(s, "\\texttt{");
    for (const char *q = t->name; *q; q++) mpl__sb_printf(s, *q == '_' ? "\\_" : "%c", isprint((unsigned char)*q) ? *q : '?');
    const char *tr = strstr(t->description, "survived in ");
    int got = 0, of = 0;
    if (tr && sscanf(tr, "survived in %d of %d trials", &got, &of) == 2)
      mpl__sb_printf(s, "} & $%s$ & $%s%s$ & %d of %d trials \\\\\n", latex_safe(t, safe, sizeof safe),
                     t->theta < 0 ? "-" : "", num, got, of);
    else
      mpl__sb_printf(s, "} & $%s$ & $%s%s$ & %s \\\\\n", latex_safe(t, safe, sizeof safe), t->theta < 0 ? "-" : "",
                     num, mpl_readout_survives(r, i) ? "yes" : "no");
  }
  mpl__sb_printf(s, "\\hline\n\\end{tabular}\n");
}

static void format_text(const mpl_readout *r, mpl__sb *s) {
  char **names = calloc((size_t)r->n_terms + 1, sizeof *names), **formulas = calloc((size_t)r->n_terms + 1, sizeof *formulas);
  double *theta = calloc((size_t)r->n_terms + 1, sizeof *theta), *scale = calloc((size_t)r->n_terms + 1, sizeof *scale);
  if (names && formulas && theta && scale) {
    for (int i = 0; i < r->n_terms; i++)
      names[i] = r->terms[i].name, formulas[i] = r->terms[i].text, theta[i] = r->terms[i].theta,
      scale[i] = r->terms[i].scale;
    mpl__rule_terms res = {r->n_terms, names, formulas, theta, scale};
    if (r->health) mpl__sb_printf(s, "%s", r->health);
    size_t need = mpl__rule_text(&res, r->zero_tol, NULL, 0);
    char *buf = malloc(need + 1);
    if (buf) mpl__rule_text(&res, r->zero_tol, buf, need + 1), mpl__sb_printf(s, "%s", buf);
    else s->len += need;
    free(buf);
    const char *trials = mpl_readout_config(r, "trials");
    if (trials) { /* a trials directory's consensus rule */
      mpl__sb_printf(s, "\nθ is the mean over %s trials (zeros included). Survival across trials:\n", trials);
      int w = name_width(names, r->n_terms);
      for (int i = 0; i < r->n_terms; i++) mpl__sb_printf(s, "%-*s %s\n", w, r->terms[i].name, r->terms[i].description);
    }
  } else {
    s->len = (size_t)-1 / 2; /* a length no allocation satisfies: reported as out of memory */
  }
  free(names), free(formulas), free(theta), free(scale);
}

static void format_latex(const mpl_readout *r, mpl__sb *s) {
  mpl__sb_printf(s, "%% metaplast rule: Delta W = sum_r theta_r F_r over the surviving terms, shared by every "
                    "layer l.\n%% Sign convention: a positive theta applies its term as written; Delta W is added "
                    "to W.\n");
  if (r->zero_tol == 0) mpl__sb_printf(s, "%% Terms whose theta is exactly 0 are dropped.\n");
  else mpl__sb_printf(s, "%% Terms with |theta| <= %g (the zero tolerance) are dropped.\n", r->zero_tol);
  for (const char *h = r->health; h && *h;) {   /* the verdict, as comments */
    size_t k = strcspn(h, "\n");
    mpl__sb_printf(s, "%% %.*s\n", (int)k, h);
    h += k + (h[k] == '\n');
  }
  mpl__sb_printf(s, "%% Needs \\usepackage{amsmath}. Every term (name, theta, survives):\n");
  for (int i = 0; i < r->n_terms; i++)
    mpl__sb_printf(s, "%%   %s %.17g %s\n", r->terms[i].name, r->terms[i].theta,
                   mpl_readout_survives(r, i) ? "yes" : "no");
  latex_aligned(r, s);
  latex_table(r, s);
}

/* Markdown table cells: '|' would end the cell. */
static void md_cell(mpl__sb *s, const char *text) {
  for (const char *p = text; *p; p++) mpl__sb_printf(s, *p == '|' ? "\\|" : "%c", *p);
}

static void format_markdown(const mpl_readout *r, mpl__sb *s) {
  if (r->health) mpl__sb_printf(s, "```\n%s```\n\n", r->health);
  mpl__sb_printf(s, "ΔW = Σ_r θ_r F_r over the surviving terms, shared by every layer ℓ (W = W_{ℓ−1,ℓ}); "
                    MPL_SIGN_CONVENTION ". ");
  tol_sentence(s, r->zero_tol);
  mpl__sb_printf(s, "\n$$\n");
  latex_equation(r, s);
  mpl__sb_printf(s, "\n$$\n\n| term | θ | formula | survives | source | description |\n"
                    "|:--|--:|:--|:-:|:--|:--|\n");
  for (int i = 0; i < r->n_terms; i++) {
    const mpl_readout_term *t = &r->terms[i];
    mpl__sb_printf(s, "| %s | %.6g | $", t->name, t->theta);
    md_cell(s, t->latex);
    mpl__sb_printf(s, "$ | %s | ", mpl_readout_survives(r, i) ? "yes" : "no");
    md_cell(s, t->source);
    mpl__sb_printf(s, " | ");
    md_cell(s, t->description);
    mpl__sb_printf(s, " |\n");
  }
}

/* A configuration value as JSON: an integer or a finite number when the whole text is one,
 * otherwise a string. */
static json_t *config_value(const char *v) {
  char *end;
  errno = 0;
  long long i = strtoll(v, &end, 10);
  if (*v && !*end && !errno) return json_integer(i);
  double d = strtod(v, &end);
  if (*v && !*end && isfinite(d) && !strchr(v, 'x') && !strchr(v, 'X')) return json_real(d);
  return json_string(v);
}

static json_t *json_term(const mpl_readout *r, int i) {
  const mpl_readout_term *t = &r->terms[i];
  json_t *f = json_pack("{s:s, s:s, s:o}", "text", t->text, "latex", t->latex, "code",
                        t->code ? json_string(t->code) : json_null());
  json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:b, s:b, s:o}", "name", t->name, "source", t->source, "description",
                        t->description, "theta", t->theta, "survives", mpl_readout_survives(r, i), "native", !t->code,
                        "formula", f);
  if (o && isfinite(t->theta_final)) json_object_set_new(o, "theta_final", json_real(t->theta_final));
  if (o && isfinite(t->scale)) {
    json_object_set_new(o, "scale", json_real(t->scale));
    json_object_set_new(o, "standardized", json_real(t->theta / t->scale));
  }
  return o;
}

static json_t *json_doc(const mpl_readout *r) {
  mpl__sb s0 = {NULL, 0, 0};
  latex_equation(r, &s0);
  char *tex = malloc(s0.len + 1);
  json_t *terms = json_array(), *config = json_object(), *eq = NULL, *doc = NULL;
  char **names = calloc((size_t)r->n_terms + 1, sizeof *names), **formulas = calloc((size_t)r->n_terms + 1, sizeof *formulas);
  double *theta = calloc((size_t)r->n_terms + 1, sizeof *theta);
  if (tex && terms && config && names && formulas && theta) {
    mpl__sb s1 = {tex, s0.len + 1, 0};
    latex_equation(r, &s1);
    for (int i = 0; i < r->n_terms; i++) {
      names[i] = r->terms[i].name, formulas[i] = r->terms[i].text, theta[i] = r->terms[i].theta;
      json_array_append_new(terms, json_term(r, i));
    }
    size_t need = mpl_equation(names, formulas, theta, r->n_terms, r->zero_tol, NULL, 0);
    char *text = malloc(need + 1);
    if (text) mpl_equation(names, formulas, theta, r->n_terms, r->zero_tol, text, need + 1);
    for (int i = 0; i < r->n_config; i++) json_object_set_new(config, r->keys[i], config_value(r->values[i]));
    eq = text ? json_pack("{s:s, s:s}", "text", text, "latex", tex) : NULL;
    free(text);
    if (eq && (size_t)json_array_size(terms) == (size_t)r->n_terms)
      doc = json_pack("{s:s, s:i, s:s, s:f, s:O, s:O, s:O}", "format", RULE_FORMAT, "version", RULE_VERSION,
                      "sign_convention", MPL_SIGN_CONVENTION, "zero_tol", r->zero_tol, "equation", eq, "terms",
                      terms, "config", config);
    if (doc && r->n_sources) json_object_set_new(doc, "sources", mpl__readout_sources_json(r));
    if (doc && r->health)
      json_object_set_new(doc, "health", json_pack("{s:b, s:s, s:i}", "healthy", r->healthy, "text", r->health,
                                                   "episode", r->episode));
  }
  json_decref(eq), json_decref(terms), json_decref(config);
  free(tex), free(names), free(formulas), free(theta);
  return doc;
}

static void format_json(const mpl_readout *r, mpl__sb *s) {
  json_t *doc = json_doc(r);
  char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
  if (text) mpl__sb_printf(s, "%s\n", text);
  else s->len = (size_t)-1 / 2; /* out of memory */
  free(text);
  json_decref(doc);
}

typedef void (*format_fn)(const mpl_readout *, mpl__sb *);
static const format_fn formats[] = {format_text, format_latex, format_markdown, format_json};
static const char *const format_names[] = {"text", "latex", "markdown", "json"};

int mpl_report_format_parse(const char *name, mpl_report_format *fmt) {
  for (int i = 0; i < 4; i++)
    if (name && !strcmp(name, format_names[i])) { *fmt = (mpl_report_format)i; return MPL_OK; }
  if (name && !strcmp(name, "md")) { *fmt = MPL_REPORT_MARKDOWN; return MPL_OK; }
  return MPL_EINVAL;
}

char *mpl_readout_format(const mpl_readout *r, mpl_report_format fmt, mpl_err *err) {
  if ((int)fmt < 0 || fmt > MPL_REPORT_JSON) {
    mpl_errorf(err, MPL_EINVAL, "unknown report format %d", (int)fmt);
    return NULL;
  }
  mpl__sb s = {NULL, 0, 0};
  formats[fmt](r, &s); /* measure, then print */
  char *buf = s.len < (size_t)-1 / 4 ? malloc(s.len + 1) : NULL;
  if (!buf) {
    mpl_errorf(err, MPL_ENOMEM, "out of memory (%s report)", format_names[fmt]);
    return NULL;
  }
  s = (mpl__sb){buf, s.len + 1, 0};
  buf[0] = '\0';
  formats[fmt](r, &s);
  return buf;
}

/* }====== */

/* {====== Loading: JSON ====== */

static int field_error(mpl_err *err, const char *path, const char *field, const char *what) {
  return mpl_errorf(err, MPL_EFORMAT, "%s: %s: %s", path, field, what);
}

/* A required (or, with optional, possibly absent) string member; *out is a copy. */
static int get_string(json_t *obj, const char *key, int optional, const char *path, const char *where, char **out,
                      mpl_err *err) {
  char field[256];
  snprintf(field, sizeof field, "%s%s", where, key);
  json_t *v = json_object_get(obj, key);
  if (!v && optional) return (*out = mpl__strdup("")) ? MPL_OK : mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (!v) return field_error(err, path, field, "missing");
  if (!json_is_string(v)) return field_error(err, path, field, "expected a string");
  return (*out = mpl__strdup(json_string_value(v))) ? MPL_OK : mpl_errorf(err, MPL_ENOMEM, "out of memory");
}

static int load_json_term(json_t *jt, int i, const char *path, mpl_readout *r, mpl_err *err) {
  char where[64], field[128];
  snprintf(where, sizeof where, "terms[%d].", i);
  if (!json_is_object(jt)) return field_error(err, path, (snprintf(field, sizeof field, "terms[%d]", i), field),
                                              "expected an object");
  mpl_readout_term *t = push_term(r);
  if (!t) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  int rc = get_string(jt, "name", 0, path, where, &t->name, err);
  if (rc == 0 && !t->name[0]) rc = field_error(err, path, (snprintf(field, sizeof field, "%sname", where), field), "empty");
  if (rc == 0) rc = get_string(jt, "source", 1, path, where, &t->source, err);
  if (rc == 0) rc = get_string(jt, "description", 1, path, where, &t->description, err);
  json_t *th = json_object_get(jt, "theta"), *f = json_object_get(jt, "formula");
  snprintf(field, sizeof field, "%stheta", where);
  if (rc == 0 && !json_is_number(th)) rc = field_error(err, path, field, th ? "expected a number" : "missing");
  if (rc == 0 && !isfinite(t->theta = json_number_value(th))) rc = field_error(err, path, field, "not finite");
  t->theta_final = t->scale = NAN;
  static const char *const opt[] = {"theta_final", "scale"};
  for (int k = 0; rc == 0 && k < 2; k++) {
    json_t *v = json_object_get(jt, opt[k]);
    snprintf(field, sizeof field, "%s%s", where, opt[k]);
    if (v && (!json_is_number(v) || !isfinite(json_number_value(v)) || (k == 1 && !(json_number_value(v) > 0))))
      rc = field_error(err, path, field, k ? "expected a finite number > 0" : "expected a finite number");
    else if (v) *(k ? &t->scale : &t->theta_final) = json_number_value(v);
  }
  snprintf(field, sizeof field, "%sformula", where);
  if (rc == 0 && !json_is_object(f)) rc = field_error(err, path, field, f ? "expected an object" : "missing");
  snprintf(field, sizeof field, "%sformula.", where);
  if (rc == 0) rc = get_string(f, "text", 0, path, field, &t->text, err);
  if (rc == 0) rc = get_string(f, "latex", 1, path, field, &t->latex, err);
  json_t *code = rc == 0 ? json_object_get(f, "code") : NULL;
  if (rc == 0 && code && !json_is_null(code)) rc = get_string(f, "code", 0, path, field, &t->code, err);
  json_t *native = json_object_get(jt, "native");
  if (rc == 0 && native && json_is_true(native) != !t->code)
    rc = field_error(err, path, (snprintf(field, sizeof field, "%snative", where), field),
                     t->code ? "true, but the term has a code formula" : "false, but formula.code is null");
  if (rc == 0 && !t->code && !t->source[0])
    rc = field_error(err, path, (snprintf(field, sizeof field, "%ssource", where), field),
                     "a native term (formula.code null) needs the plugin it comes from");
  return rc;
}

static int load_json_config(json_t *cfg, const char *path, mpl_readout *r, mpl_err *err) {
  const char *key;
  json_t *v;
  if (!cfg) return MPL_OK;
  if (!json_is_object(cfg)) return field_error(err, path, "config", "expected an object");
  json_object_foreach(cfg, key, v) {
    char buf[64], field[300];
    const char *s = buf;
    if (json_is_string(v)) s = json_string_value(v);
    else if (json_is_integer(v)) snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_boolean(v)) snprintf(buf, sizeof buf, "%d", json_is_true(v));
    else return field_error(err, path, (snprintf(field, sizeof field, "config.%s", key), field),
                            "expected a string, number or boolean");
    if (push_config(r, key, s)) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  return MPL_OK;
}

static int load_json_doc(json_t *doc, const char *path, mpl_readout *r, mpl_err *err) {
  if (!json_is_object(doc)) return field_error(err, path, "(top level)", "expected an object");
  json_t *fmt = json_object_get(doc, "format"), *ver = json_object_get(doc, "version");
  json_t *tol = json_object_get(doc, "zero_tol"), *terms = json_object_get(doc, "terms");
  if (!json_is_string(fmt) || strcmp(json_string_value(fmt), RULE_FORMAT))
    return field_error(err, path, "format", "expected \"" RULE_FORMAT "\"");
  if (!json_is_integer(ver) || json_integer_value(ver) != RULE_VERSION)
    return field_error(err, path, "version", "expected 1 (the only version this build reads)");
  if (tol && (!json_is_number(tol) || !(json_number_value(tol) >= 0)))
    return field_error(err, path, "zero_tol", "expected a number >= 0");
  r->zero_tol = tol ? json_number_value(tol) : 0;
  if (!json_is_array(terms) || json_array_size(terms) == 0)
    return field_error(err, path, "terms", terms ? "expected a non-empty array" : "missing");
  for (size_t i = 0; i < json_array_size(terms); i++) {
    int rc = load_json_term(json_array_get(terms, i), (int)i, path, r, err);
    if (rc) return rc;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(r->terms[j].name, r->terms[i].name)) {
        char field[64];
        snprintf(field, sizeof field, "terms[%zu].name", i);
        return field_error(err, path, field, "a second term of that name");
      }
  }
  json_t *h = json_object_get(doc, "health"), *ht = h ? json_object_get(h, "text") : NULL;
  if (h && (!json_is_object(h) || !json_is_string(ht) || !json_is_boolean(json_object_get(h, "healthy"))))
    return field_error(err, path, "health", "expected an object with a boolean 'healthy' and a string 'text'");
  if (h && !(r->health = mpl__strdup(json_string_value(ht)))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (h) r->healthy = json_is_true(json_object_get(h, "healthy"));
  json_t *ep = h ? json_object_get(h, "episode") : NULL;
  r->episode = json_is_integer(ep) ? (int)json_integer_value(ep) : -1;
  int rc = mpl__readout_sources_load(json_object_get(doc, "sources"), path, r, err);
  if (rc < 0) return rc;
  return load_json_config(json_object_get(doc, "config"), path, r, err);
}

static int load_json(const char *path, mpl_readout *r, mpl_err *err) {
  json_error_t je;
  json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!doc) {
    if (je.line <= 0) return mpl_errorf(err, MPL_EIO, "%s: %s", path, je.text);
    return mpl_errorf(err, MPL_EFORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
  }
  int rc = load_json_doc(doc, path, r, err);
  json_decref(doc);
  return rc;
}

/* }====== */

/* {====== Loading: theta.tsv and config.txt (results directories without rule.json) ====== */

/* A whole file (malloc'ed), or NULL. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *s = malloc(cap);
  for (size_t k; s && (k = fread(s + n, 1, cap - n - 1, f)) > 0;) {
    n += k;
    if (n + 1 == cap) {
      char *t = realloc(s, cap *= 2);
      if (!t) free(s);
      s = t;
    }
  }
  if (s) s[n] = '\0';
  fclose(f);
  return s;
}

/* Split a line at tabs into at most n fields (in place). */
static int split_tabs(char *line, char **f, int n) {
  int k = 0;
  line[strcspn(line, "\r\n")] = '\0';
  for (char *p = line; k < n;) {
    f[k++] = p;
    char *t = strchr(p, '\t');
    if (!t) break;
    *t = '\0';
    p = t + 1;
  }
  return k;
}

/* Sources, descriptions and nativeness from the run's own --terms (when its plugins load). */
static void recover_sources(mpl_readout *r) {
  const char *spec = mpl_readout_config(r, "terms");
  mpl_termset *ts = spec ? mpl_termset_new() : NULL;
  mpl_selection sel = {0};
  if (ts && mpl_terms_parse(spec, ts, &sel, NULL) == 0) {
    for (int i = 0; i < r->n_terms; i++) {
      mpl_readout_term *t = &r->terms[i];
      for (int j = 0; j < sel.n; j++) {
        int k = sel.which[j];
        if (strcmp(mpl_termset_name(ts, k), t->name)) continue;
        char *src = mpl__strdup(mpl_termset_source(ts, k)), *desc = mpl__strdup(mpl_termset_description(ts, k));
        if (src && desc) free(t->source), free(t->description), t->source = src, t->description = desc;
        else free(src), free(desc);
        if (mpl_termset_is_native(ts, k)) free(t->code), t->code = NULL;
      }
    }
  }
  mpl_selection_free(&sel);
  mpl_termset_free(ts);
}

static int load_tsv_line(char *line, const char *path, int lineno, mpl_readout *r, mpl_err *err) {
  char *fld[5], *end;
  int nf = split_tabs(line, fld, 5);
  if (nf < 3) return mpl_errorf(err, MPL_EFORMAT, "%s:%d: expected name, theta, formula", path, lineno);
  errno = 0;
  double th = strtod(fld[1], &end);
  if (end == fld[1] || *end || !isfinite(th))
    return mpl_errorf(err, MPL_EFORMAT, "%s:%d: theta '%s' is not a number", path, lineno, fld[1]);
  mpl_readout_term *t = push_term(r);
  if (!t) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  t->name = mpl__strdup(fld[0]), t->source = mpl__strdup(""), t->description = mpl__strdup("");
  t->text = mpl__strdup(fld[2]), t->latex = mpl__strdup(nf > 3 ? fld[3] : fld[2]);
  t->code = nf > 4 ? mpl__strdup(fld[4]) : NULL;
  t->theta = th;
  return term_complete(t) && (nf <= 4 || t->code) ? MPL_OK : mpl_errorf(err, MPL_ENOMEM, "out of memory");
}

static int load_dir_tsv(const char *dir, mpl_readout *r, mpl_err *err) {
  char path[4200], cpath[4200];
  mpl__join(path, sizeof path, dir, MPL_RESULTS_THETA);
  mpl__join(cpath, sizeof cpath, dir, MPL_RESULTS_CONFIG);
  char *text = slurp(path), *config = slurp(cpath);
  int rc = MPL_OK, lineno = 0;
  char trial[4200];
  mpl__join(trial, sizeof trial, dir, "trial-001");
  if (!text && access(trial, F_OK) == 0)
    rc = mpl_errorf(err, MPL_ENOTFOUND, "%s holds several trials (summary.md); report one of them, e.g. %s", dir, trial);
  else if (!text)
    rc = mpl_errorf(err, MPL_ENOTFOUND, "%s: cannot open: %s (is %s a metaplast results directory?)", path,
                    strerror(errno), dir);
  else if (config && parse_config_text(r, config)) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (char *p = text, *nl; rc == 0 && p && *p; p = nl ? nl + 1 : p + strlen(p)) {
    nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    if (++lineno > 1 && *p) rc = load_tsv_line(p, path, lineno, r, err);
  }
  if (rc == 0 && r->n_terms == 0) rc = mpl_errorf(err, MPL_EFORMAT, "%s: no terms", path);
  if (rc == 0) {
    const char *tol = mpl_readout_config(r, "zero_tol");
    r->zero_tol = tol ? strtod(tol, NULL) : 0;
    if (!(r->zero_tol >= 0)) r->zero_tol = 0;
    recover_sources(r);
  }
  free(text), free(config);
  return rc;
}

/* A trials directory (DIR/terms.csv and DIR/trial-001/): the consensus rule, each term's theta
 * the mean over the trials (zeros included), its description extended with its survival
 * frequency and the 98% bootstrap interval of terms.csv; the terms themselves and the
 * configuration come from trial-001. */
static int load_trials(const char *dir, mpl_readout *r, mpl_err *err) {
  char path[4200], trial[4200];
  mpl__join(path, sizeof path, dir, MPL_RESULTS_TERMS_CSV);
  mpl__join(trial, sizeof trial, dir, "trial-001");
  char *text = slurp(path);
  if (!text)
    return mpl_errorf(err, MPL_ENOTFOUND, "%s holds trials but no %s (is the run finished?): report one trial, e.g. %s",
                      dir, path, trial);
  int rc = mpl_readout_load(trial, r, err), lineno = 0, matched = 0, ntrials = 0;
  for (char *p = text, *nl; rc == 0 && *p; p = nl ? nl + 1 : p + strlen(p)) {
    nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    if (++lineno == 1 || !*p) continue; /* header: term,survival,survived,trials,theta_mean,theta_lo,theta_hi,formula */
    char *f[7];
    int k = 0;
    for (char *q = p; k < 7; k++) {
      f[k] = q;
      char *c = strchr(q, ',');
      if (!c) { k++; break; }
      *c = '\0';
      q = c + 1;
    }
    char *end;
    double mean = k >= 7 ? strtod(f[4], &end) : NAN;
    if (k < 7 || !isfinite(mean)) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: expected term,survival,survived,trials,theta_mean,theta_lo,theta_hi,formula", path, lineno); break; }
    for (int i = 0; i < r->n_terms; i++) {
      mpl_readout_term *t = &r->terms[i];
      if (strcmp(t->name, f[0]) != 0) continue;
      char note[512];
      snprintf(note, sizeof note, "%s%ssurvived in %s of %s trials; theta is the mean over trials, 98%% interval [%.4g, %.4g]",
               t->description, *t->description ? "; " : "", f[2], f[3], strtod(f[5], NULL), strtod(f[6], NULL));
      char *d = mpl__strdup(note);
      if (!d) { rc = mpl_errorf(err, MPL_ENOMEM, "out of memory"); break; }
      free(t->description);
      t->description = d;
      t->theta = mean;
      ntrials = atoi(f[3]);
      matched++;
    }
  }
  free(text);
  if (rc == 0 && matched != r->n_terms)
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: %d of %s's %d terms are listed", path, matched, trial, r->n_terms);
  char nt[32];
  snprintf(nt, sizeof nt, "%d", ntrials);
  if (rc == 0 && (push_config(r, "trials", nt) || push_config(r, "rule", "mean theta over the trials (zeros included)")))
    rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  return rc;
}

int mpl_readout_load(const char *path, mpl_readout *r, mpl_err *err) {
  struct stat st;
  memset(r, 0, sizeof *r);
  if (!path || stat(path, &st) != 0)
    return mpl_errorf(err, MPL_ENOTFOUND, "%s: cannot open: %s (expected a metaplast results directory or a JSON rule)",
                      path ? path : "(null)", strerror(errno));
  int rc;
  if (S_ISDIR(st.st_mode)) {
    char json[4200];
    mpl__join(json, sizeof json, path, MPL_RESULTS_RULE_JSON);
    char tsv[4200], trial[4200];
    mpl__join(tsv, sizeof tsv, path, MPL_RESULTS_THETA);
    mpl__join(trial, sizeof trial, path, "trial-001");
    if (access(json, F_OK) == 0) rc = load_json(json, r, err);
    else if (access(tsv, F_OK) != 0 && access(trial, F_OK) == 0) rc = load_trials(path, r, err);
    else rc = load_dir_tsv(path, r, err);
  } else {
    rc = load_json(path, r, err);
  }
  if (rc < 0) mpl_readout_free(r);
  return rc;
}

/* }====== */

/* {====== A fixed rule ====== */

/* Term t rebuilt from its code formula into ts; returns its index. */
static int build_code_term(const mpl_readout_term *t, mpl_termset *ts, mpl_err *err) {
  mpl_expr *e = mpl_expr_parse(ts, t->code, err);
  if (!e) return mpl_err_prefix(err, "term %s: formula.code: ", t->name);
  ts->source = t->source;
  int rc = mpl_termset_add(ts, t->name, t->description, e, err);
  ts->source = NULL;
  return rc < 0 ? mpl_err_prefix(err, "term %s: ", t->name) : mpl_termset_count(ts) - 1;
}

/* Native term t from its plugin, found again (mpl__readout_locate); returns its index in ts. */
static int build_native_term(const mpl_readout *r, const mpl_readout_term *t, mpl_termset *ts, mpl_err *err) {
  size_t n = strlen(t->source) + strlen(t->name) + 2;
  char *spec = malloc(n), path[4096];
  if (!spec) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  snprintf(spec, n, "%s:%s", t->source, t->name);
  mpl_selection one = {0};
  int rc = mpl__readout_locate(r, t->source, path, sizeof path, NULL, err);
  if (rc == 0) rc = mpl__terms_parse_at(spec, path, ts, &one, err);
  free(spec);
  if (rc < 0) return mpl_err_prefix(err, "native term %s (source %s): ", t->name, t->source);
  int idx = one.which[0];
  mpl_selection_free(&one);
  return idx;
}

/* A term's recorded source, loaded whole once for the identity check (checking). rc: the load's
 * status, MPL_ENOTFOUND for a source this installation does not have; msg its error. */
typedef struct checked_source {
  const char *name;
  mpl_termset *ts;
  int rc;
  char msg[sizeof ((mpl_err *)0)->msg];
  mpl__source_check chk; /* its content against the rule's record */
} checked_source;

static checked_source *source_of(const mpl_readout *r, checked_source *cs, int *n, const char *name) {
  for (int i = 0; i < *n; i++)
    if (!strcmp(cs[i].name, name)) return &cs[i];
  checked_source *c = &cs[(*n)++];
  c->name = name;
  mpl_err e = {0};
  mpl_selection all = {0};
  char path[4096];
  if (!(c->ts = mpl_termset_new())) c->rc = mpl_errorf(&e, MPL_ENOMEM, "out of memory");
  else if ((c->rc = mpl__readout_locate(r, name, path, sizeof path, &c->chk, &e)) == 0)
    c->rc = mpl__terms_parse_at(name, path, c->ts, &all, &e);
  mpl_selection_free(&all);
  snprintf(c->msg, sizeof c->msg, "%s", e.msg);
  return c;
}

static int source_of_known(const checked_source *cs, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(cs[i].name, name)) return 1;
  return 0;
}

static void note_add(char *notes, size_t n, const char *fmt, ...) MPL_PRINTF(3, 4);
static void note_add(char *notes, size_t n, const char *fmt, ...) {
  if (!notes || !n) return;
  size_t k = strlen(notes);
  if (k && k + 2 < n) notes[k++] = '\n', notes[k] = '\0';
  va_list ap;
  va_start(ap, fmt);
  if (k < n) vsnprintf(notes + k, n - k, fmt, ap);
  va_end(ap);
}

/* Term t (index idx in ts, built from its stored formula or its plugin) against its recorded
 * source: a source this installation has must hold a term of that name with the same formula
 * (printed in one format from both, so spelling does not count); a source it does not have, or
 * none recorded, leaves the stored formula in use, with a note. */
static int check_identity(const mpl_readout *r, const mpl_readout_term *t, const mpl_termset *ts, int idx,
                          checked_source *cs, int *ncs, char *notes, size_t nn, mpl_err *err) {
  if (!t->source[0]) {
    note_add(notes, nn, "term %s records no source: evaluated from its stored formula", t->name);
    return MPL_OK;
  }
  int fresh = !source_of_known(cs, *ncs, t->source);
  checked_source *c = source_of(r, cs, ncs, t->source);
  if (c->rc == MPL_ENOTFOUND) {
    note_add(notes, nn, "term %s: its source %s is not installed here: evaluated from its stored formula (%s) (%s)",
             t->name, t->source, t->code, c->msg);
    return MPL_OK;
  }
  if (fresh && c->rc == 0 && c->chk.changed) note_add(notes, nn, "%s", c->chk.note);
  if (c->rc < 0)
    return mpl_errorf(err, c->rc, "term %s: its source %s does not load, so the term cannot be checked: %s", t->name,
                      t->source, c->msg);
  int j = mpl_termset_find(c->ts, t->name);
  if (j < 0) {
    char names[512] = "";
    for (int i = 0, k = 0; i < mpl_termset_count(c->ts) && k < (int)sizeof names - 1; i++)
      k += snprintf(names + k, sizeof names - (size_t)k, "%s%s", i ? ", " : "", mpl_termset_name(c->ts, i));
    return mpl_errorf(err, MPL_EFORMAT, "term %s: its source %s has no term %s (it has %s): renamed? a term keeps "
                      "its source's name (a formula of your own: give it the source \"\")", t->name, t->source,
                      t->name, names);
  }
  char *mine = print_term(ts, idx, MPL_FMT_CODE), *theirs = print_term(c->ts, j, MPL_FMT_CODE);
  int rc = !mine || !theirs ? mpl_errorf(err, MPL_ENOMEM, "out of memory") : MPL_OK;
  if (rc == 0 && mpl_termset_is_native(c->ts, j) != !t->code)
    rc = mpl_errorf(err, MPL_EFORMAT, "term %s: the rule records it as %s, but %s's %s is %s", t->name,
                    t->code ? "a formula" : "native", t->source, t->name, t->code ? "native" : "a formula");
  else if (rc == 0 && strcmp(mine, theirs))
    rc = mpl_errorf(err, MPL_EFORMAT, "term %s: the stored formula %s is not %s's %s, which is %s (the rule was "
                    "edited or the source changed; a formula of your own: give it the source \"\")", t->name,
                    t->code ? t->code : mine, t->source, t->name, theirs);
  free(mine), free(theirs);
  return rc;
}

int mpl__readout_build(const mpl_readout *r, mpl_termset *ts, mpl_selection *sel, char *notes, size_t nn,
                       int *changed, mpl_err *err) {
  memset(sel, 0, sizeof *sel);
  if (notes && nn) notes[0] = '\0';
  int n = r->n_terms, ncs = 0;
  sel->which = calloc((size_t)n + 1, sizeof *sel->which);
  sel->theta0 = calloc((size_t)n + 1, sizeof *sel->theta0);
  sel->sign = calloc((size_t)n + 1, sizeof *sel->sign);
  checked_source *cs = calloc((size_t)n + 1, sizeof *cs);
  int rc = sel->which && sel->theta0 && sel->sign && cs ? MPL_OK : mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (int i = 0; rc == 0 && i < n; i++) {
    const mpl_readout_term *t = &r->terms[i];
    int idx = t->code ? build_code_term(t, ts, err) : build_native_term(r, t, ts, err);
    if (idx < 0) { rc = idx; break; }
    if ((rc = check_identity(r, t, ts, idx, cs, &ncs, notes, nn, err)) < 0) break;
    sel->which[i] = idx;
    sel->theta0[i] = t->theta;
    sel->n = i + 1;
  }
  for (int i = 0; cs && i < ncs; i++) {
    if (changed) *changed += cs[i].rc == 0 && cs[i].chk.changed;
    mpl_termset_free(cs[i].ts);
  }
  free(cs);
  if (rc < 0) mpl_selection_free(sel);
  return rc;
}

int mpl_readout_build_noted(const mpl_readout *r, mpl_termset *ts, mpl_selection *sel, char *notes, size_t nn,
                            mpl_err *err) {
  return mpl__readout_build(r, ts, sel, notes, nn, NULL, err);
}

int mpl_readout_build(const mpl_readout *r, mpl_termset *ts, mpl_selection *sel, mpl_err *err) {
  return mpl_readout_build_noted(r, ts, sel, NULL, 0, err);
}

/* }====== */

/* {====== Printing a results directory ====== */

int mpl_report_print(const char *path, mpl_report_format fmt, double tol, FILE *f, mpl_err *err) {
  mpl_readout r;
  int rc = mpl_readout_load(path, &r, err);
  if (rc < 0) return rc;
  if (tol >= 0) r.zero_tol = tol;
  char *text = mpl_readout_format(&r, fmt, err);
  if (!text) rc = err ? err->code : MPL_ENOMEM;
  else if (fputs(text, f) < 0) rc = mpl_errorf(err, MPL_EIO, "cannot write the report: %s", strerror(errno));
  free(text);
  mpl_readout_free(&r);
  return rc;
}

int mpl_report(const char *dir, FILE *out, mpl_err *err) {
  return mpl_report_print(dir, MPL_REPORT_TEXT, -1, out, err);
}

int mpl_report_write_json(const char *dir, const mpl_termset *ts, const int *which, const double *theta, int n,
                          mpl_err *err) {
  return mpl_report_write_run(dir, ts, which, theta, NULL, NULL, n, NULL, 0, -1, err);
}

int mpl_report_write_run(const char *dir, const mpl_termset *ts, const int *which, const double *theta,
                         const double *theta_final, const double *scale, int n, const char *health, int healthy,
                         int episode, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, dir, MPL_RESULTS_CONFIG);
  char *config = slurp(path);
  mpl_readout r;
  int rc = mpl_readout_from_terms(ts, which, theta, n, 0, config, &r, err);
  free(config);
  if (rc < 0) return rc;
  const char *tol = mpl_readout_config(&r, "zero_tol");
  r.zero_tol = tol && strtod(tol, NULL) > 0 ? strtod(tol, NULL) : 0;
  for (int i = 0; i < n; i++) {
    if (theta_final) r.terms[i].theta_final = theta_final[i];
    if (scale) r.terms[i].scale = scale[i];
  }
  if (health && !(r.health = mpl__strdup(health))) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  r.healthy = healthy;
  r.episode = episode;
  char *text = mpl_readout_format(&r, MPL_REPORT_JSON, err);
  rc = text ? mpl__write_atomic(dir, MPL_RESULTS_RULE_JSON, text, err) : err ? err->code : MPL_ENOMEM;
  free(text);
  mpl_readout_free(&r);
  return rc;
}

/* }====== */
