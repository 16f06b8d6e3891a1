/* core.parse_headers(block): the header rules of headers.h for Lua (and for Request:headers). */
#include "compat.h"
#include "headers.h"
#include "lcore.h"

/* The parsed fields live in a userdata while their strings are pushed: a memory error raised by
   a push leaves them to the collector instead of leaking them. */
#define HOLDER_MT "coze.core.headers (parsing)"

static int holder_gc(lua_State *L)
{
  coze_headers_free((coze_headers *)lua_touserdata(L, 1));
  return 0;
}

int coze_l_headers_push(lua_State *L, const char *block, size_t len)
{
  coze_headers *h;
  size_t i;
  int rc;
  luaL_checkstack(L, 5, "parse_headers");
  h = (coze_headers *)lua_newuserdata(L, sizeof *h);
  coze_headers_init(h);
  luaL_setmetatable(L, HOLDER_MT);
  rc = coze_headers_parse(h, block, len);
  if (rc == COZE_HEADERS_NOMEM)
    return luaL_error(L, "not enough memory");
  if (rc != COZE_HEADERS_OK) {
    lua_pushnil(L);
    lua_pushliteral(L, COZE_HEADERS_TOO_LARGE_MSG);
    return 2;
  }
  lua_createtable(L, 0, (int)h->n);
  for (i = 0; i < h->n; i++) {
    lua_pushlstring(L, h->fields[i].name, h->fields[i].name_len);
    lua_pushlstring(L, h->fields[i].value, h->fields[i].value_len);
    lua_rawset(L, -3);
  }
  coze_headers_free(h); /* now rather than at the next collection */
  return 1;
}

/* core.parse_headers(block) -> { [lower-case name] = value } | nil, core.HEADERS_TOO_LARGE */
static int l_parse_headers(lua_State *L)
{
  size_t len;
  const char *block;
  luaL_checktype(L, 1, LUA_TSTRING);
  block = lua_tolstring(L, 1, &len);
  return coze_l_headers_push(L, block, len);
}

void coze_l_headers_open(lua_State *L)
{
  static const luaL_Reg holder_meta[] = {
    {"__gc", holder_gc},
    {NULL, NULL}
  };
  static const luaL_Reg fns[] = {
    {"parse_headers", l_parse_headers},
    {NULL, NULL}
  };
  luaL_newmetatable(L, HOLDER_MT);
  luaL_setfuncs(L, holder_meta, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, fns, 0);
  /* the limits and their error, for a transport that reads the block itself (coze.transport.ngx) */
  lua_pushinteger(L, (lua_Integer)COZE_HEADERS_MAX_BYTES);
  lua_setfield(L, -2, "HEADERS_MAX_BYTES");
  lua_pushinteger(L, COZE_HEADERS_MAX_FIELDS);
  lua_setfield(L, -2, "HEADERS_MAX_FIELDS");
  lua_pushliteral(L, COZE_HEADERS_TOO_LARGE_MSG);
  lua_setfield(L, -2, "HEADERS_TOO_LARGE");
}
