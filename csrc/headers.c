/* HTTP response header block rules (see headers.h).
 *
 * Two passes: the lines go into a scratch store (names lower-cased, values trimmed, obs-folds
 * joined to the line before), then each distinct name is written once into h->store with the
 * values of its repeats joined. The store is reserved at its final size before it is written, so
 * the fields can point into it.
 */
#include "headers.h"

#include <stdlib.h>
#include <string.h>

typedef struct line {
  size_t noff, nlen, voff, vlen;
  size_t first; /* index of the first line with this name */
} line;

/* RFC 9110 tchar */
static const unsigned char tchar[256] = {
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
  ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
  ['8'] = 1, ['9'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
  ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
  ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
  ['Y'] = 1, ['Z'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
  ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
  ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
  ['y'] = 1, ['z'] = 1
};

#define BLANK(c) ((c) == ' ' || (c) == '\t')

void coze_headers_init(coze_headers *h)
{
  h->fields = NULL;
  h->n = 0;
  h->cap = 0;
  coze_buf_init(&h->store);
}

void coze_headers_free(coze_headers *h)
{
  free(h->fields);
  coze_buf_free(&h->store);
  coze_headers_init(h);
}

/* [*v, *e) without the blanks around it */
static void trim(const char **v, const char **e)
{
  while (*v < *e && BLANK(**v))
    (*v)++;
  while (*e > *v && BLANK((*e)[-1]))
    (*e)--;
}

static int valid_name(const char *p, const char *colon)
{
  if (p == colon)
    return 0;
  for (; p < colon; p++)
    if (!tchar[(unsigned char)*p])
      return 0;
  return 1;
}

/* Pass 1: the lines of block into ls (up to COZE_HEADERS_MAX_FIELDS) and their text into tmp. */
static int scan_lines(const char *block, size_t len, line *ls, size_t *nl, coze_buf *tmp)
{
  const char *p = block, *end = block + len;
  size_t n = 0;
  int last_ok = 0; /* the line before was a field line (a continuation may follow it) */
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *lend = eol != NULL ? eol : end, *next = eol != NULL ? eol + 1 : end;
    const char *colon, *v, *c;
    if (lend > p && lend[-1] == '\r')
      lend--;
    if (BLANK(*p) && p < lend) { /* obs-fold: the previous field line goes on */
      v = p;
      trim(&v, &lend);
      if (last_ok && v < lend) {
        line *l = &ls[n - 1];
        if (coze_buf_reserve(tmp, (size_t)(lend - v) + 1) != 0)
          return COZE_HEADERS_NOMEM;
        if (l->vlen > 0)
          coze_buf_putc(tmp, ' ');
        coze_buf_put(tmp, v, (size_t)(lend - v));
        l->vlen = tmp->len - l->voff;
      }
      p = next;
      continue;
    }
    colon = memchr(p, ':', (size_t)(lend - p));
    last_ok = colon != NULL && valid_name(p, colon);
    if (!last_ok) {
      p = next;
      continue;
    }
    if (n == COZE_HEADERS_MAX_FIELDS)
      return COZE_HEADERS_TOO_LARGE;
    v = colon + 1;
    trim(&v, &lend);
    if (coze_buf_reserve(tmp, (size_t)(colon - p) + (size_t)(lend - v)) != 0)
      return COZE_HEADERS_NOMEM;
    ls[n].noff = tmp->len;
    ls[n].nlen = (size_t)(colon - p);
    for (c = p; c < colon; c++)
      coze_buf_putc(tmp, (*c >= 'A' && *c <= 'Z') ? (char)(*c + ('a' - 'A')) : *c);
    ls[n].voff = tmp->len;
    coze_buf_put(tmp, v, (size_t)(lend - v));
    ls[n].vlen = (size_t)(lend - v);
    n++;
    p = next;
  }
  *nl = n;
  return COZE_HEADERS_OK;
}

/* Pass 2: one field per distinct name into h, repeats joined with ", ". */
static int join_fields(coze_headers *h, line *ls, size_t nl, const coze_buf *tmp)
{
  size_t i, k, nd = 0;
  for (i = 0; i < nl; i++) {
    ls[i].first = i;
    for (k = 0; k < i; k++) {
      if (ls[k].first == k && ls[k].nlen == ls[i].nlen &&
          memcmp(tmp->data + ls[k].noff, tmp->data + ls[i].noff, ls[i].nlen) == 0) {
        ls[i].first = k;
        break;
      }
    }
    nd += ls[i].first == i;
  }
  /* every byte of tmp once, ", " per repeat, two NULs per field: reserved in one go */
  if (coze_buf_reserve(&h->store, tmp->len + 2 * nl + 2 * nd) != 0)
    return COZE_HEADERS_NOMEM;
  if (nd > h->cap) {
    coze_header *f = realloc(h->fields, nd * sizeof *f);
    if (f == NULL)
      return COZE_HEADERS_NOMEM;
    h->fields = f;
    h->cap = nd;
  }
  for (i = 0; i < nl; i++) {
    coze_header *f;
    char *name, *value;
    if (ls[i].first != i)
      continue;
    name = h->store.data + h->store.len;
    coze_buf_put(&h->store, tmp->data + ls[i].noff, ls[i].nlen);
    coze_buf_putc(&h->store, '\0');
    value = h->store.data + h->store.len;
    for (k = i; k < nl; k++) {
      if (ls[k].first != i || ls[k].vlen == 0) /* an empty repeat adds no empty list item */
        continue;
      if (h->store.data + h->store.len != value)
        coze_buf_put(&h->store, ", ", 2);
      coze_buf_put(&h->store, tmp->data + ls[k].voff, ls[k].vlen);
    }
    coze_buf_putc(&h->store, '\0');
    f = &h->fields[h->n++];
    f->name = name;
    f->name_len = ls[i].nlen;
    f->value = value;
    f->value_len = (size_t)(h->store.data + h->store.len - 1 - value);
  }
  return COZE_HEADERS_OK;
}

int coze_headers_parse(coze_headers *h, const char *block, size_t len)
{
  coze_buf tmp;
  line *ls = NULL;
  size_t nl = 0, i, nlines;
  int rc;
  h->n = 0;
  coze_buf_reset(&h->store);
  if (len > COZE_HEADERS_MAX_BYTES)
    return COZE_HEADERS_TOO_LARGE;
  coze_buf_init(&tmp);
  /* at most one field per line, and no more than the limit (which scan_lines enforces) */
  for (nlines = 1, i = 0; i < len; i++)
    nlines += block[i] == '\n';
  if (nlines > COZE_HEADERS_MAX_FIELDS + 1)
    nlines = COZE_HEADERS_MAX_FIELDS + 1;
  ls = malloc(nlines * sizeof *ls);
  if (ls == NULL)
    return COZE_HEADERS_NOMEM;
  rc = scan_lines(block, len, ls, &nl, &tmp);
  if (rc == COZE_HEADERS_OK)
    rc = join_fields(h, ls, nl, &tmp);
  free(ls);
  coze_buf_free(&tmp);
  if (rc != COZE_HEADERS_OK) {
    h->n = 0;
    coze_buf_reset(&h->store);
  }
  return rc;
}

const coze_header *coze_headers_get(const coze_headers *h, const char *name)
{
  size_t i, len = strlen(name);
  for (i = 0; i < h->n; i++)
    if (h->fields[i].name_len == len && memcmp(h->fields[i].name, name, len) == 0)
      return &h->fields[i];
  return NULL;
}
