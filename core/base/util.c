/* metaplast: small private helpers shared by the engine's sources: directories, atomic writes,
 * a growing-string printer. See LICENSE for copyright. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

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

/* {====== Results-directory locks ======
 * DIR/.lock, held with flock(LOCK_EX | LOCK_NB) and holding the holder's process id. The kernel
 * drops a flock when its process dies (kill -9 included), so a lock file a dead run left behind
 * is no obstacle: the next run takes it over. Released, the file is removed while still locked;
 * a run that opened it just before then finds, once it has the lock, that the path names
 * another file (or none) and starts again, so two runs never both hold DIR's lock. */

/* The process id recorded in the lock file fd (0 if none yet: its holder may be writing it). */
static long lock_holder(int fd) {
  char buf[32];
  for (int i = 0; i < 20; i++) {
    ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
    if (k > 0) {
      buf[k] = '\0';
      long pid = strtol(buf, NULL, 10);
      if (pid > 0) return pid;
    }
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  }
  return 0;
}

int mpl__dir_lock(const char *dir, int *fd_out, mpl_err *err) {
  char path[4200];
  mpl__join(path, sizeof path, dir, MPL__LOCK_FILE);
  *fd_out = -1;
  for (int tries = 0; tries < 1000; tries++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return mpl_errorf(err, MPL_EIO, "%s: cannot create the lock file: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
      int e = errno;
      long pid = e == EWOULDBLOCK ? lock_holder(fd) : 0;
      close(fd);
      if (e == EINTR) continue;
      if (e != EWOULDBLOCK) return mpl_errorf(err, MPL_EIO, "%s: cannot lock: %s", path, strerror(e));
      if (pid)
        return mpl_errorf(err, MPL_EIO, "%s is in use by another run (process %ld holds %s): wait for it to end "
                          "or choose another directory", dir, pid, path);
      return mpl_errorf(err, MPL_EIO, "%s is in use by another run (it holds %s)", dir, path);
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      char buf[32];
      int k = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
      if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)k, 0) != k) {
        int e = errno;
        close(fd);
        return mpl_errorf(err, MPL_EIO, "%s: cannot write: %s", path, strerror(e));
      }
      *fd_out = fd;
      return MPL_OK;
    }
    close(fd);   /* its holder released it (removed the file) meanwhile: lock the new one */
  }
  return mpl_errorf(err, MPL_EIO, "%s: cannot lock: the lock file keeps changing", path);
}

void mpl__dir_unlock(const char *dir, int fd) {
  if (fd < 0) return;
  char path[4200];
  mpl__join(path, sizeof path, dir, MPL__LOCK_FILE);
  unlink(path);   /* still locked: a run waiting on this file will see that it is gone */
  close(fd);
}

/* }====== */

/* Remove the temporary files of atomic writes a killed run left behind (NAME.tmp.PID). */
void mpl__remove_stale(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  char path[4200];
  while ((ent = readdir(d))) {
    const char *t = strstr(ent->d_name, ".tmp.");
    if (!t || t == ent->d_name || !t[5] || strspn(t + 5, "0123456789") != strlen(t + 5)) continue;
    mpl__join(path, sizeof path, dir, ent->d_name);
    unlink(path);
  }
  closedir(d);
}

void mpl__sb_printf(mpl__sb *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = s->len < s->n ? s->n - s->len : 0;
  int k = vsnprintf(room ? s->p + s->len : NULL, room, fmt, ap);
  va_end(ap);
  if (k > 0) s->len += (size_t)k;
}

/* A whole file, raw or gzip: zlib's gzread reads both. */
int mpl__read_whole(const char *path, uint8_t **out, size_t *len, mpl_err *err) {
  *out = NULL, *len = 0;
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f) return mpl_errorf(err, errno == ENOENT ? MPL_ENOTFOUND : MPL_EIO, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "out of memory");
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  int k = 0;
  while (buf && (k = gzread(f, buf + n, (unsigned)(cap - n))) > 0) {
    n += (size_t)k;
    if (n == cap) {
      uint8_t *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
      if (!nb) free(buf);
      buf = nb, cap *= 2;
    }
  }
  int zerr = Z_OK;
  const char *msg = k < 0 ? gzerror(f, &zerr) : "";
  int rc = !buf ? mpl_errorf(err, MPL_ENOMEM, "%s: out of memory for %zu bytes", path, cap)
           : k < 0 ? mpl_errorf(err, zerr == Z_ERRNO ? MPL_EIO : MPL_EFORMAT, "%s: cannot read: %s", path, msg)
                   : MPL_OK;
  gzclose(f);
  if (rc < 0) { free(buf); return rc; }
  *out = buf, *len = n;
  return MPL_OK;
}

/* A whole (small) file into a NUL-terminated buffer, at most max bytes. */
int mpl__read_file(const char *path, size_t max, char **text, size_t *len, mpl_err *err) {
  *text = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return mpl_errorf(err, errno == ENOENT ? MPL_ENOTFOUND : MPL_EIO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *s = malloc(cap);
  while (s) {
    size_t k = fread(s + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) break;
    if (n > max) break;
    if (cap - n < 2) {
      char *t = realloc(s, cap * 2);
      if (!t) { free(s); s = NULL; break; }
      s = t, cap *= 2;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!s) return mpl_errorf(err, MPL_ENOMEM, "%s: out of memory", path);
  if (bad) { free(s); return mpl_errorf(err, MPL_EIO, "%s: read error", path); }
  if (n > max) { free(s); return mpl_errorf(err, MPL_EFORMAT, "%s: larger than %zu bytes", path, max); }
  s[n] = '\0';
  *text = s;
  *len = n;
  return MPL_OK;
}

/* Seconds on the monotonic clock (wall time of runs and episodes). */
double mpl__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
