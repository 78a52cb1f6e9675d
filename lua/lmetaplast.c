/* metaplast: the Lua module `metaplast`: datasets, term sources, searches and their results, over
 * libmetaplast's public API. The same code serves `require "metaplast"` in a stock lua5.4 and
 * `metaplast run`. docs/lua.md documents it. See LICENSE for copyright.
 *
 * Memory: every C resource is owned by a "box", a userdata created BEFORE the resource (liolib's
 * newprefile) and marked to-be-closed, so that whatever Lua error happens later (a bad key, a
 * failed search, an allocation failure while building a result) the resource is released when
 * the C function's frame unwinds. Strings handed to the library are anchored in a table on the
 * stack for as long as the library may read them. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, open_memstream */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "metaplast/data.h"
#include "metaplast/eval.h"
#include "metaplast/report.h"
#include "metaplast/search.h"
#include "metaplast/terms.h"
#include "metaplast/trials.h"
#include "metaplast/version.h"
#include "metaplast/results.h"

#include "lmetaplast.h"

/* {====== Boxes: C resources owned by to-be-closed userdata ====== */

#define BOX_MT "metaplast.box"

typedef struct box {
  void *p;                  /* the resource, or NULL */
  void (*release)(void *);  /* how to release it */
} box;

static int box_close(lua_State *L) {
  box *b = luaL_checkudata(L, 1, BOX_MT);
  void *p = b->p;
  b->p = NULL;  /* idempotent: __close, then __gc */
  if (p) b->release(p);
  return 0;
}

/* Push an empty box that will release its resource with `release` when the calling C function
 * returns or unwinds. Create the box first, then the resource. */
static box *newbox(lua_State *L, void (*release)(void *)) {
  box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  b->release = release;
  luaL_setmetatable(L, BOX_MT);
  lua_toclose(L, -1);
  return b;
}

static void release_dataset(void *p) { mpl_dataset_free(p); }
static void release_termset(void *p) { mpl_termset_free(p); }
static void release_selection(void *p) { mpl_selection_free(p); free(p); }
static void release_result(void *p) { mpl_search_result_free(p); free(p); }
static void release_file(void *p) { fclose(p); }
static void release_readout(void *p) { mpl_readout_free(p); free(p); }

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st; (void)flag; (void)ftw;
  remove(path);
  return 0;
}

/* A temporary results directory this module made (mkdtemp): removed with its contents. */
static void release_tmpdir(void *p) {
  nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(p);
}


/* }====== */

/* {====== Checked values: wrong types and ranges are errors naming the key ====== */

static int key_error(lua_State *L, const char *fn, const char *key, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return luaL_error(L, "%s: key '%s': %s", fn, key, msg);
}

static lua_Integer check_int(lua_State *L, int i, const char *fn, const char *key, lua_Integer lo, lua_Integer hi) {
  int ok = 0;
  lua_Integer v = lua_type(L, i) == LUA_TNUMBER ? lua_tointegerx(L, i, &ok) : 0;
  if (!ok && lua_type(L, i) == LUA_TNUMBER)
    key_error(L, fn, key, "expected an integer, got %.17g", (double)lua_tonumber(L, i));
  if (!ok) key_error(L, fn, key, "expected an integer, got %s", luaL_typename(L, i));
  if (v < lo || v > hi) key_error(L, fn, key, "%lld is out of range [%lld, %lld]", (long long)v, (long long)lo, (long long)hi);
  return v;
}

static double check_num(lua_State *L, int i, const char *fn, const char *key, double lo, double hi) {
  if (lua_type(L, i) != LUA_TNUMBER) key_error(L, fn, key, "expected a number, got %s", luaL_typename(L, i));
  double v = (double)lua_tonumber(L, i);
  if (!isfinite(v) || v < lo || v > hi) key_error(L, fn, key, "%g is out of range [%g, %g]", v, lo, hi);
  return v;
}

static int check_bool(lua_State *L, int i, const char *fn, const char *key) {
  if (lua_type(L, i) != LUA_TBOOLEAN) key_error(L, fn, key, "expected a boolean, got %s", luaL_typename(L, i));
  return lua_toboolean(L, i);
}

/* A string value, anchored in the table at `keep` so that it outlives the value's own table. */
static const char *check_str(lua_State *L, int i, int keep, const char *fn, const char *key) {
  if (lua_type(L, i) != LUA_TSTRING) key_error(L, fn, key, "expected a string, got %s", luaL_typename(L, i));
  lua_pushvalue(L, i);
  lua_rawseti(L, keep, (lua_Integer)lua_rawlen(L, keep) + 1);
  return lua_tostring(L, i);
}

/* The index of the string value among names (NULL-terminated). */
static int check_choice(lua_State *L, int i, const char *fn, const char *key, const char *const *names) {
  if (lua_type(L, i) != LUA_TSTRING) key_error(L, fn, key, "expected a string, got %s", luaL_typename(L, i));
  const char *s = lua_tostring(L, i);
  char list[256] = "";
  for (int k = 0; names[k]; k++) {
    if (!strcmp(s, names[k])) return k;
    size_t n = strlen(list);
    snprintf(list + n, sizeof list - n, "%s'%s'", k ? ", " : "", names[k]);
  }
  return key_error(L, fn, key, "'%s' is not one of %s", s, list);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The string keys of the table at t, sorted, in a scratch userdata pushed on the stack (the
 * strings stay anchored by t). A key that is not a string is an error naming `key`. */
static const char **sorted_keys(lua_State *L, int t, const char *fn, const char *key, int *n) {
  t = lua_absindex(L, t);
  int k = 0;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING) key_error(L, fn, key, "keys must be names, got a %s key", luaL_typename(L, -2));
    k++;
  }
  const char **v = lua_newuserdatauv(L, (size_t)(k ? k : 1) * sizeof *v, 0);
  int j = 0;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) v[j++] = lua_tostring(L, -2);
  qsort(v, (size_t)k, sizeof *v, cmp_str);
  *n = k;
  return v;
}

/* }====== */

/* {====== The search configuration: Lua table -> mpl_search_cfg ====== */

#define SEARCH "metaplast.search"

typedef struct opt_ctx {
  lua_State *L;
  int keep;   /* stack index of the table anchoring strings built or read here */
  int quiet;
  int on_episode;  /* stack index of the on_episode function, or 0 */
  int lambda_given;
} opt_ctx;

enum { O_INT, O_BOOL, O_STR, O_FN };

typedef struct sopt {
  const char *key;
  int type;
  size_t off;                                            /* the field of mpl_search_cfg */
  double lo, hi;                                         /* numeric range */
  void (*set)(opt_ctx *o, mpl_search_cfg *c, int i);     /* O_FN: read the value at index i */
  void (*push)(lua_State *L, const mpl_search_cfg *c);   /* O_FN: push the setting's value */
} sopt;

/* A dataset value at index i: "fashion-mnist" | "emnist-bymerge:DIR" | {images=, labels=} |
 * {spec=, per_class=} (the last two are what metaplast.dataset returns). */
typedef struct data_ref { const char *data, *images, *labels; size_t *per_class; } data_ref;

static void read_data(lua_State *L, int i, int keep, const char *fn, data_ref *d) {
  if (lua_type(L, i) == LUA_TSTRING) { d->data = check_str(L, i, keep, fn, "data"); return; }
  if (lua_type(L, i) != LUA_TTABLE)
    key_error(L, fn, "data", "expected a dataset name or a table {images=, labels=}, got %s", luaL_typename(L, i));
  lua_getfield(L, i, "images");
  lua_getfield(L, i, "labels");
  lua_getfield(L, i, "spec");
  lua_getfield(L, i, "per_class");
  int top = lua_gettop(L);
  if (!lua_isnil(L, top - 3) || !lua_isnil(L, top - 2)) {
    d->images = check_str(L, top - 3, keep, fn, "data.images");
    d->labels = check_str(L, top - 2, keep, fn, "data.labels");
  } else if (!lua_isnil(L, top - 1)) {
    d->data = check_str(L, top - 1, keep, fn, "data.spec");
  } else {
    key_error(L, fn, "data", "a table needs images= and labels= (IDX files) or spec=");
  }
  if (!lua_isnil(L, top)) *d->per_class = (size_t)check_int(L, top, fn, "data.per_class", 0, INT_MAX);
  lua_pop(L, 4);
}

static void set_data(opt_ctx *o, mpl_search_cfg *c, int i) {
  data_ref d = {c->data, c->images, c->labels, &c->per_class};
  read_data(o->L, i, o->keep, SEARCH, &d);
  c->data = d.data, c->images = d.images, c->labels = d.labels;
}

