#define _POSIX_C_SOURCE 200809L
#include "wsconn.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "wscodec.h"

#define READ_CHUNK 65536

enum { PHASE_CONNECT, PHASE_HEAD, PHASE_BODY, PHASE_OPEN };

struct coze_wsconn {
  CURLM *multi;            /* connects without blocking; the easy handle stays in it for send/recv */
  CURL *curl;
  curl_socket_t sock;
  int phase;
  coze_wscodec codec;      /* key, decoder and the queue of frames (first the request) to write */
  coze_buf hs;             /* the handshake answer */
  long head_len;
  long long body_want;     /* Content-Length of a non-101 answer, -1 = until the end */
  int chunked;             /* that answer's body is chunked */
  int status;
  int eof;
  int starved;             /* recv found only part of a frame: the buffered bytes are no news */
  long long last_rx_ms;
  char errbuf[CURL_ERROR_SIZE];
};

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_err(coze_wsconn_error *e, int kind, int code, const char *fmt, ...)
{
  va_list ap;
  e->kind = kind;
  e->close_code = code;
  e->curl_code = 0;
  e->proxy_status = 0;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

static int curl_err(coze_wsconn *c, coze_wsconn_error *e, CURLcode rc, const char *what)
{
  set_err(e, rc == CURLE_OPERATION_TIMEDOUT ? COZE_WSCONN_TIMEOUT : COZE_WSCONN_TRANSPORT, 0, "%s: %s", what,
          c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
  e->curl_code = (int)rc;
  {
    long proxy = 0; /* a proxy that refused the CONNECT: its status, as the cosocket connection reports it */
    if (curl_easy_getinfo(c->curl, CURLINFO_HTTP_CONNECTCODE, &proxy) == CURLE_OK && proxy >= 300)
      e->proxy_status = (int)proxy;
  }
  return -1;
}

void coze_wsconn_free(coze_wsconn *c)
{
  if (c == NULL)
    return;
  if (c->multi != NULL && c->curl != NULL)
    curl_multi_remove_handle(c->multi, c->curl);
  if (c->curl != NULL)
    curl_easy_cleanup(c->curl); /* closes the connect-only socket */
  if (c->multi != NULL)
    curl_multi_cleanup(c->multi);
  coze_wscodec_free(&c->codec);
  coze_buf_free(&c->hs);
  free(c);
}

static int add(coze_buf *b, const char *s)
{
  return coze_buf_append(b, s, strlen(s));
}

coze_wsconn *coze_wsconn_open(const coze_wsconn_opts *o, coze_wsconn_error *err)
{
  coze_wsconn *c = calloc(1, sizeof *c);
  coze_buf *out;
  const char *why = NULL;
  size_t i;
  int bad = 0;
  if (c == NULL) {
    set_err(err, COZE_WSCONN_TRANSPORT, 0, "out of memory");
    return NULL;
  }
  coze_buf_init(&c->hs);
  c->body_want = -1;
  c->last_rx_ms = now_ms();
  if (coze_wscodec_init(&c->codec, o->max_message, &why) != 0) {
    set_err(err, COZE_WSCONN_TRANSPORT, 0, "%s", why);
    goto fail;
  }
  out = &c->codec.out;
  /* curl_easy_init runs curl_global_init itself when nothing did yet (it is reference counted) */
  c->curl = curl_easy_init();
  if (c->curl == NULL) {
    set_err(err, COZE_WSCONN_TRANSPORT, 0, "curl_easy_init failed");
    goto fail;
  }
  curl_easy_setopt(c->curl, CURLOPT_URL, o->url);
  curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
  /* through a proxy the connection must be a CONNECT tunnel, also for ws:// */
  curl_easy_setopt(c->curl, CURLOPT_HTTPPROXYTUNNEL, 1L);
  if (o->connect_timeout_ms > 0)
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  if (o->proxy != NULL)
    curl_easy_setopt(c->curl, CURLOPT_PROXY, o->proxy);
  if (o->no_proxy != NULL)
    curl_easy_setopt(c->curl, CURLOPT_NOPROXY, o->no_proxy);
  if (o->ca_file != NULL)
    curl_easy_setopt(c->curl, CURLOPT_CAINFO, o->ca_file);
  if (o->ca_path != NULL)
    curl_easy_setopt(c->curl, CURLOPT_CAPATH, o->ca_path);
  if (!o->tls_verify) {
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  c->multi = curl_multi_init();
  if (c->multi == NULL || curl_multi_add_handle(c->multi, c->curl) != CURLM_OK) {
    set_err(err, COZE_WSCONN_TRANSPORT, 0, "curl_multi_init failed");
    goto fail;
  }
  bad |= add(out, "GET ") | add(out, o->target) | add(out, " HTTP/1.1\r\nHost: ") | add(out, o->host) |
         add(out, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: ") |
         add(out, c->codec.key) | add(out, "\r\n");
  for (i = 0; i < o->nheaders; i++)
    bad |= add(out, o->headers[i]) | add(out, "\r\n");
  bad |= add(out, "\r\n");
  if (bad) {
    set_err(err, COZE_WSCONN_TRANSPORT, 0, "out of memory");
    goto fail;
  }
  c->phase = PHASE_CONNECT;
  return c;
fail:
  coze_wsconn_free(c);
  return NULL;
}

size_t coze_wsconn_pending(const coze_wsconn *c)
{
  return coze_wscodec_pending(&c->codec);
}

long long coze_wsconn_idle_ms(const coze_wsconn *c)
{
  return now_ms() - c->last_rx_ms;
}

/* One poll() of the socket with timeout 0: 1 when any of events (or an error or hang-up) is set. */
static int poll_now(coze_wsconn *c, int events)
{
  struct pollfd p;
  int n;
  p.fd = (int)c->sock;
  p.events = (short)events;
  p.revents = 0;
  while ((n = poll(&p, 1, 0)) < 0 && errno == EINTR) {
  }
  return n != 0; /* a failing poll: let the call find out */
}

int coze_wsconn_ready(coze_wsconn *c, int want)
{
  int out = coze_wsconn_pending(c) > 0;
  if (c->phase == PHASE_CONNECT) {
    long t = -1;
    int n = 0;
    curl_multi_timeout(c->multi, &t);
    if (t == 0)
      return 1;
    return curl_multi_wait(c->multi, NULL, 0, 0, &n) != CURLM_OK || n > 0;
  }
  if (want == COZE_WSCONN_WANT_FLUSH)
    return !out || poll_now(c, POLLOUT);
  if (c->eof)
    return 1;
  if (want == COZE_WSCONN_WANT_RECV && !c->starved && c->codec.dec.in.len > c->codec.dec.pos)
    return 1;
  return poll_now(c, out ? POLLIN | POLLOUT : POLLIN);
}

static void wait_io(coze_wsconn *c, int events, long ms)
{
  struct pollfd p;
  if (ms <= 0)
    return;
  p.fd = (int)c->sock;
  p.events = (short)events;
  p.revents = 0;
  while (poll(&p, 1, (int)(ms > 60000 ? 60000 : ms)) < 0 && errno == EINTR) {
  }
}

int coze_wsconn_flush(coze_wsconn *c, long wait_ms, coze_wsconn_error *err)
{
  long long deadline = now_ms() + (wait_ms > 0 ? wait_ms : 0);
  while (coze_wscodec_pending(&c->codec) > 0) {
    size_t n = 0;
    CURLcode rc = curl_easy_send(c->curl, coze_wscodec_output(&c->codec), coze_wscodec_pending(&c->codec), &n);
    if (rc == CURLE_OK) {
      coze_wscodec_written(&c->codec, n);
    } else if (rc == CURLE_AGAIN) {
      long long left = deadline - now_ms();
      if (left <= 0)
        return 0;
      wait_io(c, POLLOUT, (long)left);
    } else {
      return curl_err(c, err, rc, "send failed");
    }
  }
  return 1;
}

/* Reads what is there into dst (up to cap) before deadline: bytes read, 0 at the deadline, -2 at the
 * end of the connection, -1 err. Queued output is written while waiting. */
static long read_some(coze_wsconn *c, char *dst, size_t cap, long long deadline, coze_wsconn_error *err)
{
  for (;;) {
    size_t n = 0;
    CURLcode rc = curl_easy_recv(c->curl, dst, cap, &n);
    long long left;
    if (rc == CURLE_OK) {
      if (n > 0)
        c->last_rx_ms = now_ms();
      return n > 0 ? (long)n : -2;
    }
    if (rc != CURLE_AGAIN)
      return curl_err(c, err, rc, "receive failed");
    if (coze_wsconn_pending(c) > 0 && coze_wsconn_flush(c, 0, err) < 0)
      return -1;
    left = deadline - now_ms();
    if (left <= 0)
      return 0;
    wait_io(c, coze_wsconn_pending(c) > 0 ? POLLIN | POLLOUT : POLLIN, (long)left);
  }
}

/* Drives curl's connect (TCP, proxy tunnel, TLS) until the deadline: 1 connected, 0 not yet, -1 err. */
static int connect_step(coze_wsconn *c, long long deadline, coze_wsconn_error *err)
{
  for (;;) {
    int running = 0, left = 0;
    CURLMsg *m;
    curl_multi_perform(c->multi, &running);
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
      curl_socket_t sock = CURL_SOCKET_BAD;
      if (m->msg != CURLMSG_DONE)
        continue;
      if (m->data.result != CURLE_OK)
        return curl_err(c, err, m->data.result, "cannot connect");
      if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK || sock == CURL_SOCKET_BAD)
        return set_err(err, COZE_WSCONN_TRANSPORT, 0, "no socket after connecting");
      c->sock = sock;
      c->phase = PHASE_HEAD;
      return 1;
    }
    {
      long long wait = deadline - now_ms();
      if (wait <= 0)
        return 0;
      curl_multi_poll(c->multi, NULL, 0, (int)(wait > 60000 ? 60000 : wait), NULL);
    }
  }
}

int coze_wsconn_handshake(coze_wsconn *c, long wait_ms, int *status, const char **head, size_t *head_len,
                          const char **body, size_t *body_len, coze_wsconn_error *err)
{
  long long deadline = now_ms() + (wait_ms > 0 ? wait_ms : 0);
  if (c->phase == PHASE_OPEN)
    return set_err(err, COZE_WSCONN_TRANSPORT, 0, "handshake already done");
  if (c->phase == PHASE_CONNECT) {
    int r = connect_step(c, deadline, err);
    if (r <= 0)
      return r;
  }
  if (coze_wsconn_flush(c, wait_ms, err) < 0)
    return -1;
  for (;;) {
    long got;
    if (c->phase == PHASE_HEAD) {
      long hl = coze_wshs_head_len(c->hs.data ? c->hs.data : "", c->hs.len);
      if (hl < 0)
        return set_err(err, COZE_WSCONN_TRANSPORT, 0, "handshake answer head longer than %d bytes",
                       COZE_WSHS_MAX_HEAD);
      if (hl > 0) {
        c->head_len = hl;
        c->status = coze_wshs_status(c->hs.data, (size_t)hl);
        if (c->status < 0)
          return set_err(err, COZE_WSCONN_TRANSPORT, 0, "malformed handshake answer");
        if (c->status == 101) {
          const char *why = NULL;
          if (coze_wscodec_check_answer(&c->codec, c->hs.data, (size_t)hl, &why) != 0)
            return set_err(err, COZE_WSCONN_TRANSPORT, 0, "%s", why);
          /* frames sent right behind the answer */
          if (coze_ws_feed(&c->codec.dec, c->hs.data + hl, c->hs.len - (size_t)hl) != 0)
            return set_err(err, COZE_WSCONN_TRANSPORT, 0, "out of memory");
          coze_buf_free(&c->hs);
          c->phase = PHASE_OPEN;
          *status = 101;
          *head = *body = NULL;
          *head_len = *body_len = 0;
          return 1;
        } else {
          size_t vl = 0;
          const char *v = coze_wshs_header(c->hs.data, (size_t)hl, "content-length", &vl);
          if (v != NULL) {
            char num[24];
            if (vl >= sizeof num)
              vl = sizeof num - 1;
            memcpy(num, v, vl);
            num[vl] = '\0';
            c->body_want = strtoll(num, NULL, 10);
          }
          v = coze_wshs_header(c->hs.data, (size_t)hl, "transfer-encoding", &vl);
          c->chunked = v != NULL && vl >= 7 && memcmp(v + vl - 7, "chunked", 7) == 0;
          c->phase = PHASE_BODY;
        }
      }
    }
    if (c->phase == PHASE_BODY) {
      size_t have = c->hs.len - (size_t)c->head_len;
      if (c->chunked) {
        size_t dl = 0;
        int r = coze_wshs_dechunk(c->hs.data + c->head_len, have, &dl);
        if (r != 0 || c->eof || have >= COZE_WSHS_MAX_ERROR_BODY) {
          c->chunked = 0;
          c->body_want = r == 1 ? (long long)dl : 0; /* a malformed or cut body reads as empty */
          c->eof = 1;
          continue;
        }
      }
      if (c->eof || have >= COZE_WSHS_MAX_ERROR_BODY || (c->body_want >= 0 && (long long)have >= c->body_want)) {
        if (c->body_want >= 0 && (long long)have > c->body_want)
          have = (size_t)c->body_want;
        if (have > COZE_WSHS_MAX_ERROR_BODY) /* a read may have run past it: hand out as much as the cosocket one */
          have = COZE_WSHS_MAX_ERROR_BODY;
        *status = c->status;
        *head = c->hs.data;
        *head_len = (size_t)c->head_len;
        *body = c->hs.data + c->head_len;
        *body_len = have;
        return 1;
      }
    }
    if (c->eof)
      return set_err(err, COZE_WSCONN_CLOSED, COZE_WS_ABNORMAL, "connection closed during the handshake");
    if (coze_buf_reserve(&c->hs, READ_CHUNK) != 0)
      return set_err(err, COZE_WSCONN_TRANSPORT, 0, "out of memory");
    got = read_some(c, c->hs.data + c->hs.len, READ_CHUNK, deadline, err);
    if (got == 0)
      return 0;
    if (got == -1)
      return -1;
    if (got == -2) {
      c->eof = 1;
      continue;
    }
    c->hs.len += (size_t)got;
    c->hs.data[c->hs.len] = '\0';
  }
}

/* After queueing: what the socket takes now, unless corked data frames (data: not a control frame)
 * may wait. */
static int queued(coze_wsconn *c, int r, const char *why, int data, coze_wsconn_error *err)
{
  if (r != 0)
    return set_err(err, COZE_WSCONN_TRANSPORT, 0, "%s", why);
  if (coze_wscodec_holds(&c->codec, data))
    return 1; /* corked data frames wait for more */
  return coze_wsconn_flush(c, 0, err);
}

static int open_or_fail(const coze_wsconn *c, coze_wsconn_error *err)
{
  if (c->phase != PHASE_OPEN)
    return set_err(err, COZE_WSCONN_TRANSPORT, 0, "the handshake is not done");
  return 0;
}

int coze_wsconn_cork(coze_wsconn *c, int on, coze_wsconn_error *err)
{
  if (coze_wscodec_cork(&c->codec, on) > 0)
    return 1;
  return coze_wsconn_flush(c, 0, err);
}

int coze_wsconn_send(coze_wsconn *c, int opcode, const void *payload, size_t n, coze_wsconn_error *err)
{
  const char *why = NULL;
  if (open_or_fail(c, err) != 0)
    return -1;
  return queued(c, coze_wscodec_send(&c->codec, opcode, payload, n, &why), why, opcode < COZE_WS_OP_CLOSE, err);
}

int coze_wsconn_send_b64(coze_wsconn *c, const coze_wscodec_b64 *f, coze_wsconn_error *err)
{
  const char *why = NULL;
  if (open_or_fail(c, err) != 0)
    return -1;
  return queued(c, coze_wscodec_send_b64(&c->codec, f, &why), why, 1, err);
}

int coze_wsconn_send_close(coze_wsconn *c, int code, const char *reason, size_t len, coze_wsconn_error *err)
{
  const char *why = NULL;
  if (open_or_fail(c, err) != 0)
    return -1;
  return queued(c, coze_wscodec_send_close(&c->codec, code, reason, len, &why), why, 0, err);
}

/* What the decoder has: 1 *ev holds a MESSAGE or CLOSE, 0 NEED_MORE, -1 err (as coze_wsconn_recv). */
static int decoded(coze_wsconn *c, coze_ws_event *ev, coze_wsconn_error *err)
{
  coze_ws_result r = coze_wscodec_next(&c->codec, ev);
  /* pongs and close echoes; only a lost pong fails the call (a close ends the session anyway) */
  if (coze_wscodec_pending(&c->codec) > 0 && coze_wsconn_flush(c, 0, err) < 0 && r != COZE_WS_CLOSE &&
      r != COZE_WS_FAIL)
    return -1;
  if (r == COZE_WS_MESSAGE || r == COZE_WS_CLOSE)
    return 1;
  if (r == COZE_WS_FAIL)
    return set_err(err, COZE_WSCONN_PROTOCOL, ev->close_code, "%s", ev->msg);
  return 0;
}

int coze_wsconn_take(coze_wsconn *c, coze_ws_event *ev, coze_wsconn_error *err)
{
  if (c->phase != PHASE_OPEN)
    return set_err(err, COZE_WSCONN_TRANSPORT, 0, "the handshake is not done");
  return decoded(c, ev, err);
}

int coze_wsconn_recv(coze_wsconn *c, long wait_ms, coze_ws_event *ev, coze_wsconn_error *err)
{
  long long deadline = now_ms() + (wait_ms > 0 ? wait_ms : 0);
  if (c->phase != PHASE_OPEN)
    return set_err(err, COZE_WSCONN_TRANSPORT, 0, "the handshake is not done");
  for (;;) {
    int r = decoded(c, ev, err);
    long got;
    char *dst;
    if (r != 0)
      return r;
    if (c->eof)
      return set_err(err, COZE_WSCONN_CLOSED, COZE_WS_ABNORMAL, "connection closed without a close frame");
    dst = coze_ws_space(&c->codec.dec, READ_CHUNK);
    if (dst == NULL)
      return set_err(err, COZE_WSCONN_PROTOCOL, COZE_WS_TOO_BIG, "receive buffer full");
    got = read_some(c, dst, READ_CHUNK, deadline, err);
    if (got == 0) {
      c->starved = 1;
      return 0;
    }
    c->starved = 0;
    if (got == -1) {
      err->kind = COZE_WSCONN_CLOSED; /* a reset connection: the close frame never came */
      err->close_code = COZE_WS_ABNORMAL;
      return -1;
    }
    if (got == -2) {
      c->eof = 1;
      continue;
    }
    coze_ws_fed(&c->codec.dec, (size_t)got);
  }
}
