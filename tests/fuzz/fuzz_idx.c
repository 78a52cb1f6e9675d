/* Fuzz the IDX reader (mpl_dataset_load_idx, hence mpl__idx_*): the input is
 * [per_class: 1 byte][split: 2 bytes, little-endian][images file][labels file], written to two
 * temporary files (raw or, if they start with the gzip magic, gzip). See LICENSE for copyright. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metaplast/data.h"

#include "fuzz.h"

static int put(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(p, 1, n, f) == n;
  return fclose(f) == 0 && ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char img[256], lab[256];
  if (!img[0]) {
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(img, sizeof img, "%s/mpl-fuzz-idx-%ld-images", dir, (long)getpid());
    snprintf(lab, sizeof lab, "%s/mpl-fuzz-idx-%ld-labels", dir, (long)getpid());
  }
  if (size < 3) return 0;
  size_t per_class = data[0] % 8, split = (size_t)data[1] | (size_t)data[2] << 8;
  data += 3, size -= 3;
  if (split > size) split = size;
  if (put(img, data, split) < 0 || put(lab, data + split, size - split) < 0) return 0;
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  if (mpl_dataset_load_idx(img, lab, per_class, &ds, &err) == 0) {
    /* a dataset that loads must be consistent */
    double x[64 * 64];
    for (size_t i = 0; i < ds->n; i++)
      if ((int)ds->labels[i] >= ds->n_classes) abort();
    if (ds->n && ds->dim <= 64 * 64) mpl_dataset_image(ds, ds->n - 1, x);
    mpl_dataset_free(ds);
  } else if (!err.msg[0] || err.code >= 0) {
    abort(); /* every failure carries a message */
  }
  unlink(img);
  unlink(lab);
  return 0;
}
