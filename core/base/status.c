/* metaplast: status names and the error record. See LICENSE for copyright. */
#include "metaplast/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mpl_status_name(int code) {
  switch (code) {
#define MPL_X_(name, c, text) case c: return "MPL_" #name;
    MPL_STATUS_MAP(MPL_X_)
#undef MPL_X_
  }
  return "MPL_UNKNOWN";
}

const char *mpl_strerror(int code) {
  switch (code) {
#define MPL_X_(name, c, text) case c: return text;
    MPL_STATUS_MAP(MPL_X_)
#undef MPL_X_
  }
  return "unknown error";
}

int mpl_errorf(mpl_err *err, int code, const char *fmt, ...) {
  if (!err) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  err->code = code;
  return code;
}

int mpl_err_prefix(mpl_err *err, const char *fmt, ...) {
  if (!err) return MPL_EINVAL;
  char head[256], old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  size_t k = strlen(head);
  memcpy(err->msg, head, k + 1);
  /* the old message is cut, never the new context */
  strncat(err->msg, old, sizeof err->msg - k - 1);
  return err->code;
}