static void push_data(lua_State *L, const mpl_search_cfg *c) { lua_pushstring(L, c->data); }

/* method = "robust" | "plain"; a plain method's lambda is 0 unless lambda is given (it is read
 * first: the table's order). */
static void set_method(opt_ctx *o, mpl_search_cfg *c, int i) {
  static const char *const names[] = {"robust", "plain", NULL};
  c->method = check_choice(o->L, i, SEARCH, "method", names) ? MPL_METHOD_PLAIN : MPL_METHOD_ROBUST;
  if (c->method == MPL_METHOD_PLAIN && !o->lambda_given) c->lambda_auto = 0;
}

/* lambda = a number, or "auto" (the path chosen by validation, docs/discovery.md). */
static void set_lambda(opt_ctx *o, mpl_search_cfg *c, int i) {
  lua_State *L = o->L;
  o->lambda_given = 1;
  c->lambda_auto = lua_type(L, i) == LUA_TSTRING && !strcmp(lua_tostring(L, i), "auto");
  c->adam.lambda = c->lambda_auto ? 0 : check_num(L, i, SEARCH, "lambda", 0, 1e12);
}
static void push_lambda(lua_State *L, const mpl_search_cfg *c) {
  if (c->lambda_auto) lua_pushstring(L, "auto");
  else lua_pushnumber(L, c->adam.lambda);
}

/* hidden = {170, 130, 100, 70} (hidden layer sizes; {} for none). */
static void set_hidden(opt_ctx *o, mpl_search_cfg *c, int i) {
  lua_State *L = o->L;
  if (lua_type(L, i) != LUA_TTABLE)
    key_error(L, SEARCH, "hidden", "expected a list of layer sizes like {170, 130}, got %s", luaL_typename(L, i));
  lua_Integer n = (lua_Integer)lua_rawlen(L, i);
  if (n > MPL_MAX_LAYERS - 1) key_error(L, SEARCH, "hidden", "%d hidden layers (at most %d)", (int)n, MPL_MAX_LAYERS - 1);
  for (lua_Integer k = 1; k <= n; k++) {
    char key[32];
    snprintf(key, sizeof key, "hidden[%d]", (int)k);
    lua_rawgeti(L, i, k);
    c->hidden[k - 1] = (int)check_int(L, -1, SEARCH, key, 1, 100000);
    lua_pop(L, 1);
  }
  c->n_hidden = (int)n;
}
static void push_hidden(lua_State *L, const mpl_search_cfg *c) {
  lua_createtable(L, c->n_hidden, 0);
  for (int k = 0; k < c->n_hidden; k++) {
    lua_pushinteger(L, c->hidden[k]);
    lua_rawseti(L, -2, k + 1);
  }
}

/* terms = "paper:F0,F9" or a list of sources {"paper:F0,F9", "extra:bcm"} (joined with ';'). */
static void set_terms(opt_ctx *o, mpl_search_cfg *c, int i) {
  lua_State *L = o->L;
  if (lua_type(L, i) == LUA_TSTRING) { c->terms = check_str(L, i, o->keep, SEARCH, "terms"); return; }
  if (lua_type(L, i) != LUA_TTABLE)
    key_error(L, SEARCH, "terms", "expected a term specification like \"paper:F0,F9\" or a list of them, got %s",
              luaL_typename(L, i));
  lua_Integer n = (lua_Integer)lua_rawlen(L, i);
  if (n == 0) key_error(L, SEARCH, "terms", "an empty list");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (lua_Integer k = 1; k <= n; k++) {
    if (k > 1) luaL_addchar(&b, ';');
    lua_rawgeti(L, i, k);
    if (lua_type(L, -1) != LUA_TSTRING) key_error(L, SEARCH, "terms", "item %d: expected a string, got %s", (int)k, luaL_typename(L, -1));
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  c->terms = check_str(L, -1, o->keep, SEARCH, "terms");
  lua_pop(L, 1);
}

/* init = "F9=0.01" or {F9 = 0.01}; sign = "F9=+" or {F9 = "+"} ("+", "-", "free"). A table is
 * written out as the library's NAME=VALUE list, in name order. */
static void set_named(opt_ctx *o, const char **field, int i, const char *key, int is_sign) {
  lua_State *L = o->L;
  if (lua_type(L, i) == LUA_TSTRING) { *field = check_str(L, i, o->keep, SEARCH, key); return; }
  if (lua_type(L, i) != LUA_TTABLE)
    key_error(L, SEARCH, key, "expected a table like %s or a string, got %s",
              is_sign ? "{F9 = \"+\"}" : "{F9 = 0.01}", luaL_typename(L, i));
  int n;
  const char **names = sorted_keys(L, i, SEARCH, key, &n);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int k = 0; k < n; k++) {
    char item[64], sub[160];
    snprintf(sub, sizeof sub, "%s.%s", key, names[k]);
    if (strpbrk(names[k], ",=;")) key_error(L, SEARCH, sub, "not a term name");
    lua_getfield(L, i, names[k]);
    if (is_sign) {
      static const char *const signs[] = {"+", "-", "free", "0", NULL};
      snprintf(item, sizeof item, "%s", signs[check_choice(L, -1, SEARCH, sub, signs)]);
    } else {
      snprintf(item, sizeof item, "%.17g", check_num(L, -1, SEARCH, sub, -1e300, 1e300));
    }
    lua_pop(L, 1);
    if (k) luaL_addchar(&b, ',');
    luaL_addstring(&b, names[k]);
    luaL_addchar(&b, '=');
    luaL_addstring(&b, item);
  }
  luaL_pushresult(&b);
  *field = n ? check_str(L, -1, o->keep, SEARCH, key) : NULL;
  lua_pop(L, 2);  /* the string and the names */
}
static void set_init(opt_ctx *o, mpl_search_cfg *c, int i) { set_named(o, &c->init, i, "init", 0); }
static void set_sign(opt_ctx *o, mpl_search_cfg *c, int i) { set_named(o, &c->sign, i, "sign", 1); }

/* on_episode = function(episode, accuracy, loss) ... end: called after each episode; returning
 * false stops the search (as an interrupt: checkpointed, stats.interrupted = true). */
static void set_on_episode(opt_ctx *o, mpl_search_cfg *c, int i) {
  (void)c;
  if (lua_type(o->L, i) != LUA_TFUNCTION)
    key_error(o->L, SEARCH, "on_episode", "expected a function, got %s", luaL_typename(o->L, i));
  o->on_episode = i;
}
static void push_on_episode(lua_State *L, const mpl_search_cfg *c) { (void)c; lua_pushnil(L); }

static void set_quiet(opt_ctx *o, mpl_search_cfg *c, int i) { (void)c; o->quiet = check_bool(o->L, i, SEARCH, "quiet"); }
static void push_quiet(lua_State *L, const mpl_search_cfg *c) { (void)c; lua_pushboolean(L, 0); }

#define F(m) offsetof(mpl_search_cfg, m)
#define FN(name) O_FN, 0, 0, 0, set_##name, push_##name
/* The options of metaplast.search are the settings of mpl_search_settings() that name one (read
 * by their type), except those with a form of their own here (a table for data, init and sign, a
 * list for hidden and terms, "auto" for lambda), and then the options that are not settings. */
static const sopt own_opts[] = {
  {"data", FN(data)},
  {"hidden", FN(hidden)},
  {"terms", O_FN, 0, 0, 0, set_terms, NULL},   /* NULL push: the setting's, by its type */
  {"init", O_FN, 0, 0, 0, set_init, NULL},
  {"sign", O_FN, 0, 0, 0, set_sign, NULL},
  {"lambda", FN(lambda)},
  {"method", O_FN, 0, 0, 0, set_method, NULL},
  /* not settings */
  {"jobs", O_INT, F(threads), 0, 4096, NULL, NULL},   /* threads of one search (--jobs); trials/path take their own */
  {"out", O_STR, F(out), 0, 0, NULL, NULL},
  {"force", O_BOOL, F(force), 0, 0, NULL, NULL},
  {"quiet", FN(quiet)},
  {"on_episode", FN(on_episode)},
};
#define N_OWN ((int)(sizeof own_opts / sizeof *own_opts))

static const sopt *find_own(const char *key) {
  for (int k = 0; k < N_OWN; k++)
    if (!strcmp(own_opts[k].key, key)) return &own_opts[k];
  return NULL;
}

