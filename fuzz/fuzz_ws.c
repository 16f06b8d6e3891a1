/* libFuzzer target for csrc/ws.c (frame decoder and encoder), csrc/wscodec.c (the automatic answers)
 * and csrc/wshs.c (handshake answer).
 *
 * Input layout: byte 0 picks max_message (1..4096 bytes, or the 16 MiB default when 0), bytes 1..8 are
 * feed sizes (cycled), the rest is what a server sends. It is decoded twice, fed whole and fed in the
 * pieces, and the two event lists must be identical, else abort(). The same bytes are also framed
 * by the encoder (masked, then unmasked again must give them back), parsed as a handshake answer,
 * scanned as a JSON envelope (csrc/jscan.c) and decoded as base64 audio (csrc/crypto.c's tables: what
 * decodes must be canonical, so encoding it again gives the text back). Through the codec, everything
 * it queues by itself must be masked pong or close frames, and at most one close; and a delta frame
 * built from pieces of the input (a number between head parts, base64 of the rest) must unmask to
 * what snprintf and the encoder make of them. Our own close frame carries the input as its reason cut
 * to 123 bytes, never inside a UTF-8 character.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jscan.h"
#include "utf8.h"
#include "ws.h"
#include "wscodec.h"
#include "wshs.h"

#define HDR 9

typedef struct log {
  unsigned char *v;
  size_t n, cap;
} log_t;

static void put(log_t *l, const void *p, size_t n)
{
  if (l->n + n > l->cap) {
    size_t cap = l->cap ? l->cap : 1024;
    while (cap < l->n + n)
      cap *= 2;
    l->v = realloc(l->v, cap);
    if (l->v == NULL)
      abort();
    l->cap = cap;
  }
  memcpy(l->v + l->n, p, n);
  l->n += n;
}

/* Drains the decoder into the log; returns 1 once it failed (nothing more may come). */
static int drain(coze_ws_decoder *d, log_t *l)
{
  for (;;) {
    coze_ws_event ev;
    coze_ws_result r = coze_ws_next(d, &ev);
    int rec[3];
    if (r == COZE_WS_NEED_MORE)
      return 0;
    rec[0] = (int)r;
    rec[1] = ev.opcode;
    rec[2] = ev.close_code;
    put(l, rec, sizeof rec);
    put(l, &ev.len, sizeof ev.len);
    if (ev.len)
      put(l, ev.data, ev.len);
    if (r == COZE_WS_FAIL)
      return 1;
  }
}

static void decode(const uint8_t *data, size_t size, size_t max, const uint8_t *sizes, log_t *l)
{
  coze_ws_decoder d;
  size_t off = 0, k = 0;
  coze_ws_decoder_init(&d, max);
  while (off < size) {
    size_t n = sizes ? (size_t)sizes[k++ % 8] + 1 : size;
    if (n > size - off)
      n = size - off;
    if (coze_ws_feed(&d, data + off, n) != 0) {
      put(l, "FULL", 4);
      break;
    }
    off += n;
    if (drain(&d, l))
      break;
  }
  coze_ws_decoder_free(&d);
}

static void roundtrip(const uint8_t *data, size_t size)
{
  unsigned char key[4] = { 0x12, 0x34, 0x56, 0x78 };
  unsigned char *out;
  size_t h, n;
  if (size >= 4)
    memcpy(key, data, 4);
  out = malloc(coze_ws_header_len(size) + size + 1);
  if (out == NULL)
    abort();
  n = coze_ws_encode(out, COZE_WS_OP_BINARY, 1, data, size, key);
  h = coze_ws_header_len(size);
  if (n != h + size || (out[1] & 0x80) == 0)
    abort();
  coze_ws_mask(out + h, size, key);
  if (size && memcmp(out + h, data, size) != 0)
    abort();
  free(out);
}

