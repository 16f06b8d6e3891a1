#include "wshs.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "crypto.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void coze_wshs_key(const unsigned char nonce[16], char key[COZE_WSHS_KEY_LEN + 1])
{
  coze_crypto_b64_encode(nonce, 16, key);
}

int coze_wshs_accept(const char *key, size_t key_len, char accept[COZE_WSHS_ACCEPT_LEN + 1])
{
  unsigned char md[SHA_DIGEST_LENGTH];
  unsigned int mdlen = 0;
  int ok;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL)
    return -1;
  ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, key, key_len) &&
       EVP_DigestUpdate(ctx, GUID, sizeof GUID - 1) && EVP_DigestFinal_ex(ctx, md, &mdlen);
  EVP_MD_CTX_free(ctx);
  if (!ok || mdlen != SHA_DIGEST_LENGTH)
    return -1;
  coze_crypto_b64_encode(md, SHA_DIGEST_LENGTH, accept);
  return 0;
}

long coze_wshs_head_len(const char *buf, size_t len)
{
  size_t i, scan = len < COZE_WSHS_MAX_HEAD ? len : COZE_WSHS_MAX_HEAD;
  for (i = 3; i < scan; i++) {
    if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
      return (long)(i + 1);
  }
  return len >= COZE_WSHS_MAX_HEAD ? -1 : 0;
}

int coze_wshs_status(const char *head, size_t head_len)
{
  if (head_len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
    return -1;
  if (head[9] < '1' || head[9] > '5' || head[10] < '0' || head[10] > '9' || head[11] < '0' || head[11] > '9')
    return -1;
  if (head_len > 12 && head[12] != ' ' && head[12] != '\r')
    return -1;
  return (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
}

static int lower(int c)
{
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq(const char *a, const char *b, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++) {
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return 0;
  }
  return 1;
}

const char *coze_wshs_header(const char *head, size_t head_len, const char *name, size_t *value_len)
{
  size_t nlen = strlen(name), i = 0;
  /* skip the status line */
  while (i < head_len && head[i] != '\n')
    i++;
  i++;
  while (i < head_len) {
    size_t start = i, end, colon;
    while (i < head_len && head[i] != '\n')
      i++;
    end = i; /* at '\n' or head_len */
    i++;
    if (end > start && head[end - 1] == '\r')
      end--;
    colon = start;
    while (colon < end && head[colon] != ':')
      colon++;
    if (colon < end && colon - start == nlen && ieq(head + start, name, nlen)) {
      size_t v = colon + 1;
      while (v < end && (head[v] == ' ' || head[v] == '\t'))
        v++;
      while (end > v && (head[end - 1] == ' ' || head[end - 1] == '\t'))
        end--;
      *value_len = end - v;
      return head + v;
    }
  }
  return NULL;
}

/* Whether a comma-separated token list holds token (case-insensitive). */
static int has_token(const char *v, size_t n, const char *token)
{
  size_t tlen = strlen(token), i = 0;
  while (i < n) {
    size_t s, e;
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    s = i;
    while (i < n && v[i] != ',')
      i++;
    e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
      e--;
    if (e - s == tlen && ieq(v + s, token, tlen))
      return 1;
  }
  return 0;
}

int coze_wshs_check(const char *head, size_t head_len, const char *key, const char **why)
{
  char want[COZE_WSHS_ACCEPT_LEN + 1];
  size_t n = 0;
  const char *v = coze_wshs_header(head, head_len, "upgrade", &n);
  if (v == NULL || n != 9 || !ieq(v, "websocket", 9)) {
    *why = "the server's 101 answer has no 'Upgrade: websocket'";
    return -1;
  }
  v = coze_wshs_header(head, head_len, "connection", &n);
  if (v == NULL || !has_token(v, n, "upgrade")) {
    *why = "the server's 101 answer has no 'Connection: upgrade'";
    return -1;
  }
  if (coze_wshs_accept(key, strlen(key), want) != 0) {
    *why = "cannot compute the expected Sec-WebSocket-Accept";
    return -1;
  }
  v = coze_wshs_header(head, head_len, "sec-websocket-accept", &n);
  if (v == NULL || n != COZE_WSHS_ACCEPT_LEN || memcmp(v, want, COZE_WSHS_ACCEPT_LEN) != 0) {
    *why = "Sec-WebSocket-Accept does not match the key sent";
    return -1;
  }
  v = coze_wshs_header(head, head_len, "sec-websocket-extensions", &n);
  if (v != NULL && n > 0) {
    *why = "the server chose an extension the client did not offer";
    return -1;
  }
  return 0;
}

/* Walks the chunks; when write is set, moves their data to the front. */
static int chunks(char *buf, size_t len, size_t *out_len, int write)
{
  size_t i = 0, o = 0;
  for (;;) {
    size_t size = 0, digits = 0;
    while (i < len) {
      int c = (unsigned char)buf[i], v;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
      else break;
      if (size > ((size_t)-1 >> 4) || ++digits > 15)
        return -1;
      size = size * 16 + (size_t)v;
      i++;
    }
    if (i == len)
      return 0;
    if (digits == 0)
      return -1;
    while (i < len && buf[i] != '\n') /* chunk extensions */
      i++;
    if (i == len)
      return 0;
    i++;
    if (size == 0) {
      *out_len = o;
      return 1;
    }
    if (len - i < size + 2)
      return 0;
    if (buf[i + size] != '\r' || buf[i + size + 1] != '\n')
      return -1;
    if (write)
      memmove(buf + o, buf + i, size);
    o += size;
    i += size + 2;
  }
}

int coze_wshs_dechunk(char *buf, size_t len, size_t *out_len)
{
  int r = chunks(buf, len, out_len, 0);
  if (r == 1)
    chunks(buf, len, out_len, 1);
  return r;
}
