/* metaplast run: run a Lua script with the metaplast module preloaded (docs/lua.md).
 * See LICENSE for copyright. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lmetaplast.h"

#include "cli.h"

static void run_help(FILE *f) {
  fprintf(f,
    "usage: " PROG " run SCRIPT.lua [ARG...]\n"
    "Run a Lua 5.4 script in which require \"metaplast\" is the metaplast module (docs/lua.md).\n"
    "The script gets its arguments as ... and in the global table arg, as with lua5.4\n"
    "(arg[0] = SCRIPT.lua); search scripts take key=value options, e.g.\n"
    "  " PROG " run lua/quickstart.lua episodes=50 seed=2\n");
}

/* Message handler: the error with a traceback. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* In protected mode: open the libraries, set arg, load and call the script. */
static int run_script(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);
  luaL_requiref(L, "metaplast", luaopen_metaplast, 0);
  lua_pop(L, 1);
  lua_createtable(L, argc, 2);  /* arg[-2] = "metaplast", arg[-1] = "run", arg[0] = script */
  lua_pushliteral(L, PROG);
  lua_rawseti(L, -2, -2);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, argv[1]) != LUA_OK) return lua_error(L);
  luaL_checkstack(L, argc, "too many arguments");
  for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  if (lua_pcall(L, argc - 2, 0, -(argc - 2) - 2) != LUA_OK) return lua_error(L);
  return 0;
}

int cmd_run(int argc, char **argv) {
  if (argc < 2) { run_help(stderr); return 2; }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { run_help(stdout); return 0; }
  lua_State *L = luaL_newstate();
  if (!L) { fprintf(stderr, PROG ": cannot create a Lua state: out of memory\n"); return 1; }
  lua_pushcfunction(L, run_script);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int rc = lua_pcall(L, 2, 0, 0);
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, PROG ": %s\n", msg ? msg : "(error object is not a string)");
  }
  lua_close(L);
  fflush(stdout);
  return rc == LUA_OK ? 0 : 1;
}
