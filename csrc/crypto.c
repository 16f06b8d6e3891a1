/* OpenSSL 3 EVP behind the small API of crypto.h (base64 excepted: tables, see below). No Lua here:
 * callers own the buffers, we own every OpenSSL object and free it on every path before returning. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "crypto.h"

struct coze_crypto_key {
  EVP_PKEY *pkey;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The reason of the newest queued OpenSSL error (a fixed library string, never data), then an empty queue. */
static const char *ossl_reason(void)
{
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  ERR_clear_error();
  return r ? r : "unknown OpenSSL error";
}

int coze_crypto_random(unsigned char *buf, size_t n)
{
  ERR_clear_error();
  while (n > 0) {
    int step = n > INT_MAX ? INT_MAX : (int)n;
    if (RAND_bytes(buf, step) != 1) {
      ERR_clear_error();
      return -1;
    }
    buf += step;
    n -= (size_t)step;
  }
  return 0;
}

int coze_crypto_sha256(const void *in, size_t len, unsigned char *out)
{
  unsigned int outlen = 0;
  int ok;
  ERR_clear_error();
  ok = EVP_Digest(in, len, out, &outlen, EVP_sha256(), NULL) == 1 && outlen == COZE_CRYPTO_SHA256_LEN;
  ERR_clear_error();
  return ok ? 0 : -1;
}

int coze_crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len, unsigned char *out)
{
  unsigned int outlen = 0;
  int ok;
  static const unsigned char none = 0;
  if (keylen > INT_MAX)
    return -1;
  ERR_clear_error();
  /* HMAC() takes NULL with length 0 as "no key" on some versions: give it a pointer */
  ok = HMAC(EVP_sha256(), keylen ? key : &none, (int)keylen, len ? msg : &none, len, out, &outlen) != NULL &&
       outlen == COZE_CRYPTO_SHA256_LEN;
  ERR_clear_error();
  return ok ? 0 : -1;
}

/* ---- base64 / base64url ---- */

size_t coze_crypto_b64_enclen(size_t n)
{
  if (n / 3 >= ((size_t)-1 - 8) / 4)
    return (size_t)-1;
  return (n + 2) / 3 * 4;
}

size_t coze_crypto_b64url_enclen(size_t n)
{
  if (n / 3 >= ((size_t)-1 - 8) / 4)
    return (size_t)-1;
  return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t coze_crypto_b64_declen(size_t n)
{
  return n / 4 * 3 + 3;
}

/* base64 through lookup tables rather than EVP_EncodeBlock/EVP_DecodeBlock: on 640-byte audio chunks
 * (bench/ws.sh, callgrind) OpenSSL's decoder took ~8,000 instructions plus the strict validation pass
 * it needs in front (it skips whitespace), ~24,000 in all, and its encoder ~6,700; these take ~2,500
 * and ~2,000. The tables are constant expressions built by the preprocessor. */
#define B64_CHAR(v, url)                                                                                    \
  ((v) < 26 ? 'A' + (v) : (v) < 52 ? 'a' + (v)-26 : (v) < 62 ? '0' + (v)-52 : (v) == 62 ? ((url) ? '-' : '+') \
                                                                               : ((url) ? '_' : '/'))
/* the value of character c, 64 when c is outside the alphabet ('=' included) */
#define B64_VAL(c, url)                                                                                     \
  ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                                   \
   : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                             \
   : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                             \
   : (c) == ((url) ? '-' : '+') ? 62                                                                        \
   : (c) == ((url) ? '_' : '/') ? 63                                                                        \
                                : 64)
