/* Incremental text/event-stream parser (WHATWG "event stream interpretation", lenient at EOF).
 *
 * Input is appended to `in` and parsed in place: lines are found with memchr and never copied;
 * a record's event name and first data line stay in `in` as references, so a one-line event is
 * copied only once (by the binding into a Lua string). Buffers are reused, so the steady state does no
 * malloc; consumed input is dropped by feed once it is at least half of the buffer.
 */
#include "sse.h"

#include <limits.h>
#include <string.h>

enum { LINE_NONE = 0 };

/* scan_lines and begin have two callers (next and walk); next() is the hot one and keeps them inlined */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* A buffer grown past this by one large event is given back once that event is gone, so a long
   stream does not keep its largest event's memory (x2 for growth) until it ends. */
#define SHRINK_ABOVE ((size_t)1 << 20)

void coze_sse_init(coze_sse_parser *p, size_t max_event_bytes)
{
  memset(p, 0, sizeof(*p));
  coze_buf_init(&p->in);
  coze_buf_init(&p->event);
  coze_buf_init(&p->data);
  coze_buf_init(&p->id);
  p->max_event_bytes = max_event_bytes;
  p->retry = -1;
}

void coze_sse_free(coze_sse_parser *p)
{
  coze_buf_free(&p->in);
  coze_buf_free(&p->event);
  coze_buf_free(&p->data);
  coze_buf_free(&p->id);
}

void coze_sse_reset(coze_sse_parser *p)
{
  size_t max = p->max_event_bytes;
  coze_sse_free(p);
  coze_sse_init(p, max);
}

void coze_sse_finish(coze_sse_parser *p)
{
  p->finished = 1;
}

size_t coze_sse_buffered(const coze_sse_parser *p)
{
  return (p->in.len - (p->raw ? p->raw_pos : p->in_pos)) + p->event.len + p->data.len;
}

/* Drops the pending record and every buffer: the parser only answers its error from now on. In raw
   mode `in` stays (a walk's span points into it) until free or reset. */
static int fail(coze_sse_parser *p, int code)
{
  p->error = code;
  if (!p->raw)
    coze_buf_free(&p->in);
  coze_buf_free(&p->event);
  coze_buf_free(&p->data);
  p->in_pos = p->scan = 0;
  p->has_ref = p->has_eref = p->has_data = p->has_event = 0;
  return code;
}

/* The first d bytes of `in` are gone: offsets move, and a record that began in them is LOST. */
static void dropped(coze_sse_parser *p, size_t d)
{
  p->in_pos -= d;
  p->raw_pos -= p->raw ? d : 0;
  p->rec_start = p->rec_start != COZE_SSE_LOST && p->rec_start >= d ? p->rec_start - d : COZE_SSE_LOST;
}

int coze_sse_feed(coze_sse_parser *p, const char *bytes, size_t len)
{
  size_t keep; /* bytes before this are dropped: parsed ones, and in raw mode handed out by a walk */
  if (p->error || p->finished || len == 0)
    return 0;
  keep = p->raw ? p->raw_pos : p->in_pos;
  if (p->in.cap > SHRINK_ABOVE && p->in.len - keep + len < SHRINK_ABOVE / 4) {
    /* move the kept tail to a fresh, small buffer (no reference into `in` is live here) */
    coze_buf nb;
    size_t live = p->in.len - keep;
    coze_buf_init(&nb);
    if (coze_buf_reserve(&nb, live + len) != 0)
      return COZE_SSE_NOMEM;
    coze_buf_put(&nb, p->in.data + keep, live);
    coze_buf_free(&p->in);
    p->in = nb;
    dropped(p, keep);
  } else if (keep > 0 && keep >= p->in.len - keep) {
    /* no reference into the dropped bytes is live: next() materialises it before NEED_MORE */
    coze_buf_consume(&p->in, keep);
    dropped(p, keep);
  }
  if (coze_buf_append(&p->in, bytes, len) != 0)
    return COZE_SSE_NOMEM;
  if (!p->seen_cr && memchr(bytes, '\r', len) != NULL)
    p->seen_cr = 1;
  return 0;
}

