/* The interpreter's own cost of what a relay loop must be handed per event, without parsing or
 * network: bench/run.sh compiles this Lua 5.4 module into a temp dir for bench/lua/floor.lua.
 *
 *   floor.fill(q, n, name, len, mt)  q[1..n] = fresh { event = name, raw = <len new bytes> } tables
 *                                    with metatable mt (what stream:events() hands out)
 *   floor.fill(q, n, nil, len)       q[1..n] = fresh strings of len bytes (what raw_events() hands out)
 *
 * Built in C, a batch per call, as the SDK builds events: the numbers are what Lua's allocator and
 * collector charge for these objects, the part of the relay path no SDK code can remove. */
#include <lauxlib.h>
#include <lua.h>

static int fill(lua_State *L)
{
  static char bytes[4096];
  lua_Integer n = luaL_checkinteger(L, 2), i;
  size_t len = (size_t)luaL_checkinteger(L, 4);
  int tables = !lua_isnoneornil(L, 3);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, len <= sizeof(bytes), 4, "at most 4096 bytes");
  lua_settop(L, 5);
  for (i = 1; i <= n; i++) {
    bytes[i % len]++; /* every string is new: long strings are not interned, but keep them distinct */
    if (tables) {
      lua_createtable(L, 0, 4);
      lua_pushliteral(L, "event");
      lua_pushvalue(L, 3);
      lua_rawset(L, -3);
      lua_pushliteral(L, "raw");
      lua_pushlstring(L, bytes, len);
      lua_rawset(L, -3);
      if (!lua_isnil(L, 5)) {
        lua_pushvalue(L, 5);
        lua_setmetatable(L, -2);
      }
    } else {
      lua_pushlstring(L, bytes, len);
    }
    lua_rawseti(L, 1, i);
  }
  return 0;
}

int luaopen_floor(lua_State *L)
{
  lua_newtable(L);
  lua_pushcfunction(L, fill);
  lua_setfield(L, -2, "fill");
  return 1;
}