#define B64_R4(f, a, i) f(a, i), f(a, (i) + 1), f(a, (i) + 2), f(a, (i) + 3)
#define B64_R16(f, a, i) B64_R4(f, a, i), B64_R4(f, a, (i) + 4), B64_R4(f, a, (i) + 8), B64_R4(f, a, (i) + 12)
#define B64_R64(f, a, i) B64_R16(f, a, i), B64_R16(f, a, (i) + 16), B64_R16(f, a, (i) + 32), B64_R16(f, a, (i) + 48)
#define B64_R256(f, a, i) B64_R64(f, a, i), B64_R64(f, a, (i) + 64), B64_R64(f, a, (i) + 128), B64_R64(f, a, (i) + 192)
#define B64_R4096(f, a, i)                                                                                  \
  B64_R256(f, a, i), B64_R256(f, a, (i) + 256), B64_R256(f, a, (i) + 512), B64_R256(f, a, (i) + 768),      \
    B64_R256(f, a, (i) + 1024), B64_R256(f, a, (i) + 1280), B64_R256(f, a, (i) + 1536),                   \
    B64_R256(f, a, (i) + 1792), B64_R256(f, a, (i) + 2048), B64_R256(f, a, (i) + 2304),                   \
    B64_R256(f, a, (i) + 2560), B64_R256(f, a, (i) + 2816), B64_R256(f, a, (i) + 3072),                   \
    B64_R256(f, a, (i) + 3328), B64_R256(f, a, (i) + 3584), B64_R256(f, a, (i) + 3840)

/* 12 bits -> their two standard-alphabet characters */
#define B64_PAIR(a, i) { (char)B64_CHAR((i) >> 6, a), (char)B64_CHAR((i)&63, a) }
static const char B64_PAIRS[4096][2] = { B64_R4096(B64_PAIR, 0, 0) };

/* character -> its value already shifted to its place in a 4-character group (a bit above 24 for a
 * character outside the alphabet), for each position, standard [0] and URL [1] alphabet */
#define B64_AT(c, url, shift) (B64_VAL(c, url) == 64 ? (uint32_t)1 << 24 : (uint32_t)B64_VAL(c, url) << (shift))
#define B64_D0(a, c) B64_AT(c, a, 18)
#define B64_D1(a, c) B64_AT(c, a, 12)
#define B64_D2(a, c) B64_AT(c, a, 6)
#define B64_D3(a, c) B64_AT(c, a, 0)
static const uint32_t B64_DEC[2][4][256] = {
  { { B64_R256(B64_D0, 0, 0) }, { B64_R256(B64_D1, 0, 0) }, { B64_R256(B64_D2, 0, 0) }, { B64_R256(B64_D3, 0, 0) } },
  { { B64_R256(B64_D0, 1, 0) }, { B64_R256(B64_D1, 1, 0) }, { B64_R256(B64_D2, 1, 0) }, { B64_R256(B64_D3, 1, 0) } },
};

/* Standard base64 with padding, or the URL alphabet without it. */
static size_t b64_encode(const unsigned char *in, size_t n, char *out, int url)
{
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
    memcpy(out + o, B64_PAIRS[v >> 12], 2);
    memcpy(out + o + 2, B64_PAIRS[v & 4095], 2);
    o += 4;
  }
  if (n - i > 0) { /* through a small buffer: base64url's out has no room for a whole group here */
    unsigned long v = (unsigned long)in[i] << 16 | (n - i == 2 ? (unsigned long)in[i + 1] << 8 : 0);
    char tail[4];
    size_t keep = url ? n - i + 1 : 4;
    memcpy(tail, B64_PAIRS[v >> 12], 2);
    memcpy(tail + 2, B64_PAIRS[v & 4095], 2);
    if (!url)
      memset(tail + (n - i) + 1, '=', 3 - (n - i));
    memcpy(out + o, tail, keep);
    o += keep;
  }
  out[o] = '\0';
  if (url) {
    for (i = 0; i < o; i++) {
      if (out[i] == '+')
        out[i] = '-';
      else if (out[i] == '/')
        out[i] = '_';
    }
  }
  return o;
}

size_t coze_crypto_b64_encode(const void *in, size_t n, char *out)
{
  return b64_encode((const unsigned char *)in, n, out, 0);
}

size_t coze_crypto_b64url_encode(const void *in, size_t n, char *out)
{
  return b64_encode((const unsigned char *)in, n, out, 1);
}

