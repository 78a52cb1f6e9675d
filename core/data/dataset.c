/* metaplast: labelled image datasets: IDX pairs streamed into per-class subsets, and named sources.
 * See LICENSE for copyright. */
#include "metaplast/data.h"

#include "dataio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define N_LABELS 256 /* labels are bytes */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_PKG "dataset-fashion-mnist"
#define EMNIST_PREFIX "emnist-bymerge:"

void mpl_dataset_free(mpl_dataset *ds) {
  if (!ds) return;
  free(ds->pixels);
  free(ds->x);
  free(ds->labels);
  free(ds->class_off);
  free(ds->class_idx);
  free(ds);
}

/* Whether the next image of class c is kept; seen[c] counts the images of c met so far. */
static int keep(size_t *seen, uint8_t c, size_t per_class) {
  return per_class == 0 || seen[c]++ < per_class;
}

/* The classes are 0..top, the output layer's width is top + 1 (labels are never remapped), and
 * a task draws from classes with images: a class below the largest label without any image is a
 * bad label (200 in a 10-class file widened the output layer to 201 classes). The message names
 * the file, the first record whose label lies beyond the gap, and what was expected. */
static int check_labels(const char *path, const uint8_t *lab, size_t n, mpl_err *err) {
  size_t count[N_LABELS] = {0};
  int top = 0, gap = -1;
  for (size_t i = 0; i < n; i++) {
    count[lab[i]]++;
    if (lab[i] > top) top = lab[i];
  }
  for (int c = 0; c <= top && gap < 0; c++)
    if (!count[c]) gap = c;
  if (gap < 0) return MPL_OK;
  size_t i = 0, above = 0;
  while (lab[i] < gap) i++; /* the first record beyond the gap */
  for (int c = gap + 1; c <= top; c++) above += count[c];
  char seen[64] = "";
  if (gap > 0) snprintf(seen, sizeof seen, "labels 0..%d all occur, then ", gap - 1);
  return mpl_errorf(err, MPL_EFORMAT,
                    "%s: label %d of record %zu (counting from 0) is out of range: labels must be the classes 0..K-1 "
                    "with at least one image each, but no record has label %d (%s%zu record%s with labels up to %d)",
                    path, lab[i], i, gap, seen, above, above == 1 ? "" : "s", top);
}

/* Allocate a dataset sized for the images that per_class keeps from these labels. */
static int alloc_dataset(const uint8_t *lab, size_t n, size_t dim, size_t per_class, int floats, mpl_dataset **out,
                         mpl_err *err) {
  size_t seen[N_LABELS] = {0}, kept = 0;
  int top = 0;
  for (size_t i = 0; i < n; i++) {
    kept += (size_t)keep(seen, lab[i], per_class);
    if (lab[i] > top) top = lab[i];
  }
  mpl_dataset *ds = calloc(1, sizeof *ds);
  if (ds) {
    ds->n = kept, ds->dim = dim, ds->n_classes = top + 1;
    if (floats) ds->x = malloc((kept * dim > 0 ? kept * dim : 1) * sizeof *ds->x);
    else ds->pixels = malloc(kept * dim);
    ds->labels = malloc(kept);
    ds->class_off = calloc((size_t)ds->n_classes + 1, sizeof *ds->class_off);
    ds->class_idx = malloc(kept * sizeof *ds->class_idx);
  }
  if (!ds || (!ds->pixels && !ds->x) || !ds->labels || !ds->class_off || !ds->class_idx) {
    mpl_dataset_free(ds);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory for a dataset of %zu images of %zu pixels", kept, dim);
  }
  *out = ds;
  return MPL_OK;
}

/* Read the image file one image at a time, copying only the kept ones into ds. */
static int stream_images(mpl__idx *r, const uint8_t *lab, size_t n, size_t per_class, mpl_dataset *ds,
                         mpl_err *err) {
  size_t seen[N_LABELS] = {0}, j = 0;
  uint8_t *skip = malloc(ds->dim);
  if (!skip) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  int rc = MPL_OK;
  for (size_t i = 0; i < n && rc == MPL_OK; i++) {
    int k = keep(seen, lab[i], per_class);
    rc = mpl__idx_read(r, k ? ds->pixels + j * ds->dim : skip, 1, err);
    if (k) ds->labels[j++] = lab[i];
  }
  free(skip);
  return rc < 0 ? rc : mpl__idx_finish(r, err);
}

