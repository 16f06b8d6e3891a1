/* Lua binding of csrc/wscodec.c: coze.core.ws_codec{...} -> coze.core.WebSocketCodec, the WebSocket
 * protocol without a connection (in make core-nohttp too): whatever carries the bytes (the cosocket
 * connection of coze.transport.ngx_ws) feeds it what it received and writes what it queued. Also
 * ws_envelope, ws_event and ws_event_audio, which read a received message without the JSON decoder. */
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

/* The envelope of a received message: event_type, id (f[0], f[1]), logid (in *logid, its start
 * relative to s) and the data object (f[3]). 0, or -1 when only the full decoder can say (escaped or
 * non-string values, a malformed envelope). */
static int scan_envelope(const char *s, size_t n, coze_jscan_field f[4], coze_jscan_field *logid)
{
  int i;
  f[0].key = "event_type"; f[0].key_len = 10;
  f[1].key = "id"; f[1].key_len = 2;
  f[2].key = "detail"; f[2].key_len = 6;
  f[3].key = "data"; f[3].key_len = 4;
  logid->key = "logid";
  logid->key_len = 5;
  logid->type = COZE_JSCAN_ABSENT;
  if (coze_jscan_object(s, n, f, 4) != 0)
    return -1;
  for (i = 0; i < 2; i++) {
    if (f[i].type == COZE_JSCAN_ESCAPED || f[i].type == COZE_JSCAN_OTHER)
      return -1;
  }
  if (f[2].type == COZE_JSCAN_STRING || f[2].type == COZE_JSCAN_ESCAPED)
    return -1;
  if (f[2].type == COZE_JSCAN_OTHER && s[f[2].start] == '{') {
    if (coze_jscan_object(s + f[2].start, f[2].len, logid, 1) != 0 || logid->type == COZE_JSCAN_ESCAPED ||
        logid->type == COZE_JSCAN_OTHER)
      return -1;
    logid->start += f[2].start;
  }
  return 0;
}

static int data_is_object(const char *s, const coze_jscan_field *data)
{
  return data->type == COZE_JSCAN_OTHER && s[data->start] == '{';
}

/* ws_envelope(text) -> event_type, id, logid (each nil when absent), data_at, data_len (where the
 * data object is; nil when data is not an object) | false when only the full decoder
 * can say (escaped or non-string values, a malformed envelope). */
