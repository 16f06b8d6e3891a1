/* HTTP transfers on libcurl's multi interface (see http.h). Pure C: no lua.h.
 *
 * Each request owns two buffers: `in` is filled by curl's write callback, `out` holds the bytes
 * last handed to the caller. read() swaps them, so the pointer it returns stays valid while other
 * requests of the session drive the multi handle (which may run this request's callbacks).
 * With a sink attached (coze_http_attach) write_cb feeds it instead and neither is used.
 *
 * After coze_http_session_close every live request is detached from the multi handle (an aborted
 * transfer closes its connection) and its next wait/read returns its buffered bytes, then
 * ERR with kind CLOSED. The session struct itself is freed with the last request.
 */
#define _POSIX_C_SOURCE 200809L
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#if defined(__linux__) && !defined(COZE_HTTP_NO_EPOLL) /* -DCOZE_HTTP_NO_EPOLL tests the poll() path */
#include <sys/epoll.h>
#define COZE_HTTP_EPOLL 1
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "headers.h"

/* 64 KiB: a reader that keeps up never sees more, and a large buffer only costs memory
   (200 concurrent streams: 232 -> 36 MB RSS) and cache misses. */
#define DEFAULT_MAX_BUFFER ((size_t)64 << 10)

struct coze_http_session {
  CURLM *multi;                 /* NULL once closed */
  int refs;                     /* the owner + every request not yet freed */
  int closed;
  coze_http_req *reqs;          /* live requests, to detach them on close */
  unsigned long ready_round;    /* the last coze_http_ready round that polled this session */
  /* The sockets curl wants watched (CURLMOPT_SOCKETFUNCTION) and its next timer
     (CURLMOPT_TIMERFUNCTION, -1 none), so a ready round is one look at exactly these: an epoll set
     on Linux (a look costs the same for 1 and 200 silent sockets), else a poll() array. */
  int epfd;                     /* -1: the poll() array */
  struct pollfd *pfds;
  size_t npfds, cap_pfds;
  long long timer_at;
  int sockets_lost;             /* out of memory once: rounds fall back to curl_multi_wait */
};

enum { BODY_OVER_MAX = 1, BODY_UNREAD };

struct coze_http_req {
  coze_http_session *s;
  coze_http_req *prev, *next;
  CURL *easy;
  struct curl_slist *slist;
  curl_mime *mime;
  char errbuf[CURL_ERROR_SIZE];

  coze_buf hdr;                 /* header block being received (status line excluded) */
  int status;                   /* of the latest status line */
  int hdr_done;                 /* the final (>= 200) block has ended */
  int hdr_lines;                /* lines of the current block (headers.h limits) */
  int hdr_too_large;            /* the transfer was aborted for that */

  coze_buf in, out;
  size_t max_buffer;
  size_t max_body, body_bytes;  /* body bytes taken so far (after decompression) */
  int encoded;                  /* the final response has a Content-Encoding: never paused */
  int body_too_large;           /* aborted for BODY_OVER_MAX or BODY_UNREAD */
  int paused;
  int all;                      /* coze_http_read_all: 1 reading, 2 handed out */
  coze_sink sink;               /* when sink.feed is set, write_cb feeds it instead of `in` */
  size_t fed;                   /* bytes fed to it since the last pump */

  int attached;                 /* in the multi handle */
  int done;                     /* curl reported CURLMSG_DONE */
  CURLcode result;
  int nomem;                    /* a callback ran out of memory */

  long long start_ms, last_byte_ms;
  long long first_byte_from_ms; /* the first-byte clock restarts while the request body is sent */
  curl_off_t ul_now;            /* request body bytes sent so far */
  int got_byte;
  long connect_ms, first_byte_ms, idle_ms, total_ms;

  coze_http_error err;          /* sticky once kind != NONE */
  long watch_key;               /* coze_http_watch: > 0 reported by coze_http_session_ready */
  int watch_headers;
};

/* ---- helpers ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK; /* written once, under global_once */

