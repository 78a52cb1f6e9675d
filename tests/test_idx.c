/* metaplast tests: IDX reading (raw and gzip), every malformed input, and dataset loading.
 * See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metaplast/data.h"

#define IMG 0x00000803u
#define LAB 0x00000801u

/* An IDX file image in memory: magic, nd big-endian dims, then len bytes of data. */
typedef struct { uint8_t b[4096]; size_t len; } blob;

static void put32(blob *f, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) f->b[f->len++] = (uint8_t)(v >> s);
}

static blob idx_blob(uint32_t magic, int nd, const uint32_t *dims, const uint8_t *data, size_t len) {
  blob f = {.len = 0};
  put32(&f, magic);
  for (int i = 0; i < nd; i++) put32(&f, dims[i]);
  assert_true(f.len + len <= sizeof f.b);
  if (len) memcpy(f.b + f.len, data, len);
  f.len += len;
  return f;
}

/* Write f to a fresh temporary file (gzip-compressed when gz) and return its path (malloc'd). */
static char *write_tmp(const char *name, const blob *f, int gz) {
  char *path = strdup(mpl_test_path(name));
  assert_non_null(path);
  assert_int_equal(gz ? mpl_test_write_gz(path, f->b, f->len) : mpl_test_write(path, f->b, f->len), 0);
  return path;
}

static void drop(char *path) {
  unlink(path);
  free(path);
}

/* 3 images of 2x3: pixel j of image i is 10*i + j. */
static const uint32_t dims3[3] = {3, 2, 3};
static uint8_t pix3[18];
static const uint8_t lab3[3] = {7, 0, 7};

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < 18; i++) pix3[i] = (uint8_t)(10 * (i / 6) + i % 6);
  return 0;
}

/* Reading images must fail with code and a message naming the file and containing want. */
static void images_fail(const blob *f, int gz, int code, const char *want) {
  char *path = write_tmp(gz ? "bad.gz" : "bad", f, gz);
  uint8_t *px = (uint8_t *)"sentinel";
  size_t n, r, c;
  mpl_err err = {0};
  assert_int_equal(mpl_idx_read_images(path, &px, &n, &r, &c, &err), code);
  assert_int_equal(err.code, code);
  assert_null(px);
  mpl_assert_contains(err.msg, path);
  mpl_assert_contains(err.msg, want);
  drop(path);
}

static void labels_fail(const blob *f, int gz, int code, const char *want) {
  char *path = write_tmp(gz ? "badl.gz" : "badl", f, gz);
  uint8_t *lab = NULL;
  size_t n;
  mpl_err err = {0};
  assert_int_equal(mpl_idx_read_labels(path, &lab, &n, &err), code);
  assert_null(lab);
  mpl_assert_contains(err.msg, path);
  mpl_assert_contains(err.msg, want);
  drop(path);
}

static void read_images_ok(int gz) {
  blob f = idx_blob(IMG, 3, dims3, pix3, sizeof pix3);
  char *path = write_tmp(gz ? "img.gz" : "img", &f, gz);
  uint8_t *px = NULL;
  size_t n = 0, r = 0, c = 0;
  mpl_err err = {0};
  assert_int_equal(mpl_idx_read_images(path, &px, &n, &r, &c, &err), MPL_OK);
  assert_int_equal(n, 3);
  assert_int_equal(r, 2);
  assert_int_equal(c, 3);
  assert_memory_equal(px, pix3, sizeof pix3);
  free(px);
  drop(path);
}

static void test_images_raw(void **state) { (void)state; read_images_ok(0); }
static void test_images_gz(void **state) { (void)state; read_images_ok(1); }

