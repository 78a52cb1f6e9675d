/* metaplast: a rule's record of its term sources (rule.json "sources", issue 25): written from the
 * term set a search loaded, read back, and used to find each source again wherever the rule was
 * moved and to tell whether it changed since. See LICENSE for copyright. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaplast/report.h"

#include "results.h"

static int push_source(mpl_readout *r, const char *spec, const char *kind, const char *path, unsigned long crc,
                       long long size) {
  mpl_readout_source *s = realloc(r->sources, ((size_t)r->n_sources + 1) * sizeof *s);
  if (!s) return MPL_ENOMEM;
  r->sources = s;
  s = &r->sources[r->n_sources];
  *s = (mpl_readout_source){mpl__strdup(spec), mpl__strdup(kind), mpl__strdup(path), crc, size};
  if (!s->spec || !s->kind || !s->path) {
    free(s->spec), free(s->kind), free(s->path);
    return MPL_ENOMEM;
  }
  r->n_sources++;
  return MPL_OK;
}

const mpl_readout_source *mpl__readout_source(const mpl_readout *r, const char *spec) {
  for (int i = 0; spec && i < r->n_sources; i++)
    if (!strcmp(r->sources[i].spec, spec)) return &r->sources[i];
  return NULL;
}

void mpl__readout_sources_free(mpl_readout *r) {
  for (int i = 0; i < r->n_sources; i++) free(r->sources[i].spec), free(r->sources[i].kind), free(r->sources[i].path);
  free(r->sources);
  r->sources = NULL;
  r->n_sources = 0;
}

int mpl__readout_sources_from(mpl_readout *r, const mpl_termset *ts) {
  for (int i = 0; i < r->n_terms; i++) {
    const mpl__source_rec *s = mpl__termset_source_rec(ts, r->terms[i].source);
    if (!s || mpl__readout_source(r, s->spec)) continue;
    if (push_source(r, s->spec, s->kind, s->path, s->crc32, s->size)) return MPL_ENOMEM;
  }
  return MPL_OK;
}

/* {====== JSON ====== */

json_t *mpl__readout_sources_json(const mpl_readout *r) {
  json_t *a = json_array();
  for (int i = 0; a && i < r->n_sources; i++) {
    const mpl_readout_source *s = &r->sources[i];
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", s->crc32);
    if (json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:I}", "spec", s->spec, "kind", s->kind, "path",
                                           s->path, "crc32", crc, "size", (json_int_t)s->size)))
      return json_decref(a), NULL;
  }
  return a;
}

static int source_error(mpl_err *err, const char *path, size_t i, const char *key, const char *what) {
  return mpl_errorf(err, MPL_EFORMAT, "%s: sources[%zu].%s: %s", path, i, key, what);
}

static int load_one(json_t *o, size_t i, const char *path, mpl_readout *r, mpl_err *err) {
  static const char *const keys[] = {"spec", "kind", "path", "crc32"};
  const char *v[4];
  if (!json_is_object(o)) return mpl_errorf(err, MPL_EFORMAT, "%s: sources[%zu]: expected an object", path, i);
  for (int k = 0; k < 4; k++) {
    json_t *x = json_object_get(o, keys[k]);
    if (!json_is_string(x)) return source_error(err, path, i, keys[k], x ? "expected a string" : "missing");
    v[k] = json_string_value(x);
  }
  if (strcmp(v[1], "plugin") && strcmp(v[1], "rules")) return source_error(err, path, i, "kind", "expected \"plugin\" or \"rules\"");
  char *end;
  unsigned long crc = strtoul(v[3], &end, 16);
  if (!v[3][0] || *end || strlen(v[3]) > 8) return source_error(err, path, i, "crc32", "expected 8 hexadecimal digits");
  json_t *size = json_object_get(o, "size");
  if (!json_is_integer(size) || json_integer_value(size) < 0)
    return source_error(err, path, i, "size", size ? "expected an integer >= 0" : "missing");
  if (mpl__readout_source(r, v[0])) return source_error(err, path, i, "spec", "a second record of that source");
  if (push_source(r, v[0], v[1], v[2], crc, (long long)json_integer_value(size)))
    return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  return MPL_OK;
}

int mpl__readout_sources_load(json_t *a, const char *path, mpl_readout *r, mpl_err *err) {
  if (!a) return MPL_OK; /* rules written before issue 25 */
  if (!json_is_array(a)) return mpl_errorf(err, MPL_EFORMAT, "%s: sources: expected an array", path);
  for (size_t i = 0; i < json_array_size(a); i++) {
    int rc = load_one(json_array_get(a, i), i, path, r, err);
    if (rc < 0) return rc;
  }
  return MPL_OK;
}

/* }====== */

/* {====== Finding a source again ====== */

int mpl__readout_locate(const mpl_readout *r, const char *spec, char *path, size_t n, mpl__source_check *chk,
                        mpl_err *err) {
  const mpl_readout_source *s = mpl__readout_source(r, spec);
  const char *kind;
  int rc = mpl__source_locate(spec, s ? s->path : NULL, path, n, &kind, err);
  if (rc < 0 || !s || !chk) return rc;
  unsigned long crc;
  long long size;
  if ((rc = mpl__file_hash(path, &crc, &size, err)) < 0) return rc;
  chk->changed = crc != s->crc32 || size != s->size;
  if (chk->changed)
    snprintf(chk->note, sizeof chk->note, "warning: %s %s (%s) changed since the run: its content is now %lld bytes "
             "with CRC-32 %08lx, the run's was %lld bytes with %08lx%s", s->kind, spec, path, size, crc, s->size,
             s->crc32, strcmp(path, s->path) ? "" : " (the same file, rewritten)");
  return MPL_OK;
}

/* }====== */
