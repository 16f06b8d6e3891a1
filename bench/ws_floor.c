/* The floor of bench/ws.sh's session: the same work as bench/lua/ws.lua on the SDK's own C codec
 * (csrc/wscodec.c, csrc/jscan.c, base64 of csrc/crypto.c) over a plain socket, with no Lua, no
 * libcurl and no event objects, so what is left is the kernel's cost of the syscalls and the codec's.
 *
 *     ws_floor HOST PORT MODE N
 *
 * MODE: "each" writes every append at once (as ws:append_audio; one send per frame), "gather" writes
 * the 32 appends of a batch in one send (as a corked send_audio_file), "empty" connects, reads the
 * created event and closes. The turns of the Lua client's sender and reader: a batch of 32 appends,
 * then every message that comes is read (recv into the codec's buffer, 64 KiB at a time; each
 * delta's content decoded) until nothing came for 1 ms (poll), then the next batch.
 * Prints "deltas=N bytes=N". */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "../csrc/crypto.h"
#include "../csrc/jscan.h"
#include "../csrc/wscodec.h"
#include "../csrc/wshs.h"

static int fd;
static coze_wscodec codec;
static long deltas, bytes;

static void die(const char *what)
{
  fprintf(stderr, "ws_floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void flush(void)
{
  while (coze_wscodec_pending(&codec) > 0) {
    ssize_t n = send(fd, coze_wscodec_output(&codec), coze_wscodec_pending(&codec), 0);
    if (n < 0) {
      struct pollfd p = { fd, POLLOUT, 0 };
      if (errno != EAGAIN)
        die("send");
      poll(&p, 1, 1000);
      continue;
    }
    coze_wscodec_written(&codec, (size_t)n);
  }
}

/* Handles every whole message that comes until nothing came for wait_ms: how many, -1 at a close. */
static int drain(int wait_ms)
{
  int got = 0;
  for (;;) {
    coze_ws_event ev;
    coze_ws_result r = coze_wscodec_next(&codec, &ev);
    if (r == COZE_WS_MESSAGE) {
      coze_jscan_field f[2] = { { "event_type", 10, 0, 0, 0 }, { "data", 4, 0, 0, 0 } };
      coze_jscan_field c = { "content", 7, 0, 0, 0 };
      got++;
      if (coze_jscan_object(ev.data, ev.len, f, 2) == 0 && f[0].type == COZE_JSCAN_STRING &&
          f[0].len == 24 && memcmp(ev.data + f[0].start, "conversation.audio.delta", 24) == 0 &&
          coze_jscan_object(ev.data + f[1].start, f[1].len, &c, 1) == 0 && c.type == COZE_JSCAN_STRING) {
        unsigned char out[8192];
        size_t n = 0;
        char err[64];
        if (coze_crypto_b64_decode(ev.data + f[1].start + c.start, c.len, out, &n, err, sizeof err) == 0) {
          deltas++;
          bytes += (long)n;
        }
      }
      continue;
    }
    if (r == COZE_WS_CLOSE || r == COZE_WS_FAIL)
      return -1;
    {
      char *dst = coze_ws_space(&codec.dec, 65536);
      ssize_t n = recv(fd, dst, 65536, 0);
      if (n > 0) {
        coze_ws_fed(&codec.dec, (size_t)n);
        continue;
      }
      if (n == 0)
        return -1;
      if (errno != EAGAIN)
        die("recv");
      { /* as ws:next() with wait_ms: a turn ends when nothing came for wait_ms */
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, wait_ms) == 0)
          return got;
      }
    }
  }
}

int main(int argc, char **argv)
{
  struct sockaddr_in sa;
  const char *why = NULL, *mode;
  char req[1024], head[4096];
  size_t hl = 0;
  long n, i, seq = 0;
  unsigned char chunks[256][640];
  unsigned int seed = 12345;
  int one = 1, j;
  if (argc < 5)
    return 2;
  mode = argv[3];
  n = atol(argv[4]);
  for (i = 0; i < 256; i++)
    for (j = 0; j < 640; j++) {
      seed = (seed * 1103515245u + 12345u) % 2147483648u;
      chunks[i][j] = (unsigned char)(seed % 256);
    }
  if (coze_wscodec_init(&codec, 0, &why) != 0)
    return 1;
  fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[2]));
  inet_pton(AF_INET, argv[1], &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
    die("connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as libcurl does */
  snprintf(req, sizeof req,
           "GET /v1/chat?bot_id=bench%s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nAuthorization: Bearer pat_bench\r\n\r\n",
           strcmp(mode, "empty") ? "&emu_echo_deltas=1" : "", argv[1], argv[2], codec.key);
  if (send(fd, req, strlen(req), 0) != (ssize_t)strlen(req))
    die("send");
  for (;;) { /* the 101 answer, then what came behind it goes to the decoder */
    ssize_t got = recv(fd, head + hl, sizeof head - hl - 1, 0);
    long end;
    if (got <= 0)
      die("handshake");
    hl += (size_t)got;
    head[hl] = '\0';
    end = coze_wshs_head_len(head, hl);
    if (end > 0) {
      if (coze_wscodec_check_answer(&codec, head, (size_t)end, &why) != 0) {
        fprintf(stderr, "ws_floor: %s\n", why);
        return 1;
      }
      coze_ws_feed(&codec.dec, head + end, hl - (size_t)end);
      break;
    }
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (drain(1000) == 0) { /* the created event */
  }
  if (strcmp(mode, "empty") != 0) {
    static const char pre[] = "{\"id\":\"floor-", mid[] = "\",\"event_type\":\"input_audio_buffer.append\",\"data\":{\"delta\":\"",
                      post[] = "\"}}";
    for (i = 0; i < n;) {
      long k;
      for (k = 0; k < 32 && i < n; k++, i++) {
        coze_wscodec_b64 f;
        memset(&f, 0, sizeof f);
        f.pre = pre; f.pre_len = sizeof pre - 1;
        f.mid = mid; f.mid_len = sizeof mid - 1;
        f.post = post; f.post_len = sizeof post - 1;
        f.seq = ++seq;
        f.bytes = chunks[(i + 1) % 256];
        f.n = 640;
        if (coze_wscodec_send_b64(&codec, &f, &why) != 0)
          return 1;
        if (strcmp(mode, "each") == 0)
          flush();
      }
      flush();
      drain(1);
    }
    coze_wscodec_send(&codec, COZE_WS_OP_TEXT, "{\"id\":\"c\",\"event_type\":\"input_audio_buffer.complete\"}", 52, &why);
    flush();
    while (deltas < n && drain(1000) >= 0) {
    }
  }
  coze_wscodec_send_close(&codec, 1000, "", 0, &why);
  flush();
  while (drain(1000) >= 0) {
  }
  close(fd);
  coze_wscodec_free(&codec);
  printf("deltas=%ld bytes=%ld\n", deltas, bytes);
  return deltas < n;
}
