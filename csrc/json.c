/* JSON decoder: recursive descent over a NUL-terminated buffer, pushing Lua values as it goes.
 * See json.h for the accepted language (lua-cjson 2.1.0's) and the differences kept on purpose.
 *
 * Speed comes from: no token structs or intermediate copies (unescaped strings are pushed straight
 * from the input, scanned 8 bytes at a time); tables created at their final size (up to PENDING
 * items wait on the Lua stack until the container closes, so a 10-key object costs one
 * allocation instead of five rehashes); integers and short decimals converted without strtod.
 */
#include <float.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "json.h"
#include "pages.h"

#define PENDING 32       /* items a container keeps on the stack before its table is created */
#define PENDING_DEPTH 32 /* deeper containers fill their table directly (bounded stack use) */
#define SCRATCH 4096     /* strings with escapes up to this raw size decode on the C stack */
#ifndef GIVEBACK_STEP     /* (the fuzz target makes it small) */
#define GIVEBACK_STEP (1 << 20) /* coze_json_decode_giveback: input given back in steps this big */
#endif

typedef struct jp {
  lua_State *L;
  const char *s;   /* input */
  const char *end; /* s + len; *end == '\0' */
  const char *p;   /* next byte to parse */
  const char *given;   /* input before this was given back (coze_json_decode_giveback) */
  const char *give_at; /* give back more once an item ends past this; end + 1: never */
  int depth, max_depth;
  char *err;
  size_t errlen;
  char scratch[SCRATCH];
} jp;

/* ' ', \t, \n, \r: cjson's whitespace */
static const unsigned char ws[256] = {
  ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1
};

/* bytes that end the fast scan of a string */
static const unsigned char strstop[256] = {
  [0] = 1, ['"'] = 1, ['\\'] = 1
};

#define SKIP_WS(p) while (ws[(unsigned char)*(p)]) (p)++

static int fail_msg(jp *j, const char *msg, const char *at)
{
  snprintf(j->err, j->errlen, "%s at character %lu", msg, (unsigned long)(at - j->s + 1));
  return -1;
}

static int fail(jp *j, const char *expected, const char *at)
{
  char found[24];
  unsigned char c = (unsigned char)*at;
  if (at >= j->end)
    strcpy(found, "the end");
  else if (c == 0)
    strcpy(found, "a NUL byte");
  else if (c >= 0x20 && c < 0x7f)
    snprintf(found, sizeof(found), "'%c'", c);
  else
    snprintf(found, sizeof(found), "byte 0x%02X", c);
  snprintf(j->err, j->errlen, "Expected %s but found %s at character %lu", expected, found,
           (unsigned long)(at - j->s + 1));
  return -1;
}

/* Counts a level and reserves stack. 1: items may wait on the stack; 0: fill the table
 * directly; -1: too deep (the depth limit, or no stack left, as cjson). */
static int enter(jp *j, const char *at)
{
  if (++j->depth <= j->max_depth) {
    if (j->depth <= PENDING_DEPTH && lua_checkstack(j->L, 2 * PENDING + 4))
      return 1;
    if (lua_checkstack(j->L, 4))
      return 0;
  }
  snprintf(j->err, j->errlen, "Found too many nested data structures (%d) at character %lu",
           j->depth, (unsigned long)(at - j->s + 1));
  return -1;
}

static int parse_value(jp *j);

/* ---- numbers ---- */

/* strtod's accepted language, as cjson (fpconv_strtod): strtod straight on the input when the
 * locale's decimal point is '.', else on a copy with '.' replaced. */
static int is_number_char(char c)
{
  char lc = (char)(c | 0x20);
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || (lc >= 'a' && lc <= 'y');
}

static int number_strtod(jp *j)
{
  const char *start = j->p;
  char *endp;
  double d;
  char dp = localeconv()->decimal_point[0];
  if (dp == '.' || dp == '\0') {
    d = strtod(start, &endp);
    if (endp == start)
      return fail_msg(j, "Expected value but found invalid number", start);
    j->p = endp;
  } else {
    char local[64], *buf = local, *dot;
    size_t n = 0;
    while (is_number_char(start[n]))
      n++;
    if (n >= sizeof(local))
      buf = (char *)lua_newuserdata(j->L, n + 1);
    memcpy(buf, start, n);
    buf[n] = '\0';
    if ((dot = strchr(buf, '.')) != NULL)
      *dot = dp;
    d = strtod(buf, &endp);
    if (buf != local)
      lua_pop(j->L, 1);
    if (endp == buf)
      return fail_msg(j, "Expected value but found invalid number", start);
    j->p = start + (endp - buf);
  }
  lua_pushnumber(j->L, (lua_Number)d);
  return 0;
}

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define FAST_FLOAT 1
static const double pow10tab[23] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};
#endif

