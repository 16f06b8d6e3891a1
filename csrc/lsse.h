/* The coze.core.SSEParser userdata, shared by its bindings: lsse.c (the parser's methods) and
 * lsse_iter.c (its iterators). */
#ifndef COZE_LSSE_H
#define COZE_LSSE_H

#include "compat.h"
#include "sse.h"

#define SSE_TNAME "coze.core.SSEParser"

typedef struct l_sse {
  coze_sse_parser p;
  int closed;
  int direct; /* p:iterator's functions may hand out events straight from p (p:set_direct) */
} l_sse;

/* The SSEParser at idx; raises if it is not one or is closed. */
l_sse *coze_l_sse_at(lua_State *L, int idx);

#if COZE_LUA_53
int coze_l_sse_iterator(lua_State *L);
#endif

#endif
