/* Lua binding of csrc/wscodec.c: coze.core.ws_codec{...} -> coze.core.WebSocketCodec, the WebSocket
 * protocol without a connection (in make core-nohttp too): whatever carries the bytes (the cosocket
 * connection of coze.transport.ngx_ws) feeds it what it received and writes what it queued. Also
 * ws_envelope and ws_audio, which read a received message without the JSON decoder. */
#include <string.h>

#include "compat.h"
#include "crypto.h"
#include "jscan.h"
#include "lcore.h"
#include "wscodec.h"

#define CODEC_MT "coze.core.WebSocketCodec"

typedef struct l_codec {
  int open;
  coze_wscodec c;
} l_codec;

static l_codec *check_codec(lua_State *L)
{
  l_codec *u = (l_codec *)luaL_checkudata(L, 1, CODEC_MT);
  if (!u->open)
    luaL_error(L, "attempt to use a closed " CODEC_MT);
  return u;
}

/* nil, msg, kind, close_code */
static int push_fail(lua_State *L, const char *msg, const char *kind, int code)
{
  lua_pushnil(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, kind);
  if (code)
    lua_pushinteger(L, code);
  else
    lua_pushnil(L);
  return 4;
}

/* ws_codec{ max_message_bytes } -> WebSocketCodec | nil, msg */
static int l_codec_new(lua_State *L)
{
  l_codec *u;
  lua_Number mm = 0;
  const char *why = NULL;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "max_message_bytes");
    mm = lua_isnil(L, -1) ? 0 : lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  u = (l_codec *)lua_newuserdata(L, sizeof *u);
  u->open = 0;
  luaL_setmetatable(L, CODEC_MT);
  if (coze_wscodec_init(&u->c, mm > 0 ? (size_t)mm : 0, &why) != 0) {
    coze_wscodec_free(&u->c);
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  u->open = 1;
  return 1;
}

/* key() -> the Sec-WebSocket-Key to send */
static int l_codec_key(lua_State *L)
{
  l_codec *u = check_codec(L);
  lua_pushstring(L, u->c.key);
  return 1;
}