static void global_init(void)
{
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* From curl_version_info: curl_version() would also initialise libldap/libsasl (one-time
   allocations that are never freed) only to print their versions. */
void coze_http_version(char *buf, size_t n)
{
  const curl_version_info_data *v;
  pthread_once(&global_once, global_init);
  v = curl_version_info(CURLVERSION_NOW);
  snprintf(buf, n, "libcurl/%s%s%s%s%s", v->version, v->ssl_version ? " " : "",
           v->ssl_version ? v->ssl_version : "", v->libz_version ? " zlib/" : "",
           v->libz_version ? v->libz_version : "");
}

static void set_error(coze_http_error *e, int kind, const char *timeout, int code,
                      const char *fmt, ...)
{
  va_list ap;
  e->kind = kind;
  e->timeout = timeout;
  e->curl_code = code;
  e->proxy_status = 0;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
}

static void detach(coze_http_req *r)
{
  if (r->attached) {
    curl_multi_remove_handle(r->s->multi, r->easy);
    r->attached = 0;
  }
}

/* ---- curl callbacks: C buffers only ---- */

/* The final header block names a Content-Encoding other than identity (curl decodes it). */
static int content_encoded(const coze_http_req *r)
{
  coze_headers h;
  const coze_header *ce;
  int yes;
  coze_headers_init(&h);
  if (coze_headers_parse(&h, r->hdr.data != NULL ? r->hdr.data : "", r->hdr.len) != COZE_HEADERS_OK) {
    coze_headers_free(&h);
    return 1; /* unknown: the safe side (no pause) */
  }
  ce = coze_headers_get(&h, "content-encoding");
  yes = ce != NULL && ce->value_len > 0 && strcmp(ce->value, "identity") != 0;
  coze_headers_free(&h);
  return yes;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
  coze_http_req *r = ud;
  size_t len = size * n;
  r->got_byte = 1;
  r->last_byte_ms = coze_now_ms();
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* a new response block: 1xx interim responses come before the final one */
    const char *sp = memchr(p, ' ', len);
    int code = 0;
    if (sp != NULL) {
      const char *end = p + len;
      for (sp++; sp < end && *sp >= '0' && *sp <= '9'; sp++)
        code = code * 10 + (*sp - '0');
    }
    r->status = code;
    r->hdr_done = 0;
    r->hdr_lines = 0;
    coze_buf_reset(&r->hdr);
    return len;
  }
  if (r->hdr_done)
    return len; /* trailers */
  if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
    if (r->status >= 200) {
      r->hdr_done = 1;
      r->encoded = content_encoded(r);
    }
    return len;
  }
  if (len > COZE_HEADERS_MAX_BYTES - r->hdr.len || ++r->hdr_lines > COZE_HEADERS_MAX_FIELDS) {
    r->hdr_too_large = 1;
    return 0;
  }
  if (coze_buf_append(&r->hdr, p, len) != 0) {
    r->nomem = 1;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  return len;
}

/* Whether the body can take len more bytes: max_body, and for a content-encoded body (never
   paused) COZE_HTTP_MAX_UNREAD unread bytes. Else the transfer is aborted. */
static int body_room(coze_http_req *r, size_t unread, size_t len)
{
  if (r->max_body > 0 && (r->body_bytes > r->max_body || len > r->max_body - r->body_bytes)) {
    r->body_too_large = BODY_OVER_MAX;
    return 0;
  }
  if (r->encoded && !r->all && unread + len > COZE_HTTP_MAX_UNREAD) {
    r->body_too_large = BODY_UNREAD;
    return 0;
  }
  r->body_bytes += len;
  return 1;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
  coze_http_req *r = ud;
  size_t len = size * n;
  int rc;
  if (r->sink.feed != NULL) {
    /* straight into the sink: the bytes are copied once, from curl's buffer to the consumer's */
    if (r->fed >= r->max_buffer && !r->encoded) {
      r->paused = 1;
      return CURL_WRITEFUNC_PAUSE;
    }
    if (!body_room(r, r->fed, len))
      return 0;
    rc = r->sink.feed(r->sink.ctx, p, len);
    if (rc > 0) { /* busy: offered again when the transfer resumes */
      r->paused = 1;
      return CURL_WRITEFUNC_PAUSE;
    }
    if (rc != 0) {
      r->nomem = 1;
      return 0;
    }
    r->got_byte = 1;
    r->last_byte_ms = coze_now_ms();
    r->fed += len;
    return len;
  }
  if (r->in.len >= r->max_buffer && !r->encoded) {
    r->paused = 1;
    return CURL_WRITEFUNC_PAUSE; /* curl keeps these bytes and offers them again on resume */
  }
  if (!body_room(r, r->in.len, len))
    return 0;
  r->got_byte = 1;
  r->last_byte_ms = coze_now_ms();
  if (coze_buf_append(&r->in, p, len) != 0) {
    r->nomem = 1;
    return 0;
  }
  return len;
}

/* ---- session ---- */

/* ---- the socket set a ready round polls (curl callbacks: C only) ---- */

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  coze_http_session *s = userp;
  size_t i;
  short ev;
  (void)easy;
  (void)socketp;
#ifdef COZE_HTTP_EPOLL
  if (s->epfd >= 0) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.data.fd = (int)fd;
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(s->epfd, EPOLL_CTL_DEL, (int)fd, &e); /* fails when curl closed it already: fine */
      return 0;
    }
    e.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, (int)fd, &e) != 0 &&
        (errno != ENOENT || epoll_ctl(s->epfd, EPOLL_CTL_ADD, (int)fd, &e) != 0))
      s->sockets_lost = 1;
    return 0;
  }
