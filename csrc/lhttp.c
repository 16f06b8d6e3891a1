/* Lua binding of the HTTP transport: core.session(), Session:request(opts), Request methods.
 *
 * Arguments are checked and collected into C structs before any curl call (misuse raises then);
 * results are pushed after curl has returned. Runtime failures return nil, msg, kind, which.
 * A Request keeps its Session userdata alive (user value), so dropping the session while a
 * stream is being read does not close it; an explicit s:close() does (kind "closed"). It keeps an
 * attached SSEParser alive the same way (user value [2]) while curl's callback feeds it.
 */
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>

#include "compat.h"
#include "http.h"
#include "json.h"
#include "lcore.h"
#include "sse.h"
#include "utf8.h"

#define SESSION_MT "coze.core.Session"
#define REQUEST_MT "coze.core.Request"

typedef struct l_session {
  coze_http_session *s; /* NULL when closed */
} l_session;

typedef struct l_request {
  coze_http_req *r;     /* NULL when closed */
  coze_sse_parser *sink; /* the attached parser (user value [2]), or NULL */
} l_request;

/* Raises "<where>request: <msg>" pointing at the Lua caller. */
static int opt_error(lua_State *L, const char *fmt, ...)
{
  va_list ap;
  luaL_where(L, 2);
  lua_pushliteral(L, "request: ");
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 3);
  return lua_error(L);
}

static l_session *check_session(lua_State *L)
{
  l_session *u = (l_session *)luaL_checkudata(L, 1, SESSION_MT);
  if (u->s == NULL)
    luaL_error(L, "attempt to use a closed Session");
  return u;
}

static l_request *check_request(lua_State *L)
{
  l_request *u = (l_request *)luaL_checkudata(L, 1, REQUEST_MT);
  if (u->r == NULL)
    luaL_error(L, "attempt to use a closed Request");
  return u;
}

/* ---- option parsing ----
 * Every string C keeps a pointer to stays referenced until curl has copied it: top-level values on
 * the stack, header and part strings in an anchor table only this call can reach. Their own tables
 * are no anchor: an __index metamethod met later (any option the table lacks) may run Lua code that
 * empties them and collects the strings (issue 12 #5). */

/* Keeps the string on top referenced by the anchor table at `anchor` (pops nothing). */
static void anchor_top(lua_State *L, int anchor)
{
  lua_pushvalue(L, -1);
  lua_rawseti(L, anchor, (int)lua_rawlen(L, anchor) + 1);
}

/* Pushes opts[name]; NULL when nil. The value is left on the stack to keep it alive. */
static const char *field_string(lua_State *L, int t, const char *name, int required, size_t *len)
{
  size_t n = 0;
  const char *s;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    if (required)
      opt_error(L, "field '%s' must be a string", name);
    if (len != NULL)
      *len = 0;
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    opt_error(L, "field '%s' must be a string", name);
  s = lua_tolstring(L, -1, &n);
  if (len != NULL)
    *len = n;
  else if (strlen(s) != n)
    opt_error(L, "field '%s' must not contain NUL bytes", name);
  return s;
}

/* opts[name], a number >= 0 (not NaN); 0 when nil. */
static lua_Number field_number(lua_State *L, int t, const char *name)
{
  lua_Number v;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_type(L, -1) != LUA_TNUMBER)
    opt_error(L, "field '%s' must be a number", name);
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v >= 0))
    opt_error(L, "field '%s' must be >= 0", name);
  return v;
}

/* A timeout in ms; huge ones (math.huge too) become COZE_HTTP_MS_MAX, "no limit" (http.h). */
static long to_ms(lua_Number v)
{
  return v >= (lua_Number)COZE_HTTP_MS_MAX ? COZE_HTTP_MS_MAX : (long)v;
}

static long field_ms(lua_State *L, int t, const char *name)
{
  return to_ms(field_number(L, t, name));
}

