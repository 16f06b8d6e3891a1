#include "buf.h"

#include <stdlib.h>
#include <string.h>

void coze_buf_init(coze_buf *b)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

int coze_buf_reserve(coze_buf *b, size_t extra)
{
  size_t need, cap;
  char *p;
  if (extra > (size_t)-1 - b->len - 1)
    return -1;
  need = b->len + extra + 1; /* room for a terminating NUL, handy for strtol & co */
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
  p = realloc(b->data, cap);
  if (p == NULL)
    return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int coze_buf_append(coze_buf *b, const void *bytes, size_t n)
{
  if (coze_buf_reserve(b, n) != 0)
    return -1;
  coze_buf_put(b, bytes, n);
  return 0;
}

void coze_buf_consume(coze_buf *b, size_t n)
{
  if (n >= b->len) {
    b->len = 0;
  } else {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
  }
  if (b->data != NULL)
    b->data[b->len] = '\0';
}

void coze_buf_reset(coze_buf *b)
{
  b->len = 0;
  if (b->data != NULL)
    b->data[0] = '\0';
}

void coze_buf_free(coze_buf *b)
{
  free(b->data);
  coze_buf_init(b);
}