#endif
  for (i = 0; i < s->npfds && s->pfds[i].fd != (int)fd; i++) {
  }
  if (what == CURL_POLL_REMOVE) {
    if (i < s->npfds)
      s->pfds[i] = s->pfds[--s->npfds];
    return 0;
  }
  ev = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
  if (i == s->npfds) {
    if (s->npfds == s->cap_pfds) {
      size_t cap = s->cap_pfds ? s->cap_pfds * 2 : 16;
      struct pollfd *p = realloc(s->pfds, cap * sizeof *p);
      if (p == NULL) {
        s->sockets_lost = 1;
        return 0;
      }
      s->pfds = p;
      s->cap_pfds = cap;
    }
    s->pfds[i].fd = (int)fd;
    s->npfds++;
  }
  s->pfds[i].events = ev;
  s->pfds[i].revents = 0;
  return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
  coze_http_session *s = userp;
  (void)multi;
  s->timer_at = timeout_ms < 0 ? -1 : coze_now_ms() + timeout_ms;
  return 0;
}

coze_http_session *coze_http_session_new(void)
{
  coze_http_session *s;
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK)
    return NULL;
  s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->multi = curl_multi_init();
  if (s->multi == NULL) {
    free(s);
    return NULL;
  }
  s->refs = 1;
  s->timer_at = -1;
  s->epfd = -1;
#ifdef COZE_HTTP_EPOLL
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
#endif
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
  curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
  return s;
}

static void session_unref(coze_http_session *s)
{
  if (--s->refs > 0)
    return;
  if (s->multi != NULL)
    curl_multi_cleanup(s->multi);
  if (s->epfd >= 0)
    close(s->epfd);
  free(s->pfds);
  free(s);
}

void coze_http_session_close(coze_http_session *s)
{
  coze_http_req *r;
  if (s == NULL || s->closed)
    return;
  s->closed = 1;
  for (r = s->reqs; r != NULL; r = r->next) {
    detach(r);
    if (r->err.kind == COZE_HTTP_E_NONE && !r->done)
      set_error(&r->err, COZE_HTTP_E_CLOSED, NULL, 0, "session closed");
  }
  curl_multi_cleanup(s->multi); /* closes the cached connections now */
  s->multi = NULL;
  session_unref(s);
}

/* Records the outcome of every finished transfer on its own request. */
static void collect(coze_http_session *s)
{
  int left;
  CURLMsg *m;
  while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
    coze_http_req *r = NULL;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r == NULL)
      continue;
    r->done = 1;
    r->result = m->data.result;
    detach(r); /* the connection is already back in the cache (or closed) */
  }
}

/* One perform pass over every transfer. curl_multi_socket_all is curl_multi_perform followed by the
   socket callback for every transfer whose sockets changed (curl 7.88's perform alone never calls
   it), which keeps s->pfds exact for the ready rounds. It is marked deprecated in favour of
   curl_multi_socket_action, which the ready rounds use; the blocking waits still drive all. */
static void drive(coze_http_session *s)
{
  int running;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
  curl_multi_socket_all(s->multi, &running);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
  collect(s);
}

/* ---- requests ---- */

static int is_method(const char *m, const char *name)
{
  return strcmp(m, name) == 0;
}

static CURLcode setup_parts(coze_http_req *r, const coze_http_opts *o, coze_http_error *err)
{
  size_t i;
  r->mime = curl_mime_init(r->easy);
  if (r->mime == NULL)
    return CURLE_OUT_OF_MEMORY;
  for (i = 0; i < o->nparts; i++) {
    const coze_http_part *p = &o->parts[i];
    curl_mimepart *mp = curl_mime_addpart(r->mime);
    CURLcode rc;
    if (mp == NULL)
      return CURLE_OUT_OF_MEMORY;
    if (p->name != NULL && (rc = curl_mime_name(mp, p->name)) != CURLE_OK)
      return rc;
    if (p->path != NULL) {
      rc = curl_mime_filedata(mp, p->path);
      if (rc != CURLE_OK) {
        set_error(err, COZE_HTTP_E_TRANSPORT, NULL, rc, "cannot read file '%s'", p->path);
        return rc;
      }
    } else if ((rc = curl_mime_data(mp, p->data != NULL ? p->data : "", p->data_len)) != CURLE_OK) {
      return rc;
    }
    if (p->filename != NULL && (rc = curl_mime_filename(mp, p->filename)) != CURLE_OK)
      return rc;
    if (p->type != NULL && (rc = curl_mime_type(mp, p->type)) != CURLE_OK)
      return rc;
  }
  return curl_easy_setopt(r->easy, CURLOPT_MIMEPOST, r->mime);
}

/* Upload progress is activity: a long upload must not trip the first-byte or idle timers, which
   otherwise only see received bytes. C only; Lua reads the counts between polls (info). */
static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
  coze_http_req *r = (coze_http_req *)ud;
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  if (ulnow > r->ul_now) {
    long long now = coze_now_ms();
    r->ul_now = ulnow;
    r->last_byte_ms = now;
    if (!r->got_byte)
      r->first_byte_from_ms = now;
  }
  return 0;
}

/* Bodies at least this large report upload progress (smaller ones go out in one write). */
#define PROGRESS_MIN_BODY 65536

#define SET(opt, val) do { if ((rc = curl_easy_setopt(e, opt, val)) != CURLE_OK) return rc; } while (0)

