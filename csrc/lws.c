/* Lua binding of csrc/wsconn.c: coze.core.ws_open{...} -> coze.core.WebSocket, the libcurl
 * connection (left out of make core-nohttp; the codec alone is csrc/lwscodec.c). Every method takes
 * wait_ms and returns false when nothing happened in that time, so the waiting loop (and any
 * coroutine yield) is in Lua. */
#include <limits.h>
#include <string.h>

#include "compat.h"
#include "lcore.h"
#include "wsconn.h"

#define WS_MT "coze.core.WebSocket"
#define MAX_HEADERS 64

typedef struct l_ws {
  coze_wsconn *c;
} l_ws;

static const char *kind_name(int kind)
{
  switch (kind) {
  case COZE_WSCONN_TIMEOUT: return "timeout";
  case COZE_WSCONN_CLOSED: return "closed";
  case COZE_WSCONN_PROTOCOL: return "protocol";
  default: return "transport";
  }
}

/* nil, msg, kind, close_code (or nil), curl_code (or nil), proxy_status (or nil): coze.transport.curl's
 * code_fields makes of them the fields of an HTTP call's error (not_sent, tls, proxy_status) */
static int push_err(lua_State *L, const coze_wsconn_error *e)
{
  lua_pushnil(L);
  lua_pushstring(L, e->message);
  lua_pushstring(L, kind_name(e->kind));
  if (e->close_code)
    lua_pushinteger(L, e->close_code);
  else
    lua_pushnil(L);
  if (e->curl_code)
    lua_pushinteger(L, e->curl_code);
  else
    lua_pushnil(L);
  if (e->proxy_status)
    lua_pushinteger(L, e->proxy_status);
  else
    lua_pushnil(L);
  return 6;
}

static l_ws *check_ws(lua_State *L)
{
  l_ws *u = (l_ws *)luaL_checkudata(L, 1, WS_MT);
  if (u->c == NULL)
    luaL_error(L, "attempt to use a closed WebSocket");
  return u;
}

static long opt_ms(lua_State *L, int i)
{
  lua_Number v = luaL_optnumber(L, i, 0);
  if (!(v >= 0))
    luaL_argerror(L, i, "wait_ms must be >= 0");
  return v >= (lua_Number)LONG_MAX ? LONG_MAX : (long)v;
}

static const char *opt_field(lua_State *L, const char *name, int required)
{
  const char *s;
  lua_getfield(L, 1, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (required)
      luaL_error(L, "ws_open: field '%s' must be a string", name);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "ws_open: field '%s' must be a string", name);
  s = lua_tostring(L, -1);
  lua_pop(L, 1); /* the options table keeps it alive */
  return s;
}

static lua_Number opt_num(lua_State *L, const char *name)
{
  lua_Number v;
  lua_getfield(L, 1, name);
  v = lua_isnil(L, -1) ? 0 : lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v > 0 ? v : 0;
}

/* ws_open{ url, target, host, headers = {"Name: value", ...}, connect_timeout_ms, proxy, no_proxy,
 * ca_file, ca_path, tls_verify, max_message_bytes } -> WebSocket | nil, msg, kind */