static int append2(coze_buf *b, const char *s, size_t n)
{
  if (coze_buf_reserve(b, n + 1) != 0)
    return -1;
  coze_buf_put(b, s, n);
  coze_buf_putc(b, '\n');
  return 0;
}

/* Copies the referenced event name and first data line out of `in` (before `in` may move). */
static int materialize(coze_sse_parser *p)
{
  if (p->has_eref) {
    p->has_eref = 0;
    coze_buf_reset(&p->event);
    if (coze_buf_append(&p->event, p->in.data + p->eref_off, p->eref_len) != 0)
      return -1;
  }
  if (!p->has_ref)
    return 0;
  p->has_ref = 0;
  return append2(&p->data, p->in.data + p->ref_off, p->ref_len);
}

static size_t record_bytes(const coze_sse_parser *p)
{
  return (p->has_eref ? p->eref_len : p->event.len) + p->data.len + (p->has_ref ? p->ref_len + 1 : 0);
}

/* One complete, non-blank line at in.data + off. LINE_NONE or a COZE_SSE_* error. */
static int process_line(coze_sse_parser *p, size_t off, size_t len)
{
  const char *line = p->in.data + off;
  const char *colon, *value;
  size_t nlen, vlen;

  if (record_bytes(p) + len > p->max_event_bytes)
    return COZE_SSE_TOO_LARGE;
  if (line[0] == ':')
    return LINE_NONE;
  /* the usual "data:" and "event:" lines skip the search for the colon */
  if (len >= 5 && line[4] == ':' && line[0] == 'd' && line[1] == 'a' && line[2] == 't' && line[3] == 'a')
    colon = line + 4;
  else if (len >= 6 && line[5] == ':' && line[0] == 'e' && line[1] == 'v' && line[2] == 'e' &&
           line[3] == 'n' && line[4] == 't')
    colon = line + 5;
  else
    colon = memchr(line, ':', len);
  if (colon != NULL) {
    nlen = (size_t)(colon - line);
    value = colon + 1;
    vlen = len - nlen - 1;
    if (vlen > 0 && *value == ' ') {
      value++;
      vlen--;
    }
  } else {
    nlen = len;
    value = line + len;
    vlen = 0;
  }

  switch (nlen) {
  case 4:
    if (memcmp(line, "data", 4) != 0)
      break;
    if (!p->has_data) {
      p->has_data = 1;
      p->has_ref = 1;
      p->ref_off = (size_t)(value - p->in.data);
      p->ref_len = vlen;
    } else if (materialize(p) != 0 || append2(&p->data, value, vlen) != 0) {
      return COZE_SSE_NOMEM;
    }
    break;
  case 5:
    if (memcmp(line, "event", 5) == 0) {
      p->has_event = p->has_eref = 1;
      p->eref_off = (size_t)(value - p->in.data);
      p->eref_len = vlen;
    } else if (memcmp(line, "retry", 5) == 0 && vlen > 0) {
      long r = 0;
      size_t i;
      for (i = 0; i < vlen; i++) {
        unsigned d = (unsigned char)value[i] - (unsigned)'0';
        if (d > 9)
          return LINE_NONE;
        r = r > (LONG_MAX - 9) / 10 ? LONG_MAX : r * 10 + (long)d;
      }
      p->retry = r;
    }
    break;
  case 2:
    if (line[0] == 'i' && line[1] == 'd' && memchr(value, '\0', vlen) == NULL) {
      coze_buf_reset(&p->id);
      if (coze_buf_append(&p->id, value, vlen) != 0)
        return COZE_SSE_NOMEM;
      p->has_id = 1;
    }
    break;
  default:
    break;
  }
  return LINE_NONE;
}

