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
 * Then the batch walk (coze_sse_walk), with the stop set picked by byte 0's bits 3-4:
 *   4. fed in the same pieces, walked after every feed: the bytes it hands out (spans, stop events,
 *      their closing tails) must be the input as received (after a BOM), and parsed again they must
 *      give the reference's events under raw mode's limit (which also counts an event's framing);
 *      the walk stops exactly at the stop set's events and the one dispatched at the end of input,
 *      and hands those out as next() would;
 *   5. the same pieces read by next() and the walk in turns (bit 6 of each size byte): no crash, and
 *      without an error the same number of events as 1.
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
  int at_eof; /* reference only: dispatched at the end of input, not by a blank line */
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
/* raw: the walk's limit too (a record's bytes from its start to the end of its last line's text). */
static void reference(const char *s, size_t n, size_t max, int raw, reclist *l)
{
  char *event = malloc(n + 1), *data = malloc(n + 2), *id = malloc(n + 1);
  size_t event_len = 0, data_len = 0, id_len = 0, pos = 0, mark;
  int has_event = 0, has_data = 0, has_id = 0, last_terminated = 1;
  long retry = -1;

  if (event == NULL || data == NULL || id == NULL)
    abort();
  if (n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
      (unsigned char)s[2] == 0xBF)
    pos = 3;
  mark = pos;
  /* before another 0xEF the walk hands the BOM out with the first record (sse.c), so under the
   * walk's limit its 3 bytes count as that record's */
  if (raw && pos == 3 && n > 3 && (unsigned char)s[3] == 0xEF)
    mark = 0;
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
      mark = pos;
      continue;
    }
    if (event_len + data_len + len > max || (raw && start + len - mark > max)) {
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
  if (has_data || has_event) {
    push_event(l, event, event_len, has_event, data, has_data ? data_len - 1 : 0, id, id_len,
               has_id, retry, !last_terminated);
    l->v[l->n - 1].at_eof = 1;
  }
out:
  free(event);
  free(data);
  free(id);
}

/* ---- the walk ---- */
static const coze_sse_stops stop_sets[4] = {
  {"done\nerror\n", 11, NULL, 0, 0},
  /* records without an event field, `event:` with no name, and 16 more names (more than a walk
     splits: its search of the list as given) */
  {"0\n1\n2\n3\n4\n5\n6\n7\n8\n9\nA\nB\nC\nD\nE\nF\nmessage\n\n", 41, NULL, 0, 0},
  {"x\n", 2, "", 0, 0}, /* events with empty data, and those named x */
  {"", 0, NULL, 0, 1},
};

typedef struct walked {
  char *b;           /* what the walks handed out, in order */
  size_t n, cap;
  size_t tail_at;    /* where a closing tail was appended (SIZE_MAX: none) */
  size_t events;     /* events handed out (in spans and as stop events) */
  reclist stops;     /* the stop events, as next() gives them */
  size_t *stop_at;   /* their index among all events */
  size_t nstops;
  int error;         /* 2 too large, 3 nomem */
} walked;

static void put_bytes(walked *w, const char *b, size_t n)
{
  if (w->n + n > w->cap) {
    w->cap = (w->n + n) * 2 + 64;
    w->b = realloc(w->b, w->cap);
    if (w->b == NULL)
      abort();
  }
  if (n > 0)
    memcpy(w->b + w->n, b, n);
  w->n += n;
}

/* Walks until NEED_MORE; 1 once the parser is in error. lost_ok: a stop event may come without its
   bytes (its start was dropped while next() read the parser). */
static int walk_drain(coze_sse_parser *p, const coze_sse_stops *st, walked *w, int lost_ok)
{
  for (;;) {
    coze_sse_span span;
    coze_sse_event ev;
    int r = coze_sse_walk(p, st, &span, &ev);
    put_bytes(w, span.bytes, span.len);
    w->events += span.events;
    if (r == COZE_SSE_EVENT) {
      if (span.stop == NULL) {
        if (!lost_ok)
          abort();
      } else {
        put_bytes(w, span.stop, span.stop_len);
        if (span.stop_tail[0] != '\0') {
          w->tail_at = w->n;
          put_bytes(w, span.stop_tail, strlen(span.stop_tail));
        }
      }
      push_event(&w->stops, ev.event, ev.event_len, ev.event != NULL, ev.data, ev.data_len, ev.id,
                 ev.id_len, ev.id != NULL, ev.retry, ev.eof_partial);
      w->stop_at = realloc(w->stop_at, (w->nstops + 1) * sizeof(size_t));
      if (w->stop_at == NULL)
        abort();
      w->stop_at[w->nstops++] = w->events++;
      continue;
    }
    if (r == COZE_SSE_NEED_MORE)
      return 0;
    if (span.events == 0 && coze_sse_walk(p, st, &span, &ev) != r) /* the error is sticky */
      abort();
    w->error = r == COZE_SSE_TOO_LARGE ? 2 : 3;
    return 1;
  }
}

static int same_rec(const rec *x, const rec *y)
{
  return x->kind == y->kind && x->has_event == y->has_event && x->has_id == y->has_id &&
         x->retry == y->retry && x->eof_partial == y->eof_partial &&
         same_bytes(x->event, x->event_len, y->event, y->event_len) &&
         same_bytes(x->data, x->data_len, y->data, y->data_len) &&
         same_bytes(x->id, x->id_len, y->id, y->id_len);
}

static int stops_at(const coze_sse_stops *st, const rec *r)
{
  const char *name = r->has_event ? r->event : "message", *n = st->names, *end = n + st->names_len;
  size_t len = r->has_event ? r->event_len : 7;
  if (st->every || (st->data != NULL && same_bytes(r->data, r->data_len, st->data, st->data_len)))
    return 1;
  while (n < end) {
    const char *nl = memchr(n, '\n', (size_t)(end - n));
    size_t k = (size_t)(nl - n);
    if (same_bytes(n, k, name, len))
      return 1;
    n = nl + 1;
  }
  return 0;
}

/* 4.'s checks: w against the reference under raw mode's limit (ref). */
static void check_walk(const walked *w, const char *s, size_t n, const coze_sse_stops *st, const reclist *ref)
{
  coze_sse_parser p;
  reclist again = {0};
  size_t i, j, bom = 0, events = ref->n, upto;
  if (n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF &&
      !(n > 3 && (unsigned char)s[3] == 0xEF)) /* (before another 0xEF the BOM is handed out: sse.c) */
    bom = 3;
  /* the bytes as received */
  upto = w->tail_at != (size_t)-1 ? w->tail_at : w->n;
  if (upto > n - bom || (upto > 0 && memcmp(w->b, s + bom, upto) != 0)) {
    fprintf(stderr, "walk: the bytes handed out are not the input\n");
    abort();
  }
  if (w->tail_at != (size_t)-1 && w->n - w->tail_at > 2)
    abort();
  /* the same events */
  coze_sse_init(&p, (size_t)1 << 30);
  if (coze_sse_feed(&p, w->b, w->n) != 0)
    abort();
  drain(&p, &again);
  coze_sse_finish(&p);
  drain(&p, &again);
  coze_sse_free(&p);
  if (w->error)
    push(&again)->kind = w->error;
  if (events > 0 && ref->v[events - 1].kind != 1)
    events--;
  if (w->events != events || again.n != ref->n) {
    fprintf(stderr, "walk: %zu events handed out, %zu parsed again, reference %zu\n", w->events, again.n, ref->n);
    abort();
  }
  for (i = 0; i < again.n; i++) {
    rec *x = &again.v[i];
    if (x->kind == 1 && ref->v[i].at_eof)
      x->eof_partial = ref->v[i].eof_partial; /* its closing tail made it whole */
  }
  compare(&again, ref, "walk (parsed again) vs reference");
  /* it stops exactly where it must, and hands the stop events out as next() does */
  for (i = 0, j = 0; i < events; i++) {
    int must = ref->v[i].at_eof || stops_at(st, &ref->v[i]);
    int did = j < w->nstops && w->stop_at[j] == i;
    if (must != did) {
      fprintf(stderr, "walk: event %zu %s\n", i, must ? "not stopped at" : "stopped at");
      abort();
    }
    if (did && !same_rec(&w->stops.v[j++], &ref->v[i]))
      abort();
  }
  free_list(&again);
}

static void free_walked(walked *w)
{
  free(w->b);
  free(w->stop_at);
  free_list(&w->stops);
}

/* Feeds the k-th piece of the stream (its size from header byte 1 + k % 8) at *pos. */
static void feed_piece(coze_sse_parser *p, const uint8_t *in, const char *s, size_t n, size_t k, size_t *pos)
{
  uint8_t b = in[1 + k % 8];
  size_t step = (b & 0x80) ? (size_t)(b & 0x7f) * 8 + 1 : (size_t)(b & 0x0f) + 1;
  if (step > n - *pos)
    step = n - *pos;
  if (coze_sse_feed(p, s + *pos, step) != 0)
    abort();
  *pos += step;
}

static const size_t limits[8] = {(size_t)1 << 30, 1, 5, 16, 40, 100, 1000, (size_t)1 << 20};

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
  coze_sse_parser p;
  reclist whole = {0}, split = {0}, ref = {0}, ref_raw = {0};
  walked w = {0}, mixed = {0};
  const coze_sse_stops *st;
  const char *s;
  size_t n, max, pos, k, mixed_next = 0;
  int err;

  if (size < HDR)
    return 0;
  max = limits[in[0] & 7];
  st = &stop_sets[(in[0] >> 3) & 3];
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
    feed_piece(&p, in, s, n, k, &pos);
    err = drain(&p, &split);
    /* after NEED_MORE only the record and its unfinished line are held, within the limit
     * (plus up to 3 bytes of a possible BOM at the start) */
    if (!err && coze_sse_buffered(&p) > max + 3)
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
  reference(s, n, max, 0, &ref);

  compare(&whole, &split, "whole vs split");
  compare(&whole, &ref, "whole vs reference");

  /* 4. the walk, in the same pieces */
  w.tail_at = (size_t)-1;
  coze_sse_init(&p, max);
  err = 0;
  for (pos = 0, k = 0; pos < n && !err; k++) {
    feed_piece(&p, in, s, n, k, &pos);
    err = walk_drain(&p, st, &w, 0);
    /* what the walk keeps: the record being parsed, within the limit (+ its last terminator) */
    if (!err && coze_sse_buffered(&p) > 2 * max + 4)
      abort();
  }
  if (!err) {
    coze_sse_finish(&p);
    walk_drain(&p, st, &w, 0);
  }
  coze_sse_free(&p);
  reference(s, n, max, 1, &ref_raw);
  check_walk(&w, s, n, st, &ref_raw);

  /* 5. next() and the walk in turns */
  mixed.tail_at = (size_t)-1;
  coze_sse_init(&p, max);
  err = 0;
  for (pos = 0, k = 0; pos < n && !err; k++) {
    reclist got = {0};
    feed_piece(&p, in, s, n, k, &pos);
    if (in[1 + k % 8] & 0x40) {
      err = drain(&p, &got);
      mixed_next += got.n - (size_t)err;
      free_list(&got);
    } else {
      err = walk_drain(&p, st, &mixed, 1);
      if (!err && coze_sse_buffered(&p) > 2 * max + 4) /* bounded also with a LOST record */
        abort();
    }
  }
  if (!err) {
    coze_sse_finish(&p);
    err = walk_drain(&p, st, &mixed, 1);
  }
  coze_sse_free(&p);
  if (!err && whole.n > 0 && whole.v[whole.n - 1].kind != 1)
    abort(); /* next() failed where next() and the walk did not */
  if (!err && mixed.events + mixed_next != whole.n)
    abort();

  free_list(&whole);
  free_list(&split);
  free_list(&ref);
  free_list(&ref_raw);
  free_walked(&w);
  free_walked(&mixed);
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
