/* libFuzzer target for csrc/sse.c.
 *
 * Build and run (from the repository root; apt-get install clang libclang-rt-14-dev if missing):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Icsrc -o build/fuzz_sse fuzz/fuzz_sse.c csrc/sse.c csrc/buf.c
 *   mkdir -p build/fuzz-corpus && build/fuzz_sse -max_total_time=60 build/fuzz-corpus fuzz/corpus/sse
 * A standalone replay without libFuzzer: add -DFUZZ_SSE_MAIN and drop "fuzzer," from
 * -fsanitize; then run build/fuzz_sse FILE...
 *
 * Input layout: byte 0 picks max_event_bytes, bytes 1..8 are the feed sizes (cycled), the rest is
 * the stream. The stream is parsed three ways and the event lists (name, data, id, retry,
 * eof_partial, error) must be identical, else abort():
 *   1. fed whole, then finish;
 *   2. fed in the pieces, draining next() after every feed (next() also called when it
 *      returned NEED_MORE, and reset() once before starting, to exercise those paths);
 *   3. a small reference parser written for clarity, line by line over the whole buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include "sse.h"

#define HDR 9

typedef struct rec {
  int kind; /* 1 event, 2 too large, 3 nomem */
  char *event; size_t event_len; int has_event;
  char *data; size_t data_len;
  char *id; size_t id_len; int has_id;
  long retry;
  int eof_partial;
} rec;

typedef struct reclist {
  rec *v;
  size_t n, cap;
} reclist;

static char *xdup(const char *s, size_t n)
{
  char *d = malloc(n + 1);
  if (d == NULL)
    abort();
  if (n > 0)
    memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static rec *push(reclist *l)
{
  rec *r;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = realloc(l->v, l->cap * sizeof(rec));
    if (l->v == NULL)
      abort();
  }
  r = &l->v[l->n++];
  memset(r, 0, sizeof(*r));
  return r;
}

static void push_event(reclist *l, const char *ev, size_t ev_len, int has_ev, const char *data,
                       size_t data_len, const char *id, size_t id_len, int has_id, long retry,
                       int eof_partial)
{
  rec *r = push(l);
  r->kind = 1;
  r->has_event = has_ev;
  r->event = xdup(has_ev ? ev : "", has_ev ? ev_len : 0);
  r->event_len = has_ev ? ev_len : 0;
  r->data = xdup(data, data_len);
  r->data_len = data_len;
  r->has_id = has_id;
  r->id = xdup(has_id ? id : "", has_id ? id_len : 0);
  r->id_len = has_id ? id_len : 0;
  r->retry = retry;
  r->eof_partial = eof_partial;
}

static void free_list(reclist *l)
{
  size_t i;
  for (i = 0; i < l->n; i++) {
    free(l->v[i].event);
    free(l->v[i].data);
    free(l->v[i].id);
  }
  free(l->v);
}

static int same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
  return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void compare(const reclist *a, const reclist *b, const char *what)
{
  size_t i;
  if (a->n != b->n) {
    fprintf(stderr, "%s: %zu vs %zu records\n", what, a->n, b->n);
    abort();
  }
  for (i = 0; i < a->n; i++) {
    const rec *x = &a->v[i], *y = &b->v[i];
    if (x->kind != y->kind || x->has_event != y->has_event || x->has_id != y->has_id ||
        x->retry != y->retry || x->eof_partial != y->eof_partial ||
        !same_bytes(x->event, x->event_len, y->event, y->event_len) ||
        !same_bytes(x->data, x->data_len, y->data, y->data_len) ||
        !same_bytes(x->id, x->id_len, y->id, y->id_len)) {
      fprintf(stderr, "%s: record %zu differs (kind %d/%d, eof %d/%d, data %zu/%zu)\n", what, i,
              x->kind, y->kind, x->eof_partial, y->eof_partial, x->data_len, y->data_len);
      abort();
    }
  }
}

/* Drains next(); returns 1 once the parser is in error. */
static int drain(coze_sse_parser *p, reclist *l)
{
  coze_sse_event ev;
  for (;;) {
    int r = coze_sse_next(p, &ev);
    if (r == COZE_SSE_EVENT) {
      if (ev.data == NULL)
        abort();
      push_event(l, ev.event, ev.event_len, ev.event != NULL, ev.data, ev.data_len, ev.id,
                 ev.id_len, ev.id != NULL, ev.retry, ev.eof_partial);
      continue;
    }
    if (r == COZE_SSE_NEED_MORE)
      return 0;
    push(l)->kind = r == COZE_SSE_TOO_LARGE ? 2 : 3;
    if (coze_sse_next(p, &ev) != r) /* the error is sticky */
      abort();
    return 1;
  }
}

