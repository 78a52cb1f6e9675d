/* metaplast: NumPy .npy arrays (format versions 1-3, raw or gzip): images of uint8, float32 or
 * float64 and integer labels, with errors naming the file, the header field and what was
 * expected (issue 25). See LICENSE for copyright. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataio.h"

#define NPY_MAGIC "\x93NUMPY"
#define MAX_HEADER 65536

/* {====== The header ====== */

typedef struct npy_header {
  char kind;        /* 'u', 'i', 'f', 'b' */
  int size;         /* bytes per element */
  int big;          /* big-endian */
  int ndim;
  size_t shape[4];
  size_t data;      /* offset of the data */
} npy_header;

static int header_error(const char *path, const char *field, const char *what, const char *got, mpl_err *err) {
  return mpl_errorf(err, MPL_EFORMAT, "%s: .npy header: %s: %s%s%s%s", path, field, what, got ? " (got " : "",
                    got ? got : "", got ? ")" : "");
}

/* The value text after 'key': in a header dict, or NULL. */
static const char *dict_value(const char *h, const char *key) {
  char k[32];
  snprintf(k, sizeof k, "'%s'", key);
  const char *p = strstr(h, k);
  if (!p) return NULL;
  p += strlen(k);
  while (*p == ' ') p++;
  if (*p++ != ':') return NULL;
  while (*p == ' ') p++;
  return p;
}

static int parse_descr(const char *h, const char *path, npy_header *nh, mpl_err *err) {
  const char *v = dict_value(h, "descr");
  if (!v || (*v != '\'' && *v != '"')) return header_error(path, "'descr'", "missing or not a string", NULL, err);
  char d[16] = "";
  size_t k = strcspn(v + 1, "'\"");
  snprintf(d, sizeof d, "%.*s", (int)(k < 15 ? k : 15), v + 1);
  if (strlen(d) < 3 || !strchr("<>|=", d[0]) || !strchr("uifb", d[1]) || !strchr("1248", d[2]) || d[3])
    return header_error(path, "'descr'", "expected a plain number type such as '|u1', '<f4', '<f8', '<i8'", d, err);
  nh->big = d[0] == '>', nh->kind = d[1], nh->size = d[2] - '0';
  return MPL_OK;
}

static int parse_shape(const char *h, const char *path, npy_header *nh, mpl_err *err) {
  const char *v = dict_value(h, "shape");
  if (!v || *v != '(') return header_error(path, "'shape'", "missing or not a tuple", NULL, err);
  nh->ndim = 0;
  for (const char *p = v + 1; *p != ')';) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(p, &end, 10);
    if (end == p || errno || nh->ndim == 4)
      return header_error(path, "'shape'", "expected a tuple of at most 4 sizes", NULL, err);
    nh->shape[nh->ndim++] = (size_t)x;
    p = end;
  }
  return MPL_OK;
}

static int parse_header(const uint8_t *b, size_t len, const char *path, npy_header *nh, mpl_err *err) {
  if (len < 10 || memcmp(b, NPY_MAGIC, 6))
    return mpl_errorf(err, MPL_EFORMAT, "%s: not a .npy file (it does not start with \\x93NUMPY)", path);
  int major = b[6];
  if (major < 1 || major > 3) {
    char got[16];
    snprintf(got, sizeof got, "%d.%d", major, b[7]);
    return header_error(path, "version", "expected 1.0, 2.0 or 3.0", got, err);
  }
  size_t hl = major == 1 ? (size_t)(b[8] | b[9] << 8) : len < 12 ? SIZE_MAX
              : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
  size_t start = major == 1 ? 10 : 12;
  if (hl > MAX_HEADER || start + hl > len)
    return mpl_errorf(err, MPL_EFORMAT, "%s: truncated .npy header (%zu bytes declared, the file has %zu)", path,
                      hl, len);
  char *h = malloc(hl + 1);
  if (!h) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  memcpy(h, b + start, hl);
  h[hl] = '\0';
  int rc = parse_descr(h, path, nh, err);
  const char *fo = rc == 0 ? dict_value(h, "fortran_order") : NULL;
  if (rc == 0 && (!fo || strncmp(fo, "False", 5)))
    rc = header_error(path, "'fortran_order'", fo ? "expected False (C order; use np.ascontiguousarray)" : "missing",
                      NULL, err);
  if (rc == 0) rc = parse_shape(h, path, nh, err);
  free(h);
  nh->data = start + hl;
  return rc;
}