/* The envelope scan must stay inside the text and report spans that lie in it. */
static void scan(const uint8_t *data, size_t size)
{
  coze_jscan_field f[3] = { { "event_type", 10, 0, 0, 0 }, { "id", 2, 0, 0, 0 }, { "data", 4, 0, 0, 0 } };
  int k;
  if (coze_jscan_object((const char *)data, size, f, 3) != 0)
    return;
  for (k = 0; k < 3; k++) {
    if (f[k].type != COZE_JSCAN_ABSENT && (f[k].start > size || f[k].len > size - f[k].start))
      abort();
    if (f[k].type == COZE_JSCAN_OTHER && data[f[k].start] == '{') {
      coze_jscan_field g = { "content", 7, 0, 0, 0 };
      if (coze_jscan_object((const char *)data + f[k].start, f[k].len, &g, 1) == 0 && g.type != COZE_JSCAN_ABSENT &&
          (g.start > f[k].len || g.len > f[k].len - g.start))
        abort();
    }
  }
}

static void base64(const uint8_t *data, size_t size)
{
  int url;
  for (url = 0; url < 2; url++) {
    unsigned char *out = malloc(coze_crypto_b64_declen(size));
    size_t n = 0, m, keep = size;
    int r;
    if (out == NULL)
      abort();
    r = url ? coze_crypto_b64url_decode((const char *)data, size, out, &n, NULL, 0)
            : coze_crypto_b64_decode((const char *)data, size, out, &n, NULL, 0);
    if (r == 0) {
      char *back = malloc(coze_crypto_b64_enclen(n) + 1);
      if (back == NULL || n > coze_crypto_b64_declen(size))
        abort();
      m = url ? coze_crypto_b64url_encode(out, n, back) : coze_crypto_b64_encode(out, n, back);
      while (url && keep > 0 && data[keep - 1] == '=') /* base64url is written without padding */
        keep--;
      if (m != keep || memcmp(back, data, m) != 0)
        abort();
      free(back);
    }
    free(out);
  }
}

/* A delta's frame (coze_wscodec_send_b64 with a number): the input cut into pre, mid, post and the
 * bytes, its first 8 bytes the number; unmasked, the frame must be exactly what snprintf and the
 * base64 encoder make of them. */
static void delta(const uint8_t *data, size_t size)
{
  coze_wscodec c;
  coze_wscodec_b64 f;
  const char *why = NULL;
  const unsigned char *fr;
  unsigned char key[4];
  char *want;
  size_t h, n, len, b, d;
  unsigned long long u = 0;
  if (size < 11)
    return;
  memcpy(&u, data, 8);
  memset(&f, 0, sizeof f);
  f.seq = (long long)u;
  f.pre = (const char *)data + 11;
  f.pre_len = data[8] % (size - 10);
  f.mid = f.pre + f.pre_len;
  f.mid_len = data[9] % (size - 10 - f.pre_len);
  f.post = f.mid + f.mid_len;
  f.post_len = data[10] % (size - 10 - f.pre_len - f.mid_len);
  f.bytes = f.post + f.post_len;
  f.n = size - 11 - f.pre_len - f.mid_len - f.post_len;
  if (coze_wscodec_init(&c, 0, &why) != 0 || coze_wscodec_send_b64(&c, &f, &why) != 0)
    abort();
  b = coze_crypto_b64_enclen(f.n);
  len = f.pre_len + 21 + f.mid_len + b + f.post_len + 1;
  want = malloc(len);
  if (want == NULL)
    abort();
  memcpy(want, f.pre, f.pre_len);
  d = (size_t)snprintf(want + f.pre_len, 22, "%lld", f.seq);
  memcpy(want + f.pre_len + d, f.mid, f.mid_len);
  coze_crypto_b64_encode(f.bytes, f.n, want + f.pre_len + d + f.mid_len);
  memcpy(want + f.pre_len + d + f.mid_len + b, f.post, f.post_len);
  n = f.pre_len + d + f.mid_len + b + f.post_len;
  fr = (const unsigned char *)c.out.data;
  h = (fr[1] & 0x7f) == 127 ? 10 : (fr[1] & 0x7f) == 126 ? 4 : 2;
  if (fr[0] != 0x81 || (fr[1] & 0x80) == 0 || c.out.len != h + 4 + n || coze_ws_header_len(n) != h + 4)
    abort();
  memcpy(key, fr + h, 4);
  coze_ws_mask((unsigned char *)c.out.data + h + 4, n, key);
  if (memcmp(c.out.data + h + 4, want, n) != 0)
    abort();
  free(want);
  coze_wscodec_free(&c);
}

