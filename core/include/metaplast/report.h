/* metaplast: reading out a discovered rule. A rule read-out (mpl_readout) is the rule as a
 * scientist reads it and as a program reloads it: every term with its name, source,
 * description, formulas (text, LaTeX, code) and coefficient θ, the tolerance that decides which
 * terms survive, and the configuration of the run that found it. It prints as text, LaTeX,
 * Markdown or JSON, and it rebuilds into a fixed rule (a term set and a selection with θ).
 *
 * Sign convention, stated once: ΔW = Σ_r θ_r F_r is ADDED to W (W ← W + ΔW) at every online
 * step, in every layer ℓ; a positive θ applies its term as written. A term survives when
 * |θ| > zero_tol; with zero_tol = 0 (proximal L1, the default) only an exact zero is gone.
 *
 * Example:
 *   mpl_readout r;
 *   if (mpl_readout_load("results/run1", &r, &err) < 0) ... err.msg names file, line, field ...
 *   char *tex = mpl_readout_format(&r, MPL_REPORT_LATEX, &err);  ... free(tex);
 *   mpl_readout_free(&r);
 * See LICENSE for copyright. */
#ifndef METAPLAST_REPORT_H
#define METAPLAST_REPORT_H

#include <stdio.h>

#include "metaplast/expr.h"
#include "metaplast/status.h"
#include "metaplast/terms.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPL_SIGN_CONVENTION "a positive θ applies its term as written; ΔW is added to W"

typedef enum mpl_report_format {
  MPL_REPORT_TEXT = 0,     /* rule.txt: the equation, the convention, a table of every term */
  MPL_REPORT_LATEX = 1,    /* an equation environment (needs amsmath), comments for the rest */
  MPL_REPORT_MARKDOWN = 2, /* the equation in $$...$$ and a table of every term */
  MPL_REPORT_JSON = 3      /* rule.json: machine-readable, loads back (mpl_readout_load) */
} mpl_report_format;

typedef struct mpl_readout_term {
  char *name;
  char *source;      /* plugin name or file, rule file, "" if unknown */
  char *description;
  char *text, *latex;/* formula in the paper's notation (Unicode) and in LaTeX */
  char *code;        /* the MPL_FMT_CODE form (mpl_expr_parse), NULL for a native term */
  double theta;
  double theta_final;/* the search's last iterate (NaN if not recorded; theta is the reported rule) */
  double scale;      /* theta = scale * standardized (NaN if not recorded; 1 in the plain method) */
} mpl_readout_term;

/* Where a term source was when the search loaded it (issue 25): enough to find it again after the
 * rule is moved, and to tell whether it changed since. */
typedef struct mpl_readout_source {
  char *spec;        /* the source as the search was given it ("my_terms.so", "paper", "rules/oja.lua") */
  char *kind;        /* "plugin" or "rules" */
  char *path;        /* its absolute path then */
  unsigned long crc32;  /* CRC-32 (zlib) of its content then */
  long long size;       /* its size in bytes then */
} mpl_readout_source;

typedef struct mpl_readout {
  int n_terms;
  mpl_readout_term *terms;
  double zero_tol;   /* |θ| <= zero_tol is gone (0: only exact zeros) */
  int n_config;      /* the run's configuration (config.txt), in order; values as text */
  char **keys, **values;
  char *health;      /* the search's verdict, lines "health: ..." and reasons (NULL if not recorded) */
  int healthy;       /* with health: 1 healthy, 0 not */
  int episode;       /* with health: the episode after which the reported θ was validated (-1: unknown) */
  int n_sources;     /* the term sources' records (rule.json "sources"; none in older rules) */
  mpl_readout_source *sources;
} mpl_readout;

/* Load a rule from a results directory (DIR/rule.json; or, for directories written before
 * rule.json existed, DIR/theta.tsv with DIR/config.txt, sources and descriptions recovered from
 * the run's --terms) or from a JSON rule file. Malformed JSON is MPL_EFORMAT naming the file
 * and the line and column (syntax) or the field ("terms[2].theta: expected a number").
 * Free with mpl_readout_free. */
MPL_API int mpl_readout_load(const char *path, mpl_readout *r, mpl_err *err);
MPL_API void mpl_readout_free(mpl_readout *r);