/* The method and what it sends: multipart parts, a body (copied), or nothing. */
static CURLcode setup_method(coze_http_req *r, const coze_http_opts *o, coze_http_error *err)
{
  CURL *e = r->easy;
  CURLcode rc = CURLE_OK;
  if (o->nparts > 0) {
    if ((rc = setup_parts(r, o, err)) != CURLE_OK)
      return rc;
    if (!is_method(o->method, "POST"))
      SET(CURLOPT_CUSTOMREQUEST, o->method);
  } else if (is_method(o->method, "GET") && o->body == NULL) {
    SET(CURLOPT_HTTPGET, 1L);
  } else if (is_method(o->method, "HEAD")) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (o->body != NULL || is_method(o->method, "POST") || is_method(o->method, "PUT") ||
             is_method(o->method, "PATCH")) {
    /* size first: COPYPOSTFIELDS then copies exactly that many bytes, NULs included;
       an empty POST still sends Content-Length: 0 */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->body != NULL ? o->body_len : 0));
    SET(CURLOPT_COPYPOSTFIELDS, o->body != NULL ? o->body : "");
    if (!is_method(o->method, "POST"))
      SET(CURLOPT_CUSTOMREQUEST, o->method);
  } else {
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_CUSTOMREQUEST, o->method);
  }
  return rc;
}

/* Where the connection goes and how it is trusted: proxy, CA, verification, curl's timers. */
static CURLcode setup_connection(coze_http_req *r, const coze_http_opts *o)
{
  CURL *e = r->easy;
  CURLcode rc = CURLE_OK;
  if (o->proxy != NULL)
    SET(CURLOPT_PROXY, o->proxy);
  if (o->no_proxy != NULL)
    SET(CURLOPT_NOPROXY, o->no_proxy);
  if (o->ca_file != NULL)
    SET(CURLOPT_CAINFO, o->ca_file);
  if (o->ca_path != NULL)
    SET(CURLOPT_CAPATH, o->ca_path);
  SET(CURLOPT_SSL_VERIFYPEER, o->tls_verify == 0 ? 0L : 1L);
  SET(CURLOPT_SSL_VERIFYHOST, o->tls_verify == 0 ? 0L : 2L);
  if (r->connect_ms > 0) /* no limit: curl cannot disable it, so its longest */
    SET(CURLOPT_CONNECTTIMEOUT_MS, r->connect_ms);
  if (r->total_ms > 0)
    SET(CURLOPT_TIMEOUT_MS, r->total_ms);
  return rc;
}

/* The callbacks (C buffers only) and the options every request shares. */
static CURLcode setup_transfer(coze_http_req *r, const coze_http_opts *o)
{
  CURL *e = r->easy;
  CURLcode rc = CURLE_OK;
  SET(CURLOPT_URL, o->url);
  SET(CURLOPT_PRIVATE, (void *)r);
  SET(CURLOPT_ERRORBUFFER, r->errbuf);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L); /* a proxy's CONNECT reply is not the response */
  SET(CURLOPT_HEADERFUNCTION, header_cb);
  SET(CURLOPT_HEADERDATA, (void *)r);
  SET(CURLOPT_WRITEFUNCTION, write_cb);
  SET(CURLOPT_WRITEDATA, (void *)r);
  SET(CURLOPT_BUFFERSIZE, 65536L); /* fewer, larger reads on long streams */
  if (o->nparts > 0 || (o->body != NULL && o->body_len >= PROGRESS_MIN_BODY)) {
    SET(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    SET(CURLOPT_XFERINFODATA, (void *)r);
    SET(CURLOPT_NOPROGRESS, 0L);
  }
  return rc;
}

static CURLcode setup_headers(coze_http_req *r, const coze_http_opts *o)
{
  size_t i;
  for (i = 0; i < o->nheaders; i++) {
    struct curl_slist *n = curl_slist_append(r->slist, o->headers[i]);
    if (n == NULL)
      return CURLE_OUT_OF_MEMORY;
    r->slist = n;
  }
  if (r->slist == NULL)
    return CURLE_OK;
  return curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->slist);
}
#undef SET

static CURLcode setup(coze_http_req *r, const coze_http_opts *o, coze_http_error *err)
{
  CURLcode rc;
  if ((rc = setup_transfer(r, o)) != CURLE_OK || (rc = setup_method(r, o, err)) != CURLE_OK ||
      (rc = setup_headers(r, o)) != CURLE_OK)
    return rc;
  return setup_connection(r, o);
}

/* A request timer in ms: 0 (none) for no limit, so deadlines stay within the clock's range. */
static long timer_ms(long ms)
{
  return ms > 0 && ms < COZE_HTTP_MS_MAX ? ms : 0;
}

static void req_destroy(coze_http_req *r)
{
  if (r->easy != NULL)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->slist);
  curl_mime_free(r->mime); /* after the easy handle: it may still point at the mime tree */
  coze_buf_free(&r->hdr);
  coze_buf_free(&r->in);
  coze_buf_free(&r->out);
  free(r);
}