static void check_header(lua_State *L, const char *h, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) {
    if (h[i] == '\r' || h[i] == '\n' || h[i] == '\0') {
      const char *colon = memchr(h, ':', len);
      lua_pushlstring(L, h, colon != NULL ? (size_t)(colon - h) : len);
      opt_error(L, "header '%s' contains CR, LF or NUL", lua_tostring(L, -1));
    }
  }
  if (memchr(h, ':', len) == NULL)
    opt_error(L, "header '%s' must have the form 'Name: value'", h);
}

static void parse_headers(lua_State *L, int t, int anchor, coze_http_opts *o)
{
  size_t i, n;
  const char **hs;
  lua_getfield(L, t, "headers");
  if (lua_isnil(L, -1))
    return;
  if (!lua_istable(L, -1))
    opt_error(L, "field 'headers' must be an array of strings");
  n = lua_rawlen(L, -1);
  hs = (const char **)lua_newuserdata(L, (n > 0 ? n : 1) * sizeof *hs); /* freed by the GC */
  for (i = 0; i < n; i++) {
    size_t len;
    lua_rawgeti(L, -2, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      opt_error(L, "field 'headers' must be an array of strings (item %d)", (int)i + 1);
    hs[i] = lua_tolstring(L, -1, &len);
    check_header(L, hs[i], len);
    anchor_top(L, anchor);
    lua_pop(L, 1);
  }
  o->headers = hs;
  o->nheaders = n;
}

static const char *part_string(lua_State *L, int pt, int anchor, int idx, const char *name,
                               size_t *len)
{
  size_t n;
  const char *s;
  lua_pushstring(L, name);
  lua_rawget(L, pt);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    opt_error(L, "field 'parts[%d].%s' must be a string", idx, name);
  s = lua_tolstring(L, -1, &n);
  if (len != NULL)
    *len = n;
  else if (strlen(s) != n)
    opt_error(L, "field 'parts[%d].%s' must not contain NUL bytes", idx, name);
  anchor_top(L, anchor);
  lua_pop(L, 1);
  return s;
}

static void parse_parts(lua_State *L, int t, int anchor, coze_http_opts *o)
{
  size_t i, n;
  coze_http_part *ps;
  int at;
  lua_getfield(L, t, "parts");
  if (lua_isnil(L, -1))
    return;
  if (!lua_istable(L, -1))
    opt_error(L, "field 'parts' must be an array of tables");
  at = lua_gettop(L);
  n = lua_rawlen(L, at);
  ps = (coze_http_part *)lua_newuserdata(L, (n > 0 ? n : 1) * sizeof *ps);
  memset(ps, 0, (n > 0 ? n : 1) * sizeof *ps);
  for (i = 0; i < n; i++) {
    int idx = (int)i + 1, pt;
    lua_rawgeti(L, at, idx);
    if (!lua_istable(L, -1))
      opt_error(L, "field 'parts[%d]' must be a table", idx);
    pt = lua_gettop(L);
    ps[i].name = part_string(L, pt, anchor, idx, "name", NULL);
    if (ps[i].name == NULL)
      opt_error(L, "field 'parts[%d].name' must be a string", idx);
    ps[i].filename = part_string(L, pt, anchor, idx, "filename", NULL);
    ps[i].type = part_string(L, pt, anchor, idx, "type", NULL);
    ps[i].path = part_string(L, pt, anchor, idx, "path", NULL);
    ps[i].data = part_string(L, pt, anchor, idx, "data", &ps[i].data_len);
    if ((ps[i].path == NULL) == (ps[i].data == NULL))
      opt_error(L, "field 'parts[%d]' needs exactly one of 'path' or 'data'", idx);
    lua_pop(L, 1);
  }
  o->parts = ps;
  o->nparts = n;
}

/* Options: method, url, body | parts, headers, the four *_timeout_ms, max_buffer, max_body_bytes
 * (decompressed body size; a larger body fails with kind "too_large"), proxy, no_proxy, ca_file,
 * ca_path, tls_verify. */
static void parse_opts(lua_State *L, int t, coze_http_opts *o)
{
  int anchor;
  memset(o, 0, sizeof *o);
  luaL_checkstack(L, 24, "request options");
  lua_newtable(L);
  anchor = lua_gettop(L);
  o->method = field_string(L, t, "method", 1, NULL);
  if (o->method[0] == '\0')
    opt_error(L, "field 'method' must not be empty");
  o->url = field_string(L, t, "url", 1, NULL);
  o->body = field_string(L, t, "body", 0, &o->body_len);
  parse_headers(L, t, anchor, o);
  parse_parts(L, t, anchor, o);
  if (o->body != NULL && o->nparts > 0)
    opt_error(L, "fields 'body' and 'parts' exclude each other");
  o->connect_timeout_ms = field_ms(L, t, "connect_timeout_ms");
  o->first_byte_timeout_ms = field_ms(L, t, "first_byte_timeout_ms");
  o->idle_timeout_ms = field_ms(L, t, "idle_timeout_ms");
  o->total_timeout_ms = field_ms(L, t, "total_timeout_ms");
  {
    lua_Number mb = field_number(L, t, "max_buffer");
    o->max_buffer = mb >= (lua_Number)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)mb;
    mb = field_number(L, t, "max_body_bytes");
    o->max_body = mb >= (lua_Number)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)mb;
  }
  o->proxy = field_string(L, t, "proxy", 0, NULL);
  o->no_proxy = field_string(L, t, "no_proxy", 0, NULL);
  o->ca_file = field_string(L, t, "ca_file", 0, NULL);
  o->ca_path = field_string(L, t, "ca_path", 0, NULL);
  lua_getfield(L, t, "tls_verify");
  if (lua_isnil(L, -1))
    o->tls_verify = 1;
  else if (lua_type(L, -1) == LUA_TBOOLEAN)
    o->tls_verify = lua_toboolean(L, -1);
  else
    opt_error(L, "field 'tls_verify' must be a boolean");
  lua_pop(L, 1);
}

