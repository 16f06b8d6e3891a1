/* Crypto for the OAuth flows on OpenSSL 3: random bytes, SHA-256, base64/base64url, RSA keys, RS256 and JWT.
 * Pure C (no lua.h) so the fuzzers link it directly. Every function clears the OpenSSL error queue it
 * used; error texts name what is wrong and never hold key bytes or the data being signed. */
#ifndef COZE_CRYPTO_H
#define COZE_CRYPTO_H

#include <stddef.h>

#define COZE_CRYPTO_SHA256_LEN 32
#define COZE_CRYPTO_RANDOM_MAX 4096
#define COZE_CRYPTO_ERRLEN 256

typedef struct coze_crypto_key coze_crypto_key;

/* 0 on success, -1 when the generator failed. */
int coze_crypto_random(unsigned char *buf, size_t n);

/* 0 on success; out receives COZE_CRYPTO_SHA256_LEN bytes. */
int coze_crypto_sha256(const void *in, size_t len, unsigned char *out);

/* HMAC-SHA256 (RFC 2104) of msg under key: 0 on success; out receives COZE_CRYPTO_SHA256_LEN bytes. */
int coze_crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len, unsigned char *out);

/* Encoded sizes without the terminating NUL; (size_t)-1 when n is too large to encode. */
size_t coze_crypto_b64_enclen(size_t n);
size_t coze_crypto_b64url_enclen(size_t n);
/* Upper bound of decoded size for n input characters. */
size_t coze_crypto_b64_declen(size_t n);

/* Standard alphabet with '=' padding. out holds enclen(n) + 1 bytes; NUL-terminated; returns the length. */
size_t coze_crypto_b64_encode(const void *in, size_t n, char *out);
/* URL-safe alphabet ('-', '_'), no padding. out holds enclen(n) + 1 bytes; NUL-terminated; returns the length. */
size_t coze_crypto_b64url_encode(const void *in, size_t n, char *out);

/* Strict decoders: out holds coze_crypto_b64_declen(n) bytes. 0 and *outlen on success, -1 on invalid input
 * with a reason in err. base64 wants padding; base64url takes it or leaves it, but only where it belongs.
 * Non-zero trailing bits (non-canonical encodings) are rejected. */
int coze_crypto_b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen, char *err,
                           size_t errlen);
int coze_crypto_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen, char *err,
                              size_t errlen);

/* Loads an unencrypted RSA private key from PEM (PKCS#8 or PKCS#1). NULL with a reason in err when the text is
 * not a PEM private key, the key is encrypted (never prompts), or the key is not RSA. */
coze_crypto_key *coze_crypto_key_load(const char *pem, size_t len, char *err, size_t errlen);
void coze_crypto_key_free(coze_crypto_key *key);
/* Size of an RS256 signature made with key, in bytes. */
size_t coze_crypto_key_sigsize(const coze_crypto_key *key);

/* RSASSA-PKCS1-v1_5 with SHA-256. *siglen is the capacity of sig on entry, the signature length on return.
 * 0 on success, -1 with a reason in err. */
int coze_crypto_rs256_sign(const coze_crypto_key *key, const void *msg, size_t len, unsigned char *sig,
                           size_t *siglen, char *err, size_t errlen);

/* Length of the compact JWT for the given header and payload sizes (no NUL); (size_t)-1 on overflow. */
size_t coze_crypto_jwt_len(const coze_crypto_key *key, size_t header_len, size_t payload_len);
/* Writes b64url(header) "." b64url(payload) "." b64url(RS256 signature) into out, which holds
 * coze_crypto_jwt_len() + 1 bytes. 0 and *outlen on success, -1 with a reason in err. */
int coze_crypto_jwt_rs256(const coze_crypto_key *key, const char *header, size_t header_len,
                          const char *payload, size_t payload_len, char *out, size_t *outlen, char *err,
                          size_t errlen);

#endif
