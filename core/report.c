/* metaplast: the discovered rule as text, and reading a results directory back.
 * See LICENSE for copyright. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/search.h"

#include "internal.h"


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

size_t mpl__rule_text(const mpl_search_result *r, const mpl_search_cfg *cfg, char *buf, size_t len) {
  mpl__sb s = {buf, len, 0};
  char eq[8192];
  double tol = cfg ? cfg->zero_tol : 0;
  mpl_equation(r->names, r->formulas, r->theta, r->n_terms, tol, eq, sizeof eq);
  mpl__sb_printf(&s, "%s\n\n", eq);
  mpl__sb_printf(&s, "Shared by every layer ℓ; W = W_{ℓ−1,ℓ}; a positive θ applies its term as written.\n");
  if (tol == 0) mpl__sb_printf(&s, "Terms whose θ is exactly 0 are dropped.\n\n");
  else mpl__sb_printf(&s, "Terms with |θ| <= %g (--zero-tol) are dropped.\n\n", tol);
  mpl__sb_printf(&s, "%-8s %14s  %s\n", "term", "theta", "formula");
  for (int i = 0; i < r->n_terms; i++)
    mpl__sb_printf(&s, "%-8s %14.6g  %s%s\n", r->names[i], r->theta[i], r->formulas[i],
              fabs(r->theta[i]) > tol ? "" : "   (zero)");
  return s.len;
}



/* Split a line at tabs into at most n fields (in place). */
static int split_tabs(char *line, char **f, int n) {
  int k = 0;
  line[strcspn(line, "\r\n")] = '\0';
  for (char *p = line; k < n; ) {
    f[k++] = p;
    char *t = strchr(p, '\t');
    if (!t) break;
    *t = '\0';
    p = t + 1;
  }
  return k;
}

static double config_number(const char *dir, const char *key, double dflt) {
  char path[4200], line[1024];
  mpl__join(path, sizeof path, dir, "config.txt");
  FILE *f = fopen(path, "r");
  double v = dflt;
  if (!f) return v;
  size_t k = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, k) == 0 && strncmp(line + k, " = ", 3) == 0) v = strtod(line + k + 3, NULL);
  fclose(f);
  return v;
}

int mpl_report(const char *dir, FILE *out, mpl_err *err) {
  char path[4200], line[16384];
  mpl__join(path, sizeof path, dir, "theta.tsv");
  FILE *f = fopen(path, "r");
  if (!f) return mpl_errorf(err, MPL_ENOTFOUND, "%s: cannot open: %s (is %s a metaplast results directory?)",
                            path, strerror(errno), dir);
  mpl_search_result r = {0};
  int rc = MPL_OK, lineno = 0, cap = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    char *fld[5];
    if (++lineno == 1) continue; /* header */
    if (split_tabs(line, fld, 5) < 3) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: expected name, theta, formula", path, lineno); break; }
    char *end;
    double th = strtod(fld[1], &end);
    if (end == fld[1] || *end) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: theta '%s' is not a number", path, lineno, fld[1]); break; }
    if (r.n_terms == cap) {
      cap = cap ? 2 * cap : 16;
      char **a = realloc(r.names, (size_t)cap * sizeof *a), **b = a ? realloc(r.formulas, (size_t)cap * sizeof *b) : NULL;
      double *c = b ? realloc(r.theta, (size_t)cap * sizeof *c) : NULL;
      if (a) r.names = a;
      if (b) r.formulas = b;
      if (c) r.theta = c;
      if (!a || !b || !c) { rc = mpl_errorf(err, MPL_ENOMEM, "out of memory"); break; }
    }
    r.names[r.n_terms] = mpl__strdup(fld[0]);
    r.formulas[r.n_terms] = mpl__strdup(fld[2]);
    r.theta[r.n_terms++] = th;
  }
  fclose(f);
  if (rc == 0 && r.n_terms == 0) rc = mpl_errorf(err, MPL_EFORMAT, "%s: no terms", path);
  if (rc == 0) {
    mpl_search_cfg c;
    mpl_search_defaults(&c);
    c.zero_tol = config_number(dir, "zero_tol", 0);
    char text[65536];
    mpl__rule_text(&r, &c, text, sizeof text);
    fputs(text, out);
  }
  mpl_search_result_free(&r);
  return rc;
}