static int b64_decode(const char *in, size_t n, int url, unsigned char *out, size_t *outlen, char *err,
                      size_t errlen)
{
  const char *what = url ? "base64url" : "base64";
  const uint32_t(*t)[256] = B64_DEC[url ? 1 : 0];
  const unsigned char *s = (const unsigned char *)in;
  size_t pad = 0, i, rem, whole, o = 0;
  uint32_t bad = 0, v;
  while (n > 0 && in[n - 1] == '=' && pad < 3) {
    n--;
    pad++;
  }
  rem = n % 4;
  if (rem == 1) {
    set_err(err, errlen, "invalid %s: bad length", what);
    return -1;
  }
  if (pad > 0 || !url) {
    if (pad > 2 || (n + pad) % 4 != 0) {
      set_err(err, errlen, "invalid %s: bad padding", what);
      return -1;
    }
  }
  whole = n - rem;
  /* bad collects the bit above 24 of any character outside the alphabet; checked once at the end */
  for (i = 0; i < whole; i += 4) {
    v = t[0][s[i]] | t[1][s[i + 1]] | t[2][s[i + 2]] | t[3][s[i + 3]];
    bad |= v;
    out[o] = (unsigned char)(v >> 16);
    out[o + 1] = (unsigned char)(v >> 8);
    out[o + 2] = (unsigned char)v;
    o += 3;
  }
  if (rem > 0) {
    v = t[0][s[whole]] | t[1][s[whole + 1]] | (rem == 3 ? t[2][s[whole + 2]] : 0);
    bad |= v;
    /* non-zero trailing bits: a non-canonical encoding */
    if (!(bad >> 24) && (v & (rem == 2 ? 0xFFFFUL : 0xFFUL))) {
      set_err(err, errlen, "invalid %s: non-zero trailing bits", what);
      return -1;
    }
    out[o++] = (unsigned char)(v >> 16);
    if (rem == 3)
      out[o++] = (unsigned char)(v >> 8);
  }
  if (bad >> 24) {
    for (i = 0; !(t[0][s[i]] >> 24); i++) {
    }
    set_err(err, errlen, "invalid %s: unexpected character at offset %u", what, (unsigned)i);
    return -1;
  }
  *outlen = o;
  return 0;
}

int coze_crypto_b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen, char *err,
                           size_t errlen)
{
  return b64_decode(in, n, 0, out, outlen, err, errlen);
}

int coze_crypto_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen, char *err,
                              size_t errlen)
{
  return b64_decode(in, n, 1, out, outlen, err, errlen);
}

/* ---- RSA keys ---- */

