/* metaplast: rule files: term sets written as Lua formulas over one layer's local signals.
 * Each file runs once, at load time, in its own sandboxed lua_State (safe base functions only,
 * a memory cap, an instruction and a time budget) and builds the same term IR as plugins; Lua
 * is never in the inner loop. The formula language and the file format: docs/rules.md.
 * See LICENSE for copyright. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "front.h"
#include "metaplast/terms.h"
#include "ops.h"
#include "plan.h"

#ifndef MPL_RULES_INSTALL_DIR
#define MPL_RULES_INSTALL_DIR "/usr/local/share/metaplast/rules"
#endif
#ifndef MPL_RULES_REL_DIR /* the rules directory relative to the library's directory */
#define MPL_RULES_REL_DIR "../share/metaplast/rules"
#endif
#ifndef MPL_RULES_SOURCE_DIR
#define MPL_RULES_SOURCE_DIR ""
#endif

/* Sandbox limits (docs/rules.md). */
#define MEM_LIMIT ((size_t)16 << 20) /* bytes the Lua state may hold (files need < 1 MiB) */
#define MAX_STEPS 10000000L          /* VM instructions (the message in hook() repeats the figure) */
#define HOOK_EVERY 100               /* instructions between two budget checks */
#define MAX_SECONDS 2.0              /* CPU time, for work done inside library functions (idem) */
#define MAX_OPS 100000               /* expression operations (builder calls) */
#define MAX_NODES 10000              /* new IR nodes */
#define MAX_DEPTH 256                /* nesting of one expression */
#define MAX_SIZE 100000L             /* operations of one expression written out as a tree (shared
                                      * subexpressions counted each time: x = x + x doubles it) */
#define MAX_TERMS 4096               /* terms per file */
#define MAX_NAME 63                  /* characters in a term name */
#define MAX_FILE ((long)4 << 20)     /* bytes of a rule file */

#define EXPR_MT "metaplast.expr"

/* {====== The sandbox ====== */

/* The caller's stop flag (mpl_terms_set_stop): loads in every thread poll it. */
static _Atomic(volatile sig_atomic_t *) stop_flag;

void mpl_terms_set_stop(volatile sig_atomic_t *flag) { atomic_store(&stop_flag, flag); }

static int stop_requested(void) {
  volatile sig_atomic_t *f = atomic_load_explicit(&stop_flag, memory_order_relaxed);
  return f && *f;
}

typedef struct sandbox {
  mpl_termset *ts;
  const char *chunk;        /* the file's name in messages */
  const char *chunkname;    /* the name Lua sees: "@file" (Lua's messages then read "file:line:") */
  const char *text;         /* the chunk to run */
  size_t len;
  int eval;                 /* 1: the chunk returns one expression (mpl__rules_eval) */
  mpl_expr *result;         /* eval's result */
  size_t mem;               /* bytes held by the Lua state */
  int mem_hit;              /* an allocation was refused by the cap */
  long steps;               /* instructions run (in HOOK_EVERY units) */
  size_t churn;             /* bytes allocated since the last look at the clock */
  double t0;                /* start time (s) */
  char limit[4352];         /* the budget message once a budget is exhausted: sticky */
  int ops, nodes0;          /* builder calls so far; node count before the file */
  int code;                 /* mpl status of the last error we raised, */
  char last[256];           /* ... whose message starts with this */
} sandbox;

static sandbox *box(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

/* CPU time of this thread: immune to the machine's load and to other threads (parallel trials). */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Every allocation of the state goes through here: the memory cap. Shrinking never fails. */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sandbox *S = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    S->mem -= old;
    return NULL;
  }
  if (nsize > old && (nsize - old > MEM_LIMIT || S->mem + (nsize - old) > MEM_LIMIT)) {
    S->mem_hit = 1;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p) return nsize <= old ? ptr : NULL;
  S->mem = S->mem - old + nsize;
  if (nsize > old) S->churn += nsize - old;
  return p;
}

/* The line of the innermost Lua function on the stack: where the operation was written. */
static int cur_line(lua_State *L) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar); level++)
    if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) return ar.currentline;
  return 0;
}

/* Raise "chunk:line: message" (line 0: no line) as a Lua error of mpl status code. */
static int error_at(lua_State *L, int line, int code, const char *fmt, ...) MPL_PRINTF(4, 5);
static int error_at(lua_State *L, int line, int code, const char *fmt, ...) {
  sandbox *S = box(L);
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (line > 0) lua_pushfstring(L, "%s:%d: %s", S->chunk, line, msg);
  else lua_pushfstring(L, "%s: %s", S->chunk, msg);
  S->code = code;
  snprintf(S->last, sizeof S->last, "%s", lua_tostring(L, -1));
  return lua_error(L);
}

#define error_here(L, code, ...) error_at(L, cur_line(L), code, __VA_ARGS__)

/* Whether the hook looks at the clock now: every 10th call (1000 instructions), or sooner after
 * 1 MiB of allocations, the mark of work inside library calls (string.rep, table.concat), which
 * under a sanitizer take milliseconds each. */
