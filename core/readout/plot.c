/* metaplast: figures of results directories. The data are read here (log.csv, summary.csv,
 * path.csv), averaged and smoothed, written as plain data files beside a gnuplot script, and
 * gnuplot runs as a child process (posix_spawnp, no shell). See LICENSE for copyright. */
#include "metaplast/plot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metaplast/trials.h"
#include "metaplast/results.h"

#include "util.h"

extern char **environ;

void mpl_plot_defaults(mpl_plot_cfg *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->formats = "png,pdf";
  cfg->window = MPL_PLOT_WINDOW;
  cfg->gnuplot = "gnuplot";
}

/* {====== CSV tables (numbers; a field that is not one is NaN) ====== */

typedef struct table {
  int rows, cols, cap;
  char **names;
  double *v;   /* v[r * cols + c] */
} table;

static void table_free(table *t) {
  for (int c = 0; t->names && c < t->cols; c++) free(t->names[c]);
  free(t->names), free(t->v);
  memset(t, 0, sizeof *t);
}

static int table_col(const table *t, const char *name) {
  for (int c = 0; c < t->cols; c++)
    if (!strcmp(t->names[c], name)) return c;
  return -1;
}

static double table_at(const table *t, int r, int c) { return c < 0 ? NAN : t->v[(size_t)r * (size_t)t->cols + (size_t)c]; }

static int split_header(char *line, table *t) {
  t->cols = 1;
  for (char *p = line; *p; p++) t->cols += *p == ',';
  if (!(t->names = calloc((size_t)t->cols, sizeof *t->names))) return MPL_ENOMEM;
  char *p = line;
  for (int c = 0; c < t->cols; c++) {
    size_t k = strcspn(p, ",");
    p[k] = '\0';
    if (!(t->names[c] = mpl__strdup(p))) return MPL_ENOMEM;
    p += k + 1;
  }
  return MPL_OK;
}

/* log.csv's status words as numbers (the figures mark failed episodes); any other text is NaN. */
enum { ST_OK = 0, ST_DIVERGED = 1, ST_DEAD = 2 };
static double status_code(const char *s) {
  return !strcmp(s, "ok") ? ST_OK : !strcmp(s, "diverged") ? ST_DIVERGED : !strcmp(s, "dead") ? ST_DEAD : NAN;
}

static int add_row(char *line, table *t) {
  if (t->rows == t->cap) {
    int cap = t->cap ? 2 * t->cap : 256;
    double *v = realloc(t->v, (size_t)cap * (size_t)t->cols * sizeof *v);
    if (!v) return MPL_ENOMEM;
    t->v = v, t->cap = cap;
  }
  double *row = t->v + (size_t)t->rows++ * (size_t)t->cols;
  char *p = line;
  for (int c = 0; c < t->cols; c++) {
    size_t k = strcspn(p, ",");
    char save = p[k], *end;
    p[k] = '\0';
    row[c] = strtod(p, &end);
    if (end == p || *end) row[c] = status_code(p);
    p[k] = save;
    p += k + (save != '\0');
  }
  return MPL_OK;
}

static int table_read(const char *path, table *t, mpl_err *err) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "r");
  if (!f) return mpl_errorf(err, MPL_EIO, "%s: cannot open: %s", path, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t k;
  int rc = MPL_OK;
  while (rc == 0 && (k = getline(&line, &cap, f)) > 0) {
    while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r')) line[--k] = '\0';
    if (k == 0) continue;
    rc = t->names ? add_row(line, t) : split_header(line, t);
  }
  free(line);
  fclose(f);
  if (rc == 0 && !t->names) rc = mpl_errorf(err, MPL_EFORMAT, "%s: empty file", path);
  else if (rc < 0) rc = mpl_errorf(err, rc, "%s: out of memory", path);
  if (rc < 0) table_free(t);
  return rc;
}

/* }====== */

/* {====== Runs ====== */

enum { MAX_RUNS = 64, MAX_SERIES = 256 };

typedef struct prun {
  char label[256];
  char dir[4200];
  int n_trials;          /* 0: a single search */
  table log;             /* log.csv, or the cell-wise mean of the trials' logs */
  table sum;             /* a trials directory's summary.csv */
} prun;

