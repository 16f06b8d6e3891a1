/* Growable byte buffer shared by the pure-C units (no lua.h). */
#ifndef COZE_BUF_H
#define COZE_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct coze_buf {
  char *data;
  size_t len;
  size_t cap;
} coze_buf;

void coze_buf_init(coze_buf *b);
/* 0 on success, -1 when memory runs out (the buffer is left as it was). */
int coze_buf_append(coze_buf *b, const void *bytes, size_t n);
int coze_buf_reserve(coze_buf *b, size_t extra);
/* Reserve once, then put: appends into room coze_buf_reserve made (cannot fail, keeps the NUL
 * terminator the reservation left room for). For writers that append several pieces per check. */
static inline void coze_buf_put(coze_buf *b, const void *bytes, size_t n)
{
  if (n > 0)
    memcpy(b->data + b->len, bytes, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static inline void coze_buf_putc(coze_buf *b, char c)
{
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

/* Drops the first n bytes. */
void coze_buf_consume(coze_buf *b, size_t n);
void coze_buf_reset(coze_buf *b);
void coze_buf_free(coze_buf *b);

#endif