/* }====== */

/* {====== Elements ====== */

static uint64_t load_uint(const uint8_t *p, int size, int big) {
  uint64_t v = 0;
  for (int i = 0; i < size; i++) v |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
  return v;
}

double mpl__load_float(const uint8_t *p, int size, int big) {
  uint64_t u = load_uint(p, size, big);
  if (size == 8) {
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  uint32_t w = (uint32_t)u;
  float f;
  memcpy(&f, &w, 4);
  return f;
}

/* The data block: exactly count elements of nh's size after the header. */
static int check_size(const npy_header *nh, size_t len, size_t count, const char *path, mpl_err *err) {
  size_t have = len - nh->data;
  if (count && (size_t)nh->size > SIZE_MAX / count)
    return mpl_errorf(err, MPL_EFORMAT, "%s: shape too large", path);
  size_t want = count * (size_t)nh->size;
  if (have < want)
    return mpl_errorf(err, MPL_EFORMAT, "%s: truncated: the shape declares %zu bytes of data, the file has %zu", path,
                      want, have);
  if (have > want)
    return mpl_errorf(err, MPL_EFORMAT, "%s: trailing data: %zu bytes after the %zu the shape declares", path,
                      have - want, want);
  return MPL_OK;
}

/* }====== */

/* {====== Images and labels ====== */

static int image_shape(const npy_header *nh, const char *path, mpl__images *im, mpl_err *err) {
  char got[96];
  int k = snprintf(got, sizeof got, "(");
  for (int i = 0; i < nh->ndim; i++) k += snprintf(got + k, sizeof got - (size_t)k, "%s%zu", i ? ", " : "", nh->shape[i]);
  snprintf(got + k, sizeof got - (size_t)k, ")");
  if (nh->ndim < 2 || nh->ndim > 3) return header_error(path, "'shape'", "expected (n, rows, cols) or (n, d) images", got, err);
  im->n = nh->shape[0];
  im->rows = nh->ndim == 3 ? nh->shape[1] : 1;
  im->cols = nh->shape[nh->ndim - 1];
  if (!im->n || !im->rows || !im->cols) return header_error(path, "'shape'", "a size is 0", got, err);
  if (im->rows * im->cols > (1u << 24) || im->n > SIZE_MAX / (im->rows * im->cols) / 8)
    return header_error(path, "'shape'", "implausibly large", got, err);
  return MPL_OK;
}

static int convert_images(const uint8_t *d, const npy_header *nh, const char *path, mpl__images *im, mpl_err *err) {
  size_t count = im->n * im->rows * im->cols;
  if (nh->kind == 'u' && nh->size == 1) {
    if (!(im->u8 = malloc(count ? count : 1))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
    memcpy(im->u8, d, count);
    return MPL_OK;
  }
  if (!(im->f64 = malloc((count ? count : 1) * sizeof *im->f64))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (size_t i = 0; i < count; i++) {
    double x = mpl__load_float(d + i * (size_t)nh->size, nh->size, nh->big);
    if (!isfinite(x))
      return mpl_errorf(err, MPL_EFORMAT, "%s: image %zu, element %zu is %g: inputs must be finite", path,
                        i / (im->rows * im->cols), i % (im->rows * im->cols), x);
    im->f64[i] = x;
  }
  return MPL_OK;
}

/* The whole file and its parsed header; on an error nothing is left allocated. */
static int read_npy(const char *path, uint8_t **b, size_t *len, npy_header *nh, mpl_err *err) {
  int rc = mpl__read_whole(path, b, len, err);
  if (rc == 0 && (rc = parse_header(*b, *len, path, nh, err)) < 0) free(*b), *b = NULL;
  return rc;
}

int mpl__npy_read_images(const char *path, mpl__images *im, mpl_err *err) {
  memset(im, 0, sizeof *im);
  uint8_t *b;
  size_t len;
  npy_header nh = {0};
  int rc = read_npy(path, &b, &len, &nh, err);
  if (rc < 0) return rc;
  if (!((nh.kind == 'u' && nh.size == 1) || (nh.kind == 'f' && (nh.size == 4 || nh.size == 8))))
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: .npy header: 'descr': images must be uint8 (|u1), float32 (<f4) or "
                    "float64 (<f8), not %c%d", path, nh.kind, nh.size);
  if (rc == 0) rc = image_shape(&nh, path, im, err);
  if (rc == 0) rc = check_size(&nh, len, im->n * im->rows * im->cols, path, err);
  if (rc == 0) rc = convert_images(b + nh.data, &nh, path, im, err);
  free(b);
  if (rc < 0) mpl__images_free(im);
  return rc;
}

static int convert_labels(const uint8_t *d, const npy_header *nh, size_t n, const char *path, uint8_t *lab,
                          mpl_err *err) {
  for (size_t i = 0; i < n; i++) {
    uint64_t u = load_uint(d + i * (size_t)nh->size, nh->size, nh->big);
    int64_t v = (int64_t)u;
    if (nh->kind == 'i' && nh->size < 8 && (u >> (8 * nh->size - 1)) & 1) v = (int64_t)(u | (~0ULL << (8 * nh->size)));
    if (nh->kind == 'i' ? (v < 0 || v > 255) : u > 255)
      return mpl_errorf(err, MPL_EFORMAT, "%s: label %lld of record %zu (counting from 0) is out of range: labels must "
                        "be class numbers 0..255", path, nh->kind == 'i' ? (long long)v : (long long)u, i);
    lab[i] = (uint8_t)u;
  }
  return MPL_OK;
}

int mpl__npy_read_labels(const char *path, uint8_t **labels, size_t *n, mpl_err *err) {
  *labels = NULL, *n = 0;
  uint8_t *b;
  size_t len;
  npy_header nh = {0};
  int rc = read_npy(path, &b, &len, &nh, err);
  if (rc < 0) return rc;
  if (nh.kind != 'u' && nh.kind != 'i')
    rc = mpl_errorf(err, MPL_EFORMAT, "%s: .npy header: 'descr': labels must be integers (|u1, <i4, <i8, ...), not "
                    "%c%d", path, nh.kind, nh.size);
  if (rc == 0 && !(nh.ndim == 1 || (nh.ndim == 2 && nh.shape[1] == 1)))
    rc = header_error(path, "'shape'", "expected (n,) or (n, 1) labels", NULL, err);
  if (rc == 0 && nh.shape[0] == 0) rc = header_error(path, "'shape'", "no labels", "(0,)", err);
  if (rc == 0) rc = check_size(&nh, len, nh.shape[0], path, err);
  uint8_t *lab = rc == 0 ? malloc(nh.shape[0]) : NULL;
  if (rc == 0 && !lab) rc = mpl_errorf(err, MPL_ENOMEM, "out of memory");
  if (rc == 0) rc = convert_labels(b + nh.data, &nh, nh.shape[0], path, lab, err);
  free(b);
  if (rc < 0) { free(lab); return rc; }
  *labels = lab, *n = nh.shape[0];
  return MPL_OK;
}

int mpl__is_npy(const char *path) {
  gzFile f = gzopen(path, "rb");
  char m[6] = {0};
  int k = f ? gzread(f, m, 6) : 0;
  if (f) gzclose(f);
  return k == 6 && !memcmp(m, NPY_MAGIC, 6);
}

void mpl__images_free(mpl__images *im) {
  free(im->u8), free(im->f64);
  im->u8 = NULL, im->f64 = NULL;
}

/* }====== */