/* Never prompts: notes that a passphrase was wanted and refuses to give one. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *u)
{
  (void)buf;
  (void)size;
  (void)rwflag;
  *(int *)u = 1;
  return -1;
}

static int contains(const char *hay, size_t n, const char *needle)
{
  size_t m = strlen(needle), i;
  if (m > n)
    return 0;
  for (i = 0; i + m <= n; i++)
    if (memcmp(hay + i, needle, m) == 0)
      return 1;
  return 0;
}

coze_crypto_key *coze_crypto_key_load(const char *pem, size_t len, char *err, size_t errlen)
{
  BIO *bio = NULL;
  EVP_PKEY *pkey = NULL;
  coze_crypto_key *key = NULL;
  int wanted_passphrase = 0;

  ERR_clear_error();
  if (len == 0 || !contains(pem, len, "-----BEGIN ")) {
    set_err(err, errlen, "not a PEM private key (no BEGIN line)");
    goto cleanup;
  }
  if (len > INT_MAX) {
    set_err(err, errlen, "not a PEM private key (too large)");
    goto cleanup;
  }
  bio = BIO_new_mem_buf(pem, (int)len);
  if (bio == NULL) {
    set_err(err, errlen, "cannot read private key: %s", ossl_reason());
    goto cleanup;
  }
  pkey = PEM_read_bio_PrivateKey(bio, NULL, refuse_passphrase, &wanted_passphrase);
  if (pkey == NULL) {
    const char *reason = ossl_reason();
    if (wanted_passphrase || contains(pem, len, "ENCRYPTED"))
      set_err(err, errlen, "private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)");
    else if (contains(pem, len, "PUBLIC KEY-----") && !contains(pem, len, "PRIVATE KEY-----"))
      set_err(err, errlen, "not a PEM private key (found a public key)");
    else
      set_err(err, errlen, "not a PEM private key (%s)", reason);
    goto cleanup;
  }
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
    const char *type = EVP_PKEY_get0_type_name(pkey);
    set_err(err, errlen, "not an RSA key (got %s); RS256 needs an RSA private key", type ? type : "unknown type");
    goto cleanup;
  }
  key = malloc(sizeof *key);
  if (key == NULL) {
    set_err(err, errlen, "out of memory");
    goto cleanup;
  }
  key->pkey = pkey;
  pkey = NULL;

cleanup:
  EVP_PKEY_free(pkey);
  BIO_free(bio);
  ERR_clear_error();
  return key;
}

void coze_crypto_key_free(coze_crypto_key *key)
{
  if (key == NULL)
    return;
  EVP_PKEY_free(key->pkey);
  free(key);
}

size_t coze_crypto_key_sigsize(const coze_crypto_key *key)
{
  int n = EVP_PKEY_get_size(key->pkey);
  return n > 0 ? (size_t)n : 0;
}

int coze_crypto_rs256_sign(const coze_crypto_key *key, const void *msg, size_t len, unsigned char *sig,
                           size_t *siglen, char *err, size_t errlen)
{
  EVP_MD_CTX *ctx = NULL;
  EVP_PKEY_CTX *pctx = NULL; /* owned by ctx */
  int rc = -1;

  ERR_clear_error();
  if (*siglen < coze_crypto_key_sigsize(key)) {
    set_err(err, errlen, "signature buffer too small");
    goto cleanup;
  }
  ctx = EVP_MD_CTX_new();
  if (ctx == NULL) {
    set_err(err, errlen, "RS256 sign failed: %s", ossl_reason());
    goto cleanup;
  }
  if (EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key->pkey) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
      EVP_DigestSign(ctx, sig, siglen, (const unsigned char *)msg, len) != 1) {
    set_err(err, errlen, "RS256 sign failed: %s", ossl_reason());
    goto cleanup;
  }
  rc = 0;

cleanup:
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return rc;
}

/* ---- JWT ---- */

size_t coze_crypto_jwt_len(const coze_crypto_key *key, size_t header_len, size_t payload_len)
{
  size_t h = coze_crypto_b64url_enclen(header_len);
  size_t p = coze_crypto_b64url_enclen(payload_len);
  size_t s = coze_crypto_b64url_enclen(coze_crypto_key_sigsize(key));
  if (h == (size_t)-1 || p == (size_t)-1 || h > (size_t)-1 / 4 || p > (size_t)-1 / 4)
    return (size_t)-1;
  return h + 1 + p + 1 + s;
}

int coze_crypto_jwt_rs256(const coze_crypto_key *key, const char *header, size_t header_len,
                          const char *payload, size_t payload_len, char *out, size_t *outlen, char *err,
                          size_t errlen)
{
  unsigned char *sig = NULL;
  size_t siglen = coze_crypto_key_sigsize(key), o;
  int rc = -1;

  if (siglen == 0) {
    set_err(err, errlen, "RS256 sign failed: key has no size");
    goto cleanup;
  }
  sig = malloc(siglen);
  if (sig == NULL) {
    set_err(err, errlen, "out of memory");
    goto cleanup;
  }
  o = coze_crypto_b64url_encode(header, header_len, out);
  out[o++] = '.';
  o += coze_crypto_b64url_encode(payload, payload_len, out + o);
  if (coze_crypto_rs256_sign(key, out, o, sig, &siglen, err, errlen) != 0)
    goto cleanup;
  out[o++] = '.';
  o += coze_crypto_b64url_encode(sig, siglen, out + o);
  *outlen = o;
  rc = 0;

cleanup:
  free(sig);
  return rc;
}
