/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). Pure C. */
#ifndef COZE_UTF8_H
#define COZE_UTF8_H

#include <stddef.h>

/* Returns len when s[0..len) is valid UTF-8, else the offset of the first invalid sequence. */
size_t coze_utf8_check(const char *s, size_t len);

#endif
