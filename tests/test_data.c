/* metaplast tests: data readers beyond byte IDX (issue 25): NumPy .npy and CSV files written by
 * NumPy and Python's csv module (tests/data/numpy_fixtures.py, skipped without python3-numpy) and
 * by hand (bytes documented here), float IDX, the scaling rule, errors naming the file, the field
 * and what was expected, and a search that logs the same whatever format holds the same inputs.
 * See LICENSE for copyright. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metaplast/data.h"
#include "metaplast/search.h"
#include "search_fixture.h"
#include "testutil.h"

#define N 12
static char dir[2048];
static int have_numpy;

static mpl_dataset *load(const char *images, const char *labels) {
  char a[4200], b[4200];
  snprintf(a, sizeof a, "%s/%s", dir, images);
  snprintf(b, sizeof b, "%s/%s", dir, labels);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  if (mpl_dataset_load_idx(a, b, 0, &ds, &err) < 0) fail_msg("%s", err.msg);
  return ds;
}

/* {====== Hand-built files ======
 * A .npy file is "\x93NUMPY", version 1.0, a little-endian uint16 header length, the header (a
 * Python dict literal padded with spaces to end in '\n'), then the elements in C order. */

static size_t npy_header(uint8_t *b, const char *descr, const char *shape, const char *fortran) {
  char h[256];
  int k = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape);
  while ((10 + k + 1) % 64) h[k++] = ' ';
  h[k++] = '\n';
  memcpy(b, "\x93NUMPY\x01\x00", 8);
  b[8] = (uint8_t)k, b[9] = (uint8_t)(k >> 8);
  memcpy(b + 10, h, (size_t)k);
  return 10 + (size_t)k;
}

static const char *write_npy(const char *name, const char *descr, const char *shape, const char *fortran,
                             const void *data, size_t len) {
  static char path[4200];
  uint8_t *b = malloc(256 + len);
  size_t h = npy_header(b, descr, shape, fortran);
  memcpy(b + h, data, len);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_int_equal(mpl_test_write(path, b, h + len), 0);
  free(b);
  return path;
}

static const char *write_text(const char *name, const char *text) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_int_equal(mpl_test_write(path, text, strlen(text)), 0);
  return path;
}

/* }====== */

/* {====== Written by NumPy ====== */

static void need_numpy(void) {
  if (!have_numpy) {
    printf("python3-numpy is not installed: the NumPy-written fixtures are skipped\n");
    skip();
  }
}

static void test_numpy_images(void **state) {
  (void)state;
  need_numpy();
  mpl_dataset *ds = load("u8.npy", "lab_i8.npy");
  assert_int_equal(ds->n, N);
  assert_true(ds->rows == 3 && ds->cols == 4 && ds->dim == 12 && ds->n_classes == 4 && ds->pixels && !ds->x);
  double x[12];
  for (int i = 0; i < N; i++) {
    mpl_dataset_image(ds, (size_t)i, x);
    assert_int_equal(ds->labels[i], i % 4);
    for (int r = 0; r < 3; r++)
      for (int c = 0; c < 4; c++) assert_true(x[r * 4 + c] == ((13 * i + 5 * r + c) % 256) / 255.0); /* bytes / 255 */
  }
  mpl_dataset_free(ds);
  ds = load("f4.npy", "lab_i4be.npy");
  assert_true(ds->rows == 1 && ds->cols == 6 && ds->x && !ds->pixels);
  for (int i = 0; i < N; i++) {
    mpl_dataset_image(ds, (size_t)i, x);
    assert_int_equal(ds->labels[i], (i + 1) % 4);
    for (int j = 0; j < 6; j++) assert_true(x[j] == (13 * i + 5 * j) / 64.0 - 1.5); /* numbers as they are */
  }
  mpl_dataset_free(ds);
  ds = load("f8be.npy", "lab_u1.npy");
  assert_true(ds->rows == 2 && ds->cols == 3);
  for (int i = 0; i < N; i++) {
    mpl_dataset_image(ds, (size_t)i, x);
    assert_int_equal(ds->labels[i], (i + 2) % 4);
    for (int r = 0; r < 2; r++)
      for (int c = 0; c < 3; c++) assert_true(x[r * 3 + c] == (7 * i - 3 * r + c) / 1024.0 + 0.125);
  }
  mpl_dataset_free(ds);
}

