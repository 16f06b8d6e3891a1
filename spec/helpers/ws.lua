-- What the emulator's WebSocket server saw in the last session (GET /__emu/ws/last).
local emu = require "helpers.emu"
local json = require "cjson"

local _M = {}

function _M.last_session()
  local _, body = emu.raw("GET", "/__emu/ws/last")
  return json.decode(body)
end

return _M
