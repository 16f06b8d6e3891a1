/* Lua binding of crypto.c. Arguments are checked (and may raise) before any OpenSSL work; scratch buffers
 * are GC-owned userdata, so a raise never leaks; results are pushed after crypto.c has freed its objects.
 * Misuse raises naming the argument; runtime failure returns nil, msg. */
#include <string.h>

#include "compat.h"
#include "crypto.h"
#include "lcore.h"

#define KEY_CLASS "coze.core.PrivateKey"

typedef struct {
  coze_crypto_key *key; /* NULL once closed */
} l_key;

/* A string argument, raising "'name' must be a string" otherwise. */
static const char *check_str(lua_State *L, int i, const char *name, size_t *len)
{
  const char *s = lua_type(L, i) == LUA_TSTRING ? lua_tolstring(L, i, len) : NULL;
  if (s == NULL)
    luaL_argerror(L, i, lua_pushfstring(L, "'%s' must be a string, got %s", name, luaL_typename(L, i)));
  return s;
}

/* An integer argument in [lo, hi] (def when absent and def >= 0). */
static size_t check_count(lua_State *L, int i, const char *name, lua_Number lo, lua_Number hi, lua_Number def)
{
  lua_Number n;
  if (lua_isnoneornil(L, i) && def >= 0)
    return (size_t)def;
  if (lua_type(L, i) != LUA_TNUMBER)
    luaL_argerror(L, i, lua_pushfstring(L, "'%s' must be an integer, got %s", name, luaL_typename(L, i)));
  n = lua_tonumber(L, i);
  if (n != n || n < lo || n > hi || n != (lua_Number)(long)n)
    luaL_argerror(L, i, lua_pushfstring(L, "'%s' must be an integer from %d to %d", name, (int)lo, (int)hi));
  return (size_t)n;
}

/* Scratch space owned by the Lua GC (left on the stack): safe across a raise. */
static void *scratch(lua_State *L, size_t n)
{
  return lua_newuserdata(L, n ? n : 1);
}

