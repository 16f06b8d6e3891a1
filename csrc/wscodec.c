#include "wscodec.h"

#include <string.h>

#include "crypto.h"

int coze_wscodec_init(coze_wscodec *c, size_t max_message, const char **why)
{
  unsigned char nonce[16];
  memset(c, 0, sizeof *c);
  coze_buf_init(&c->out);
  coze_ws_decoder_init(&c->dec, max_message);
  c->pool_pos = sizeof c->pool;
  if (coze_crypto_random(nonce, sizeof nonce) != 0) {
    *why = "the random generator failed";
    return -1;
  }
  coze_wshs_key(nonce, c->key);
  return 0;
}

void coze_wscodec_free(coze_wscodec *c)
{
  coze_buf_free(&c->out);
  coze_ws_decoder_free(&c->dec);
}

int coze_wscodec_check_answer(const coze_wscodec *c, const char *head, size_t head_len, const char **why)
{
  return coze_wshs_check(head, head_len, c->key, why);
}

void coze_wscodec_written(coze_wscodec *c, size_t n)
{
  c->out_pos += n;
  if (c->out_pos >= c->out.len) {
    coze_buf_reset(&c->out);
    c->out_pos = 0;
  }
}

static int next_key(coze_wscodec *c, unsigned char key[4], const char **why)
{
  if (c->pool_pos + 4 > sizeof c->pool) {
    if (coze_crypto_random(c->pool, sizeof c->pool) != 0) {
      *why = "the random generator failed";
      return -1;
    }
    c->pool_pos = 0;
  }
  memcpy(key, c->pool + c->pool_pos, 4);
  c->pool_pos += 4;
  return 0;
}

/* Room for one frame of n payload bytes at the end of the queue: the payload's address. */
static unsigned char *frame_start(coze_wscodec *c, int opcode, size_t n, unsigned char key[4], const char **why)
{
  size_t h;
  unsigned char *p;
  if (next_key(c, key, why) != 0)
    return NULL;
  if (c->out_pos > 0 && c->out_pos >= c->out.len / 2) { /* drop what was written before growing */
    coze_buf_consume(&c->out, c->out_pos);
    c->out_pos = 0;
  }
  h = coze_ws_header_len(n);
  if (n > (size_t)-1 - h - 2 || coze_buf_reserve(&c->out, h + n + 1) != 0) {
    *why = "out of memory";
    return NULL;
  }
  p = (unsigned char *)c->out.data + c->out.len;
  coze_ws_write_header(p, opcode, 1, n, key);
  return p + h;
}

static void frame_end(coze_wscodec *c, unsigned char *payload, size_t n, const unsigned char key[4])
{
  coze_ws_mask(payload, n, key);
  c->out.len = (size_t)((char *)payload - c->out.data) + n;
}

int coze_wscodec_send(coze_wscodec *c, int opcode, const void *payload, size_t n, const char **why)
{
  unsigned char key[4];
  unsigned char *p = frame_start(c, opcode, n, key, why);
  if (p == NULL)
    return -1;
  if (n > 0)
    memcpy(p, payload, n);
  frame_end(c, p, n, key);
  return 0;
}

/* seq in decimal, ending at end: its first character (snprintf costs more than the rest of a head) */
static char *decimal(char *end, long long seq)
{
  unsigned long long v = seq < 0 ? 0 - (unsigned long long)seq : (unsigned long long)seq;
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  if (seq < 0)
    *--end = '-';
  return end;
}

int coze_wscodec_send_b64(coze_wscodec *c, const coze_wscodec_b64 *f, const char **why)
{
  unsigned char key[4];
  char digits[24], *d = digits + sizeof digits;
  size_t b = coze_crypto_b64_enclen(f->n), dl = 0, head, total;
  unsigned char *p;
  if (f->mid != NULL) {
    d = decimal(digits + sizeof digits, f->seq);
    dl = (size_t)(digits + sizeof digits - d);
  }
  if (b == (size_t)-1 || b > (size_t)-1 / 2 - f->pre_len - f->mid_len - dl - f->post_len) {
    *why = "message too large";
    return -1;
  }
  head = f->pre_len + (f->mid != NULL ? dl + f->mid_len : 0);
  total = head + b + f->post_len;
  p = frame_start(c, COZE_WS_OP_TEXT, total, key, why);
  if (p == NULL)
    return -1;
  memcpy(p, f->pre, f->pre_len);
  if (f->mid != NULL) {
    memcpy(p + f->pre_len, d, dl);
    memcpy(p + f->pre_len + dl, f->mid, f->mid_len);
  }
  coze_crypto_b64_encode(f->bytes, f->n, (char *)p + head); /* its NUL lands where post starts */
  memcpy(p + head + b, f->post, f->post_len);
  frame_end(c, p, total, key);
  return 0;
}

int coze_wscodec_send_close(coze_wscodec *c, int code, const char *reason, size_t len, const char **why)
{
  unsigned char payload[125];
  size_t n = 0;
  if (c->close_sent)
    return 0;
  if (code > 0) {
    payload[0] = (unsigned char)(code >> 8);
    payload[1] = (unsigned char)code;
    if (len > 123) {
      /* cut at a character boundary: half a UTF-8 character would be a 1007 for the receiver */
      len = 123;
      while (len > 0 && ((unsigned char)reason[len] & 0xC0) == 0x80)
        len--;
    }
    if (len > 0)
      memcpy(payload + 2, reason, len);
    n = 2 + len;
  }
  c->close_sent = 1;
  return coze_wscodec_send(c, COZE_WS_OP_CLOSE, payload, n, why);
}

coze_ws_result coze_wscodec_next(coze_wscodec *c, coze_ws_event *ev)
{
  const char *why = NULL;
  for (;;) {
    coze_ws_result r = coze_ws_next(&c->dec, ev);
    switch (r) {
    case COZE_WS_PING:
      if (!c->close_sent && coze_wscodec_send(c, COZE_WS_OP_PONG, ev->data, ev->len, &why) != 0)
        goto fail;
      continue;
    case COZE_WS_PONG:
      continue;
    case COZE_WS_CLOSE:
      /* echo the code (none when the server gave none) unless our own close went first */
      coze_wscodec_send_close(c, ev->close_code == COZE_WS_NO_STATUS ? 0 : ev->close_code, NULL, 0, &why);
      return r;
    case COZE_WS_FAIL:
      coze_wscodec_send_close(c, ev->close_code, ev->msg, strlen(ev->msg), &why);
      return r;
    default:
      return r;
    }
  }
fail:
  /* a pong that cannot be queued: the session cannot keep its promise to answer pings */
  ev->close_code = 1011;
  ev->msg = why;
  return COZE_WS_FAIL;
}

int coze_wscodec_cork(coze_wscodec *c, int on)
{
  if (on)
    c->corked++;
  else if (c->corked > 0)
    c->corked--;
  return c->corked;
}
