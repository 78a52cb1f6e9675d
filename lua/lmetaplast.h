/* metaplast: the Lua module `metaplast` (docs/lua.md). See LICENSE for copyright. */
#ifndef METAPLAST_LMETAPLAST_H
#define METAPLAST_LMETAPLAST_H

#include <lua.h>

#include "metaplast/status.h"

/* Open the module: push its table. The entry point of `require "metaplast"` (lua5.4 finds it in
 * metaplast.so on LUA_CPATH) and what `metaplast run` preloads. */
MPL_API int luaopen_metaplast(lua_State *L);

#endif
