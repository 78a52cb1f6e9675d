/* metaplast tests: shared helpers. See LICENSE for copyright. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "metaplast/terms.h"

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

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

void mpl_test_write_synthetic(const char *images, const char *labels) {
  enum { NC = MPL_SYN_CLASSES, SIDE = MPL_SYN_SIDE, N = MPL_SYN_CLASSES * MPL_SYN_PER_CLASS };
  static uint8_t img[16 + N * SIDE * SIDE], lab[8 + N];
  uint32_t s = 2463534242u;
  put32(img, 0x803), put32(img + 4, N), put32(img + 8, SIDE), put32(img + 12, SIDE);
  put32(lab, 0x801), put32(lab + 4, N);
  for (int i = 0; i < N; i++) {
    int c = (i / NC + i % NC) % NC;
    lab[8 + i] = (uint8_t)c;
    uint8_t *p = img + 16 + (size_t)i * SIDE * SIDE;
    for (int k = 0; k < SIDE * SIDE; k++) {
      s ^= s << 13, s ^= s >> 17, s ^= s << 5; /* xorshift32 */
      int r = k / SIDE, col = k % SIDE, on = r == c || col == SIDE - 1 - c;
      p[k] = (uint8_t)(on ? 180 + s % 76 : s % 50);
    }
  }
  assert_int_equal(mpl_test_write_gz(images, img, sizeof img), 0);
  assert_int_equal(mpl_test_write_gz(labels, lab, sizeof lab), 0);
}

int mpl_test_paper_pool(mpl_termset *ts, mpl_err *err) {
  mpl_selection sel;
  int rc = mpl_terms_parse("paper", ts, &sel, err);
  if (rc == 0) mpl_selection_free(&sel);
  return rc;
}

char *mpl_test_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0, k;
  char *s = malloc(cap);
  while (s && (k = fread(s + len, 1, cap - len - 1, f)) > 0)
    if ((len += k) + 2 > cap) {
      char *t = realloc(s, cap *= 2);
      if (!t) free(s);
      s = t;
    }
  fclose(f);
  if (s) s[len] = '\0';
  return s;
}

char *mpl_test_slurp_in(const char *dir, const char *file) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return mpl_test_slurp(path);
}

char *mpl_test_read(const char *path) {
  char *s = mpl_test_slurp(path);
  if (!s) fail_msg("%s: cannot read", path);
  return s;
}

char *mpl_test_read_in(const char *dir, const char *file) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return mpl_test_read(path);
}

char *mpl_test_strip_last_column(const char *text) {
  char *out = malloc(strlen(text) + 1), *o = out;
  if (!out) fail_msg("out of memory");
  for (const char *line = text; *line;) {
    const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line), *comma = NULL;
    for (const char *p = line; p < end; p++)
      if (*p == ',') comma = p;
    size_t keep = (size_t)((comma ? comma : end) - line);
    memcpy(o, line, keep);
    o += keep;
    *o++ = '\n';
    line = nl ? nl + 1 : end;
  }
  *o = '\0';
  return out;
}

char *mpl_test_run(const char *cmd, int *status) {
  FILE *p = popen(cmd, "r");
  if (!p) fail_msg("popen %s", cmd);
  size_t cap = 1 << 16, n = 0, k;
  char *s = malloc(cap);
  while ((k = fread(s + n, 1, cap - n - 1, p)) > 0)
    if ((n += k) + 1 == cap) s = realloc(s, cap *= 2);
  s[n] = '\0';
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return s;
}
