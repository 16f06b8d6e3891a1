-- GET /speech?text=...: the text spoken by Coze's streaming speech API (WebSocket, audio.speech),
-- answered as a WAV file. Inside nginx the session runs on a cosocket: its waits yield to nginx.
local coze = require "coze"
local wav = require "coze.wav"

local _M = {}

function _M.handle()
  local client = coze.new { token = os.getenv("COZE_API_TOKEN"), base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }
  local ws, err = client.websockets.audio.speech:connect { idle_timeout_ms = 10000 }
  if not ws then
    ngx.status = 502
    ngx.say(tostring(err))
    return
  end
  ws:update { output_audio = { codec = "pcm", pcm_config = { sample_rate = 24000 } } }
  ws:append_text(ngx.unescape_uri(ngx.var.arg_text or "hello from nginx"))
  ws:complete()
  local pcm = {}
  while true do
    local ev, rerr = ws:next()
    if not ev then
      ws:close()
      ngx.status = 502
      ngx.say(tostring(rerr or "the session ended before the audio was complete"))
      return
    end
    if ev.event_type == "speech.audio.update" then pcm[#pcm + 1] = ev.audio end
    if ev.event_type == "speech.audio.completed" then break end
  end
  ws:close()
  local audio = table.concat(pcm)
  ngx.header["Content-Type"] = "audio/wav"
  ngx.print(wav.header(24000, 1, 16, #audio), audio)
end

return _M
