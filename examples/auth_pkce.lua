-- Authorization code + PKCE (a public client: desktop, mobile, single-page app).
-- 1. open the authorize URL in a browser; 2. Coze redirects to redirect_uri?code=...&state=...;
-- 3. exchange the code; the auth object then refreshes the token with the refresh token.
--   COZE_PKCE_CLIENT_ID, COZE_REDIRECT_URI, COZE_API_BASE (defaults: the local emulator)
--   lua examples/auth_pkce.lua [code state]
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local base_url = os.getenv("COZE_API_BASE") or "http://127.0.0.1:18321"
local auth = coze.auth.pkce {
  client_id = os.getenv("COZE_PKCE_CLIENT_ID") or "emu-client-pkce",
  redirect_uri = os.getenv("COZE_REDIRECT_URI") or "http://127.0.0.1/callback",
  base_url = base_url,
  -- code_challenge_method = "plain",  -- S256 unless asked
  on_token = function(info) -- persist info.refresh_token here: it changes on every refresh
    print("new token pair, refresh token stored")
  end,
}

local url, session = auth:authorize_url {}
print("open in a browser: " .. url)

local code, state = arg[1], arg[2]
if not code then
  -- the emulator's stand-in for the browser round trip
  local s = core.session()
  local r = s:request { method = "POST", url = base_url .. "/__emu/oauth/authorize",
    headers = { "Content-Type: application/json" }, body = cjson.encode {
      client_id = auth.client_id, redirect_uri = session.redirect_uri,
      code_challenge = session.code_challenge, code_challenge_method = session.code_challenge_method } }
  assert(r:wait_headers(5000))
  code, state = cjson.decode(r:read(5000)).code, session.state
  r:close()
end

local info, err = auth:exchange_code { code = code, state = state } -- the verifier is found by state
if not info then io.stderr:write(tostring(err), "\n") os.exit(1) end

local client = coze.new { auth = auth, base_url = base_url }
local conv = assert(client.conversations:create {})
print("conversation " .. conv.id)
assert(auth:refresh())                    -- explicit refresh (token() does it by itself when due)
client:close()
