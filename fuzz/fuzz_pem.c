/* libFuzzer target for the PEM key loader, the base64/base64url decoders and JWT signing (csrc/crypto.c).
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc fuzz/fuzz_pem.c csrc/crypto.c -lcrypto -o build/fuzz_pem
 *   build/fuzz_pem -max_total_time=60 -max_len=8192 spec/fixtures/keys
 * Checks: no crash or leak on any input; a loaded key signs and its JWT has three base64url parts;
 * a failed load always says why; decoders round-trip through the encoders. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decoders(const uint8_t *data, size_t size)
{
  unsigned char *out = malloc(coze_crypto_b64_declen(size));
  char err[COZE_CRYPTO_ERRLEN];
  size_t n = 0;
  int url;
  for (url = 0; url < 2; url++) {
    int rc = url ? coze_crypto_b64url_decode((const char *)data, size, out, &n, err, sizeof err)
                 : coze_crypto_b64_decode((const char *)data, size, out, &n, err, sizeof err);
    if (rc == 0) {
      /* A strict decoder accepts only canonical text: encoding again gives the input (less padding). */
      size_t cap = coze_crypto_b64_enclen(n) + 1, m;
      char *again = malloc(cap);
      m = url ? coze_crypto_b64url_encode(out, n, again) : coze_crypto_b64_encode(out, n, again);
      assert(m <= size && memcmp(again, data, m) == 0);
      for (; m < size; m++)
        assert(data[m] == '=');
      free(again);
    }
  }
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[COZE_CRYPTO_ERRLEN] = "";
  coze_crypto_key *key;

  check_decoders(data, size);

  key = coze_crypto_key_load((const char *)data, size, err, sizeof err);
  if (key == NULL) {
    assert(err[0] != '\0');
    return 0;
  }
  {
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    size_t len = coze_crypto_jwt_len(key, sizeof header - 1, size > 64 ? 64 : size), outlen = 0, i, dots = 0;
    char *jwt = malloc(len + 1);
    if (coze_crypto_jwt_rs256(key, header, sizeof header - 1, (const char *)data, size > 64 ? 64 : size, jwt,
                              &outlen, err, sizeof err) == 0) {
      assert(outlen == len);
      for (i = 0; i < outlen; i++)
        dots += jwt[i] == '.';
      assert(dots == 2);
    }
    free(jwt);
  }
  coze_crypto_key_free(key);
  return 0;
}
