/* Lua binding of csrc/wsconn.c: coze.core.ws_open{...} -> coze.core.WebSocket. Every method takes
 * wait_ms and returns false when nothing happened in that time, so the waiting loop (and any
 * coroutine yield) is in Lua. */
#include <limits.h>
#include <string.h>

#include "compat.h"
#include "crypto.h"
#include "jscan.h"
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

/* nil, message, kind, close_code */
static int push_err(lua_State *L, const coze_wsconn_error *e)
{
  lua_pushnil(L);
  lua_pushstring(L, e->message);
  lua_pushstring(L, kind_name(e->kind));
  if (e->close_code)
    lua_pushinteger(L, e->close_code);
  else
    lua_pushnil(L);
  return 4;
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

/* handshake(wait_ms) -> false | 101 | status, head, body | nil, msg, kind */
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

/* recv(wait_ms) -> false | "text"|"binary", data | "close", code, reason | nil, msg, kind, close_code */
static int l_ws_recv(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  coze_ws_event ev;
  int r = coze_wsconn_recv(u->c, opt_ms(L, 2), &ev, &err);
  if (r < 0)
    return push_err(L, &err);
  if (r == 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (ev.opcode == COZE_WS_OP_CLOSE) {
    lua_pushliteral(L, "close");
    lua_pushinteger(L, ev.close_code);
    lua_pushlstring(L, ev.data ? ev.data : "", ev.len);
    return 3;
  }
  if (ev.opcode == COZE_WS_OP_TEXT)
    lua_pushliteral(L, "text");
  else
    lua_pushliteral(L, "binary");
  lua_pushlstring(L, ev.data ? ev.data : "", ev.len);
  return 2;
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

/* send_b64(pre, bytes, post[, i, n[, seq, mid]]): one text frame pre .. base64(bytes:sub(i, i + n - 1))
 * .. post (a slice, so a file read in large blocks needs no string per chunk); with seq and mid the
 * head is pre .. seq .. mid (a message id's number written here: no id string per frame in Lua). */
static int l_ws_send_b64(lua_State *L)
{
  l_ws *u = check_ws(L);
  coze_wsconn_error err;
  size_t pl, bl, ql, i, n;
  const char *pre = luaL_checklstring(L, 2, &pl);
  const char *bytes = luaL_checklstring(L, 3, &bl);
  const char *post = luaL_checklstring(L, 4, &ql);
  lua_Integer li = luaL_optinteger(L, 5, 1), ln = luaL_optinteger(L, 6, (lua_Integer)bl);
  char head[512];
  luaL_argcheck(L, li >= 1 && (size_t)(li - 1) <= bl, 5, "start out of range");
  i = (size_t)(li - 1);
  luaL_argcheck(L, ln >= 0 && (size_t)ln <= bl - i, 6, "length out of range");
  n = (size_t)ln;
  if (!lua_isnoneornil(L, 8)) {
    size_t ml;
    lua_Integer seq = luaL_checkinteger(L, 7);
    const char *mid = luaL_checklstring(L, 8, &ml);
    char digits[24];
    size_t d = sizeof digits;
    unsigned long long v = seq < 0 ? 0 - (unsigned long long)seq : (unsigned long long)seq;
    luaL_argcheck(L, pl + ml + sizeof digits <= sizeof head, 8, "pre and mid too long");
    do { /* snprintf costs more than the rest of the head */
      digits[--d] = (char)('0' + v % 10);
      v /= 10;
    } while (v > 0);
    if (seq < 0)
      digits[--d] = '-';
    memcpy(head, pre, pl);
    memcpy(head + pl, digits + d, sizeof digits - d);
    pl += sizeof digits - d;
    memcpy(head + pl, mid, ml);
    pre = head;
    pl += ml;
  }
  return push_sent(L, coze_wsconn_send_b64(u->c, pre, pl, bytes + i, n, post, ql, &err), &err);
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

static void push_span(lua_State *L, const char *s, const coze_jscan_field *f)
{
  if (f->type == COZE_JSCAN_STRING)
    lua_pushlstring(L, s + f->start, f->len);
  else
    lua_pushnil(L);
}

/* ws_envelope(text) -> event_type, id, logid (each nil when absent), data_at, data_len (where the
 * data object is, for ws_audio; nil when data is not an object) | false when only the full decoder
 * can say (escaped or non-string values, a malformed envelope). */
static int l_ws_envelope(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  coze_jscan_field f[4] = { { "event_type", 10, 0, 0, 0 }, { "id", 2, 0, 0, 0 }, { "detail", 6, 0, 0, 0 },
                            { "data", 4, 0, 0, 0 } };
  coze_jscan_field logid = { "logid", 5, 0, 0, 0 };
  int i;
  if (coze_jscan_object(s, n, f, 4) != 0)
    goto full;
  for (i = 0; i < 2; i++) {
    if (f[i].type == COZE_JSCAN_ESCAPED || f[i].type == COZE_JSCAN_OTHER)
      goto full;
  }
  if (f[2].type == COZE_JSCAN_STRING || f[2].type == COZE_JSCAN_ESCAPED)
    goto full;
  if (f[2].type == COZE_JSCAN_OTHER && s[f[2].start] == '{') {
    if (coze_jscan_object(s + f[2].start, f[2].len, &logid, 1) != 0 || logid.type == COZE_JSCAN_ESCAPED ||
        logid.type == COZE_JSCAN_OTHER)
      goto full;
  }
  push_span(L, s, &f[0]);
  push_span(L, s, &f[1]);
  push_span(L, s + (logid.type ? f[2].start : 0), &logid);
  if (f[3].type != COZE_JSCAN_OTHER || s[f[3].start] != '{')
    return 3;
  lua_pushinteger(L, (lua_Integer)f[3].start);
  lua_pushinteger(L, (lua_Integer)f[3].len);
  return 5;
full:
  lua_pushboolean(L, 0);
  return 1;
}

/* ws_audio(text, field[, data_at, data_len]) -> the base64 of data.<field> decoded | false when it
 * is not a plain string there (the caller decodes the JSON then). data_at/data_len (from ws_envelope)
 * spare the scan for the data object. */
static int l_ws_audio(lua_State *L)
{
  size_t n, kl, outlen = 0;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *key = luaL_checklstring(L, 2, &kl);
  coze_jscan_field data = { "data", 4, 0, 0, 0 };
  coze_jscan_field field = { NULL, 0, 0, 0, 0 };
  const char *b64;
  unsigned char small[6144], *out;
  char err[64];
  field.key = key;
  field.key_len = kl;
  if (lua_isnumber(L, 3) && lua_isnumber(L, 4)) {
    lua_Integer at = lua_tointeger(L, 3), len = lua_tointeger(L, 4);
    luaL_argcheck(L, at >= 0 && (size_t)at < n && len > 0 && (size_t)len <= n - (size_t)at, 3,
                  "data span out of range");
    data.type = COZE_JSCAN_OTHER;
    data.start = (size_t)at;
    data.len = (size_t)len;
  } else if (coze_jscan_object(s, n, &data, 1) != 0) {
    data.type = COZE_JSCAN_ABSENT;
  }
  if (data.type != COZE_JSCAN_OTHER || s[data.start] != '{' ||
      coze_jscan_object(s + data.start, data.len, &field, 1) != 0 || field.type != COZE_JSCAN_STRING) {
    lua_pushboolean(L, 0);
    return 1;
  }
  b64 = s + data.start + field.start;
  /* an audio chunk of up to ~130 ms of 24 kHz PCM decodes on the stack; larger ones into a collected
   * userdata */
  out = coze_crypto_b64_declen(field.len) + 1 <= sizeof small
          ? small
          : (unsigned char *)lua_newuserdata(L, coze_crypto_b64_declen(field.len) + 1);
  if (coze_crypto_b64_decode(b64, field.len, out, &outlen, err, sizeof err) != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushlstring(L, (const char *)out, outlen);
  return 1;
}

void coze_l_ws_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"handshake", l_ws_handshake},
    {"recv", l_ws_recv},
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
    {"ws_envelope", l_ws_envelope},
    {"ws_audio", l_ws_audio},
    {NULL, NULL}
  };
  coze_newclass(L, WS_MT, methods, meta);
  luaL_setfuncs(L, funcs, 0);
}
