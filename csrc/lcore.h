/* Each binding adds its functions to the module table on top of the stack. */
#ifndef COZE_LCORE_H
#define COZE_LCORE_H

#include <stddef.h>

#include <lua.h>

#include "sink.h"

#if defined(__GNUC__)
#define COZE_EXPORT __attribute__((visibility("default")))
#else
#define COZE_EXPORT
/* Pushes the table core.parse_headers(block, len) returns (1), or nil, msg (2). */
int coze_l_headers_push(lua_State *L, const char *block, size_t len);

#endif

void coze_l_sse_open(lua_State *L);
void coze_l_http_open(lua_State *L);
void coze_l_sys_open(lua_State *L);
void coze_l_crypto_open(lua_State *L);
void coze_l_json_open(lua_State *L);
void coze_l_cli_open(lua_State *L);
void coze_l_ws_open(lua_State *L);
void coze_l_wscodec_open(lua_State *L);
void coze_l_headers_open(lua_State *L);
void coze_l_utf8_open(lua_State *L);
void coze_l_chunked_open(lua_State *L);

/* The parser inside a coze.core.SSEParser at idx, for a binding that feeds it (lhttp's
 * read_into): raises if it is not one, is closed, or was finished. */
struct coze_sse_parser *coze_l_sse_check(lua_State *L, int idx);
/* ... and as the sink a transfer feeds (refusing bytes while a call uses it: the transfer pauses). */
coze_sink coze_l_sse_sink(lua_State *L, int idx);

/* Pushes the table core.parse_headers(block, len) returns (1), or nil, msg (2). */
int coze_l_headers_push(lua_State *L, const char *block, size_t len);

struct coze_wscodec_b64;
/* send_b64's arguments from index 2, for both WebSocket bindings: pre, bytes, post[, i, n[, seq, mid]]
 * (raises on a slice outside bytes). */
void coze_l_ws_b64_args(lua_State *L, struct coze_wscodec_b64 *f);
/* The event of a received text message s[0..n) (csrc/lwscodec.c, ws_event): pushes the table with
 * the metatable at stack index mt and returns 1, or, when its envelope needs the full JSON decoder,
 * pushes the text and returns 0. Only inside a C function made by coze_l_ws_event_closure, whose
 * upvalues are the event's keys. */
int coze_l_ws_push_event(lua_State *L, const char *s, size_t n, int mt);
void coze_l_ws_event_closure(lua_State *L, lua_CFunction fn);

#endif
