/* Finds the values of a few keys of a JSON object without building it: the WebSocket layer reads
 * event_type, id and detail.logid of every message this way and decodes the rest only when asked
 * (ev.data), and takes base64 audio straight out of the text. Not a validator: the full decoder
 * (json.c) judges the text when the rest is decoded. Pure C (no lua.h); fuzz/fuzz_ws.c feeds it. */
#ifndef COZE_JSCAN_H
#define COZE_JSCAN_H

#include <stddef.h>

enum { COZE_JSCAN_ABSENT = 0, COZE_JSCAN_STRING, COZE_JSCAN_ESCAPED, COZE_JSCAN_OTHER };

typedef struct coze_jscan_field {
  const char *key;   /* matched against keys written without escapes */
  size_t key_len;
  int type;          /* COZE_JSCAN_*: the first occurrence of the key */
  size_t start, len; /* STRING/ESCAPED: the characters between the quotes; OTHER: the value's text */
} coze_jscan_field;

/* Scans the object at s[0..n) (blanks around it allowed) and fills the fields found at its top level.
 * 0, or -1 when the text is not a well-bracketed object. */
int coze_jscan_object(const char *s, size_t n, coze_jscan_field *fields, int nfields);

#endif