/* Counting sort of image indices by label; stable, so each class stays in file order. */
static void build_index(mpl_dataset *ds) {
  size_t next[N_LABELS + 1];
  for (size_t i = 0; i < ds->n; i++) ds->class_off[ds->labels[i] + 1]++;
  for (int c = 0; c < ds->n_classes; c++) ds->class_off[c + 1] += ds->class_off[c];
  memcpy(next, ds->class_off, ((size_t)ds->n_classes + 1) * sizeof *next);
  for (size_t i = 0; i < ds->n; i++) ds->class_idx[next[ds->labels[i]]++] = i;
}

/* {====== Images held whole: .npy, CSV, float IDX ====== */

/* Copy the images per_class keeps into ds (bytes stay bytes, numbers stay numbers). */
static void copy_kept(const mpl__images *im, const uint8_t *lab, size_t per_class, mpl_dataset *ds) {
  size_t seen[N_LABELS] = {0}, j = 0, dim = ds->dim;
  for (size_t i = 0; i < im->n; i++) {
    if (!keep(seen, lab[i], per_class)) continue;
    if (im->u8) memcpy(ds->pixels + j * dim, im->u8 + i * dim, dim);
    else memcpy(ds->x + j * dim, im->f64 + i * dim, dim * sizeof *ds->x);
    ds->labels[j++] = lab[i];
  }
}

/* A dataset from images and labels in memory (both freed here). */
static int from_memory(mpl__images *im, uint8_t *lab, size_t nl, const char *images, const char *labels,
                       size_t per_class, mpl_dataset **out, mpl_err *err) {
  mpl_dataset *ds = NULL;
  int rc = check_labels(labels, lab, nl, err);
  if (rc == 0 && im->n != nl)
    rc = mpl_errorf(err, MPL_EFORMAT, "%s has %zu images but %s has %zu labels", images, im->n, labels, nl);
  if (rc == 0) rc = alloc_dataset(lab, nl, im->rows * im->cols, per_class, im->f64 != NULL, &ds, err);
  if (rc == 0) {
    ds->rows = im->rows, ds->cols = im->cols;
    copy_kept(im, lab, per_class, ds);
    build_index(ds);
    *out = ds;
  }
  mpl__images_free(im);
  free(lab);
  return rc;
}

/* Labels from an IDX label file or an integer .npy. */
static int read_labels(const char *path, uint8_t **lab, size_t *n, mpl_err *err) {
  return mpl__is_npy(path) ? mpl__npy_read_labels(path, lab, n, err) : mpl_idx_read_labels(path, lab, n, err);
}

/* Images of a .npy file or a float IDX file, then the dataset. */
static int load_whole(const char *images, const char *labels, size_t per_class, mpl_dataset **out, mpl_err *err) {
  mpl__images im;
  uint8_t *lab;
  size_t nl;
  int rc = read_labels(labels, &lab, &nl, err);
  if (rc < 0) return rc;
  rc = mpl__is_npy(images) ? mpl__npy_read_images(images, &im, err) : mpl__idx_read_images_any(images, &im, err);
  if (rc < 0) { free(lab); return rc; }
  if ((rc = from_memory(&im, lab, nl, images, labels, per_class, out, err)) < 0) return rc;
  snprintf((*out)->name, sizeof (*out)->name, "%s", mpl__is_npy(images) ? "npy" : "idx");
  return MPL_OK;
}

int mpl_dataset_load_csv(const char *path, const char *label, size_t per_class, mpl_dataset **out, mpl_err *err) {
  mpl__images im;
  uint8_t *lab;
  *out = NULL;
  int rc = mpl__csv_read(path, label && *label ? label : "label", &im, &lab, err);
  if (rc < 0) return rc;
  if ((rc = from_memory(&im, lab, im.n, path, path, per_class, out, err)) < 0) return rc;
  snprintf((*out)->name, sizeof (*out)->name, "csv");
  return MPL_OK;
}

