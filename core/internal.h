/* metaplast: private definitions shared by the engine's sources; never installed.
 * See LICENSE for copyright. */
#ifndef METAPLAST_INTERNAL_H
#define METAPLAST_INTERNAL_H

#include "metaplast/expr.h"
#include "metaplast/terms.h"

#if defined(__GNUC__)
#define MPL_INTERNAL __attribute__((visibility("hidden")))
#else
#define MPL_INTERNAL
#endif

/* IR operations. */
typedef enum mpl_op {
  MPL_OP_SIG, MPL_OP_ONES, MPL_OP_NUM,
  MPL_OP_ADD, MPL_OP_SUB, MPL_OP_NEG, MPL_OP_MUL, MPL_OP_MATMUL, MPL_OP_T, MPL_OP_SUM, MPL_OP_FN,
  MPL_OP_COUNT
} mpl_op;

struct mpl_expr {
  int id;             /* index in the set's node array (creation order = a topological order) */
  mpl_op op;
  mpl_dim rows, cols;
  mpl_expr *a, *b;    /* operands (NULL where unused) */
  int sig;            /* MPL_OP_SIG: mpl_signal; MPL_OP_ONES: mpl_dim; MPL_OP_FN: mpl_func */
  double num;         /* MPL_OP_NUM */
};

struct mpl_native_term;

typedef struct mpl_term {
  char *name, *description;
  mpl_expr *expr;                  /* NULL for a native term */
  struct mpl_native_term *native;  /* owned copy (strings too), or NULL */
  char *source;                    /* where the term came from ("paper", "x.so", "" for the API) */
  int sign;                        /* declared sign of its coefficient: +1, -1, 0 (none) */
} mpl_term;

struct mpl_termset {
  mpl_expr **nodes;
  int n_nodes, cap_nodes;
  mpl_term *terms;
  int n_terms, cap_terms;
  char error[512];    /* first builder error, "" if none */
  int load_first;     /* names must be unique among terms[load_first..]: the current source */
  const char *source; /* source recorded for terms added now (borrowed; NULL = "") */
  void **handles;     /* dlopen handles of loaded plugins, closed with the set */
  int n_handles;
  struct mpl__source_rec *srcs; /* the files its sources were loaded from (source.c) */
  int n_srcs;
};

/* {====== Term sources on disk (source.c, issue 25) ====== */
/* A source file a term set loaded: the specification as given ("my_terms.so", "paper",
 * "rules/oja.lua"), its resolved absolute path, "plugin" or "rules", and its content's CRC-32
 * (zlib) and size, so that a rule can find it again and tell whether it changed. */
typedef struct mpl__source_rec {
  char *spec, *path;
  const char *kind;
  unsigned long crc32;
  long long size;
} mpl__source_rec;
/* Record spec's file (realpath, hash) once. */
MPL_INTERNAL int mpl__termset_record_source(mpl_termset *ts, const char *spec, const char *path, const char *kind,
                                            mpl_err *err);
MPL_INTERNAL const mpl__source_rec *mpl__termset_source_rec(const mpl_termset *ts, const char *spec);
MPL_INTERNAL void mpl__termset_free_sources(mpl_termset *ts);
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
/* Locate a term source for loading. spec as given (a name, or a file x.so/x.lua/dir/x); recorded:
 * the absolute path a rule recorded for it, or NULL. A name: the plugin path, then the rule path.
 * A file: with no record, spec itself, then its file name on the plugin (rule) path; with a
 * record, the plugin (rule) path first, then the recorded path, then spec as given. *kind:
 * "plugin" or "rules". MPL_ENOTFOUND lists exactly the places looked at and what to set. */
MPL_INTERNAL int mpl__source_locate(const char *spec, const char *recorded, char *path, size_t n, const char **kind,
                                    mpl_err *err);
/* A rule's records of its sources (rule_sources.c): from the term set a search loaded, as JSON
 * (rule.json "sources") and back, and a source found again (mpl__source_locate with the recorded
 * path) with its content compared to the record's. */
