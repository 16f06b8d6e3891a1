/* coze.core.SSEParser: the Lua face of sse.c. The C parser lives inside the userdata. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "lcore.h"
#include "lsse.h"
#include "sse.h"

#define SSE_DEFAULT_MAX ((size_t)8 * 1024 * 1024)

l_sse *coze_l_sse_at(lua_State *L, int idx)
{
  l_sse *s = (l_sse *)luaL_checkudata(L, idx, SSE_TNAME);
  if (s->closed)
    luaL_error(L, "attempt to use a closed SSEParser");
  if (s->busy)
    luaL_error(L, "SSEParser: in use by another call (from a finalizer or metamethod it ran)");
  return s;
}

static int sink_feed(void *ctx, const char *bytes, size_t len)
{
  l_sse *s = (l_sse *)ctx;
  if (s->busy)
    return 1;
  return coze_sse_feed(&s->p, bytes, len) == 0 ? 0 : -1;
}

coze_sink coze_l_sse_sink(lua_State *L, int idx)
{
  coze_sink k;
  k.ctx = coze_l_sse_at(L, idx);
  k.feed = sink_feed;
  return k;
}

static l_sse *l_sse_check(lua_State *L)
{
  return coze_l_sse_at(L, 1);
}

coze_sse_parser *coze_l_sse_check(lua_State *L, int idx)
{
  l_sse *s = coze_l_sse_at(L, idx);
  if (s->p.finished)
    luaL_error(L, "SSEParser: feed after finish");
  return &s->p;
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
  s->direct = 0;
  s->busy = 0;
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

static int push_too_large(lua_State *L, const l_sse *s)
{
  char msg[64];
  snprintf(msg, sizeof(msg), "event exceeds %zu bytes", s->p.max_event_bytes);
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

static int l_sse_next(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  coze_sse_event ev;
  switch (coze_sse_next(&s->p, &ev)) {
  case COZE_SSE_EVENT:
    s->busy = 1;
    lua_pushlstring(L, ev.data, ev.data_len);
    if (ev.event != NULL)
      lua_pushlstring(L, ev.event, ev.event_len);
    else
      lua_pushnil(L);
    if (ev.id != NULL)
      lua_pushlstring(L, ev.id, ev.id_len);
    else
      lua_pushnil(L);
    s->busy = 0;
    lua_pushboolean(L, ev.eof_partial);
    return 4;
  case COZE_SSE_NEED_MORE:
    lua_pushnil(L);
    return 1;
  case COZE_SSE_TOO_LARGE:
    return push_too_large(L, s);
  default:
    return luaL_error(L, "not enough memory");
  }
}

/* The next event of a batch, "message" when it has no name. The name string lives at stack slot
 * `slot` and is pushed again only when it changes (chat streams repeat a few names). */
static int next_named(lua_State *L, l_sse *s, coze_sse_event *ev, int slot, const char **cname,
                      size_t *clen)
{
  int rc = coze_sse_next(&s->p, ev);
  if (rc != COZE_SSE_EVENT)
    return rc;
  if (ev->event == NULL) {
    ev->event = "message";
    ev->event_len = 7;
  }
  if (*cname == NULL || *clen != ev->event_len || memcmp(*cname, ev->event, *clen) != 0) {
    lua_pushlstring(L, ev->event, ev->event_len);
    lua_replace(L, slot);
    *cname = lua_tolstring(L, slot, clen);
  }
  return rc;
}

/* How a batch of n events that stopped on rc ends: 0 when the caller returns n, partial; else the
 * number of values pushed (nil, msg when nothing came before an oversized event). */
static int batch_error(lua_State *L, l_sse *s, int rc, lua_Integer n)
{
  if (rc < COZE_SSE_NEED_MORE && rc != COZE_SSE_TOO_LARGE)
    return luaL_error(L, "not enough memory");
  if (n == 0 && rc == COZE_SSE_TOO_LARGE)
    return push_too_large(L, s);
  return 0;
}

/* The loop of next_events (stride 1: a table per event, its keys at stack slots 5..7, metatable at
 * 3 when has_mt) and next_raw (stride 3: name, data, id) into queue (argument 2): up to max events,
 * then the stale slots of an earlier, longer batch cleared. Returns n, partial or the error. */