/* ---- results ---- */

static const char *kind_name(int kind)
{
  switch (kind) {
  case COZE_HTTP_E_TIMEOUT: return "timeout";
  case COZE_HTTP_E_CLOSED: return "closed";
  case COZE_HTTP_E_TOO_LARGE: return "too_large";
  default: return "transport";
  }
}

/* nil, message, kind, which[, proxy_status] */
static int push_error(lua_State *L, const coze_http_error *e)
{
  if (e->kind == COZE_HTTP_E_NOMEM)
    return luaL_error(L, "not enough memory");
  lua_pushnil(L);
  lua_pushstring(L, e->message);
  lua_pushstring(L, kind_name(e->kind));
  if (e->kind == COZE_HTTP_E_TIMEOUT && e->timeout != NULL)
    lua_pushstring(L, e->timeout);
  else if (e->kind == COZE_HTTP_E_TRANSPORT)
    lua_pushinteger(L, e->curl_code);
  else
    lua_pushnil(L);
  if (e->proxy_status == 0)
    return 4;
  lua_pushinteger(L, e->proxy_status);
  return 5;
}

/* A wait in ms: nil, negative or NaN = no limit of its own, as huge ones are (http.h). */
static long opt_timeout(lua_State *L, int i)
{
  lua_Number t = luaL_optnumber(L, i, -1);
  if (!(t >= 0))
    return -1;
  return to_ms(t);
}

/* ---- Session ---- */

static int l_http_session(lua_State *L)
{
  l_session *u = (l_session *)lua_newuserdata(L, sizeof *u);
  u->s = NULL; /* created closed, then opened */
  luaL_setmetatable(L, SESSION_MT);
  u->s = coze_http_session_new();
  if (u->s == NULL)
    return luaL_error(L, "cannot create an HTTP session (libcurl initialisation failed)");
  return 1;
}

static int l_http_request(lua_State *L)
{
  l_session *su = check_session(L);
  coze_http_opts o;
  coze_http_error err;
  l_request *u;
  luaL_checktype(L, 2, LUA_TTABLE);
  parse_opts(L, 2, &o);
  u = (l_request *)lua_newuserdata(L, sizeof *u);
  u->r = NULL;
  u->sink = NULL;
  luaL_setmetatable(L, REQUEST_MT);
  lua_createtable(L, 1, 0); /* keeps the session alive while the request is */
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  coze_setuservalue(L, -2);
  u->r = coze_http_start(su->s, &o, &err);
  if (u->r == NULL)
    return push_error(L, &err);
  return 1;
}

