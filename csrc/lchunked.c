/* core.chunked_decoder(): chunked.c for Lua. A cosocket transport hands it what receive returned;
 * the data goes straight into an SSEParser (one C call per read) or back as one string. */
#include "chunked.h"
#include "compat.h"
#include "lcore.h"
#include "lsse.h"

#define CHUNKED_TNAME "coze.core.ChunkedDecoder"

typedef struct l_chunked {
  coze_chunked c;
  int closed;
} l_chunked;

static l_chunked *check(lua_State *L)
{
  l_chunked *d = (l_chunked *)luaL_checkudata(L, 1, CHUNKED_TNAME);
  if (d->closed)
    luaL_error(L, "attempt to use a closed ChunkedDecoder");
  return d;
}

static int buffer_feed(void *ctx, const char *bytes, size_t len)
{
  luaL_addlstring((luaL_Buffer *)ctx, bytes, len);
  return 0;
}

/* d:feed(bytes [, parser]) -> decoded string (without parser) or true, done (boolean), rest (bytes
 * after the body's end, or nil) | nil, "malformed chunked encoding" */
static int l_chunked_feed(lua_State *L)
{
  l_chunked *d = check(L);
  size_t len, used = 0;
  const char *in = luaL_checklstring(L, 2, &len);
  int rc, n;
  if (!lua_isnoneornil(L, 3)) {
    coze_sink k;
    (void)coze_l_sse_at(L, 3);
    k = coze_l_sse_sink(L, 3);
    rc = coze_chunked_feed(&d->c, in, len, k, &used);
    if (rc == COZE_CHUNKED_NOMEM)
      return luaL_error(L, "not enough memory");
    lua_pushboolean(L, 1);
  } else {
    luaL_Buffer b;
    coze_sink k;
    luaL_buffinit(L, &b);
    k.ctx = &b;
    k.feed = buffer_feed;
    rc = coze_chunked_feed(&d->c, in, len, k, &used);
    luaL_pushresult(&b);
  }
  if (rc == COZE_CHUNKED_BAD || rc == COZE_CHUNKED_BUSY) {
    lua_pushnil(L);
    lua_pushstring(L, rc == COZE_CHUNKED_BAD ? "malformed chunked encoding" : "the parser is in use");
    return 2;
  }
  lua_pushboolean(L, rc == COZE_CHUNKED_DONE);
  n = 2;
  if (used < len) {
    lua_pushlstring(L, in + used, len - used);
    n = 3;
  }
  return n;
}

/* d:bytes() -> the chunk data bytes decoded so far */
static int l_chunked_bytes(lua_State *L)
{
  l_chunked *d = check(L);
  lua_pushinteger(L, (lua_Integer)d->c.data);
  return 1;
}

static int l_chunked_close(lua_State *L)
{
  l_chunked *d = (l_chunked *)luaL_checkudata(L, 1, CHUNKED_TNAME);
  d->closed = 1;
  return 0;
}

static int l_chunked_tostring(lua_State *L)
{
  l_chunked *d = (l_chunked *)luaL_checkudata(L, 1, CHUNKED_TNAME);
  return coze_pushtostring(L, CHUNKED_TNAME, d->closed ? NULL : (const void *)d);
}

/* core.chunked_decoder() -> ChunkedDecoder */
static int l_chunked_new(lua_State *L)
{
  l_chunked *d = (l_chunked *)lua_newuserdata(L, sizeof *d);
  d->closed = 1;
  luaL_setmetatable(L, CHUNKED_TNAME);
  coze_chunked_init(&d->c);
  d->closed = 0;
  return 1;
}

void coze_l_chunked_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"feed", l_chunked_feed},
    {"bytes", l_chunked_bytes},
    {"close", l_chunked_close},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", l_chunked_close},
    {"__tostring", l_chunked_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg fns[] = {
    {"chunked_decoder", l_chunked_new},
    {NULL, NULL}
  };
  coze_newclass(L, CHUNKED_TNAME, methods, meta);
  luaL_setfuncs(L, fns, 0);
}