static int l_ws_open(lua_State *L)
{
  coze_wsconn_opts o;
  coze_wsconn_error err;
  const char *lines[MAX_HEADERS];
  l_ws *u;
  lua_Number mm;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&o, 0, sizeof o);
  o.url = opt_field(L, "url", 1);
  o.target = opt_field(L, "target", 1);
  o.host = opt_field(L, "host", 1);
  o.proxy = opt_field(L, "proxy", 0);
  o.no_proxy = opt_field(L, "no_proxy", 0);
  o.ca_file = opt_field(L, "ca_file", 0);
  o.ca_path = opt_field(L, "ca_path", 0);
  o.connect_timeout_ms = (long)opt_num(L, "connect_timeout_ms");
  mm = opt_num(L, "max_message_bytes");
  o.max_message = (size_t)mm;
  lua_getfield(L, 1, "tls_verify");
  o.tls_verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 1, "headers"); /* stays on the stack while the lines are used */
  if (lua_istable(L, -1)) {
    size_t i, n = lua_rawlen(L, -1);
    if (n > MAX_HEADERS)
      return luaL_error(L, "ws_open: more than %d headers", MAX_HEADERS);
    for (i = 0; i < n; i++) {
      size_t len;
      const char *h;
      lua_rawgeti(L, -1, (int)i + 1);
      h = lua_tolstring(L, -1, &len);
      if (h == NULL || strcspn(h, "\r\n") != len)
        return luaL_error(L, "ws_open: header %d must be a string without CR, LF or NUL", (int)i + 1);
      lua_pop(L, 1); /* the headers table keeps it alive */
      lines[i] = h;
    }
    o.headers = lines;
    o.nheaders = n;
  }
  u = (l_ws *)lua_newuserdata(L, sizeof *u);
  u->c = NULL;
  luaL_setmetatable(L, WS_MT);
  u->c = coze_wsconn_open(&o, &err);
  if (u->c == NULL)
    return push_err(L, &err);
  return 1;
}