static void test_labels_raw_and_gz(void **state) {
  (void)state;
  uint32_t d = 3;
  blob f = idx_blob(LAB, 1, &d, lab3, 3);
  for (int gz = 0; gz < 2; gz++) {
    char *path = write_tmp("lab", &f, gz);
    uint8_t *lab = NULL;
    size_t n = 0;
    mpl_err err = {0};
    assert_int_equal(mpl_idx_read_labels(path, &lab, &n, &err), MPL_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(lab, lab3, 3);
    free(lab);
    drop(path);
  }
}

static void test_missing_file(void **state) {
  (void)state;
  const char *path = MPL_TEST_TMPDIR "/no-such-file.idx";
  uint8_t *px = NULL;
  size_t n, r, c;
  mpl_err err = {0};
  assert_int_equal(mpl_idx_read_images(path, &px, &n, &r, &c, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, path);
  mpl_assert_contains(err.msg, "No such file or directory");
  assert_int_equal(mpl_idx_read_labels(path, &px, &n, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "cannot open");
}

static void test_directory(void **state) {
  (void)state;
  uint8_t *lab = NULL;
  size_t n;
  mpl_err err = {0};
  assert_int_equal(mpl_idx_read_labels(MPL_TEST_TMPDIR, &lab, &n, &err), MPL_EIO);
  mpl_assert_contains(err.msg, MPL_TEST_TMPDIR ": cannot read: Is a directory");
}

static void test_labels_given_as_images(void **state) {
  (void)state;
  uint32_t d = 3;
  blob f = idx_blob(LAB, 1, &d, lab3, 3);
  images_fail(&f, 0, MPL_EFORMAT, "bad magic 0x00000801 (expected 0x00000803)");
  images_fail(&f, 1, MPL_EFORMAT, "expected an idx3-ubyte image file");
  images_fail(&f, 0, MPL_EFORMAT, "(a label file?)");
}

static void test_images_given_as_labels(void **state) {
  (void)state;
  blob f = idx_blob(IMG, 3, dims3, pix3, sizeof pix3);
  labels_fail(&f, 0, MPL_EFORMAT, "bad magic 0x00000803 (expected 0x00000801)");
  labels_fail(&f, 1, MPL_EFORMAT, "expected an idx1-ubyte label file");
  labels_fail(&f, 0, MPL_EFORMAT, "3 dimensions (an image file?)");
}

static void test_not_idx(void **state) {
  (void)state;
  blob f = {.len = 0};
  memcpy(f.b, "hello, world\n", 13);
  f.len = 13;
  images_fail(&f, 0, MPL_EFORMAT, "bad magic 0x68656C6C");
  images_fail(&f, 1, MPL_EFORMAT, "not an IDX file");
}

static void test_wrong_dims(void **state) {
  (void)state;
  uint32_t d[2] = {3, 6};
  blob f = idx_blob(0x00000802u, 2, d, pix3, sizeof pix3);
  images_fail(&f, 0, MPL_EFORMAT, "has 2 dimensions");
  labels_fail(&f, 0, MPL_EFORMAT, "has 2 dimensions");
}

static void test_wrong_type(void **state) {
  (void)state;
  blob f = idx_blob(0x00000D03u, 3, dims3, pix3, sizeof pix3);
  images_fail(&f, 0, MPL_EFORMAT, "element type is 0x0D");
}

static void test_truncated_header(void **state) {
  (void)state;
  blob f = idx_blob(IMG, 3, dims3, pix3, 0);
  f.len = 10;
  images_fail(&f, 0, MPL_EFORMAT, "truncated header: expected 16 bytes, got 10");
  images_fail(&f, 1, MPL_EFORMAT, "truncated header: expected 16 bytes, got 10");
  f.len = 2;
  labels_fail(&f, 0, MPL_EFORMAT, "truncated header: expected 8 bytes, got 2");
  f.len = 0;
  images_fail(&f, 0, MPL_EFORMAT, "got 0 (empty file)");
}

static void test_truncated_data(void **state) {
  (void)state;
  blob f = idx_blob(IMG, 3, dims3, pix3, 16);
  images_fail(&f, 0, MPL_EFORMAT, "truncated: expected 18 bytes of pixel data, got 16");
  images_fail(&f, 1, MPL_EFORMAT, "truncated: expected 18 bytes of pixel data, got 16");
  uint32_t d = 5;
  blob l = idx_blob(LAB, 1, &d, lab3, 3);
  labels_fail(&l, 1, MPL_EFORMAT, "truncated: expected 5 bytes of label data, got 3");
}

/* A header claiming ~4e9 images must fail as truncation without allocating for them all. */
static void test_lying_header(void **state) {
  (void)state;
  uint32_t d[3] = {0xFFFFFFFFu, 28, 28};
  blob f = idx_blob(IMG, 3, d, pix3, sizeof pix3);
  images_fail(&f, 0, MPL_EFORMAT, "truncated: expected 3367254359280 bytes of pixel data, got 18");
}

static void test_trailing_data(void **state) {
  (void)state;
  uint32_t d[3] = {2, 2, 3};
  blob f = idx_blob(IMG, 3, d, pix3, sizeof pix3);
  images_fail(&f, 0, MPL_EFORMAT, "trailing data: 6 bytes after the 2 images");
  images_fail(&f, 1, MPL_EFORMAT, "trailing data: 6 bytes after the 2 images");
  uint32_t n = 2;
  blob l = idx_blob(LAB, 1, &n, lab3, 3);
  labels_fail(&l, 0, MPL_EFORMAT, "trailing data: 1 bytes after the 2 labels");
}

static void test_zero_and_absurd_dims(void **state) {
  (void)state;
  uint32_t d[3] = {3, 0, 3};
  blob f = idx_blob(IMG, 3, d, pix3, 0);
  images_fail(&f, 0, MPL_EFORMAT, "dimension 1 (rows) is 0");
  d[1] = 2, d[0] = 0;
  f = idx_blob(IMG, 3, d, pix3, 0);
  images_fail(&f, 0, MPL_EFORMAT, "dimension 0 (image count) is 0");
  d[0] = 3, d[2] = 100000;
  f = idx_blob(IMG, 3, d, pix3, sizeof pix3);
  images_fail(&f, 0, MPL_EFORMAT, "dimension 2 (columns) is 100000, implausibly large");
  /* every dimension bound, at the first value past it (4096 is the largest plausible side) */
  d[0] = 3, d[1] = 4097, d[2] = 3;
  f = idx_blob(IMG, 3, d, pix3, sizeof pix3);
  images_fail(&f, 0, MPL_EFORMAT, "dimension 1 (rows) is 4097, implausibly large (at most 4096)");
  images_fail(&f, 1, MPL_EFORMAT, "dimension 1 (rows) is 4097, implausibly large (at most 4096)");
  d[1] = 2, d[2] = 4097;
  f = idx_blob(IMG, 3, d, pix3, sizeof pix3);
  images_fail(&f, 0, MPL_EFORMAT, "dimension 2 (columns) is 4097, implausibly large (at most 4096)");
  uint32_t n = 0;
  blob l = idx_blob(LAB, 1, &n, lab3, 0);
  labels_fail(&l, 0, MPL_EFORMAT, "dimension 0 (label count) is 0");
}

/* A gzip file with a damaged body must fail with an error, never crash or read garbage. */
static void test_corrupt_gzip(void **state) {
  (void)state;
  uint8_t big[2000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7 % 251);
  uint32_t d[3] = {2, 25, 40};
  blob f = idx_blob(IMG, 3, d, big, sizeof big);
  char *path = write_tmp("corrupt.gz", &f, 1);
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, size - 6, SEEK_SET); /* inside the CRC32 of the gzip trailer */
  int byte = fgetc(fp);
  fseek(fp, size - 6, SEEK_SET);
  fputc(byte ^ 0xFF, fp);
  fclose(fp);
  uint8_t *px = NULL;
  size_t n, r, c;
  mpl_err err = {0};
  assert_int_equal(mpl_idx_read_images(path, &px, &n, &r, &c, &err), MPL_EFORMAT);
  assert_null(px);
  mpl_assert_contains(err.msg, path);
  mpl_assert_contains(err.msg, "corrupt gzip data");
  drop(path);
}

/* A gzip stream cut short is reported as truncated data, like a short raw file. */
static void test_truncated_gzip_stream(void **state) {
  (void)state;
  uint8_t big[2000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7 % 251);
  uint32_t d[3] = {2, 25, 40};
  blob f = idx_blob(IMG, 3, d, big, sizeof big);
  char *path = write_tmp("cut.gz", &f, 1);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  uint8_t gz[4096];
  size_t len = fread(gz, 1, sizeof gz, fp);
  fclose(fp);
  assert_int_equal(mpl_test_write(path, gz, len / 2), 0);
  uint8_t *px = NULL;
  size_t n, r, c;
  mpl_err err = {0};
  assert_int_equal(mpl_idx_read_images(path, &px, &n, &r, &c, &err), MPL_EFORMAT);
  assert_null(px);
  mpl_assert_contains(err.msg, path);
  mpl_assert_contains(err.msg, "truncated: expected 2000 bytes of pixel data, got ");
  drop(path);
}

/* ---- datasets ---- */

/* Labels of the subsetting test: classes 0..2 with 2-4 images, class 3 with one (a class may not
 * be absent below the largest label: test_labels). */
static const uint8_t sub_lab[10] = {2, 0, 1, 0, 2, 0, 1, 2, 0, 3};

/* Write a 10-image 1x2 dataset whose pixel 0 is the image's file index; paths are malloc'd. */
static void write_pair(char **img, char **lab, int gz, size_t n_img, size_t n_lab) {
  uint8_t px[20];
  for (int i = 0; i < 20; i++) px[i] = (uint8_t)(i % 2 ? 255 - i / 2 : i / 2);
  uint32_t d[3] = {(uint32_t)n_img, 1, 2}, nl = (uint32_t)n_lab;
  blob fi = idx_blob(IMG, 3, d, px, 2 * n_img), fl = idx_blob(LAB, 1, &nl, sub_lab, n_lab);
  *img = write_tmp("ds-img", &fi, gz);
  *lab = write_tmp("ds-lab", &fl, gz);
}

static void test_dataset_all(void **state) {
  (void)state;
  char *img, *lab;
  write_pair(&img, &lab, 1, 10, 10);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_load_idx(img, lab, 0, &ds, &err), MPL_OK);
  assert_string_equal(ds->name, "idx");
  assert_int_equal(ds->n, 10);
  assert_int_equal(ds->rows, 1);
  assert_int_equal(ds->cols, 2);
  assert_int_equal(ds->dim, 2);
  assert_int_equal(ds->n_classes, 4); /* max label + 1 */
  assert_memory_equal(ds->labels, sub_lab, 10);
  static const size_t off[5] = {0, 4, 6, 9, 10}, idx[10] = {1, 3, 5, 8, 2, 6, 0, 4, 7, 9};
  assert_memory_equal(ds->class_off, off, sizeof off);
  assert_memory_equal(ds->class_idx, idx, sizeof idx);
  mpl_dataset_free(ds);
  drop(img);
  drop(lab);
}

static void test_dataset_per_class(void **state) {
  (void)state;
  char *img, *lab;
  write_pair(&img, &lab, 0, 10, 10);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_load_idx(img, lab, 2, &ds, &err), MPL_OK);
  /* First two of each class in file order: file images 0,1,2,3,4,6 and 9. */
  static const uint8_t kept[7] = {0, 1, 2, 3, 4, 6, 9};
  assert_int_equal(ds->n, 7);
  assert_int_equal(ds->n_classes, 4);
  for (size_t i = 0; i < ds->n; i++) {
    assert_int_equal(ds->pixels[2 * i], kept[i]);
    assert_int_equal(ds->pixels[2 * i + 1], 255 - kept[i]);
    assert_int_equal(ds->labels[i], sub_lab[kept[i]]);
  }
  static const size_t off[5] = {0, 2, 4, 6, 7}, idx[7] = {1, 3, 2, 5, 0, 4, 6};
  assert_memory_equal(ds->class_off, off, sizeof off);
  assert_memory_equal(ds->class_idx, idx, sizeof idx);
  mpl_dataset_free(ds);
  drop(img);
  drop(lab);
}

