/* metaplast: IDX (MNIST-format) image and label files, raw or gzip, with errors that name the file.
 * See LICENSE for copyright. */
#include "metaplast/data.h"

#include "dataio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The stream reader below is internal to libmetaplast: dataset.c uses it to keep only the
 * images it wants without holding the whole file. Its prototypes are repeated there. */

#define MAX_SIDE 4096          /* larger rows/cols means a corrupt header, not a real image */
#define FIRST_ALLOC (1u << 24) /* whole-file reads grow from here, so a lying header costs little */
#define MAX_GZREAD (1u << 30)  /* gzread takes an unsigned length and returns an int */

struct mpl__idx {
  gzFile f;
  const char *path; /* borrowed from the caller */
  int ndims;
  int floats;       /* 1: float32 (0x0D) and float64 (0x0E) images are accepted too */
  int esize;        /* bytes per element: 1, 4 or 8 */
  size_t n, item;   /* items, and bytes per item */
  size_t done;      /* bytes of data read so far */
};

static const char *kind(int ndims) {
  return ndims == 3 ? "an idx3-ubyte image file" : "an idx1-ubyte label file";
}

static const char *data_word(int ndims) { return ndims == 3 ? "pixel" : "label"; }

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A failed gzread: zlib's description, which for an OS error (Z_ERRNO) is strerror's. zlib
 * prefixes it with "path: ", which our own prefix makes redundant. */
static int read_error(const mpl__idx *r, mpl_err *err) {
  int zerr = Z_OK;
  const char *msg = gzerror(r->f, &zerr);
  size_t pl = strlen(r->path);
  if (strncmp(msg, r->path, pl) == 0 && strncmp(msg + pl, ": ", 2) == 0) msg += pl + 2;
  if (zerr == Z_ERRNO) return mpl_errorf(err, MPL_EIO, "%s: cannot read: %s", r->path, msg);
  if (zerr == Z_MEM_ERROR) return mpl_errorf(err, MPL_ENOMEM, "%s: out of memory in zlib", r->path);
  return mpl_errorf(err, MPL_EFORMAT, "%s: corrupt gzip data: %s", r->path, msg);
}

/* Read up to len bytes; *got is how many arrived before end of file. A premature end of a gzip
 * stream (Z_BUF_ERROR) counts as end of file, so the caller reports it as truncation. */
static int read_raw(mpl__idx *r, uint8_t *buf, size_t len, size_t *got, mpl_err *err) {
  *got = 0;
  while (*got < len) {
    size_t want = len - *got < MAX_GZREAD ? len - *got : MAX_GZREAD;
    int k = gzread(r->f, buf + *got, (unsigned)want);
    if (k < 0) return read_error(r, err);
    *got += (size_t)k;
    if ((size_t)k < want) {
      int zerr = Z_OK;
      gzerror(r->f, &zerr);
      if (zerr != Z_OK && zerr != Z_BUF_ERROR) return read_error(r, err);
      break;
    }
  }
  return MPL_OK;
}

static int check_magic(mpl__idx *r, const uint8_t m[4], mpl_err *err) {
  const char *path = r->path;
  int ndims = r->ndims;
  uint32_t got = be32(m), want = 0x800u | (uint32_t)ndims;
  r->esize = 1;
  if (got == want) return MPL_OK;
  if (r->floats && !m[0] && !m[1] && (m[2] == 0x0D || m[2] == 0x0E) && m[3] == ndims) {
    r->esize = m[2] == 0x0D ? 4 : 8;
    return MPL_OK;
  }
  char why[96];
  if (m[0] || m[1])
    snprintf(why, sizeof why, "this is not an IDX file");
  else if (m[2] != 0x08)
    snprintf(why, sizeof why, "its element type is 0x%02X, not unsigned byte (0x08)%s", m[2],
             ndims == 3 ? ", float32 (0x0D) or float64 (0x0E)" : "");
  else
    snprintf(why, sizeof why, "this one has %d dimension%s%s", m[3], m[3] == 1 ? "" : "s",
             m[3] == 3 ? " (an image file?)" : m[3] == 1 ? " (a label file?)" : "");
  return mpl_errorf(err, MPL_EFORMAT, "%s: bad magic 0x%08X (expected 0x%08X): expected %s, but %s", path,
                    (unsigned)got, (unsigned)want, kind(ndims), why);
}

