/* SSEParser:iterator, the for-loop functions of stream:events() and stream:raw_events() on Lua 5.3+
 * (lua_callk). LuaJIT iterates in Lua (lua/coze/stream.lua): this file then compiles to nothing.
 *
 * STYLE EXCEPTION (also in csrc/README.md): this is the one place where C calls back into Lua. The
 * iterator calls `slow` with lua_callk to read more bytes, so that read may yield (on_wait =
 * coroutine.yield). It is not an I/O callback: no libcurl or OpenSSL frame is on the C stack, the
 * parser holds no pointer into Lua memory across the call, and iter_k resumes from the parser's
 * state alone. */
#include <string.h>

#include "compat.h"
#include "lsse.h"

#if COZE_LUA_53
/* p:iterator(kind, slow, stop, mt) -> iter: the for-loop function of stream:events() ("events":
 * iter(s) -> event table with metatable mt) or stream:raw_events() ("raw": iter(s) -> name, raw, id).
 * Each call parses the next event straight from p: no queue, no Lua frame. What needs Lua goes to
 * slow, called with lua_callk so that it may yield (on_wait = coroutine.yield):
 *   slow(s, name, raw, id, partial)  an event whose name is a key of stop, or one dispatched at the
 *                                    end of input from an unterminated line: slow's results are
 *                                    the iterator's;
 *   slow(s)                          p needs more bytes: true once they were fed (parse again),
 *                                    else the iterator's results;
 *   slow(s, false)                   no direct path (p closed or in error, direct off): the
 *                                    iterator's results. */
enum { UV_PARSER = 1, UV_SLOW, UV_STOP, UV_MT, UV_NAME, UV_NAME_STOPS, UV_K_EVENT, UV_K_RAW, UV_K_ID };
enum { CTX_TABLES = 1, CTX_MORE = 2 };

/* Keeps the event's name in UV_NAME as a Lua string, made again only when it changes (names
 * repeat), and tells whether it is a stop name (cached in UV_NAME_STOPS). Pushes nothing. */
static int name_stops(lua_State *L, const coze_sse_event *ev)
{
  size_t clen;
  const char *cname = lua_tolstring(L, lua_upvalueindex(UV_NAME), &clen);
  if (cname == NULL || clen != ev->event_len || memcmp(cname, ev->event, clen) != 0) {
    lua_pushlstring(L, ev->event, ev->event_len);
    lua_replace(L, lua_upvalueindex(UV_NAME));
    lua_pushvalue(L, lua_upvalueindex(UV_NAME));
    lua_rawget(L, lua_upvalueindex(UV_STOP));
    lua_pushboolean(L, lua_toboolean(L, -1));
    lua_replace(L, lua_upvalueindex(UV_NAME_STOPS));
    lua_pop(L, 1);
  }
  return lua_toboolean(L, lua_upvalueindex(UV_NAME_STOPS));
}

static void push_data_id(lua_State *L, const coze_sse_event *ev)
{
  lua_pushlstring(L, ev->data, ev->data_len);
  if (ev->id != NULL)
    lua_pushlstring(L, ev->id, ev->id_len);
  else
    lua_pushnil(L);
}

static void push_event_table(lua_State *L, const coze_sse_event *ev)
{
  lua_createtable(L, 0, 4); /* event, raw, id and the lazily decoded data */
  lua_pushvalue(L, lua_upvalueindex(UV_K_EVENT));
  lua_pushvalue(L, lua_upvalueindex(UV_NAME));
  lua_rawset(L, -3);
  lua_pushvalue(L, lua_upvalueindex(UV_K_RAW));
  lua_pushlstring(L, ev->data, ev->data_len);
  lua_rawset(L, -3);
  if (ev->id != NULL) {
    lua_pushvalue(L, lua_upvalueindex(UV_K_ID));
    lua_pushlstring(L, ev->id, ev->id_len);
    lua_rawset(L, -3);
  }
  lua_pushvalue(L, lua_upvalueindex(UV_MT));
  lua_setmetatable(L, -2);
}

static int iter_k(lua_State *L, int status, lua_KContext ctx);

