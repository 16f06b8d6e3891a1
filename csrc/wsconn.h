/* A WebSocket client connection on libcurl's connect-only mode: curl makes the TCP/TLS connection
 * (and the proxy tunnel) exactly as for HTTP calls, then the opening handshake and the frames go
 * through curl_easy_send/curl_easy_recv, waiting with poll() on CURLINFO_ACTIVESOCKET. Every call
 * takes a timeout in ms (0 = do not wait) and returns instead of blocking longer, so the loop that
 * waits stays in Lua. Pure C (no lua.h); the codec is csrc/ws.c, the handshake csrc/wshs.c. */
#ifndef COZE_WSCONN_H
#define COZE_WSCONN_H

#include <stddef.h>

#include "ws.h"
#include "wscodec.h"

typedef struct coze_wsconn coze_wsconn;

typedef struct coze_wsconn_opts {
  const char *url;               /* http:// or https:// (curl's view of ws:// and wss://) */
  const char *target;            /* path and query of the GET */
  const char *host;              /* Host header value */
  const char *const *headers;    /* extra "Name: value" lines (Authorization, User-Agent, ...) */
  size_t nheaders;
  long connect_timeout_ms;       /* 0 = curl's default */
  const char *proxy, *no_proxy, *ca_file, *ca_path;
  int tls_verify;
  size_t max_message;            /* 0 = COZE_WS_DEFAULT_MAX_MESSAGE */
} coze_wsconn_opts;

enum { COZE_WSCONN_TRANSPORT = 1, COZE_WSCONN_TIMEOUT, COZE_WSCONN_CLOSED, COZE_WSCONN_PROTOCOL };

typedef struct coze_wsconn_error {
  int kind;                      /* COZE_WSCONN_* */
  int close_code;                /* for PROTOCOL (the code sent) and CLOSED (1006) */
  int curl_code;
  int proxy_status;              /* the proxy's answer to a refused CONNECT; 0 otherwise */
  char message[256];
} coze_wsconn_error;

/* Starts connecting (curl's multi interface in connect-only mode, so nothing blocks) and queues the
 * handshake request. NULL with err filled when the connection cannot even start. */
coze_wsconn *coze_wsconn_open(const coze_wsconn_opts *o, coze_wsconn_error *err);
void coze_wsconn_free(coze_wsconn *c);

/* Drives the connect (bounded by connect_timeout_ms inside curl), then the handshake: 0 not done yet; 1 done: *status is the answer's status (101 checked: Upgrade,
 * Connection, Accept; then frames may flow), for another status head/head_len and body/body_len hold
 * the answer (the body read up to Content-Length, the end of the connection or 64 KiB); -1 err. */
int coze_wsconn_handshake(coze_wsconn *c, long wait_ms, int *status, const char **head, size_t *head_len,
                          const char **body, size_t *body_len, coze_wsconn_error *err);

/* Next message or close: 0 nothing within wait_ms; 1 *ev holds a MESSAGE or CLOSE (pings are answered
 * and pongs swallowed here; a CLOSE is answered with a close frame); -1 err (a FAIL sends its close
 * code first; a connection ended without a close frame is CLOSED with 1006). */
int coze_wsconn_recv(coze_wsconn *c, long wait_ms, coze_ws_event *ev, coze_wsconn_error *err);
/* The same from the bytes already received, never touching the socket for reading (queued answers
 * are still written): 0 when a read would be needed. */
int coze_wsconn_take(coze_wsconn *c, coze_ws_event *ev, coze_wsconn_error *err);

/* Queues one frame (masked with fresh random key bytes) and flushes what the socket takes now.
 * 1 all written, 0 some left (call coze_wsconn_flush), -1 err. */
int coze_wsconn_send(coze_wsconn *c, int opcode, const void *payload, size_t n, coze_wsconn_error *err);
/* The same for a text frame pre || [seq || mid] || base64(bytes) || post (coze_wscodec_send_b64). */
int coze_wsconn_send_b64(coze_wsconn *c, const coze_wscodec_b64 *f, coze_wsconn_error *err);
/* A close frame with code (0: none) and reason (cut to 123 bytes). */
int coze_wsconn_send_close(coze_wsconn *c, int code, const char *reason, size_t len, coze_wsconn_error *err);
/* Cork (on = 1) or uncork (on = 0; corks nest): while corked, data frames queue and go out in one
 * write once 64 KiB are queued, at the last uncork, or when recv/flush writes queued output anyway;
 * control frames flush at once. Returns what send returns (uncork flushes). */
int coze_wsconn_cork(coze_wsconn *c, int on, coze_wsconn_error *err);
/* Writes queued bytes for up to wait_ms: 1 all written, 0 some left, -1 err. */
int coze_wsconn_flush(coze_wsconn *c, long wait_ms, coze_wsconn_error *err);
size_t coze_wsconn_pending(const coze_wsconn *c);
/* Would the call `want` names find something now (never blocks; for a scheduler deciding whether to
 * resume the session's task): COZE_WSCONN_WANT_RECV a message, a close or an error is there or the
 * socket is readable (a decoder holding only part of a frame that recv already looked at does not
 * count); WANT_FLUSH the output is written or the socket is writable; WANT_HANDSHAKE curl's connect
 * has something to do, or the socket is readable (writable while the request is queued).
 * 1 yes, 0 no. */
enum { COZE_WSCONN_WANT_RECV = 0, COZE_WSCONN_WANT_FLUSH, COZE_WSCONN_WANT_HANDSHAKE };
int coze_wsconn_ready(coze_wsconn *c, int want);
/* Milliseconds since the last byte arrived (or since the connection was opened). */
long long coze_wsconn_idle_ms(const coze_wsconn *c);

#endif