static int check_dims(const mpl__idx *r, const size_t *dims, mpl_err *err) {
  static const char *names[] = {"count", "rows", "columns"};
  for (int i = 0; i < r->ndims; i++) {
    const char *name = i == 0 ? (r->ndims == 3 ? "image count" : "label count") : names[i];
    if (dims[i] == 0) return mpl_errorf(err, MPL_EFORMAT, "%s: dimension %d (%s) is 0", r->path, i, name);
    if (i > 0 && dims[i] > MAX_SIDE)
      return mpl_errorf(err, MPL_EFORMAT, "%s: dimension %d (%s) is %zu, implausibly large (at most %d)",
                        r->path, i, name, dims[i], MAX_SIDE);
  }
  if (r->ndims == 3 && dims[0] > SIZE_MAX / (dims[1] * dims[2]))
    return mpl_errorf(err, MPL_EFORMAT, "%s: %zu images of %zux%zu do not fit in memory", r->path,
                      dims[0], dims[1], dims[2]);
  return MPL_OK;
}

/* Read and check the magic and dimensions; dims[0..ndims-1] get the sizes. */
static int read_header(mpl__idx *r, size_t dims[3], mpl_err *err) {
  uint8_t h[16];
  size_t len = 4 + 4 * (size_t)r->ndims, got;
  int rc = read_raw(r, h, 4, &got, err);
  if (rc == MPL_OK && got == 4) {
    rc = check_magic(r, h, err);
    if (rc == MPL_OK) rc = read_raw(r, h + 4, len - 4, &got, err);
    got += 4;
  }
  if (rc < 0) return rc;
  if (got < len)
    return mpl_errorf(err, MPL_EFORMAT, "%s: truncated header: expected %zu bytes, got %zu%s", r->path,
                      len, got, got == 0 ? " (empty file)" : "");
  for (int i = 0; i < r->ndims; i++) dims[i] = be32(h + 4 + 4 * i);
  return check_dims(r, dims, err);
}

static int idx_open(const char *path, int ndims, int floats, mpl__idx **out, size_t dims[3], mpl_err *err) {
  *out = NULL;
  mpl__idx *r = calloc(1, sizeof *r);
  if (!r) return mpl_errorf(err, MPL_ENOMEM, "%s: out of memory", path);
  r->path = path;
  r->ndims = ndims;
  r->floats = floats;
  errno = 0;
  r->f = gzopen(path, "rb");
  if (!r->f) {
    int e = errno;
    free(r);
    if (e == 0) return mpl_errorf(err, MPL_ENOMEM, "%s: cannot open: out of memory in zlib", path);
    return mpl_errorf(err, e == ENOENT ? MPL_ENOTFOUND : MPL_EIO, "%s: cannot open: %s", path, strerror(e));
  }
  gzbuffer(r->f, 1u << 17);
  size_t d[3] = {1, 1, 1};
  int rc = read_header(r, d, err);
  if (rc < 0) { mpl__idx_close(r); return rc; }
  r->n = d[0];
  r->item = d[1] * d[2] * (size_t)r->esize;
  memcpy(dims, d, sizeof d);
  *out = r;
  return MPL_OK;
}

int mpl__idx_open(const char *path, int ndims, mpl__idx **out, size_t dims[3], mpl_err *err) {
  return idx_open(path, ndims, 0, out, dims, err);
}

/* Read len more bytes of data, reporting a short file as truncation of the whole data block. */
static int read_data(mpl__idx *r, uint8_t *buf, size_t len, mpl_err *err) {
  size_t got;
  int rc = read_raw(r, buf, len, &got, err);
  r->done += got;
  if (rc < 0) return rc;
  if (got < len)
    return mpl_errorf(err, MPL_EFORMAT, "%s: truncated: expected %zu bytes of %s data, got %zu", r->path,
                      r->n * r->item, data_word(r->ndims), r->done);
  return MPL_OK;
}

/* Read the next items images (or labels) into buf. */
int mpl__idx_read(mpl__idx *r, uint8_t *buf, size_t items, mpl_err *err) {
  if (items > (r->n * r->item - r->done) / r->item)
    return mpl_errorf(err, MPL_EINVAL, "%s: read past the %zu items the header declares", r->path, r->n);
  return read_data(r, buf, items * r->item, err);
}