static void test_dataset_image_scaling(void **state) {
  (void)state;
  char *img, *lab;
  write_pair(&img, &lab, 0, 10, 10);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_load_idx(img, lab, 0, &ds, &err), MPL_OK);
  double x[2];
  mpl_dataset_image(ds, 0, x);
  mpl_assert_close(x[0], 0.0, 0, 0);
  mpl_assert_close(x[1], 1.0, 0, 0);
  mpl_dataset_image(ds, 5, x);
  mpl_assert_close(x[0], 5 / 255.0, 1e-15, 0);
  mpl_assert_close(x[1], 250 / 255.0, 1e-15, 0);
  mpl_dataset_free(ds);
  drop(img);
  drop(lab);
}

static void test_dataset_count_mismatch(void **state) {
  (void)state;
  char *img, *lab;
  write_pair(&img, &lab, 0, 10, 9);
  mpl_dataset *ds = (mpl_dataset *)&ds;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_load_idx(img, lab, 0, &ds, &err), MPL_EFORMAT);
  assert_null(ds);
  char want[1024];
  snprintf(want, sizeof want, "%s has 10 images but %s has 9 labels", img, lab);
  mpl_assert_contains(err.msg, want);
  drop(img);
  drop(lab);
}

/* Errors while streaming (here: the image data ends early) free everything and name the file. */
static void test_dataset_truncated_images(void **state) {
  (void)state;
  char *img, *lab;
  write_pair(&img, &lab, 1, 10, 10);
  uint8_t px[19] = {0};
  uint32_t d[3] = {10, 1, 2};
  blob fi = idx_blob(IMG, 3, d, px, sizeof px);
  assert_int_equal(mpl_test_write_gz(img, fi.b, fi.len), 0);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_load_idx(img, lab, 1, &ds, &err), MPL_EFORMAT);
  assert_null(ds);
  mpl_assert_contains(err.msg, img);
  mpl_assert_contains(err.msg, "truncated: expected 20 bytes of pixel data, got 19");
  drop(img);
  drop(lab);
}