static void test_python_csv(void **state) {
  (void)state;
  need_numpy();
  char spec[4200];
  snprintf(spec, sizeof spec, "csv:%s/data.csv:y", dir);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  if (mpl_dataset_open(spec, 0, &ds, &err) < 0) fail_msg("%s", err.msg);
  assert_true(ds->n == N && ds->dim == 3 && ds->n_classes == 4);
  double x[3];
  for (int k = 0; k < N; k++) {
    mpl_dataset_image(ds, (size_t)k, x);
    assert_int_equal(ds->labels[k], (k + 3) % 4);
    assert_true(x[0] == k / 8.0 && x[1] == -k / 3.0 && x[2] == 1e-3 * k); /* a, b, c: y is not an input */
  }
  mpl_dataset_free(ds);
}

/* }====== */

/* {====== Hand-built: float IDX, .npy and CSV errors ====== */

static void put_be(uint8_t *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) p[i] = (uint8_t)v, v >>= 8;
}

/* IDX float32 (type 0x0D) and float64 (0x0E) images: big-endian numbers, taken as they are. */
static void test_float_idx(void **state) {
  (void)state;
  for (int size = 4; size <= 8; size += 4) {
    uint8_t b[16 + 4 * 2 * 8], lab[8 + 4];
    put_be(b, size == 4 ? 0x0D03 : 0x0E03, 4), put_be(b + 4, 4, 4), put_be(b + 8, 1, 4), put_be(b + 12, 2, 4);
    for (int k = 0; k < 8; k++) {
      double v = k * 0.375 - 1;
      float f = (float)v;
      uint64_t u = 0;
      uint32_t w;
      if (size == 4) memcpy(&w, &f, 4), u = w;
      else memcpy(&u, &v, 8);
      put_be(b + 16 + k * size, u, size);
    }
    put_be(lab, 0x801, 4), put_be(lab + 4, 4, 4);
    for (int i = 0; i < 4; i++) lab[8 + i] = (uint8_t)(i % 2);
    char ip[4200], lp[4200];
    snprintf(ip, sizeof ip, "%s/f%d-images-idx3", dir, size);
    snprintf(lp, sizeof lp, "%s/f-labels-idx1", dir);
    assert_int_equal(mpl_test_write_gz(ip, b, 16 + (size_t)8 * size), 0);
    assert_int_equal(mpl_test_write(lp, lab, sizeof lab), 0);
    mpl_dataset *ds = NULL;
    mpl_err err = {0};
    if (mpl_dataset_load_idx(ip, lp, 0, &ds, &err) < 0) fail_msg("%s", err.msg);
    double x[2];
    for (int i = 0; i < 4; i++) {
      mpl_dataset_image(ds, (size_t)i, x);
      for (int j = 0; j < 2; j++) assert_true(x[j] == (i * 2 + j) * 0.375 - 1);
    }
    mpl_dataset_free(ds);
  }
}

/* path refused with code, the message holding want (and path). */
static void refused(const char *images, const char *labels, int code, const char *want) {
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  int rc = mpl_dataset_load_idx(images, labels, 0, &ds, &err);
  if (rc != code) fail_msg("%s + %s: got %d (%s), expected %d", images, labels, rc, err.msg, code);
  mpl_assert_contains(err.msg, want);
  assert_null(ds);
}