/* check_answer(head) -> true | nil, why: the 101 answer's Upgrade, Connection and Accept */
static int l_codec_check_answer(lua_State *L)
{
  l_codec *u = check_codec(L);
  size_t n;
  const char *head = luaL_checklstring(L, 2, &n);
  const char *why = NULL;
  if (coze_wscodec_check_answer(&u->c, head, n, &why) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* feed(bytes) -> true | nil, msg, "protocol", 1009 (more than one frame of max_message_bytes buffered) */
static int l_codec_feed(lua_State *L)
{
  l_codec *u = check_codec(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (coze_ws_feed(&u->c.dec, s, n) != 0)
    return push_fail(L, "receive buffer full", "protocol", COZE_WS_TOO_BIG);
  lua_pushboolean(L, 1);
  return 1;
}

/* next() -> "text"|"binary", data | "close", code, reason | false (feed more) |
 * nil, msg, "protocol", close_code. Pongs and close echoes are queued: write output() after it. */
static int l_codec_next(lua_State *L)
{
  l_codec *u = check_codec(L);
  coze_ws_event ev;
  switch (coze_wscodec_next(&u->c, &ev)) {
  case COZE_WS_MESSAGE:
    if (ev.opcode == COZE_WS_OP_TEXT)
      lua_pushliteral(L, "text");
    else
      lua_pushliteral(L, "binary");
    lua_pushlstring(L, ev.data ? ev.data : "", ev.len);
    return 2;
  case COZE_WS_CLOSE:
    lua_pushliteral(L, "close");
    lua_pushinteger(L, ev.close_code);
    lua_pushlstring(L, ev.data ? ev.data : "", ev.len);
    return 3;
  case COZE_WS_FAIL:
    return push_fail(L, ev.msg, "protocol", ev.close_code);
  default:
    lua_pushboolean(L, 0);
    return 1;
  }
}

static int queued(lua_State *L, int r, const char *why)
{
  if (r != 0)
    return push_fail(L, why, "transport", 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* send(data[, binary]) -> true | nil, msg, "transport": one masked frame queued */
static int l_codec_send(lua_State *L)
{
  l_codec *u = check_codec(L);
  const char *why = NULL;
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  int op = lua_toboolean(L, 3) ? COZE_WS_OP_BINARY : COZE_WS_OP_TEXT;
  return queued(L, coze_wscodec_send(&u->c, op, s, n, &why), why);
}

void coze_l_ws_b64_args(lua_State *L, coze_wscodec_b64 *f)
{
  size_t bl;
  const char *bytes;
  lua_Integer i, n;
  memset(f, 0, sizeof *f);
  f->pre = luaL_checklstring(L, 2, &f->pre_len);
  bytes = luaL_checklstring(L, 3, &bl);
  f->post = luaL_checklstring(L, 4, &f->post_len);
  i = luaL_optinteger(L, 5, 1);
  n = luaL_optinteger(L, 6, (lua_Integer)bl);
  luaL_argcheck(L, i >= 1 && (size_t)(i - 1) <= bl, 5, "start out of range");
  luaL_argcheck(L, n >= 0 && (size_t)n <= bl - (size_t)(i - 1), 6, "length out of range");
  f->bytes = bytes + (i - 1);
  f->n = (size_t)n;
  if (!lua_isnoneornil(L, 8)) {
    f->seq = (long long)luaL_checkinteger(L, 7);
    f->mid = luaL_checklstring(L, 8, &f->mid_len);
  }
}

/* send_b64(pre, bytes, post[, i, n[, seq, mid]]) -> true | nil, msg, "transport": one text frame
 * pre .. base64(bytes:sub(i, i + n - 1)) .. post queued (a slice, so a file read in large blocks needs
 * no string per chunk); with seq and mid the head is pre .. seq .. mid (a message id's number written
 * in C: no id string per frame in Lua). */
static int l_codec_send_b64(lua_State *L)
{
  l_codec *u = check_codec(L);
  const char *why = NULL;
  coze_wscodec_b64 f;
  coze_l_ws_b64_args(L, &f);
  return queued(L, coze_wscodec_send_b64(&u->c, &f, &why), why);
}

/* send_close([code[, reason]]) -> true: queued once, later calls queue nothing */
static int l_codec_send_close(lua_State *L)
{
  l_codec *u = check_codec(L);
  const char *why = NULL;
  size_t n = 0;
  int code = (int)luaL_optinteger(L, 2, 0);
  const char *reason = luaL_optlstring(L, 3, "", &n);
  return queued(L, coze_wscodec_send_close(&u->c, code, reason, n, &why), why);
}

/* ws_close_code_ok(code) -> whether a close frame may carry code (RFC 6455 7.4: the decoder's rule) */
static int l_ws_close_code_ok(lua_State *L)
{
  lua_pushboolean(L, coze_ws_close_code_valid((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* output() -> the queued bytes ("" when none), taken out of the queue */
static int l_codec_output(lua_State *L)
{
  l_codec *u = check_codec(L);
  size_t n = coze_wscodec_pending(&u->c);
  lua_pushlstring(L, n ? coze_wscodec_output(&u->c) : "", n);
  coze_wscodec_written(&u->c, n);
  return 1;
}

/* cork(on) -> the cork depth left (corks nest; at 0 the connection writes what is queued) */
static int l_codec_cork(lua_State *L)
{
  l_codec *u = check_codec(L);
  lua_pushinteger(L, coze_wscodec_cork(&u->c, lua_toboolean(L, 2)));
  return 1;
}

/* holds(data) -> whether the connection may leave what was just queued unwritten (coze_wscodec_holds) */
static int l_codec_holds(lua_State *L)
{
  l_codec *u = check_codec(L);
  lua_pushboolean(L, coze_wscodec_holds(&u->c, lua_toboolean(L, 2)));
  return 1;
}

/* pending() -> bytes queued and not yet taken by output() */
static int l_codec_pending(lua_State *L)
{
  l_codec *u = check_codec(L);
  lua_pushinteger(L, (lua_Integer)coze_wscodec_pending(&u->c));
  return 1;
}

/* buffered() -> received bytes not yet parsed into a message */
static int l_codec_buffered(lua_State *L)
{
  l_codec *u = check_codec(L);
  lua_pushinteger(L, (lua_Integer)(u->c.dec.in.len - u->c.dec.pos));
  return 1;
}

static int l_codec_close(lua_State *L)
{
  l_codec *u = (l_codec *)luaL_checkudata(L, 1, CODEC_MT);
  if (u->open) {
    u->open = 0;
    coze_wscodec_free(&u->c);
  }
  return 0;
}

static int l_codec_tostring(lua_State *L)
{
  l_codec *u = (l_codec *)luaL_checkudata(L, 1, CODEC_MT);
  return coze_pushtostring(L, CODEC_MT, u->open ? (const void *)u : NULL);
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

void coze_l_wscodec_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"key", l_codec_key},
    {"check_answer", l_codec_check_answer},
    {"feed", l_codec_feed},
    {"next", l_codec_next},
    {"send", l_codec_send},
    {"send_b64", l_codec_send_b64},
    {"send_close", l_codec_send_close},
    {"output", l_codec_output},
    {"pending", l_codec_pending},
    {"cork", l_codec_cork},
    {"holds", l_codec_holds},
    {"buffered", l_codec_buffered},
    {"close", l_codec_close},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", l_codec_close},
    {"__close", l_codec_close},
    {"__tostring", l_codec_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"ws_codec", l_codec_new},
    {"ws_envelope", l_ws_envelope},
    {"ws_audio", l_ws_audio},
    {"ws_close_code_ok", l_ws_close_code_ok},
    {NULL, NULL}
  };
  coze_newclass(L, CODEC_MT, methods, meta);
  luaL_setfuncs(L, funcs, 0);
  lua_pushinteger(L, COZE_WSHS_MAX_ERROR_BODY); /* the cosocket connection reads no more of an error body */
  lua_setfield(L, -2, "ws_max_error_body");
}
