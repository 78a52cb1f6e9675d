/* metaplast: the front ends' private interface: finding term sources on disk (source.c), loading
 * plugins (plugin.c) and rule files (rulefile.c), and one --terms item (selection.c). Never
 * installed. See LICENSE for copyright. */
#ifndef METAPLAST_FRONT_H
#define METAPLAST_FRONT_H

#include "metaplast/terms.h"

#include "internal.h"


/* CRC-32 and size of a file's content. */
MPL_INTERNAL int mpl__file_hash(const char *path, unsigned long *crc, long long *size, mpl_err *err);
/* The places a search looked at, "DIR (why), DIR (why)", for a not-found message. */
typedef struct mpl__looked { char text[900]; } mpl__looked;
MPL_INTERNAL void mpl__looked_add(mpl__looked *l, const char *what, size_t len, const char *why);
/* dir/file exists? (dir: len bytes; recorded in l, which may be NULL) */
MPL_INTERNAL int mpl__try_dir(const char *dir, size_t len, const char *file, const char *why, char *path, size_t n,
                              mpl__looked *l);
/* The same for each directory of a ':'-separated list. */
MPL_INTERNAL int mpl__try_path_list(const char *list, const char *file, const char *why, char *path, size_t n,
                                    mpl__looked *l);
/* A search path for term sources of one kind (plugins, rule files), in order: the directories of
 * the environment variable env, <directory of libmetaplast>/lib_rel, the configured install dir,
 * and a directory of the tree (why: "build tree", "source tree"). */
typedef struct mpl__search_path {
  const char *env, *lib_rel, *install, *tree, *tree_why;
} mpl__search_path;
/* The first of sp's directories that holds file: 1 with its path, or 0; each place looked at is
 * recorded in l. */
MPL_INTERNAL int mpl__search_path_find(const mpl__search_path *sp, const char *file, char *path, size_t n,
                                       mpl__looked *l);
/* Locate a term source for loading. spec as given (a name, or a file x.so/x.lua/dir/x); recorded:
 * the absolute path a rule recorded for it, or NULL. A name: the plugin path, then the rule path.
 * A file: with no record, spec itself, then its file name on the plugin (rule) path; with a
 * record, the plugin (rule) path first, then the recorded path, then spec as given. *kind:
 * "plugin" or "rules". MPL_ENOTFOUND lists exactly the places looked at and what to set. */
MPL_INTERNAL int mpl__source_locate(const char *spec, const char *recorded, char *path, size_t n, const char **kind,
                                    mpl_err *err);

/* Load spec[:names] into ts from path (located by mpl__source_locate), recorded under spec. */
MPL_INTERNAL int mpl__terms_parse_at(const char *item, const char *path, mpl_termset *ts, mpl_selection *sel,
                                     mpl_err *err);

/* Load the plugin at path into ts, recording `source` on its terms (plugin.c). */
MPL_INTERNAL int mpl__plugin_load(const char *path, const char *source, mpl_termset *ts, mpl_err *err);
/* Find NAME.so on the plugin path: METAPLAST_PLUGIN_PATH, the install dir, the build dir. */
MPL_INTERNAL int mpl__plugin_find(const char *name, char *path, size_t n, mpl_err *err);
/* Rule files (rulefile.c, docs/rules.md): Lua formulas run once in a sandbox. Each loads all its
 * terms into ts (under `source`; chunkname names the file in messages) or none. */
MPL_INTERNAL int mpl__rules_load_buffer(const char *chunkname, const char *text, size_t len, mpl_termset *ts,
                                        mpl_err *err);
MPL_INTERNAL int mpl__rules_load_file(const char *path, const char *source, mpl_termset *ts, mpl_err *err);
/* Find NAME.lua on the rule path: METAPLAST_RULES_PATH, the install dir, the source tree's rules/. */
MPL_INTERNAL int mpl__rules_find(const char *name, char *path, size_t n, mpl_err *err);
/* Evaluate one formula of the rule-file language (any shape) into ts. */
MPL_INTERNAL int mpl__rules_eval(mpl_termset *ts, const char *formula, mpl_expr **out, mpl_err *err);

#endif
