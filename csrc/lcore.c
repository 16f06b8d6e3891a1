/* luaopen_coze_core: the only exported symbol of the C core. */
#include "compat.h"
#include "lcore.h"

COZE_EXPORT int luaopen_coze_core(lua_State *L);

int luaopen_coze_core(lua_State *L)
{
  lua_newtable(L);
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "_VERSION");
  coze_l_sys_open(L);
  coze_l_sse_open(L);
#ifndef COZE_NO_HTTP /* make core-nohttp: parsers, JSON and crypto without libcurl */
  coze_l_http_open(L);
#endif
  coze_l_crypto_open(L);
  coze_l_json_open(L);
  coze_l_cli_open(L);
#ifndef COZE_NO_HTTP /* the WebSocket connection runs on libcurl's connect-only mode */
  coze_l_ws_open(L);
#endif
  coze_l_wscodec_open(L); /* the codec alone: the cosocket connection in nginx */
  coze_l_headers_open(L);
  coze_l_utf8_open(L);
  coze_l_chunked_open(L);
  return 1;
}
