/* core.json_decode(s [, max_depth]) -> value | nil, err. Invalid JSON returns nil and a message
 * with the character position; only misuse (not a string, bad max_depth) and out of memory raise.
 * core.json_null is the value null decodes to: lightuserdata(NULL), equal to cjson.null. */
#include "compat.h"
#include "json.h"
#include "lcore.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static int l_json_decode(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len); /* numbers are coerced, as cjson.decode does */
  int max_depth = COZE_JSON_DEFAULT_DEPTH;
  char err[160];
  if (!lua_isnoneornil(L, 2)) {
    lua_Number n = luaL_checknumber(L, 2);
    luaL_argcheck(L, n >= 1 && n <= COZE_JSON_MAX_DEPTH, 2,
                  "max_depth must be between 1 and " STR(COZE_JSON_MAX_DEPTH));
    max_depth = (int)n;
  }
  lua_settop(L, 1);
  if (coze_json_decode(L, s, len, max_depth, err, sizeof(err)))
    return 1;
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

void coze_l_json_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    {"json_decode", l_json_decode},
    {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "json_null");
}