static int clock_due(sandbox *S) {
  if (S->steps % 10 != 0 && S->churn < ((size_t)1 << 20)) return 0;
  S->churn = 0;
  return 1;
}

/* The instruction and time budgets, and the caller's stop flag. Once exhausted, the hook fires at
 * every instruction, so that a script catching the error with pcall is stopped again at its next
 * instruction. Lua runs an error's message handler with hooks off when the error is raised from
 * a hook, so the sandbox's xpcall (safe_xpcall) never lets Lua call a handler itself. */
static void hook(lua_State *L, lua_Debug *ar) {
  sandbox *S = box(L);
  (void)ar;
  if (!S->limit[0]) {
    const char *what = stop_requested() ? "was interrupted (a stop signal arrived during its load)"
                       : ++S->steps > MAX_STEPS / HOOK_EVERY ? "exceeds its budget of 10000000 instructions (an endless loop?)"
                       : clock_due(S) && now() - S->t0 > MAX_SECONDS ? "exceeds its time budget of 2 s" : NULL;
    if (!what) return;
    snprintf(S->limit, sizeof S->limit, "%s:%d: rule file %s", S->chunk, cur_line(L), what);
    lua_sethook(L, hook, LUA_MASKCOUNT, 1);
  }
  lua_pushstring(L, S->limit); /* report() gives this message whatever the script does with it */
  lua_error(L);
}

/* }====== */

/* {====== Expressions as userdata ====== */

/* An expression: a node of the term set, or a "poisoned" one (e == NULL) that carries the
 * builder's shape error (user value 1) and the line of the operation, so that the error is
 * reported once, with the term's name, when the term is registered (as the IR itself does). */
typedef struct lexpr {
  mpl_expr *e;
  int line;   /* line of the operation that built it (0: a leaf) */
  int depth;  /* nesting */
  long size;  /* operations and leaves of the expression written out as a tree (<= MAX_SIZE) */
} lexpr;

static lexpr *push_lexpr(lua_State *L, mpl_expr *e, int line, int depth, long size) {
  lexpr *x = lua_newuserdatauv(L, sizeof *x, 1);
  x->e = e;
  x->line = line;
  x->depth = depth;
  x->size = size;
  luaL_setmetatable(L, EXPR_MT);
  return x;
}

static lexpr *to_lexpr(lua_State *L, int i) { return luaL_testudata(L, i, EXPR_MT); }

/* The builder error a poisoned expression carries. */
static const char *poison_msg(lua_State *L, int i) {
  lua_getiuservalue(L, i, 1);
  const char *m = lua_tostring(L, -1);
  lua_pop(L, 1);
  return m ? m : "invalid expression";
}

/* Push the result of a builder: the node, or a poisoned expression with the set's error. */
static int push_built(lua_State *L, sandbox *S, mpl_expr *e, int depth, long size) {
  if (depth > MAX_DEPTH) return error_here(L, MPL_EINVAL, "expression nested deeper than %d operations", MAX_DEPTH);
  if (size > MAX_SIZE) /* printing, storing and compiling it would take that long */
    return error_here(L, MPL_EINVAL, "expression larger than %ld operations when written out (a subexpression "
                      "used twice counts twice: x = x + x doubles x)", MAX_SIZE);
  if (S->ts->n_nodes - S->nodes0 > MAX_NODES)
    return error_here(L, MPL_EINVAL, "rule file builds more than %d expression nodes", MAX_NODES);
  push_lexpr(L, e, cur_line(L), depth, size);
  if (!e) {
    const char *m = mpl_termset_error(S->ts);
    lua_pushstring(L, m ? m : "out of memory");
    lua_setiuservalue(L, -2, 1);
    mpl_termset_clear_error(S->ts);
  }
  return 1;
}

/* }====== */

/* {====== Operations ====== */

typedef mpl_expr *(*build2)(mpl_termset *, mpl_expr *, mpl_expr *);

typedef struct op_info {
  const char *name;  /* global function name, or the operator in quotes for metamethods */
  int arity;         /* 1, 2, or -2 (two or more, folded from the left) */
  int kind;          /* a node kind of the table of operations (ir/ops.h), else -1 */
  int fn;            /* mpl_func for elementwise functions, else -1 */
  build2 f2;         /* a convenience (outer, dot), else NULL */
  int meta;          /* 1: called as a metamethod (an operator) */
} op_info;

/* The global functions are the table's node kinds that have a name (ir/ops.c), the elementwise
 * functions and these conveniences; then the operators (metamethods), from OP_META on. */
static const op_info ops[] = {
  {"outer", 2, -1, -1, mpl_outer, 0},            {"dot", 2, -1, -1, mpl_dot, 0},
  {"'+'", 2, MPL_OP_ADD, -1, NULL, 1},           {"'-'", 2, MPL_OP_SUB, -1, NULL, 1},
  {"'*'", 2, MPL_OP_MUL, -1, NULL, 1},           {"'%' (matrix product)", 2, MPL_OP_MATMUL, -1, NULL, 1},
  {"unary '-'", 1, MPL_OP_NEG, -1, NULL, 1},     {"'.T'", 1, MPL_OP_T, -1, NULL, 1},
};
enum { OP_META = 2, OP_ADD = OP_META, OP_SUB, OP_MUL, OP_MOD, OP_UNM, OP_T, N_OPS };
_Static_assert(sizeof ops / sizeof ops[0] == N_OPS, "ops[] and its enum disagree");
/* A global function's upvalue: an index into ops[] (conveniences), KIND + a node kind, FN + an
 * mpl_func. */
