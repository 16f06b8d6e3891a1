/* libFuzzer target for the chunked decoder: no crash, output never longer than the input, and the
 * same output and outcome whether the bytes come at once or one at a time. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct out {
  char *p;
  size_t n;
} out;

static int collect(void *ctx, const char *bytes, size_t len)
{
  out *o = (out *)ctx;
  memcpy(o->p + o->n, bytes, len);
  o->n += len;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  coze_chunked a, b;
  out oa, ob;
  coze_sink ka, kb;
  size_t used, i, taken = 0;
  int ra, rb = COZE_CHUNKED_MORE;
  oa.p = malloc(size + 1);
  ob.p = malloc(size + 1);
  oa.n = ob.n = 0;
  ka.ctx = &oa; ka.feed = collect;
  kb.ctx = &ob; kb.feed = collect;
  coze_chunked_init(&a);
  coze_chunked_init(&b);
  ra = coze_chunked_feed(&a, (const char *)data, size, ka, &used);
  assert(used <= size && oa.n <= size);
  if (ra == COZE_CHUNKED_MORE) assert(used == size);
  for (i = 0; i < size && rb == COZE_CHUNKED_MORE; i++) {
    size_t u;
    rb = coze_chunked_feed(&b, (const char *)data + i, 1, kb, &u);
    taken += u;
  }
  assert(ra == rb);
  assert(oa.n == ob.n && memcmp(oa.p, ob.p, oa.n) == 0);
  assert(a.data == oa.n && b.data == ob.n); /* the count is what went to the sink */
  if (ra == COZE_CHUNKED_DONE) assert(taken == used);
  free(oa.p);
  free(ob.p);
  return 0;
}
