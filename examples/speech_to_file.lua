-- Synthesises speech and writes the audio to a file as it arrives (removed if the transfer fails).
--   COZE_API_TOKEN, COZE_VOICE_ID [, COZE_API_BASE]; arg[1] = the text, arg[2] = the output path.
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"

local token = assert(os.getenv("COZE_API_TOKEN"), "set COZE_API_TOKEN")
local voice_id = assert(os.getenv("COZE_VOICE_ID"), "set COZE_VOICE_ID")
local text = arg[1] or "今天天气不错，适合出去走走。"
local output = arg[2] or "speech.mp3"

local client = coze.new { token = token, base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }

local n, meta = client.audio.speech:create {
  input = text, voice_id = voice_id, response_format = "mp3",
  output = output, -- or on_chunk = function(bytes) ... end, or neither to get the bytes back
}
if not n then
  io.stderr:write(tostring(meta), "\n") -- e.g. a JSON error body in place of audio
  os.exit(1)
end
print(string.format("wrote %d bytes (%s) to %s, logid %s", n, tostring(meta.content_type), output, tostring(meta.logid)))
client:close()