/* }====== */

int mpl_dataset_load_idx(const char *images, const char *labels, size_t per_class, mpl_dataset **out,
                         mpl_err *err) {
  uint8_t *lab;
  size_t nl, dims[3];
  mpl__idx *r;
  mpl_dataset *ds = NULL;
  *out = NULL;
  if (mpl__is_npy(images) || mpl__is_npy(labels) || (access(images, F_OK) == 0 && mpl__idx_type(images) != 0x08))
    return load_whole(images, labels, per_class, out, err);
  int rc = mpl_idx_read_labels(labels, &lab, &nl, err);
  if (rc < 0) return rc;
  if ((rc = check_labels(labels, lab, nl, err)) < 0) {
    free(lab);
    return rc;
  }
  rc = mpl__idx_open(images, 3, &r, dims, err);
  if (rc < 0) { free(lab); return rc; }
  if (dims[0] != nl)
    rc = mpl_errorf(err, MPL_EFORMAT, "%s has %zu images but %s has %zu labels", images, dims[0], labels, nl);
  if (rc == MPL_OK) rc = alloc_dataset(lab, nl, dims[1] * dims[2], per_class, 0, &ds, err);
  if (rc == MPL_OK) rc = stream_images(r, lab, nl, per_class, ds, err);
  mpl__idx_close(r);
  free(lab);
  if (rc < 0) { mpl_dataset_free(ds); return rc; }
  ds->rows = dims[1], ds->cols = dims[2];
  snprintf(ds->name, sizeof ds->name, "idx");
  build_index(ds);
  *out = ds;
  return MPL_OK;
}

/* Load a pair and name the result base, or base-N when only N images per class are kept. */
static int load_named(const char *images, const char *labels, const char *base, size_t per_class,
                      mpl_dataset **out, mpl_err *err) {
  int rc = mpl_dataset_load_idx(images, labels, per_class, out, err);
  if (rc < 0) return rc;
  if (per_class)
    snprintf((*out)->name, sizeof (*out)->name, "%s-%zu", base, per_class);
  else
    snprintf((*out)->name, sizeof (*out)->name, "%s", base);
  return MPL_OK;
}

/* Debian's dataset-fashion-mnist; split is "train" or "t10k". */
static int open_fashion(const char *name, const char *split, size_t per_class, mpl_dataset **out,
                        mpl_err *err) {
  char img[256], lab[256];
  snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", FASHION_DIR, split);
  snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", FASHION_DIR, split);
  if (access(img, F_OK) != 0 && errno == ENOENT)
    return mpl_errorf(err, MPL_ENOTFOUND, "%s: %s not found; install it with `apt-get install %s`", name,
                      img, FASHION_PKG);
  return load_named(img, lab, name, per_class, out, err);
}

/* DIR/stem.gz if it exists, else DIR/stem (uncompressed). */
static int find_file(const char *dir, const char *stem, char *path, size_t size, mpl_err *err) {
  if ((size_t)snprintf(path, size, "%s/%s.gz", dir, stem) >= size)
    return mpl_errorf(err, MPL_EINVAL, "%s: directory name too long", dir);
  if (access(path, F_OK) == 0) return MPL_OK;
  snprintf(path, size, "%s/%s", dir, stem);
  if (access(path, F_OK) == 0) return MPL_OK;
  return mpl_errorf(err, MPL_ENOTFOUND, "emnist-bymerge: neither %s.gz nor %s exists", path, path);
}

static int open_emnist(const char *dir, size_t per_class, mpl_dataset **out, mpl_err *err) {
  char img[4096], lab[4096];
  if (!*dir)
    return mpl_errorf(err, MPL_EINVAL, "%s: missing directory, write %sDIR", EMNIST_PREFIX, EMNIST_PREFIX);
  int rc = find_file(dir, "emnist-bymerge-test-images-idx3-ubyte", img, sizeof img, err);
  if (rc == MPL_OK) rc = find_file(dir, "emnist-bymerge-test-labels-idx1-ubyte", lab, sizeof lab, err);
  if (rc < 0) return rc;
  return load_named(img, lab, "emnist-bymerge", per_class, out, err);
}