static int l_http_session_close(lua_State *L)
{
  l_session *u = (l_session *)luaL_checkudata(L, 1, SESSION_MT);
  if (u->s != NULL) {
    coze_http_session_close(u->s);
    u->s = NULL;
  }
  return 0;
}

static int l_http_session_tostring(lua_State *L)
{
  l_session *u = (l_session *)luaL_checkudata(L, 1, SESSION_MT);
  return coze_pushtostring(L, SESSION_MT, u->s);
}

/* ---- Request ---- */

static int l_http_wait_headers(lua_State *L)
{
  l_request *u = check_request(L);
  long t = opt_timeout(L, 2);
  int rc = coze_http_wait_headers(u->r, t);
  if (rc == COZE_HTTP_AGAIN) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (rc == COZE_HTTP_ERR)
    return push_error(L, coze_http_req_error(u->r));
  lua_pushinteger(L, coze_http_status(u->r));
  return 1;
}

/* Points the request's body at the parser at pidx (0: detach), in C and in the user value that
 * keeps the parser alive. Raises only when out of memory, with curl idle. */
static void set_sink(lua_State *L, l_request *u, coze_sse_parser *p, int pidx)
{
  coze_sink k = {NULL, NULL};
  if (p != NULL)
    k = coze_l_sse_sink(L, pidx);
  if (coze_http_attach(u->r, &k) != 0)
    luaL_error(L, "not enough memory");
  u->sink = p;
  coze_getuservalue(L, 1);
  if (p != NULL)
    lua_pushvalue(L, pidx);
  else
    lua_pushnil(L);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 1);
}

/* What every read answers: its bytes (true when they went to the attached parser: data NULL),
 * false when timeout_ms ran out first (call again), nil at EOF, or nil, msg, kind, which. */
static int push_read(lua_State *L, l_request *u, int rc, const char *data, size_t len)
{
  switch (rc) {
  case COZE_HTTP_OK:
    if (data != NULL)
      lua_pushlstring(L, data, len);
    else
      lua_pushboolean(L, 1);
    return 1;
  case COZE_HTTP_AGAIN:
    lua_pushboolean(L, 0);
    return 1;
  case COZE_HTTP_EOF:
    lua_pushnil(L);
    return 1;
  default:
    return push_error(L, coze_http_req_error(u->r));
  }
}

static int l_http_read(lua_State *L)
{
  l_request *u = check_request(L);
  long t = opt_timeout(L, 2);
  const char *data;
  size_t len;
  int rc;
  if (u->sink != NULL)
    set_sink(L, u, NULL, 0);
  rc = coze_http_read(u->r, t, &data, &len);
  return push_read(L, u, rc, data, len);
}

/* The whole body decoded as JSON straight from the C buffer, giving the buffer back as decoding
 * goes (coze_json_decode_giveback): pushes the table, or nil, msg, "malformed" for invalid JSON;
 * pushes the body as a string (untouched) when it is not valid UTF-8 or not a JSON object/array,
 * for the caller's own handling of such bodies. */