struct mpl_readout;
struct mpl_readout_source;
struct json_t;
typedef struct mpl__source_check { int changed; char note[1400]; } mpl__source_check;
MPL_INTERNAL int mpl__readout_sources_from(struct mpl_readout *r, const mpl_termset *ts);
MPL_INTERNAL struct json_t *mpl__readout_sources_json(const struct mpl_readout *r);
MPL_INTERNAL int mpl__readout_sources_load(struct json_t *a, const char *path, struct mpl_readout *r, mpl_err *err);
MPL_INTERNAL const struct mpl_readout_source *mpl__readout_source(const struct mpl_readout *r, const char *spec);
MPL_INTERNAL void mpl__readout_sources_free(struct mpl_readout *r);
MPL_INTERNAL int mpl__readout_locate(const struct mpl_readout *r, const char *spec, char *path, size_t n,
                                     mpl__source_check *chk, mpl_err *err);
/* mpl_readout_build_noted counting the sources whose content changed since the run (report.c). */
MPL_INTERNAL int mpl__readout_build(const struct mpl_readout *r, mpl_termset *ts, mpl_selection *sel, char *notes,
                                    size_t nn, int *changed, mpl_err *err);
/* A frozen rule loaded and rebuilt (eval.c; `eval` and `train`): *ts is new (free it with its
 * selection even on failure), sel->theta0 holds the rule's θ. */
MPL_INTERNAL int mpl__rule_load(const char *path, int final, struct mpl_readout *r, mpl_termset **ts,
                                mpl_selection *sel, char *notes, size_t nn, int *changed, mpl_err *err);
/* Load spec[:names] into ts from path (located by mpl__source_locate), recorded under spec. */
MPL_INTERNAL int mpl__terms_parse_at(const char *item, const char *path, mpl_termset *ts, mpl_selection *sel,
                                     mpl_err *err);
/* }====== */

/* Add a native term (copied) to ts, under ts->source. */
MPL_INTERNAL int mpl__termset_add_native(mpl_termset *ts, const struct mpl_native_term *t, mpl_err *err);
/* Load the plugin at path into ts, recording `source` on its terms (plugin.c). */
MPL_INTERNAL int mpl__plugin_load(const char *path, const char *source, mpl_termset *ts, mpl_err *err);
/* Find NAME.so on the plugin path: METAPLAST_PLUGIN_PATH, the install dir, the build dir. */
MPL_INTERNAL int mpl__plugin_find(const char *name, char *path, size_t n, mpl_err *err);
/* Rule files (rules.c, docs/rules.md): Lua formulas run once in a sandbox. Each loads all its
 * terms into ts (under `source`; chunkname names the file in messages) or none. */
MPL_INTERNAL int mpl__rules_load_buffer(const char *chunkname, const char *text, size_t len, mpl_termset *ts,
                                        mpl_err *err);
MPL_INTERNAL int mpl__rules_load_file(const char *path, const char *source, mpl_termset *ts, mpl_err *err);
/* Find NAME.lua on the rule path: METAPLAST_RULES_PATH, the install dir, the source tree's rules/. */
MPL_INTERNAL int mpl__rules_find(const char *name, char *path, size_t n, mpl_err *err);
/* Evaluate one formula of the rule-file language (any shape) into ts. */
MPL_INTERNAL int mpl__rules_eval(mpl_termset *ts, const char *formula, mpl_expr **out, mpl_err *err);
/* Drop (and free) the terms from index n on. */
MPL_INTERNAL void mpl__termset_truncate(mpl_termset *ts, int n);
/* Keep a dlopen handle open for the lifetime of ts. */
MPL_INTERNAL int mpl__termset_keep_handle(mpl_termset *ts, void *handle);

/* A malloc'ed copy of s (NULL if s is NULL or memory is short). */
MPL_INTERNAL char *mpl__strdup(const char *s);

/* Smooth elementwise functions: value and derivative. */
MPL_INTERNAL double mpl__fn_eval(mpl_func f, double x);
MPL_INTERNAL double mpl__fn_deriv(mpl_func f, double x);
MPL_INTERNAL const char *mpl__fn_name(mpl_func f);

