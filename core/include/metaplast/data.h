/* metaplast: labelled image datasets (IDX files) and the episode task sampler.
 * See LICENSE for copyright. */
#ifndef METAPLAST_DATA_H
#define METAPLAST_DATA_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files (http://yann.lecun.com/exdb/mnist/ format), raw or gzip ----
 * Images: magic 0x00000803 (u8, 3 dims: n, rows, cols). Labels: magic 0x00000801 (u8, 1 dim).
 * Each reader fails with a message naming the file and what is wrong: missing file, bad magic,
 * wrong number of dimensions, zero-sized dimension, truncated data, trailing garbage. */

/* Read an idx3-ubyte image file. On success *pixels (owned, free() it) holds n*rows*cols bytes. */
MPL_API int mpl_idx_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows,
                                size_t *cols, mpl_err *err);
/* Read an idx1-ubyte label file. On success *labels (owned, free() it) holds n bytes. */
MPL_API int mpl_idx_read_labels(const char *path, uint8_t **labels, size_t *n, mpl_err *err);

/* ---- Datasets ---- */
typedef struct mpl_dataset {
  char name[64];         /* e.g. "fashion-mnist", "emnist-bymerge-400", "idx" */
  size_t n;              /* number of images kept */
  size_t dim;            /* pixels per image = rows * cols */
  size_t rows, cols;
  int n_classes;         /* output width: max label + 1 (labels are never remapped) */
  uint8_t *pixels;       /* n * dim raw bytes; scale by 1/255 to get [0,1] (NULL when x is set) */
  uint8_t *labels;       /* n labels */
  /* Per-class index, in file order: the images of class c are
   * class_idx[class_off[c] .. class_off[c+1]-1] (indices into pixels/labels). */
  size_t *class_off;     /* n_classes + 1 entries */
  size_t *class_idx;     /* n entries */
  double *x;             /* n * dim inputs taken as they are, for data stored as numbers (float
                          * IDX, .npy float32/float64, CSV), or NULL (bytes in pixels) */
} mpl_dataset;

/* Input scaling, one rule for every reader (docs/data.md): data stored as bytes (IDX unsigned
 * byte, .npy uint8) is divided by 255, so inputs lie in [0, 1]; data stored as numbers (IDX
 * float32/float64, .npy float32/float64, CSV) is taken as it is, and must be finite (an error
 * names the file, the image and the element). Scale your own numbers to about [0, 1]: the
 * network's softplus and initial weights are set for inputs of that order. */

/* Load an image/label pair: IDX (images unsigned byte, float32 0x0D or float64 0x0E; labels
 * unsigned byte) or NumPy .npy (format 1-3; images |u1, <f4/>f4, <f8/>f8 of shape (n, rows, cols)
 * or (n, d); labels any integer type of shape (n,) or (n, 1), values 0..255), recognised by their
 * content, raw or gzip; the two may be of different formats. per_class > 0 keeps only the first per_class images of each
 * class in file order (0 keeps all); classes with fewer images keep what they have.
 * Images not kept are never held in memory at once (the reader streams).
 * Errors name the file; an image/label count mismatch names both files. The labels must be the
 * classes 0..K-1 with at least one image each: a label beyond a class without images (200 in a
 * 10-class file) is MPL_EFORMAT naming the file, the label, its record and the missing class. */
MPL_API int mpl_dataset_load_idx(const char *images, const char *labels, size_t per_class,
                                 mpl_dataset **out, mpl_err *err);

/* A CSV file (libcsv; raw or gzip): a header row naming the columns; the column named label
 * (NULL or "": "label") holds class numbers 0..255, every other column a numeric input; one row
 * one example (rows = 1, cols = the inputs). Errors name FILE:LINE and the column. */
MPL_API int mpl_dataset_load_csv(const char *path, const char *label, size_t per_class, mpl_dataset **out,
                                 mpl_err *err);

/* Open a named source:
 *   "fashion-mnist"          Debian's dataset-fashion-mnist, train split
 *                            (/usr/share/datasets/fashion-mnist/train-*-idx?-ubyte.gz)
 *   "fashion-mnist-test"     the same package's t10k split
 *   "emnist-bymerge:DIR"     DIR/emnist-bymerge-test-{images-idx3,labels-idx1}-ubyte[.gz]
 *   "csv:FILE[:COLUMN]"      mpl_dataset_load_csv(FILE, COLUMN)
 * per_class as in mpl_dataset_load_idx. An unknown name is MPL_EINVAL naming the accepted forms. */
MPL_API int mpl_dataset_open(const char *spec, size_t per_class, mpl_dataset **out, mpl_err *err);

/* The --data names and the other forms, with what each is and where it is read from (static). */
typedef struct mpl_dataset_info { const char *name, *what, *where; } mpl_dataset_info;
MPL_API const mpl_dataset_info *mpl_dataset_list(int *n);

/* Free a dataset; NULL is a no-op. */
MPL_API void mpl_dataset_free(mpl_dataset *ds);

/* Copy image i's inputs into x[0..dim-1]: pixel / 255.0, or the stored numbers. */
MPL_API void mpl_dataset_image(const mpl_dataset *ds, size_t i, double *x);

/* ---- Tasks (one episode's data) ---- */
typedef enum mpl_sampling {
  MPL_SAMPLE_CLEAN = 0, /* M distinct classes; K+Q images per class drawn afresh without
                           replacement each episode; first K train, last Q query (disjoint) */
  MPL_SAMPLE_PAPER = 1  /* M classes drawn uniformly WITH replacement; each class always
                           contributes its fixed first K train and next Q query images
                           in dataset order, as the reference code does */
} mpl_sampling;

typedef struct mpl_task_cfg {
  int m;                 /* classes per task (default 5) */
  int k;                 /* training images per class (default 50) */
  int q;                 /* query images per class (default 10) */
  mpl_sampling mode;
} mpl_task_cfg;

typedef struct mpl_task {
  int m, k, q;
  int *classes;          /* m class ids drawn (may repeat in PAPER mode) */
  size_t *train;         /* m*k dataset indices, in the (uniformly shuffled) online order */
  size_t *query;         /* m*q dataset indices, grouped by class in draw order */
} mpl_task;

/* Check that ds can serve cfg (enough classes, each used class with >= K+Q images in PAPER
 * mode, enough classes with >= K+Q images in CLEAN mode); error names the first offending class. */
MPL_API int mpl_task_check(const mpl_dataset *ds, const mpl_task_cfg *cfg, mpl_err *err);

/* Allocate a task's arrays for cfg. Free with mpl_task_free. */
MPL_API int mpl_task_init(mpl_task *t, const mpl_task_cfg *cfg, mpl_err *err);
MPL_API void mpl_task_free(mpl_task *t);

/* Draw one task with rng (GSL's gsl_rng_uniform_int / gsl_ran_shuffle / gsl_ran_choose only,
 * so it is deterministic given the generator state). In CLEAN mode only classes with >= K+Q
 * images are eligible. */
MPL_API int mpl_task_sample(const mpl_dataset *ds, const mpl_task_cfg *cfg, gsl_rng *rng,
                            mpl_task *t, mpl_err *err);

/* Gather a task's images (pixels in [0,1], rows of ds->dim) and labels: the m*k training images
 * in online order into train_x/train_y, the m*q query images into query_x/query_y. */
MPL_API void mpl_task_gather(const mpl_dataset *ds, const mpl_task *t, double *train_x, int *train_y,
                             double *query_x, int *query_y);

#ifdef __cplusplus
}
#endif
#endif