static int dispatch(coze_sse_parser *p, coze_sse_event *out, int eof_partial)
{
  if (!p->has_event) {
    out->event = NULL;
    out->event_len = 0;
  } else if (p->has_eref) {
    out->event = p->in.data + p->eref_off;
    out->event_len = p->eref_len;
  } else {
    out->event = p->event.data ? p->event.data : "";
    out->event_len = p->event.len;
  }
  if (p->has_ref) {
    out->data = p->in.data + p->ref_off;
    out->data_len = p->ref_len;
  } else if (p->data.len > 0) {
    out->data = p->data.data;
    out->data_len = p->data.len - 1; /* the last line's "\n" */
  } else {
    out->data = "";
    out->data_len = 0;
  }
  out->id = p->has_id ? (p->id.data ? p->id.data : "") : NULL;
  out->id_len = p->has_id ? p->id.len : 0;
  out->retry = p->retry;
  out->eof_partial = eof_partial;
  p->dispatched = 1;
  p->events++;
  return COZE_SSE_EVENT;
}

static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

/* The record handed out by the last next() is gone: its flags and data go, and its buffers too
   when one large event grew them. */
static void reset_record(coze_sse_parser *p)
{
  p->dispatched = 0;
  p->has_event = p->has_data = p->has_ref = p->has_eref = 0;
  if (p->event.cap > SHRINK_ABOVE)
    coze_buf_free(&p->event);
  else
    p->event.len = 0;
  if (p->data.cap > SHRINK_ABOVE)
    coze_buf_free(&p->data);
  else
    p->data.len = 0;
}

/* Drops a UTF-8 BOM at the start of the stream. 0 when that needs more input. */
static int skip_bom(coze_sse_parser *p)
{
  size_t avail = p->in.len - p->in_pos, n = avail < 3 ? avail : 3;
  if (n == 0 && !p->finished)
    return 0;
  if (n == 0 || memcmp(p->in.data + p->in_pos, bom, n) != 0) {
    p->bom_checked = 1;
  } else if (n == 3 && avail == 3 && !p->finished) {
    return 0; /* the byte after it decides what a walk hands out */
  } else if (n == 3) {
    p->in_pos += 3;
    p->bom_checked = 1;
    /* a receiver strips a leading BOM as we do: should a second one follow (an 0xEF next), a walk
       hands ours out too, so theirs stays part of the first line there as it does here */
    p->rec_start = avail > 3 && (unsigned char)p->in.data[p->in_pos] == 0xEF ? p->in_pos - 3 : p->in_pos;
    return 1;
  } else if (p->finished) {
    p->bom_checked = 1; /* a lone BOM prefix at EOF is ordinary text */
  } else {
    return 0;
  }
  p->rec_start = p->in_pos; /* the BOM belongs to no record: a walk never hands it out */
  return 1;
}

/* Raw mode: the record being parsed spans more than max_event_bytes up to `end` (sse.h). */
static int raw_too_large(const coze_sse_parser *p, size_t end)
{
  return p->rec_start != COZE_SSE_LOST && end - p->rec_start > p->max_event_bytes;
}

/* Processes complete lines until a record ends (COZE_SSE_EVENT), an error, or no complete line
   is left (NEED_MORE: the bytes after in_pos are then an unterminated line). */
