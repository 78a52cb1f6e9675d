/* metaplast tests: shared helpers. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

const char *mpl_test_path(const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s.%ld", MPL_TEST_TMPDIR, name, (long)getpid());
  return buf;
}

int mpl_test_write(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, len, f);
  return (fclose(f) == 0 && w == len) ? 0 : -1;
}

int mpl_test_write_gz(const char *path, const void *data, size_t len) {
  gzFile f = gzopen(path, "wb");
  if (!f) return -1;
  int w = len ? gzwrite(f, data, (unsigned)len) : 0;
  return (gzclose(f) == Z_OK && (size_t)w == len) ? 0 : -1;
}
