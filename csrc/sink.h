/* A byte sink: where a transport hands the bytes it receives (the shape of LuaSocket's io.h).
 *
 * The transport knows only this struct, not what parses the bytes (the SSE parser, a WebSocket
 * frame decoder, a dechunker), so a new decoder attaches without editing the transport. One
 * indirect call per received chunk, never per event.
 */
#ifndef COZE_SINK_H
#define COZE_SINK_H

#include <stddef.h>

typedef struct coze_sink {
  void *ctx;
  /* Takes len bytes (copying what it keeps): 0; 1 when it cannot take them now (its owner is in
   * the middle of a call: the transport pauses and offers the same bytes again on its next
   * read); -1 when out of memory. */
  int (*feed)(void *ctx, const char *bytes, size_t len);
} coze_sink;

#endif
