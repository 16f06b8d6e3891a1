/* OpenSSL 3 EVP behind the small API of crypto.h. No Lua here: callers own the buffers, we own every
 * OpenSSL object and free it on every path before returning. */
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

/* Bytes per EVP_EncodeBlock call (a multiple of 3) and chars per EVP_DecodeBlock call (a multiple of 4):
 * keeps every length well inside OpenSSL's int parameters. */
#define ENC_CHUNK (3 * 4096)
#define DEC_CHUNK (4 * 1024)

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

/* Standard base64 with padding via EVP_EncodeBlock, whole groups straight into out, the tail through a
 * small buffer so out needs no room beyond the encoded text. */
static size_t b64_encode(const unsigned char *in, size_t n, char *out, int url)
{
  size_t o = 0, i;
  size_t whole = n - n % 3;
  while (whole > 0) {
    size_t step = whole > ENC_CHUNK ? ENC_CHUNK : whole;
    o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, in, (int)step);
    in += step;
    whole -= step;
  }
  if (n % 3) {
    unsigned char tail[5];
    size_t keep = url ? n % 3 + 1 : 4;
    EVP_EncodeBlock(tail, in, (int)(n % 3));
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

/* Value of one alphabet character, -1 when it is not in the alphabet. */
static int b64_val(unsigned char c, int url)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == (url ? '-' : '+'))
    return 62;
  if (c == (url ? '_' : '/'))
    return 63;
  return -1;
}

/* Decodes len (a multiple of 4) standard-alphabet chars, translating the URL alphabet first when asked. */
static int decode_groups(const char *in, size_t len, int url, unsigned char *out)
{
  char chunk[DEC_CHUNK];
  while (len > 0) {
    size_t step = len > DEC_CHUNK ? DEC_CHUNK : len, i;
    for (i = 0; i < step; i++) {
      char c = in[i];
      chunk[i] = url && c == '-' ? '+' : url && c == '_' ? '/' : c;
    }
    if (EVP_DecodeBlock(out, (const unsigned char *)chunk, (int)step) < 0) {
      ERR_clear_error();
      return -1;
    }
    in += step;
    len -= step;
    out += step / 4 * 3;
  }
  return 0;
}

static int b64_decode(const char *in, size_t n, int url, unsigned char *out, size_t *outlen, char *err,
                      size_t errlen)
{
  const char *what = url ? "base64url" : "base64";
  size_t pad = 0, i, rem, whole;
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
  for (i = 0; i < n; i++) {
    if (b64_val((unsigned char)in[i], url) < 0) {
      set_err(err, errlen, "invalid %s: unexpected character at offset %u", what, (unsigned)i);
      return -1;
    }
  }
  if (rem > 0) {
    int last = b64_val((unsigned char)in[n - 1], url);
    if ((rem == 2 && (last & 0x0F)) || (rem == 3 && (last & 0x03))) {
      set_err(err, errlen, "invalid %s: non-zero trailing bits", what);
      return -1;
    }
  }
  whole = n - rem;
  ERR_clear_error();
  if (decode_groups(in, whole, url, out) != 0)
    goto fail;
  *outlen = whole / 4 * 3;
  if (rem > 0) {
    char group[4] = {'=', '=', '=', '='};
    unsigned char bytes[3];
    memcpy(group, in + whole, rem);
    if (decode_groups(group, 4, url, bytes) != 0)
      goto fail;
    memcpy(out + *outlen, bytes, rem - 1);
    *outlen += rem - 1;
  }
  return 0;
fail:
  set_err(err, errlen, "invalid %s", what);
  return -1;
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
