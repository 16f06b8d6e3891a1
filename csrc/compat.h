/* One header so the same sources build for Lua 5.4 and LuaJIT 2.1 (5.1 API). */
#ifndef COZE_COMPAT_H
#define COZE_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501
#define lua_rawlen(L, i) lua_objlen((L), (i))
/* the value a userdata carries for its binding (5.1: its environment table) */
#define coze_setuservalue(L, i) lua_setfenv((L), (i))
#define coze_getuservalue(L, i) lua_getfenv((L), (i))
#else
#define coze_setuservalue(L, i) lua_setuservalue((L), (i))
#define coze_getuservalue(L, i) ((void)lua_getuservalue((L), (i)))
#endif

/* Lua 5.3+: 64-bit integers (JSON keeps them exact) and lua_callk (SSEParser:iterator). */
#define COZE_LUA_53 (LUA_VERSION_NUM >= 503)

/* LuaJIT 2.1 (the OpenResty branch Debian ships) already has these 5.2 helpers; plain 5.1 does not. */
#if LUA_VERSION_NUM == 501 && !defined(luaL_newlibtable)

static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++)
      lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

#define luaL_newlibtable(L, l) lua_createtable((L), 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#define luaL_newlib(L, l) (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))

static inline void luaL_setmetatable(lua_State *L, const char *tname)
{
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

static inline void *luaL_testudata(lua_State *L, int i, const char *tname)
{
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i))
    return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2))
    p = NULL;
  lua_pop(L, 2);
  return p;
}
#endif

/* Registers a class metatable named tname with methods; methods double as __index. */
static inline void coze_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                          const luaL_Reg *metamethods)
{
  luaL_newmetatable(L, tname);
  luaL_setfuncs(L, metamethods, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, tname);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

/* The one __tostring scheme of every userdata: "<class> (<address>)", or "<class> (closed)" when
 * p is NULL (PrivateKey shows "redacted" in place of the address). */
static inline int coze_pushtostring(lua_State *L, const char *tname, const void *p)
{
  if (p == NULL)
    lua_pushfstring(L, "%s (closed)", tname);
  else
    lua_pushfstring(L, "%s (%p)", tname, p);
  return 1;
}

#endif
