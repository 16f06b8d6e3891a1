/* Incremental Server-Sent-Events parser (WHATWG rules), pure C: no lua.h, no I/O.
 *
 * Feed bytes as they arrive, split anywhere; pull events one at a time.
 * Lenient where Coze needs it (events.md section 0):
 *  - a record with an `event:` field but no `data:` line is still dispatched (data "");
 *  - at end of input (coze_sse_finish) an unterminated last line is processed as a line and a
 *    pending record is dispatched, flagged eof_partial so the caller can judge truncation.
 *
 * Two ways to pull: coze_sse_next hands out one event at a time; coze_sse_walk (for relays) consumes
 * every complete event buffered and hands out the bytes they span as received, stopping at the
 * events the caller must see one by one (terminal, error...). A parser may switch between them.
 */
#ifndef COZE_SSE_H
#define COZE_SSE_H

#include <stddef.h>

#include "buf.h"

enum {
  COZE_SSE_EVENT = 1,     /* *out holds an event */
  COZE_SSE_NEED_MORE = 0, /* all input consumed, no complete event */
  COZE_SSE_TOO_LARGE = -1,/* an event exceeded max_event_bytes; the parser stays in error */
  COZE_SSE_NOMEM = -2
};

typedef struct coze_sse_event {
  const char *event; /* NULL when the record had no event field (WHATWG default "message") */
  size_t event_len;
  const char *data;  /* never NULL; data lines joined by "\n" */
  size_t data_len;
  const char *id;    /* last event id (persists across records, WHATWG); NULL if never set */
  size_t id_len;
  long retry;        /* last valid retry value in ms, -1 if never set */
  int eof_partial;   /* dispatched by coze_sse_finish from an unterminated line */
} coze_sse_event;

typedef struct coze_sse_parser {
  /* Private. Lines are parsed in place inside `in`; only data and event are copied out. */
  coze_buf in;        /* input not yet parsed starts at in_pos (earlier bytes are dropped on feed) */
  size_t in_pos;
  size_t scan;        /* bytes after in_pos already known to hold no CR/LF (an unfinished line) */
  coze_buf event;     /* current record's event name, when not referenced in `in` */
  coze_buf data;      /* current record's data, each line followed by "\n" */
  size_t ref_off;     /* a record's first data line is left in `in` (offset, length) until */
  size_t ref_len;     /* a second line comes or next() returns: one copy less per event */
  size_t eref_off;    /* the same for its event name (until next() returns NEED_MORE) */
  size_t eref_len;
  coze_buf id;        /* last event id */
  size_t max_event_bytes;
  long retry;
  int has_event, has_data, has_ref, has_eref, has_id;
  int skip_lf;        /* the previous line ended in CR at the end of input: drop a leading LF */
  int seen_cr;        /* some input held a CR: until then lines are only searched for LF */
  int bom_checked;
  int finished;       /* coze_sse_finish was called */
  int flushed;        /* ... and the end of input has been processed */
  int dispatched;     /* the record handed out by the last next() is reset on the next call */
  int error;          /* sticky COZE_SSE_TOO_LARGE / COZE_SSE_NOMEM, else 0 */
  size_t events;      /* records dispatched since init (what a log reports at a stream's end) */
  /* Where records begin in `in`, for coze_sse_walk (tracked always, kept in memory only in raw mode;
     COZE_SSE_LOST once a feed dropped the start of the record being parsed). */
  size_t rec_start;   /* the record being parsed: the byte after the last blank line */
  size_t ev_start;    /* the record the last dispatch handed out */
  size_t raw_pos;     /* raw mode: the first byte no walk has handed out (feed keeps from here) */
  int raw;            /* raw mode: from a coze_sse_walk until the next coze_sse_next */
} coze_sse_parser;

#define COZE_SSE_LOST ((size_t)-1)

/* What stops a walk, besides an event dispatched at the end of input. */
typedef struct coze_sse_stops {
  const char *names;  /* event names, each followed by '\n' ("done\nerror\n"); a record without an
                         event field is "message" */
  size_t names_len;
  const char *data;   /* when not NULL: also an event whose data is exactly these data_len bytes */
  size_t data_len;
  int every;          /* every event (one at a time, still with its bytes) */
} coze_sse_stops;

/* What a walk consumed, in the input as received (CR, CRLF, comments, id and retry lines as they
 * came; a BOM at the start of the stream is not part of it, unless another 0xEF follows it: a
 * receiver strips one BOM, so then it is handed out for the next one to stay text there too). Valid until the next call on p. */
typedef struct coze_sse_span {
  const char *bytes;  /* whole records: they end right after a blank line, so they can be written */
  size_t len;         /* to an SSE client as they are, and anything written after them starts a record */
  size_t events;      /* events among them (a span may also hold only comments or blank lines) */
  const char *stop;   /* the stop event's own bytes, right after `bytes`; NULL when its start was */
  size_t stop_len;    /* dropped before the first walk (the parser was read with next() till then) */
  const char *stop_tail; /* "" or what makes an event dispatched at the end of input (no blank line */
                         /* after it) a whole record when appended to `stop` */
} coze_sse_span;

void coze_sse_init(coze_sse_parser *p, size_t max_event_bytes);
/* Appends bytes to the input. 0, or COZE_SSE_NOMEM. Bytes fed after finish or after an error
 * are dropped. The limit is enforced by next(): alternate feed and next to keep memory bounded. */
int coze_sse_feed(coze_sse_parser *p, const char *bytes, size_t len);
/* Next event. Pointers in *out stay valid until the next call on p. */
int coze_sse_next(coze_sse_parser *p, coze_sse_event *out);
/* Consumes every complete event buffered, up to and including the first that `stops` names or that
 * is dispatched at the end of input (coze_sse_finish), which is returned in *out as by next():
 *   COZE_SSE_EVENT      *out holds the stop event, span->stop its bytes (span->bytes come before);
 *   COZE_SSE_NEED_MORE  no stop event: span holds every complete record buffered (maybe none);
 *   an error            span holds the records before it (write them, then report); it sticks.
 * In raw mode (from a walk to the next next()) max_event_bytes also bounds a record's bytes as
 * received, from its start to the end of its last line's text (comments and framing included), so
 * the bytes a walk keeps are bounded too: more is COZE_SSE_TOO_LARGE. */
int coze_sse_walk(coze_sse_parser *p, const coze_sse_stops *stops, coze_sse_span *span,
                  coze_sse_event *out);
/* Marks end of input; later next() calls flush an unterminated line and a pending record. */
void coze_sse_finish(coze_sse_parser *p);
/* Back to a fresh stream with the same limit (memory is released). */
void coze_sse_reset(coze_sse_parser *p);
void coze_sse_free(coze_sse_parser *p);
/* Bytes held: unparsed input (in raw mode: not yet handed out by a walk) plus the pending record. */
size_t coze_sse_buffered(const coze_sse_parser *p);

#endif