/* slow's results are on top: parse again after slow(s) fed bytes, else hand them out. 0: again. */
static int slow_results(lua_State *L, int ctx)
{
  int nres = (ctx & CTX_TABLES) ? 1 : 3;
  if ((ctx & CTX_MORE) && lua_type(L, -nres) == LUA_TBOOLEAN && lua_toboolean(L, -nres))
    return 0;
  return nres;
}

/* Loops (never recurses) so that a body dripping a byte per read cannot grow the C stack. The
 * plain event returns at once; only the way to slow pushes its function and arguments. */
static int iter_run(lua_State *L, int tables)
{
  l_sse *s = (l_sse *)lua_touserdata(L, lua_upvalueindex(UV_PARSER));
  for (;;) {
    coze_sse_event ev;
    int rc = COZE_SSE_NEED_MORE, ctx = tables ? CTX_TABLES : 0, nres = tables ? 1 : 3, event = 0;
    lua_settop(L, 1); /* s */
    if (s->busy)
      return luaL_error(L, "SSEParser: in use by another call (from a finalizer or metamethod it ran)");
    if (!s->closed && s->direct) {
      rc = coze_sse_next(&s->p, &ev);
      if (rc == COZE_SSE_EVENT) {
        s->busy = 1; /* until ev's pointers into the parser were pushed */
        if (ev.event == NULL) {
          ev.event = "message";
          ev.event_len = 7;
        }
        if (!name_stops(L, &ev) && !ev.eof_partial) {
          if (tables) {
            push_event_table(L, &ev);
          } else {
            lua_pushvalue(L, lua_upvalueindex(UV_NAME));
            push_data_id(L, &ev);
          }
          s->busy = 0;
          return nres;
        }
        event = 1;
      }
    }
    lua_pushvalue(L, lua_upvalueindex(UV_SLOW));
    lua_pushvalue(L, 1);
    if (event) { /* slow(s, name, raw, id, partial) */
      lua_pushvalue(L, lua_upvalueindex(UV_NAME));
      push_data_id(L, &ev);
      lua_pushboolean(L, ev.eof_partial);
      s->busy = 0;
      lua_callk(L, 5, nres, ctx, iter_k);
    } else if (rc == COZE_SSE_NEED_MORE && !s->closed && s->direct) { /* slow(s) */
      ctx |= CTX_MORE;
      lua_callk(L, 1, nres, ctx, iter_k);
    } else { /* slow(s, false): closed, direct off, or the parser's error (next() reports it) */
      lua_pushboolean(L, 0);
      lua_callk(L, 2, nres, ctx, iter_k);
    }
    if ((nres = slow_results(L, ctx)) != 0)
      return nres;
  }
}

/* slow yielded and was resumed: its results are on top. */
static int iter_k(lua_State *L, int status, lua_KContext ctx)
{
  int nres = slow_results(L, (int)ctx);
  (void)status;
  if (nres != 0)
    return nres;
  return iter_run(L, (int)(ctx & CTX_TABLES));
}

static int iter_events(lua_State *L)
{
  return iter_run(L, 1);
}

static int iter_raw(lua_State *L)
{
  return iter_run(L, 0);
}

int coze_l_sse_iterator(lua_State *L)
{
  static const char *const kinds[] = {"events", "raw", NULL};
  int tables;
  coze_l_sse_at(L, 1);
  tables = luaL_checkoption(L, 2, NULL, kinds) == 0;
  luaL_checktype(L, 3, LUA_TFUNCTION);
  luaL_checktype(L, 4, LUA_TTABLE);
  if (tables)
    luaL_checktype(L, 5, LUA_TTABLE);
  lua_settop(L, 5);
  lua_pushvalue(L, 1);          /* UV_PARSER: kept alive by the iterator */
  lua_pushvalue(L, 3);          /* UV_SLOW */
  lua_pushvalue(L, 4);          /* UV_STOP */
  lua_pushvalue(L, 5);          /* UV_MT */
  lua_pushnil(L);               /* UV_NAME */
  lua_pushboolean(L, 0);        /* UV_NAME_STOPS */
  lua_pushliteral(L, "event");  /* UV_K_EVENT */
  lua_pushliteral(L, "raw");    /* UV_K_RAW */
  lua_pushliteral(L, "id");     /* UV_K_ID */
  lua_pushcclosure(L, tables ? iter_events : iter_raw, 9);
  return 1;
}
#endif