enum { KIND = 1000, FN = 2000 };

static op_info global_op(int c) {
  if (c >= FN) return (op_info){mpl__fn_name((mpl_func)(c - FN)), 1, -1, c - FN, NULL, 0};
  if (c < KIND) return ops[c];
  int k = c - KIND; /* matmul(a, b, c, ...) folds its arguments from the left */
  return (op_info){mpl__ops[k].name, k == MPL_OP_MATMUL ? -2 : mpl__ops[k].arity, k, -1, NULL, 0};
}

/* Check argument i of op: an expression (possibly poisoned) or a number. */
static void check_operand(lua_State *L, const op_info *op, int i) {
  if (to_lexpr(L, i) || lua_type(L, i) == LUA_TNUMBER) return;
  if (op->meta)
    error_here(L, MPL_EINVAL, "bad operand to %s: expected an expression or a number, got %s", op->name,
          luaL_typename(L, i));
  error_here(L, MPL_EINVAL, "bad argument #%d to '%s': expected an expression or a number, got %s", i, op->name,
        luaL_typename(L, i));
}

/* Argument i as a node (a number becomes a 1x1 constant); its depth goes into *depth, its size
 * is added to *size. */
static mpl_expr *operand(lua_State *L, sandbox *S, int i, int *depth, long *size) {
  lexpr *x = to_lexpr(L, i);
  if (x) {
    if (x->depth > *depth) *depth = x->depth;
    *size += x->size; /* each <= MAX_SIZE; run_op stops adding once past it: no overflow */
    return x->e;
  }
  if (*depth < 1) *depth = 1;
  *size += 1;
  return mpl_num(S->ts, lua_tonumber(L, i));
}

static mpl_expr *apply1(sandbox *S, const op_info *op, mpl_expr *a) {
  return op->fn >= 0 ? mpl_fn(S->ts, (mpl_func)op->fn, a) : mpl__op_build(S->ts, (mpl_op)op->kind, a, NULL);
}

static mpl_expr *apply2(sandbox *S, const op_info *op, mpl_expr *a, mpl_expr *b) {
  return op->kind >= 0 ? mpl__op_build(S->ts, (mpl_op)op->kind, a, b) : op->f2(S->ts, a, b);
}

/* Run op on its arguments (already checked); push the result. */
static int run_op(lua_State *L, sandbox *S, const op_info *op, int n) {
  for (int i = 1; i <= n; i++) { /* a poisoned operand is the result: its error came first */
    lexpr *x = to_lexpr(L, i);
    if (x && !x->e) {
      lua_pushvalue(L, i);
      return 1;
    }
  }
  if ((S->ops += n > 1 ? n - 1 : 1) > MAX_OPS)
    return error_here(L, MPL_EINVAL, "rule file performs more than %d expression operations", MAX_OPS);
  int depth = 0;
  long size = n > 1 ? n - 1 : 1;
  mpl_expr *e = operand(L, S, 1, &depth, &size);
  if (op->arity == 1) e = apply1(S, op, e);
  for (int i = 2; i <= n && e; i++) {
    e = apply2(S, op, e, operand(L, S, i, &depth, &size));
    if (size > MAX_SIZE) break; /* matmul(x, x, x, ...): push_built reports it */
  }
  return push_built(L, S, e, depth + (n > 1 ? n - 1 : 1), size);
}

/* Global formula functions: upvalue 1 says which (global_op). */
static int l_op(lua_State *L) {
  op_info info = global_op((int)lua_tointeger(L, lua_upvalueindex(1)));
  const op_info *op = &info;
  int n = lua_gettop(L);
  if (op->arity > 0 ? n != op->arity : n < 2)
    return error_here(L, MPL_EINVAL, "'%s' expects %s%d argument%s, got %d", op->name, op->arity < 0 ? "at least " : "",
                 op->arity < 0 ? 2 : op->arity, op->arity == 1 ? "" : "s", n);
  for (int i = 1; i <= n; i++) check_operand(L, op, i);
  return run_op(L, box(L), op, n);
}

static int meta_op(lua_State *L, int k) {
  const op_info *op = &ops[k];
  lua_settop(L, op->arity); /* unary metamethods receive their operand twice */
  for (int i = 1; i <= op->arity; i++) check_operand(L, op, i);
  return run_op(L, box(L), op, op->arity);
}

static int m_add(lua_State *L) { return meta_op(L, OP_ADD); }
static int m_sub(lua_State *L) { return meta_op(L, OP_SUB); }
static int m_mul(lua_State *L) { return meta_op(L, OP_MUL); }
static int m_mod(lua_State *L) { return meta_op(L, OP_MOD); }
static int m_unm(lua_State *L) { return meta_op(L, OP_UNM); }