static int next_batch(lua_State *L, l_sse *s, lua_Integer max, int stride, int has_mt)
{
  lua_Integer n = 0, k;
  int rc = COZE_SSE_NEED_MORE, partial = 0, slot;
  const char *cname = NULL;
  size_t clen = 0;
  lua_pushnil(L); /* the last event name, reused while names repeat */
  slot = lua_gettop(L);
  s->busy = 1;
  while (n < max) {
    coze_sse_event ev;
    rc = next_named(L, s, &ev, slot, &cname, &clen);
    if (rc != COZE_SSE_EVENT)
      break;
    if (stride == 1) {
      lua_createtable(L, 0, 4); /* event, raw, id and the lazily decoded data */
      lua_pushvalue(L, 5);
      lua_pushvalue(L, slot);
      lua_rawset(L, -3);
      lua_pushvalue(L, 6);
      lua_pushlstring(L, ev.data, ev.data_len);
      lua_rawset(L, -3);
      if (ev.id != NULL) {
        lua_pushvalue(L, 7);
        lua_pushlstring(L, ev.id, ev.id_len);
        lua_rawset(L, -3);
      }
      if (has_mt) {
        lua_pushvalue(L, 3);
        lua_setmetatable(L, -2);
      }
      lua_rawseti(L, 2, n + 1);
    } else {
      lua_pushvalue(L, slot);
      lua_rawseti(L, 2, 3 * n + 1);
      lua_pushlstring(L, ev.data, ev.data_len);
      lua_rawseti(L, 2, 3 * n + 2);
      if (ev.id != NULL)
        lua_pushlstring(L, ev.id, ev.id_len);
      else
        lua_pushnil(L);
      lua_rawseti(L, 2, 3 * n + 3);
    }
    n++;
    partial = ev.eof_partial;
  }
  s->busy = 0;
  if ((k = batch_error(L, s, rc, n)) != 0)
    return (int)k;
  if (n > 0)
    s->direct = 0;
  for (k = stride * n + 1;; k += stride) { /* drop the rest of an earlier, longer batch */
    int i;
    lua_rawgeti(L, 2, k);
    if (lua_isnil(L, -1))
      break;
    lua_pop(L, 1);
    for (i = 0; i < stride; i++) {
      lua_pushnil(L);
      lua_rawseti(L, 2, k + i);
    }
  }
  lua_pushinteger(L, n);
  lua_pushboolean(L, partial);
  return 2;
}

/* p:next_events(queue, mt, max) -> n, partial | nil, msg
 * Stores up to max (default 64) events as queue[1..n], each a table { event =, raw =, id = }
 * (event "message" when the record had none; id only when set) with metatable mt (may be nil),
 * and clears queue[n+1 ...] up to the first nil. n = 0: the parser needs more input. partial is
 * true when queue[n] was dispatched at the end of input from an unterminated line (eof_partial).
 * An error after n > 0 events is returned by the next call (the parser keeps it). */
static int l_sse_next_events(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  lua_Integer max;
  int has_mt;
  luaL_checktype(L, 2, LUA_TTABLE);
  has_mt = !lua_isnoneornil(L, 3);
  if (has_mt)
    luaL_checktype(L, 3, LUA_TTABLE);
  max = luaL_optinteger(L, 4, 64);
  luaL_argcheck(L, max >= 1 && max <= INT_MAX, 4, "max must be a positive integer");
  lua_settop(L, 4);
  lua_pushliteral(L, "event"); /* 5 */
  lua_pushliteral(L, "raw");   /* 6 */
  lua_pushliteral(L, "id");    /* 7 */
  return next_batch(L, s, max, 1, has_mt);
}

/* p:next_raw(queue, max) -> n, partial | nil, msg
 * next_events without a table per event: queue[3i-2], queue[3i-1], queue[3i] = event name ("message"
 * when none), data text, id (nil when never set) for i = 1..n; stale triples of an earlier, longer
 * batch are cleared. n, partial and errors as next_events. */
static int l_sse_next_raw(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  lua_Integer max;
  luaL_checktype(L, 2, LUA_TTABLE);
  max = luaL_optinteger(L, 3, 64);
  luaL_argcheck(L, max >= 1 && max <= INT_MAX / 3, 3, "max must be a positive integer");
  lua_settop(L, 3);
  return next_batch(L, s, max, 3, 0);
}

/* p:walk(names, data) -> chunk, n [, name, raw, id, partial, bytes] | nil, msg
 * coze_sse_walk (sse.h) for relays: chunk is the bytes, as received, of the n complete events (and
 * comment-only records) buffered, "" when none. names ("a\nb\n") and data (a string or nil) are
 * the stop set; names false stops at every event. When the walk stopped at an event, it follows:
 * name ("message" when none), raw, id (nil when never set), partial (eof_partial) and its bytes
 * (closed into a whole record when it was dispatched at the end of input; false when unknown). An
 * error after n > 0 events is returned by the next call (it sticks); before any: nil, msg. */