static ALWAYS_INLINE int scan_lines(coze_sse_parser *p, coze_sse_event *out)
{
  for (;;) {
    const char *base, *s, *lf, *cr, *end;
    size_t len, off, next, n = p->in.len - p->in_pos;
    int r;

    if (p->skip_lf && n > 0) {
      p->skip_lf = 0;
      if (p->in.data[p->in_pos] == '\n') {
        if (p->rec_start == p->in_pos) /* the LF of a blank line's CRLF: records start after it */
          p->rec_start++;
        p->in_pos++;
        n--;
      }
    }
    if (n == 0)
      return COZE_SSE_NEED_MORE;
    base = p->in.data + p->in_pos;
    s = base + p->scan;
    /* the blank line that ends a record is the most common line: no call for it */
    lf = n > p->scan && *s == '\n' ? s : memchr(s, '\n', n - p->scan);
    cr = p->seen_cr ? memchr(s, '\r', lf != NULL ? (size_t)(lf - s) : n - p->scan) : NULL;
    end = cr != NULL ? cr : lf;
    if (end == NULL) {
      p->scan = n;
      return COZE_SSE_NEED_MORE;
    }
    len = (size_t)(end - base);
    off = p->in_pos;
    next = off + len + 1;
    if (end == cr) {
      if (next < p->in.len) {
        if (p->in.data[next] == '\n')
          next++;
      } else {
        p->skip_lf = 1;
      }
    }
    p->in_pos = next;
    p->scan = 0;
    if (len == 0) { /* blank: the end of a record */
      if (p->has_data || p->has_event) {
        p->ev_start = p->rec_start;
        p->rec_start = next;
        return dispatch(p, out, 0);
      }
      p->rec_start = next;
      continue;
    }
    if (p->raw && raw_too_large(p, off + len))
      return fail(p, COZE_SSE_TOO_LARGE);
    r = process_line(p, off, len);
    if (r < 0)
      return fail(p, r);
  }
}

/* Out of complete lines, the bytes after in_pos form an unterminated line: before the end of input
   they wait (the limit is checked now); at the end they are a last line, and a pending record goes. */
static int at_end_of_lines(coze_sse_parser *p, coze_sse_event *out)
{
  size_t avail = p->in.len - p->in_pos;
  int r;
  if (!p->finished) {
    if (avail > 0 && (record_bytes(p) + avail > p->max_event_bytes ||
                      (p->raw && raw_too_large(p, p->in.len))))
      return fail(p, COZE_SSE_TOO_LARGE);
    if (materialize(p) != 0)
      return fail(p, COZE_SSE_NOMEM);
    return COZE_SSE_NEED_MORE;
  }
  p->flushed = 1;
  if (avail > 0) {
    size_t off = p->in_pos;
    p->in_pos = p->in.len;
    p->scan = 0;
    if (p->raw && raw_too_large(p, p->in.len))
      return fail(p, COZE_SSE_TOO_LARGE);
    r = process_line(p, off, avail); /* not blank: it cannot dispatch by itself */
    if (r < 0)
      return fail(p, r);
  }
  if (p->has_data || p->has_event) {
    p->ev_start = p->rec_start;
    p->rec_start = p->in.len;
    return dispatch(p, out, avail > 0);
  }
  return COZE_SSE_NEED_MORE;
}

/* The fast lane of next() and walk(), for a stream that never held a CR: the record at in_pos
   (blank lines before it are skipped) when it is whole and made only of `event:` and `data:` lines,
   delimited with memchr alone and no line processed. 1 with ev's event and data (the last line of
   each; *ndata data lines), *last_line the end of its last line, *past the byte after its blank
   line; 0 for anything else (another field, a comment, a record not yet complete), which
   scan_lines then parses from the record's start. The caller checks the limit and the stops. */
static int simple_record(coze_sse_parser *p, coze_sse_event *ev, size_t *ndata, size_t *last_line,
                         size_t *past)
{
  const char *buf = p->in.data, *s, *e;
  if (buf == NULL) /* nothing fed yet */
    return 0;
  e = buf + p->in.len;
  for (s = buf + p->in_pos; s < e && *s == '\n'; s++) /* blank lines outside a record */
    p->in_pos = p->rec_start = (size_t)(s + 1 - buf);
  if (s == e)
    return 0;
  p->scan = 0;
  ev->event = NULL;
  ev->event_len = 0;
  ev->data = "";
  ev->data_len = 0;
  *ndata = 0;
  for (;;) {
    const char *nl = memchr(s, '\n', (size_t)(e - s));
    size_t n;
    if (nl == NULL)
      return 0;
    n = (size_t)(nl - s);
    if (n >= 6 && memcmp(s, "event:", 6) == 0) {
      ev->event = s + 6;
      ev->event_len = n - 6;
      if (ev->event_len > 0 && *ev->event == ' ') {
        ev->event++;
        ev->event_len--;
      }
    } else if (n >= 5 && memcmp(s, "data:", 5) == 0) {
      ++*ndata;
      ev->data = s + 5;
      ev->data_len = n - 5;
      if (ev->data_len > 0 && *ev->data == ' ') {
        ev->data++;
        ev->data_len--;
      }
    } else {
      return 0;
    }
    *last_line = (size_t)(nl - buf);
    s = nl + 1;
    if (s == e)
      return 0; /* its blank line is still to come */
    if (*s == '\n') {
      *past = (size_t)(s + 1 - buf);
      return 1;
    }
  }
}