/* Streaming IDX reader (idx.c): open checks the header (ndims 1 or 3; dims receives them),
 * read takes `items` records of the item size, finish checks that nothing trails. */
#include <stdint.h>
typedef struct mpl__idx mpl__idx;
MPL_INTERNAL int mpl__idx_open(const char *path, int ndims, mpl__idx **out, size_t dims[3], mpl_err *err);
MPL_INTERNAL int mpl__idx_read(mpl__idx *r, uint8_t *buf, size_t items, mpl_err *err);
MPL_INTERNAL int mpl__idx_finish(mpl__idx *r, mpl_err *err);
MPL_INTERNAL void mpl__idx_close(mpl__idx *r);

/* Images held whole (npy.c, csv.c, float IDX): n examples of rows x cols inputs, as bytes (u8,
 * scaled by 1/255) or as numbers taken as they are (f64); one of the two is set. */
typedef struct mpl__images {
  size_t n, rows, cols;
  uint8_t *u8;
  double *f64;
} mpl__images;
MPL_INTERNAL void mpl__images_free(mpl__images *im);
/* An IEEE float of `size` bytes (4 or 8) at p, big- or little-endian (npy.c; float IDX too). */
MPL_INTERNAL double mpl__load_float(const uint8_t *p, int size, int big);
/* A whole file, raw or gzip (zlib reads both). */
MPL_INTERNAL int mpl__read_whole(const char *path, uint8_t **out, size_t *len, mpl_err *err);
/* NumPy .npy (npy.c): images uint8/float32/float64 of shape (n, rows, cols) or (n, d); labels of an
 * integer type, shape (n,) or (n, 1), values 0..255. */
MPL_INTERNAL int mpl__is_npy(const char *path);
MPL_INTERNAL int mpl__npy_read_images(const char *path, mpl__images *im, mpl_err *err);
MPL_INTERNAL int mpl__npy_read_labels(const char *path, uint8_t **labels, size_t *n, mpl_err *err);
/* CSV (csv.c, libcsv): a header row, the column named label holds class numbers, the others inputs. */
MPL_INTERNAL int mpl__csv_read(const char *path, const char *label, mpl__images *im, uint8_t **labels, mpl_err *err);
/* IDX images of any element type the reader takes (0x08 unsigned byte, 0x0D float32, 0x0E
 * float64), read whole (idx.c). */
MPL_INTERNAL int mpl__idx_read_images_any(const char *path, mpl__images *im, mpl_err *err);
/* The element type byte of an IDX file's magic (0x08, 0x0D, ...), or -1 if it cannot be read. */
MPL_INTERNAL int mpl__idx_type(const char *path);

/* Files and directories (util.c). */
#include <stddef.h>
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

/* Seconds on the monotonic clock (util.c). */
MPL_INTERNAL double mpl__now(void);
/* A bounded string printer: appends while room lasts, counts what the full text needs (len). */
typedef struct mpl__sb { char *p; size_t n, len; } mpl__sb;
MPL_INTERNAL void mpl__sb_printf(mpl__sb *s, const char *fmt, ...) MPL_PRINTF(2, 3);

/* The adapted network's query logits in the last mpl_episode_run (n_query rows of n_L), as its
 * query forward pass computed them (before the loss overwrote them with their adjoint). Borrowed,
 * valid until the next run (net.c). */
struct mpl_episode;
MPL_INTERNAL const double *mpl__episode_query_logits(const struct mpl_episode *ep);
/* Steps per segment of layer l's weights in the last mpl_episode_run on the lazy path (net.c). */
MPL_INTERNAL int mpl__episode_segment(const struct mpl_episode *ep, int l);

/* The rule.txt text of a result (report.c). */
struct mpl_search_result;
struct mpl_search_cfg;
MPL_INTERNAL size_t mpl__rule_text(const struct mpl_search_result *r, const struct mpl_search_cfg *cfg, char *buf,
                                   size_t len);

#endif
