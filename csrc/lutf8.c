/* core.utf8_check: the Lua face of utf8.c. */
#include "compat.h"
#include "lcore.h"
#include "utf8.h"

/* core.utf8_check(s) -> true | false, position (1-based byte offset of the first bad sequence) */
static int l_utf8_check(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t at = coze_utf8_check(s, len);
  if (at == len) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushinteger(L, (lua_Integer)at + 1);
  return 2;
}

void coze_l_utf8_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    {"utf8_check", l_utf8_check},
    {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
}
