/* coze.core.SSEParser: the Lua face of sse.c. The C parser lives inside the userdata. */
#include <stdint.h>
#include <stdio.h>

#include "compat.h"
#include "lcore.h"
#include "sse.h"

#define SSE_TNAME "coze.core.SSEParser"
#define SSE_DEFAULT_MAX ((size_t)8 * 1024 * 1024)

typedef struct l_sse {
  coze_sse_parser p;
  int closed;
} l_sse;

static l_sse *l_sse_check(lua_State *L)
{
  l_sse *s = (l_sse *)luaL_checkudata(L, 1, SSE_TNAME);
  if (s->closed)
    luaL_error(L, "attempt to use a closed SSEParser");
  return s;
}

static int l_sse_new(lua_State *L)
{
  size_t max = SSE_DEFAULT_MAX;
  l_sse *s;
  if (!lua_isnoneornil(L, 1)) {
    lua_Number n;
    if (lua_type(L, 1) != LUA_TNUMBER)
      return luaL_argerror(L, 1, "max_event_bytes must be a positive number");
    n = lua_tonumber(L, 1);
    if (!(n >= 1)) /* also rejects NaN */
      return luaL_argerror(L, 1, "max_event_bytes must be a positive number");
    max = n >= (lua_Number)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)n;
  }
  /* created closed, opened once the metatable is set (nothing to free if that raises) */
  s = (l_sse *)lua_newuserdata(L, sizeof(l_sse));
  s->closed = 1;
  luaL_setmetatable(L, SSE_TNAME);
  coze_sse_init(&s->p, max);
  s->closed = 0;
  return 1;
}

static int l_sse_feed(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  size_t len;
  const char *bytes;
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_argerror(L, 2, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 2)));
  if (s->p.finished)
    return luaL_error(L, "SSEParser: feed after finish");
  bytes = lua_tolstring(L, 2, &len);
  if (coze_sse_feed(&s->p, bytes, len) != 0)
    return luaL_error(L, "not enough memory");
  lua_settop(L, 1);
  return 1;
}

static int l_sse_next(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  coze_sse_event ev;
  switch (coze_sse_next(&s->p, &ev)) {
  case COZE_SSE_EVENT:
    lua_pushlstring(L, ev.data, ev.data_len);
    if (ev.event != NULL)
      lua_pushlstring(L, ev.event, ev.event_len);
    else
      lua_pushnil(L);
    if (ev.id != NULL)
      lua_pushlstring(L, ev.id, ev.id_len);
    else
      lua_pushnil(L);
    lua_pushboolean(L, ev.eof_partial);
    return 4;
  case COZE_SSE_NEED_MORE:
    lua_pushnil(L);
    return 1;
  case COZE_SSE_TOO_LARGE:
    {
      char msg[64];
      snprintf(msg, sizeof(msg), "event exceeds %zu bytes", s->p.max_event_bytes);
      lua_pushnil(L);
      lua_pushstring(L, msg);
      return 2;
    }
  default:
    return luaL_error(L, "not enough memory");
  }
}

static int l_sse_finish(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  coze_sse_finish(&s->p);
  lua_settop(L, 1);
  return 1;
}

static int l_sse_reset(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  coze_sse_reset(&s->p);
  lua_settop(L, 1);
  return 1;
}

static int l_sse_retry(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  if (s->p.retry < 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, (lua_Integer)s->p.retry);
  return 1;
}

static int l_sse_buffered(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  lua_pushinteger(L, (lua_Integer)coze_sse_buffered(&s->p));
  return 1;
}

/* close, __gc and __close: idempotent */
static int l_sse_close(lua_State *L)
{
  l_sse *s = (l_sse *)luaL_checkudata(L, 1, SSE_TNAME);
  if (!s->closed) {
    s->closed = 1;
    coze_sse_free(&s->p);
  }
  return 0;
}

static int l_sse_tostring(lua_State *L)
{
  l_sse *s = (l_sse *)luaL_checkudata(L, 1, SSE_TNAME);
  if (s->closed)
    lua_pushliteral(L, "SSEParser (closed)");
  else
    lua_pushfstring(L, "SSEParser (%p)", (void *)s);
  return 1;
}

void coze_l_sse_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"feed", l_sse_feed},
    {"next", l_sse_next},
    {"finish", l_sse_finish},
    {"reset", l_sse_reset},
    {"retry", l_sse_retry},
    {"buffered", l_sse_buffered},
    {"close", l_sse_close},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_sse_close},
    {"__close", l_sse_close},
    {"__tostring", l_sse_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg fns[] = {
    {"sse_parser", l_sse_new},
    {NULL, NULL}
  };
  coze_newclass(L, SSE_TNAME, methods, metamethods);
  luaL_setfuncs(L, fns, 0);
}