static void test_dataset_bad_labels(void **state) {
  (void)state;
  char *img, *lab;
  write_pair(&img, &lab, 0, 10, 10);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_load_idx(lab, img, 0, &ds, &err), MPL_EFORMAT); /* swapped */
  assert_null(ds);
  mpl_assert_contains(err.msg, img);
  mpl_assert_contains(err.msg, "expected an idx1-ubyte label file");
  drop(img);
  drop(lab);
}

static void test_open_unknown(void **state) {
  (void)state;
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_open("mnist", 0, &ds, &err), MPL_EINVAL);
  assert_null(ds);
  mpl_assert_contains(err.msg, "unknown dataset 'mnist'");
  mpl_assert_contains(err.msg, "fashion-mnist, fashion-mnist-test, emnist-bymerge:DIR or csv:FILE[:COLUMN]");
  assert_int_equal(mpl_dataset_open("emnist-bymerge:", 0, &ds, &err), MPL_EINVAL);
  mpl_assert_contains(err.msg, "missing directory");
}

static void test_open_emnist_missing(void **state) {
  (void)state;
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_open("emnist-bymerge:/nonexistent", 400, &ds, &err), MPL_ENOTFOUND);
  mpl_assert_contains(err.msg, "/nonexistent/emnist-bymerge-test-images-idx3-ubyte.gz");
}

