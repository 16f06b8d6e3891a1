/* HTTP/1.1 chunked transfer decoding, pure C: no lua.h, no I/O.
 *
 * Incremental: bytes go in as they arrive (any split), chunk data goes out to a sink (sink.h:
 * the SSE parser directly, or a buffer), so a transport that reads the wire itself (cosockets)
 * decodes and parses in one C call per read. Chunk extensions and trailers are skipped. A line
 * may end in CRLF or a bare LF (as libcurl reads them).
 */
#ifndef COZE_CHUNKED_H
#define COZE_CHUNKED_H

#include <stddef.h>

#include "sink.h"

#define COZE_CHUNKED_MAX_LINE 8192       /* a chunk-size line with its extensions */
#define COZE_CHUNKED_MAX_TRAILER 65536   /* all trailer lines together */

enum {
  COZE_CHUNKED_MORE = 0,     /* all bytes taken; the body goes on */
  COZE_CHUNKED_DONE = 1,     /* the body ended (the last chunk and its trailers) */
  COZE_CHUNKED_BAD = -1,     /* malformed: not a chunked body */
  COZE_CHUNKED_NOMEM = -2,   /* the sink ran out of memory */
  COZE_CHUNKED_BUSY = -3     /* the sink cannot take bytes now */
};

typedef struct coze_chunked {
  int state;
  unsigned long long left; /* data bytes left in the current chunk */
  size_t line;             /* bytes of the current size line or of the trailers */
  int digits;
  unsigned long long data;  /* chunk data bytes handed to the sink so far (a transport's download count) */
} coze_chunked;

void coze_chunked_init(coze_chunked *c);

/* Decodes len bytes; *used is set to the bytes taken (less than len only after DONE: the rest
 * is not part of the body). Returns one of the codes above; after DONE or an error every call
 * returns the same code and takes nothing. */
int coze_chunked_feed(coze_chunked *c, const char *in, size_t len, coze_sink out, size_t *used);

#endif