static int m_index(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  if (k && !strcmp(k, "T")) {
    lua_settop(L, 1);
    return run_op(L, box(L), &ops[OP_T], 1);
  }
  return error_here(L, MPL_EINVAL, "an expression has no field '%s' (x.T is the transpose)", k ? k : luaL_typename(L, 2));
}

static int m_newindex(lua_State *L) { return error_here(L, MPL_EINVAL, "expressions cannot be modified"); }
static int m_div(lua_State *L) {
  return error_here(L, MPL_EINVAL, "'/' is not defined on expressions: multiply by a number (x * 0.5) or use recip(y)");
}
static int m_pow(lua_State *L) {
  return error_here(L, MPL_EINVAL, "'^' is not defined on expressions: use square(x), sqrt(x) or recip(x)");
}
static int m_concat(lua_State *L) {
  return error_here(L, MPL_EINVAL, "'..' is not defined on expressions: the matrix product is a %% b or matmul(a, b)");
}

static int m_eq(lua_State *L) {
  lexpr *a = to_lexpr(L, 1), *b = to_lexpr(L, 2);
  lua_pushboolean(L, a && b && a->e && a->e == b->e);
  return 1;
}

static int m_tostring(lua_State *L) {
  lexpr *x = luaL_checkudata(L, 1, EXPR_MT);
  if (!x->e) {
    lua_pushfstring(L, "invalid expression (line %d: %s)", x->line, poison_msg(L, 1));
    return 1;
  }
  char buf[512];
  size_t k = mpl_expr_print(x->e, MPL_FMT_TEXT, buf, sizeof buf);
  if (k < sizeof buf) {
    lua_pushstring(L, buf);
    return 1;
  }
  luaL_Buffer b; /* a long formula: print into a Lua buffer of the size it needs */
  char *p = luaL_buffinitsize(L, &b, k + 1);
  mpl_expr_print(x->e, MPL_FMT_TEXT, p, k + 1);
  luaL_pushresultsize(&b, k);
  return 1;
}

/* shape(x): "rows x cols"; raises a poisoned expression's error. */
static int l_shape(lua_State *L) {
  lexpr *x = to_lexpr(L, 1);
  if (!x && lua_type(L, 1) == LUA_TNUMBER) {
    lua_pushliteral(L, "1 x 1");
    return 1;
  }
  if (!x) return error_here(L, MPL_EINVAL, "bad argument #1 to 'shape': expected an expression, got %s", luaL_typename(L, 1));
  if (!x->e) return error_at(L, x->line, MPL_ESHAPE, "%s", poison_msg(L, 1));
  lua_pushfstring(L, "%s x %s", mpl_dim_name(mpl_expr_rows(x->e)), mpl_dim_name(mpl_expr_cols(x->e)));
  return 1;
}

static void create_meta(lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul}, {"__mod", m_mod}, {"__unm", m_unm},
    {"__div", m_div}, {"__idiv", m_div}, {"__pow", m_pow}, {"__concat", m_concat}, {"__eq", m_eq},
    {"__index", m_index}, {"__newindex", m_newindex}, {"__tostring", m_tostring}, {NULL, NULL}};
  luaL_newmetatable(L, EXPR_MT);
  luaL_setfuncs(L, meta, 0);
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

/* }====== */

/* {====== The environment: safe library subset, formula names, strict globals ====== */

static const char *const leaf_names[] = {"pre", "post", "e_pre", "e_post", "W", "ones_pre", "ones_post", NULL};

/* Leaves are built on first use, so a file creates its nodes in the order it mentions them. */
static int push_leaf(lua_State *L, sandbox *S, int k) {
  mpl_expr *e = k < MPL_SIG_COUNT ? mpl_sig(S->ts, (mpl_signal)k)
                                  : mpl_ones(S->ts, k == MPL_SIG_COUNT ? MPL_DIM_PRE : MPL_DIM_POST);
  if (!e) return error_here(L, MPL_ENOMEM, "out of memory");
  push_lexpr(L, e, 0, 1, 1);
  return 1;
}

static int leaf_index(const char *k) {
  for (int i = 0; k && leaf_names[i]; i++)
    if (!strcmp(k, leaf_names[i])) return i;
  return -1;
}

/* Lua's standard names that the sandbox withholds. */
static int is_withheld(const char *k) {
  static const char *const names[] = {"os", "io", "debug", "package", "require", "load", "loadstring", "dofile",
                                      "loadfile", "print", "collectgarbage", "getmetatable", "setmetatable", "rawget",
                                      "rawset", "rawequal", "rawlen", "coroutine", "utf8", "warn", "_G", NULL};
  for (int i = 0; k && names[i]; i++)
    if (!strcmp(k, names[i])) return 1;
  return 0;
}

/* _ENV's __index: built-in names (upvalue 1), leaves; anything else is an error, so that a
 * misspelt signal or an absent library (os, io, ...) is named where it is used. */
static int env_index(lua_State *L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  const char *k = lua_tostring(L, 2);
  int leaf = lua_type(L, 2) == LUA_TSTRING ? leaf_index(k) : -1;
  if (leaf < 0 && is_withheld(k))
    return error_here(L, MPL_EINVAL, "'%s' is not available in rule files (sandbox: docs/rules.md)", k);
  if (leaf < 0)
    return error_here(L, MPL_EINVAL, "unknown name '%s' (the signals are pre, post, e_pre, e_post, W, ones_pre and "
                 "ones_post; the functions: docs/rules.md)", k ? k : luaL_typename(L, 2));
  push_leaf(L, box(L), leaf);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, lua_upvalueindex(1));
  return 1;
}