coze_http_req *coze_http_start(coze_http_session *s, const coze_http_opts *o, coze_http_error *err)
{
  coze_http_req *r;
  CURLcode rc;
  CURLMcode mrc;

  memset(err, 0, sizeof *err);
  if (s == NULL || s->closed) {
    set_error(err, COZE_HTTP_E_CLOSED, NULL, 0, "session closed");
    return NULL;
  }
  r = calloc(1, sizeof *r);
  if (r == NULL) {
    set_error(err, COZE_HTTP_E_NOMEM, NULL, CURLE_OUT_OF_MEMORY, "not enough memory");
    return NULL;
  }
  r->s = s;
  coze_buf_init(&r->hdr);
  coze_buf_init(&r->in);
  coze_buf_init(&r->out);
  r->max_buffer = o->max_buffer > 0 ? o->max_buffer : DEFAULT_MAX_BUFFER;
  r->max_body = o->max_body;
  r->connect_ms = o->connect_timeout_ms <= 0 ? 0
                  : o->connect_timeout_ms < COZE_HTTP_MS_MAX ? o->connect_timeout_ms : COZE_HTTP_MS_MAX;
  r->first_byte_ms = timer_ms(o->first_byte_timeout_ms);
  r->idle_ms = timer_ms(o->idle_timeout_ms);
  r->total_ms = timer_ms(o->total_timeout_ms);
  r->easy = curl_easy_init();
  if (r->easy == NULL) {
    req_destroy(r);
    set_error(err, COZE_HTTP_E_NOMEM, NULL, CURLE_OUT_OF_MEMORY, "not enough memory");
    return NULL;
  }
  rc = setup(r, o, err);
  if (rc != CURLE_OK) {
    if (err->kind == COZE_HTTP_E_NONE) {
      if (rc == CURLE_OUT_OF_MEMORY)
        set_error(err, COZE_HTTP_E_NOMEM, NULL, rc, "not enough memory");
      else
        set_error(err, COZE_HTTP_E_TRANSPORT, NULL, rc, "%s",
                  r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    }
    req_destroy(r);
    return NULL;
  }
  r->start_ms = r->last_byte_ms = r->first_byte_from_ms = coze_now_ms();
  mrc = curl_multi_add_handle(s->multi, r->easy);
  if (mrc != CURLM_OK) {
    set_error(err, mrc == CURLM_OUT_OF_MEMORY ? COZE_HTTP_E_NOMEM : COZE_HTTP_E_TRANSPORT, NULL,
              0, "%s", curl_multi_strerror(mrc));
    req_destroy(r);
    return NULL;
  }
  r->attached = 1;
  s->refs++;
  r->next = s->reqs;
  if (s->reqs != NULL)
    s->reqs->prev = r;
  s->reqs = r;
  return r;
}

void coze_http_free(coze_http_req *r)
{
  coze_http_session *s;
  if (r == NULL)
    return;
  s = r->s;
  detach(r); /* mid-transfer: curl closes the connection instead of caching it */
  if (r->prev != NULL)
    r->prev->next = r->next;
  else
    s->reqs = r->next;
  if (r->next != NULL)
    r->next->prev = r->prev;
  req_destroy(r);
  session_unref(s);
}

static void set_too_large(coze_http_req *r)
{
  if (r->body_too_large == BODY_OVER_MAX)
    set_error(&r->err, COZE_HTTP_E_TOO_LARGE, NULL, CURLE_WRITE_ERROR,
              "%s body exceeds max_body_bytes (%lu)", r->encoded ? "decompressed" : "response",
              (unsigned long)r->max_body);
  else
    set_error(&r->err, COZE_HTTP_E_TOO_LARGE, NULL, CURLE_WRITE_ERROR,
              "decompressed body: more than %lu MiB received and not read",
              (unsigned long)(COZE_HTTP_MAX_UNREAD >> 20));
}

/* Fills r->err from a finished transfer that did not succeed. */
static void transfer_error(coze_http_req *r)
{
  const char *msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result);
  if (r->nomem) {
    set_error(&r->err, COZE_HTTP_E_NOMEM, NULL, CURLE_OUT_OF_MEMORY, "not enough memory");
  } else if (r->body_too_large) {
    set_too_large(r);
  } else if (r->hdr_too_large || (r->result == CURLE_OUT_OF_MEMORY && !r->hdr_done)) {
    /* ours, or curl's own cap on one header line (it reports that as out of memory) */
    set_error(&r->err, COZE_HTTP_E_TRANSPORT, NULL, r->result, "%s", COZE_HEADERS_TOO_LARGE_MSG);
  } else if (r->result == CURLE_OPERATION_TIMEDOUT) {
    /* curl's own timers: while connecting (TCP + TLS, before "pretransfer") the earlier of
       CONNECTTIMEOUT (default 300 s) and TIMEOUT fired; once connected only TIMEOUT (= total) */
    curl_off_t pre = 0;
    long conn = r->connect_ms > 0 ? r->connect_ms : 300000;
    const char *which = "total";
    curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    if (pre == 0 && !r->got_byte && !(r->total_ms > 0 && r->total_ms < conn))
      which = "connect";
    set_error(&r->err, COZE_HTTP_E_TIMEOUT, which, r->result, "%s timeout: %s", which, msg);
  } else {
    long proxy = 0;
    set_error(&r->err, COZE_HTTP_E_TRANSPORT, NULL, r->result, "%s", msg);
    /* a proxy that refused the CONNECT: its status, as the cosocket transport reports it */
    if (curl_easy_getinfo(r->easy, CURLINFO_HTTP_CONNECTCODE, &proxy) == CURLE_OK && proxy >= 300)
      r->err.proxy_status = (int)proxy;
  }
}

