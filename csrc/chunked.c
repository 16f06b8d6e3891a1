/* HTTP/1.1 chunked transfer decoding (RFC 9112 7.1): see chunked.h. */
#include "chunked.h"

enum {
  S_SIZE,        /* hex digits of a chunk size */
  S_EXT,         /* after the size: blanks, `;` extensions, until the line end */
  S_SIZE_LF,     /* CR seen at the end of the size line */
  S_DATA,        /* chunk data */
  S_DATA_END,    /* CRLF (or LF) after the data */
  S_DATA_LF,
  S_TRAILER,     /* at the start of a trailer line (or the final empty line) */
  S_TRAILER_LINE,
  S_TRAILER_LF,  /* CR at the start of a line: the final empty line */
  S_DONE,
  S_BAD
};

void coze_chunked_init(coze_chunked *c)
{
  c->state = S_SIZE;
  c->left = 0;
  c->line = 0;
  c->digits = 0;
  c->data = 0;
}

static int hexval(unsigned char ch)
{
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static int bad(coze_chunked *c, size_t i, size_t *used)
{
  c->state = S_BAD;
  *used = i;
  return COZE_CHUNKED_BAD;
}

/* The size line ended: data follows, or the trailers after the last chunk. */
static void size_done(coze_chunked *c)
{
  c->line = 0;
  c->state = c->left > 0 ? S_DATA : S_TRAILER;
}

int coze_chunked_feed(coze_chunked *c, const char *in, size_t len, coze_sink out, size_t *used)
{
  size_t i = 0;
  *used = 0;
  if (c->state == S_DONE) return COZE_CHUNKED_DONE;
  if (c->state == S_BAD) return COZE_CHUNKED_BAD;
  while (i < len) {
    unsigned char ch = (unsigned char)in[i];
    switch (c->state) {
    case S_SIZE: {
      int v = hexval(ch);
      if (v >= 0) {
        if (c->digits >= 15) return bad(c, i, used); /* beyond any real chunk; no overflow */
        c->left = c->left * 16 + (unsigned)v;
        c->digits++;
      } else if (c->digits == 0) {
        return bad(c, i, used);
      } else if (ch == '\r') {
        c->state = S_SIZE_LF;
      } else if (ch == '\n') {
        size_done(c);
      } else if (ch == ';' || ch == ' ' || ch == '\t') {
        c->state = S_EXT;
      } else {
        return bad(c, i, used);
      }
      if (++c->line > COZE_CHUNKED_MAX_LINE) return bad(c, i, used);
      i++;
      break;
    }
    case S_EXT:
      if (ch == '\r') c->state = S_SIZE_LF;
      else if (ch == '\n') size_done(c);
      if (++c->line > COZE_CHUNKED_MAX_LINE) return bad(c, i, used);
      i++;
      break;
    case S_SIZE_LF:
      if (ch != '\n') return bad(c, i, used);
      size_done(c);
      i++;
      break;
    case S_DATA: {
      size_t n = len - i;
      int rc;
      if ((unsigned long long)n > c->left) n = (size_t)c->left;
      rc = out.feed(out.ctx, in + i, n);
      if (rc != 0) {
        *used = i;
        return rc < 0 ? COZE_CHUNKED_NOMEM : COZE_CHUNKED_BUSY;
      }
      c->left -= n;
      c->data += n;
      i += n;
      if (c->left == 0) c->state = S_DATA_END;
      break;
    }
    case S_DATA_END:
      if (ch == '\r') c->state = S_DATA_LF;
      else if (ch == '\n') { c->state = S_SIZE; c->digits = 0; c->line = 0; }
      else return bad(c, i, used);
      i++;
      break;
    case S_DATA_LF:
      if (ch != '\n') return bad(c, i, used);
      c->state = S_SIZE;
      c->digits = 0;
      c->line = 0;
      i++;
      break;
    case S_TRAILER:
      if (ch == '\n') {
        c->state = S_DONE;
        *used = i + 1;
        return COZE_CHUNKED_DONE;
      }
      c->state = ch == '\r' ? S_TRAILER_LF : S_TRAILER_LINE;
      if (++c->line > COZE_CHUNKED_MAX_TRAILER) return bad(c, i, used);
      i++;
      break;
    case S_TRAILER_LINE:
      if (ch == '\n') c->state = S_TRAILER;
      if (++c->line > COZE_CHUNKED_MAX_TRAILER) return bad(c, i, used);
      i++;
      break;
    case S_TRAILER_LF:
      if (ch != '\n') return bad(c, i, used);
      c->state = S_DONE;
      *used = i + 1;
      return COZE_CHUNKED_DONE;
    default:
      return bad(c, i, used);
    }
  }
  *used = i;
  return COZE_CHUNKED_MORE;
}
