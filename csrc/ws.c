#include "ws.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

void coze_ws_decoder_init(coze_ws_decoder *d, size_t max_message)
{
  coze_buf_init(&d->in);
  coze_buf_init(&d->msg);
  d->pos = 0;
  d->msg_opcode = 0;
  d->msg_done = 0;
  d->max_message = max_message ? max_message : COZE_WS_DEFAULT_MAX_MESSAGE;
  d->fail_code = 0;
  d->fail_msg = NULL;
}

void coze_ws_decoder_free(coze_ws_decoder *d)
{
  coze_buf_free(&d->in);
  coze_buf_free(&d->msg);
  d->pos = 0;
}

char *coze_ws_space(coze_ws_decoder *d, size_t n)
{
  size_t limit = d->max_message + COZE_WS_MAX_HEADER + COZE_WS_FEED_SLACK;
  if (d->pos > 0) { /* parsed frames are dropped here, once per read, not once per frame */
    coze_buf_consume(&d->in, d->pos);
    d->pos = 0;
  }
  if (n > limit || d->in.len > limit - n)
    return NULL;
  if (coze_buf_reserve(&d->in, n) != 0)
    return NULL;
  return d->in.data + d->in.len;
}

void coze_ws_fed(coze_ws_decoder *d, size_t n)
{
  d->in.len += n;
  d->in.data[d->in.len] = '\0';
}

int coze_ws_feed(coze_ws_decoder *d, const void *bytes, size_t n)
{
  char *p = coze_ws_space(d, n);
  if (p == NULL)
    return -1;
  if (n > 0)
    memcpy(p, bytes, n);
  coze_ws_fed(d, n);
  return 0;
}

static coze_ws_result fail(coze_ws_decoder *d, coze_ws_event *ev, int code, const char *msg)
{
  d->fail_code = code;
  d->fail_msg = msg;
  ev->opcode = 0;
  ev->close_code = code;
  ev->msg = msg;
  ev->data = NULL;
  ev->len = 0;
  return COZE_WS_FAIL;
}

