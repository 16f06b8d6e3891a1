-- client.websockets.*: the four realtime APIs against the emulator's own WebSocket server, over
-- real sockets (plain and TLS).
local emu = require "helpers.emu"
local json = require "cjson"
local websocket = require "coze.websocket"

local last_session = require("helpers.ws").last_session

-- Events until (and including) the one named `stop`: list of event_type, the events by type.
local function until_event(ws, stop)
  local names, by = {}, {}
  while true do
    local ev, err = ws:next()
    assert(ev, tostring(err))
    names[#names + 1] = ev.event_type
    by[ev.event_type] = by[ev.event_type] or {}
    table.insert(by[ev.event_type], ev)
    if ev.event_type == stop then return names, by end
  end
end

describe("websockets URL", function()
  it("derives wss://ws.* from https://api.* and ws:// from local http:// bases", function()
    assert.equal("wss://ws.coze.cn", websocket.ws_base("https://api.coze.cn"))
    assert.equal("wss://ws.coze.com", websocket.ws_base("https://api.coze.com/"))
    assert.equal("ws://127.0.0.1:8080", websocket.ws_base("http://127.0.0.1:8080"))
  end)

  it("raises at the caller's line for a bad ws_base_url", function()
    assert.has_error(function() emu.client { ws_base_url = "http://x" } end,
      "coze: new: field 'ws_base_url' must be a ws:// or wss:// URL")
  end)

  it("refuses a ws_base_url that would inject a header, or holds a query, fragment or user info", function()
    local injected = "ws://127.0.0.1:1/x HTTP/1.1\r\nX-Injected: yes\r\nY:"
    assert.has_error(function() emu.client { ws_base_url = injected } end,
      "coze: new: field 'ws_base_url' must not hold spaces or control characters")
    assert.has_error(function() emu.client { ws_base_url = "ws://h/a\nb" } end,
      "coze: new: field 'ws_base_url' must not hold spaces or control characters")
    assert.has_error(function() emu.client { ws_base_url = "ws://h/v?x=1" } end,
      "coze: new: field 'ws_base_url' must not hold a query or fragment ('?' or '#')")
    assert.has_error(function() emu.client { ws_base_url = "wss://h#f" } end,
      "coze: new: field 'ws_base_url' must not hold a query or fragment ('?' or '#')")
    assert.has_error(function() emu.client { ws_base_url = "ws://u:p@h" } end,
      "coze: new: field 'ws_base_url' must not hold user info ('user:password@')")
  end)

  it("connects through a ws_base_url with an upper-case scheme and trailing slashes, escaping query values", function()
    local base = emu.url:gsub("^http", "WS") .. "//"
    local ws = assert(emu.client({ ws_base_url = base }).websockets.audio.speech:connect {
      voice_id = "a b&c=d\r\nX-Injected: yes", ["k y"] = "ü" })
    assert.equal("speech.created", ws:next().event_type)
    ws:close()
    local req = emu.last_request()
    assert.equal("/v1/audio/speech", req.path)
    assert.equal("k%20y=%C3%BC&voice_id=a%20b%26c%3Dd%0D%0AX-Injected%3A%20yes", req.raw_query)
    assert.is_nil(req.headers["x-injected"])
    assert.equal("a b&c=d\r\nX-Injected: yes", last_session().query.voice_id)
  end)
end)

describe("websockets.chat", function()
  local client
  before_each(function() client = emu.client() end)

  it("returns chat.created first, then answers audio with text, audio deltas and chat.completed", function()
    local ws = assert(client.websockets.chat:connect { bot_id = "bot_1" })
    local first = assert(ws:next())
    assert.equal("chat.created", first.event_type)
    assert.is_string(first.logid)
    assert.equal("chat.created", json.decode(first.raw).event_type)
    local id = assert(ws:send("chat.update", { input_audio = { format = "pcm", sample_rate = 16000, channel = 1,
      bit_depth = 16 }, output_audio = { codec = "pcm", pcm_config = { sample_rate = 24000 } } }))
    assert.is_string(id)
    assert.equal("given-id", ws:send("chat.update", {}, "given-id"))
    for _, chunk in ipairs({ "hello ", "from ", "lua" }) do assert(ws:append_audio(chunk)) end
    assert(ws:complete())
    local names, by = until_event(ws, "conversation.chat.completed")
    assert.same({ "chat.updated", "chat.updated", "input_audio_buffer.completed",
      "conversation.audio_transcript.completed", "conversation.chat.created", "conversation.chat.in_progress",
      "conversation.message.delta", "conversation.message.delta", "conversation.audio.sentence_start",
      "conversation.audio.delta", "conversation.message.completed", "conversation.audio.completed",
      "conversation.chat.completed" }, names)
    assert.equal("pcm", by["chat.updated"][1].data.input_audio.format)
    assert.equal("hello from lua", by["conversation.audio_transcript.completed"][1].data.content)
    local delta = by["conversation.audio.delta"][1]
    assert.equal("you said: hello from lua", delta.audio)
    assert.is_nil(by["conversation.message.delta"][1].audio)
    assert.is_true(ws:close())
    assert.is_true(ws:close()) -- idempotent
    assert.is_nil(ws:next())
    local seen = last_session()
    assert.same({}, seen.violations)
    assert.equal("bot_1", seen.query.bot_id)
    assert.equal("Bearer pat_test", seen.authorization)
    assert.is_string(seen.user_agent)
    assert.equal(1000, seen.client_close.code)
    assert.equal(0, seen.repeated_keys)
    assert.equal(14, seen.audio_bytes)
  end)

  it("has typed helpers for messages, cancel, clear, tool outputs and generated audio", function()
    local ws = assert(client.websockets.chat:connect { bot_id = "bot_1" })
    assert.equal("chat.created", ws:next().event_type)
    assert(ws:create_message { content = "typed" })
    local _, by = until_event(ws, "conversation.chat.completed")
    assert.equal("you said: typed", by["conversation.message.completed"][1].data.content)
    assert(ws:cancel())
    assert.equal("conversation.chat.canceled", ws:next().event_type)
    assert(ws:clear())
    assert.equal("input_audio_buffer.cleared", ws:next().event_type)
    assert(ws:clear_context())
    assert.equal("conversation.cleared", ws:next().event_type)
    assert(ws:submit_tool_outputs("chat-1", { { tool_call_id = "t1", output = "42" } }))
    _, by = until_event(ws, "conversation.chat.completed")
    assert.equal("you said: 42", by["conversation.message.completed"][1].data.content)
    assert(ws:generate_audio("say this"))
    assert.equal("say this", ws:next().audio)
    ws:close()
    assert.same({}, last_session().violations)
  end)

  it("delivers error events as events without ending the session", function()
    local ws = assert(client.websockets.chat:connect { bot_id = "bot_1" })
    assert.equal("chat.created", ws:next().event_type)
    assert(ws:send("no.such.event"))
    local ev = assert(ws:next())
    assert.equal("error", ev.event_type)
    assert.equal(4000, ev.data.code)
    assert(ws:create_message { content = "still here" })
    until_event(ws, "conversation.chat.completed")
    ws:close()
  end)

  it("streams a WAV file in chunk_ms pieces, checking its header", function()
    local wav = require "coze.wav"
    local path = os.tmpname()
    local pcm = string.rep("ab", 1600) -- 100 ms of 16 kHz mono 16-bit
    local f = assert(io.open(path, "wb"))
    f:write(wav.header(16000, 1, 16, #pcm), pcm)
    f:close()
    local ws = assert(client.websockets.chat:connect { bot_id = "bot_1" })
    ws:next()
    assert.equal(#pcm, ws:send_audio_file(path, { chunk_ms = 20, realtime = false }))
    assert(ws:complete())
    until_event(ws, "conversation.chat.completed")
    ws:close()
    local seen = last_session()
    assert.equal(#pcm, seen.audio_bytes)
    assert.equal(5 + 1, #seen.events) -- five appends of 640 bytes and complete
    f = assert(io.open(path, "wb"))
    f:write("RIFF\0\0\0\0WAVEfmt \16\0\0\0\3\0\1\0")
    f:close()
    ws = assert(client.websockets.chat:connect { bot_id = "bot_1" })
    local n, err = ws:send_audio_file(path, { realtime = false })
    assert.is_nil(n)
    assert.equal("decode", err.kind)
    ws:close()
    os.remove(path)
  end)

  it("paces send_audio_file in real time by default", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(string.rep("\0", 16000 * 2 / 10)) -- 100 ms of raw PCM
    f:close()
    local ws = assert(client.websockets.chat:connect { bot_id = "bot_1" })
    ws:next()
    local t0 = require("coze.core").monotonic_ms()
    assert.equal(3200, ws:send_audio_file(path))
    assert.is_true(require("coze.core").monotonic_ms() - t0 >= 90)
    ws:close()
    os.remove(path)
  end)

  it("works over TLS with the emulator's CA and refuses an unknown CA", function()
    local port = tonumber(emu.url:match(":(%d+)$")) + 1
    local port_dir = emu.url:match(":(%d+)$")
    local tls = emu.client { ws_base_url = "wss://127.0.0.1:" .. port,
      ca_file = "build/emulator-" .. port_dir .. "/cert.pem" }
    local ws = assert(tls.websockets.chat:connect { bot_id = "bot_1" })
    assert.equal("chat.created", ws:next().event_type)
    ws:close()
    local strict = emu.client { ws_base_url = "wss://127.0.0.1:" .. port }
    local none, err = strict.websockets.chat:connect { bot_id = "bot_1" }
    assert.is_nil(none)
    assert.equal("transport", err.kind)
  end)
end)

describe("websockets.audio.speech", function()
  it("turns appended text into speech.audio.update deltas", function()
    local ws = assert(emu.client().websockets.audio.speech:connect {})
    assert.equal("speech.created", ws:next().event_type)
    assert(ws:update { output_audio = { codec = "pcm", voice_id = "v1" } })
    assert.equal("v1", ws:next().data.output_audio.voice_id)
    assert(ws:append_text("你好, "))
    assert(ws:append_text("world"))
    assert(ws:complete())
    local names, by = until_event(ws, "speech.audio.completed")
    assert.same({ "input_text_buffer.completed", "speech.audio.update", "speech.audio.update",
      "speech.audio.completed" }, names)
    assert.equal("你好, world", by["speech.audio.update"][1].audio .. by["speech.audio.update"][2].audio)
    ws:close()
    assert.same({}, last_session().violations)
  end)
end)

describe("websockets large messages", function()
  it("sends and receives frames with 64-bit lengths", function()
    local ws = assert(emu.client().websockets.audio.speech:connect {})
    assert.equal("speech.created", ws:next().event_type)
    local text = string.rep("0123456789", 20000) -- 200 KB up, two 100 KB pieces of audio (133 KB base64) down
    assert(ws:append_text(text))
    assert(ws:complete())
    local _, by = until_event(ws, "speech.audio.completed")
    assert.equal(text, by["speech.audio.update"][1].audio .. by["speech.audio.update"][2].audio)
    ws:close()
    assert.same({}, last_session().violations)
  end)
end)

describe("websockets.audio.transcriptions", function()
  it("turns appended audio into transcriptions.message.update text", function()
    local ws = assert(emu.client().websockets.audio.transcriptions:connect {})
    assert.equal("transcriptions.created", ws:next().event_type)
    assert(ws:update { input_audio = { format = "pcm", sample_rate = 16000 } })
    assert.equal("transcriptions.updated", ws:next().event_type)
    assert(ws:append_audio("spoken words"))
    assert(ws:complete())
    local names, by = until_event(ws, "transcriptions.message.completed")
    assert.same({ "input_audio_buffer.completed", "transcriptions.message.update", "transcriptions.message.update",
      "transcriptions.message.completed" }, names)
    assert.equal("spoken words", by["transcriptions.message.update"][2].data.content)
    assert(ws:clear())
    assert.equal("input_audio_buffer.cleared", ws:next().event_type)
    ws:close()
  end)
end)

describe("websockets.audio.simult_interpretation", function()
  it("uses @coze/api's event names: transcription, translation and audio deltas", function()
    local ws = assert(emu.client().websockets.audio.simult_interpretation:connect {})
    assert.equal("simult_interpretation.created", ws:next().event_type)
    assert(ws:update { translate_config = { from = "zh", to = "en" } })
    assert.equal("simult_interpretation.updated", ws:next().event_type)
    assert(ws:append_audio("bonjour"))
    assert(ws:complete())
    local names, by = until_event(ws, "simult_interpretation.message.completed")
    assert.same({ "input_audio_buffer.completed", "simult_interpretation.transcription.delta",
      "simult_interpretation.translation.delta", "simult_interpretation.audio.delta",
      "simult_interpretation.message.completed" }, names)
    assert.equal("bonjour", by["simult_interpretation.transcription.delta"][1].data.delta)
    assert.equal("translated: bonjour", by["simult_interpretation.audio.delta"][1].audio)
    ws:close()
  end)
end)