/* A read-out of terms which[0..n-1] of ts with coefficients theta (strings copied). Config:
 * the key/value pairs of config text "key = value" lines (may be NULL). */
MPL_API int mpl_readout_from_terms(const mpl_termset *ts, const int *which, const double *theta, int n,
                                   double zero_tol, const char *config_text, mpl_readout *r, mpl_err *err);

/* 1 if term i survives (|θ| > zero_tol). */
MPL_API int mpl_readout_survives(const mpl_readout *r, int i);
/* The configuration value of key, or NULL. */
MPL_API const char *mpl_readout_config(const mpl_readout *r, const char *key);

/* The rule in fmt (malloc'ed, NUL-terminated; free() it), or NULL with err set. */
MPL_API char *mpl_readout_format(const mpl_readout *r, mpl_report_format fmt, mpl_err *err);
/* "text", "latex", "markdown" (or "md"), "json" -> fmt; MPL_EINVAL otherwise. */
MPL_API int mpl_report_format_parse(const char *name, mpl_report_format *fmt);

/* Rebuild the rule as a FIXED rule in ts: each term from its code formula (mpl_expr_parse),
 * a native term by loading its recorded source (the plugin) and taking the term of that name.
 * sel receives the terms' indices in ts and theta0 = θ (free with mpl_selection_free).
 * Errors name the term and the field ("term F9: formula.code: column 12: ..."). */
MPL_API int mpl_readout_build(const mpl_readout *r, mpl_termset *ts, mpl_selection *sel, mpl_err *err);
/* The same, checking each term's identity against its recorded source (issue 23): a source this
 * installation has (plugin or rule file) must hold a term of the recorded name and the same
 * formula (compared as printed in code form from both), else MPL_EFORMAT naming the term, the
 * source and the mismatch (a term missing from it, the two formulas, native against formula); a
 * source that does not load is an error naming it. A term whose source is not installed here
 * (MPL_ENOTFOUND), or that records none (""), is built from its stored formula and a line saying
 * so is added to notes (n bytes, lines separated by newlines; may be NULL). mpl_readout_build
 * makes the same checks and drops the notes. */
MPL_API int mpl_readout_build_noted(const mpl_readout *r, mpl_termset *ts, mpl_selection *sel, char *notes, size_t n,
                                    mpl_err *err);

/* Print a results directory's rule (mpl_readout_load) in fmt to f; tol < 0 keeps the rule's own
 * zero_tol, tol >= 0 replaces it. */
/* Write DIR/rule.json for terms which[0..n-1] of ts with coefficients theta, with the run's
 * configuration and zero tolerance read from DIR/config.txt (a search calls this last). */
MPL_API int mpl_report_write_json(const char *dir, const mpl_termset *ts, const int *which, const double *theta,
                                  int n, mpl_err *err);
/* The same with the last iterate, the scales (theta = scale * standardized) and the verdict
 * (health text, healthy, the episode the reported theta is from) recorded beside the reported
 * theta; theta_final, scale and health may be NULL. */
MPL_API int mpl_report_write_run(const char *dir, const mpl_termset *ts, const int *which, const double *theta,
                                 const double *theta_final, const double *scale, int n, const char *health,
                                 int healthy, int episode, mpl_err *err);

/* Replace every term's θ with the search's last iterate (where rule.json recorded it) and drop
 * the verdict, which was given on the reported rule: `report --final`, `eval --final`.
 * MPL_ENOTFOUND if the rule records no last iterate. */
MPL_API int mpl_readout_use_final(mpl_readout *r, mpl_err *err);

MPL_API int mpl_report_print(const char *path, mpl_report_format fmt, double tol, FILE *f, mpl_err *err);

/* The rule as one equation over the surviving terms (|theta| > tol), e.g.
 * "ΔW = 0.0021 (−e_ℓ y_{ℓ−1}ᵀ) + 0.0005 (y_ℓ y_{ℓ−1}ᵀ − y_ℓ y_ℓᵀ W)". Returns the needed length. */
MPL_API size_t mpl_equation(char *const *names, char *const *formulas, const double *theta, int n,
                            double tol, char *buf, size_t len);

/* Print the rule saved in a results directory (its theta.tsv and config.txt) to f. */
MPL_API int mpl_report(const char *dir, FILE *f, mpl_err *err);

#ifdef __cplusplus
}
#endif
#endif