/* Our own deadlines. Before the first byte only first_byte applies (idle too when first_byte is
   unset, counted from the start); after it, idle counts from the last byte. 0 = none. */
static long long next_deadline(const coze_http_req *r, const char **which)
{
  long long d = 0;
  *which = NULL;
  if (r->total_ms > 0) {
    d = r->start_ms + r->total_ms;
    *which = "total";
  }
  if (!r->got_byte && r->first_byte_ms > 0) {
    long long f = r->first_byte_from_ms + r->first_byte_ms;
    if (d == 0 || f < d) {
      d = f;
      *which = "first_byte";
    }
  } else if (r->idle_ms > 0) {
    long long f = r->last_byte_ms + r->idle_ms;
    if (d == 0 || f < d) {
      d = f;
      *which = "idle";
    }
  }
  return d;
}

enum { WANT_HEADERS, WANT_DATA, WANT_END };

static int satisfied(const coze_http_req *r, int want)
{
  if (r->done || r->err.kind != COZE_HTTP_E_NONE)
    return 1;
  if (want == WANT_END)
    return 0;
  return want == WANT_HEADERS ? r->hdr_done : r->in.len > 0 || r->fed > 0;
}

/* Drives the session until `want` holds, a deadline fires, or timeout_ms (< 0: no limit) ends.
   1 when the caller should look at the request's state, 0 when the caller's timeout ran out. */
static int pump(coze_http_req *r, long timeout_ms, int want)
{
  long long until;
  if (timeout_ms >= COZE_HTTP_MS_MAX)
    timeout_ms = -1;
  until = timeout_ms >= 0 ? coze_now_ms() + timeout_ms : 0;
  for (;;) {
    long long now, d, wait;
    const char *which;
    if (satisfied(r, want) || r->s->multi == NULL)
      return 1;
    drive(r->s);
    if (satisfied(r, want))
      return 1;
    now = coze_now_ms();
    d = next_deadline(r, &which);
    if (d != 0 && now >= d) {
      detach(r);
      set_error(&r->err, COZE_HTTP_E_TIMEOUT, which, 0, "%s timeout after %ld ms", which,
                which[0] == 't' ? r->total_ms : which[0] == 'f' ? r->first_byte_ms : r->idle_ms);
      return 1;
    }
    if (timeout_ms == 0 || (timeout_ms > 0 && now >= until))
      return 0;
    wait = timeout_ms > 0 ? until - now : 60000;
    if (d != 0 && d - now < wait)
      wait = d - now;
    if (wait > 60000)
      wait = 60000;
    /* curl_multi_poll also wakes for curl's own timers (connect timeout, retries) */
    curl_multi_poll(r->s->multi, NULL, 0, (int)wait, NULL);
  }
}

static int finished_state(coze_http_req *r)
{
  if (r->err.kind != COZE_HTTP_E_NONE)
    return COZE_HTTP_ERR;
  if (r->done && r->result != CURLE_OK) {
    transfer_error(r);
    return COZE_HTTP_ERR;
  }
  return COZE_HTTP_EOF;
}

int coze_http_wait_headers(coze_http_req *r, long timeout_ms)
{
  if (!r->hdr_done && !r->done && r->err.kind == COZE_HTTP_E_NONE) {
    if (!pump(r, timeout_ms, WANT_HEADERS))
      return COZE_HTTP_AGAIN;
  }
  if (r->hdr_done)
    return COZE_HTTP_OK;
  if (finished_state(r) == COZE_HTTP_ERR)
    return COZE_HTTP_ERR;
  return COZE_HTTP_OK; /* finished without a header block end (e.g. HTTP/0.9-ish): ready */
}

/* The caller took what was buffered: resume a paused transfer. curl may call write_cb from in
   here, which fills the emptied buffer (or feeds the parser). */
static void resume(coze_http_req *r)
{
  if (r->paused && r->attached) {
    r->paused = 0;
    r->last_byte_ms = coze_now_ms(); /* the stall was ours, not the server's */
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
  }
}

