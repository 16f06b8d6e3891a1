-- A personal (or service) access token: the simplest auth. The token never expires on the SDK's side.
--   COZE_API_TOKEN (default: a test token the local emulator accepts), COZE_API_BASE
--   lua examples/auth_pat.lua
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"

local base_url = os.getenv("COZE_API_BASE") or "http://127.0.0.1:18321" -- spec/emulator/ctl start
local auth = coze.auth.token { token = os.getenv("COZE_API_TOKEN") or "pat_emulator_demo" }
print(tostring(auth)) --> coze.auth.token (redacted)

-- the same as coze.new{ token = ... }
local client = coze.new { auth = auth, base_url = base_url }
local conv, err = client.conversations:create {}
if not conv then io.stderr:write(tostring(err), "\n") os.exit(1) end
print("conversation " .. conv.id)
client:close()
