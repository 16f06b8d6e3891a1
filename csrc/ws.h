/* RFC 6455 frame codec for the client side: an encoder that masks every frame and an incremental
 * decoder that reassembles fragmented messages, passes control frames through between fragments
 * and refuses what a server must not send. Pure C (no lua.h), fuzzed by fuzz/fuzz_ws.c. */
#ifndef COZE_WS_H
#define COZE_WS_H

#include <stddef.h>

#include "buf.h"

enum {
  COZE_WS_OP_CONT = 0x0, COZE_WS_OP_TEXT = 0x1, COZE_WS_OP_BINARY = 0x2,
  COZE_WS_OP_CLOSE = 0x8, COZE_WS_OP_PING = 0x9, COZE_WS_OP_PONG = 0xA
};

/* Close codes of RFC 6455 section 7.4.1 the codec produces or reports. */
enum {
  COZE_WS_NORMAL = 1000, COZE_WS_PROTOCOL = 1002, COZE_WS_NO_STATUS = 1005, COZE_WS_ABNORMAL = 1006,
  COZE_WS_BAD_DATA = 1007, COZE_WS_TOO_BIG = 1009
};

#define COZE_WS_DEFAULT_MAX_MESSAGE ((size_t)16 * 1024 * 1024)
/* Bytes a caller may feed beyond one whole frame of max_message bytes (its read size). */
#define COZE_WS_FEED_SLACK ((size_t)128 * 1024)
/* Largest client frame header: 2 + 8 length bytes + 4 mask bytes. */
#define COZE_WS_MAX_HEADER 14

typedef enum coze_ws_result {
  COZE_WS_NEED_MORE = 0,
  COZE_WS_MESSAGE,  /* a whole text or binary message: opcode, data, len */
  COZE_WS_PING,     /* data, len: the payload to echo in the pong */
  COZE_WS_PONG,
  COZE_WS_CLOSE,    /* close_code (1005 when the frame had none), data/len: the reason */
  COZE_WS_FAIL      /* close_code to send (1002, 1007, 1009), msg says why; sticky */
} coze_ws_result;

typedef struct coze_ws_event {
  int opcode;
  const char *data; /* valid until the next coze_ws_next or feed */
  size_t len;
  int close_code;
  const char *msg;
} coze_ws_event;

typedef struct coze_ws_decoder {
  coze_buf in;       /* received bytes; in.data[pos..len) not parsed yet */
  size_t pos;
  coze_buf msg;      /* fragments of the message in progress */
  int msg_opcode;    /* its opcode, 0 when none is in progress */
  int msg_done;      /* msg was handed out: reset before the next frame */
  size_t max_message;
  int fail_code;
  const char *fail_msg;
} coze_ws_decoder;

/* max_message 0 means COZE_WS_DEFAULT_MAX_MESSAGE. */
void coze_ws_decoder_init(coze_ws_decoder *d, size_t max_message);
void coze_ws_decoder_free(coze_ws_decoder *d);
/* Room for n more bytes at the end of the input (for a read straight into it), NULL when memory runs
 * out or the buffer would outgrow one frame of max_message plus COZE_WS_FEED_SLACK; then
 * coze_ws_fed(d, got) with the bytes written. */
char *coze_ws_space(coze_ws_decoder *d, size_t n);
void coze_ws_fed(coze_ws_decoder *d, size_t n);
/* Copies bytes in: 0, or -1 as coze_ws_space. */
int coze_ws_feed(coze_ws_decoder *d, const void *bytes, size_t n);
coze_ws_result coze_ws_next(coze_ws_decoder *d, coze_ws_event *ev);

/* Client frames. A header is at most COZE_WS_MAX_HEADER bytes. */
size_t coze_ws_header_len(size_t payload_len);
/* Writes the header of a masked frame; returns its length. */
size_t coze_ws_write_header(unsigned char *out, int opcode, int fin, size_t payload_len,
                            const unsigned char key[4]);
/* XORs p[0..n) with key, starting at key offset 0. */
void coze_ws_mask(unsigned char *p, size_t n, const unsigned char key[4]);
/* Header and masked payload into out (header_len(n) + n bytes); returns the frame length. */
size_t coze_ws_encode(unsigned char *out, int opcode, int fin, const void *payload, size_t n,
                      const unsigned char key[4]);
/* A close code a peer may send in a close frame (RFC 6455 7.4). */
int coze_ws_close_code_valid(int code);

#endif
