-- Voice chat over WebSocket: streams a WAV file to a bot in 20 ms chunks (paced in real time) and
-- writes the spoken reply to a WAV file as it arrives.
--   COZE_API_TOKEN, COZE_BOT_ID [, COZE_API_BASE]; arg[1] = input WAV (16 kHz mono 16-bit PCM),
--   arg[2] = output WAV (default reply.wav). Against the local emulator (COZE_API_BASE=http://127.0.0.1:18321)
--   the reply audio is the text "you said: <what it heard>".
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"
local wav = require "coze.wav"

local input = assert(arg[1], "usage: lua examples/voice_chat.lua input.wav [reply.wav]")
local output = arg[2] or "reply.wav"
local OUT_RATE = 24000

local client = coze.new { token = assert(os.getenv("COZE_API_TOKEN"), "set COZE_API_TOKEN"),
  base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }

local ws, err = client.websockets.chat:connect { bot_id = assert(os.getenv("COZE_BOT_ID"), "set COZE_BOT_ID") }
if not ws then io.stderr:write(tostring(err), "\n") os.exit(1) end

ws:send("chat.update", {
  input_audio = { format = "pcm", codec = "pcm", sample_rate = 16000, channel = 1, bit_depth = 16 },
  output_audio = { codec = "pcm", pcm_config = { sample_rate = OUT_RATE } },
})
local sent
sent, err = ws:send_audio_file(input, { chunk_ms = 20 }) -- WAV header checked, PCM streamed
if not sent then io.stderr:write(tostring(err), "\n") os.exit(1) end
ws:complete()

local out = assert(io.open(output, "wb"))
out:write(wav.header(OUT_RATE, 1, 16, 0)) -- sizes patched at the end
local n = 0
for ev in ws:events() do -- raises the error object if the session fails
  local t = ev.event_type
  if t == "conversation.audio.delta" then
    out:write(ev.audio) -- base64 decoded in C, on first access
    n = n + #ev.audio
  elseif t == "conversation.audio_transcript.completed" then
    print("you: " .. tostring(ev.data.content))
  elseif t == "conversation.message.completed" and ev.data.type == "answer" and ev.data.content_type == "text" then
    print("bot: " .. tostring(ev.data.content))
  elseif t == "error" then
    io.stderr:write("error event: ", tostring(ev.data.code), " ", tostring(ev.data.msg), "\n")
  elseif t == "conversation.chat.completed" or t == "conversation.chat.failed" then
    break
  end
end
ws:close()
out:seek("set", 0)
out:write(wav.header(OUT_RATE, 1, 16, n))
out:close()
print(string.format("sent %d bytes of PCM, wrote %d bytes of reply audio to %s", sent, n, output))