static void set_opt(opt_ctx *o, const sopt *s, mpl_search_cfg *c, int i) {
  lua_State *L = o->L;
  char *field = (char *)c + s->off;
  switch (s->type) {
  case O_INT: *(int *)field = (int)check_int(L, i, SEARCH, s->key, (lua_Integer)s->lo, (lua_Integer)s->hi); break;
  case O_BOOL: *(int *)field = check_bool(L, i, SEARCH, s->key); break;
  case O_STR: *(const char **)field = check_str(L, i, o->keep, SEARCH, s->key); break;
  default: s->set(o, c, i); break;
  }
}

static void push_opt(lua_State *L, const sopt *s, const mpl_search_cfg *c) {
  const char *field = (const char *)c + s->off;
  switch (s->type) {
  case O_INT: lua_pushinteger(L, *(const int *)field); break;
  case O_BOOL: lua_pushboolean(L, *(const int *)field); break;
  case O_STR: lua_pushstring(L, *(const char *const *)field); break;
  default: s->push(L, c); break;
  }
}

/* An enum setting's value: one of its names or aliases (value = index % the number of names). */
static int check_enum(lua_State *L, int i, const mpl_setting *s) {
  const char *names[32];
  int n = 0, k = 0;
  for (; s->names[n] && n < 15; n++) names[n] = s->names[n];
  for (; s->aliases && s->aliases[k] && n + k < 31; k++) names[n + k] = s->aliases[k];
  names[n + k] = NULL;
  return check_choice(L, i, SEARCH, s->lua, names) % n;
}

/* A setting read by its type (a 0/1 setting is a boolean). */
static void set_setting(opt_ctx *o, const mpl_setting *s, mpl_search_cfg *c, int i) {
  lua_State *L = o->L;
  char *field = (char *)c + s->offset;
  int yesno = (s->flags & MPL_SETTING_BOOL) != 0;
  switch (s->type) {
  case MPL_SETTING_INT:
    *(int *)field = yesno ? check_bool(L, i, SEARCH, s->lua)
                          : (int)check_int(L, i, SEARCH, s->lua, (lua_Integer)s->lo, (lua_Integer)s->hi);
    break;
  case MPL_SETTING_SIZE: *(size_t *)field = (size_t)check_int(L, i, SEARCH, s->lua, (lua_Integer)s->lo, (lua_Integer)s->hi); break;
  case MPL_SETTING_ULONG: *(unsigned long *)field = (unsigned long)check_int(L, i, SEARCH, s->lua, 0, LUA_MAXINTEGER); break;
  case MPL_SETTING_DOUBLE: *(double *)field = check_num(L, i, SEARCH, s->lua, s->lo, s->hi); break;
  case MPL_SETTING_STRING: *(const char **)field = check_str(L, i, o->keep, SEARCH, s->lua); break;
  case MPL_SETTING_ENUM: *(int *)field = yesno ? check_bool(L, i, SEARCH, s->lua) : check_enum(L, i, s); break;
  }
}

static void push_setting(lua_State *L, const mpl_setting *s, const mpl_search_cfg *c) {
  const char *field = (const char *)c + s->offset;
  int yesno = (s->flags & MPL_SETTING_BOOL) != 0;
  switch (s->type) {
  case MPL_SETTING_INT:
    if (yesno) lua_pushboolean(L, *(const int *)field);
    else lua_pushinteger(L, *(const int *)field);
    break;
  case MPL_SETTING_SIZE: lua_pushinteger(L, (lua_Integer) * (const size_t *)field); break;
  case MPL_SETTING_ULONG: lua_pushinteger(L, (lua_Integer) * (const unsigned long *)field); break;
  case MPL_SETTING_DOUBLE: lua_pushnumber(L, *(const double *)field); break;
  case MPL_SETTING_STRING: lua_pushstring(L, *(const char *const *)field); break;
  case MPL_SETTING_ENUM:
    if (yesno) lua_pushboolean(L, *(const int *)field);
    else lua_pushstring(L, s->names[*(const int *)field]);
    break;
  }
}

/* Call f(o, key, setting or NULL, own option or NULL, ud) for every option of metaplast.search, in
 * the order they are applied (the table's, so data before per_class: an explicit per_class wins
 * over a dataset table's; lambda before method). */
typedef void (*opt_fn)(opt_ctx *o, const char *key, const mpl_setting *s, const sopt *own, void *ud);
static void each_opt(opt_ctx *o, opt_fn f, void *ud) {
  size_t n;
  const mpl_setting *s = mpl_search_settings(&n);
  for (size_t k = 0; k < n; k++)
    if (s[k].lua) f(o, s[k].lua, &s[k], find_own(s[k].lua), ud);
  for (int k = 0; k < N_OWN; k++)
    if (!mpl_search_setting(own_opts[k].key, MPL_SETTING_BY_LUA)) f(o, own_opts[k].key, NULL, &own_opts[k], ud);
}

/* Read option `key` of the table at *(int *)ud into its field. */
static void read_opt(opt_ctx *o, const char *key, const mpl_setting *s, const sopt *own, void *ud) {
  lua_State *L = o->L;
  mpl_search_cfg *c = ((void **)ud)[1];
  if (lua_getfield(L, *(int *)((void **)ud)[0], key) != LUA_TNIL) {
    if (own) set_opt(o, own, c, lua_gettop(L));
    else set_setting(o, s, c, lua_gettop(L));
  }
  if (o->on_episode != lua_gettop(L)) lua_pop(L, 1);  /* the callback stays on the stack */
}

/* Read the configuration table at index t into c (over its defaults). Unknown keys are errors;
 * known keys are read with lua_getfield, so a configuration may inherit through __index. */
static void read_config(opt_ctx *o, int t, mpl_search_cfg *c) {
  lua_State *L = o->L;
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, SEARCH ": the configuration takes named keys (episodes = 200, ...), got a %s key",
                 luaL_typename(L, -2));
    if (!mpl_search_setting(lua_tostring(L, -2), MPL_SETTING_BY_LUA) && !find_own(lua_tostring(L, -2)))
      luaL_error(L, SEARCH ": unknown key '%s' (metaplast.defaults() lists the keys)", lua_tostring(L, -2));
  }
  void *ud[2] = {&t, c};
  each_opt(o, read_opt, ud);
}

/* }====== */

/* {====== Reading a results directory ====== */

/* lua_CFunction: the contents of the file named by argument 1, as a string. */
static int f_slurp(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  box *b = newbox(L, release_file);
  if (!(b->p = fopen(path, "rb"))) return luaL_error(L, "%s: cannot open: %s", path, strerror(errno));
  luaL_Buffer B;
  luaL_buffinit(L, &B);
  size_t n;
  do {
    n = fread(luaL_prepbuffer(&B), 1, LUAL_BUFFERSIZE, b->p);
    luaL_addsize(&B, n);
  } while (n == LUAL_BUFFERSIZE);
  if (ferror(b->p)) return luaL_error(L, "%s: cannot read: %s", path, strerror(errno));
  luaL_pushresult(&B);
  return 1;
}

/* Push the contents of dir/name. The file is opened and closed in f_slurp's own frame. */
static const char *push_file(lua_State *L, const char *dir, const char *name) {
  lua_pushcfunction(L, f_slurp);
  lua_pushfstring(L, "%s/%s", dir, name);
  lua_call(L, 1, 1);
  return lua_tostring(L, -1);
}

/* The next field of a line of text: [p, p+len) up to sep, '\n' or the end. */
static const char *field_end(const char *p, char sep) {
  while (*p && *p != sep && *p != '\n') p++;
  return p;
}

static int is_int_column(const char *name, size_t n) {
  return (n == 7 && !memcmp(name, "episode", 7)) || (n == 6 && !memcmp(name, "active", 6));
}

/* Where column `name` goes in the history table h: theta_X -> h.theta.X, grad_X -> h.grad.X,
 * alpha_L -> h.alpha[L], ortho_L -> h.ortho[L], anything else -> h[name]. The column's list is
 * on the top of the stack and stays there. */
static void place_column(lua_State *L, int h, const char *name, size_t n) {
  static const char *const groups[] = {"theta_", "grad_", "alpha_", "ortho_", NULL};
  for (int g = 0; groups[g]; g++) {
    size_t k = strlen(groups[g]);
    if (n <= k || memcmp(name, groups[g], k)) continue;
    lua_getfield(L, h, g < 2 ? (g ? "grad" : "theta") : (g == 2 ? "alpha" : "ortho"));
    if (g < 2) lua_pushlstring(L, name + k, n - k);
    else lua_pushinteger(L, strtol(name + k, NULL, 10));
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return;
  }
  lua_pushlstring(L, name, n);
  lua_pushvalue(L, -2);
  lua_rawset(L, h);
}

