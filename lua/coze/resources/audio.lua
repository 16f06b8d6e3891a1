-- Helpers on client.audio written on top of the generated operations.
-- Multipart operations (transcriptions:create, voices:clone, voiceprint_groups.features:create /
-- update, voiceprint_groups:speaker_identify) take the file like files:upload does:
--   { file = "/path.wav" } | { content = bytes, file_name = "a.wav" } | { file = { path =, filename =, type = } }
-- plus their plain form fields. audio.speech:create answers raw audio bytes (response "binary"):
--   local mp3 = client.audio.speech:create{ input = "你好", voice_id = V }         -- the bytes
--   local n = client.audio.speech:create{ input = "...", voice_id = V, output = "/tmp/a.mp3" }
--   local n = client.audio.speech:create{ input = "...", voice_id = V, on_chunk = function(b) ... end }
-- A JSON error body in place of the audio gives nil, err.
local multipart = require "coze.multipart"

local _M = {}

function _M.extend(client)
  multipart.wrap_all(client, "audio")
end

return _M