static void test_npy_errors(void **state) {
  (void)state;
  static const uint8_t px[4 * 6] = {1, 2, 3};
  static const int64_t lab4[4] = {0, 1, 0, 1};
  char labels[4200], im[4200];
  snprintf(labels, sizeof labels, "%s", write_npy("ok_labels.npy", "<i8", "(4,)", "False", lab4, sizeof lab4));
  snprintf(im, sizeof im, "%s", write_npy("fortran.npy", "|u1", "(4, 6)", "True", px, sizeof px));
  refused(im, labels, MPL_EFORMAT, "fortran.npy: .npy header: 'fortran_order': expected False");
  snprintf(im, sizeof im, "%s", write_npy("complex.npy", "<c8", "(4, 6)", "False", px, sizeof px));
  refused(im, labels, MPL_EFORMAT, "complex.npy: .npy header: 'descr': expected a plain number type");
  snprintf(im, sizeof im, "%s", write_npy("int_images.npy", "<i2", "(4, 3)", "False", px, sizeof px));
  refused(im, labels, MPL_EFORMAT, "int_images.npy: .npy header: 'descr': images must be uint8 (|u1), float32");
  snprintf(im, sizeof im, "%s", write_npy("short.npy", "|u1", "(4, 7)", "False", px, sizeof px));
  refused(im, labels, MPL_EFORMAT, "short.npy: truncated: the shape declares 28 bytes of data, the file has 24");
  snprintf(im, sizeof im, "%s", write_npy("long.npy", "|u1", "(4, 5)", "False", px, sizeof px));
  refused(im, labels, MPL_EFORMAT, "long.npy: trailing data: 4 bytes after the 20 the shape declares");
  snprintf(im, sizeof im, "%s", write_npy("shape1.npy", "|u1", "(24,)", "False", px, sizeof px));
  refused(im, labels, MPL_EFORMAT, "shape1.npy: .npy header: 'shape': expected (n, rows, cols) or (n, d) images (got (24))");
  snprintf(im, sizeof im, "%s", write_npy("three.npy", "|u1", "(3, 8)", "False", px, sizeof px));
  refused(im, labels, MPL_EFORMAT, "three.npy has 3 images but");
  double nan2[2] = {0.5, NAN};
  snprintf(im, sizeof im, "%s", write_npy("nan.npy", "<f8", "(1, 2)", "False", nan2, sizeof nan2));
  refused(im, labels, MPL_EFORMAT, "nan.npy: image 0, element 1 is nan: inputs must be finite");
  snprintf(im, sizeof im, "%s", write_npy("good.npy", "|u1", "(4, 6)", "False", px, sizeof px));
  static const int16_t big[4] = {0, 1, 300, 1};
  refused(im, write_npy("lab300.npy", "<i2", "(4,)", "False", big, sizeof big), MPL_EFORMAT,
          "lab300.npy: label 300 of record 2 (counting from 0) is out of range: labels must be class numbers 0..255");
  static const int8_t neg[4] = {0, -1, 0, 1};
  refused(im, write_npy("labneg.npy", "|i1", "(4,)", "False", neg, sizeof neg), MPL_EFORMAT,
          "labneg.npy: label -1 of record 1");
  static const float fl[4] = {0, 1, 0, 1};
  refused(im, write_npy("labf.npy", "<f4", "(4,)", "False", fl, sizeof fl), MPL_EFORMAT,
          "labf.npy: .npy header: 'descr': labels must be integers");
  static const int64_t gap[4] = {0, 2, 0, 2};
  refused(im, write_npy("labgap.npy", "<i8", "(4,)", "False", gap, sizeof gap), MPL_EFORMAT,
          "labgap.npy: label 2 of record 1 (counting from 0) is out of range: labels must be the classes 0..K-1");
  refused(write_text("notnpy.npy", "\x93NUMPZ......"), labels, MPL_EFORMAT, "notnpy.npy: bad magic");
  uint8_t v9[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 9, 0, 0, 0};
  snprintf(im, sizeof im, "%s/v9.npy", dir);
  assert_int_equal(mpl_test_write(im, v9, sizeof v9), 0);
  refused(im, labels, MPL_EFORMAT, "v9.npy: .npy header: version: expected 1.0, 2.0 or 3.0 (got 9.0)");
}

static void csv_refused(const char *name, const char *text, const char *column, const char *want) {
  char spec[4300];
  snprintf(spec, sizeof spec, "csv:%s%s%s", write_text(name, text), column ? ":" : "", column ? column : "");
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  int rc = mpl_dataset_open(spec, 0, &ds, &err);
  if (rc != MPL_EFORMAT) fail_msg("%s: got %d (%s), expected MPL_EFORMAT", name, rc, err.msg);
  mpl_assert_contains(err.msg, name);
  mpl_assert_contains(err.msg, want);
}