static void handshake(const uint8_t *data, size_t size)
{
  long hl = coze_wshs_head_len((const char *)data, size);
  size_t vl, dl;
  const char *why = NULL;
  char *copy;
  if (size > 0 && (copy = malloc(size)) != NULL) {
    memcpy(copy, data, size);
    if (coze_wshs_dechunk(copy, size, &dl) == 1 && dl > size)
      abort();
    free(copy);
  }
  if (hl <= 0)
    return;
  (void)coze_wshs_status((const char *)data, (size_t)hl);
  (void)coze_wshs_header((const char *)data, (size_t)hl, "content-length", &vl);
  (void)coze_wshs_check((const char *)data, (size_t)hl, "dGhlIHNhbXBsZSBub25jZQ==", &why);
}

/* What the codec queues on its own (pongs, the close echo or the failure's close) are masked
 * client frames of those opcodes, one close at most. */
static void answers(const uint8_t *data, size_t size, size_t max)
{
  coze_wscodec c;
  coze_ws_event ev;
  coze_ws_result r;
  const char *why = NULL;
  size_t i, closes = 0;
  if (coze_wscodec_init(&c, max, &why) != 0)
    abort();
  if (coze_ws_feed(&c.dec, data, size) == 0) {
    while ((r = coze_wscodec_next(&c, &ev)) == COZE_WS_MESSAGE) {
    }
  }
  for (i = 0; i < c.out.len;) {
    const unsigned char *f = (const unsigned char *)c.out.data + i;
    if (i + 6 > c.out.len || (f[0] != 0x8a && f[0] != 0x88) || (f[1] & 0x80) == 0 || (f[1] & 0x7f) > 125)
      abort();
    closes += f[0] == 0x88;
    i += 6 + (size_t)(f[1] & 0x7f); /* 2 header bytes, 4 mask bytes, the payload */
  }
  if (i != c.out.len || closes > 1)
    abort();
  coze_wscodec_free(&c);
}

/* Our close frame with the input as reason: code and a prefix of the reason of at most 123 bytes, and
 * valid UTF-8 whenever the input was (never cut inside a character). */
static void close_reason(const uint8_t *data, size_t size)
{
  coze_wscodec c;
  const char *why = NULL;
  unsigned char *f;
  size_t n;
  if (coze_wscodec_init(&c, 0, &why) != 0 || coze_wscodec_send_close(&c, 4000, (const char *)data, size, &why) != 0)
    abort();
  f = (unsigned char *)c.out.data;
  n = (size_t)(f[1] & 0x7f);
  if (f[0] != 0x88 || (f[1] & 0x80) == 0 || n < 2 || n > 125 || c.out.len != 6 + n)
    abort();
  coze_ws_mask(f + 6, n, f + 2);
  n -= 2;
  if (f[6] != 4000 >> 8 || f[7] != (4000 & 0xff) || n > size || (size <= 123 && n != size) ||
      memcmp(f + 8, data, n) != 0)
    abort();
  if (coze_utf8_check((const char *)data, size) == size && coze_utf8_check((const char *)f + 8, n) != n)
    abort();
  coze_wscodec_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  log_t whole = { NULL, 0, 0 }, parts = { NULL, 0, 0 };
  size_t max;
  if (size < HDR || size > COZE_WS_FEED_SLACK)
    return 0;
  max = data[0] ? (size_t)data[0] * 16 : 0;
  decode(data + HDR, size - HDR, max, NULL, &whole);
  decode(data + HDR, size - HDR, max, data + 1, &parts);
  if (whole.n != parts.n || (whole.n && memcmp(whole.v, parts.v, whole.n) != 0)) {
    fprintf(stderr, "whole and split decodes differ\n");
    abort();
  }
  free(whole.v);
  free(parts.v);
  roundtrip(data + HDR, size - HDR);
  answers(data + HDR, size - HDR, max);
  handshake(data + HDR, size - HDR);
  scan(data + HDR, size - HDR);
  base64(data + HDR, size - HDR);
  delta(data + HDR, size - HDR);
  close_reason(data + HDR, size - HDR);
  return 0;
}