static int push_fail(lua_State *L, const char *msg)
{
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

static int l_crypto_random_bytes(lua_State *L)
{
  size_t n = check_count(L, 1, "n", 1, COZE_CRYPTO_RANDOM_MAX, -1);
  unsigned char buf[COZE_CRYPTO_RANDOM_MAX];
  if (coze_crypto_random(buf, n) != 0)
    return push_fail(L, "random generator failed");
  lua_pushlstring(L, (const char *)buf, n);
  return 1;
}

static int l_crypto_random_token(lua_State *L)
{
  size_t n = check_count(L, 1, "n_bytes", 1, COZE_CRYPTO_RANDOM_MAX, 32);
  unsigned char buf[COZE_CRYPTO_RANDOM_MAX];
  char *out = scratch(L, coze_crypto_b64url_enclen(n) + 1);
  size_t len;
  if (coze_crypto_random(buf, n) != 0)
    return push_fail(L, "random generator failed");
  len = coze_crypto_b64url_encode(buf, n, out);
  lua_pushlstring(L, out, len);
  return 1;
}

static int l_crypto_sha256(lua_State *L)
{
  size_t len;
  const char *s = check_str(L, 1, "s", &len);
  unsigned char md[COZE_CRYPTO_SHA256_LEN];
  if (coze_crypto_sha256(s, len, md) != 0)
    return push_fail(L, "sha256 failed");
  lua_pushlstring(L, (const char *)md, sizeof md);
  return 1;
}

/* hmac_sha256(key, msg) -> the 32 raw bytes */
static int l_crypto_hmac_sha256(lua_State *L)
{
  size_t klen, len;
  const char *key = check_str(L, 1, "key", &klen);
  const char *s = check_str(L, 2, "msg", &len);
  unsigned char md[COZE_CRYPTO_SHA256_LEN];
  if (coze_crypto_hmac_sha256(key, klen, s, len, md) != 0)
    return push_fail(L, "hmac_sha256 failed");
  lua_pushlstring(L, (const char *)md, sizeof md);
  return 1;
}

static int encode(lua_State *L, int url)
{
  size_t len, enc, olen;
  const char *s = check_str(L, 1, "s", &len);
  char *out;
  enc = url ? coze_crypto_b64url_enclen(len) : coze_crypto_b64_enclen(len);
  if (enc == (size_t)-1)
    return luaL_argerror(L, 1, "'s' is too large to encode");
  out = scratch(L, enc + 1);
  olen = url ? coze_crypto_b64url_encode(s, len, out) : coze_crypto_b64_encode(s, len, out);
  lua_pushlstring(L, out, olen);
  return 1;
}

static int decode(lua_State *L, int url)
{
  size_t len, olen = 0;
  const char *s = check_str(L, 1, "s", &len);
  unsigned char *out = scratch(L, coze_crypto_b64_declen(len));
  char err[COZE_CRYPTO_ERRLEN];
  int rc = url ? coze_crypto_b64url_decode(s, len, out, &olen, err, sizeof err)
               : coze_crypto_b64_decode(s, len, out, &olen, err, sizeof err);
  if (rc != 0)
    return push_fail(L, err);
  lua_pushlstring(L, (const char *)out, olen);
  return 1;
}

static int l_crypto_base64url_encode(lua_State *L) { return encode(L, 1); }
static int l_crypto_base64url_decode(lua_State *L) { return decode(L, 1); }
static int l_crypto_base64_encode(lua_State *L) { return encode(L, 0); }
static int l_crypto_base64_decode(lua_State *L) { return decode(L, 0); }

static int l_crypto_pkce_challenge(lua_State *L)
{
  size_t len;
  const char *verifier = check_str(L, 1, "verifier", &len);
  const char *method = lua_isnoneornil(L, 2) ? "S256" : check_str(L, 2, "method", NULL);
  unsigned char md[COZE_CRYPTO_SHA256_LEN];
  char out[COZE_CRYPTO_SHA256_LEN * 2];
  size_t olen;
  if (strcmp(method, "plain") == 0) {
    lua_pushvalue(L, 1);
    return 1;
  }
  if (strcmp(method, "S256") != 0)
    return luaL_argerror(L, 2, "'method' must be \"S256\" or \"plain\"");
  if (coze_crypto_sha256(verifier, len, md) != 0)
    return push_fail(L, "sha256 failed");
  olen = coze_crypto_b64url_encode(md, sizeof md, out);
  lua_pushlstring(L, out, olen);
  return 1;
}

/* ---- coze.core.PrivateKey ---- */

static coze_crypto_key *check_key(lua_State *L, int i)
{
  l_key *k = (l_key *)luaL_checkudata(L, i, KEY_CLASS);
  if (k->key == NULL)
    luaL_error(L, "attempt to use a closed PrivateKey");
  return k->key;
}

static int l_crypto_rsa_key(lua_State *L)
{
  size_t len;
  const char *pem = check_str(L, 1, "pem", &len);
  char err[COZE_CRYPTO_ERRLEN];
  l_key *k = (l_key *)lua_newuserdata(L, sizeof *k);
  k->key = NULL; /* created closed, opened below */
  luaL_setmetatable(L, KEY_CLASS);
  k->key = coze_crypto_key_load(pem, len, err, sizeof err);
  if (k->key == NULL)
    return push_fail(L, err);
  return 1;
}

static int l_crypto_key_close(lua_State *L)
{
  l_key *k = (l_key *)luaL_checkudata(L, 1, KEY_CLASS);
  coze_crypto_key_free(k->key);
  k->key = NULL;
  return 0;
}

static int l_crypto_key_tostring(lua_State *L)
{
  l_key *k = (l_key *)luaL_checkudata(L, 1, KEY_CLASS);
  lua_pushstring(L, k->key ? KEY_CLASS " (redacted)" : KEY_CLASS " (closed)");
  return 1;
}

static int l_crypto_key_sign_rs256(lua_State *L)
{
  coze_crypto_key *key = check_key(L, 1);
  size_t len, siglen = coze_crypto_key_sigsize(key);
  const char *msg = check_str(L, 2, "msg", &len);
  unsigned char *sig = scratch(L, siglen);
  char err[COZE_CRYPTO_ERRLEN];
  if (coze_crypto_rs256_sign(key, msg, len, sig, &siglen, err, sizeof err) != 0)
    return push_fail(L, err);
  lua_pushlstring(L, (const char *)sig, siglen);
  return 1;
}

static int l_crypto_jwt_rs256(lua_State *L)
{
  coze_crypto_key *key = check_key(L, 1);
  size_t hlen, plen, need, olen = 0;
  const char *header = check_str(L, 2, "header_json", &hlen);
  const char *payload = check_str(L, 3, "payload_json", &plen);
  char err[COZE_CRYPTO_ERRLEN];
  char *out;
  need = coze_crypto_jwt_len(key, hlen, plen);
  if (need == (size_t)-1)
    return luaL_error(L, "JWT too large");
  out = scratch(L, need + 1);
  if (coze_crypto_jwt_rs256(key, header, hlen, payload, plen, out, &olen, err, sizeof err) != 0)
    return push_fail(L, err);
  lua_pushlstring(L, out, olen);
  return 1;
}

void coze_l_crypto_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    {"random_bytes", l_crypto_random_bytes},
    {"random_token", l_crypto_random_token},
    {"sha256", l_crypto_sha256},
    {"hmac_sha256", l_crypto_hmac_sha256},
    {"base64url_encode", l_crypto_base64url_encode},
    {"base64url_decode", l_crypto_base64url_decode},
    {"base64_encode", l_crypto_base64_encode},
    {"base64_decode", l_crypto_base64_decode},
    {"pkce_challenge", l_crypto_pkce_challenge},
    {"rsa_key", l_crypto_rsa_key},
    {"jwt_rs256", l_crypto_jwt_rs256},
    {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"sign_rs256", l_crypto_key_sign_rs256},
    {"close", l_crypto_key_close},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_crypto_key_close},
    {"__close", l_crypto_key_close},
    {"__tostring", l_crypto_key_tostring},
    {NULL, NULL}
  };
  coze_newclass(L, KEY_CLASS, methods, metamethods);
  luaL_setfuncs(L, fns, 0);
}