static int is_file(const char *dir, const char *name) {
  char p[4200];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int trial_dir(const struct dirent *d) { return !strncmp(d->d_name, "trial-", 6); }

/* Add the trial log t into the running sums (mean later); NaN cells skipped. */
static int accumulate(table *sum, table *cnt, table *t, const char *path, mpl_err *err) {
  if (!sum->names) {
    *sum = *t;
    memset(t, 0, sizeof *t);   /* moved into sum */
    cnt->rows = sum->rows, cnt->cols = sum->cols;
    if (!(cnt->v = calloc((size_t)sum->rows * (size_t)sum->cols, sizeof *cnt->v))) return MPL_ENOMEM;
    for (size_t i = 0; i < (size_t)sum->rows * (size_t)sum->cols; i++)
      if (isnan(sum->v[i])) sum->v[i] = 0; else cnt->v[i] = 1;
    return MPL_OK;
  }
  if (t->cols != sum->cols) return mpl_errorf(err, MPL_EFORMAT, "%s: %d columns, the first trial has %d", path, t->cols, sum->cols);
  if (t->rows < sum->rows) sum->rows = cnt->rows = t->rows;   /* a shorter trial: the common episodes */
  for (int r = 0; r < sum->rows; r++)
    for (int c = 0; c < sum->cols; c++) {
      double x = table_at(t, r, c);
      if (!isnan(x)) sum->v[(size_t)r * (size_t)sum->cols + (size_t)c] += x, cnt->v[(size_t)r * (size_t)sum->cols + (size_t)c]++;
    }
  return MPL_OK;
}

/* The cell-wise mean of the logs (dir/trial-NNN/log.csv) of the trials that finished (as many
 * episodes as summary.csv has rows): the trials the summary covers. */
static int mean_log(const char *dir, prun *R, mpl_err *err) {
  struct dirent **ents;
  int n = scandir(dir, &ents, trial_dir, alphasort), rc = MPL_OK;
  if (n < 0) return mpl_errorf(err, MPL_EIO, "%s: cannot list: %s", dir, strerror(errno));
  table cnt = {0};
  for (int i = 0; i < n; i++) {
    char p[4200];
    table t;
    snprintf(p, sizeof p, "%s/%s/" MPL_RESULTS_LOG, dir, ents[i]->d_name);
    if (rc == 0 && access(p, R_OK) == 0 && (rc = table_read(p, &t, err)) == 0) {
      if (t.rows >= R->sum.rows) {
        rc = accumulate(&R->log, &cnt, &t, p, err);
        R->n_trials += rc == 0;
      }
      table_free(&t);
    }
    free(ents[i]);
  }
  free(ents);
  if (rc == 0 && !R->n_trials) rc = mpl_errorf(err, MPL_ENOTFOUND, "%s: summary.csv but no finished trial-NNN/log.csv", dir);
  for (size_t i = 0; rc == 0 && i < (size_t)R->log.rows * (size_t)R->log.cols; i++)
    R->log.v[i] = cnt.v[i] > 0 ? R->log.v[i] / cnt.v[i] : NAN;
  free(cnt.v);
  return rc;
}

static int load_run(const char *dir, const char *label, prun *R, mpl_err *err) {
  memset(R, 0, sizeof *R);
  snprintf(R->label, sizeof R->label, "%s", label);
  snprintf(R->dir, sizeof R->dir, "%s", dir);
  char p[4200];
  int rc;
  if (is_file(dir, MPL_RESULTS_SUMMARY_CSV)) {
    snprintf(p, sizeof p, "%s/" MPL_RESULTS_SUMMARY_CSV, dir);
    if ((rc = table_read(p, &R->sum, err)) < 0) return rc;
    return mean_log(dir, R, err);
  }
  if (!is_file(dir, MPL_RESULTS_LOG))
    return mpl_errorf(err, MPL_ENOTFOUND, "%s: not a results directory (no log.csv, summary.csv or path.csv)", dir);
  snprintf(p, sizeof p, "%s/" MPL_RESULTS_LOG, dir);
  return table_read(p, &R->log, err);
}

static void run_free(prun *R) {
  table_free(&R->log);
  table_free(&R->sum);
}

/* }====== */

/* {====== Data files ====== */

/* Trailing moving average of x over w points, NaN skipped. */
static void moving_average(const double *x, int n, int w, double *y) {
  for (int i = 0; i < n; i++) {
    double s = 0;
    int k = 0;
    for (int j = i - w + 1 < 0 ? 0 : i - w + 1; j <= i; j++)
      if (!isnan(x[j])) s += x[j], k++;
    y[i] = k ? s / k : NAN;
  }
}

/* One output column: its source (table, column), smoothed or not. */
typedef struct ocol { const table *t; int col, smooth; char name[64]; } ocol;

/* The columns of one run's data file, in order (gnuplot column = index + 2; 1 = episode). */
typedef struct layout {
  ocol c[4 * MAX_SERIES];
  int n;
  int acc, acc_ma, acc_lo, acc_hi, loss, loss_ma, loss_lo, loss_hi;   /* gnuplot columns, 0 = absent */
  int theta0, n_theta, alpha0, n_alpha, ortho0, n_ortho;
  int status, n_diverged, n_dead;   /* a single run's status column and its failed episodes */
} layout;

static int add_col(layout *L, const table *t, int col, int smooth, const char *name) {
  if (col < 0 || L->n == (int)(sizeof L->c / sizeof *L->c)) return 0;
  L->c[L->n] = (ocol){t, col, smooth, ""};
  snprintf(L->c[L->n].name, sizeof L->c[0].name, "%s", name);
  return (L->n++) + 2;
}

/* A column that is never non-zero (e.g. alpha at the output layer) is left out. */
static int all_zero(const table *t, int c) {
  for (int r = 0; r < t->rows; r++)
    if (table_at(t, r, c) != 0 && !isnan(table_at(t, r, c))) return 0;
  return 1;
}

static void add_prefixed(layout *L, const table *t, const char *prefix, int smooth, int *first, int *count) {
  size_t k = strlen(prefix);
  *first = L->n + 2, *count = 0;
  for (int c = 0; c < t->cols; c++)
    if (!strncmp(t->names[c], prefix, k) && !all_zero(t, c) && add_col(L, t, c, smooth, t->names[c] + k)) ++*count;
}

static void make_layout(const prun *R, layout *L) {
  memset(L, 0, sizeof *L);
  const table *a = R->n_trials ? &R->sum : &R->log;
  L->acc = add_col(L, a, table_col(a, R->n_trials ? "accuracy_mean" : "accuracy"), 0, "accuracy");
  L->acc_ma = add_col(L, a, table_col(a, R->n_trials ? "accuracy_mean" : "accuracy"), 1, "accuracy_ma");
  L->loss = add_col(L, a, table_col(a, R->n_trials ? "loss_mean" : "loss"), 0, "loss");
  L->loss_ma = add_col(L, a, table_col(a, R->n_trials ? "loss_mean" : "loss"), 1, "loss_ma");
  if (R->n_trials) {
    L->acc_lo = add_col(L, a, table_col(a, "accuracy_lo"), 1, "accuracy_lo_ma");
    L->acc_hi = add_col(L, a, table_col(a, "accuracy_hi"), 1, "accuracy_hi_ma");
    L->loss_lo = add_col(L, a, table_col(a, "loss_lo"), 1, "loss_lo_ma");
    L->loss_hi = add_col(L, a, table_col(a, "loss_hi"), 1, "loss_hi_ma");
  }
  int st = R->n_trials ? -1 : table_col(&R->log, "status");   /* a trials mean has no one status */
  for (int r = 0; st >= 0 && r < R->log.rows; r++) {
    L->n_diverged += table_at(&R->log, r, st) == ST_DIVERGED;
    L->n_dead += table_at(&R->log, r, st) == ST_DEAD;
  }
  if (L->n_diverged || L->n_dead) L->status = add_col(L, &R->log, st, 0, "status");
  add_prefixed(L, &R->log, "theta_", 0, &L->theta0, &L->n_theta);
  add_prefixed(L, &R->log, "alpha_", 1, &L->alpha0, &L->n_alpha);
  add_prefixed(L, &R->log, "ortho_", 1, &L->ortho0, &L->n_ortho);
}

static int write_data(const char *path, const prun *R, const layout *L, int window, mpl_err *err) {
  int rows = R->log.rows;
  if (R->n_trials && R->sum.rows < rows) rows = R->sum.rows;
  double *x = malloc((size_t)(rows ? rows : 1) * sizeof *x), *y = malloc((size_t)(rows ? rows : 1) * L->n * sizeof *y + 1);
  FILE *f = x && y ? fopen(path, "w") : NULL;
  if (!f) {
    free(x), free(y);
    return x && y ? mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno)) : mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  for (int j = 0; j < L->n; j++) {
    for (int r = 0; r < rows; r++) x[r] = table_at(L->c[j].t, r, L->c[j].col);
    if (L->c[j].smooth) moving_average(x, rows, window, y + (size_t)j * rows);
    else memcpy(y + (size_t)j * rows, x, (size_t)rows * sizeof *x);
  }
  fprintf(f, "# %s: episode", R->label);
  for (int j = 0; j < L->n; j++) fprintf(f, " %s", L->c[j].name);
  fprintf(f, "\n");
  for (int r = 0; r < rows; r++) {
    fprintf(f, "%d", r + 1);
    for (int j = 0; j < L->n; j++) {
      double v = y[(size_t)j * rows + r];
      if (isnan(v)) fprintf(f, " NaN");
      else fprintf(f, " %.10g", v);
    }
    fprintf(f, "\n");
  }
  free(x), free(y);
  return fclose(f) == 0 ? MPL_OK : mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(errno));
}

