/* Placeholder until the OpenSSL binding lands (JWT RS256, random bytes, SHA-256, base64url). */
#include "compat.h"
#include "lcore.h"

void coze_l_crypto_open(lua_State *L)
{
  (void)L;
}
