/* metaplast tests: shared helpers (CMocka). See LICENSE for copyright. */
#ifndef MPL_TESTUTIL_H
#define MPL_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Relative+absolute tolerance comparison (cmocka 1.1.5 has no assert_double_equal). */
#define mpl_assert_close(a, b, rtol, atol)                                                   \
  do {                                                                                       \
    double a_ = (a), b_ = (b);                                                               \
    if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_)))                                      \
      fail_msg("%s = %.17g, expected %s = %.17g (rtol %g, atol %g)", #a, a_, #b, b_,         \
               (double)(rtol), (double)(atol));                                              \
  } while (0)

/* Assert that haystack contains needle. */
#define mpl_assert_contains(haystack, needle)                                                \
  do {                                                                                       \
    const char *h_ = (haystack), *n_ = (needle);                                             \
    if (!h_ || !strstr(h_, n_)) fail_msg("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
  } while (0)

/* A fresh temporary path under the test build dir: MPL_TEST_TMPDIR/<name>.<pid>. Static buffer. */
const char *mpl_test_path(const char *name);
/* Write len bytes to path (raw). Returns 0 on success. */
int mpl_test_write(const char *path, const void *data, size_t len);
/* Write len bytes gzip-compressed to path. Returns 0 on success. */
int mpl_test_write_gz(const char *path, const void *data, size_t len);

struct mpl_termset;
struct mpl_err;
/* Load the paper's pool (the `paper` plugin, F0..F9 at the set's next indices) into ts. */
int mpl_test_paper_pool(struct mpl_termset *ts, struct mpl_err *err);

/* A small learnable IDX pair (gzip): MPL_SYN_CLASSES classes x MPL_SYN_PER_CLASS images of
 * MPL_SYN_SIDE x MPL_SYN_SIDE pixels; class c has a bright row c and a bright column SIDE-1-c over
 * low noise; labels are interleaved ((q + r) % 6 for image 6q + r). Fails the test on error. */
#define MPL_SYN_CLASSES 6
#define MPL_SYN_PER_CLASS 30
#define MPL_SYN_SIDE 8
void mpl_test_write_synthetic(const char *images, const char *labels);

/* The whole file at path, NUL-terminated (malloc'ed), or NULL if it cannot be read. */
char *mpl_test_slurp(const char *path);
/* The same for dir/file. */
char *mpl_test_slurp_in(const char *dir, const char *file);
/* As mpl_test_slurp, but a file that cannot be read fails the test, naming it. */
char *mpl_test_read(const char *path);
char *mpl_test_read_in(const char *dir, const char *file);
/* A copy (malloc'ed) of CSV text without the last field of each line: log.csv without `seconds`,
 * its wall-time column, so that two runs' logs compare byte for byte. */
char *mpl_test_strip_last_column(const char *text);

/* Run cmd with popen: its stdout (malloc'ed, NUL-terminated) and its exit status (-1: killed). */
char *mpl_test_run(const char *cmd, int *status);

#endif