static int env_newindex(lua_State *L) {
  lua_pushvalue(L, 2);
  int builtin = lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL ||
                (lua_type(L, 2) == LUA_TSTRING && leaf_index(lua_tostring(L, 2)) >= 0);
  if (builtin)
    return error_here(L, MPL_EINVAL, "'%s' is built in and cannot be assigned (use a local variable)", lua_tostring(L, 2));
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 0;
}

/* string.rep without its O(n) loop over empty pieces, and within the memory cap. */
static int safe_rep(lua_State *L) {
  size_t l, lsep;
  luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (n > 0 && (l + lsep == 0 || (lua_Unsigned)n > MEM_LIMIT / (l + lsep)))
    return error_here(L, MPL_EINVAL, "string.rep: %s", l + lsep == 0 ? "repeating an empty string" : "result too large");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* xpcall(f, msgh, ...): f runs protected; on an error, msgh(message) runs after the error has
 * unwound, as an ordinary call under the budgets. Lua's own xpcall calls msgh where the error is
 * raised, and for an error raised by the budget hook that is inside the hook, with hooks off: a
 * handler that loops or recurses forever would never be stopped. An exhausted budget, the stop
 * flag and a memory error are not handed to msgh: they end the load. The handler also sees no
 * stack to walk (debug is absent), so nothing else differs. */
static int safe_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_rotate(L, 2, -1);  /* f, args..., msgh */
  lua_insert(L, 1);      /* msgh, f, args... */
  lua_pushboolean(L, 1); /* pushed before the call, as luaB_xpcall does: the results may fill the stack */
  lua_insert(L, 2);      /* msgh, true, f, args... */
  int st = lua_pcall(L, n - 2, LUA_MULTRET, 0);
  sandbox *S = box(L);
  if (st == LUA_OK) return lua_gettop(L) - 1; /* true, results... */
  if (S->limit[0] || st == LUA_ERRMEM) return lua_error(L); /* msgh, true, error */
  lua_remove(L, 2);
  st = lua_pcall(L, 1, 1, 0); /* msgh(error) */
  if (st != LUA_OK && (S->limit[0] || st == LUA_ERRMEM)) return lua_error(L);
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

/* __index of the library tables: what the sandbox leaves out is named as such. */
static int lib_missing(lua_State *L) {
  return error_here(L, MPL_EINVAL, "'%s.%s' is not available in rule files (sandbox: docs/rules.md)",
               lua_tostring(L, lua_upvalueindex(1)), lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

/* Copy the listed fields of library `lib` (at index src) into a new table, pushed. */
static void copy_fields(lua_State *L, int src, const char *lib, const char *const *names) {
  src = lua_absindex(L, src);
  lua_newtable(L);
  for (int i = 0; names[i]; i++) {
    lua_getfield(L, src, names[i]);
    lua_setfield(L, -2, names[i]);
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, lib);
  lua_pushcclosure(L, lib_missing, 1);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

static void open_libs(lua_State *L, int B) {
  static const char *const base[] = {"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
                                     "tostring", "type", "_VERSION", NULL};
  static const char *const str[] = {"byte", "char", "format", "len", "lower", "reverse", "sub", "upper", NULL};
  static const char *const tab[] = {"concat", "insert", "pack", "remove", "sort", "unpack", NULL};
  static const char *const math[] = {"abs", "acos", "asin", "atan", "ceil", "cos", "exp", "floor", "fmod", "huge",
                                     "log", "max", "maxinteger", "min", "mininteger", "modf", "pi", "sin", "sqrt",
                                     "tan", "tointeger", "type", "ult", NULL};
  luaL_requiref(L, "_G", luaopen_base, 1);
  for (int i = 0; base[i]; i++) {
    lua_getfield(L, -1, base[i]);
    lua_setfield(L, B, base[i]);
  }
  lua_pushcfunction(L, safe_xpcall);
  lua_setfield(L, B, "xpcall");
  luaL_requiref(L, "string", luaopen_string, 0);
  copy_fields(L, -1, "string", str);
  lua_getfield(L, -2, "rep");
  lua_pushcclosure(L, safe_rep, 1);
  lua_setfield(L, -2, "rep");
  lua_pushliteral(L, ""); /* methods on strings ("x"):f() see the same subset; the metatable is locked */
  lua_getmetatable(L, -1);
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
  lua_setfield(L, B, "string");
  luaL_requiref(L, "table", luaopen_table, 0);
  copy_fields(L, -1, "table", tab);
  lua_setfield(L, B, "table");
  luaL_requiref(L, "math", luaopen_math, 0);
  copy_fields(L, -1, "math", math);
  lua_setfield(L, B, "math");
  lua_pop(L, 4);
}

/* B[name] = the global formula function c (global_op). */
static void add_global(lua_State *L, int B, int c) {
  lua_pushinteger(L, c);
  lua_pushcclosure(L, l_op, 1);
  lua_setfield(L, B, global_op(c).name);
}

/* Push the sandbox's _ENV: an empty table whose metatable serves the built-in names. */
static void push_env(lua_State *L) {
  lua_newtable(L); /* B: built-in names */
  int B = lua_gettop(L);
  open_libs(L, B);
  for (int i = 0; i < OP_META; i++) add_global(L, B, i);
  for (int k = 0; k < MPL_OP_COUNT; k++)
    if (mpl__ops[k].name && mpl__ops[k].build) add_global(L, B, KIND + k);
  for (int f = 0; f < MPL_FN_COUNT; f++) add_global(L, B, FN + f);
  lua_pushcfunction(L, l_shape);
  lua_setfield(L, B, "shape");
  create_meta(L);
  lua_newtable(L); /* _ENV */
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, B);
  lua_pushcclosure(L, env_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, B);
  lua_pushcclosure(L, env_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_remove(L, B);
}

/* }====== */

/* {====== Registering the returned terms ====== */

static int is_alpha(char c) { return c == '_' || ((c | 32) >= 'a' && (c | 32) <= 'z'); }

/* Term names go into --terms, --init and CSV headers: an identifier. */
static int valid_name(const char *s, size_t n) {
  if (n == 0 || n > MAX_NAME || !is_alpha(s[0])) return 0;
  for (size_t i = 1; i < n; i++)
    if (!is_alpha(s[i]) && !(s[i] >= '0' && s[i] <= '9')) return 0;
  return 1;
}

/* The list must hold entries 1..n only. */
static void check_list(lua_State *L, int t, lua_Integer n) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= n) continue;
    int str = lua_type(L, -1) == LUA_TSTRING;
    const char *k = luaL_tolstring(L, -1, NULL), *q = str ? "'" : "";
    if (n == 0)
      error_at(L, 0, MPL_EINVAL, "a rule file returns a list of terms { {name = ..., expr = ..., desc = ...}, ... }; "
               "this one returned a table with the key %s%s%s", q, k, q);
    error_at(L, 0, MPL_EINVAL, "the returned list has a key %s%s%s besides its entries 1..%d", q, k, q, (int)n);
  }
}

/* Entry i (a table at index t): its fields, checked. Pushes nothing; strings stay in the table. */
static lexpr *read_entry(lua_State *L, int t, int i, const char **name, const char **desc, int *sign) {
  if (!lua_istable(L, t))
    error_at(L, 0, MPL_EINVAL, "term #%d: expected a table {name = ..., expr = ..., desc = ...}, got %s", i,
             luaL_typename(L, t));
  lua_getfield(L, t, "expr");
  lexpr *x = to_lexpr(L, -1);
  int line = x ? x->line : 0;
  size_t n = 0;
  lua_getfield(L, t, "name");
  *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
  if (!*name) error_at(L, line, MPL_EINVAL, "term #%d: 'name' must be a string, got %s", i, luaL_typename(L, -1));
  if (!valid_name(*name, n))
    error_at(L, line, MPL_EINVAL, "term #%d: bad name '%s': letters, digits and '_', not starting with a digit, "
             "at most %d characters", i, *name, MAX_NAME);
  if (!x) error_at(L, line, MPL_EINVAL, "term '%s': 'expr' must be an expression, got %s", *name, luaL_typename(L, -2));
  lua_getfield(L, t, "desc");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
    error_at(L, line, MPL_EINVAL, "term '%s': 'desc' must be a string, got %s", *name, luaL_typename(L, -1));
  *desc = lua_tostring(L, -1);
  lua_getfield(L, t, "sign"); /* optional: "+" or "-", the sign the coefficient is meant to have */
  const char *sg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  *sign = lua_isnil(L, -1) ? 0 : sg && !strcmp(sg, "+") ? 1 : sg && !strcmp(sg, "-") ? -1 : 2;
  if (*sign == 2)
    error_at(L, line, MPL_EINVAL, "term '%s': 'sign' must be \"+\" or \"-\", got %s%s%s", *name,
             sg ? "\"" : "", sg ? sg : luaL_typename(L, -1), sg ? "\"" : "");
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!k || (strcmp(k, "name") && strcmp(k, "expr") && strcmp(k, "desc") && strcmp(k, "sign")))
      error_at(L, line, MPL_EINVAL, "term '%s': unknown field '%s' (a term has name, expr, desc and sign)", *name,
               k ? k : luaL_typename(L, -2));
    lua_pop(L, 1);
  }
  lua_pop(L, 4); /* the strings stay reachable through the entry table */
  return x;
}

