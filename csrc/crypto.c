/* OpenSSL 3 EVP behind the small API of crypto.h (base64 excepted: tables here, see below). No Lua here:
 * callers own the buffers, we own every OpenSSL object and free it on every path before returning. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
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

/* base64 is a table lookup per character, done here rather than through EVP_EncodeBlock/EVP_DecodeBlock:
 * on 640-byte audio chunks (bench/ws.sh) OpenSSL's decoder took ~8,000 instructions plus the strict
 * validation pass it needs in front (it skips whitespace), ~24,000 in all, and its encoder ~6,700;
 * one pass over a table is ~2,000 and ~2,500. */
static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/* Character -> value, 0x80 for a character outside the alphabet ('=' included). */
static const unsigned char B64_STD_VAL[256] = {
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 62, 128, 128, 128, 63,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 128, 128, 128, 128, 128, 128,
  128, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 128, 128, 128, 128, 128,
  128, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
};
static const unsigned char B64_URL_VAL[256] = {
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 62, 128, 128,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 128, 128, 128, 128, 128, 128,
  128, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 128, 128, 128, 128, 63,
  128, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
  128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
};

/* Standard base64 with padding, or the URL alphabet without it. */
static size_t b64_encode(const unsigned char *in, size_t n, char *out, int url)
{
  const char *a = url ? B64_URL : B64_STD;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
    out[o] = a[v >> 18];
    out[o + 1] = a[(v >> 12) & 63];
    out[o + 2] = a[(v >> 6) & 63];
    out[o + 3] = a[v & 63];
    o += 4;
  }
  if (n - i == 1) {
    out[o++] = a[in[i] >> 2];
    out[o++] = a[(in[i] & 3) << 4];
    if (!url) {
      out[o++] = '=';
      out[o++] = '=';
    }
  } else if (n - i == 2) {
    out[o++] = a[in[i] >> 2];
    out[o++] = a[(in[i] & 3) << 4 | in[i + 1] >> 4];
    out[o++] = a[(in[i + 1] & 15) << 2];
    if (!url)
      out[o++] = '=';
  }
  out[o] = '\0';
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
  const unsigned char *t = url ? B64_URL_VAL : B64_STD_VAL;
  const unsigned char *s = (const unsigned char *)in;
  size_t pad = 0, i, rem, whole, o = 0;
  unsigned bad = 0;
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
  /* bad collects the 0x80 of any character outside the alphabet; checked once at the end */
  for (i = 0; i < whole; i += 4) {
    unsigned a = t[s[i]], b = t[s[i + 1]], c = t[s[i + 2]], d = t[s[i + 3]];
    bad |= a | b | c | d;
    out[o] = (unsigned char)(a << 2 | b >> 4);
    out[o + 1] = (unsigned char)(b << 4 | c >> 2);
    out[o + 2] = (unsigned char)(c << 6 | d);
    o += 3;
  }
  if (rem > 0) {
    unsigned a = t[s[whole]], b = t[s[whole + 1]], c = rem == 3 ? t[s[whole + 2]] : 0;
    bad |= a | b | c;
    /* non-zero trailing bits: a non-canonical encoding */
    if (!(bad & 0x80) && ((rem == 2 && (b & 0x0F)) || (rem == 3 && (c & 0x03)))) {
      set_err(err, errlen, "invalid %s: non-zero trailing bits", what);
      return -1;
    }
    out[o++] = (unsigned char)(a << 2 | b >> 4);
    if (rem == 3)
      out[o++] = (unsigned char)(b << 4 | c >> 2);
  }
  if (bad & 0x80) {
    for (i = 0; t[s[i]] != 0x80; i++) {
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