int coze_http_attach(coze_http_req *r, const coze_sink *sink)
{
  static const coze_sink none = {NULL, NULL};
  if (sink == NULL)
    sink = &none;
  if (sink->feed == r->sink.feed && sink->ctx == r->sink.ctx)
    return 0;
  r->sink = *sink;
  r->fed = 0;
  if (sink->feed != NULL && r->in.len > 0) { /* bytes that came before: the sink gets them first */
    if (sink->feed(sink->ctx, r->in.data, r->in.len) != 0) {
      r->sink = none;
      return COZE_HTTP_ERR;
    }
    r->fed = r->in.len;
    coze_buf_reset(&r->in);
  }
  resume(r); /* paused for the old sink: the new one starts with room (write_cb pauses again) */
  return 0;
}

int coze_http_pump(coze_http_req *r, long timeout_ms)
{
  if (r->paused && r->fed == 0)
    resume(r); /* paused by a busy sink, not by max_buffer */
  if (r->fed == 0 && !r->done && r->err.kind == COZE_HTTP_E_NONE) {
    if (!pump(r, timeout_ms, WANT_DATA))
      return COZE_HTTP_AGAIN;
  }
  if (r->fed > 0) {
    r->fed = 0;
    resume(r);
    return COZE_HTTP_OK;
  }
  return finished_state(r);
}

int coze_http_read(coze_http_req *r, long timeout_ms, const char **data, size_t *len)
{
  coze_buf tmp;
  *data = NULL;
  *len = 0;
  if (r->sink.feed != NULL)
    coze_http_attach(r, NULL); /* cannot fail */
  coze_buf_reset(&r->out); /* the bytes handed out last time are gone now */
  if (r->in.len == 0 && !r->done && r->err.kind == COZE_HTTP_E_NONE) {
    if (!pump(r, timeout_ms, WANT_DATA))
      return COZE_HTTP_AGAIN;
  }
  if (r->in.len > 0) {
    tmp = r->out;
    r->out = r->in;
    r->in = tmp;
    *data = r->out.data;
    *len = r->out.len;
    resume(r);
    return COZE_HTTP_OK;
  }
  return finished_state(r);
}

/* One non-blocking look at the session per round: one poll() of the sockets curl asked us to watch
   (reads, and writes of a request still being sent), then curl runs only the transfers on the
   sockets that poll found ready, and those whose timers are due (connects, or TLS bytes it has
   decrypted but not delivered), so a round costs the same for 1 and for 200 silent streams. */
#define READY_BATCH 64

