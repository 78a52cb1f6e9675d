/* metaplast: small private helpers shared by the engine's sources: directories, atomic writes,
 * a growing-string printer. See LICENSE for copyright. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* mkdir -p */
int mpl__make_dirs(const char *path, mpl_err *err) {
  char buf[4096];
  if (!path[0]) return mpl_errorf(err, MPL_EINVAL, "--out: empty directory name");
  if (strlen(path) >= sizeof buf) return mpl_errorf(err, MPL_EINVAL, "--out: path too long");
  strcpy(buf, path);
  for (char *p = buf + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0777) < 0 && errno != EEXIST)
        return mpl_errorf(err, MPL_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  struct stat st;
  if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) return mpl_errorf(err, MPL_EIO, "%s: not a directory", path);
  if (access(path, W_OK) < 0) return mpl_errorf(err, MPL_EIO, "%s: not writable: %s", path, strerror(errno));
  return MPL_OK;
}

void mpl__join(char *buf, size_t n, const char *dir, const char *file) { snprintf(buf, n, "%s/%s", dir, file); }

/* Write text to dir/file atomically: a temporary file, fsync, rename. */
int mpl__write_atomic(const char *dir, const char *file, const char *text, mpl_err *err) {
  char path[4200], tmp[4300];
  mpl__join(path, sizeof path, dir, file);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", tmp, strerror(errno));
  int ok = fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(e));
  }
  return MPL_OK;
}


void mpl__sb_printf(mpl__sb *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = s->len < s->n ? s->n - s->len : 0;
  int k = vsnprintf(room ? s->p + s->len : NULL, room, fmt, ap);
  va_end(ap);
  if (k > 0) s->len += (size_t)k;
}