#define DIGIT(c) ((unsigned)((c) - '0') < 10u)

/* A JSON number as scanned: m * 10^exp10, negated when neg; isint without fraction or exponent. */
typedef struct jnum {
  uint64_t m;
  int neg, exp10, isint;
} jnum;

/* At '-' or a digit: scans the JSON grammar into *n and sets *end past it. -1 for anything else
 * strtod would read ("01", "1.", "0x1F", "-inf") or more than 19 significant digits: those go to
 * strtod from the start, exactly as cjson does. */
static int scan_number(const char *p, jnum *n, const char **end)
{
  int nd = 0;
  n->m = 0;
  n->neg = n->exp10 = 0;
  n->isint = 1;
  if (*p == '-') {
    n->neg = 1;
    p++;
  }
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    do {
      if (nd == 19)
        return -1;
      n->m = n->m * 10 + (uint64_t)(*p++ - '0');
      nd++;
    } while (DIGIT(*p));
  } else {
    return -1;
  }
  if (*p == '.') {
    p++;
    if (!DIGIT(*p))
      return -1;
    n->isint = 0;
    do {
      if (n->m == 0 && *p == '0') { /* leading zeros of 0.00ddd are not significant */
        if (n->exp10 > -100000) /* past -22 only strtod is used: the count need not be exact */
          n->exp10--;
        p++;
        continue;
      }
      if (nd == 19)
        return -1;
      n->m = n->m * 10 + (uint64_t)(*p++ - '0');
      nd++;
      n->exp10--;
    } while (DIGIT(*p));
  }
  if (*p == 'e' || *p == 'E') {
    int eneg = 0, e = 0;
    p++;
    if (*p == '+' || *p == '-')
      eneg = *p++ == '-';
    if (!DIGIT(*p))
      return -1;
    n->isint = 0;
    do {
      if (e < 100000)
        e = e * 10 + (*p - '0');
      p++;
    } while (DIGIT(*p));
    n->exp10 += eneg ? -e : e;
  }
  /* strtod would read further: leading zeros, "0x..", "1.5.", "1e5e" (the last two then fail) */
  if (*p == '.' || *p == 'x' || *p == 'X' || *p == 'e' || *p == 'E' || DIGIT(*p))
    return -1;
  *end = p;
  return 0;
}

/* Pushes a scanned number exactly: a Lua integer when it is one and fits, else a float when
 * Clinger's fast path rounds correctly, else strtod's answer. */
static int push_number(jp *j, const jnum *n, const char *end)
{
#if COZE_LUA_53
  if (n->isint && !(n->neg && n->m == 0)) { /* "-0" stays a float: -0.0, as cjson */
    if (!n->neg && n->m <= (uint64_t)LUA_MAXINTEGER) {
      lua_pushinteger(j->L, (lua_Integer)n->m);
      j->p = end;
      return 0;
    }
    if (n->neg && n->m - 1 <= (uint64_t)LUA_MAXINTEGER) {
      lua_pushinteger(j->L, -(lua_Integer)(n->m - 1) - 1);
      j->p = end;
      return 0;
    }
    return number_strtod(j);
  }
#endif
#ifdef FAST_FLOAT
  /* Clinger: m and 10^|e| are exact doubles, so one multiply or divide rounds correctly */
  if (n->m == 0 || (n->m <= ((uint64_t)1 << 53) && n->exp10 >= -22 && n->exp10 <= 22)) {
    double d = (double)n->m;
    if (n->m != 0) {
      if (n->exp10 < 0)
        d /= pow10tab[-n->exp10];
      else
        d *= pow10tab[n->exp10];
    }
    lua_pushnumber(j->L, (lua_Number)(n->neg ? -d : d));
    j->p = end;
    return 0;
  }
#endif
  (void)end;
  return number_strtod(j);
}

static int parse_number(jp *j)
{
  jnum n;
  const char *end;
  if (scan_number(j->p, &n, &end) != 0)
    return number_strtod(j);
  return push_number(j, &n, end);
}

/* ---- strings ---- */