static void look(coze_http_session *s, unsigned long round)
{
  curl_socket_t fds[READY_BATCH];
  int evs[READY_BATCH];
  size_t i, k = 0;
  int n = 0, running;
  if (s->multi == NULL || s->ready_round == round)
    return;
  s->ready_round = round;
  if (s->sockets_lost) { /* the set is incomplete: let curl gather it */
    long t = -1;
    curl_multi_timeout(s->multi, &t);
    if (t != 0)
      curl_multi_wait(s->multi, NULL, 0, 0, &n);
    if (t == 0 || n > 0)
      drive(s);
    return;
  }
#ifdef COZE_HTTP_EPOLL
  if (s->epfd >= 0) {
    struct epoll_event ev[READY_BATCH];
    while ((n = epoll_wait(s->epfd, ev, READY_BATCH, 0)) < 0 && errno == EINTR) {
    }
    if (n < 0 || n == READY_BATCH) { /* failed, or maybe more than a batch: all of them */
      drive(s);
      return;
    }
    for (i = 0; i < (size_t)n; i++) {
      unsigned re = ev[i].events;
      fds[k] = (curl_socket_t)ev[i].data.fd;
      evs[k++] = (re & EPOLLIN ? CURL_CSELECT_IN : 0) | (re & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                 (re & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    }
    n = 0;
  }
#endif
  if (s->epfd < 0 && s->npfds > 0) {
    while ((n = poll(s->pfds, (nfds_t)s->npfds, 0)) < 0 && errno == EINTR) {
    }
  }
  if (n > READY_BATCH) {
    drive(s);
    return;
  }
  /* the callbacks socket_action runs edit s->pfds: take the ready ones out first */
  for (i = 0; n > 0 && i < s->npfds; i++) {
    short re = s->pfds[i].revents;
    if (re == 0)
      continue;
    n--;
    s->pfds[i].revents = 0;
    fds[k] = (curl_socket_t)s->pfds[i].fd;
    evs[k++] = (re & POLLIN ? CURL_CSELECT_IN : 0) | (re & POLLOUT ? CURL_CSELECT_OUT : 0) |
               (re & (POLLERR | POLLHUP | POLLNVAL) ? CURL_CSELECT_ERR : 0);
    if (re & POLLNVAL) /* closed behind curl's back: stop polling it */
      s->pfds[i--] = s->pfds[--s->npfds];
  }
  for (i = 0; i < k; i++)
    curl_multi_socket_action(s->multi, fds[i], evs[i], &running);
  if (s->timer_at >= 0 && coze_now_ms() >= s->timer_at) {
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    k++;
  }
  if (k > 0)
    collect(s);
}

/* *now is read once, when a deadline first needs it (0: not yet). */
static int is_ready(const coze_http_req *r, int want_headers, long long *now)
{
  const char *which;
  long long d;
  if (r->s->multi == NULL || satisfied(r, want_headers ? WANT_HEADERS : WANT_DATA))
    return 1;
  d = next_deadline(r, &which);
  if (d == 0)
    return 0;
  if (*now == 0)
    *now = coze_now_ms();
  return *now >= d; /* the wait call reports the timeout */
}

int coze_http_ready(coze_http_req *r, int want_headers, unsigned long round)
{
  long long now = 0;
  if (r->attached)
    look(r->s, round);
  return is_ready(r, want_headers, &now);
}

void coze_http_watch(coze_http_req *r, long key, int want_headers)
{
  r->watch_key = key;
  r->watch_headers = want_headers;
}

size_t coze_http_session_ready(coze_http_session *s, unsigned long round, size_t skip, long *keys, size_t cap)
{
  size_t n = 0;
  long long now = 0;
  coze_http_req *r;
  look(s, round);
  for (r = s->reqs; r != NULL; r = r->next) {
    if (r->watch_key > 0 && is_ready(r, r->watch_headers, &now)) {
      if (n >= skip && n - skip < cap)
        keys[n - skip] = r->watch_key;
      n++;
    }
  }
  return n;
}

/* The body grows in `in`, unpaused, sized from Content-Length when the server sent one. */
static void start_read_all(coze_http_req *r, size_t max_body)
{
  curl_off_t cl = -1;
  r->all = 1;
  if (max_body > 0 && (r->max_body == 0 || max_body < r->max_body))
    r->max_body = max_body;
  r->max_buffer = (size_t)-1;
  if (r->max_body > 0 && r->body_bytes > r->max_body && r->err.kind == COZE_HTTP_E_NONE) {
    detach(r); /* more than that came before the limit was set */
    r->body_too_large = BODY_OVER_MAX;
    set_too_large(r);
    return;
  }
  if (r->hdr_done && !r->encoded &&
      curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0 &&
      (r->max_body == 0 || (curl_off_t)r->max_body >= cl) && (curl_off_t)r->in.len < cl)
    coze_buf_reserve(&r->in, (size_t)cl - r->in.len); /* a failure only means growing later */
  resume(r);
}

int coze_http_read_all(coze_http_req *r, size_t max_body, long timeout_ms, const char **data,
                       size_t *len)
{
  coze_buf tmp;
  *data = NULL;
  *len = 0;
  if (r->sink.feed != NULL)
    coze_http_attach(r, NULL); /* cannot fail */
  coze_buf_free(&r->out);
  if (!r->all)
    start_read_all(r, max_body);
  if (!r->done && r->err.kind == COZE_HTTP_E_NONE) {
    if (!pump(r, timeout_ms, WANT_END))
      return COZE_HTTP_AGAIN;
  }
  if (finished_state(r) == COZE_HTTP_ERR)
    return COZE_HTTP_ERR;
  if (r->all == 2)
    return COZE_HTTP_EOF; /* handed out already */
  r->all = 2;
  tmp = r->out;
  r->out = r->in;
  r->in = tmp;
  *data = r->out.data != NULL ? r->out.data : "";
  *len = r->out.len;
  return COZE_HTTP_OK;
}

void coze_http_release(coze_http_req *r)
{
  coze_buf_free(&r->out);
}

int coze_http_status(const coze_http_req *r)
{
  return r->hdr_done || r->done ? r->status : 0;
}

const char *coze_http_headers(const coze_http_req *r, size_t *len)
{
  if (!r->hdr_done && !(r->done && r->status > 0)) {
    *len = 0;
    return NULL;
  }
  *len = r->hdr.len;
  return r->hdr.data != NULL ? r->hdr.data : "";
}

const coze_http_error *coze_http_req_error(const coze_http_req *r)
{
  return &r->err;
}

void coze_http_req_info(coze_http_req *r, coze_http_info *info)
{
  double d;
  long l;
  memset(info, 0, sizeof *info);
  if (curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &d) == CURLE_OK)
    info->total_s = d;
  if (curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME, &d) == CURLE_OK)
    info->connect_s = d;
  if (curl_easy_getinfo(r->easy, CURLINFO_STARTTRANSFER_TIME, &d) == CURLE_OK)
    info->starttransfer_s = d;
  if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &l) == CURLE_OK)
    info->num_connects = l;
  if (curl_easy_getinfo(r->easy, CURLINFO_LOCAL_PORT, &l) == CURLE_OK)
    info->local_port = l;
  info->upload_bytes = -1;
  info->upload_total = -1;
  {
    curl_off_t v;
    if (curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &v) == CURLE_OK)
      info->upload_bytes = (long long)v;
    if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &v) == CURLE_OK && v >= 0)
      info->upload_total = (long long)v;
    info->download_bytes = curl_easy_getinfo(r->easy, CURLINFO_SIZE_DOWNLOAD_T, &v) == CURLE_OK ? (long long)v : -1;
  }
}