/* t[k] = v for the table at index t (-1: the one on top), the boilerplate of every result table. */
static void set_number(lua_State *L, int t, const char *k, lua_Number v) {
  t = lua_absindex(L, t);
  lua_pushnumber(L, v);
  lua_setfield(L, t, k);
}
static void set_integer(lua_State *L, int t, const char *k, lua_Integer v) {
  t = lua_absindex(L, t);
  lua_pushinteger(L, v);
  lua_setfield(L, t, k);
}
static void set_string(lua_State *L, int t, const char *k, const char *v) {
  t = lua_absindex(L, t);
  lua_pushstring(L, v);
  lua_setfield(L, t, k);
}
static void set_boolean(lua_State *L, int t, const char *k, int v) {
  t = lua_absindex(L, t);
  lua_pushboolean(L, v);
  lua_setfield(L, t, k);
}

/* Push the history of a run, column by column, from the text of its log.csv. */
static void push_history(lua_State *L, const char *s) {
  lua_createtable(L, 0, 16);
  int h = lua_gettop(L);
  static const char *const groups[] = {"theta", "grad", "alpha", "ortho"};
  for (int g = 0; g < 4; g++) {
    lua_newtable(L);
    lua_setfield(L, h, groups[g]);
  }
  lua_newtable(L); /* column j -> its list */
  int cols = lua_gettop(L);
  luaL_Buffer kinds; /* one byte per column: 1 = integer */
  luaL_buffinit(L, &kinds);
  int ncol = 0;
  for (const char *p = s; *p && *p != '\n';) {
    const char *e = field_end(p, ',');
    luaL_addchar(&kinds, (char)is_int_column(p, (size_t)(e - p)));
    p = *e == ',' ? e + 1 : e;
    ncol++;
  }
  luaL_pushresult(&kinds);
  const char *kind = lua_tostring(L, -1);
  const char *p = s;
  for (int j = 1; j <= ncol; j++) {
    const char *e = field_end(p, ',');
    lua_newtable(L);
    place_column(L, h, p, (size_t)(e - p));
    lua_rawseti(L, cols, j);
    p = *e == ',' ? e + 1 : e;
  }
  lua_Integer row = 0;
  for (p = *p ? p + 1 : p; *p; p += *p == '\n') {
    row++;
    for (int j = 1; j <= ncol && *p && *p != '\n'; j++) {
      char *end;
      const char *e = field_end(p, ',');
      double v = strtod(p, &end);
      lua_rawgeti(L, cols, j);
      if (end != e) lua_pushlstring(L, p, (size_t)(e - p));  /* text, e.g. the status column */
      else if (kind[j - 1] && isfinite(v)) lua_pushinteger(L, (lua_Integer)v);
      else lua_pushnumber(L, v);
      lua_rawseti(L, -2, row);
      lua_pop(L, 1);
      p = e;
      if (*p == ',') p++;
    }
    p = field_end(p, '\0');
  }
  set_integer(L, h, "n", row);
  lua_settop(L, h);
}

/* }====== */

/* {====== Read-outs of a rule (report.h) ====== */

static const char *const report_names[] = {"text", "latex", "markdown", "json"};

/* A rule's read-out (a results directory or a JSON rule file) in a box pushed on the stack. */
static mpl_readout *load_readout(lua_State *L, const char *path) {
  box *b = newbox(L, release_readout);
  mpl_readout *r = b->p = calloc(1, sizeof *r);
  if (!r) luaL_error(L, "metaplast.report: out of memory");
  mpl_err err = {0};
  if (mpl_readout_load(path, r, &err) < 0) luaL_error(L, "%s", err.msg);
  return r;
}

/* Push the read-out in format fmt. */
static void push_readout(lua_State *L, const mpl_readout *r, mpl_report_format fmt) {
  mpl_err err = {0};
  box *b = newbox(L, free);
  if (!(b->p = mpl_readout_format(r, fmt, &err))) luaL_error(L, "%s", err.msg);
  lua_pushstring(L, b->p);
}

/* lua_CFunction: {text=, latex=, markdown=, json=} of the rule at path (argument 1). */
static int f_reports(lua_State *L) {
  const mpl_readout *r = load_readout(L, luaL_checkstring(L, 1));
  lua_createtable(L, 0, 4);
  int t = lua_gettop(L);
  for (int f = 0; f < 4; f++) {
    push_readout(L, r, (mpl_report_format)f);  /* a box (closed on return) and the text */
    lua_setfield(L, t, report_names[f]);
  }
  lua_pushvalue(L, t);  /* the boxes are closed when this function returns */
  return 1;
}

/* metaplast.report(path [, format [, tol]]) -> the rule a search wrote in results directory
 * path (or a JSON rule file) as text, latex, markdown or json; tol replaces its zero tolerance. */
static int l_report(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *name = luaL_optstring(L, 2, "text");
  double tol = (double)luaL_optnumber(L, 3, -1);
  mpl_report_format fmt;
  if (mpl_report_format_parse(name, &fmt) < 0)
    return luaL_error(L, "metaplast.report: unknown format '%s' (text, latex, markdown or json)", name);
  lua_settop(L, 3);
  mpl_readout *r = load_readout(L, path);
  if (tol >= 0) r->zero_tol = tol;
  push_readout(L, r, fmt);
  return 1;
}

/* }====== */

/* {====== Results ====== */

/* Set field `name` of the table on the top to the lines/tab field `col` (0-based) of row `row`
 * (0-based, after the header) of a TSV text, or leave it unset. */
static void set_tsv_field(lua_State *L, const char *tsv, int row, int col, const char *name) {
  const char *p = strchr(tsv, '\n');
  for (int r = 0; p && r < row; r++) p = strchr(p + 1, '\n');
  if (!p) return;
  p++;
  for (int c = 0; c < col && *p && *p != '\n'; c++) {
    p = field_end(p, '\t');
    if (*p == '\t') p++;
  }
  const char *e = field_end(p, '\t');
  lua_pushlstring(L, p, (size_t)(e - p));
  lua_setfield(L, -2, name);
}

/* A coefficient for LaTeX: 0.0021, 3.5 \times 10^{-5}. */
static void latex_number(char *buf, size_t n, double v) {
  char m[64];
  snprintf(m, sizeof m, "%.4g", v);
  char *e = strchr(m, 'e');
  if (!e) { snprintf(buf, n, "%s", m); return; }
  *e = '\0';
  snprintf(buf, n, "%s \\times 10^{%d}", m, atoi(e + 1));
}

/* The rule in LaTeX from the result's terms list (at index terms), as mpl_equation in text. */
static void push_latex_equation(lua_State *L, int terms, const mpl_search_result *r, double tol) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "\\Delta W_{\\ell-1,\\ell} =");
  int k = 0;
  for (int i = 0; i < r->n_terms; i++) {
    if (!(fabs(r->theta[i]) > tol)) continue;
    char num[96];
    latex_number(num, sizeof num, fabs(r->theta[i]));
    luaL_addstring(&b, r->theta[i] < 0 ? (k ? " - " : " -") : (k ? " + " : " "));
    luaL_addstring(&b, num);
    luaL_addstring(&b, " \\left(");
    lua_rawgeti(L, terms, i + 1);
    lua_getfield(L, -1, "latex");
    lua_remove(L, -2);
    luaL_addvalue(&b);
    luaL_addstring(&b, "\\right)");
    k++;
  }
  if (!k) luaL_addstring(&b, " 0");
  luaL_pushresult(&b);
}

static void push_text_equation(lua_State *L, const mpl_search_result *r, double tol) {
  size_t n = mpl_equation(r->names, r->formulas, r->theta, r->n_terms, tol, NULL, 0);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, n + 1);
  mpl_equation(r->names, r->formulas, r->theta, r->n_terms, tol, p, n + 1);
  luaL_pushresultsize(&b, n);
}

/* The mean of v over its last `window` entries (all if fewer), NaNs skipped: the final accuracy
 * as trials.h defines it (MPL_FINAL_WINDOW). */
static double tail_mean(const double *v, int n, int window) {
  double s = 0;
  int k = 0;
  for (int i = n > window ? n - window : 0; i < n; i++)
    if (!isnan(v[i])) s += v[i], k++;
  return k ? s / k : NAN;
}