/* Whether the fast lane may look at in_pos: no CR so far, and no record begun by scan_lines. The
   limit it keeps is raw_too_large's, which also bounds process_line's (a record's values are
   within its bytes). */
static int fast_lane(const coze_sse_parser *p)
{
  return !p->seen_cr && p->in_pos == p->rec_start && !p->has_event && !p->has_data;
}

enum { GO_ON = 2 };

/* How next() and walk() begin: the record the last call handed out goes. GO_ON when lines may be
   parsed, else what to return (the sticky error; NEED_MORE after the end or while a BOM is open). */
static ALWAYS_INLINE int begin(coze_sse_parser *p)
{
  if (p->error)
    return p->error;
  if (p->dispatched)
    reset_record(p);
  if (p->flushed || (!p->bom_checked && !skip_bom(p)))
    return COZE_SSE_NEED_MORE;
  return GO_ON;
}

int coze_sse_next(coze_sse_parser *p, coze_sse_event *out)
{
  size_t ndata, last_line, past;
  int r;
  p->raw = 0;
  if ((r = begin(p)) != GO_ON)
    return r;
  if (fast_lane(p) && simple_record(p, out, &ndata, &last_line, &past) && ndata <= 1 &&
      last_line - p->in_pos <= p->max_event_bytes) {
    p->ev_start = p->in_pos;
    p->in_pos = p->rec_start = past;
    out->id = p->has_id ? (p->id.data ? p->id.data : "") : NULL;
    out->id_len = p->has_id ? p->id.len : 0;
    out->retry = p->retry;
    out->eof_partial = 0;
    p->dispatched = 1;
    p->events++;
    return COZE_SSE_EVENT;
  }
  r = scan_lines(p, out);
  if (r != COZE_SSE_NEED_MORE)
    return r;
  return at_end_of_lines(p, out);
}

/* A walk's stop names, split once per walk (a few: a profile's terminal, error and watched names). */
enum { NAMES_MAX = 16 };
typedef struct stop_names {
  const char *s[NAMES_MAX];
  size_t len[NAMES_MAX];
  size_t n;
} stop_names;

static void split_names(const coze_sse_stops *st, stop_names *nm)
{
  const char *n = st->names, *end = n + st->names_len;
  nm->n = 0;
  while (n < end && nm->n < NAMES_MAX) {
    const char *nl = memchr(n, '\n', (size_t)(end - n));
    size_t k = nl != NULL ? (size_t)(nl - n) : (size_t)(end - n);
    nm->s[nm->n] = n;
    nm->len[nm->n++] = k;
    n += k + 1;
  }
  if (n < end) /* more names than that: every event goes by stops_at's slow path (the caller's) */
    nm->n = NAMES_MAX + 1;
}

/* Whether a walk stops at ev (sse.h, coze_sse_stops). */
static int stops_at(const coze_sse_stops *st, const stop_names *nm, const coze_sse_event *ev)
{
  const char *name = ev->event != NULL ? ev->event : "message";
  size_t len = ev->event != NULL ? ev->event_len : 7, i;
  if (st->every)
    return 1;
  if (st->data != NULL && ev->data_len == st->data_len && memcmp(ev->data, st->data, st->data_len) == 0)
    return 1;
  if (nm->n > NAMES_MAX) { /* many names: search the list as given */
    const char *n = st->names, *end = n + st->names_len;
    while (n < end) {
      const char *nl = memchr(n, '\n', (size_t)(end - n));
      size_t k = nl != NULL ? (size_t)(nl - n) : (size_t)(end - n);
      if (k == len && memcmp(n, name, len) == 0)
        return 1;
      n += k + 1;
    }
    return 0;
  }
  for (i = 0; i < nm->n; i++)
    if (nm->len[i] == len && memcmp(nm->s[i], name, len) == 0)
      return 1;
  return 0;
}

