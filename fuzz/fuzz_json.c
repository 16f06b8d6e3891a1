/* libFuzzer target for csrc/json.c: differential against lua-cjson 2.1.0.
 *
 * Build and run (from the repository root; apt-get install clang libclang-rt-14-dev liblua5.4-dev
 * lua-cjson if missing):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Icsrc -I/usr/include/lua5.4 -o build/fuzz_json fuzz/fuzz_json.c csrc/json.c csrc/ljson.c \
 *     -llua5.4 -lm
 *   mkdir -p build/fuzz-corpus-json
 *   build/fuzz_json -max_total_time=120 -artifact_prefix=build/ build/fuzz-corpus-json fuzz/corpus/json
 * A standalone replay without libFuzzer: add -DFUZZ_JSON_MAIN and drop "fuzzer," from
 * -fsanitize; then run build/fuzz_json FILE...
 *
 * Every input is decoded by core.json_decode (compiled in) and by cjson.decode (loaded from
 * /usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so); abort() unless both accept with deeply equal
 * values or both reject. Equal means: same types, same keys; strings byte-equal; numbers equal
 * as cjson sees them (our integer converted to a float equals cjson's float; NaN matches NaN;
 * the sign of zero matches). Inputs holding a NUL byte, where cjson stops reading (json.h), must
 * be rejected by ours, and ours on the bytes before the NUL must agree with cjson on the whole.
 * Our error messages must end in "at character N" with N within the input.
 *
 * coze_json_decode_giveback (built here with a 64-byte step, so it gives pages back often) must
 * agree with coze_json_decode on every input, placed after 8 KB of array items so that whole pages
 * before it, and inside it, are given back while it is parsed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "json.h"
#include "lcore.h"

static const char checker[] =
  "local cjson = require 'cjson'\n"
  "local decode, giveback = ...\n"
  "local function same(a, b)\n"
  "  local ta = type(a)\n"
  "  if ta ~= type(b) then return false end\n"
  "  if ta == 'number' then\n"
  "    if a ~= a then return b ~= b end\n"
  "    local fa = a * 1.0 -- not a + 0.0: -0.0 + 0.0 is +0.0\n"
  "    if fa ~= b then return false end\n"
  "    if fa == 0 then return 1 / fa == 1 / b end\n"
  "    return true\n"
  "  end\n"
  "  if ta ~= 'table' then return a == b end\n"
  "  for k, v in pairs(a) do if not same(v, rawget(b, k)) then return false end end\n"
  "  for k in pairs(b) do if rawget(a, k) == nil then return false end end\n"
  "  return true\n"
  "end\n"
  "local function check_err(s, v, err)\n"
  "  if v ~= nil then return nil end\n"
  "  local n = type(err) == 'string' and tonumber(err:match('at character (%d+)$'))\n"
  "  if not n or n < 1 or n > #s + 1 then return 'bad error message: ' .. tostring(err) end\n"
  "end\n"
  "local function identical(a, b) -- both ours: same number subtypes, NaN as NaN, signs of zero\n"
  "  if type(a) ~= type(b) then return false end\n"
  "  if type(a) == 'number' then\n"
  "    if math.type(a) ~= math.type(b) then return false end\n"
  "    if a ~= a then return b ~= b end\n"
  "    return a == b and (a ~= 0 or 1 / a == 1 / b)\n"
  "  end\n"
  "  if type(a) ~= 'table' then return a == b end\n"
  "  for k, v in pairs(a) do if not identical(v, rawget(b, k)) then return false end end\n"
  "  for k in pairs(b) do if rawget(a, k) == nil then return false end end\n"
  "  return true\n"
  "end\n"
  "local PAD = '[' .. string.rep('0,', 4094) -- the input starts 3 bytes before a page boundary\n"
  "local function check_giveback(s)\n"
  "  local w = PAD .. s .. ']'\n"
  "  local a, aerr = decode(w)\n"
  "  local b, berr = giveback(w)\n"
  "  if aerr ~= berr then return 'giveback error differs: ' .. tostring(aerr) .. ' / ' .. tostring(berr) end\n"
  "  if not identical(a, b) then return 'giveback values differ' end\n"
  "end\n"
  "return function(s)\n"
  "  local bad = check_giveback(s)\n"
  "  if bad then return bad end\n"
  "  local v, err = decode(s)\n"
  "  bad = check_err(s, v, err)\n"
  "  if bad then return bad end\n"
  "  local nul = s:find('\\0', 1, true)\n"
  "  if nul then\n"
  "    if v ~= nil then return 'accepted an input holding a NUL byte' end\n"
  "    if nul <= 2 then return nil end\n"
  "    v, err = decode(s:sub(1, nul - 1))\n"
  "  end\n"
  "  local ok, cv = pcall(cjson.decode, s)\n"
  "  if ok ~= (v ~= nil) then\n"
  "    return 'accept/reject differs: ours ' .. tostring(v ~= nil and 'accepts' or err) ..\n"
  "      ', cjson ' .. tostring(ok and 'accepts' or cv)\n"
  "  end\n"
  "  if ok and not same(v, cv) then return 'values differ' end\n"
  "  return nil\n"
  "end\n";

static lua_State *L;
static int check_ref;

/* giveback(s) -> value | nil, err: coze_json_decode_giveback on a page-aligned copy of s (the
 * copy is what gets given back, as the transport's body buffer is). */
static int l_giveback(lua_State *S)
{
  size_t len, cap;
  const char *s = luaL_checklstring(S, 1, &len);
  char err[160], *copy;
  int ok;
  cap = (len + 1 + 4095) / 4096 * 4096;
  copy = aligned_alloc(4096, cap);
  if (copy == NULL)
    abort();
  memcpy(copy, s, len + 1);
  ok = coze_json_decode_giveback(S, copy, len, COZE_JSON_DEFAULT_DEPTH, err, sizeof err);
  free(copy);
  if (ok)
    return 1;
  lua_pushnil(S);
  lua_pushstring(S, err);
  return 2;
}

static void setup(void)
{
  L = luaL_newstate();
  if (L == NULL)
    abort();
  luaL_openlibs(L);
  if (luaL_dostring(L, "package.cpath = '/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;' .. package.cpath"))
    abort();
  lua_newtable(L);
  coze_l_json_open(L);
  lua_getfield(L, -1, "json_decode");
  lua_remove(L, -2);
  if (luaL_loadstring(L, checker) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_insert(L, -2);
  lua_pushcfunction(L, l_giveback);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (L == NULL)
    setup();
  lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "checker raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  if (!lua_isnil(L, -1)) {
    fprintf(stderr, "json mismatch: %s\ninput (%zu bytes): %.*s\n", lua_tostring(L, -1), size,
            (int)(size > 400 ? 400 : size), (const char *)data);
    abort();
  }
  lua_settop(L, 0);
  return 0;
}

#ifdef FUZZ_JSON_MAIN
int main(int argc, char **argv)
{
  int i;
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    static uint8_t buf[1 << 20];
    size_t n;
    if (f == NULL) {
      perror(argv[i]);
      return 1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("%d inputs agree\n", argc - 1);
  return 0;
}
#endif
