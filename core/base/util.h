/* metaplast: the base layer's private utilities: hidden symbols, strings, files and directories
 * (util.c). Never installed. See LICENSE for copyright. */
#ifndef METAPLAST_UTIL_H
#define METAPLAST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "metaplast/status.h"


#if defined(__GNUC__)
#define MPL_INTERNAL __attribute__((visibility("hidden")))
#else
#define MPL_INTERNAL
/* A parallel loop (parallel.c): fn(ctx, w, i) for every item i in [0, n), on up to `workers` POSIX
 * threads, the calling thread among them; w in [0, workers) names the worker running the item, so
 * that each worker can own its workspace. Items are claimed in increasing order, and after an item
 * fails (fn < 0) no further item is claimed (those claimed finish): every item below the lowest
 * failing one has run, as in the plain loop. Which worker runs which item varies from run to run,
 * so fn must give each item's result independently of its worker and of the other items (the
 * caller reduces the items' results afterwards, in item order). workers <= 1: the plain loop on the
 * calling thread. Returns the lowest failing item, n if none failed. */
typedef int (*mpl__item_fn)(void *ctx, int w, int i);
MPL_INTERNAL int mpl__parallel_for(int n, int workers, mpl__item_fn fn, void *ctx);
/* The number of online CPUs, in [1, 4096]: the default number of threads. */
MPL_INTERNAL int mpl__online_cpus(void);

#endif

/* A malloc'ed copy of s (NULL if s is NULL or memory is short). */
MPL_INTERNAL char *mpl__strdup(const char *s);

/* A whole file, raw or gzip (zlib reads both; util.c). */
MPL_INTERNAL int mpl__read_whole(const char *path, uint8_t **out, size_t *len, mpl_err *err);

/* Files and directories (util.c). */
/* mkdir -p path; then check it is a writable directory. */
MPL_INTERNAL int mpl__make_dirs(const char *path, mpl_err *err);
MPL_INTERNAL void mpl__join(char *buf, size_t n, const char *dir, const char *file);
/* Write text to dir/file atomically: a temporary file, fsync, rename; no partial file on error. */
MPL_INTERNAL int mpl__write_atomic(const char *dir, const char *file, const char *text, mpl_err *err);
/* The exclusive lock on a results directory (DIR/.lock, flock; docs/reliability.md): *fd holds it
 * until mpl__dir_unlock. Held by another process or thread: MPL_EIO naming dir and the holder's
 * process id. A lock left by a dead process is taken over. */
#define MPL__LOCK_FILE ".lock"
MPL_INTERNAL int mpl__dir_lock(const char *dir, int *fd, mpl_err *err);
MPL_INTERNAL void mpl__dir_unlock(const char *dir, int fd);   /* fd < 0: nothing */
/* Remove dir's temporary files of atomic writes a killed run left behind (NAME.tmp.PID). Only
 * under dir's lock: another run's would be in the middle of being written. */
MPL_INTERNAL void mpl__remove_stale(const char *dir);

/* A bounded string printer: appends while room lasts, counts what the full text needs (len). */
/* Seconds on the monotonic clock (util.c). */
MPL_INTERNAL double mpl__now(void);
typedef struct mpl__sb { char *p; size_t n, len; } mpl__sb;
MPL_INTERNAL void mpl__sb_printf(mpl__sb *s, const char *fmt, ...) MPL_PRINTF(2, 3);

/* Read a whole (small) file into a malloc'ed NUL-terminated buffer; *len gets its length.
 * MPL_ENOTFOUND if it does not exist. */
MPL_INTERNAL int mpl__read_file(const char *path, size_t max, char **text, size_t *len, mpl_err *err);

/* A parallel loop (parallel.c): fn(ctx, w, i) for every item i in [0, n), on up to `workers` POSIX
 * threads, the calling thread among them; w in [0, workers) names the worker running the item, so
 * that each worker can own its workspace. Items are claimed in increasing order, and after an item
 * fails (fn < 0) no further item is claimed (those claimed finish): every item below the lowest
 * failing one has run, as in the plain loop. Which worker runs which item varies from run to run,
 * so fn must give each item's result independently of its worker and of the other items (the
 * caller reduces the items' results afterwards, in item order). workers <= 1: the plain loop on the
 * calling thread. Returns the lowest failing item, n if none failed. */
typedef int (*mpl__item_fn)(void *ctx, int w, int i);
MPL_INTERNAL int mpl__parallel_for(int n, int workers, mpl__item_fn fn, void *ctx);
/* The number of online CPUs, in [1, 4096]: the default number of threads. */
MPL_INTERNAL int mpl__online_cpus(void);

#endif
