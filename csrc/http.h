/* HTTP transfers on libcurl's multi interface, pure C: no lua.h.
 *
 * A session owns one CURLM (its connection cache: keep-alive is reused across requests of one
 * client). Requests are started without blocking; the caller drives them with wait/read calls
 * that take a timeout in ms (0 = do not block), so the waiting loop can live in Lua.
 * No callback ever reaches Lua: curl's callbacks only fill C buffers.
 * Back-pressure: when a response buffer holds max_buffer bytes the transfer is paused and
 * resumed once the caller has read. Not a content-encoded one: curl would keep inflating one read
 * into a pause buffer of its own (a gzip bomb fills its 64 MiB and fails as "out of memory"), so
 * those are bounded by max_body, or by COZE_HTTP_MAX_UNREAD unread bytes. The body can instead go straight into a sink (sink.h: an SSE
 * parser, a frame decoder), fed from curl's callback: C only.
 */
#ifndef COZE_HTTP_H
#define COZE_HTTP_H

#include <stddef.h>

#include "sink.h"

typedef struct coze_http_session coze_http_session;
typedef struct coze_http_req coze_http_req;

enum {
  COZE_HTTP_ERR = -1,  /* see coze_http_req_error */
  COZE_HTTP_AGAIN = 0, /* nothing within the timeout */
  COZE_HTTP_OK = 1,    /* headers ready / data returned */
  COZE_HTTP_EOF = 2    /* response body complete */
};

enum {
  COZE_HTTP_E_NONE = 0,
  COZE_HTTP_E_TRANSPORT, /* connection, TLS, protocol failures */
  COZE_HTTP_E_TIMEOUT,   /* one of the timeouts below fired */
  COZE_HTTP_E_NOMEM,
  COZE_HTTP_E_CLOSED,    /* the session was closed */
  COZE_HTTP_E_TOO_LARGE  /* the body passed max_body (decompressed size) */
};

/* Every timeout (the request's and a wait's) of this many ms or more means "no limit": about 24.8
 * days, so no deadline arithmetic on a clock can overflow. Bindings clamp larger values (math.huge
 * included) to it. */
#define COZE_HTTP_MS_MAX 2147483647L

#define COZE_HTTP_MAX_UNREAD ((size_t)64 << 20)

typedef struct coze_http_part {
  const char *name;      /* form field name */
  const char *filename;  /* optional */
  const char *type;      /* optional content type */
  const char *path;      /* stream from this file, or */
  const char *data;      /* send these bytes */
  size_t data_len;
} coze_http_part;

typedef struct coze_http_opts {
  const char *method;            /* "GET", "POST", "PUT", "DELETE", ... */
  const char *url;
  const char *const *headers;    /* "Name: value" lines */
  size_t nheaders;
  const char *body;              /* may be NULL; copied */
  size_t body_len;
  const coze_http_part *parts;   /* multipart/form-data instead of body when nparts > 0 */
  size_t nparts;
  /* timeouts: 0 = none (connect: curl's default, 300 s); >= COZE_HTTP_MS_MAX = no limit */
  long connect_timeout_ms;
  long first_byte_timeout_ms;    /* request start to the first response byte; 0 = none */
  long idle_timeout_ms;          /* between two received bytes; 0 = none */
  long total_timeout_ms;         /* whole transfer; 0 = none (never kill long streams by default) */
  const char *proxy;             /* NULL: curl honours HTTPS_PROXY / NO_PROXY itself */
  const char *no_proxy;
  const char *ca_file;
  const char *ca_path;
  int tls_verify;                /* 1 unless explicitly disabled */
  size_t max_buffer;             /* pause the transfer above this many unread bytes; 0 = 64 KiB */
  size_t max_body;               /* body bytes after decompression before the transfer fails; 0 = none */
} coze_http_opts;

typedef struct coze_http_error {
  int kind;                      /* COZE_HTTP_E_* */
  const char *timeout;           /* "connect", "first_byte", "idle", "total" when kind is TIMEOUT */
  int curl_code;
  int proxy_status;              /* the proxy's answer to a refused CONNECT (407, 403...); 0 otherwise */
  char message[256];
} coze_http_error;

typedef struct coze_http_info {
  double total_s, connect_s, starttransfer_s;
  long num_connects;             /* new connections this transfer made (0 = reused) */
  long local_port;
  long long upload_bytes;        /* request body bytes sent; -1 unknown */
  long long upload_total;        /* request body size; -1 unknown (chunked) */
  long long download_bytes;      /* response body bytes received so far; -1 unknown */
} coze_http_info;