static int push_json(lua_State *L, const char *data, size_t len)
{
  char err[160];
  if (coze_utf8_check(data, len) != len) {
    lua_pushlstring(L, data, len);
    return 1;
  }
  if (!coze_json_decode_giveback(L, data, len, COZE_JSON_DEFAULT_DEPTH, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushfstring(L, "malformed JSON in response: %s", err);
    lua_pushliteral(L, "malformed");
    return 3;
  }
  if (!lua_istable(L, -1)) { /* a scalar: no container, so nothing was given back */
    lua_pop(L, 1);
    lua_pushlstring(L, data, len);
  }
  return 1;
}

/* r:read_all(max_bytes, timeout_ms[, "json"]) -> the whole body as one string (its bytes not
 * handed out by read before), false when timeout_ms ran out first (call again), nil when it was
 * handed out already, or nil, msg, kind, which ("too_large" past max_bytes, counted after
 * decompression). One buffer sized from Content-Length, no chunks to join: for wait.read_all when
 * present. With "json", a body that is valid UTF-8 JSON comes back decoded (push_json), so a large
 * body and its value are never resident whole together. */
static const char *const READ_AS[] = {"string", "json", NULL};

static int l_http_read_all(lua_State *L)
{
  l_request *u = check_request(L);
  lua_Number max = luaL_checknumber(L, 2);
  long t = opt_timeout(L, 3);
  int as_json = luaL_checkoption(L, 4, "string", READ_AS) == 1;
  const char *data;
  size_t len;
  int rc, n;
  luaL_argcheck(L, max >= 1, 2, "max_bytes must be a positive number");
  if (u->sink != NULL)
    set_sink(L, u, NULL, 0);
  rc = coze_http_read_all(u->r, max >= (lua_Number)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)max, t,
                          &data, &len);
  n = rc == COZE_HTTP_OK && as_json ? push_json(L, data, len) : push_read(L, u, rc, data, len);
  if (rc == COZE_HTTP_OK)
    coze_http_release(u->r); /* the body lives once, as the string or its value, from here on */
  return n;
}

/* r:read_into(parser, timeout_ms): read(), with the bytes fed straight to a coze.core.SSEParser
 * (no Lua string). The first call (or one with another parser) attaches it: curl's write callback
 * then feeds it in C (bytes already received first) and the request keeps it alive; each call
 * drives the transfer until bytes were fed. true when bytes were fed since the last call (drain
 * the parser, then call again), false, nil at EOF, or nil, msg, kind, which. r:read() detaches.
 * The parser is checked (open, not finished) before curl runs. */
static int l_http_read_into(lua_State *L)
{
  l_request *u = check_request(L);
  coze_sse_parser *p = coze_l_sse_check(L, 2);
  long t = opt_timeout(L, 3);
  if (u->sink != p)
    set_sink(L, u, p, 2);
  return push_read(L, u, coze_http_pump(u->r, t), NULL, 0);
}

/* r:ready(round, want_headers) -> boolean, never blocks (see coze_http_ready); a closed request is
 * ready, so its waiter wakes to find out. */
static int l_http_ready(lua_State *L)
{
  l_request *u = (l_request *)luaL_checkudata(L, 1, REQUEST_MT);
  unsigned long round = (unsigned long)luaL_optnumber(L, 2, 0);
  lua_pushboolean(L, u->r == NULL || coze_http_ready(u->r, lua_toboolean(L, 3), round));
  return 1;
}

/* r:watch(key, want_headers): key > 0 marks the request for Session:ready_keys, 0 unmarks. */
static int l_http_watch(lua_State *L)
{
  l_request *u = (l_request *)luaL_checkudata(L, 1, REQUEST_MT);
  lua_Integer key = luaL_checkinteger(L, 2);
  if (u->r != NULL)
    coze_http_watch(u->r, key > 0 ? (long)key : 0, lua_toboolean(L, 3));
  return 0;
}

/* s:ready_keys(round, out) -> n: out[1..n] = the keys of the marked requests that r:ready would
 * call ready (one poll per round, one call for all of them); nil when the session is closed. */
