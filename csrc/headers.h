/* The rules for an HTTP/1.x response header block, pure C: no lua.h, no I/O.
 *
 * Every transport (libcurl today, a cosocket one, the WebSocket handshake) reads headers with the
 * same rules: field names lower-cased; a repeated field joined with ", " in order of arrival
 * (RFC 9110 5.3); an obs-fold continuation line joined to the field before it with one space
 * (RFC 9112 5.2); blanks around values trimmed; lines without a colon, with an empty name, or
 * with blanks or controls in the name are ignored (as is a continuation with no field before it).
 */
#ifndef COZE_HEADERS_H
#define COZE_HEADERS_H

#include <stddef.h>

#include "buf.h"

/* Bigger blocks are refused: what a server may make a client hold before the body. */
#define COZE_HEADERS_MAX_KIB 256
#define COZE_HEADERS_MAX_BYTES ((size_t)COZE_HEADERS_MAX_KIB << 10)
#define COZE_HEADERS_MAX_FIELDS 1000 /* field lines (repeats count) */

/* What every transport says when a server passes those limits (libcurl's and the cosocket one). */
#define COZE_HEADERS_STR_(x) #x
#define COZE_HEADERS_STR(x) COZE_HEADERS_STR_(x)
#define COZE_HEADERS_TOO_LARGE_MSG "response headers too large (limit " \
  COZE_HEADERS_STR(COZE_HEADERS_MAX_KIB) " KiB, " COZE_HEADERS_STR(COZE_HEADERS_MAX_FIELDS) " lines)"

enum {
  COZE_HEADERS_OK = 0,
  COZE_HEADERS_TOO_LARGE = -1, /* more than COZE_HEADERS_MAX_BYTES or _MAX_FIELDS */
  COZE_HEADERS_NOMEM = -2
};

typedef struct coze_header {
  const char *name;  /* lower-case, NUL-terminated */
  size_t name_len;
  const char *value; /* NUL-terminated (a value may hold NUL bytes of its own: use value_len) */
  size_t value_len;
} coze_header;

typedef struct coze_headers {
  coze_header *fields; /* distinct names in order of first arrival */
  size_t n;
  /* private */
  coze_buf store;
  size_t cap;
} coze_headers;

void coze_headers_init(coze_headers *h);
/* Parses "Name: value" lines (CRLF or LF; the status line excluded) into h, replacing what it
 * held. On an error h is left empty. */
int coze_headers_parse(coze_headers *h, const char *block, size_t len);
/* The field named name (lower-case), or NULL. */
const coze_header *coze_headers_get(const coze_headers *h, const char *name);
void coze_headers_free(coze_headers *h);

#endif
