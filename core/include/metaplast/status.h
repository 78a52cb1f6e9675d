/* metaplast: status codes and the error record every fallible call fills.
 * See LICENSE for copyright. */
#ifndef METAPLAST_STATUS_H
#define METAPLAST_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MPL_API __attribute__((visibility("default")))
#define MPL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MPL_API
#define MPL_PRINTF(f, a)
#endif

/* One list generates the enum, mpl_status_name() and mpl_strerror(). Errors are negative (libuv). */
#define MPL_STATUS_MAP(X)                                          \
  X(OK, 0, "success")                                              \
  X(ENOMEM, -1, "out of memory")                                   \
  X(EINVAL, -2, "invalid argument")                                \
  X(EIO, -3, "input/output error")                                 \
  X(EFORMAT, -4, "malformed file")                                 \
  X(ESHAPE, -5, "shape mismatch")                                  \
  X(EDOM, -6, "numerical domain error")                            \
  X(ENUMERIC, -7, "non-finite value")                              \
  X(ENOTFOUND, -8, "not found")                                    \
  X(EABI, -9, "incompatible plugin ABI")                           \
  X(EPLUGIN, -10, "plugin failure")                                \
  X(EUNSUPPORTED, -11, "not supported")                            \
  X(ECHECK, -12, "check failed")

typedef enum mpl_status {
#define MPL_X_(name, code, text) MPL_##name = code,
  MPL_STATUS_MAP(MPL_X_)
#undef MPL_X_
} mpl_status;

/* The error record. Callers own it (usually on the stack); functions that fail
 * write a one-line message naming the file, line, field or term involved. */
typedef struct mpl_err {
  int code;        /* an mpl_status, MPL_OK when nothing failed */
  char msg[1024];  /* human-readable, NUL-terminated */
} mpl_err;

MPL_API const char *mpl_status_name(int code);
MPL_API const char *mpl_strerror(int code);

/* Record an error in err (may be NULL) and return code, so callers write
 * `return mpl_errorf(err, MPL_EIO, "%s: cannot open", path);`. */
MPL_API int mpl_errorf(mpl_err *err, int code, const char *fmt, ...) MPL_PRINTF(3, 4);

/* Prefix an existing message with more context ("file.csv: " + old message). */
MPL_API int mpl_err_prefix(mpl_err *err, const char *fmt, ...) MPL_PRINTF(2, 3);

static inline void mpl_err_clear(mpl_err *err) {
  if (err) { err->code = 0; err->msg[0] = '\0'; }
}

#ifdef __cplusplus
}
#endif
#endif
