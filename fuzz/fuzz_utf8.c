/* libFuzzer target for csrc/utf8.c: the fast validator against a slow, obviously-correct decoder.
 *   make build/fuzz/fuzz_utf8 && build/fuzz/fuzz_utf8 -max_total_time=60 fuzz/corpus/utf8
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes one scalar value at s[i]; returns its length, or 0 when the sequence is invalid. */
static size_t reference_one(const uint8_t *s, size_t n, size_t i)
{
  uint32_t cp, min;
  size_t len, k;
  uint8_t c = s[i];
  if (c < 0x80)
    return 1;
  if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
  else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
  else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
  else return 0;
  if (n - i < len)
    return 0;
  for (k = 1; k < len; k++) {
    if ((s[i + k] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i + k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t i = 0, expect;
  while (i < size) {
    size_t l = reference_one(data, size, i);
    if (l == 0)
      break;
    i += l;
  }
  expect = i;
  if (coze_utf8_check((const char *)data, size) != expect)
    abort();
  return 0;
}