static int l_sse_walk(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  coze_sse_stops st;
  coze_sse_span span;
  coze_sse_event ev;
  int rc;
  memset(&st, 0, sizeof(st));
  if (lua_type(L, 2) == LUA_TSTRING)
    st.names = lua_tolstring(L, 2, &st.names_len);
  else if (lua_toboolean(L, 2))
    return luaL_argerror(L, 2, "string or false expected");
  else
    st.every = 1;
  if (!lua_isnoneornil(L, 3))
    st.data = luaL_checklstring(L, 3, &st.data_len);
  rc = coze_sse_walk(&s->p, &st, &span, &ev);
  if (rc < COZE_SSE_NEED_MORE) {
    if (rc != COZE_SSE_TOO_LARGE)
      return luaL_error(L, "not enough memory");
    if (span.len == 0)
      return push_too_large(L, s);
  }
  s->busy = 1; /* until every pointer into the parser was pushed */
  lua_pushlstring(L, span.bytes, span.len);
  lua_pushinteger(L, (lua_Integer)span.events);
  if (rc != COZE_SSE_EVENT) {
    s->busy = 0;
    return 2;
  }
  if (ev.event != NULL)
    lua_pushlstring(L, ev.event, ev.event_len);
  else
    lua_pushliteral(L, "message");
  lua_pushlstring(L, ev.data, ev.data_len);
  if (ev.id != NULL)
    lua_pushlstring(L, ev.id, ev.id_len);
  else
    lua_pushnil(L);
  lua_pushboolean(L, ev.eof_partial);
  if (span.stop == NULL) {
    lua_pushboolean(L, 0);
  } else {
    lua_pushlstring(L, span.stop, span.stop_len);
    if (span.stop_tail[0] != '\0') {
      lua_pushstring(L, span.stop_tail);
      lua_concat(L, 2);
    }
  }
  s->busy = 0;
  return 7;
}

/* p:set_direct(on): whether the iterators may parse events themselves. next_events and next_raw
 * turn it off when they queue events in Lua, which must be handed out first. */
static int l_sse_set_direct(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  s->direct = lua_toboolean(L, 2);
  lua_settop(L, 1);
  return 1;
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

/* parser:events() -> records dispatched so far (coze.log's stream record) */
static int l_sse_events(lua_State *L)
{
  l_sse *s = l_sse_check(L);
  lua_pushinteger(L, (lua_Integer)s->p.events);
  return 1;
}

static void sse_free(l_sse *s)
{
  if (!s->closed) {
    s->closed = 1;
    coze_sse_free(&s->p);
    s->p.finished = 1; /* a Request it is still attached to feeds nothing more (sse.h) */
  }
}

/* close and __close: idempotent; refused while another call uses the parser */
static int l_sse_close(lua_State *L)
{
  l_sse *s = (l_sse *)luaL_checkudata(L, 1, SSE_TNAME);
  if (s->busy && !s->closed)
    return luaL_error(L, "SSEParser: in use by another call (from a finalizer or metamethod it ran)");
  sse_free(s);
  return 0;
}

/* __gc: no call can be using an unreachable parser (a stale busy flag left by a memory error
   must not leak it) */
static int l_sse_gc(lua_State *L)
{
  sse_free((l_sse *)luaL_checkudata(L, 1, SSE_TNAME));
  return 0;
}

static int l_sse_tostring(lua_State *L)
{
  l_sse *s = (l_sse *)luaL_checkudata(L, 1, SSE_TNAME);
  return coze_pushtostring(L, SSE_TNAME, s->closed ? NULL : (void *)s);
}

void coze_l_sse_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"feed", l_sse_feed},
    {"next", l_sse_next},
    {"next_events", l_sse_next_events},
    {"next_raw", l_sse_next_raw},
    {"walk", l_sse_walk},
    {"set_direct", l_sse_set_direct},
#if COZE_LUA_53
    {"iterator", coze_l_sse_iterator},
#endif
    {"finish", l_sse_finish},
    {"reset", l_sse_reset},
    {"retry", l_sse_retry},
    {"buffered", l_sse_buffered},
    {"events", l_sse_events},
    {"close", l_sse_close},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_sse_gc},
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
  lua_pushboolean(L, COZE_LUA_53);
  lua_setfield(L, -2, "sse_iterators"); /* SSEParser:iterator exists */
}
