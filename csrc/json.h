/* One-pass JSON decoder that pushes Lua values as it parses (no intermediate tree).
 *
 * Accepts exactly what lua-cjson 2.1.0's decode accepts (default settings), and yields the same
 * values, with these deliberate differences (spec/json_spec.lua checks all of them):
 *  - Lua 5.3+: a decimal integer literal (-?(0|[1-9][0-9]*)) that fits lua_Integer is pushed as
 *    an integer, exact beyond 2^53; cjson pushes every number as a float. "-0" stays the float -0.0.
 *  - a NUL byte outside a string is an error; cjson stops reading at the first NUL and ignores
 *    what follows it (e.g. `{}\0garbage` is accepted by cjson).
 * Compatibility kept on purpose (cjson accepts them, so the same input never decodes differently):
 * numbers are whatever strtod reads after '-', '+' or a digit (hex, "01", "1.", "+1", inf, nan)
 * and "inf"/"nan" prefixes in any case; raw control bytes and invalid UTF-8 inside strings pass
 * through; \u escapes must form valid UTF-16 (a lone surrogate is an error); null is
 * lightuserdata(NULL), i.e. cjson.null.
 *
 * The parser owns no heap memory: strings with escapes are decoded into a buffer on the C stack
 * or, when long, into a temporary userdata. A Lua error (memory) may therefore unwind it safely.
 */
#ifndef COZE_JSON_H
#define COZE_JSON_H

#include <stddef.h>

#include <lua.h>

#define COZE_JSON_DEFAULT_DEPTH 1000 /* as cjson's decode_max_depth */
#define COZE_JSON_MAX_DEPTH 10000    /* hard cap: the parser recurses once per level */

/* Decodes s[0..len); s[len] must be '\0' (true of every Lua string). On success pushes one value
 * and returns 1. On invalid input pushes nothing, writes a message ending in "at character N"
 * (1-based) into err and returns 0. Nesting deeper than max_depth is invalid input. Raises only
 * the Lua errors of the API it calls (out of memory). */
int coze_json_decode(lua_State *L, const char *s, size_t len, int max_depth,
                     char *err, size_t errlen);

/* coze_json_decode for an input the caller gives up (a response body read whole): as parsing
 * goes past each MiB, the whole pages of s behind it are given back to the system
 * (coze_pages_release), so a large body and its decoded value are not resident together. s must
 * not be read again afterwards (free it), whether decoding succeeded or not. */
int coze_json_decode_giveback(lua_State *L, const char *s, size_t len, int max_depth,
                              char *err, size_t errlen);

#endif