/* }====== */

/* {====== The gnuplot script ====== */

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
                                     "#e377c2", "#7f7f7f", "#bcbd22"};
#define COLOR(i) colors[(i) % (int)(sizeof colors / sizeof *colors)]

/* A gnuplot single-quoted string: quotes doubled, control characters as spaces. */
static void q(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++) {
    if (*s == '\'') fputc('\'', f);
    fputc((unsigned char)*s < 32 ? ' ' : *s, f);
  }
  fputc('\'', f);
}

typedef struct script {
  FILE *f;
  const char *prefix;
  int fmt[3], window, n;     /* formats wanted: png, pdf, svg */
  const prun *runs;
  const layout *lay;
  char data[MAX_RUNS][4300];
} script;

static const char *const exts[] = {"png", "pdf", "svg"};
static const char *const terms[] = {
  "set terminal pngcairo size 1100,650 enhanced font 'DejaVu Sans,11'",
  "set terminal pdfcairo size 7.5in,4.4in enhanced font 'DejaVu Sans,9'",
  "set terminal svg size 1100,650 enhanced font 'DejaVu Sans,11' background '#ffffff'"};

/* Emit one figure in every format: settings, then the plot command (both complete text). */
static void figure(script *S, const char *name, const char *settings, const char *plot) {
  for (int k = 0; k < 3; k++) {
    if (!S->fmt[k]) continue;
    char out[4300];
    snprintf(out, sizeof out, "%s%s.%s", S->prefix, name, exts[k]);
    fprintf(S->f, "\n# %s.%s\nreset\n%s\nset output ", name, exts[k], terms[k]);
    q(S->f, out);
    fprintf(S->f, "\nset datafile missing 'NaN'\nset grid\nset key below horizontal noenhanced\n%s%s\nunset output\n",
            settings, plot);
  }
}

/* Start a memory text; finish it with mem_end (NULL if memory ran out). */
static FILE *mem_begin(char **p, size_t *n) {
  *p = NULL;
  return open_memstream(p, n);
}

static char *mem_end(FILE *m, char **p) {
  if (fclose(m) != 0) {
    free(*p);
    return *p = NULL;
  }
  return *p;
}

/* Title (what is shown) and a second line (how: smoothing, bands), axis labels. */
static void settings_text(FILE *m, const char *title, const char *how, const char *xlabel, const char *ylabel, int logy) {
  fprintf(m, "set title ");
  q(m, title);
  if (how && how[0]) fprintf(m, ".\"\\n\"."), q(m, how);
  fprintf(m, "\nset xlabel ");
  q(m, xlabel);
  fprintf(m, "\nset ylabel ");
  q(m, ylabel);
  fprintf(m, "\n%s", logy ? "set logscale y\n" : "");
}

/* Markers at the failed episodes of run k: diverged ones (no accuracy or loss: drawn at y = 0) as
 * red crosses, dead ones as orange circles at y_dead (a gnuplot expression; "0" for θ, whose
 * step those episodes did not take). */
static void failed_marks(const script *S, FILE *p, int k, const char *y_dead, const char **sep) {
  const layout *L = &S->lay[k];
  char buf[512];
  const char *who = S->n > 1 ? S->runs[k].label : "", *colon = S->n > 1 ? ": " : "";
  if (L->n_diverged) {
    fprintf(p, "%s", *sep), q(p, S->data[k]);
    snprintf(buf, sizeof buf, "%s%sdiverged episode%s (%d; θ rolled back), at 0", who, colon, L->n_diverged == 1 ? "" : "s",
             L->n_diverged);
    fprintf(p, " using 1:(column(%d) == %d ? 0 : NaN) with points pt 2 ps 1.2 lw 2 lc rgb '#d62728' title ", L->status,
            ST_DIVERGED);
    q(p, buf), *sep = ", \\\n     ";
  }
  if (L->n_dead) {
    fprintf(p, "%s", *sep), q(p, S->data[k]);
    snprintf(buf, sizeof buf, "%s%sdead episode%s (%d)", who, colon, L->n_dead == 1 ? "" : "s", L->n_dead);
    fprintf(p, " using 1:(column(%d) == %d ? %s : NaN) with points pt 6 ps 1.2 lw 2 lc rgb '#ff7f0e' title ", L->status,
            ST_DEAD, y_dead);
    q(p, buf), *sep = ", \\\n     ";
  }
}

/* Accuracy or loss: band (trials), raw points (a single run), moving average. */
static int curve_figure(script *S, const char *name, int loss) {
  char *sp, *pp, buf[512];
  size_t sn, pn;
  FILE *s = mem_begin(&sp, &sn), *p = mem_begin(&pp, &pn);
  if (!s || !p) return MPL_ENOMEM;
  int any_trials = 0;
  for (int k = 0; k < S->n; k++) any_trials |= S->runs[k].n_trials > 0;
  snprintf(buf, sizeof buf, "lines: moving average over the last %d episodes%s", S->window,
           any_trials ? "; shaded: 98% bootstrap band over trials (moving average)" : "");
  settings_text(s, loss ? "Meta-loss: query cross-entropy after each episode's inner loop"
                        : "Meta-accuracy: query accuracy after each episode's inner loop",
                buf, "episode (meta-step)", loss ? "query cross-entropy" : "query accuracy", 0);
  fprintf(p, "plot ");
  const char *sep = "";
  for (int k = 0; k < S->n; k++) {
    const layout *L = &S->lay[k];
    const prun *R = &S->runs[k];
    int v = loss ? L->loss : L->acc, ma = loss ? L->loss_ma : L->acc_ma, lo = loss ? L->loss_lo : L->acc_lo,
        hi = loss ? L->loss_hi : L->acc_hi;
    if (!v) continue;
    if (lo && hi && R->n_trials > 1) {   /* one trial has no band */
      fprintf(p, "%s", sep), q(p, S->data[k]);
      snprintf(buf, sizeof buf, "%s: 98%% band over %d trials (moving average)", R->label, R->n_trials);
      fprintf(p, " using 1:%d:%d with filledcurves fc rgb '%s' fs transparent solid 0.2 noborder title ", lo, hi, COLOR(k));
      q(p, buf), sep = ", \\\n     ";
    }
    if (S->n == 1) {
      fprintf(p, "%s", sep), q(p, S->data[k]);
      fprintf(p, " using 1:%d with points pt 7 ps 0.35 lc rgb '#a0a0a0' title ", v);
      q(p, R->n_trials ? "mean over trials, per episode" : "per episode"), sep = ", \\\n     ";
    }
    fprintf(p, "%s", sep), q(p, S->data[k]);
    snprintf(buf, sizeof buf, "%s%s: moving average (%d episodes)", R->label, R->n_trials ? ", mean over trials" : "",
             S->window);
    fprintf(p, " using 1:%d with lines lw 2 lc rgb '%s' title ", ma, COLOR(k));
    q(p, buf), sep = ", \\\n     ";
    char y[32];
    snprintf(y, sizeof y, "column(%d)", v);
    failed_marks(S, p, k, y, &sep);
  }
  fprintf(p, "\n");
  int rc = mem_end(s, &sp) && mem_end(p, &pp) ? MPL_OK : MPL_ENOMEM;
  if (rc == 0) figure(S, name, sp, pp);
  free(sp), free(pp);
  return rc;
}

