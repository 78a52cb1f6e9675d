/* metaplast: the plugin ABI. A plugin is a shared object that registers candidate terms.
 * See LICENSE for copyright and plugins/README.md for a walk-through.
 *
 * A complete plugin:
 *
 *   #include <metaplast/plugin.h>
 *
 *   static int init(mpl_plugin *p, mpl_err *err) {
 *     mpl_termset *ts = mpl_plugin_termset(p);
 *     mpl_expr *ehebb = mpl_neg(ts, mpl_outer(ts, mpl_sig(ts, MPL_SIG_EPOST), mpl_sig(ts, MPL_SIG_EPRE)));
 *     return mpl_plugin_add_term(p, "ehebb", "error-based Hebbian", ehebb, err);
 *   }
 *   MPL_PLUGIN("mine", "1.0", "my candidate terms", init)
 *
 * Build: cc -shared -fPIC -o mine.so mine.c $(pkg-config --cflags --libs metaplast)
 * Use:   metaplast search --terms ./mine.so  (or --terms mine, found in METAPLAST_PLUGIN_PATH)
 *
 * Versioning (LADSPA/SQLite/ggml style): the plugin exports one symbol, mpl_plugin_entry, which
 * returns a const descriptor stamped with the ABI version and struct size it was compiled
 * against. The host refuses a different ABI major (incompatible change) or a descriptor
 * smaller than the host's v1 layout; fields appended in later minors are read only when
 * struct_size says they exist. The same rule holds for mpl_native_term. */
#ifndef METAPLAST_PLUGIN_H
#define METAPLAST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "metaplast/expr.h"
#include "metaplast/native.h" /* mpl_native_io, mpl_native_term: part of this ABI */
#include "metaplast/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPL_PLUGIN_ABI_MAJOR 1 /* incompatible change: the host refuses other majors */
#define MPL_PLUGIN_ABI_MINOR 0 /* fields appended at the end: the host accepts older minors */
#define MPL_PLUGIN_ENTRY_NAME "mpl_plugin_entry"

/* The registration context handed to a plugin's init; valid only during init. */
typedef struct mpl_plugin mpl_plugin;

typedef struct mpl_plugin_desc {
  uint32_t abi_major;     /* MPL_PLUGIN_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;     /* MPL_PLUGIN_ABI_MINOR the plugin was built with */
  size_t struct_size;     /* sizeof(mpl_plugin_desc) as the plugin saw it */
  const char *name;       /* short name, e.g. "paper" */
  const char *version;    /* the plugin's own version string */
  const char *description;
  /* Register the plugin's terms. Return MPL_OK, or a negative mpl_status after filling err
   * (mpl_errorf); the host then discards everything the plugin registered. Called once per load. */
  int (*init)(mpl_plugin *p, mpl_err *err);
} mpl_plugin_desc;

/* The only symbol a plugin exports. */
typedef const mpl_plugin_desc *(*mpl_plugin_entry_fn)(void);

#if defined(__GNUC__)
#define MPL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MPL_PLUGIN_EXPORT
#endif

/* Define the entry point of a plugin named NAME with version VERSION, description DESC and
 * init function INIT. */
#define MPL_PLUGIN(NAME, VERSION, DESC, INIT)                                                  \
  MPL_PLUGIN_EXPORT const mpl_plugin_desc *mpl_plugin_entry(void);                            \
  MPL_PLUGIN_EXPORT const mpl_plugin_desc *mpl_plugin_entry(void) {                           \
    static const mpl_plugin_desc d = {MPL_PLUGIN_ABI_MAJOR, MPL_PLUGIN_ABI_MINOR,             \
                                      sizeof(mpl_plugin_desc), NAME, VERSION, DESC, INIT};   \
    return &d;                                                                                \
  }

/* The term set to build expressions in (mpl_sig, mpl_outer, ... of metaplast/expr.h). */
MPL_API mpl_termset *mpl_plugin_termset(mpl_plugin *p);

/* Register an IR term (derivatives automatic). Fails with a message naming the term and the
 * plugin for a builder error, a term that is not n_post x n_pre, or a duplicate name. */
MPL_API int mpl_plugin_add_term(mpl_plugin *p, const char *name, const char *description, mpl_expr *e,
                                mpl_err *err);

/* ---- Native terms: C callbacks for what the IR cannot say (their types: metaplast/native.h) ---- */

/* Register a native term (the struct and its strings are copied). */
MPL_API int mpl_plugin_add_native(mpl_plugin *p, const mpl_native_term *t, mpl_err *err);

#ifdef __cplusplus
}
#endif
#endif