/* emnist-bymerge:DIR takes .gz or uncompressed files, in any mix. */
static void test_open_emnist_dir(void **state) {
  (void)state;
  char dir[4096], img[4200], lab[4200];
  snprintf(dir, sizeof dir, "%s", mpl_test_path("emnist"));
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(img, sizeof img, "%s/emnist-bymerge-test-images-idx3-ubyte", dir);
  snprintf(lab, sizeof lab, "%s/emnist-bymerge-test-labels-idx1-ubyte.gz", dir);
  uint32_t d[3] = {3, 2, 3}, n = 3;
  static const uint8_t lab_em[3] = {1, 0, 1}; /* lab3's pattern without the absent classes 1..6 */
  blob fi = idx_blob(IMG, 3, d, pix3, sizeof pix3), fl = idx_blob(LAB, 1, &n, lab_em, 3);
  assert_int_equal(mpl_test_write(img, fi.b, fi.len), 0);
  assert_int_equal(mpl_test_write_gz(lab, fl.b, fl.len), 0);
  char spec[4200];
  snprintf(spec, sizeof spec, "emnist-bymerge:%s", dir);
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  assert_int_equal(mpl_dataset_open(spec, 0, &ds, &err), MPL_OK);
  assert_string_equal(ds->name, "emnist-bymerge");
  assert_int_equal(ds->n, 3);
  assert_int_equal(ds->n_classes, 2);
  mpl_dataset_free(ds);
  assert_int_equal(mpl_dataset_open(spec, 1, &ds, &err), MPL_OK);
  assert_string_equal(ds->name, "emnist-bymerge-1");
  assert_int_equal(ds->n, 2);
  assert_int_equal(ds->pixels[ds->dim], 10); /* image 1 (class 0); image 2 was the second 1 */
  mpl_dataset_free(ds);
  unlink(img);
  unlink(lab);
  assert_int_equal(rmdir(dir), 0);
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_fashion_mnist(void **state) {
  (void)state;
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  int rc = mpl_dataset_open("fashion-mnist", 0, &ds, &err);
  if (!is_dir("/usr/share/datasets/fashion-mnist")) {
    assert_int_equal(rc, MPL_ENOTFOUND);
    mpl_assert_contains(err.msg, "apt-get install dataset-fashion-mnist");
    printf("skipping: /usr/share/datasets/fashion-mnist is absent (apt-get install dataset-fashion-mnist)\n");
    skip();
  }
  assert_int_equal(rc, MPL_OK);
  assert_string_equal(ds->name, "fashion-mnist");
  assert_int_equal(ds->n, 60000);
  assert_int_equal(ds->rows, 28);
  assert_int_equal(ds->cols, 28);
  assert_int_equal(ds->n_classes, 10);
  for (int c = 0; c < 10; c++) assert_int_equal(ds->class_off[c + 1] - ds->class_off[c], 6000);
  mpl_dataset_free(ds);
  assert_int_equal(mpl_dataset_open("fashion-mnist-test", 100, &ds, &err), MPL_OK);
  assert_string_equal(ds->name, "fashion-mnist-test-100");
  assert_int_equal(ds->n, 1000);
  mpl_dataset_free(ds);
}

static void test_emnist_bymerge(void **state) {
  (void)state;
  const char *dir = MPL_SHARED_DIR "/data/emnist";
  if (!is_dir(dir)) {
    printf("skipping: %s is absent\n", dir);
    skip();
  }
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  int rc = mpl_dataset_open("emnist-bymerge:" MPL_SHARED_DIR "/data/emnist", 400, &ds, &err);
  if (rc < 0) fail_msg("%s", err.msg);
  assert_string_equal(ds->name, "emnist-bymerge-400");
  assert_int_equal(ds->n, 47 * 400);
  assert_int_equal(ds->dim, 784);
  assert_int_equal(ds->n_classes, 47);
  for (int c = 0; c < 47; c++) assert_int_equal(ds->class_off[c + 1] - ds->class_off[c], 400);
  mpl_dataset_free(ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_images_raw),
      cmocka_unit_test(test_images_gz),
      cmocka_unit_test(test_labels_raw_and_gz),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_directory),
      cmocka_unit_test(test_labels_given_as_images),
      cmocka_unit_test(test_images_given_as_labels),
      cmocka_unit_test(test_not_idx),
      cmocka_unit_test(test_wrong_dims),
      cmocka_unit_test(test_wrong_type),
      cmocka_unit_test(test_truncated_header),
      cmocka_unit_test(test_truncated_data),
      cmocka_unit_test(test_lying_header),
      cmocka_unit_test(test_trailing_data),
      cmocka_unit_test(test_zero_and_absurd_dims),
      cmocka_unit_test(test_corrupt_gzip),
      cmocka_unit_test(test_truncated_gzip_stream),
      cmocka_unit_test(test_dataset_all),
      cmocka_unit_test(test_dataset_per_class),
      cmocka_unit_test(test_dataset_image_scaling),
      cmocka_unit_test(test_dataset_count_mismatch),
      cmocka_unit_test(test_dataset_truncated_images),
      cmocka_unit_test(test_dataset_bad_labels),
      cmocka_unit_test(test_open_unknown),
      cmocka_unit_test(test_open_emnist_missing),
      cmocka_unit_test(test_open_emnist_dir),
      cmocka_unit_test(test_fashion_mnist),
      cmocka_unit_test(test_emnist_bymerge),
  };
  return cmocka_run_group_tests_name("idx", tests, setup, NULL);
}