/* ---- reference: the rules written out plainly over the whole input ---- */
static void reference(const char *s, size_t n, size_t max, reclist *l)
{
  char *event = malloc(n + 1), *data = malloc(n + 2), *id = malloc(n + 1);
  size_t event_len = 0, data_len = 0, id_len = 0, pos = 0;
  int has_event = 0, has_data = 0, has_id = 0, last_terminated = 1;
  long retry = -1;

  if (event == NULL || data == NULL || id == NULL)
    abort();
  if (n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
      (unsigned char)s[2] == 0xBF)
    pos = 3;
  while (pos < n) {
    size_t start = pos, len, name_len, vstart, vlen, i;
    while (pos < n && s[pos] != '\r' && s[pos] != '\n')
      pos++;
    len = pos - start;
    if (pos < n) {
      last_terminated = 1;
      if (s[pos] == '\r' && pos + 1 < n && s[pos + 1] == '\n')
        pos++;
      pos++;
    } else {
      last_terminated = 0;
    }
    if (len == 0) {
      if (has_data || has_event) {
        push_event(l, event, event_len, has_event, data, has_data ? data_len - 1 : 0, id, id_len,
                   has_id, retry, 0);
      }
      has_data = has_event = 0;
      event_len = data_len = 0;
      continue;
    }
    if (event_len + data_len + len > max) {
      push(l)->kind = 2;
      goto out;
    }
    if (s[start] == ':')
      continue;
    name_len = len;
    for (i = 0; i < len; i++) {
      if (s[start + i] == ':') {
        name_len = i;
        break;
      }
    }
    vstart = name_len < len ? start + name_len + 1 : start + len;
    vlen = start + len - vstart;
    if (vlen > 0 && s[vstart] == ' ') {
      vstart++;
      vlen--;
    }
    if (name_len == 4 && memcmp(s + start, "data", 4) == 0) {
      memcpy(data + data_len, s + vstart, vlen);
      data_len += vlen;
      data[data_len++] = '\n';
      has_data = 1;
    } else if (name_len == 5 && memcmp(s + start, "event", 5) == 0) {
      memcpy(event, s + vstart, vlen);
      event_len = vlen;
      has_event = 1;
    } else if (name_len == 2 && memcmp(s + start, "id", 2) == 0) {
      int nul = 0;
      for (i = 0; i < vlen; i++)
        nul |= s[vstart + i] == '\0';
      if (!nul) {
        memcpy(id, s + vstart, vlen);
        id_len = vlen;
        has_id = 1;
      }
    } else if (name_len == 5 && memcmp(s + start, "retry", 5) == 0 && vlen > 0) {
      long r = 0;
      int ok = 1;
      for (i = 0; i < vlen; i++) {
        char c = s[vstart + i];
        if (c < '0' || c > '9') {
          ok = 0;
          break;
        }
        r = r > (LONG_MAX - 9) / 10 ? LONG_MAX : r * 10 + (c - '0');
      }
      if (ok)
        retry = r;
    }
  }
  if (has_data || has_event)
    push_event(l, event, event_len, has_event, data, has_data ? data_len - 1 : 0, id, id_len,
               has_id, retry, !last_terminated);
out:
  free(event);
  free(data);
  free(id);
}

static const size_t limits[8] = {(size_t)1 << 30, 1, 5, 16, 40, 100, 1000, (size_t)1 << 20};

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
  coze_sse_parser p;
  reclist whole = {0}, split = {0}, ref = {0};
  const char *s;
  size_t n, max, pos, k;
  int err;

  if (size < HDR)
    return 0;
  max = limits[in[0] & 7];
  s = (const char *)in + HDR;
  n = size - HDR;

  /* 1. whole */
  coze_sse_init(&p, max);
  if (coze_sse_feed(&p, s, n) != 0)
    abort();
  if (!drain(&p, &whole)) {
    coze_sse_finish(&p);
    drain(&p, &whole);
  }
  coze_sse_free(&p);

  /* 2. split, after a reset of a used parser */
  coze_sse_init(&p, max);
  coze_sse_feed(&p, "data: junk\n", 11);
  coze_sse_reset(&p);
  err = 0;
  for (pos = 0, k = 0; pos < n && !err; k++) {
    uint8_t b = in[1 + k % 8];
    size_t step = (b & 0x80) ? (size_t)(b & 0x7f) * 8 + 1 : (size_t)(b & 0x0f) + 1;
    if (step > n - pos)
      step = n - pos;
    if (coze_sse_feed(&p, s + pos, step) != 0)
      abort();
    pos += step;
    err = drain(&p, &split);
    /* after NEED_MORE only the record and its unfinished line are held, within the limit
     * (plus up to 2 bytes of a possible BOM at the start) */
    if (!err && coze_sse_buffered(&p) > max + 2)
      abort();
  }
  if (!err) {
    coze_sse_finish(&p);
    if (!drain(&p, &split)) {
      coze_sse_event ev;
      if (coze_sse_next(&p, &ev) != COZE_SSE_NEED_MORE) /* NEED_MORE forever after the end */
        abort();
    }
  }
  coze_sse_free(&p);

  /* 3. reference */
  reference(s, n, max, &ref);

  compare(&whole, &split, "whole vs split");
  compare(&whole, &ref, "whole vs reference");
  free_list(&whole);
  free_list(&split);
  free_list(&ref);
  return 0;
}

#ifdef FUZZ_SSE_MAIN
int main(int argc, char **argv)
{
  int i;
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    static char buf[1 << 22];
    size_t len;
    if (f == NULL)
      return 1;
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
  }
  return 0;
}
#endif