static int l_http_ready_keys(lua_State *L)
{
  l_session *u = (l_session *)luaL_checkudata(L, 1, SESSION_MT);
  unsigned long round = (unsigned long)luaL_checknumber(L, 2);
  long keys[256];
  size_t n, i;
  luaL_checktype(L, 3, LUA_TTABLE);
  if (u->s == NULL) {
    lua_pushnil(L);
    return 1;
  }
  n = coze_http_session_ready(u->s, round, 0, keys, 256);
  for (i = 0; i < n; i++) {
    if (i % 256 == 0 && i > 0) { /* same round: no second poll, the next keys */
      if (u->s == NULL) { /* a finalizer run by rawseti closed the session */
        n = i;
        break;
      }
      coze_http_session_ready(u->s, round, i, keys, 256);
    }
    lua_pushinteger(L, (lua_Integer)keys[i % 256]);
    lua_rawseti(L, 3, (int)i + 1);
  }
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int l_http_status(lua_State *L)
{
  l_request *u = check_request(L);
  int st = coze_http_status(u->r);
  if (st > 0)
    lua_pushinteger(L, st);
  else
    lua_pushnil(L);
  return 1;
}

/* r:headers() -> the final response's header table (headers.h rules: names lower-cased, repeats
 * joined), nil before it arrived. */
static int l_http_headers(lua_State *L)
{
  l_request *u = check_request(L);
  size_t len;
  const char *p = coze_http_headers(u->r, &len);
  if (p == NULL) {
    lua_pushnil(L);
    return 1;
  }
  return coze_l_headers_push(L, p, len);
}

static int l_http_info(lua_State *L)
{
  l_request *u = check_request(L);
  coze_http_info info;
  coze_http_req_info(u->r, &info);
  lua_createtable(L, 0, 8);
  lua_pushnumber(L, info.total_s);
  lua_setfield(L, -2, "total_s");
  lua_pushnumber(L, info.connect_s);
  lua_setfield(L, -2, "connect_s");
  lua_pushnumber(L, info.starttransfer_s);
  lua_setfield(L, -2, "starttransfer_s");
  lua_pushinteger(L, (lua_Integer)info.num_connects);
  lua_setfield(L, -2, "num_connects");
  lua_pushinteger(L, (lua_Integer)info.local_port);
  lua_setfield(L, -2, "local_port");
  if (info.upload_bytes >= 0) {
    lua_pushinteger(L, (lua_Integer)info.upload_bytes);
    lua_setfield(L, -2, "upload_bytes");
  }
  if (info.upload_total >= 0) {
    lua_pushinteger(L, (lua_Integer)info.upload_total);
    lua_setfield(L, -2, "upload_total");
  }
  if (info.download_bytes >= 0) {
    lua_pushinteger(L, (lua_Integer)info.download_bytes);
    lua_setfield(L, -2, "download_bytes");
  }
  return 1;
}

static int l_http_request_close(lua_State *L)
{
  l_request *u = (l_request *)luaL_checkudata(L, 1, REQUEST_MT);
  if (u->r != NULL) {
    coze_http_free(u->r);
    u->r = NULL;
    u->sink = NULL; /* the user value still holds the parser: it goes with the request */
  }
  return 0;
}

static int l_http_request_tostring(lua_State *L)
{
  l_request *u = (l_request *)luaL_checkudata(L, 1, REQUEST_MT);
  return coze_pushtostring(L, REQUEST_MT, u->r);
}

static int l_http_curl_version(lua_State *L)
{
  char buf[256];
  coze_http_version(buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

void coze_l_http_open(lua_State *L)
{
  static const luaL_Reg session_methods[] = {
    {"request", l_http_request},
    {"ready_keys", l_http_ready_keys},
    {"close", l_http_session_close},
    {NULL, NULL}
  };
  static const luaL_Reg session_meta[] = {
    {"__gc", l_http_session_close},
    {"__close", l_http_session_close},
    {"__tostring", l_http_session_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg request_methods[] = {
    {"wait_headers", l_http_wait_headers},
    {"read", l_http_read},
    {"read_into", l_http_read_into},
    {"ready", l_http_ready},
    {"watch", l_http_watch},
    {"read_all", l_http_read_all},
    {"status", l_http_status},
    {"headers", l_http_headers},
    {"info", l_http_info},
    {"close", l_http_request_close},
    {NULL, NULL}
  };
  static const luaL_Reg request_meta[] = {
    {"__gc", l_http_request_close},
    {"__close", l_http_request_close},
    {"__tostring", l_http_request_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg fns[] = {
    {"session", l_http_session},
    {"curl_version", l_http_curl_version},
    {NULL, NULL}
  };
  coze_newclass(L, SESSION_MT, session_methods, session_meta);
  coze_newclass(L, REQUEST_MT, request_methods, request_meta);
  luaL_setfuncs(L, fns, 0);
}