/* One line per series (theta per term, alpha or ortho per layer): colour per series, dash type
 * per run. kind 0 theta, 1 alpha, 2 ortho. */
static int series_figure(script *S, const char *name, int kind) {
  static const char *const titles[] = {
    "Coefficients θ of the rule's terms per episode",
    "Alignment angles α_ℓ between the error e_ℓ fed back by B and by W^T (degrees)",
    "Orthonormality error per layer: Σ over query images of ‖z_ℓ − W W^T y_ℓ‖²"};
  static const char *const ylabels[] = {"θ", "α_ℓ (degrees)", "orthonormality error (log scale)"};
  static const char *const what[] = {"", "α_", "ortho layer "};
  char *sp, *pp, buf[512];
  size_t sn, pn;
  FILE *s = mem_begin(&sp, &sn), *p = mem_begin(&pp, &pn);
  if (!s || !p) return MPL_ENOMEM;
  int any_trials = 0, drawn = 0;
  for (int k = 0; k < S->n; k++) any_trials |= S->runs[k].n_trials > 0;
  const char *tr = any_trials ? "; a trials run: mean over its trials" : "";
  if (kind) snprintf(buf, sizeof buf, "moving average over the last %d episodes%s", S->window, tr);
  else snprintf(buf, sizeof buf, "the θ used in each episode (before its meta-step)%s", tr);
  settings_text(s, titles[kind], buf, "episode (meta-step)", ylabels[kind], kind == 2);
  if (kind == 0) fprintf(s, "set xzeroaxis lt -1\n");
  fprintf(p, "plot ");
  for (int k = 0; k < S->n; k++) {
    const layout *L = &S->lay[k];
    int first = kind == 0 ? L->theta0 : kind == 1 ? L->alpha0 : L->ortho0;
    int count = kind == 0 ? L->n_theta : kind == 1 ? L->n_alpha : L->n_ortho;
    for (int i = 0; i < count; i++, drawn++) {
      fprintf(p, "%s", drawn ? ", \\\n     " : ""), q(p, S->data[k]);
      const char *nm = L->c[first - 2 + i].name;
      if (S->n > 1) snprintf(buf, sizeof buf, "%s: %s%s", S->runs[k].label, what[kind], nm);
      else snprintf(buf, sizeof buf, "%s%s", what[kind], nm);
      fprintf(p, " using 1:%d with lines lw 1.5 lc rgb '%s' dt %d title ", first + i, COLOR(i), k % 5 + 1);
      q(p, buf);
    }
  }
  const char *sep = ", \\\n     ";
  for (int k = 0; kind == 0 && drawn && k < S->n; k++) failed_marks(S, p, k, "0", &sep);
  if (!drawn) { /* e.g. alignment angles of BP runs (undefined): an empty frame that says so */
    fprintf(s, "unset logscale y\nset xrange [0:1]\nset yrange [0:1]\n"
               "set label 1 'no data for this figure in these runs' at graph 0.5, 0.5 center\n");
    fprintf(p, "2 notitle");
  }
  fprintf(p, "\n");
  int rc = mem_end(s, &sp) && mem_end(p, &pp) ? MPL_OK : MPL_ENOMEM;
  if (rc == 0) figure(S, name, sp, pp);
  free(sp), free(pp);
  return rc;
}

/* }====== */

/* {====== Survival across trials (issue 25) ====== */

/* A trials run's terms.csv (term,survival,survived,trials,theta_mean,theta_lo,theta_hi,formula) as
 * a data file: "term" survival survived trials theta_mean theta_lo theta_hi. Terms in file order. */
