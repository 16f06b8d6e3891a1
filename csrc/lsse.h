/* The coze.core.SSEParser userdata, shared by its bindings: lsse.c (the parser's methods) and
 * lsse_iter.c (its iterators). */
#ifndef COZE_LSSE_H
#define COZE_LSSE_H

#include "compat.h"
#include "sink.h"
#include "sse.h"

#define SSE_TNAME "coze.core.SSEParser"

typedef struct l_sse {
  coze_sse_parser p;
  int closed;
  int direct; /* p:iterator's functions may hand out events straight from p (p:set_direct) */
  /* A call holds pointers into p while it pushes Lua values, and an allocation may run a finalizer
   * or a metamethod: until it is done every other use of p raises (issue 12 #6), and a transfer
   * feeding p pauses. A memory error raised meanwhile leaves it set: the parser is then unusable
   * (the collector still frees it). */
  int busy;
} l_sse;

/* The SSEParser at idx; raises if it is not one, is closed, or is in use by another call. */
l_sse *coze_l_sse_at(lua_State *L, int idx);
/* The parser at idx as a sink for a transfer (sink.h): refuses bytes (the transfer pauses) while
 * a call is using it. */
coze_sink coze_l_sse_sink(lua_State *L, int idx);

#if COZE_LUA_53
int coze_l_sse_iterator(lua_State *L);
#endif

#endif