int coze_ws_close_code_valid(int code)
{
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

coze_ws_result coze_ws_next(coze_ws_decoder *d, coze_ws_event *ev)
{
  ev->opcode = 0;
  ev->data = NULL;
  ev->len = 0;
  ev->close_code = 0;
  ev->msg = NULL;
  if (d->fail_code)
    return fail(d, ev, d->fail_code, d->fail_msg);
  if (d->msg_done) {
    coze_buf_reset(&d->msg);
    d->msg_done = 0;
  }
  for (;;) {
    const unsigned char *p = (const unsigned char *)d->in.data + d->pos;
    size_t avail = d->in.len - d->pos, hdr = 2, len;
    int fin, op;
    const char *payload;
    if (avail < 2)
      return COZE_WS_NEED_MORE;
    fin = p[0] & 0x80;
    op = p[0] & 0x0F;
    len = p[1] & 0x7F;
    if (p[0] & 0x70)
      return fail(d, ev, COZE_WS_PROTOCOL, "reserved bits set without a negotiated extension");
    if (op != COZE_WS_OP_CONT && op != COZE_WS_OP_TEXT && op != COZE_WS_OP_BINARY && op != COZE_WS_OP_CLOSE &&
        op != COZE_WS_OP_PING && op != COZE_WS_OP_PONG)
      return fail(d, ev, COZE_WS_PROTOCOL, "unknown opcode");
    if (p[1] & 0x80)
      return fail(d, ev, COZE_WS_PROTOCOL, "masked frame from the server");
    if (op >= COZE_WS_OP_CLOSE) {
      if (!fin)
        return fail(d, ev, COZE_WS_PROTOCOL, "fragmented control frame");
      if (len > 125)
        return fail(d, ev, COZE_WS_PROTOCOL, "control frame longer than 125 bytes");
    } else if (op == COZE_WS_OP_CONT && d->msg_opcode == 0) {
      return fail(d, ev, COZE_WS_PROTOCOL, "continuation frame without a message");
    } else if (op != COZE_WS_OP_CONT && d->msg_opcode != 0) {
      return fail(d, ev, COZE_WS_PROTOCOL, "new message before the previous one ended");
    }
    if (len == 126) {
      if (avail < 4)
        return COZE_WS_NEED_MORE;
      len = ((size_t)p[2] << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      uint64_t n = 0;
      int i;
      if (avail < 10)
        return COZE_WS_NEED_MORE;
      if (p[2] & 0x80)
        return fail(d, ev, COZE_WS_PROTOCOL, "64-bit length with the top bit set");
      for (i = 2; i < 10; i++)
        n = (n << 8) | p[i];
      if (n > (uint64_t)d->max_message)
        return fail(d, ev, COZE_WS_TOO_BIG, "message larger than max_message_bytes");
      len = (size_t)n;
      hdr = 10;
    }
    if (len > d->max_message || (op == COZE_WS_OP_CONT && d->msg.len > d->max_message - len))
      return fail(d, ev, COZE_WS_TOO_BIG, "message larger than max_message_bytes");
    if (avail - hdr < len)
      return COZE_WS_NEED_MORE;
    payload = (const char *)p + hdr;
    d->pos += hdr + len;
    ev->opcode = op;
    switch (op) {
    case COZE_WS_OP_PING:
    case COZE_WS_OP_PONG:
      ev->data = payload;
      ev->len = len;
      return op == COZE_WS_OP_PING ? COZE_WS_PING : COZE_WS_PONG;
    case COZE_WS_OP_CLOSE:
      if (len == 1)
        return fail(d, ev, COZE_WS_PROTOCOL, "close frame with a 1-byte payload");
      if (len == 0) {
        ev->close_code = COZE_WS_NO_STATUS;
        return COZE_WS_CLOSE;
      }
      ev->close_code = ((unsigned char)payload[0] << 8) | (unsigned char)payload[1];
      if (!coze_ws_close_code_valid(ev->close_code))
        return fail(d, ev, COZE_WS_PROTOCOL, "invalid close code");
      if (coze_utf8_check(payload + 2, len - 2) != len - 2)
        return fail(d, ev, COZE_WS_BAD_DATA, "close reason is not valid UTF-8");
      ev->data = payload + 2;
      ev->len = len - 2;
      return COZE_WS_CLOSE;
    default:
      break;
    }
    if (fin && op != COZE_WS_OP_CONT) { /* the common case: one frame, handed out in place */
      if (op == COZE_WS_OP_TEXT && coze_utf8_check(payload, len) != len)
        return fail(d, ev, COZE_WS_BAD_DATA, "text message is not valid UTF-8");
      ev->data = payload;
      ev->len = len;
      return COZE_WS_MESSAGE;
    }
    if (coze_buf_append(&d->msg, payload, len) != 0)
      return fail(d, ev, COZE_WS_TOO_BIG, "out of memory");
    if (op != COZE_WS_OP_CONT)
      d->msg_opcode = op;
    if (fin) {
      ev->opcode = d->msg_opcode;
      d->msg_opcode = 0;
      d->msg_done = 1;
      if (ev->opcode == COZE_WS_OP_TEXT && coze_utf8_check(d->msg.data, d->msg.len) != d->msg.len)
        return fail(d, ev, COZE_WS_BAD_DATA, "text message is not valid UTF-8");
      ev->data = d->msg.data ? d->msg.data : "";
      ev->len = d->msg.len;
      return COZE_WS_MESSAGE;
    }
  }
}

size_t coze_ws_header_len(size_t n)
{
  return (n < 126 ? 2 : n <= 0xFFFF ? 4 : 10) + 4;
}

size_t coze_ws_write_header(unsigned char *out, int opcode, int fin, size_t n, const unsigned char key[4])
{
  size_t h = 2;
  out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0F));
  if (n < 126) {
    out[1] = (unsigned char)(0x80 | n);
  } else if (n <= 0xFFFF) {
    out[1] = 0x80 | 126;
    out[2] = (unsigned char)(n >> 8);
    out[3] = (unsigned char)n;
    h = 4;
  } else {
    uint64_t v = (uint64_t)n;
    int i;
    out[1] = 0x80 | 127;
    for (i = 9; i >= 2; i--) {
      out[i] = (unsigned char)v;
      v >>= 8;
    }
    h = 10;
  }
  memcpy(out + h, key, 4);
  return h + 4;
}

void coze_ws_mask(unsigned char *p, size_t n, const unsigned char key[4])
{
  size_t i = 0;
  uint64_t k8;
  unsigned char kb[8];
  memcpy(kb, key, 4);
  memcpy(kb + 4, key, 4);
  memcpy(&k8, kb, 8);
  /* eight bytes at a time: the key repeats every 4, so an 8-byte word lines up at every multiple of 8 */
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    w ^= k8;
    memcpy(p + i, &w, 8);
  }
  for (; i < n; i++)
    p[i] ^= key[i & 3];
}

size_t coze_ws_encode(unsigned char *out, int opcode, int fin, const void *payload, size_t n,
                      const unsigned char key[4])
{
  size_t h = coze_ws_write_header(out, opcode, fin, n, key);
  if (n > 0)
    memcpy(out + h, payload, n);
  coze_ws_mask(out + h, n, key);
  return h + n;
}
