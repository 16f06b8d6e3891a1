#include "jscan.h"

#include <string.h>

static size_t skip_ws(const char *s, size_t n, size_t i)
{
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

/* i at the opening quote: the index after the closing quote, or n when unterminated. Long strings
 * (base64 audio) are crossed with memchr rather than a byte at a time. */
static size_t skip_string(const char *s, size_t n, size_t i, int *escaped)
{
  const char *q = i + 1 < n ? memchr(s + i + 1, '"', n - i - 1) : NULL;
  if (q == NULL)
    return n;
  if (memchr(s + i + 1, '\\', (size_t)(q - s) - i - 1) == NULL)
    return (size_t)(q - s) + 1;
  for (i++; i < n; i++) {
    if (s[i] == '\\') {
      *escaped = 1;
      i++;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return n;
}

/* i at a value: the index after it, or n when it runs off the end (never recursive). */
static size_t skip_value(const char *s, size_t n, size_t i)
{
  int esc = 0;
  if (s[i] == '"')
    return skip_string(s, n, i, &esc);
  if (s[i] == '{' || s[i] == '[') {
    size_t depth = 0;
    while (i < n) {
      char c = s[i];
      if (c == '"') {
        i = skip_string(s, n, i, &esc);
        continue;
      }
      if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        if (--depth == 0)
          return i + 1;
      }
      i++;
    }
    return n;
  }
  while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
         s[i] != '\r')
    i++;
  return i;
}

int coze_jscan_object(const char *s, size_t n, coze_jscan_field *f, int nf)
{
  size_t i = skip_ws(s, n, 0);
  int k;
  for (k = 0; k < nf; k++)
    f[k].type = COZE_JSCAN_ABSENT;
  if (i >= n || s[i] != '{')
    return -1;
  i = skip_ws(s, n, i + 1);
  if (i < n && s[i] == '}')
    return skip_ws(s, n, i + 1) == n ? 0 : -1;
  for (;;) {
    size_t key, key_end, v, v_end;
    int key_esc = 0, val_esc = 0;
    if (i >= n || s[i] != '"')
      return -1;
    key = i + 1;
    i = skip_string(s, n, i, &key_esc);
    if (i >= n)
      return -1;
    key_end = i - 1;
    i = skip_ws(s, n, i);
    if (i >= n || s[i] != ':')
      return -1;
    v = skip_ws(s, n, i + 1);
    if (v >= n)
      return -1;
    if (s[v] == '"')
      v_end = skip_string(s, n, v, &val_esc);
    else
      v_end = skip_value(s, n, v);
    if (v_end >= n || v_end == v)
      return -1; /* an object ends with '}', so a value never reaches the end */
    if (!key_esc) {
      for (k = 0; k < nf; k++) {
        if (f[k].type == COZE_JSCAN_ABSENT && f[k].key_len == key_end - key &&
            memcmp(s + key, f[k].key, f[k].key_len) == 0) {
          if (s[v] == '"') {
            f[k].type = val_esc ? COZE_JSCAN_ESCAPED : COZE_JSCAN_STRING;
            f[k].start = v + 1;
            f[k].len = v_end - v - 2;
          } else {
            f[k].type = COZE_JSCAN_OTHER;
            f[k].start = v;
            f[k].len = v_end - v;
          }
        }
      }
    }
    i = skip_ws(s, n, v_end);
    if (i >= n)
      return -1;
    if (s[i] == '}')
      return skip_ws(s, n, i + 1) == n ? 0 : -1;
    if (s[i] != ',')
      return -1;
    i = skip_ws(s, n, i + 1);
  }
}