static void push_stats(lua_State *L, const mpl_search_result *r) {
  lua_createtable(L, 0, 6);
  set_integer(L, -1, "episodes", r->episodes);
  set_integer(L, -1, "failures", r->failures);
  set_number(L, -1, "seconds_per_episode", r->seconds_per_episode);
  set_number(L, -1, "final_accuracy", tail_mean(r->accuracy, r->episodes, MPL_FINAL_WINDOW));
  set_number(L, -1, "mean_accuracy", tail_mean(r->accuracy, r->episodes, r->episodes));
  set_integer(L, -1, "window", r->episodes < MPL_FINAL_WINDOW ? r->episodes : MPL_FINAL_WINDOW);
  set_boolean(L, -1, "interrupted", r->interrupted);
  int active = 0;
  for (int i = 0; i < r->n_terms; i++) active += r->theta[i] != 0;
  set_integer(L, -1, "active", active);
}

/* Push the result table of a finished search whose results directory is c->out. */
static void push_result(lua_State *L, const mpl_search_cfg *c, const mpl_search_result *r, int keep_out) {
  lua_createtable(L, 0, 10);
  int res = lua_gettop(L);
  const char *tsv = push_file(L, c->out, MPL_RESULTS_THETA);
  lua_createtable(L, r->n_terms, 0);  /* terms: {name, theta, formula, latex, code} in order */
  int terms = lua_gettop(L);
  lua_createtable(L, 0, r->n_terms);  /* theta: name -> value */
  for (int i = 0; i < r->n_terms; i++) {
    lua_pushnumber(L, r->theta[i]);
    lua_setfield(L, -2, r->names[i]);
    lua_createtable(L, 0, 5);
    set_string(L, -1, "name", r->names[i]);
    set_number(L, -1, "theta", r->theta[i]);
    set_string(L, -1, "formula", r->formulas[i]);
    set_tsv_field(L, tsv, i, 3, "latex");
    set_tsv_field(L, tsv, i, 4, "code");
    lua_rawseti(L, terms, i + 1);
  }
  lua_setfield(L, res, "theta");
  set_boolean(L, res, "healthy", r->healthy);
  set_string(L, res, "health", r->health);
  set_integer(L, res, "best_episode", r->best_episode);
  lua_createtable(L, 0, 2);
  push_text_equation(L, r, c->zero_tol);
  lua_pushvalue(L, -1);
  lua_setfield(L, res, "equation");
  lua_setfield(L, -2, "text");
  push_latex_equation(L, terms, r, c->zero_tol);
  lua_setfield(L, -2, "latex");
  lua_setfield(L, res, "equations");
  lua_setfield(L, res, "terms");
  lua_pop(L, 1);  /* the TSV text */
  push_stats(L, r);
  lua_setfield(L, res, "stats");
  push_history(L, push_file(L, c->out, MPL_RESULTS_LOG));
  lua_setfield(L, res, "history");
  lua_pop(L, 1);  /* the CSV text */
  lua_pushcfunction(L, f_reports);
  lua_pushstring(L, c->out);
  lua_call(L, 1, 1);
  lua_setfield(L, res, "report");
  if (keep_out) {
    set_string(L, res, "out", c->out);
  }
  lua_settop(L, res);
}

/* }====== */

/* {====== The module's functions ====== */

/* The on_episode bridge. The Lua function runs in protected mode inside the search; an error in
 * it (or false returned) stops the search through cfg->stop, which checkpoints and returns
 * normally, so the library frees everything before the error is raised again here. */
typedef struct episode_cb {
  lua_State *L;
  int fn;                      /* stack index of the function */
  int err;                     /* stack index of the error it raised, or 0 */
  volatile sig_atomic_t stop;
} episode_cb;

static void on_episode(void *ud, int episode, double accuracy, double loss) {
  episode_cb *k = ud;
  lua_State *L = k->L;
  if (k->stop) return;
  if (!lua_checkstack(L, 8)) { k->stop = 1; return; }  /* nothing below raises: no allocation */
  lua_pushvalue(L, k->fn);
  lua_pushinteger(L, episode);
  lua_pushnumber(L, accuracy);
  lua_pushnumber(L, loss);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    k->err = lua_gettop(L);  /* the error stays on the stack until it is raised again */
    k->stop = 1;
    return;
  }
  if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) k->stop = 1;
  lua_pop(L, 1);
}

/* metaplast.search{...} -> result (docs/lua.md). */
static int l_search(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L);                                  /* 2: anchors for the configuration's strings */
  box *rb = newbox(L, release_result);              /* 3 */
  box *tb = newbox(L, release_tmpdir);              /* 4 */
  opt_ctx o = {L, 2, 0, 0, 0};
  mpl_search_cfg c;
  mpl_search_defaults(&c);
  read_config(&o, 1, &c);
  c.progress = o.quiet ? NULL : stderr;
  episode_cb cb = {L, o.on_episode, 0, 0};
  if (o.on_episode) {
    c.on_episode = on_episode;
    c.on_episode_ud = &cb;
    c.stop = &cb.stop;
  }
  if (!c.out) {  /* no results directory asked for: a temporary one, for the history */
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    size_t n = strlen(base) + 32;
    char *dir = malloc(n);
    if (!dir) return luaL_error(L, SEARCH ": out of memory");
    snprintf(dir, n, "%s/metaplast-lua-XXXXXX", base);
    if (!mkdtemp(dir)) {
      int e = errno;
      free(dir);
      return luaL_error(L, SEARCH ": cannot create a temporary directory in %s: %s", base, strerror(e));
    }
    c.out = tb->p = dir;
  }
  if (!(rb->p = calloc(1, sizeof(mpl_search_result)))) return luaL_error(L, SEARCH ": out of memory");
  mpl_err err = {0};
  int rc = mpl_search_run(&c, rb->p, &err);
  if (cb.err) {  /* the callback's error, as it was raised */
    lua_pushvalue(L, cb.err);
    return lua_error(L);
  }
  if (rc < 0) return luaL_error(L, "%s", err.msg);
  push_result(L, &c, rb->p, tb->p == NULL);
  return 1;
}

/* {------ Trials: independent seeds of one configuration in parallel (trials.h) ------ */

static void release_trials(void *p) { mpl_trials_result_free(p); free(p); }