static int survival_data(const prun *R, const char *out, int *terms, mpl_err *err) {
  char p[4300], *line = NULL;
  size_t cap = 0;
  snprintf(p, sizeof p, "%s/terms.csv", R->dir);
  FILE *f = fopen(p, "r"), *o = f ? fopen(out, "w") : NULL;
  if (!f) return mpl_errorf(err, MPL_EIO, "%s: cannot open: %s (is the trials run finished?)", p, strerror(errno));
  if (!o) { fclose(f); return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", out, strerror(errno)); }
  int rc = MPL_OK, lineno = 0;
  *terms = 0;
  fprintf(o, "# %s: term survival survived trials theta_mean theta_lo theta_hi\n", R->label);
  while (rc == 0 && getline(&line, &cap, f) > 0) {
    if (++lineno == 1) continue;
    char name[128];
    double v[6];
    int n = sscanf(line, "%127[^,],%lf,%lf,%lf,%lf,%lf,%lf", name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
    if (n != 7) { rc = mpl_errorf(err, MPL_EFORMAT, "%s:%d: expected term,survival,survived,trials,theta_mean,theta_lo,theta_hi,formula", p, lineno); break; }
    fprintf(o, "\"%s\" %.10g %.0f %.0f %.10g %.10g %.10g\n", name, v[0], v[1], v[2], v[3], v[4], v[5]);
    ++*terms;
  }
  free(line);
  fclose(f);
  if (fclose(o) != 0 && rc == 0) rc = mpl_errorf(err, MPL_EIO, "%s: cannot write", out);
  if (rc == 0 && !*terms) rc = mpl_errorf(err, MPL_EFORMAT, "%s: no terms", p);
  return rc;
}

/* The share of trials in which each term survived, one bar per term labelled k/N. */
static int survival_figure(script *S, const char *name, const char *data, const prun *R, int terms) {
  char *sp, *pp, buf[512];
  size_t sn, pn;
  FILE *s = mem_begin(&sp, &sn), *p = mem_begin(&pp, &pn);
  if (!s || !p) return MPL_ENOMEM;
  snprintf(buf, sizeof buf, "%s: %d trials; a term survives a trial when its final |θ| exceeds the zero tolerance", R->label,
           R->n_trials);
  settings_text(s, "Survival frequency: the share of trials in which each term survived", buf, "term",
                "survival frequency", 0);
  fprintf(s, "set yrange [0:1.12]\nset xrange [-0.6:%d.6]\nset style fill solid 0.6 border -1\nset boxwidth 0.6\n"
             "set xtics rotate by -35 noenhanced\nunset key\n", terms - 1);
  fprintf(p, "plot "), q(p, data);
  fprintf(p, " using 0:2:xtic(1) with boxes lc rgb '%s' notitle, \\\n     ", COLOR(0)), q(p, data);
  fprintf(p, " using 0:2:(sprintf('%%d/%%d', $3, $4)) with labels offset 0,0.7 notitle\n");
  int rc = mem_end(s, &sp) && mem_end(p, &pp) ? MPL_OK : MPL_ENOMEM;
  if (rc == 0) figure(S, name, sp, pp);
  free(sp), free(pp);
  return rc;
}

/* }====== */

/* {====== Sparsity paths ====== */

typedef struct ppath { char label[256]; char data[4300]; int window; } ppath;

/* path.csv -> data file: active_mean accuracy lo hi "lambda label". */
static int path_data(const char *dir, ppath *P, mpl_err *err) {
  char p[4200];
  table t;
  snprintf(p, sizeof p, "%s/" MPL_RESULTS_PATH_CSV, dir);
  int rc = table_read(p, &t, err);
  if (rc < 0) return rc;
  int ca = table_col(&t, "active_mean"), cy = table_col(&t, "accuracy"), cl = table_col(&t, "accuracy_lo"),
      ch = table_col(&t, "accuracy_hi"), cw = table_col(&t, "window"), cx = table_col(&t, "lambda");
  FILE *f = ca >= 0 && cy >= 0 && cx >= 0 ? fopen(P->data, "w") : NULL;
  if (!f) {
    table_free(&t);
    return ca < 0 || cy < 0 || cx < 0 ? mpl_errorf(err, MPL_EFORMAT, "%s: no lambda, active_mean or accuracy column", p)
                                      : mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", P->data, strerror(errno));
  }
  P->window = t.rows && cw >= 0 ? (int)table_at(&t, 0, cw) : MPL_FINAL_WINDOW;
  fprintf(f, "# %s: active_mean accuracy accuracy_lo accuracy_hi lambda\n", P->label);
  for (int r = 0; r < t.rows; r++)
    fprintf(f, "%.10g %.10g %.10g %.10g \"λ=%g\"\n", table_at(&t, r, ca), table_at(&t, r, cy), table_at(&t, r, cl),
            table_at(&t, r, ch), table_at(&t, r, cx));
  table_free(&t);
  return fclose(f) == 0 ? MPL_OK : mpl_errorf(err, MPL_EIO, "%s: cannot write", P->data);
}

static int path_figure(script *S, const ppath *P, int n) {
  char *sp, *pp, buf[600];
  size_t sn, pn;
  FILE *s = mem_begin(&sp, &sn), *p = mem_begin(&pp, &pn);
  if (!s || !p) return MPL_ENOMEM;
  snprintf(buf, sizeof buf, "final accuracy = mean query accuracy of the last %d episodes; points labelled "
           "with λ", P[0].window);
  settings_text(s, "Sparsity path: final accuracy against the number of surviving terms", buf,
                "surviving terms (θ ≠ 0; mean over trials)", "final query accuracy", 0);
  fprintf(s, "set offsets 0.3, 0.3, 0.02, 0.02\nset xtics 1\n");
  fprintf(p, "plot ");
  for (int k = 0; k < n; k++) {
    fprintf(p, "%s", k ? ", \\\n     " : ""), q(p, P[k].data);
    snprintf(buf, sizeof buf, "%.500s: final accuracy, bars: 98%% bootstrap interval", P[k].label);
    fprintf(p, " using 1:2:3:4 with yerrorbars pt 7 ps 1.2 lw 1.5 lc rgb '%s' title ", COLOR(k));
    q(p, buf);
    fprintf(p, ", \\\n     ");
    q(p, P[k].data);
    fprintf(p, " using 1:2:5 with labels offset char 0.8,0.8 left font ',9' tc rgb '%s' notitle", COLOR(k));
  }
  fprintf(p, "\n");
  int rc = mem_end(s, &sp) && mem_end(p, &pp) ? MPL_OK : MPL_ENOMEM;
  if (rc == 0) figure(S, "path", sp, pp);
  free(sp), free(pp);
  return rc;
}

/* }====== */

/* {====== Running gnuplot ====== */

/* The last non-empty line of a file (for error messages). */
static void last_line(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
  char line[512];
  buf[0] = '\0';
  if (!f) return;
  while (fgets(line, sizeof line, f))
    if (strspn(line, " \t\r\n") < strlen(line)) {
      line[strcspn(line, "\r\n")] = '\0';
      snprintf(buf, n, "%s", line);
    }
  fclose(f);
}

static int run_gnuplot(const char *prog, const char *script_path, const char *log_path, mpl_err *err) {
  posix_spawn_file_actions_t fa;
  char *argv[] = {(char *)prog, (char *)script_path, NULL};
  pid_t pid;
  if (posix_spawn_file_actions_init(&fa)) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int e = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (e == ENOENT)
    return mpl_errorf(err, MPL_ENOTFOUND, "%s not found on PATH: plots are drawn by gnuplot (Debian: apt-get install "
                      "gnuplot-nox); the script and data are in %s and beside it", prog, script_path);
  if (e) return mpl_errorf(err, MPL_EIO, "cannot run %s: %s", prog, strerror(e));
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return mpl_errorf(err, MPL_EIO, "waiting for %s: %s", prog, strerror(errno));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return MPL_OK;
  char msg[512];
  last_line(log_path, msg, sizeof msg);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
    return mpl_errorf(err, MPL_ENOTFOUND, "%s could not be run (exit 127): install gnuplot (Debian: gnuplot-nox)", prog);
  return mpl_errorf(err, MPL_EIO, "%s %s failed (%s %d): %s (all messages: %s)", prog, script_path,
                    WIFEXITED(st) ? "exit status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                    msg[0] ? msg : "no message", log_path);
}

/* }====== */

/* {====== mpl_plot ====== */

static int parse_formats(const char *s, int fmt[3], mpl_err *err) {
  fmt[0] = fmt[1] = fmt[2] = 0;
  for (const char *p = s; *p;) {
    size_t k = strcspn(p, ",");
    int found = 0;
    for (int i = 0; i < 3; i++)
      if (k == strlen(exts[i]) && !strncmp(p, exts[i], k)) fmt[i] = found = 1;
    if (!found) return mpl_errorf(err, MPL_EINVAL, "--format '%s': expected png, pdf or svg, comma-separated", s);
    p += k + (p[k] == ',');
  }
  if (!fmt[0] && !fmt[1] && !fmt[2]) return mpl_errorf(err, MPL_EINVAL, "--format '%s': no format", s);
  return MPL_OK;
}

/* The directory part of the prefix is created. */
static int make_prefix_dir(const char *prefix, mpl_err *err) {
  char d[4200];
  snprintf(d, sizeof d, "%s", prefix);
  char *slash = strrchr(d, '/');
  if (!slash) return MPL_OK;
  if (slash == d) return MPL_OK;   /* "/name": the root */
  *slash = '\0';
  return mpl__make_dirs(d, err);
}

static void base_name(const char *dir, char *buf, size_t n) {
  size_t k = strlen(dir);
  while (k > 1 && dir[k - 1] == '/') k--;
  size_t s = k;
  while (s > 0 && dir[s - 1] != '/') s--;
  snprintf(buf, n, "%.*s", (int)(k - s), dir + s);
}

/* {====== An evaluation (eval --out DIR, issue 25) ====== */

typedef struct peval { char label[256], dir[4200], data[4300], tasks[4300], title[512]; } peval;
static int eval_tasks(peval *E, const char *out, mpl_err *err);

/* DIR/eval.json's methods as a data file: "method" mean lo hi diverged; the title line from its
 * rule, dataset and tasks. */
static int eval_data(peval *E, mpl_err *err) {
  char p[4300];
  snprintf(p, sizeof p, "%s/" MPL_RESULTS_EVAL_JSON, E->dir);
  json_error_t je;
  json_t *doc = json_load_file(p, 0, &je), *m = doc ? json_object_get(doc, "methods") : NULL;
  if (!doc) return mpl_errorf(err, MPL_EFORMAT, "%s:%d: %s", p, je.line, je.text);
  FILE *o = json_is_array(m) ? fopen(E->data, "w") : NULL;
  int rc = !json_is_array(m) ? mpl_errorf(err, MPL_EFORMAT, "%s: methods: expected an array", p)
           : !o ? mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", E->data, strerror(errno)) : MPL_OK;
  for (size_t i = 0; rc == 0 && i < json_array_size(m); i++) {
    json_t *x = json_array_get(m, i);
    const char *name = json_string_value(json_object_get(x, "method"));
    json_t *mean = json_object_get(x, "mean"), *lo = json_object_get(x, "lo"), *hi = json_object_get(x, "hi");
    if (!name || !json_is_number(mean) || !json_is_number(lo) || !json_is_number(hi))
      rc = mpl_errorf(err, MPL_EFORMAT, "%s: methods[%zu]: expected method, mean, lo and hi", p, i);
    else fprintf(o, "\"%s\" %.10g %.10g %.10g %d\n", name, json_number_value(mean), json_number_value(lo),
                 json_number_value(hi), (int)json_integer_value(json_object_get(x, "diverged")));
  }
  if (o && fclose(o) != 0 && rc == 0) rc = mpl_errorf(err, MPL_EIO, "%s: cannot write", E->data);
  const char *rule = json_string_value(json_object_get(doc, "rule")), *ds = json_string_value(json_object_get(doc, "dataset"));
  snprintf(E->title, sizeof E->title, "%s on %d fresh tasks of %s", rule ? rule : E->label,
           (int)json_integer_value(json_object_get(doc, "tasks")), ds ? ds : "?");
  json_decref(doc);
  char tasks[4400];
  snprintf(tasks, sizeof tasks, "%s.tasks", E->data);
  return rc < 0 ? rc : eval_tasks(E, tasks, err);
}

/* eval.csv's per-task accuracies as a data file: per task, for the rule, FA and BP, an x spread
 * over [m - 0.25, m + 0.25] around method m, and the accuracy (NaN: diverged). */
static int eval_tasks(peval *E, const char *out, mpl_err *err) {
  table t;
  int rc = table_read(E->tasks, &t, err);
  if (rc < 0) return rc;
  int col[3] = {table_col(&t, "rule"), table_col(&t, "fa"), table_col(&t, "bp")};
  FILE *o = col[0] >= 0 && col[1] >= 0 && col[2] >= 0 ? fopen(out, "w") : NULL;
  if (!o) rc = col[0] < 0 || col[1] < 0 || col[2] < 0
                   ? mpl_errorf(err, MPL_EFORMAT, "%s: expected the columns rule, fa and bp", E->tasks)
                   : mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", out, strerror(errno));
  for (int r = 0; rc == 0 && r < t.rows; r++) {
    for (int m = 0; m < 3; m++) {
      double y = table_at(&t, r, col[m]);
      fprintf(o, "%s%.6g ", m ? " " : "", m - 0.25 + 0.5 * r / (t.rows > 1 ? t.rows - 1 : 1));
      if (isnan(y)) fprintf(o, "NaN");
      else fprintf(o, "%.10g", y);
    }
    fprintf(o, "\n");
  }
  if (o && fclose(o) != 0 && rc == 0) rc = mpl_errorf(err, MPL_EIO, "%s: cannot write", out);
  table_free(&t);
  return rc;
}

/* Mean query accuracy of the rule, FA and BP with their 98% intervals; every task's accuracy as
 * a grey point beside them. */
static int eval_figure(script *S, const char *name, const peval *E) {
  char *sp, *pp, tasks[4400];
  size_t sn, pn;
  snprintf(tasks, sizeof tasks, "%s.tasks", E->data);
  FILE *s = mem_begin(&sp, &sn), *p = mem_begin(&pp, &pn);
  if (!s || !p) return MPL_ENOMEM;
  settings_text(s, "A frozen rule against FA and BP on the same tasks and initial weights", E->title, "method",
                "mean query accuracy (98% bootstrap interval)", 0);
  fprintf(s, "set xrange [-0.5:2.5]\nset yrange [0:1]\nset xtics ('rule' 0, 'FA' 1, 'BP' 2)\n");
  fprintf(p, "plot for [m=0:2] "), q(p, tasks);
  fprintf(p, " using (column(2 * m + 1)):(column(2 * m + 2)) with points pt 7 ps 0.5 lc rgb '#b0b0b0' "
             "title (m == 0 ? 'each task' : ''), \\\n     ");
  q(p, E->data);
  fprintf(p, " using 0:2:3:4 with yerrorbars pt 7 ps 1.6 lw 2 lc rgb '%s' title 'mean, 98%% bootstrap interval'\n",
          COLOR(1));
  int rc = mem_end(s, &sp) && mem_end(p, &pp) ? MPL_OK : MPL_ENOMEM;
  if (rc == 0) figure(S, name, sp, pp);
  free(sp), free(pp);
  return rc;
}

/* }====== */

/* {====== Long online training (train --out DIR, issue 26) ====== */

typedef struct ptrain { char label[256], data[4300]; int color, first, runs; } ptrain;

/* DIR/train.csv's step, test accuracy and test loss as a data file. */
static int train_data(const char *dir, const ptrain *P, mpl_err *err) {
  char p[4200];
  snprintf(p, sizeof p, "%s/train.csv", dir);
  table t;
  int rc = table_read(p, &t, err);
  if (rc < 0) return rc;
  int col[3] = {table_col(&t, "step"), table_col(&t, "accuracy"), table_col(&t, "loss")};
  FILE *o = col[0] >= 0 && col[1] >= 0 && col[2] >= 0 ? fopen(P->data, "w") : NULL;
  if (!o) rc = col[0] < 0 || col[1] < 0 || col[2] < 0
                   ? mpl_errorf(err, MPL_EFORMAT, "%s: expected the columns step, accuracy and loss", p)
                   : mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", P->data, strerror(errno));
  for (int r = 0; rc == 0 && r < t.rows; r++)
    for (int c = 0; c < 3; c++) {
      double v = table_at(&t, r, col[c]);
      if (isfinite(v)) fprintf(o, "%.10g%s", v, c == 2 ? "\n" : " ");
      else fprintf(o, "NaN%s", c == 2 ? "\n" : " ");
    }
  if (o && fclose(o) != 0 && rc == 0) rc = mpl_errorf(err, MPL_EIO, "%s: cannot write", P->data);
  table_free(&t);
  return rc;
}

/* Test accuracy (or loss) against the online step, a line per run; runs under one label (seeds)
 * share a colour and one legend entry. */
static int train_figure(script *S, const char *name, const ptrain *P, int n, int loss) {
  char *sp, *pp, buf[512];
  size_t sn, pn;
  FILE *s = mem_begin(&sp, &sn), *p = mem_begin(&pp, &pn);
  if (!s || !p) return MPL_ENOMEM;
  settings_text(s, loss ? "Long online training: test loss" : "Long online training: test accuracy",
                "batch 1, a fixed rule; one line per run, runs of one label (seeds) in one colour",
                "online step (training images seen)", loss ? "test cross-entropy" : "test accuracy", loss);
  fprintf(p, "plot ");
  for (int k = 0; k < n; k++) {
    fprintf(p, "%s", k ? ", \\\n     " : ""), q(p, P[k].data);
    fprintf(p, " using 1:%d with lines lw 2 lc rgb '%s' ", loss ? 3 : 2, COLOR(P[k].color));
    if (!P[k].first) { fprintf(p, "notitle"); continue; }
    snprintf(buf, sizeof buf, P[k].runs > 1 ? "%s (%d runs)" : "%s", P[k].label, P[k].runs);
    fprintf(p, "title "), q(p, buf);
  }
  fprintf(p, "\n");
  int rc = mem_end(s, &sp) && mem_end(p, &pp) ? MPL_OK : MPL_ENOMEM;
  if (rc == 0) figure(S, name, sp, pp);
  free(sp), free(pp);
  return rc;
}

/* }====== */

typedef struct plotter {
  script S;
  prun runs[MAX_RUNS];
  layout lay[MAX_RUNS];
  ppath paths[MAX_RUNS];
  int n_paths;
  peval evals[MAX_RUNS];
  int n_evals;
  ptrain trains[MAX_RUNS];
  int n_trains, n_colors;
} plotter;

/* A train --out DIR: its data file; a label seen before keeps its colour. */
static int gather_train(plotter *G, const char *dir, const char *label, mpl_err *err) {
  ptrain *P = &G->trains[G->n_trains], *same = NULL;
  for (int k = 0; k < G->n_trains && !same; k++)
    if (!strcmp(G->trains[k].label, label)) same = &G->trains[k];
  snprintf(P->label, sizeof P->label, "%s", label);
  snprintf(P->data, sizeof P->data, "%strain-%d.dat", G->S.prefix, ++G->n_trains);
  P->color = same ? same->color : G->n_colors++;
  P->first = !same;
  if (same) same->runs++;
  else P->runs = 1;
  return train_data(dir, P, err);
}

/* Load dirs[i] (a run, trials, or a path whose lambda runs are added) into G; with several
 * DIRs (many) a lambda run's label starts with its path's. */
static int gather(plotter *G, const char *dir, const char *label, int many, mpl_err *err) {
  if (is_file(dir, MPL_RESULTS_TRAIN_CSV) && !is_file(dir, MPL_RESULTS_LOG)) {   /* train --out DIR */
    if (G->n_trains == MAX_RUNS) return mpl_errorf(err, MPL_EINVAL, "more than %d training runs to plot", MAX_RUNS);
    return gather_train(G, dir, label, err);
  }
  if (is_file(dir, MPL_RESULTS_EVAL_JSON) && !is_file(dir, MPL_RESULTS_LOG)) {   /* eval --out DIR */
    if (G->n_evals == MAX_RUNS) return mpl_errorf(err, MPL_EINVAL, "more than %d evals to plot", MAX_RUNS);
    peval *E = &G->evals[G->n_evals++];
    snprintf(E->label, sizeof E->label, "%s", label);
    snprintf(E->dir, sizeof E->dir, "%s", dir);
    snprintf(E->data, sizeof E->data, "%seval-%d.dat", G->S.prefix, G->n_evals);
    snprintf(E->tasks, sizeof E->tasks, "%s/" MPL_RESULTS_EVAL_CSV, dir);
    return eval_data(E, err);
  }
  if (!is_file(dir, MPL_RESULTS_PATH_CSV) && !is_file(dir, MPL_RESULTS_SUMMARY_CSV) && !is_file(dir, MPL_RESULTS_LOG)) {
    /* A trials directory whose run was interrupted has no summary (docs/trials.md): each trial is
     * drawn as a run of its own, as far as it got. */
    struct dirent **ents;
    int n = scandir(dir, &ents, trial_dir, alphasort), rc = MPL_OK, k = 0;
    for (int i = 0; i < (n > 0 ? n : 0); i++) {
      char sub[4096], lab[300];
      snprintf(sub, sizeof sub, "%.3800s/%.255s", dir, ents[i]->d_name);
      if (rc == 0 && is_file(sub, MPL_RESULTS_LOG)) {
        snprintf(lab, sizeof lab, "%.200s%s%.64s", many ? label : "", many ? ", " : "", ents[i]->d_name);
        if (G->S.n == MAX_RUNS) rc = mpl_errorf(err, MPL_EINVAL, "more than %d runs to plot", MAX_RUNS);
        else rc = load_run(sub, lab, &G->runs[G->S.n++], err), k++;
      }
      free(ents[i]);
    }
    if (n > 0) free(ents);
    if (k > 0 || rc < 0) return rc;
  }
  if (!is_file(dir, MPL_RESULTS_PATH_CSV)) {
    if (G->S.n == MAX_RUNS) return mpl_errorf(err, MPL_EINVAL, "more than %d runs to plot", MAX_RUNS);
    return load_run(dir, label, &G->runs[G->S.n++], err);
  }
  ppath *P = &G->paths[G->n_paths++];
  snprintf(P->label, sizeof P->label, "%s", label);
  snprintf(P->data, sizeof P->data, "%spath-%d.dat", G->S.prefix, G->n_paths);
  int rc = path_data(dir, P, err);
  char p[4200];
  table t;
  snprintf(p, sizeof p, "%s/" MPL_RESULTS_PATH_CSV, dir);
  if (rc == 0 && (rc = table_read(p, &t, err)) == 0) {
    int cx = table_col(&t, "lambda");
    for (int r = 0; r < t.rows && rc == 0; r++) {
      char sub[64], ldir[4300], lab[300];
      mpl_lambda_dirname(table_at(&t, r, cx), sub, sizeof sub);
      snprintf(ldir, sizeof ldir, "%s/%s", dir, sub);
      snprintf(lab, sizeof lab, "%s%sλ = %g", many ? label : "", many ? ", " : "", table_at(&t, r, cx));
      if (G->S.n == MAX_RUNS) rc = mpl_errorf(err, MPL_EINVAL, "more than %d runs to plot", MAX_RUNS);
      else rc = load_run(ldir, lab, &G->runs[G->S.n++], err);
    }
    table_free(&t);
  }
  return rc;
}

/* "survival" for the one trials run, "survival-K" (K = its run number) among several. */
static void survival_name(const plotter *G, int k, char *name, size_t n) {
  int trials = 0;
  for (int i = 0; i < G->S.n; i++) trials += G->runs[i].n_trials > 0;
  if (trials == 1) snprintf(name, n, "survival");
  else snprintf(name, n, "survival-%d", k + 1);
}

static int write_script(plotter *G, const char *gp, mpl_err *err) {
  script *S = &G->S;
  if (!(S->f = fopen(gp, "w"))) return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", gp, strerror(errno));
  fprintf(S->f, "# metaplast plot: the figures of %d run(s); data in the .dat files beside this script.\n"
          "# Re-run with: gnuplot %s\nset encoding utf8\n", S->n, gp);
  int rc = MPL_OK;
  if (S->n > 0) {
    if (rc == 0) rc = curve_figure(S, "accuracy", 0);
    if (rc == 0) rc = curve_figure(S, "loss", 1);
    if (rc == 0) rc = series_figure(S, "theta", 0);
    if (rc == 0) rc = series_figure(S, "alpha", 1);
    if (rc == 0) rc = series_figure(S, "ortho", 2);
  }
  if (rc == 0 && G->n_paths) rc = path_figure(S, G->paths, G->n_paths);
  if (rc == 0 && G->n_trains) rc = train_figure(S, "train", G->trains, G->n_trains, 0);
  if (rc == 0 && G->n_trains) rc = train_figure(S, "train-loss", G->trains, G->n_trains, 1);
  for (int k = 0; rc == 0 && k < G->n_evals; k++) {
    char name[64];
    snprintf(name, sizeof name, G->n_evals == 1 ? "eval" : "eval-%d", k + 1);
    rc = eval_figure(S, name, &G->evals[k]);
  }
  for (int k = 0; rc == 0 && k < S->n; k++) {   /* a trials run: its survival frequencies */
    if (!G->runs[k].n_trials) continue;
    char data[4300], name[64];
    int terms = 0;
    survival_name(G, k, name, sizeof name);
    snprintf(data, sizeof data, "%s%s.dat", S->prefix, name);
    mpl_err serr = {0};
    if ((rc = survival_data(&G->runs[k], data, &terms, &serr)) < 0) {
      fclose(S->f);
      *err = serr;
      return rc;
    }
    rc = survival_figure(S, name, data, &G->runs[k], terms);
  }
  int bad = ferror(S->f);
  if (fclose(S->f) != 0 || bad) return mpl_errorf(err, MPL_EIO, "%s: cannot write", gp);
  return rc < 0 ? mpl_errorf(err, rc, "out of memory") : MPL_OK;
}

static void report_files(const plotter *G, FILE *f) {
  static const char *const names[] = {"accuracy", "loss", "theta", "alpha", "ortho", "path"};
  for (int i = 0; f && i < 6; i++) {
    if ((i < 5 && G->S.n == 0) || (i == 5 && !G->n_paths)) continue;
    for (int k = 0; k < 3; k++)
      if (G->S.fmt[k]) fprintf(f, "%s%s.%s\n", G->S.prefix, names[i], exts[k]);
  }
  for (int e = 0; f && e < G->n_evals; e++)
    for (int k = 0; k < 3; k++)
      if (G->S.fmt[k]) {
        fprintf(f, "%s", G->S.prefix);
        fprintf(f, G->n_evals == 1 ? "eval" : "eval-%d", e + 1);
        fprintf(f, ".%s\n", exts[k]);
      }
  for (int i = 0; f && G->n_trains && i < 2; i++)
    for (int k = 0; k < 3; k++)
      if (G->S.fmt[k]) fprintf(f, "%s%s.%s\n", G->S.prefix, i ? "train-loss" : "train", exts[k]);
  for (int r = 0; f && r < G->S.n; r++) {
    if (!G->runs[r].n_trials) continue;
    char name[64];
    survival_name(G, r, name, sizeof name);
    for (int k = 0; k < 3; k++)
      if (G->S.fmt[k]) fprintf(f, "%s%s.%s\n", G->S.prefix, name, exts[k]);
  }
}

int mpl_plot(const char *const *dirs, int n, const mpl_plot_cfg *cfg, mpl_err *err) {
  mpl_plot_cfg def;
  if (!cfg) mpl_plot_defaults(&def), cfg = &def;
  if (n < 1) return mpl_errorf(err, MPL_EINVAL, "plot: no results directory");
  if (n > MAX_RUNS) return mpl_errorf(err, MPL_EINVAL, "plot: at most %d directories", MAX_RUNS);
  plotter *G = calloc(1, sizeof *G);
  if (!G) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  char prefix[4200], gp[4300], log[4300];
  if (cfg->out) snprintf(prefix, sizeof prefix, "%s", cfg->out);
  else snprintf(prefix, sizeof prefix, "%s%s", n == 1 ? dirs[0] : "plots", n == 1 ? "/plots/" : "/");
  G->S.prefix = prefix;
  G->S.window = cfg->window > 0 ? cfg->window : MPL_PLOT_WINDOW;
  int rc = parse_formats(cfg->formats ? cfg->formats : "png,pdf", G->S.fmt, err);
  if (rc == 0) rc = make_prefix_dir(prefix, err);
  for (int i = 0; i < n && rc == 0; i++) {
    char label[256];
    if (cfg->labels && cfg->labels[i]) snprintf(label, sizeof label, "%s", cfg->labels[i]);
    else base_name(dirs[i], label, sizeof label);
    rc = gather(G, dirs[i], label, n > 1, err);
  }
  for (int k = 0; k < G->S.n && rc == 0; k++) {
    snprintf(G->S.data[k], sizeof G->S.data[k], "%sdata-%d.dat", prefix, k + 1);
    make_layout(&G->runs[k], &G->lay[k]);
    rc = write_data(G->S.data[k], &G->runs[k], &G->lay[k], G->S.window, err);
  }
  G->S.runs = G->runs, G->S.lay = G->lay;
  snprintf(gp, sizeof gp, "%splot.gp", prefix);
  snprintf(log, sizeof log, "%sgnuplot.log", prefix);
  if (rc == 0) rc = write_script(G, gp, err);
  if (rc == 0) rc = run_gnuplot(cfg->gnuplot ? cfg->gnuplot : "gnuplot", gp, log, err);
  if (rc == 0) report_files(G, cfg->report);
  for (int k = 0; k < MAX_RUNS; k++) run_free(&G->runs[k]);
  free(G);
  return rc;
}

/* }====== */