static int hex4(const char *p)
{
  int v = 0, k;
  for (k = 0; k < 4; k++) { /* stops at the first non-hex byte: never reads past a '"' */
    int c = (unsigned char)p[k], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
      d = (c | 0x20) - 'a' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

static char *put_utf8(char *o, unsigned long cp)
{
  if (cp < 0x80) {
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xC0 | (cp >> 6));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | (cp >> 12));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | (cp >> 18));
    *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/* start: first byte of the string body; p: its first backslash. Every escape decodes to no more
 * bytes than it takes, so the body's raw length bounds the output. */
static int parse_string_escaped(jp *j, const char *start, const char *p)
{
  lua_State *L = j->L;
  const char *q = p;
  char *buf, *o;
  size_t raw;
  for (;;) { /* find the closing quote */
    char c = *q;
    if (c == '"')
      break;
    if (c == '\\') {
      if (q[1] == '\0')
        return fail_msg(j, "Expected value but found unexpected end of string", q + 1);
      q += 2;
    } else if (c == '\0') {
      return fail_msg(j, "Expected value but found unexpected end of string", q);
    } else {
      q++;
    }
  }
  raw = (size_t)(q - start);
  buf = raw <= SCRATCH ? j->scratch : (char *)lua_newuserdata(L, raw);
  memcpy(buf, start, (size_t)(p - start));
  o = buf + (p - start);
  while (p < q) {
    char c = *p;
    if (c != '\\') {
      *o++ = c;
      p++;
      continue;
    }
    switch (p[1]) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '/': *o++ = '/'; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      long cp = hex4(p + 2), lo;
      if (cp < 0)
        return fail_msg(j, "Expected value but found invalid unicode escape code", p);
      if ((cp & 0xF800) == 0xD800) { /* surrogate: must be a high one followed by \u low */
        if ((cp & 0x400) || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0 ||
            (lo & 0xFC00) != 0xDC00)
          return fail_msg(j, "Expected value but found invalid unicode escape code", p);
        cp = (((cp & 0x3FF) << 10) | (lo & 0x3FF)) + 0x10000;
        p += 6;
      }
      o = put_utf8(o, (unsigned long)cp);
      p += 6;
      continue;
    }
    default:
      return fail_msg(j, "Expected value but found invalid escape code", p);
    }
    p += 2;
  }
  lua_pushlstring(L, buf, (size_t)(o - buf));
  if (buf != j->scratch)
    lua_remove(L, -2);
  j->p = q + 1;
  return 0;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
#define HASZERO(v) (((v) - ONES) & ~(v) & HIGHS)

/* At '"'. Pushes the string. */
static int parse_string(jp *j)
{
  const char *start = j->p + 1, *p = start;
  while (j->end - p >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    if (HASZERO(v ^ (ONES * '"')) | HASZERO(v ^ (ONES * '\\')) | HASZERO(v))
      break;
    p += 8;
  }
  while (!strstop[(unsigned char)*p])
    p++;
  if (*p == '"') {
    lua_pushlstring(j->L, start, (size_t)(p - start));
    j->p = p + 1;
    return 0;
  }
  if (*p == '\\')
    return parse_string_escaped(j, start, p);
  return fail_msg(j, "Expected value but found unexpected end of string", p);
}

/* ---- containers ---- */

/* The n items waiting on the stack above base (key/value pairs when pairs) go into a new table
 * created with room for narr/nrec, which takes their place at base + 1. In order: the last of
 * duplicate keys wins. */
static void flush_pending(lua_State *L, int base, int n, int pairs, int narr, int nrec)
{
  int i;
  lua_createtable(L, narr, nrec);
  for (i = 1; i <= n; i++) {
    if (pairs) {
      lua_pushvalue(L, base + 2 * i - 1);
      lua_pushvalue(L, base + 2 * i);
      lua_rawset(L, -3);
    } else {
      lua_pushvalue(L, base + i);
      lua_rawseti(L, -2, i);
    }
  }
  if (n > 0) {
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
  }
}

/* At the '"' of a member: pushes its key and value, leaves j->p after the value. */
static int parse_member(jp *j)
{
  const char *p;
  if (parse_string(j) != 0)
    return -1;
  p = j->p;
  SKIP_WS(p);
  if (*p != ':')
    return fail(j, "colon", p);
  p++;
  SKIP_WS(p);
  j->p = p;
  return parse_value(j);
}

/* Arrays (pairs 0) and objects (pairs 1: members are key/value pairs) in one loop; the tests of
 * pairs cost nothing measurable (callgrind, a 34 KB document: no more instructions than two copies). */
