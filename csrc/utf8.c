#include "utf8.h"

#include <stdint.h>
#include <string.h>

size_t coze_utf8_check(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    unsigned c = p[i];
    if (c < 0x80) {
      /* ASCII runs are the common case: skip them 8 bytes at a time */
      while (len - i >= 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v & UINT64_C(0x8080808080808080))
          break;
        i += 8;
      }
      while (i < len && p[i] < 0x80)
        i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      if (len - i < 2 || (p[i + 1] & 0xC0) != 0x80)
        return i;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF; /* overlong, surrogates */
      if (len - i < 3 || p[i + 1] < lo || p[i + 1] > hi || (p[i + 2] & 0xC0) != 0x80)
        return i;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF; /* overlong, > U+10FFFF */
      if (len - i < 4 || p[i + 1] < lo || p[i + 1] > hi || (p[i + 2] & 0xC0) != 0x80 ||
          (p[i + 3] & 0xC0) != 0x80)
        return i;
      i += 4;
    } else {
      return i;
    }
  }
  return len;
}