static int l_ws_envelope(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  coze_jscan_field f[4], logid;
  if (scan_envelope(s, n, f, &logid) != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  push_span(L, s, &f[0]);
  push_span(L, s, &f[1]);
  push_span(L, s, &logid);
  if (!data_is_object(s, &f[3]))
    return 3;
  lua_pushinteger(L, (lua_Integer)f[3].start);
  lua_pushinteger(L, (lua_Integer)f[3].len);
  return 5;
}

/* The keys of an event table, upvalues 1..EK_N of every C function that builds or reads one
 * (coze_l_ws_event_closure): made once at load, not hashed again for every event. */
enum { EK_RAW = 1, EK_TYPE, EK_ID, EK_LOGID, EK_AT, EK_LEN, EK_AUDIO, EK_N = EK_AUDIO };
static const char *const EVENT_KEYS[EK_N] = { "raw", "event_type", "id", "logid", "_data_at", "_data_len",
                                              "audio" };

void coze_l_ws_event_closure(lua_State *L, lua_CFunction fn)
{
  int i;
  for (i = 0; i < EK_N; i++)
    lua_pushstring(L, EVENT_KEYS[i]);
  lua_pushcclosure(L, fn, EK_N);
}

static void push_key(lua_State *L, int k)
{
  lua_pushvalue(L, lua_upvalueindex(k));
}

static void set_span(lua_State *L, const char *s, const coze_jscan_field *f, int k)
{
  if (f->type == COZE_JSCAN_STRING) {
    push_key(L, k);
    lua_pushlstring(L, s + f->start, f->len);
    lua_rawset(L, -3);
  }
}

static void set_integer(lua_State *L, int k, size_t v)
{
  push_key(L, k);
  lua_pushinteger(L, (lua_Integer)v);
  lua_rawset(L, -3);
}

int coze_l_ws_push_event(lua_State *L, const char *s, size_t n, int mt)
{
  coze_jscan_field f[4], logid;
  if (scan_envelope(s, n, f, &logid) != 0) {
    lua_pushlstring(L, s, n);
    return 0;
  }
  /* room for these fields and the lazy audio: no rehash when ev.audio is set */
  lua_createtable(L, 0, 8);
  push_key(L, EK_RAW);
  lua_pushlstring(L, s, n);
  lua_rawset(L, -3);
  set_span(L, s, &f[0], EK_TYPE);
  set_span(L, s, &f[1], EK_ID);
  set_span(L, s, &logid, EK_LOGID);
  if (data_is_object(s, &f[3])) {
    set_integer(L, EK_AT, f[3].start);
    set_integer(L, EK_LEN, f[3].len);
  }
  lua_pushvalue(L, mt);
  lua_setmetatable(L, -2);
  return 1;
}

/* ws_event(text, mt) -> the event of a text message as coze.websocket's next() returns it: a table
 * { raw, event_type, id, logid, _data_at, _data_len } with metatable mt, built here in one call |
 * false when only the full decoder can read the envelope. */
static int l_ws_event(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!coze_l_ws_push_event(L, s, n, 2)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return 1;
}

/* Pushes the base64 of data.<key> of the message s[0..n) decoded and returns 1, or returns 0 when it is
 * not a plain string there. data (type OTHER) is where the data object is when the caller knows it,
 * else it is looked for. */
static int push_audio(lua_State *L, const char *s, size_t n, const char *key, size_t kl, coze_jscan_field *data)
{
  coze_jscan_field field = { NULL, 0, 0, 0, 0 };
  const char *b64;
  unsigned char small[6144], *out;
  size_t outlen = 0;
  char err[64];
  field.key = key;
  field.key_len = kl;
  if (data->type != COZE_JSCAN_OTHER) {
    data->key = "data";
    data->key_len = 4;
    if (coze_jscan_object(s, n, data, 1) != 0)
      return 0;
  }
  if (!data_is_object(s, data) || coze_jscan_object(s + data->start, data->len, &field, 1) != 0 ||
      field.type != COZE_JSCAN_STRING)
    return 0;
  b64 = s + data->start + field.start;
  /* an audio chunk of up to ~130 ms of 24 kHz PCM decodes on the stack; larger ones into a collected
   * userdata */
  out = coze_crypto_b64_declen(field.len) + 1 <= sizeof small
          ? small
          : (unsigned char *)lua_newuserdata(L, coze_crypto_b64_declen(field.len) + 1);
  if (coze_crypto_b64_decode(b64, field.len, out, &outlen, err, sizeof err) != 0)
    return 0;
  lua_pushlstring(L, (const char *)out, outlen);
  return 1;
}

/* ev[key] (ev at index 1) without its metatable's __index */
static void raw_field(lua_State *L, int k)
{
  push_key(L, k);
  lua_rawget(L, 1);
}

/* ws_event_audio(ev, fields) -> the decoded audio of an event table from ws_event, also stored as
 * ev.audio | nil when fields (event_type -> the data field with base64 audio) names none for its
 * event_type | false when it is not a plain string there (the caller decodes the JSON then). One call
 * for what ev.audio's first read needs. */
static int l_ws_event_audio(lua_State *L)
{
  size_t n, kl;
  const char *s, *key;
  coze_jscan_field data = { "data", 4, COZE_JSCAN_ABSENT, 0, 0 };
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  raw_field(L, EK_TYPE);
  if (lua_type(L, -1) != LUA_TSTRING)
    return 0;
  lua_rawget(L, 2);
  key = lua_tolstring(L, -1, &kl);
  if (key == NULL)
    return 0;
  raw_field(L, EK_RAW);
  s = lua_tolstring(L, -1, &n);
  if (s == NULL)
    return 0;
  raw_field(L, EK_AT);
  raw_field(L, EK_LEN);
  if (lua_isnumber(L, -2) && lua_isnumber(L, -1)) {
    lua_Integer at = lua_tointeger(L, -2), len = lua_tointeger(L, -1);
    if (at >= 0 && (size_t)at < n && len > 0 && (size_t)len <= n - (size_t)at) {
      data.type = COZE_JSCAN_OTHER;
      data.start = (size_t)at;
      data.len = (size_t)len;
    }
  }
  if (!push_audio(L, s, n, key, kl, &data)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  push_key(L, EK_AUDIO);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
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
    {"ws_close_code_ok", l_ws_close_code_ok},
    {NULL, NULL}
  };
  coze_newclass(L, CODEC_MT, methods, meta);
  luaL_setfuncs(L, funcs, 0);
  coze_l_ws_event_closure(L, l_ws_event);
  lua_setfield(L, -2, "ws_event");
  coze_l_ws_event_closure(L, l_ws_event_audio);
  lua_setfield(L, -2, "ws_event_audio");
  lua_pushinteger(L, COZE_WSHS_MAX_ERROR_BODY); /* the cosocket connection reads no more of an error body */
  lua_setfield(L, -2, "ws_max_error_body");
}