static inline int parse_container(jp *j, int pairs)
{
  lua_State *L = j->L;
  const char *p = j->p;
  const char close = pairs ? '}' : ']';
  int mode = enter(j, p), base, t = 0, n = 0;
  if (mode < 0)
    return -1;
  base = lua_gettop(L);
  if (mode == 0) {
    lua_newtable(L);
    t = base + 1;
  }
  p++;
  SKIP_WS(p);
  if (*p != close) {
    for (;;) {
      if (pairs && *p != '"')
        return fail(j, "object key string", p);
      j->p = p;
      if ((pairs ? parse_member(j) : parse_value(j)) != 0)
        return -1;
      n++;
      if (t != 0) {
        if (pairs)
          lua_rawset(L, t);
        else
          lua_rawseti(L, t, n);
      } else if (n == PENDING) { /* a long container: table now, the rest directly */
        flush_pending(L, base, n, pairs, pairs ? 0 : 4 * PENDING, pairs ? 2 * PENDING : 0);
        t = base + 1;
      }
      p = j->p;
      if (p >= j->give_at) { /* nothing before p is read again: items only look forward */
        j->given = coze_pages_release(j->given, p);
        j->give_at = (size_t)(j->end - p) > GIVEBACK_STEP ? p + GIVEBACK_STEP : j->end + 1;
      }
      SKIP_WS(p);
      if (*p == ',') {
        p++;
        SKIP_WS(p);
        continue;
      }
      if (*p == close)
        break;
      return fail(j, pairs ? "comma or object end" : "comma or array end", p);
    }
  }
  if (t == 0)
    flush_pending(L, base, n, pairs, pairs ? 0 : n, pairs ? n : 0);
  j->p = p + 1;
  j->depth--;
  return 0;
}

static int parse_array(jp *j)
{
  return parse_container(j, 0);
}

static int parse_object(jp *j)
{
  return parse_container(j, 1);
}

static int ci3(const char *p, const char *lit)
{
  return (p[0] | 0x20) == lit[0] && (p[1] | 0x20) == lit[1] && (p[2] | 0x20) == lit[2];
}

/* At the first byte of a value (whitespace skipped). */
static int parse_value(jp *j)
{
  const char *p = j->p;
  size_t left = (size_t)(j->end - p);
  switch (*p) {
  case '"':
    return parse_string(j);
  case '{':
    return parse_object(j);
  case '[':
    return parse_array(j);
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    return parse_number(j);
  case 't':
    if (left >= 4 && memcmp(p, "true", 4) == 0) {
      lua_pushboolean(j->L, 1);
      j->p = p + 4;
      return 0;
    }
    break;
  case 'f':
    if (left >= 5 && memcmp(p, "false", 5) == 0) {
      lua_pushboolean(j->L, 0);
      j->p = p + 5;
      return 0;
    }
    break;
  case 'n':
    if (left >= 4 && memcmp(p, "null", 4) == 0) {
      lua_pushlightuserdata(j->L, NULL);
      j->p = p + 4;
      return 0;
    }
    /* fall through */
  case 'N': case 'i': case 'I':
    if (ci3(p, "inf") || ci3(p, "nan")) /* ci3 stops at the NUL sentinel */
      return number_strtod(j);
    break;
  case '+':
    return number_strtod(j);
  default:
    break;
  }
  return fail(j, "value", p);
}

static int decode(lua_State *L, const char *s, size_t len, int max_depth, int giveback, char *err,
                  size_t errlen)
{
  jp j;
  int top = lua_gettop(L);
  const char *p = s;
  j.L = L;
  j.s = s;
  j.end = s + len;
  j.given = s;
  j.give_at = giveback && len > GIVEBACK_STEP ? s + GIVEBACK_STEP : j.end + 1;
  j.depth = 0;
  j.max_depth = max_depth;
  j.err = err;
  j.errlen = errlen;
  SKIP_WS(p);
  j.p = p;
  if (parse_value(&j) == 0) {
    p = j.p;
    SKIP_WS(p);
    if (p == j.end)
      return 1;
    fail(&j, "the end", p);
  }
  lua_settop(L, top);
  return 0;
}

int coze_json_decode(lua_State *L, const char *s, size_t len, int max_depth,
                     char *err, size_t errlen)
{
  return decode(L, s, len, max_depth, 0, err, errlen);
}

int coze_json_decode_giveback(lua_State *L, const char *s, size_t len, int max_depth,
                              char *err, size_t errlen)
{
  return decode(L, s, len, max_depth, 1, err, errlen);
}
