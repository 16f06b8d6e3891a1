-- A web OAuth app (authorization code with a client secret, kept on your server).
--   COZE_WEB_CLIENT_ID, COZE_WEB_CLIENT_SECRET, COZE_REDIRECT_URI, COZE_API_BASE (defaults: the local emulator)
--   lua examples/auth_web.lua [code]
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local base_url = os.getenv("COZE_API_BASE") or "http://127.0.0.1:18321"
local auth = coze.auth.web {
  client_id = os.getenv("COZE_WEB_CLIENT_ID") or "emu-client-web",
  client_secret = os.getenv("COZE_WEB_CLIENT_SECRET") or "emu-web-secret",
  redirect_uri = os.getenv("COZE_REDIRECT_URI") or "http://127.0.0.1/callback",
  base_url = base_url,
}
print(tostring(auth)) -- the secret never shows

local url, session = auth:authorize_url { } -- check session.state when the callback arrives
print("redirect the user to: " .. url)

local code = arg[1]
if not code then
  local s = core.session()
  local r = s:request { method = "POST", url = base_url .. "/__emu/oauth/authorize",
    headers = { "Content-Type: application/json" },
    body = cjson.encode { client_id = auth.client_id, redirect_uri = session.redirect_uri } }
  assert(r:wait_headers(5000))
  code = cjson.decode(r:read(5000)).code
  r:close()
end

local info, err = auth:exchange_code { code = code, state = session.state }
if not info then io.stderr:write(tostring(err), "\n") os.exit(1) end

local client = coze.new { auth = auth, base_url = base_url }
local conv = assert(client.conversations:create {})
print("conversation " .. conv.id)
client:close()