static void push_numbers(lua_State *L, const double *v, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, v[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* The per-episode band {mean = {...}, lo = {...}, hi = {...}}. */
static void push_band(lua_State *L, const double *mean, const double *lo, const double *hi, int n) {
  lua_createtable(L, 0, 3);
  push_numbers(L, mean, n);
  lua_setfield(L, -2, "mean");
  push_numbers(L, lo, n);
  lua_setfield(L, -2, "lo");
  push_numbers(L, hi, n);
  lua_setfield(L, -2, "hi");
}

static void push_trials(lua_State *L, const mpl_search_cfg *c, const mpl_trials_result *r) {
  lua_createtable(L, 0, 10);
  int res = lua_gettop(L);
  lua_createtable(L, r->n_trials, 0);  /* runs: each trial's result, or {error = ...} */
  for (int t = 0; t < r->n_trials; t++) {
    mpl_search_cfg tc = *c;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/trial-%03d", c->out, t + 1);
    tc.out = dir;
    if (r->status[t] == MPL_OK) {
      push_result(L, &tc, &r->trial[t], 1);
    } else {
      lua_createtable(L, 0, 2);
      set_string(L, -1, "error", r->status[t] > 0 ? "not run" : mpl_strerror(r->status[t]));
    }
    set_integer(L, -1, "seed", (lua_Integer)r->seed[t]);
    lua_rawseti(L, -2, t + 1);
  }
  lua_setfield(L, res, "runs");
  set_integer(L, res, "n_ok", r->n_ok);
  push_band(L, r->acc_mean, r->acc_lo, r->acc_hi, r->episodes);
  lua_setfield(L, res, "accuracy");
  push_band(L, r->loss_mean, r->loss_lo, r->loss_hi, r->episodes);
  lua_setfield(L, res, "loss");
  lua_createtable(L, r->n_terms, 0);
  for (int i = 0; i < r->n_terms; i++) {
    lua_createtable(L, 0, 6);
    set_string(L, -1, "name", r->names[i]);
    set_string(L, -1, "formula", r->formulas[i]);
    set_number(L, -1, "survival", r->survival[i]);
    set_number(L, -1, "theta_mean", r->theta_mean[i]);
    set_number(L, -1, "theta_lo", r->theta_lo[i]);
    set_number(L, -1, "theta_hi", r->theta_hi[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, res, "terms");
  lua_createtable(L, 0, 4);
  set_number(L, -1, "mean", r->final_mean);
  set_number(L, -1, "lo", r->final_lo);
  set_number(L, -1, "hi", r->final_hi);
  set_integer(L, -1, "window", r->window);
  lua_setfield(L, res, "final_accuracy");
  set_number(L, res, "active_mean", r->active_mean);
  push_file(L, c->out, MPL_RESULTS_SUMMARY_MD);
  lua_setfield(L, res, "summary");
  set_string(L, res, "out", c->out);
  lua_settop(L, res);
}

/* Copy table `from`'s entries into table `into` (both absolute indices), but for the string keys
 * listed in skip (NULL-terminated): the search keys of a call that also takes its own. */
static void copy_keys_except(lua_State *L, int from, int into, const char *const *skip) {
  for (lua_pushnil(L); lua_next(L, from); lua_pop(L, 1)) {
    int skipped = 0;
    for (const char *const *k = skip; *k && lua_type(L, -2) == LUA_TSTRING && !skipped; k++)
      skipped = !strcmp(lua_tostring(L, -2), *k);
    if (skipped) continue;
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, into);
  }
}

/* metaplast.trials{trials = N, jobs = J, <search keys>} -> trials (docs/lua.md): N searches with
 * seeds seed+1 .. seed+N in OUT/trial-001.., run on J threads, and their summary. */
static int l_trials(lua_State *L) {
  static const char *fn = "metaplast.trials";
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L);                                  /* 2: anchors */
  box *rb = newbox(L, release_trials);              /* 3 */
  lua_newtable(L);                                  /* 4: the search keys alone */
  copy_keys_except(L, 1, 4, (const char *const[]){"trials", "jobs", NULL});
  lua_getfield(L, 1, "trials");
  int n = (int)check_int(L, -1, fn, "trials", 1, 100000);
  int jobs = lua_getfield(L, 1, "jobs") == LUA_TNIL ? 0 : (int)check_int(L, -1, fn, "jobs", 0, 4096);
  lua_settop(L, 4);
  opt_ctx o = {L, 2, 0, 0, 0};
  mpl_search_cfg c;
  mpl_search_defaults(&c);
  read_config(&o, 4, &c);
  if (o.on_episode) return luaL_error(L, "%s: key 'on_episode' is not supported (trials run on threads)", fn);
  if (!c.out) return luaL_error(L, "%s: key 'out' (the folder of the trials and their summary) is required", fn);
  c.progress = o.quiet ? NULL : stderr;
  if (!(rb->p = calloc(1, sizeof(mpl_trials_result)))) return luaL_error(L, "%s: out of memory", fn);
  mpl_err err = {0};
  if (mpl_trials_run(&c, n, jobs, rb->p, &err) < 0) return luaL_error(L, "%s", err.msg);
  push_trials(L, &c, rb->p);
  return 1;
}

/* {------ metaplast.path: the sparsity path, as --lambda-path (issue 25) */

static void release_path(void *p) { mpl_path_result_free(p); free(p); }

/* The lambda values: a list of numbers, or the --lambda-path text ("0,1e-4" and/or "lo:hi:n"). */
static int path_lambdas(lua_State *L, int i, const char *fn, double **lambda, int *n, mpl_err *err) {
  if (lua_type(L, i) == LUA_TSTRING) return mpl_lambda_parse(lua_tostring(L, i), lambda, n, err);
  if (lua_type(L, i) != LUA_TTABLE)
    return luaL_error(L, "%s: key 'lambdas': expected a list of numbers or a string such as \"0,0.3:10:5\", got %s",
                      fn, luaL_typename(L, i));
  luaL_Buffer b;   /* the list as text, so that one parser checks both forms */
  luaL_buffinit(L, &b);
  lua_Integer k = luaL_len(L, i);
  for (lua_Integer j = 1; j <= k; j++) {
    if (lua_geti(L, i, j) != LUA_TNUMBER)
      return luaL_error(L, "%s: key 'lambdas': element %d is not a number", fn, (int)j);
    char num[40];
    snprintf(num, sizeof num, "%s%.17g", j > 1 ? "," : "", (double)lua_tonumber(L, -1));
    lua_pop(L, 1);
    luaL_addstring(&b, num);
  }
  luaL_pushresult(&b);
  int rc = mpl_lambda_parse(lua_tostring(L, -1), lambda, n, err);
  lua_pop(L, 1);
  return rc;
}

/* metaplast.path{lambdas = {...} | "spec", trials = N, jobs = J, <search keys>} -> path: one search
 * (or N trials) per lambda into OUT/lambda-<value>/, then OUT/path.csv and path.md (mpl_path_run).
 * runs[i]: the search result of lambda[i] (as metaplast.search returns), or with trials > 1 its
 * trials result (as metaplast.trials returns); a failed search is {error = ...}. */
static int l_path(lua_State *L) {
  static const char *fn = "metaplast.path";
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L);                                  /* 2: anchors */
  box *rb = newbox(L, release_path);                /* 3 */
  lua_newtable(L);                                  /* 4: the search keys alone */
  copy_keys_except(L, 1, 4, (const char *const[]){"trials", "jobs", "lambdas", NULL});
  int trials = lua_getfield(L, 1, "trials") == LUA_TNIL ? 1 : (int)check_int(L, -1, fn, "trials", 1, 100000);
  int jobs = lua_getfield(L, 1, "jobs") == LUA_TNIL ? 0 : (int)check_int(L, -1, fn, "jobs", 0, 4096);
  lua_settop(L, 4);
  opt_ctx o = {L, 2, 0, 0, 0};
  mpl_search_cfg c;
  mpl_search_defaults(&c);
  read_config(&o, 4, &c);
  if (o.on_episode) return luaL_error(L, "%s: key 'on_episode' is not supported (the runs go on threads)", fn);
  if (!c.out) return luaL_error(L, "%s: key 'out' (the folder of the path's runs and summary) is required", fn);
  if (lua_getfield(L, 1, "lambdas") == LUA_TNIL) return luaL_error(L, "%s: key 'lambdas' is required", fn);
  c.progress = o.quiet ? NULL : stderr;
  c.lambda_auto = 0;   /* each run at its lambda, as --lambda-path */
  box *lb = newbox(L, free);                        /* 6: the lambda values */
  mpl_err err = {0};
  int n = 0;
  if (path_lambdas(L, 5, fn, (double **)&lb->p, &n, &err) < 0) return luaL_error(L, "%s: lambdas: %s", fn, err.msg);
  if (!(rb->p = calloc(1, sizeof(mpl_path_result)))) return luaL_error(L, "%s: out of memory", fn);
  if (mpl_path_run(&c, lb->p, n, trials, jobs, rb->p, &err) < 0) return luaL_error(L, "%s", err.msg);
  const mpl_path_result *r = rb->p;
  lua_createtable(L, 0, 4);
  int res = lua_gettop(L);
  push_numbers(L, r->lambda, r->n);
  lua_setfield(L, res, "lambda");
  lua_createtable(L, r->n, 0);   /* one trials table per lambda, as metaplast.trials returns */
  for (int i = 0; i < r->n; i++) {
    mpl_search_cfg lc = c;
    char dir[4200];
    mpl_lambda_dirname(r->lambda[i], dir + snprintf(dir, sizeof dir, "%s/", c.out), sizeof dir - strlen(c.out) - 1);
    lc.out = dir;
    lc.adam.lambda = r->lambda[i];
    if (trials > 1) push_trials(L, &lc, &r->run[i]);
    else if (r->run[i].status[0] == MPL_OK) push_result(L, &lc, &r->run[i].trial[0], 1);   /* one search */
    else {
      lua_createtable(L, 0, 1);
      set_string(L, -1, "error", r->run[i].status[0] > 0 ? "not run" : mpl_strerror(r->run[i].status[0]));
    }
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, res, "runs");
  push_file(L, c.out, MPL_RESULTS_PATH_MD);
  lua_setfield(L, res, "summary");
  set_string(L, res, "out", c.out);
  return 1;
}

/* }------ */

/* metaplast.defaults() -> every key of metaplast.search with its default. */
static void push_default(opt_ctx *o, const char *key, const mpl_setting *s, const sopt *own, void *ud) {
  if (own && (own->type != O_FN || own->push)) push_opt(o->L, own, ud);
  else push_setting(o->L, s, ud);
  lua_setfield(o->L, -2, key);
}

static int l_defaults(lua_State *L) {
  mpl_search_cfg c;
  opt_ctx o = {L, 0, 0, 0, 0};
  mpl_search_defaults(&c);
  lua_newtable(L);
  each_opt(&o, push_default, &c);
  return 1;
}

/* metaplast.dataset(spec | {images=, labels=} [, {per_class=}]) -> info table. */
static int l_dataset(lua_State *L) {
  static const char *fn = "metaplast.dataset";
  lua_settop(L, 2);
  size_t per_class = 0;
  if (!lua_isnil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1))
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "per_class"))
        return luaL_error(L, "%s: unknown option '%s' (the options are: per_class)", fn, luaL_tolstring(L, -2, NULL));
    lua_getfield(L, 2, "per_class");
    if (!lua_isnil(L, -1)) per_class = (size_t)check_int(L, -1, fn, "per_class", 0, INT_MAX);
    lua_pop(L, 1);
  }
  box *db = newbox(L, release_dataset);  /* 3 */
  mpl_dataset *ds = NULL;
  mpl_err err = {0};
  int rc;
  lua_createtable(L, 0, 10);             /* 4: the info, which also works as search's data= */
  if (lua_type(L, 1) == LUA_TTABLE) {
    lua_getfield(L, 1, "images");
    lua_getfield(L, 1, "labels");
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "%s: a table argument needs images= and labels= (IDX file names)", fn);
    rc = mpl_dataset_load_idx(lua_tostring(L, -2), lua_tostring(L, -1), per_class, &ds, &err);
    db->p = ds;
    lua_setfield(L, 4, "labels");
    lua_setfield(L, 4, "images");
  } else {
    const char *spec = luaL_checkstring(L, 1);
    rc = mpl_dataset_open(spec, per_class, &ds, &err);
    db->p = ds;
    lua_pushvalue(L, 1);
    lua_setfield(L, 4, "spec");
  }
  if (rc < 0) return luaL_error(L, "%s", err.msg);
  lua_pushstring(L, ds->name);
  lua_setfield(L, 4, "name");
  lua_pushinteger(L, ds->n_classes);
  lua_setfield(L, 4, "classes");
  lua_pushinteger(L, (lua_Integer)ds->n);
  lua_setfield(L, 4, "count");
  lua_pushinteger(L, (lua_Integer)ds->dim);
  lua_setfield(L, 4, "dim");
  lua_pushinteger(L, (lua_Integer)ds->rows);
  lua_setfield(L, 4, "rows");
  lua_pushinteger(L, (lua_Integer)ds->cols);
  lua_setfield(L, 4, "cols");
  lua_pushinteger(L, (lua_Integer)per_class);
  lua_setfield(L, 4, "per_class");
  return 1;
}

