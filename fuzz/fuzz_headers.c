/* libFuzzer target for the header block rules: no crash, and every field obeys headers.h. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coze_headers h;
  size_t i, k;
  coze_headers_init(&h);
  if (coze_headers_parse(&h, (const char *)data, size) == COZE_HEADERS_OK) {
    for (i = 0; i < h.n; i++) {
      const coze_header *f = &h.fields[i];
      assert(f->name_len > 0 && f->name[f->name_len] == '\0' && f->value[f->value_len] == '\0');
      for (k = 0; k < f->name_len; k++)
        assert(!(f->name[k] >= 'A' && f->name[k] <= 'Z') && f->name[k] != ':' && f->name[k] > ' ');
      if (f->value_len > 0) {
        assert(f->value[0] != ' ' && f->value[0] != '\t');
        assert(f->value[f->value_len - 1] != ' ' && f->value[f->value_len - 1] != '\t');
      }
      assert(memchr(f->value, '\n', f->value_len) == NULL);
      assert(coze_headers_get(&h, f->name) == f);
    }
    /* parsing again into the same struct reuses its memory and gives the same fields */
    k = h.n;
    assert(coze_headers_parse(&h, (const char *)data, size) == COZE_HEADERS_OK && h.n == k);
  }
  coze_headers_free(&h);
  return 0;
}
