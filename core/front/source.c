/* metaplast: term sources on disk: searching a list of directories (and saying exactly which were
 * searched), a file's content hash, and the record a rule keeps of each source so that it can be
 * found and recognised again wherever the rule is moved (issue 25). See LICENSE for copyright. */
#define _GNU_SOURCE /* realpath, dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "front.h"

/* {====== Searching directories ====== */

/* Append "what (why)" to the list of places looked at, once. */
void mpl__looked_add(mpl__looked *l, const char *what, size_t len, const char *why) {
  char item[4200], key[4200];
  int k = snprintf(item, sizeof item, "%.*s (%s)", (int)len, what, why);
  snprintf(key, sizeof key, "%.*s (", (int)len, what);
  if (k < 0 || strstr(l->text, key)) return; /* a directory listed once, under its first reason */
  size_t used = strlen(l->text);
  if (used + (size_t)k + 3 < sizeof l->text) {
    memcpy(l->text + used, ", ", used ? 2 : 0);
    memcpy(l->text + used + (used ? 2 : 0), item, (size_t)k + 1);
  }
}

/* Try dir/file (dir: len bytes); 1 if it exists (path filled). The directory joins l. */
int mpl__try_dir(const char *dir, size_t len, const char *file, const char *why, char *path, size_t n,
                 mpl__looked *l) {
  if (len == 0) return 0;
  if (l) mpl__looked_add(l, dir, len, why);
  if ((size_t)snprintf(path, n, "%.*s/%s", (int)len, dir, file) >= n) return 0;
  return access(path, F_OK) == 0;
}

/* Try dir/file for each directory of a ':'-separated list (an environment variable's value). */
int mpl__try_path_list(const char *list, const char *file, const char *why, char *path, size_t n, mpl__looked *l) {
  for (const char *p = list; p && *p;) {
    size_t k = strcspn(p, ":");
    if (mpl__try_dir(p, k, file, why, path, n, l)) return 1;
    p += k + (p[k] == ':');
  }
  return 0;
}

/* }====== */

/* {====== Locating a source ====== */

static int has_suffix(const char *s, const char *suf) {
  size_t k = strlen(s), m = strlen(suf);
  return k > m && !strcmp(s + k - m, suf);
}

/* A bare name: a plugin NAME.so on the plugin path, else a rule file NAME.lua on the rule path. */
static int locate_name(const char *spec, char *path, size_t n, const char **kind, mpl_err *err) {
  mpl_err perr = {0}, rerr = {0};
  if (mpl__plugin_find(spec, path, n, &perr) == 0) return *kind = "plugin", MPL_OK;
  if (perr.code != MPL_ENOTFOUND) return mpl_errorf(err, perr.code, "%s", perr.msg);
  if (mpl__rules_find(spec, path, n, &rerr) == 0) return *kind = "rules", MPL_OK;
  return mpl_errorf(err, MPL_ENOTFOUND, "%s; %s", perr.msg, rerr.msg);
}

/* spec as given: a path relative to the current directory (named in l). */
static int try_given(const char *spec, char *path, size_t n, mpl__looked *l) {
  char cwd[PATH_MAX], shown[PATH_MAX + 64];
  if (spec[0] != '/' && getcwd(cwd, sizeof cwd)) snprintf(shown, sizeof shown, "%s/%s", cwd, spec);
  else snprintf(shown, sizeof shown, "%s", spec);
  mpl__looked_add(l, shown, strlen(shown), "as given");
  /* dlopen takes a name without '/' from the library path, not from here: say ./x.so */
  const char *dot = strchr(spec, '/') || has_suffix(spec, ".lua") ? "" : "./";
  if ((size_t)snprintf(path, n, "%s%s", dot, spec) >= n) return 0;
  return access(path, F_OK) == 0;
}

static int try_recorded(const char *recorded, char *path, size_t n, mpl__looked *l) {
  if (!recorded || !recorded[0]) return 0;
  mpl__looked_add(l, recorded, strlen(recorded), "recorded by the run");
  if ((size_t)snprintf(path, n, "%s", recorded) >= n) return 0;
  return access(path, F_OK) == 0;
}

/* <directory of this libmetaplast>/rel: where an installed tree keeps its plugins or rules,
 * wherever it was installed. */
static int lib_dir(const char *rel, char *dir, size_t n) {
  Dl_info info;
  if (!dladdr((void *)&mpl__search_path_find, &info) || !info.dli_fname) return 0;
  const char *slash = strrchr(info.dli_fname, '/');
  return slash && snprintf(dir, n, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, rel) < (int)n;
}