/* handshake(wait_ms) -> false | 101 | status, head, body | nil, msg, kind, nil, curl_code */
static int l_ws_handshake(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  int status = 0;
  const char *head, *body;
  size_t hl, bl;
  int r = coze_wsconn_handshake(u->c, opt_ms(L, 2), &status, &head, &hl, &body, &bl, &err);
  if (r < 0)
    return push_err(L, &err);
  if (r == 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushinteger(L, status);
  if (status == 101)
    return 1;
  lua_pushlstring(L, head, hl);
  lua_pushlstring(L, body, bl);
  return 3;
}

/* What recv and take return for r and ev; with a metatable at index mt, a text message is "event", the
 * event table (coze_l_ws_push_event) or "text", data when its envelope needs the JSON decoder. */
static int push_received(lua_State *L, int r, const coze_ws_event *ev, const coze_wsconn_error *err, int mt)
{
  if (r < 0)
    return push_err(L, err);
  if (r == 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (ev->opcode == COZE_WS_OP_CLOSE) {
    lua_pushliteral(L, "close");
    lua_pushinteger(L, ev->close_code);
    lua_pushlstring(L, ev->data ? ev->data : "", ev->len);
    return 3;
  }
  if (ev->opcode == COZE_WS_OP_TEXT) {
    if (mt && lua_istable(L, mt)) {
      lua_pushliteral(L, "event");
      if (!coze_l_ws_push_event(L, ev->data ? ev->data : "", ev->len, mt)) {
        lua_pushliteral(L, "text");
        lua_replace(L, -3);
      }
      return 2;
    }
    lua_pushliteral(L, "text");
  } else {
    lua_pushliteral(L, "binary");
  }
  lua_pushlstring(L, ev->data ? ev->data : "", ev->len);
  return 2;
}

/* recv(wait_ms[, mt]) -> false | "text"|"binary", data | "close", code, reason |
 * nil, msg, kind, close_code; with mt (coze.websocket's Event) a text message is "event", ev */
static int l_ws_recv(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  coze_ws_event ev;
  int r = coze_wsconn_recv(u->c, opt_ms(L, 2), &ev, &err);
  return push_received(L, r, &ev, &err, 3);
}

/* take([mt]) -> what recv returns, from the bytes already received: false when a read would be
 * needed (so a message that is there costs no poll and no syscall) */
static int l_ws_take(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  coze_ws_event ev;
  int r = coze_wsconn_take(u->c, &ev, &err);
  return push_received(L, r, &ev, &err, 2);
}

static int push_sent(lua_State *L, int r, const coze_wsconn_error *err)
{
  if (r < 0)
    return push_err(L, err);
  lua_pushboolean(L, r);
  return 1;
}

/* send(data[, binary]) -> true (written) | false (queued: flush) | nil, msg, kind */
static int l_ws_send(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  int op = lua_toboolean(L, 3) ? COZE_WS_OP_BINARY : COZE_WS_OP_TEXT;
  return push_sent(L, coze_wsconn_send(u->c, op, s, n, &err), &err);
}

/* send_b64(pre, bytes, post[, i, n[, seq, mid]]): one text frame, as WebSocketCodec:send_b64 */
static int l_ws_send_b64(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  coze_wscodec_b64 f;
  coze_l_ws_b64_args(L, &f);
  return push_sent(L, coze_wsconn_send_b64(u->c, &f, &err), &err);
}

/* send_close([code[, reason]]) */
static int l_ws_send_close(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  size_t n = 0;
  int code = (int)luaL_optinteger(L, 2, 0);
  const char *reason = luaL_optlstring(L, 3, "", &n);
  return push_sent(L, coze_wsconn_send_close(u->c, code, reason, n, &err), &err);
}

/* cork(on): true | false (uncorked, queued: flush) | nil, msg, kind */
static int l_ws_cork(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  return push_sent(L, coze_wsconn_cork(u->c, lua_toboolean(L, 2), &err), &err);
}

static int l_ws_flush(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  return push_sent(L, coze_wsconn_flush(u->c, opt_ms(L, 2), &err), &err);
}

static int l_ws_pending(lua_State *L)
{
  l_ws *u = check_ws(L);
  lua_pushinteger(L, (lua_Integer)coze_wsconn_pending(u->c));
  return 1;
}

/* ready(what) -> boolean, never blocks (coze_wsconn_ready): what is "recv", "flush" or "handshake". */
static int l_ws_ready(lua_State *L)
{
  static const char *const whats[] = { "recv", "flush", "handshake", NULL };
  l_ws *u = check_ws(L);
  int want = luaL_checkoption(L, 2, NULL, whats);
  lua_pushboolean(L, coze_wsconn_ready(u->c, want));
  return 1;
}

/* Milliseconds since the last byte arrived (pings included). */
static int l_ws_idle_ms(lua_State *L)
{
  l_ws *u = check_ws(L);
  lua_pushnumber(L, (lua_Number)coze_wsconn_idle_ms(u->c));
  return 1;
}

static int l_ws_close(lua_State *L)
{
  l_ws *u = (l_ws *)luaL_checkudata(L, 1, WS_MT);
  coze_wsconn_free(u->c);
  u->c = NULL;
  return 0;
}

static int l_ws_tostring(lua_State *L)
{
  l_ws *u = (l_ws *)luaL_checkudata(L, 1, WS_MT);
  lua_pushfstring(L, "coze.core.WebSocket (%s)", u->c ? "open" : "closed");
  return 1;
}

void coze_l_ws_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"handshake", l_ws_handshake},
    {"send", l_ws_send},
    {"send_b64", l_ws_send_b64},
    {"send_close", l_ws_send_close},
    {"flush", l_ws_flush},
    {"cork", l_ws_cork},
    {"pending", l_ws_pending},
    {"idle_ms", l_ws_idle_ms},
    {"ready", l_ws_ready},
    {"close", l_ws_close},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", l_ws_close},
    {"__close", l_ws_close},
    {"__tostring", l_ws_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"ws_open", l_ws_open},
    {NULL, NULL}
  };
  coze_newclass(L, WS_MT, methods, meta);
  /* the two that build event tables carry the event's keys as upvalues */
  luaL_getmetatable(L, WS_MT);
  lua_getfield(L, -1, "__index");
  coze_l_ws_event_closure(L, l_ws_recv);
  lua_setfield(L, -2, "recv");
  coze_l_ws_event_closure(L, l_ws_take);
  lua_setfield(L, -2, "take");
  lua_pop(L, 2);
  luaL_setfuncs(L, funcs, 0);
}