static void push_term_text(lua_State *L, const mpl_termset *ts, int i, mpl_format fmt) {
  size_t n = mpl_termset_print(ts, i, fmt, NULL, 0);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, n + 1);
  mpl_termset_print(ts, i, fmt, p, n + 1);
  luaL_pushresultsize(&b, n);
}

/* The term set and selection of the specification at argument 1, kept in two boxes on the stack
 * (freed when the function returns or fails); fn names the function in messages. */
static const mpl_selection *check_terms(lua_State *L, const char *fn, const mpl_termset **ts) {
  const char *spec = luaL_checkstring(L, 1);
  box *tb = newbox(L, release_termset);
  box *sb = newbox(L, release_selection);
  tb->p = mpl_termset_new();
  sb->p = calloc(1, sizeof(mpl_selection));
  if (!tb->p || !sb->p) luaL_error(L, "%s: out of memory", fn);
  mpl_err err = {0};
  if (mpl_terms_parse(spec, tb->p, sb->p, &err) < 0) luaL_error(L, "%s", err.msg);
  *ts = tb->p;
  return sb->p;
}

/* metaplast.terms("paper:F0,F9") -> list of {name, formula, latex, code, source, description,
 * native, theta0}. */
static int l_terms(lua_State *L) {
  const mpl_termset *ts;
  const mpl_selection *sel = check_terms(L, "metaplast.terms", &ts);
  lua_createtable(L, sel->n, 0);
  for (int k = 0; k < sel->n; k++) {
    int i = sel->which[k];
    lua_createtable(L, 0, 8);
    set_string(L, -1, "name", mpl_termset_name(ts, i));
    static const struct { const char *key; mpl_format fmt; } fmts[] = {
      {"formula", MPL_FMT_TEXT}, {"latex", MPL_FMT_LATEX}, {"code", MPL_FMT_CODE}};
    for (int f = 0; f < 3; f++) {
      push_term_text(L, ts, i, fmts[f].fmt);
      lua_setfield(L, -2, fmts[f].key);
    }
    set_string(L, -1, "source", mpl_termset_source(ts, i));
    set_string(L, -1, "description", mpl_termset_description(ts, i));
    set_boolean(L, -1, "native", mpl_termset_is_native(ts, i));
    set_number(L, -1, "theta0", sel->theta0[k]);
    int sg = sel->sign[k];
    set_string(L, -1, "sign", sg > 0 ? "+" : sg < 0 ? "-" : "free");
    lua_rawseti(L, -2, k + 1);
  }
  return 1;
}

/* metaplast.plan("rules/quadratic.lua") -> {terms, rank, rank_sums, wproducts, vectors, wmat,
 * natives, elementwise}: what the terms compile to (mpl_termset_plan), the figures an episode's cost follows. */
static int l_plan(lua_State *L) {
  const mpl_termset *ts;
  const mpl_selection *sel = check_terms(L, "metaplast.plan", &ts);
  mpl_err err = {0};
  mpl_plan_info pi;
  if (mpl_termset_plan(ts, sel->which, sel->n, &pi, &err) < 0) return luaL_error(L, "%s", err.msg);
  lua_createtable(L, 0, 8);
  const struct { const char *key; int v; } f[] = {{"terms", pi.terms}, {"rank", pi.rank}, {"rank_sums", pi.rank_sums},
                                                  {"wproducts", pi.wproducts}, {"vectors", pi.vectors},
                                                  {"natives", pi.natives}, {"elementwise", pi.elementwise}};
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    lua_pushinteger(L, f[i].v);
    lua_setfield(L, -2, f[i].key);
  }
  set_boolean(L, -1, "wmat", pi.wmat);
  return 1;
}

/* }====== */

/* {====== Evaluation of a discovered rule (eval.h) ====== */

#define EVAL "metaplast.eval"

static void release_eval(void *p) { mpl_eval_result_free(p); free(p); }

static const char *const eval_keys[] = {"rule", "data", "per_class", "tasks", "seed", "fa", "fa_rate", "resamples",
                                        "level", "out", "quiet", "jobs", NULL};

/* Push field `key` of the table at t; 1 if it is set. */
static int opt_field(lua_State *L, int t, const char *key) {
  if (lua_getfield(L, t, key) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  return 0;
}

static void read_eval_config(lua_State *L, int t, int keep, mpl_eval_cfg *c, int *quiet) {
  int top = lua_gettop(L);
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    int k = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      while (eval_keys[k] && strcmp(eval_keys[k], lua_tostring(L, -2))) k++;
    if (lua_type(L, -2) != LUA_TSTRING || !eval_keys[k])
      luaL_error(L, EVAL ": unknown key '%s' (rule, data, per_class, tasks, seed, fa, fa_rate, resamples, level, out, "
                 "quiet, jobs)", luaL_tolstring(L, -2, NULL));
  }
  if (!opt_field(L, t, "rule")) luaL_error(L, EVAL ": key 'rule' (a results directory or a JSON rule) is required");
  c->rule = check_str(L, -1, keep, EVAL, "rule");
  if (opt_field(L, t, "data")) {
    data_ref d = {NULL, NULL, NULL, &c->per_class};
    read_data(L, lua_gettop(L), keep, EVAL, &d);
    c->data = d.data, c->images = d.images, c->labels = d.labels;
  }
  if (opt_field(L, t, "per_class")) c->per_class = (size_t)check_int(L, -1, EVAL, "per_class", 0, INT_MAX);
  if (opt_field(L, t, "tasks")) c->tasks = (int)check_int(L, -1, EVAL, "tasks", 1, 1000000);
  if (opt_field(L, t, "seed")) c->seed = (unsigned long)check_int(L, -1, EVAL, "seed", 0, LUA_MAXINTEGER);
  if (opt_field(L, t, "fa")) c->fa = check_str(L, -1, keep, EVAL, "fa");
  if (opt_field(L, t, "fa_rate")) c->fa_rate = check_num(L, -1, EVAL, "fa_rate", -1e6, 1e6);
  if (opt_field(L, t, "resamples")) c->resamples = (int)check_int(L, -1, EVAL, "resamples", 1, 1000000);
  if (opt_field(L, t, "level")) c->level = check_num(L, -1, EVAL, "level", 1e-6, 1 - 1e-6);
  if (opt_field(L, t, "out")) c->out = check_str(L, -1, keep, EVAL, "out");
  if (opt_field(L, t, "quiet")) *quiet = check_bool(L, -1, EVAL, "quiet");
  if (opt_field(L, t, "jobs")) c->jobs = (int)check_int(L, -1, EVAL, "jobs", 0, 4096);
  lua_settop(L, top);  /* the values read are anchored in keep (strings) or copied */
}