/* Register one term and check that the engine can compile it. */
static void add_term(lua_State *L, sandbox *S, lexpr *x, int xi, const char *name, const char *desc, int sign) {
  if (!x->e) error_at(L, x->line, MPL_ESHAPE, "term '%s': %s", name, poison_msg(L, xi));
  mpl_err err = {0};
  if (mpl_termset_add(S->ts, name, desc, x->e, &err) < 0) error_at(L, x->line, err.code, "%s", err.msg);
  if (sign && mpl_termset_set_sign(S->ts, name, sign, &err) < 0) error_at(L, x->line, err.code, "%s", err.msg);
  int idx = mpl_termset_count(S->ts) - 1;
  mpl_rule *r = NULL;
  int rc = mpl__rule_compile(S->ts, &idx, 1, &r, &err);
  mpl__rule_free(r);
  if (rc < 0) error_at(L, x->line, rc, "%s", err.msg);
}

static void register_terms(lua_State *L, sandbox *S) {
  int t = lua_gettop(L);
  if (!lua_istable(L, t))
    error_at(L, 0, MPL_EINVAL, "a rule file returns a list of terms { {name = ..., expr = ..., desc = ...}, "
             "... }; this one returned %s", lua_isnone(L, t) || lua_isnil(L, t) ? "nothing" : luaL_typename(L, t));
  lua_Integer n = (lua_Integer)lua_rawlen(L, t);
  if (n == 0 && (lua_getfield(L, t, "name") != LUA_TNIL || lua_getfield(L, t, "expr") != LUA_TNIL))
    error_at(L, 0, MPL_EINVAL, "a rule file returns a list of terms { {name = ..., expr = ..., desc = ...}, ... }; "
             "this one returned a single term: put it in a list, return { {...} }");
  lua_settop(L, t);
  check_list(L, t, n);
  if (n == 0) error_at(L, 0, MPL_EINVAL, "the returned list of terms is empty");
  if (n > MAX_TERMS) error_at(L, 0, MPL_EINVAL, "the file returns %d terms; at most %d", (int)n, MAX_TERMS);
  for (int i = 1; i <= n; i++) {
    const char *name, *desc;
    int sign;
    lua_rawgeti(L, t, i);
    lexpr *x = read_entry(L, t + 1, i, &name, &desc, &sign);
    lua_getfield(L, t + 1, "expr");
    add_term(L, S, x, t + 2, name, desc, sign);
    lua_pop(L, 2);
    /* compiling is C, out of the hook's sight: each term is bounded (plan.c's MAX_WORK), and the
     * file's time budget and the stop flag are checked between terms */
    if (stop_requested())
      error_at(L, x->line, MPL_EINVAL, "rule file was interrupted (a stop signal arrived during its load)");
    if (now() - S->t0 > MAX_SECONDS)
      error_at(L, x->line, MPL_EINVAL, "rule file exceeds its time budget of 2 s (compiling its %d terms; term #%d, "
               "'%s', was the last)", (int)n, i, name);
  }
}