coze_http_session *coze_http_session_new(void);
/* Drops the owner's reference; memory goes when the last request is freed too. */
void coze_http_session_close(coze_http_session *s);

/* Starts a transfer. NULL on failure with err filled. */
coze_http_req *coze_http_start(coze_http_session *s, const coze_http_opts *o, coze_http_error *err);
/* timeout_ms < 0 or >= COZE_HTTP_MS_MAX waits without a limit of its own (the request's timeouts still apply).
 * Timeouts: first_byte runs from the start until any response byte; idle from the last received
 * byte (from the start when first_byte is unset; the clock restarts when a paused transfer
 * resumes); total from the start. A fired timeout, like a transport error, is sticky.
 * After coze_http_session_close, requests still running return their buffered bytes, then ERR
 * with kind CLOSED; finished ones keep working until freed. */
int coze_http_wait_headers(coze_http_req *r, long timeout_ms);
/* OK: data and len hold every unread byte (valid until the next call on r).
 * EOF only after a successful transfer; a failed one gives its buffered bytes, then ERR. */
int coze_http_read(coze_http_req *r, long timeout_ms, const char **data, size_t *len);
/* Attaches a sink (NULL detaches): from now on curl's write callback feeds the body to it instead
 * of buffering it for read: one copy less. Bytes already buffered are fed first. The transfer is
 * paused once max_buffer bytes were fed since the last pump, so the caller alternates draining
 * the sink's consumer (e.g. coze_sse_next until NEED_MORE) with coze_http_pump. The sink (copied)
 * and its ctx must stay valid while attached; coze_http_read detaches. 0, or COZE_HTTP_ERR when
 * the sink refused the buffered bytes (then nothing is attached). */
int coze_http_attach(coze_http_req *r, const coze_sink *sink);
/* With a sink attached: OK when bytes were fed to it since the last call, AGAIN, EOF or ERR, as
 * coze_http_read (a failed transfer's bytes are fed first, then ERR). */
int coze_http_pump(coze_http_req *r, long timeout_ms);
/* For schedulers, never blocks: 1 when wait_headers (want_headers) or read/pump would not wait
 * (bytes, headers, the end or an error are there, or a timeout of the request is due). The session
 * is polled, and its sockets' bytes received, once per distinct round number. */
int coze_http_ready(coze_http_req *r, int want_headers, unsigned long round);
/* A scheduler with many waiting requests asks the session once per round instead of each request:
 * coze_http_watch marks r with key (> 0; 0 unmarks) and what it waits for, and
 * coze_http_session_ready returns how many marked requests coze_http_ready would call ready and
 * writes their keys, from the skip-th on, into keys (at most cap): more than cap, call again with
 * the same round and skip += cap (a round polls once). A freed request is unmarked. */
void coze_http_watch(coze_http_req *r, long key, int want_headers);
size_t coze_http_session_ready(coze_http_session *s, unsigned long round, size_t skip, long *keys, size_t cap);
/* The whole body in one buffer: OK with data/len (valid until the next call on r, or until
 * coze_http_release), AGAIN, EOF once handed out, or ERR. The transfer is not paused meanwhile;
 * max_body (when > 0 and below the request's) bounds it, and the buffer is sized from
 * Content-Length when the server sent one. Bytes read() handed out before are not included. */
int coze_http_read_all(coze_http_req *r, size_t max_body, long timeout_ms, const char **data,
                       size_t *len);
/* Frees the buffer the last read or read_all handed out. */
void coze_http_release(coze_http_req *r);
/* 0 until the headers are ready. */
int coze_http_status(const coze_http_req *r);
/* NULL until ready. Raw header block of the final response ("Name: value\r\n" lines, status line excluded). */
const char *coze_http_headers(const coze_http_req *r, size_t *len);
const coze_http_error *coze_http_req_error(const coze_http_req *r);
void coze_http_req_info(coze_http_req *r, coze_http_info *info);
/* Aborts if still running (the connection is not reused) and frees. */
void coze_http_free(coze_http_req *r);

/* "libcurl/8.x OpenSSL/3.x zlib/1.x" into buf (runs curl_global_init once). */
void coze_http_version(char *buf, size_t n);

#endif