/* metaplast.eval{rule = DIR, ...} -> {rule = {mean, lo, hi, diverged, accuracy}, FA = ..., BP = ...,
 * rate, rate_from, dataset, tasks, table}. */
static int l_eval(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L);                      /* 2: anchors for the configuration's strings */
  box *rb = newbox(L, release_eval);    /* 3 */
  mpl_eval_cfg c;
  mpl_eval_defaults(&c);
  int quiet = 0;
  read_eval_config(L, 1, 2, &c, &quiet);
  c.progress = quiet ? NULL : stderr;
  if (!(rb->p = calloc(1, sizeof(mpl_eval_result)))) return luaL_error(L, EVAL ": out of memory");
  mpl_err err = {0};
  if (mpl_eval_run(&c, rb->p, &err) < 0) return luaL_error(L, "%s", err.msg);
  const mpl_eval_result *r = rb->p;
  lua_createtable(L, 0, 8);
  for (int m = 0; m < MPL_EVAL_METHODS; m++) {
    lua_createtable(L, 0, 5);
    set_number(L, -1, "mean", r->mean[m]);
    set_number(L, -1, "lo", r->lo[m]);
    set_number(L, -1, "hi", r->hi[m]);
    set_integer(L, -1, "diverged", r->diverged[m]);
    lua_createtable(L, r->tasks, 0);
    for (int t = 0; t < r->tasks; t++) {
      lua_pushnumber(L, r->acc[m][t]);
      lua_rawseti(L, -2, t + 1);
    }
    lua_setfield(L, -2, "accuracy");
    lua_setfield(L, -2, mpl_eval_method_name(m));
  }
  set_integer(L, -1, "tasks", r->tasks);
  set_string(L, -1, "dataset", r->dataset);
  set_number(L, -1, "rate", r->rate);
  set_string(L, -1, "rate_from", r->rate_from);
  size_t n = mpl_eval_table(r, &c, NULL, 0);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, n + 1);
  mpl_eval_table(r, &c, p, n + 1);
  luaL_pushresultsize(&b, n);
  lua_setfield(L, -2, "table");
  lua_newtable(L);   /* the notes metaplast eval prints: terms from stored formulas, changed sources */
  int k = 0;
  for (const char *q = r->notes; *q; q += strcspn(q, "\n") + (q[strcspn(q, "\n")] == '\n')) {
    lua_pushlstring(L, q, strcspn(q, "\n"));
    lua_rawseti(L, -2, ++k);
  }
  lua_setfield(L, -2, "notes");
  lua_pushinteger(L, r->changed);   /* term sources changed since the run (eval --strict refuses them) */
  lua_setfield(L, -2, "changed");
  return 1;
}

/* }====== */

/* {====== Script options: key=value arguments over defaults ====== */

#define OPTIONS "metaplast.options"

/* Convert the string at index i to the type of the default at index d; push the value. */
static void push_converted(lua_State *L, int i, int d, const char *key) {
  const char *s = lua_tostring(L, i);
  switch (lua_type(L, d)) {
  case LUA_TNUMBER:
    if (!lua_stringtonumber(L, s)) luaL_error(L, OPTIONS ": %s=%s: not a number", key, s);
    return;
  case LUA_TBOOLEAN:
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1")) lua_pushboolean(L, 1);
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0")) lua_pushboolean(L, 0);
    else luaL_error(L, OPTIONS ": %s=%s: expected true or false", key, s);
    return;
  case LUA_TTABLE: { /* a list: "1,2,3", items converted like the default's first item */
    lua_newtable(L);
    lua_rawgeti(L, d, 1);
    int first = lua_gettop(L), n = 0;
    for (const char *p = s; *p;) {
      const char *e = field_end(p, ',');
      lua_pushlstring(L, p, (size_t)(e - p));
      if (lua_type(L, first) == LUA_TNUMBER) {
        if (!lua_stringtonumber(L, lua_tostring(L, -1)))
          luaL_error(L, OPTIONS ": %s=%s: '%s' is not a number", key, s, lua_tostring(L, -1));
        lua_remove(L, -2);
      }
      lua_rawseti(L, first - 1, ++n);
      p = *e ? e + 1 : e;
    }
    lua_pop(L, 1);
    return;
  }
  default:
    lua_pushvalue(L, i);
    return;
  }
}

/* Print the options and their defaults (for `help`). */
static void print_options(lua_State *L, int defaults, const char **keys, int n) {
  if (lua_type(L, 3) == LUA_TSTRING) printf("%s\n", lua_tostring(L, 3));
  printf("options (key=value):\n");
  for (int k = 0; k < n; k++) {
    lua_getfield(L, defaults, keys[k]);
    if (lua_type(L, -1) == LUA_TTABLE) {
      printf("  %s=", keys[k]);
      for (lua_Integer j = 1; j <= (lua_Integer)lua_rawlen(L, -1); j++) {
        lua_rawgeti(L, -1, j);
        printf("%s%s", j > 1 ? "," : "", luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
      }
      printf("\n");
    } else {
      printf("  %s=%s\n", keys[k], luaL_tolstring(L, -1, NULL));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  fflush(stdout);
}

/* metaplast.options(arg, defaults [, usage]) -> options, or nil after printing help. */
static int l_options(lua_State *L) {
  lua_settop(L, 3);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  int n;
  const char **keys = sorted_keys(L, 2, OPTIONS, "defaults", &n);  /* 4 */
  lua_newtable(L);                                                 /* 5: the options */
  for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 5);
  }
  lua_Integer na = lua_isnil(L, 1) ? 0 : (lua_Integer)lua_rawlen(L, 1);
  for (lua_Integer a = 1; a <= na; a++) {
    lua_rawgeti(L, 1, a);  /* 6 */
    if (lua_type(L, 6) != LUA_TSTRING) return luaL_error(L, OPTIONS ": argument %d is not a string", (int)a);
    const char *s = lua_tostring(L, 6);
    while (*s == '-') s++;
    if (!strcmp(s, "help") || !strcmp(s, "h")) { print_options(L, 2, keys, n); return 0; }
    const char *eq = strchr(s, '=');
    lua_pushlstring(L, s, eq ? (size_t)(eq - s) : strlen(s));  /* 7: key */
    const char *key = lua_tostring(L, 7);
    if (lua_getfield(L, 2, key) == LUA_TNIL) {  /* 8: the default */
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (int k = 0; k < n; k++) {
        if (k) luaL_addstring(&b, ", ");
        luaL_addstring(&b, keys[k]);
      }
      luaL_pushresult(&b);
      return luaL_error(L, OPTIONS ": unknown option '%s' (options: %s; 'help' lists them with defaults)", key,
                        lua_tostring(L, -1));
    }
    if (!eq && lua_type(L, 8) != LUA_TBOOLEAN) return luaL_error(L, OPTIONS ": '%s': expected %s=VALUE", s, key);
    if (eq) lua_pushstring(L, eq + 1);
    else lua_pushliteral(L, "true");                                          /* 9 */
    push_converted(L, 9, 8, key);
    lua_setfield(L, 5, key);
    lua_settop(L, 5);
  }
  return 1;
}

/* }====== */

static const luaL_Reg funcs[] = {
  {"search", l_search}, {"defaults", l_defaults}, {"dataset", l_dataset}, {"terms", l_terms}, {"plan", l_plan},
  {"report", l_report}, {"eval", l_eval}, {"trials", l_trials}, {"path", l_path}, {"options", l_options}, {NULL, NULL}};

static const luaL_Reg box_meta[] = {{"__close", box_close}, {"__gc", box_close}, {NULL, NULL}};

int luaopen_metaplast(lua_State *L) {
  if (luaL_newmetatable(L, BOX_MT)) luaL_setfuncs(L, box_meta, 0);
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  set_string(L, -1, "version", mpl_version());
  return 1;
}