/* }====== */

/* {====== Loading ====== */

/* The protected body: build the sandbox, run the chunk, take its result. */
static int l_main(lua_State *L) {
  sandbox *S = lua_touserdata(L, 1);
  push_env(L);
  int st = luaL_loadbufferx(L, S->text, S->len, S->chunkname, "t"); /* text only: no bytecode */
  if (st != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    if (strncmp(m, S->chunk, strlen(S->chunk))) m = lua_pushfstring(L, "%s: %s", S->chunk, m);
    S->code = st == LUA_ERRMEM ? MPL_ENOMEM : MPL_EFORMAT;
    snprintf(S->last, sizeof S->last, "%s", m);
    return lua_error(L);
  }
  lua_pushvalue(L, -2);
  lua_setupvalue(L, -2, 1); /* the chunk's _ENV */
  lua_call(L, 0, 1);
  if (!S->eval) {
    register_terms(L, S);
    return 0;
  }
  lexpr *x = to_lexpr(L, -1);
  if (x && !x->e) error_at(L, x->line, MPL_ESHAPE, "%s", poison_msg(L, -1));
  if (!x && lua_type(L, -1) != LUA_TNUMBER)
    error_at(L, 0, MPL_EINVAL, "expected an expression, got %s", luaL_typename(L, -1));
  S->result = x ? x->e : mpl_num(S->ts, lua_tonumber(L, -1));
  if (!S->result) error_at(L, 0, MPL_ESHAPE, "%s", mpl_termset_error(S->ts) ? mpl_termset_error(S->ts) : "?");
  return 0;
}

/* Lua shortens a file name longer than LUA_IDSIZE to "...TAIL" in its messages: the message with
 * the whole name again, so that it names the file wherever the tree is. */
static const char *whole_name(lua_State *L, const sandbox *S, const char *m) {
  const char *colon = strncmp(m, "...", 3) ? NULL : strchr(m + 3, ':');
  size_t n = strlen(S->chunk), k = colon ? (size_t)(colon - m - 3) : 0;
  if (!colon || k > n || strncmp(S->chunk + n - k, m + 3, k)) return m;
  return lua_pushfstring(L, "%s%s", S->chunk, colon);
}

