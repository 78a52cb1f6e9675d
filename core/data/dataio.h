/* metaplast: the data layer's private readers: IDX, .npy and CSV files into images and labels.
 * Never installed. See LICENSE for copyright. */
#ifndef METAPLAST_DATAIO_H
#define METAPLAST_DATAIO_H

#include <stddef.h>
#include <stdint.h>

#include "metaplast/data.h"
#include "util.h"


/* Streaming IDX reader (idx.c): open checks the header (ndims 1 or 3; dims receives them),
 * read takes `items` records of the item size, finish checks that nothing trails. */
typedef struct mpl__idx mpl__idx;
MPL_INTERNAL int mpl__idx_open(const char *path, int ndims, mpl__idx **out, size_t dims[3], mpl_err *err);
MPL_INTERNAL int mpl__idx_read(mpl__idx *r, uint8_t *buf, size_t items, mpl_err *err);
MPL_INTERNAL int mpl__idx_finish(mpl__idx *r, mpl_err *err);
MPL_INTERNAL void mpl__idx_close(mpl__idx *r);

/* Images held whole (npy.c, csv.c, float IDX): n examples of rows x cols inputs, as bytes (u8,
 * scaled by 1/255) or as numbers taken as they are (f64); one of the two is set. */
typedef struct mpl__images {
  size_t n, rows, cols;
  uint8_t *u8;
  double *f64;
} mpl__images;
MPL_INTERNAL void mpl__images_free(mpl__images *im);
/* An IEEE float of `size` bytes (4 or 8) at p, big- or little-endian (npy.c; float IDX too). */
MPL_INTERNAL double mpl__load_float(const uint8_t *p, int size, int big);
/* NumPy .npy (npy.c): images uint8/float32/float64 of shape (n, rows, cols) or (n, d); labels of an
 * integer type, shape (n,) or (n, 1), values 0..255. */
MPL_INTERNAL int mpl__is_npy(const char *path);
MPL_INTERNAL int mpl__npy_read_images(const char *path, mpl__images *im, mpl_err *err);
MPL_INTERNAL int mpl__npy_read_labels(const char *path, uint8_t **labels, size_t *n, mpl_err *err);
/* CSV (csv.c, libcsv): a header row, the column named label holds class numbers, the others inputs. */
MPL_INTERNAL int mpl__csv_read(const char *path, const char *label, mpl__images *im, uint8_t **labels, mpl_err *err);
/* IDX images of any element type the reader takes (0x08 unsigned byte, 0x0D float32, 0x0E
 * float64), read whole (idx.c). */
MPL_INTERNAL int mpl__idx_read_images_any(const char *path, mpl__images *im, mpl_err *err);
/* The element type byte of an IDX file's magic (0x08, 0x0D, ...), or -1 if it cannot be read. */
MPL_INTERNAL int mpl__idx_type(const char *path);

/* One task's buffers (task.c): the support set (tx, ty: m * k examples) and the query set (qx,
 * qy: m * q) of a dataset of dimension dim, as mpl_task_gather fills them. */
typedef struct mpl__task_buf { double *tx, *qx; int *ty, *qy; } mpl__task_buf;
/* Check cfg against ds (mpl_task_check), start the sampler (mpl_task_init) and allocate b:
 * what a search and an evaluation both set up before their first task. */
MPL_INTERNAL int mpl__task_setup(const mpl_dataset *ds, const mpl_task_cfg *cfg, mpl_task *task, mpl__task_buf *b,
                                 mpl_err *err);
MPL_INTERNAL void mpl__task_buf_free(mpl__task_buf *b);

#endif
