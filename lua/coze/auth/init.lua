-- Every Coze auth flow as an object the client asks for tokens:
--   coze.new{ auth = coze.auth.jwt{ ... } }
-- An auth object offers auth:token(client, call) -> token | nil, err and auth:invalidate(token)
-- (called once on a 401 before the request is replayed). Tokens are cached and refreshed before
-- they expire, with one token request in flight at a time (coze.auth.cache).
local cache = require "coze.auth.cache"
local code = require "coze.auth.code"

local _M = {
  token = require("coze.auth.static").new,   -- personal / service access token
  jwt = require("coze.auth.jwt").new,        -- JWT OAuth app (server to server)
  pkce = code.pkce,                          -- authorization code + PKCE (public clients)
  web = code.web,                            -- authorization code with a client secret
  device = require("coze.auth.device").new,  -- device code (TVs, CLIs, consoles)
  code_verifier = code.code_verifier,
  -- for custom locks and stores (e.g. OpenResty: resty.lock + a shared dict)
  local_lock = cache.local_lock,
  local_store = cache.local_store,
}

return _M