static void test_csv(void **state) {
  (void)state;
  /* quoted fields, CRLF, a label column in the middle, spaces after numbers */
  const char *ok = "x1,label,\"x 2\"\r\n0.5,1,-2\r\n\"0.25\",0,3e-1 \r\n1,1,0\r\n";
  char spec[4300];
  snprintf(spec, sizeof spec, "csv:%s", write_text("ok.csv", ok));
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  if (mpl_dataset_open(spec, 0, &ds, &err) < 0) fail_msg("%s", err.msg);
  assert_true(ds->n == 3 && ds->dim == 2 && ds->n_classes == 2);
  double x[2];
  mpl_dataset_image(ds, 1, x);
  assert_true(x[0] == 0.25 && x[1] == 0.3 && ds->labels[1] == 0);
  mpl_dataset_free(ds);
  csv_refused("nolabel.csv", "a,b\n1,0\n", NULL, "nolabel.csv:1: no column named 'label' for the labels (the header has 'a', 'b')");
  csv_refused("named.csv", "a,b\n1,0\n", "cls", "named.csv:1: no column named 'cls'");
  csv_refused("word.csv", "a,label,b\n1,0,2\n1,1,two\n", NULL, "word.csv:3: column 'b': 'two' is not a finite number");
  csv_refused("fields.csv", "a,label\n1,0\n1,1,5\n", NULL, "fields.csv:3: 3 fields, expected 2 (the header's)");
  csv_refused("fewer.csv", "a,label,b\n1,0,2\n\n1,1\n", NULL, "fewer.csv:4: 2 fields, expected 3");
  csv_refused("badlabel.csv", "a,label\n1,0\n1,1.5\n", NULL, "badlabel.csv:3: column 'label': '1.5' is not a class number 0..255");
  csv_refused("neglabel.csv", "a,label\n1,-1\n", NULL, "neglabel.csv:2: column 'label': '-1' is not a class number");
  csv_refused("quote.csv", "a,label\n\"1,0\n", NULL, "quote.csv: at the end of the file: ");
  csv_refused("quote2.csv", "a,label\n\"1\"x,0\n", NULL, "quote2.csv:2: error parsing data");
  csv_refused("empty.csv", "", NULL, "empty.csv: empty file: expected a header row");
  csv_refused("header.csv", "a,label\n", NULL, "header.csv: a header but no rows of data");
  csv_refused("onlylabel.csv", "label\n1\n", NULL, "onlylabel.csv:1: the header has only the label column");
  csv_refused("inf.csv", "a,label\ninf,0\n", NULL, "inf.csv:2: column 'a': 'inf' is not a finite number");
}

