-- A JWT OAuth app (server to server): the SDK signs a JWT with the app's private key, trades it for
-- an access token, caches it and gets a new one before it expires.
--   COZE_JWT_CLIENT_ID, COZE_JWT_KEY_ID, COZE_JWT_PRIVATE_KEY_FILE, COZE_API_BASE
--   (defaults: the local emulator's seeded app: spec/emulator/ctl start)
--   lua examples/auth_jwt.lua [session_name]
local root = dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK
local coze = require "coze"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local base_url = os.getenv("COZE_API_BASE") or "http://127.0.0.1:18321"
local auth = coze.auth.jwt {
  client_id = os.getenv("COZE_JWT_CLIENT_ID") or "emu-client-jwt",
  public_key_id = os.getenv("COZE_JWT_KEY_ID") or "emu-kid-1",
  private_key = read(os.getenv("COZE_JWT_PRIVATE_KEY_FILE") or root .. "/spec/fixtures/keys/rsa_pkcs8.pem"),
  base_url = base_url,
  ttl = 900,                       -- seconds the access token lives (at most 86399)
  session_name = arg[1],           -- optional: isolates this end user's conversations
}
print(tostring(auth))

local client = coze.new { auth = auth, base_url = base_url }
local conv, err = client.conversations:create {}
if not conv then io.stderr:write(tostring(err), "\n") os.exit(1) end
print("conversation " .. conv.id)
print("token valid until " .. os.date("!%Y-%m-%d %H:%M:%S UTC", math.floor(auth:token_info().expires_in)))
client:close()
auth:close()
