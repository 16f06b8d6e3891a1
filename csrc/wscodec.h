/* The protocol state of one client WebSocket, whatever carries its bytes: the handshake key, the
 * frame decoder, the queue of masked frames to write (keys from OpenSSL's RNG) and the automatic
 * answers (pong for ping, the echo of a close, the close frame of a protocol failure). A connection
 * feeds it received bytes and writes out what it queued: csrc/wsconn.c on libcurl, and through the
 * binding csrc/lwscodec.c the cosocket connection in nginx. Pure C (no lua.h). */
#ifndef COZE_WSCODEC_H
#define COZE_WSCODEC_H

#include <stddef.h>

#include "buf.h"
#include "ws.h"
#include "wshs.h"

typedef struct coze_wscodec {
  coze_ws_decoder dec;
  coze_buf out;            /* frames not yet written: out.data[out_pos..len) */
  size_t out_pos;
  int close_sent;
  int corked;              /* cork depth (coze_wscodec_cork) */
  unsigned char pool[256]; /* random bytes for masking keys, refilled from OpenSSL */
  size_t pool_pos;
  char key[COZE_WSHS_KEY_LEN + 1]; /* Sec-WebSocket-Key of the opening handshake */
} coze_wscodec;

/* max_message 0 means COZE_WS_DEFAULT_MAX_MESSAGE. 0, or -1 (*why set) when the RNG fails. */
int coze_wscodec_init(coze_wscodec *c, size_t max_message, const char **why);
void coze_wscodec_free(coze_wscodec *c);

/* Checks the server's 101 answer head against the key (coze_wshs_check). */
int coze_wscodec_check_answer(const coze_wscodec *c, const char *head, size_t head_len, const char **why);

/* Queue one frame. Each returns 0, or -1 with *why (out of memory, RNG failure, message too large). */
int coze_wscodec_send(coze_wscodec *c, int opcode, const void *payload, size_t n, const char **why);
/* A text frame pre || [seq || mid] || base64(bytes) || post, encoded straight into the queue: with mid
 * (not NULL) a message id's number is written in decimal between pre and mid, so a caller sending
 * many deltas builds no id or head string per frame; bytes may point into a larger block. */
typedef struct coze_wscodec_b64 {
  const char *pre, *mid, *post;
  size_t pre_len, mid_len, post_len;
  long long seq;
  const void *bytes;
  size_t n;
} coze_wscodec_b64;
int coze_wscodec_send_b64(coze_wscodec *c, const coze_wscodec_b64 *f, const char **why);
/* A close frame with code (0: none) and reason (cut to 123 bytes at a UTF-8 character boundary);
 * once: later calls queue nothing. */
int coze_wscodec_send_close(coze_wscodec *c, int code, const char *reason, size_t len, const char **why);

/* Bytes queued and not yet written; coze_wscodec_written(c, n) after writing n of them. */
static inline size_t coze_wscodec_pending(const coze_wscodec *c)
{
  return c->out.len - c->out_pos;
}
static inline const char *coze_wscodec_output(const coze_wscodec *c)
{
  return c->out.data + c->out_pos;
}
void coze_wscodec_written(coze_wscodec *c, size_t n);

/* While corked, frames are written once this much is queued (and at uncork): ~70 audio chunks of
 * 20 ms per write. */
#define COZE_WSCODEC_CORK_BYTES 65536
/* Cork (on = 1) or uncork (on = 0); corks nest. Returns the depth left: at 0 the connection writes
 * what is queued. */
int coze_wscodec_cork(coze_wscodec *c, int on);
/* After queueing: whether the connection may leave the queue unwritten for now, which only corked
 * data frames (data: not a control frame) under COZE_WSCODEC_CORK_BYTES may. One rule for every
 * connection (libcurl's wsconn.c, the cosocket's transport/ngx_ws.lua). */
static inline int coze_wscodec_holds(const coze_wscodec *c, int data)
{
  return c->corked && data && coze_wscodec_pending(c) < COZE_WSCODEC_CORK_BYTES;
}

/* The next message or close from the bytes fed to c->dec (coze_ws_space/coze_ws_fed/coze_ws_feed):
 * MESSAGE, CLOSE (its echo queued unless our close went first), FAIL (the close frame with its code
 * queued; ev->close_code and ev->msg say why) or NEED_MORE. Pings are answered (the pong queued)
 * and pongs dropped here, so they are never returned. */
coze_ws_result coze_wscodec_next(coze_wscodec *c, coze_ws_event *ev);

#endif