int mpl__search_path_find(const mpl__search_path *sp, const char *file, char *path, size_t n, mpl__looked *l) {
  char libdir[4096];
  if (mpl__try_path_list(getenv(sp->env), file, sp->env, path, n, l)) return 1;
  if (lib_dir(sp->lib_rel, libdir, sizeof libdir) &&
      mpl__try_dir(libdir, strlen(libdir), file, "beside libmetaplast", path, n, l))
    return 1;
  return mpl__try_dir(sp->install, strlen(sp->install), file, "install dir", path, n, l) ||
         mpl__try_dir(sp->tree, strlen(sp->tree), file, sp->tree_why, path, n, l);
}

/* file in each directory of the variable's value; an unset variable is named as such. */
static int try_env(const char *env, const char *var, const char *file, char *path, size_t n, mpl__looked *l) {
  if (!env) mpl__looked_add(l, var, strlen(var), "unset");
  return mpl__try_path_list(env, file, var, path, n, l);
}

int mpl__source_locate(const char *spec, const char *recorded, char *path, size_t n, const char **kind,
                       mpl_err *err) {
  int rules = has_suffix(spec, ".lua");
  *kind = rules ? "rules" : "plugin";
  if (!strchr(spec, '/') && !rules && !has_suffix(spec, ".so")) return locate_name(spec, path, n, kind, err);
  const char *var = rules ? "METAPLAST_RULES_PATH" : "METAPLAST_PLUGIN_PATH", *env = getenv(var);
  const char *slash = strrchr(spec, '/'), *file = slash ? slash + 1 : spec;
  mpl__looked l = {{0}};
  int found = recorded ? try_env(env, var, file, path, n, &l) || try_recorded(recorded, path, n, &l) ||
                             try_given(spec, path, n, &l)
                       : try_given(spec, path, n, &l) || try_env(env, var, file, path, n, &l);
  if (found) return MPL_OK;
  return mpl_errorf(err, MPL_ENOTFOUND, "%s %s not found: looked in %s; set %s to the directory that holds %s",
                    rules ? "rule file" : "plugin", spec, l.text, var, file);
}

/* }====== */

/* {====== Content hash ====== */

int mpl__file_hash(const char *path, unsigned long *crc, long long *size, mpl_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return mpl_errorf(err, MPL_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno));
  unsigned char buf[65536];
  uLong c = crc32(0L, Z_NULL, 0);
  long long total = 0;
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
    c = crc32(c, buf, (uInt)k);
    total += (long long)k;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return mpl_errorf(err, MPL_EIO, "%s: cannot read: %s", path, strerror(errno));
  *crc = (unsigned long)c;
  *size = total;
  return MPL_OK;
}

/* }====== */

/* {====== The sources a term set was loaded from ====== */

int mpl__termset_record_source(mpl_termset *ts, const char *spec, const char *path, const char *kind, mpl_err *err) {
  if (mpl__termset_source_rec(ts, spec)) return MPL_OK;
  mpl__source_rec rec = {0};
  char abs[PATH_MAX];
  if (!realpath(path, abs)) return MPL_OK; /* nothing on disk to record (cannot happen after a load) */
  int rc = mpl__file_hash(abs, &rec.crc32, &rec.size, err);
  if (rc < 0) return rc;
  mpl__source_rec *s = realloc(ts->srcs, ((size_t)ts->n_srcs + 1) * sizeof *s);
  if (!s) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  ts->srcs = s;
  rec.spec = mpl__strdup(spec), rec.path = mpl__strdup(abs), rec.kind = kind;
  if (!rec.spec || !rec.path) {
    free(rec.spec), free(rec.path);
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  }
  ts->srcs[ts->n_srcs++] = rec;
  return MPL_OK;
}

const mpl__source_rec *mpl__termset_source_rec(const mpl_termset *ts, const char *spec) {
  for (int i = 0; ts && spec && i < ts->n_srcs; i++)
    if (!strcmp(ts->srcs[i].spec, spec)) return &ts->srcs[i];
  return NULL;
}

void mpl__termset_free_sources(mpl_termset *ts) {
  for (int i = 0; i < ts->n_srcs; i++) free(ts->srcs[i].spec), free(ts->srcs[i].path);
  free(ts->srcs);
  ts->srcs = NULL;
  ts->n_srcs = 0;
}

/* }====== */