/* After the last item: the file must end here. Reading on also makes zlib check the gzip CRC. */
int mpl__idx_finish(mpl__idx *r, mpl_err *err) {
  uint8_t buf[4096];
  size_t extra = 0, got;
  do {
    int rc = read_raw(r, buf, sizeof buf, &got, err);
    if (rc < 0) return rc;
    extra += got;
  } while (got == sizeof buf);
  if (extra)
    return mpl_errorf(err, MPL_EFORMAT, "%s: trailing data: %zu bytes after the %zu %s the header declares",
                      r->path, extra, r->n, r->ndims == 3 ? "images" : "labels");
  return MPL_OK;
}

void mpl__idx_close(mpl__idx *r) {
  if (!r) return;
  if (r->f) gzclose(r->f);
  free(r);
}

/* All the data of an open file, in a buffer that grows as bytes arrive rather than trusting
 * the header's size up front. */
static int read_all(mpl__idx *r, uint8_t **out, mpl_err *err) {
  size_t total = r->n * r->item, cap = total < FIRST_ALLOC ? total : FIRST_ALLOC;
  uint8_t *buf = malloc(cap);
  if (!buf) return mpl_errorf(err, MPL_ENOMEM, "%s: out of memory for %zu bytes", r->path, cap);
  while (r->done < total) {
    if (r->done == cap) {
      size_t ncap = cap > total / 2 ? total : 2 * cap;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        return mpl_errorf(err, MPL_ENOMEM, "%s: out of memory for %zu bytes", r->path, ncap);
      }
      buf = nb, cap = ncap;
    }
    int rc = read_data(r, buf + r->done, cap - r->done, err);
    if (rc < 0) { free(buf); return rc; }
  }
  int rc = mpl__idx_finish(r, err);
  if (rc < 0) { free(buf); return rc; }
  *out = buf;
  return MPL_OK;
}

static int to_doubles(const mpl__idx *r, const uint8_t *data, mpl__images *im, mpl_err *err) {
  size_t count = im->n * im->rows * im->cols, dim = im->rows * im->cols;
  if (!(im->f64 = malloc((count ? count : 1) * sizeof *im->f64))) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  for (size_t i = 0; i < count; i++) {
    double x = mpl__load_float(data + i * (size_t)r->esize, r->esize, 1);   /* IDX is big-endian */
    if (!isfinite(x))
      return mpl_errorf(err, MPL_EFORMAT, "%s: image %zu, pixel %zu is %g: inputs must be finite", r->path, i / dim,
                        i % dim, x);
    im->f64[i] = x;
  }
  return MPL_OK;
}

int mpl__idx_read_images_any(const char *path, mpl__images *im, mpl_err *err) {
  memset(im, 0, sizeof *im);
  mpl__idx *r;
  size_t d[3];
  uint8_t *data = NULL;
  int rc = idx_open(path, 3, 1, &r, d, err);
  if (rc < 0) return rc;
  if (d[0] > SIZE_MAX / (r->item ? r->item : 1)) rc = mpl_errorf(err, MPL_EFORMAT, "%s: too many images", path);
  if (rc == 0) rc = read_all(r, &data, err);
  im->n = d[0], im->rows = d[1], im->cols = d[2];
  if (rc == 0 && r->esize == 1) im->u8 = data, data = NULL;
  else if (rc == 0) rc = to_doubles(r, data, im, err);
  free(data);
  mpl__idx_close(r);
  if (rc < 0) mpl__images_free(im);
  return rc;
}

int mpl__idx_type(const char *path) {
  gzFile f = gzopen(path, "rb");
  uint8_t m[4];
  int k = f ? gzread(f, m, 4) : 0;
  if (f) gzclose(f);
  return k == 4 && !m[0] && !m[1] ? m[2] : -1;
}

static int read_file(const char *path, int ndims, uint8_t **data, size_t dims[3], mpl_err *err) {
  mpl__idx *r;
  *data = NULL;
  int rc = mpl__idx_open(path, ndims, &r, dims, err);
  if (rc < 0) return rc;
  rc = read_all(r, data, err);
  mpl__idx_close(r);
  return rc;
}

int mpl_idx_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows, size_t *cols,
                        mpl_err *err) {
  size_t d[3];
  int rc = read_file(path, 3, pixels, d, err);
  if (rc < 0) return rc;
  *n = d[0], *rows = d[1], *cols = d[2];
  return MPL_OK;
}

int mpl_idx_read_labels(const char *path, uint8_t **labels, size_t *n, mpl_err *err) {
  size_t d[3];
  int rc = read_file(path, 1, labels, d, err);
  if (rc < 0) return rc;
  *n = d[0];
  return MPL_OK;
}
