-- Constants the client, the OAuth flows and the pipeline share: base URLs, timeout names and their
-- defaults, body limits. One copy, so an API call and a token call cannot drift apart.
local _M = {}

_M.CN_BASE_URL = "https://api.coze.cn"
_M.COM_BASE_URL = "https://api.coze.com"

-- The four deadlines a transport request carries (see transport/README.md).
_M.TIMEOUT_KEYS = { "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "total_timeout_ms" }

-- API calls. No total_timeout_ms here: when neither the client nor the call gives one, a JSON call
-- gets JSON_TOTAL_TIMEOUT_MS (a server sending a byte a minute cannot hold it forever) and streams,
-- uploads and downloads get none (they may run for as long as bytes keep coming; the idle timer
-- guards them).
_M.API = {
  connect_timeout_ms = 10000,
  first_byte_timeout_ms = 120000,
  idle_timeout_ms = 120000,
  max_body_bytes = 64 * 1024 * 1024,
}
_M.JSON_TOTAL_TIMEOUT_MS = 300000

-- Token calls: small answers, so tighter limits.
_M.OAUTH = {
  connect_timeout_ms = 10000,
  first_byte_timeout_ms = 30000,
  idle_timeout_ms = 30000,
  total_timeout_ms = 60000,
  max_body_bytes = 1024 * 1024,
}

-- Bytes of a server's non-JSON error body kept in err.msg (coze.scrub.snippet).
_M.SNIPPET_BYTES = 200

return _M