/* The error of a failed run, into err. */
static int report(lua_State *L, sandbox *S, int st, mpl_err *err) {
  const char *raw = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL, *m = raw;
  if (S->limit[0]) return mpl_errorf(err, MPL_EINVAL, "%s", S->limit);
  if (st == LUA_ERRMEM || (S->mem_hit && m && !strcmp(m, "not enough memory")))
    return S->mem_hit ? mpl_errorf(err, MPL_ENOMEM, "%s: rule file exceeds its memory limit of %zu MiB", S->chunk,
                                   MEM_LIMIT >> 20)
                      : mpl_errorf(err, MPL_ENOMEM, "%s: out of memory", S->chunk);
  if (!m) return mpl_errorf(err, MPL_EINVAL, "%s: the rule file raised an error that is not a message but a %s",
                            S->chunk, luaL_typename(L, -1));
  int ours = S->last[0] && !strncmp(raw, S->last, strlen(S->last));
  return mpl_errorf(err, ours ? S->code : MPL_EINVAL, "%s", whole_name(L, S, raw));
}

static int run(sandbox *S, mpl_err *err) {
  S->t0 = now();
  S->nodes0 = S->ts->n_nodes;
  lua_State *L = lua_newstate(l_alloc, S);
  if (!L) return mpl_errorf(err, MPL_ENOMEM, "%s: cannot create a Lua state", S->chunk);
  lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
  lua_pushcfunction(L, l_main);
  lua_pushlightuserdata(L, S);
  int st = lua_pcall(L, 1, 0, 0);
  int rc = st == LUA_OK ? MPL_OK : report(L, S, st, err);
  lua_close(L);
  mpl_termset_clear_error(S->ts);
  return rc;
}

/* Run a chunk in a fresh sandbox. name: the file in messages; its terms are added under
 * `source`, or nothing is. */
static int load_text(sandbox *S, const char *name, const char *source, mpl_err *err) {
  char chunkname[4096];
  snprintf(chunkname, sizeof chunkname, "%s%s", S->eval ? "=" : "@", name);
  S->chunkname = chunkname;
  S->chunk = name;
  mpl_termset *ts = S->ts;
  int first = ts->n_terms, saved_first = ts->load_first;
  const char *saved_source = ts->source;
  ts->load_first = first;
  ts->source = source;
  mpl_termset_clear_error(ts);
  int rc = run(S, err);
  ts->load_first = saved_first;
  ts->source = saved_source;
  if (rc < 0) mpl__termset_truncate(ts, first);
  return rc;
}

int mpl__rules_load_buffer(const char *chunkname, const char *text, size_t len, mpl_termset *ts, mpl_err *err) {
  if (!ts || !text) return mpl_errorf(err, MPL_EINVAL, "no term set or no text");
  sandbox S = {.ts = ts, .text = text, .len = len};
  return load_text(&S, chunkname ? chunkname : "?", chunkname ? chunkname : "", err);
}

int mpl__rules_eval(mpl_termset *ts, const char *formula, mpl_expr **out, mpl_err *err) {
  *out = NULL;
  if (!ts || !formula) return mpl_errorf(err, MPL_EINVAL, "no term set or no formula");
  size_t n = strlen(formula);
  char *text = malloc(n + 8);
  if (!text) return mpl_errorf(err, MPL_ENOMEM, "out of memory");
  memcpy(text, "return ", 7);
  memcpy(text + 7, formula, n + 1);
  sandbox S = {.ts = ts, .text = text, .len = n + 7, .eval = 1};
  int rc = load_text(&S, "formula", "", err);
  free(text);
  if (rc == 0) *out = S.result;
  return rc;
}

int mpl__rules_load_file(const char *path, const char *source, mpl_termset *ts, mpl_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return mpl_errorf(err, MPL_ENOTFOUND, "%s: cannot open rule file: %s", path, strerror(errno));
  char *text = malloc((size_t)MAX_FILE + 1);
  size_t len = text ? fread(text, 1, (size_t)MAX_FILE + 1, f) : 0;
  int rc = !text ? mpl_errorf(err, MPL_ENOMEM, "out of memory")
           : ferror(f) ? mpl_errorf(err, MPL_EIO, "%s: cannot read: %s", path, strerror(errno))
           : len > (size_t)MAX_FILE ? mpl_errorf(err, MPL_EINVAL, "%s: rule file larger than %ld bytes", path, MAX_FILE)
                                    : MPL_OK;
  fclose(f);
  if (rc == 0) {
    sandbox S = {.ts = ts, .text = text, .len = len};
    rc = load_text(&S, path, source, err);
  }
  free(text);
  return rc;
}

/* The rule path, in order: METAPLAST_RULES_PATH, the installed rules beside this libmetaplast, the
 * configured install dir, the source tree's rules/. The message lists exactly what was looked at. */
int mpl__rules_find(const char *name, char *path, size_t n, mpl_err *err) {
  static const mpl__search_path sp = {"METAPLAST_RULES_PATH", MPL_RULES_REL_DIR, MPL_RULES_INSTALL_DIR,
                                      MPL_RULES_SOURCE_DIR, "source tree"};
  char file[512];
  mpl__looked l = {{0}};
  snprintf(file, sizeof file, "%s.lua", name);
  if (mpl__search_path_find(&sp, file, path, n, &l)) return MPL_OK;
  return mpl_errorf(err, MPL_ENOTFOUND, "no rule file '%s' in %s%s; set METAPLAST_RULES_PATH to the directory that "
                    "holds it", file, getenv(sp.env) ? "" : "METAPLAST_RULES_PATH (unset), ", l.text);
}

/* }====== */