/* The walk's fast lane: the simple records at in_pos that the walk hands out without stopping.
   Adds them to *events; returns the offset right after the last of them, 0 when there was none. */
static size_t fast_records(coze_sse_parser *p, const coze_sse_stops *st, const stop_names *nm,
                           size_t *events)
{
  size_t last = 0, ndata, last_line, past;
  coze_sse_event ev;
  while (simple_record(p, &ev, &ndata, &last_line, &past)) {
    /* the data a stop set may name is one line's */
    if (last_line - p->in_pos > p->max_event_bytes || (ndata > 1 && st->data != NULL) ||
        stops_at(st, nm, &ev))
      break;
    p->in_pos = p->rec_start = last = past;
    p->events++;
    (*events)++;
  }
  return last;
}

/* What closes the record of an event dispatched at the end of input, appended to its bytes. */
static const char *closing(const coze_sse_parser *p)
{
  char last = p->in.len > p->ev_start ? p->in.data[p->in.len - 1] : '\n';
  if (last == '\n')
    return "\n";
  return last == '\r' ? "\r\n" : "\n\n"; /* after a CR, a lone LF would only complete a CRLF */
}

int coze_sse_walk(coze_sse_parser *p, const coze_sse_stops *stops, coze_sse_span *span,
                  coze_sse_event *out)
{
  stop_names nm;
  size_t start, end;
  int r, fast;
  span->bytes = "";
  span->len = span->events = span->stop_len = 0;
  span->stop = NULL;
  span->stop_tail = "";
  if ((r = begin(p)) != GO_ON)
    return r;
  if (!p->raw) {
    /* from a fresh parser or after next(): the record being parsed is where the bytes resume (a
       LOST one, dropped in part, is handed out as a stop event without bytes) */
    p->raw = 1;
    p->raw_pos = p->rec_start != COZE_SSE_LOST ? p->rec_start : p->in_pos;
  }
  start = end = p->raw_pos;
  split_names(stops, &nm);
  fast = !stops->every;
  for (;;) {
    int eof = 0;
    if (fast && fast_lane(p)) {
      size_t past = fast_records(p, stops, &nm, &span->events);
      if (past != 0)
        end = past;
    }
    r = scan_lines(p, out);
    if (r == COZE_SSE_NEED_MORE) {
      r = at_end_of_lines(p, out);
      eof = p->flushed;
    }
    if (r != COZE_SSE_EVENT) {
      if (r == COZE_SSE_NEED_MORE && p->rec_start != COZE_SSE_LOST)
        end = p->rec_start; /* records of comments or blank lines only go too */
      break;
    }
    if (p->ev_start == COZE_SSE_LOST || eof || out->eof_partial || stops_at(stops, &nm, out)) {
      if (p->ev_start != COZE_SSE_LOST) {
        end = p->ev_start;
        span->stop = p->in.data + p->ev_start;
        span->stop_len = p->rec_start - p->ev_start;
        if (eof)
          span->stop_tail = closing(p);
      }
      p->raw_pos = p->rec_start;
      span->bytes = p->in.data + start;
      span->len = end - start;
      return COZE_SSE_EVENT;
    }
    span->events++;
    end = p->rec_start;
    reset_record(p);
  }
  if (p->in.data != NULL) { /* NULL only when nothing was ever fed (end == start) */
    span->bytes = p->in.data + start;
    span->len = end - start;
  }
  if (r == COZE_SSE_NEED_MORE) /* a LOST record's lines are not kept: it is rebuilt from its parts */
    p->raw_pos = p->rec_start != COZE_SSE_LOST ? end : p->in_pos;
  return r;
}
