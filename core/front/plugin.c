/* metaplast: loading term plugins (dlopen), their registration API, and finding them on the
 * plugin path. See LICENSE for copyright. */
#define _GNU_SOURCE
#include "metaplast/plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"

#ifndef MPL_PLUGIN_INSTALL_DIR
#define MPL_PLUGIN_INSTALL_DIR "/usr/local/lib/metaplast/plugins"
#endif
#ifndef MPL_PLUGIN_BUILD_DIR
#define MPL_PLUGIN_BUILD_DIR ""
#endif

struct mpl_plugin {
  mpl_termset *ts;
  const char *source;
};

/* The descriptor as ABI 1.0 defined it: anything smaller cannot be read. */
#define DESC_V1_SIZE (offsetof(mpl_plugin_desc, init) + sizeof(((mpl_plugin_desc *)0)->init))
#define NATIVE_V1_SIZE (offsetof(mpl_native_term, vjp) + sizeof(((mpl_native_term *)0)->vjp))

mpl_termset *mpl_plugin_termset(mpl_plugin *p) { return p->ts; }

int mpl_plugin_add_term(mpl_plugin *p, const char *name, const char *description, mpl_expr *e, mpl_err *err) {
  return mpl_termset_add(p->ts, name, description, e, err); /* the loader names the plugin */
}

int mpl_plugin_add_native(mpl_plugin *p, const mpl_native_term *t, mpl_err *err) {
  if (!t || t->struct_size < NATIVE_V1_SIZE)
    return mpl_errorf(err, MPL_EABI, "native term struct of %zu bytes is smaller than ABI %d.0's %zu",
                      t ? t->struct_size : 0, MPL_PLUGIN_ABI_MAJOR, NATIVE_V1_SIZE);
  return mpl__termset_add_native(p->ts, t, err);
}

static int check_desc(const mpl_plugin_desc *d, const char *path, mpl_err *err) {
  if (!d) return mpl_errorf(err, MPL_EPLUGIN, "%s: mpl_plugin_entry returned NULL", path);
  if (d->abi_major != MPL_PLUGIN_ABI_MAJOR)
    return mpl_errorf(err, MPL_EABI, "%s: plugin built for ABI %u.%u, this metaplast has ABI %d.%d; rebuild it "
                      "against this metaplast's headers", path, d->abi_major, d->abi_minor,
                      MPL_PLUGIN_ABI_MAJOR, MPL_PLUGIN_ABI_MINOR);
  if (d->struct_size < DESC_V1_SIZE)
    return mpl_errorf(err, MPL_EABI, "%s: plugin descriptor of %zu bytes is smaller than ABI %d.0's %zu",
                      path, d->struct_size, MPL_PLUGIN_ABI_MAJOR, DESC_V1_SIZE);
  if (!d->init) return mpl_errorf(err, MPL_EPLUGIN, "%s: plugin '%s' has no init function", path, d->name ? d->name : "?");
  return MPL_OK;
}

int mpl__plugin_load(const char *path, const char *source, mpl_termset *ts, mpl_err *err) {
  if (access(path, F_OK) != 0) return mpl_errorf(err, MPL_ENOTFOUND, "%s: no such plugin file", path);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return mpl_errorf(err, MPL_EPLUGIN, "%s: cannot load plugin: %s", path, dlerror());
  mpl_plugin_entry_fn entry;
  *(void **)&entry = dlsym(h, MPL_PLUGIN_ENTRY_NAME);
  if (!entry) {
    dlclose(h);
    return mpl_errorf(err, MPL_EPLUGIN, "%s: no entry symbol %s: not a metaplast plugin (define one with "
                      "MPL_PLUGIN(...) from metaplast/plugin.h)", path, MPL_PLUGIN_ENTRY_NAME);
  }
  const mpl_plugin_desc *d = entry();
  int rc = check_desc(d, path, err);
  if (rc < 0) {
    dlclose(h);
    return rc;
  }
  int first = ts->n_terms, saved_first = ts->load_first;
  const char *saved_source = ts->source;
  ts->load_first = first;
  ts->source = source;
  mpl_termset_clear_error(ts);
  mpl_plugin p = {ts, source};
  mpl_err perr = {0};
  rc = d->init(&p, &perr);
  ts->load_first = saved_first;
  ts->source = saved_source;
  const char *what = "failed to initialise: ";
  if (rc == 0 && ts->n_terms == first) rc = mpl_errorf(&perr, MPL_EPLUGIN, "registered no terms"), what = "";
  if (rc == 0) rc = mpl__termset_keep_handle(ts, h);
  if (rc < 0) {
    /* the message first: d and its strings live in the plugin, gone after dlclose */
    mpl_errorf(err, rc == MPL_ENOMEM ? rc : MPL_EPLUGIN, "%s: plugin '%s' %s%s", path, d->name ? d->name : "?", what,
               perr.msg[0] ? perr.msg : mpl_strerror(rc));
    mpl__termset_truncate(ts, first); /* a failed plugin leaves nothing behind */
    dlclose(h);
    return err ? err->code : rc;
  }
  return MPL_OK;
}

/* The plugin path, in order: METAPLAST_PLUGIN_PATH, beside this libmetaplast, the configured
 * install dir, the build tree. The message lists exactly the directories looked at. */
int mpl__plugin_find(const char *name, char *path, size_t n, mpl_err *err) {
  static const mpl__search_path sp = {"METAPLAST_PLUGIN_PATH", "metaplast/plugins", MPL_PLUGIN_INSTALL_DIR,
                                      MPL_PLUGIN_BUILD_DIR, "build tree"};
  char file[512];
  mpl__looked l = {{0}};
  snprintf(file, sizeof file, "%s.so", name);
  if (mpl__search_path_find(&sp, file, path, n, &l)) return MPL_OK;
  return mpl_errorf(err, MPL_ENOTFOUND, "no plugin '%s' (%s) in %s%s; set METAPLAST_PLUGIN_PATH to the directory "
                    "that holds it", name, file, getenv(sp.env) ? "" : "METAPLAST_PLUGIN_PATH (unset), ", l.text);
}