/* `metaplast data`'s list names what mpl_dataset_open takes. */
static void test_list(void **state) {
  (void)state;
  int n;
  const mpl_dataset_info *d = mpl_dataset_list(&n);
  assert_true(n >= 5);
  assert_string_equal(d[0].name, "fashion-mnist");
  for (int i = 0; i < n; i++) assert_true(d[i].what[0] && d[i].where[0]);
  mpl_err err = {0};
  mpl_dataset *ds = NULL;
  assert_int_equal(mpl_dataset_open("nonsense", 0, &ds, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "csv:FILE[:COLUMN] ('metaplast data' lists them)");
}

/* The command prints the list, each with where it is read from. */
static void test_data_command(void **state) {
  (void)state;
  char cmd[8400], out[4200];
  snprintf(out, sizeof out, "%s/data.txt", dir);
  snprintf(cmd, sizeof cmd, "'%s' data > '%s'", MPL_CLI, out);
  assert_int_equal(system(cmd), 0);
  char *t = mpl_test_read(out);
  int n;
  const mpl_dataset_info *d = mpl_dataset_list(&n);
  for (int i = 0; i < n; i++) {
    char line[512];
    snprintf(line, sizeof line, "\n%s\n", d[i].name);
    mpl_assert_contains(t, line);
    snprintf(line, sizeof line, "read from: %s\n", d[i].where);
    mpl_assert_contains(t, line);
  }
  mpl_assert_contains(t, "read from: /usr/share/datasets/fashion-mnist/train-{images-idx3,labels-idx1}-ubyte.gz");
  assert_null(strstr(t, " \n")); /* no trailing spaces */
  free(t);
}

/* }====== */

/* {====== The same inputs in every format: the same search, bit for bit ====== */

/* The synthetic IDX pair's bytes (mpl_test_write_synthetic, gzip) read back with the library. */
static void synthetic(const char *images, const char *labels, uint8_t **px, uint8_t **lab, size_t *n, size_t *dim) {
  size_t rows, cols, nl;
  mpl_err err = {0};
  mpl_test_write_synthetic(images, labels);
  assert_int_equal(mpl_idx_read_images(images, px, n, &rows, &cols, &err), 0);
  assert_int_equal(mpl_idx_read_labels(labels, lab, &nl, &err), 0);
  *dim = rows * cols;
}

static char *search_log(const char *images, const char *labels, const char *name) {
  char out[4200];
  snprintf(out, sizeof out, "%s/run-%s", dir, name);
  mpl_search_cfg c;
  mpl_test_small_search(&c, images, labels, out);
  c.episodes = 4;
  c.seed = 5;
  c.method = MPL_METHOD_PLAIN;
  c.lambda_auto = 0;
  mpl_search_result r;
  mpl_err err = {0};
  if (mpl_search_run(&c, &r, &err) < 0) fail_msg("search on %s: %s", name, err.msg);
  mpl_search_result_free(&r);
  char *log = mpl_test_read_in(out, "log.csv"), *s = mpl_test_strip_last_column(log);
  free(log);
  return s;
}

static void test_same_search(void **state) {
  (void)state;
  char im[4200], lb[4200];
  snprintf(im, sizeof im, "%s/syn-images.gz", dir);
  snprintf(lb, sizeof lb, "%s/syn-labels.gz", dir);
  uint8_t *px, *lab;
  size_t n, dim;
  synthetic(im, lb, &px, &lab, &n, &dim);
  char *want = search_log(im, lb, "idx");
  double *f = malloc(n * dim * sizeof *f);
  int64_t *l8 = malloc(n * sizeof *l8);
  for (size_t i = 0; i < n * dim; i++) f[i] = px[i] / 255.0;
  for (size_t i = 0; i < n; i++) l8[i] = lab[i];
  char shape[64], u8[4200], f8[4200], ln[4200], csv[4300];
  snprintf(shape, sizeof shape, "(%zu, %zu)", n, dim);
  snprintf(u8, sizeof u8, "%s", write_npy("syn_u8.npy", "|u1", shape, "False", px, n * dim));
  snprintf(f8, sizeof f8, "%s", write_npy("syn_f8.npy", "<f8", shape, "False", f, n * dim * sizeof *f));
  snprintf(shape, sizeof shape, "(%zu,)", n);
  snprintf(ln, sizeof ln, "%s", write_npy("syn_lab.npy", "<i8", shape, "False", l8, n * sizeof *l8));
  /* the same numbers as CSV text, %.17g (round-trips), label column first */
  snprintf(csv, sizeof csv, "%s/syn.csv", dir);
  FILE *o = fopen(csv, "w");
  assert_non_null(o);
  fprintf(o, "label");
  for (size_t j = 0; j < dim; j++) fprintf(o, ",p%zu", j);
  for (size_t i = 0; i < n; i++) {
    fprintf(o, "\n%d", lab[i]);
    for (size_t j = 0; j < dim; j++) fprintf(o, ",%.17g", f[i * dim + j]);
  }
  fprintf(o, "\n");
  fclose(o);
  char *a = search_log(u8, ln, "npy-u8"), *b = search_log(f8, lb, "npy-f8");
  char spec[4400];
  snprintf(spec, sizeof spec, "csv:%s", csv);
  mpl_search_cfg c;
  char out[4200];
  snprintf(out, sizeof out, "%s/run-csv", dir);
  mpl_test_small_search(&c, NULL, NULL, out);
  c.data = spec, c.episodes = 4, c.seed = 5, c.method = MPL_METHOD_PLAIN, c.lambda_auto = 0;
  mpl_search_result r;
  mpl_err err = {0};
  if (mpl_search_run(&c, &r, &err) < 0) fail_msg("search on csv: %s", err.msg);
  mpl_search_result_free(&r);
  char *log = mpl_test_read_in(out, "log.csv"), *d = mpl_test_strip_last_column(log);
  assert_string_equal(a, want);
  assert_string_equal(b, want);
  assert_string_equal(d, want);
  free(log), free(a), free(b), free(d), free(want), free(f), free(l8), free(px), free(lab);
}

/* }====== */

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s", mpl_test_path("data"));
  if (mkdir(dir, 0777) != 0) return 1;
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import numpy' 2>/dev/null && /usr/bin/python3 '%s/tests/data/numpy_fixtures.py' '%s'",
           MPL_SOURCE_DIR, dir);
  have_numpy = system(cmd) == 0;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_numpy_images), cmocka_unit_test(test_python_csv), cmocka_unit_test(test_float_idx),
    cmocka_unit_test(test_npy_errors),   cmocka_unit_test(test_csv),        cmocka_unit_test(test_list),
    cmocka_unit_test(test_data_command),
    cmocka_unit_test(test_same_search),
  };
  return cmocka_run_group_tests_name("data", tests, setup, NULL);
}
