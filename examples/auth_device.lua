-- Device code (a TV, a CLI, a game console): show a code, the user approves on another device,
-- the SDK polls until they do. poll_once() never blocks (for game loops); wait_for_token() waits.
--   COZE_DEVICE_CLIENT_ID, COZE_API_BASE (defaults: the local emulator, which this script approves itself)
--   lua examples/auth_device.lua
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local base_url = os.getenv("COZE_API_BASE") or "http://127.0.0.1:18321"
local on_emulator = os.getenv("COZE_DEVICE_CLIENT_ID") == nil
local auth = coze.auth.device { client_id = os.getenv("COZE_DEVICE_CLIENT_ID") or "emu-client-device",
  base_url = base_url }

local code, err = auth:get_device_code { headers = on_emulator and { ["X-Emu-Device-Interval"] = "1" } or nil }
if not code then io.stderr:write(tostring(err), "\n") os.exit(1) end
print(("go to %s and enter %s (within %d s)"):format(code.verification_url, code.user_code, code.expires_in))

local function approve_on_emulator()
  local s = core.session()
  local r = s:request { method = "POST", url = base_url .. "/__emu/oauth/device/approve",
    headers = { "Content-Type: application/json" }, body = cjson.encode { user_code = code.user_code } }
  r:wait_headers(5000)
  r:close()
end

local waits = 0
local token
token, err = auth:wait_for_token {
  deadline_ms = 10 * 60 * 1000,
  on_wait = function(ms)               -- called between polls; a game loop would yield here
    waits = waits + 1
    if on_emulator and waits == 1 then approve_on_emulator() end
    io.write(".") io.flush()
    core.sleep_ms(math.min(ms, 200))
  end,
}
if not token then io.stderr:write("\n", tostring(err), "\n") os.exit(1) end
print("\nauthorized")

local client = coze.new { auth = auth, base_url = base_url }
local conv = assert(client.conversations:create {})
print("conversation " .. conv.id)
client:close()