#define CSV_PREFIX "csv:"

/* csv:PATH or csv:PATH:COLUMN (COLUMN: the label column, default "label"). A last ':' part is the
 * column unless it holds a '/' or the whole of PATH:COLUMN is an existing file. */
static int open_csv(const char *rest, size_t per_class, mpl_dataset **out, mpl_err *err) {
  char path[4096], column[256] = "label";
  if (!*rest) return mpl_errorf(err, MPL_EINVAL, "%s: missing file, write %sFILE[:LABEL_COLUMN]", CSV_PREFIX, CSV_PREFIX);
  if ((size_t)snprintf(path, sizeof path, "%s", rest) >= sizeof path) return mpl_errorf(err, MPL_EINVAL, "csv: path too long");
  char *colon = strrchr(path, ':');
  if (colon && !strchr(colon, '/') && access(path, F_OK) != 0) {
    snprintf(column, sizeof column, "%s", colon + 1);
    *colon = '\0';
  }
  return mpl_dataset_load_csv(path, column, per_class, out, err);
}

/* The --data names (metaplast data). */
static const mpl_dataset_info infos[] = {
  {"fashion-mnist", "Fashion-MNIST training split: 60000 28x28 grey images of clothing, 10 classes (bytes / 255)",
   FASHION_DIR "/train-{images-idx3,labels-idx1}-ubyte.gz (Debian package " FASHION_PKG ")"},
  {"fashion-mnist-test", "Fashion-MNIST test split: 10000 images, 10 classes (bytes / 255)",
   FASHION_DIR "/t10k-{images-idx3,labels-idx1}-ubyte.gz (Debian package " FASHION_PKG ")"},
  {EMNIST_PREFIX "DIR", "EMNIST ByMerge test split: 116323 28x28 handwritten characters, 47 classes (bytes / 255)",
   "DIR/emnist-bymerge-test-{images-idx3,labels-idx1}-ubyte[.gz]"},
  {CSV_PREFIX "FILE[:COLUMN]", "a CSV file: a header row, one example per row; the column COLUMN (default 'label') "
   "holds class numbers 0..255, every other column a numeric input (taken as it is)", "FILE (raw or .gz)"},
  {"--images F --labels F", "an image/label pair, each IDX (images unsigned byte, float32 or float64; labels unsigned "
   "byte) or NumPy .npy (images uint8, float32 or float64 of shape (n, rows, cols) or (n, d); labels any integer "
   "type, shape (n,)); bytes / 255, floats taken as they are", "the two files (raw or .gz)"},
};

const mpl_dataset_info *mpl_dataset_list(int *n) {
  *n = (int)(sizeof infos / sizeof infos[0]);
  return infos;
}

int mpl_dataset_open(const char *spec, size_t per_class, mpl_dataset **out, mpl_err *err) {
  *out = NULL;
  if (!spec) spec = "(null)";
  if (strncmp(spec, CSV_PREFIX, strlen(CSV_PREFIX)) == 0) return open_csv(spec + strlen(CSV_PREFIX), per_class, out, err);
  if (strcmp(spec, "fashion-mnist") == 0) return open_fashion(spec, "train", per_class, out, err);
  if (strcmp(spec, "fashion-mnist-test") == 0) return open_fashion(spec, "t10k", per_class, out, err);
  size_t np = strlen(EMNIST_PREFIX);
  if (strncmp(spec, EMNIST_PREFIX, np) == 0) return open_emnist(spec + np, per_class, out, err);
  return mpl_errorf(err, MPL_EINVAL,
                    "unknown dataset '%s': expected fashion-mnist, fashion-mnist-test, %sDIR or %sFILE[:COLUMN] "
                    "('metaplast data' lists them)", spec, EMNIST_PREFIX, CSV_PREFIX);
}

void mpl_dataset_image(const mpl_dataset *ds, size_t i, double *x) {
  if (ds->x) {
    memcpy(x, ds->x + i * ds->dim, ds->dim * sizeof *x);
    return;
  }
  const uint8_t *p = ds->pixels + i * ds->dim;
  for (size_t j = 0; j < ds->dim; j++) x[j] = p[j] / 255.0;
}
