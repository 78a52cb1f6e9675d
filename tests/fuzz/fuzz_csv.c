/* Fuzz the CSV reader (mpl_dataset_load_csv, hence csv.c and libcsv): the input is
 * [per_class: 1 byte][label column: 1 byte, 0 = "label", else "c<byte % 4>"][CSV text], written to a
 * temporary file (raw or, if it starts with the gzip magic, gzip). See LICENSE for copyright. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metaplast/data.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[256];
  if (!path[0]) {
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/mpl-fuzz-csv-%ld.csv", dir, (long)getpid());
  }
  if (size < 2) return 0;
  size_t per_class = data[0] % 8;
  char column[8] = "label";
  if (data[1]) snprintf(column, sizeof column, "c%d", data[1] % 4);
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  int ok = fwrite(data + 2, 1, size - 2, f) == size - 2;
  if (fclose(f) != 0 || !ok) return 0;
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  if (mpl_dataset_load_csv(path, column, per_class, &ds, &err) == 0) {
    double x[4096];
    for (size_t i = 0; i < ds->n; i++)
      if ((int)ds->labels[i] >= ds->n_classes) abort();
    if (ds->n && ds->dim <= 4096) mpl_dataset_image(ds, ds->n - 1, x);
    mpl_dataset_free(ds);
  } else if (!err.msg[0] || err.code >= 0 || !strstr(err.msg, path)) {
    abort(); /* every failure carries a message naming the file */
  }
  unlink(path);
  return 0;
}
