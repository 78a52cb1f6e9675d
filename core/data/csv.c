/* metaplast: labelled examples from a CSV file (raw or gzip), parsed by Debian's libcsv: a header
 * row names the columns, one of them the label (class numbers 0..255), every other column a
 * numeric input; each following row is one example. Errors name FILE:LINE and the column
 * (issue 25). See LICENSE for copyright. */
#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataio.h"

typedef struct reader {
  const char *path, *label;  /* the label column's name */
  size_t line;               /* the line being parsed (1-based) */
  size_t ncols, col;         /* columns of the header, the field's column in its row */
  long label_col;            /* -1 until the header is read */
  char *names;               /* the header's names, NUL-separated, for messages */
  size_t names_len;
  double *x;                 /* rows of ncols - 1 inputs */
  uint8_t *y;
  size_t n, cap;
  int rc;
  mpl_err *err;
} reader;

/* {====== The header ====== */

static const char *column_name(const reader *R, size_t c) {
  const char *p = R->names;
  for (size_t i = 0; p && i < c && p < R->names + R->names_len; i++) p += strlen(p) + 1;
  return p && p < R->names + R->names_len ? p : "?";
}

static void header_field(reader *R, const char *s, size_t len) {
  char *nn = realloc(R->names, R->names_len + len + 1);
  if (!nn) { R->rc = mpl_errorf(R->err, MPL_ENOMEM, "out of memory"); return; }
  R->names = nn;
  memcpy(nn + R->names_len, s, len);
  nn[R->names_len + len] = '\0';
  R->names_len += len + 1;
  if (len == strlen(R->label) && !memcmp(s, R->label, len)) {
    if (R->label_col >= 0) R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s:%zu: two columns are named '%s'", R->path, R->line, R->label);
    R->label_col = (long)R->col;
  }
}

static void header_end(reader *R) {
  R->ncols = R->col;
  if (R->label_col >= 0 && R->ncols >= 2) return;
  char list[512] = "";
  for (size_t c = 0, k = 0; c < R->ncols && k < sizeof list - 1; c++)
    k += (size_t)snprintf(list + k, sizeof list - k, "%s'%s'", c ? ", " : "", column_name(R, c));
  if (R->label_col < 0)
    R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s:%zu: no column named '%s' for the labels (the header has %s); name "
                       "the label column with csv:FILE:COLUMN", R->path, R->line, R->label, list);
  else
    R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s:%zu: the header has only the label column '%s': no input columns",
                       R->path, R->line, R->label);
}

/* }====== */

/* {====== Rows ====== */

static int grow(reader *R) {
  if (R->n < R->cap) return MPL_OK;
  size_t cap = R->cap ? 2 * R->cap : 256, d = R->ncols - 1;
  double *x = realloc(R->x, cap * d * sizeof *x);
  if (x) R->x = x;
  uint8_t *y = x ? realloc(R->y, cap) : NULL;
  if (y) R->y = y;
  if (!x || !y) return R->rc = mpl_errorf(R->err, MPL_ENOMEM, "out of memory for %zu rows of %zu columns", cap, R->ncols);
  R->cap = cap;
  return MPL_OK;
}

static void label_field(reader *R, const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < 0 || v > 255)
    R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s:%zu: column '%s': '%s' is not a class number 0..255", R->path, R->line,
                       R->label, s);
  else R->y[R->n] = (uint8_t)v;
}

static void input_field(reader *R, const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  while (*end == ' ') end++;
  if (end == s || *end || !isfinite(v)) {
    R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s:%zu: column '%s': '%s' is not a finite number", R->path, R->line,
                       column_name(R, R->col), s);
    return;
  }
  size_t c = R->col - (R->col > (size_t)R->label_col);
  R->x[R->n * (R->ncols - 1) + c] = v;
}

static void on_field(void *s, size_t len, void *data) {
  reader *R = data;
  if (R->rc) return;
  if (R->ncols == 0) { header_field(R, s ? s : "", s ? len : 0); R->col++; return; }
  if (R->col >= R->ncols) { R->col++; return; } /* counted, reported at the row's end */
  if (R->col == 0 && grow(R) < 0) return;
  const char *t = s ? s : "";
  if ((long)R->col == R->label_col) label_field(R, t);
  else input_field(R, t);
  R->col++;
}

static void on_row(int c, void *data) {
  (void)c;
  reader *R = data;
  if (R->rc) return;
  if (R->ncols == 0) header_end(R);
  else if (R->col != R->ncols)
    R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s:%zu: %zu field%s, expected %zu (the header's)", R->path, R->line,
                       R->col, R->col == 1 ? "" : "s", R->ncols);
  else R->n++;
  R->col = 0;
}

/* }====== */

/* Feed the text line by line, so that messages name the line a row ends on. */
static void parse_text(reader *R, struct csv_parser *p, const uint8_t *text, size_t len) {
  for (size_t off = 0; off < len && !R->rc;) {
    const uint8_t *nl = memchr(text + off, '\n', len - off);
    size_t k = nl ? (size_t)(nl - text - off) + 1 : len - off;
    if (csv_parse(p, text + off, k, on_field, on_row, R) != k)
      R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s:%zu: %s", R->path, R->line, csv_strerror(csv_error(p)));
    off += k;
    R->line += nl != NULL;
  }
  if (!R->rc && csv_fini(p, on_field, on_row, R) != 0)
    R->rc = mpl_errorf(R->err, MPL_EFORMAT, "%s: at the end of the file: %s (a quoted field left open?)", R->path,
                       csv_strerror(csv_error(p)));
}

int mpl__csv_read(const char *path, const char *label, mpl__images *im, uint8_t **labels, mpl_err *err) {
  memset(im, 0, sizeof *im);
  *labels = NULL;
  uint8_t *text;
  size_t len;
  int rc = mpl__read_whole(path, &text, &len, err);
  if (rc < 0) return rc;
  reader R = {.path = path, .label = label, .line = 1, .label_col = -1, .err = err};
  struct csv_parser p;
  if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) R.rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  else {
    parse_text(&R, &p, text, len);
    csv_free(&p);
  }
  free(text);
  if (!R.rc && R.ncols == 0) R.rc = mpl_errorf(err, MPL_EFORMAT, "%s: empty file: expected a header row naming the "
                                               "columns, one of them '%s'", path, label);
  if (!R.rc && R.n == 0) R.rc = mpl_errorf(err, MPL_EFORMAT, "%s: a header but no rows of data", path);
  free(R.names);
  if (R.rc) { free(R.x), free(R.y); return R.rc; }
  im->n = R.n, im->rows = 1, im->cols = R.ncols - 1, im->f64 = R.x;
  *labels = R.y;
  return MPL_OK;
}
