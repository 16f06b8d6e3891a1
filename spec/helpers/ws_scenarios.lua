-- WebSocket scenarios run on both connection backends: libcurl's in busted (spec/ws_scenarios_spec.lua)
-- and the cosocket one in the application nginx of spec/openresty/ (/ws_scenario?name=, checked by
-- spec/openresty_app_spec.lua). Each case returns an outcome table that must equal its `expect` on
-- both; `seen` is what the emulator must have recorded of the session (GET /__emu/ws/last), checked
-- by the specs from outside.
local _M = {}

local unpack = table.unpack or unpack

-- Events until (and including) the one named `stop`, or the end: names, events by type, the error.
local function until_event(ws, stop)
  local names, by = {}, {}
  while true do
    local ev, err = ws:next()
    if not ev then return names, by, err end
    names[#names + 1] = ev.event_type
    by[ev.event_type] = by[ev.event_type] or {}
    table.insert(by[ev.event_type], ev)
    if ev.event_type == stop then return names, by end
  end
end

local function failure(err, extra)
  local o = { ok = false, kind = err.kind, close_code = err.close_code, close_reason = err.close_reason,
    timeout = err.timeout, code = err.code, http_status = err.http_status, tls = err.tls, not_sent = err.not_sent }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- The session's events until stop (or its end), as an outcome.
local function drained(ws, stop)
  local names, by, err = until_event(ws, stop)
  ws:close()
  if err then return failure(err, { names = names }), by end
  return { ok = true, names = names }, by
end

local function connect(client, api, opts)
  local node = client.websockets
  for part in api:gmatch("[^%.]+") do node = node[part] end
  return node:connect(opts or {})
end

-- What the emulator recorded of its last session (GET /__emu/ws/last), over the client's own transport
-- (libcurl, or a cosocket inside nginx), so a case can look while it runs.
local function emu_last(client)
  local h = assert(client.transport:request { method = "GET", url = client.base_url .. "/__emu/ws/last" })
  repeat local st = assert(h:wait_headers(1000)) until st ~= false
  local parts = {}
  while true do
    local chunk, err = h:read(1000)
    assert(err == nil, err)
    if chunk == nil then break end
    if chunk then parts[#parts + 1] = chunk end
  end
  h:close()
  return require("coze.json").decode(table.concat(parts))
end

local function fault_case(query, extra_send)
  return function(client)
    local opts = { bot_id = "bot_1" }
    for k, v in pairs(query) do opts[k] = v end
    local ws, err = connect(client, "chat", opts)
    if not ws then return failure(err) end
    local first = ws:next()
    if extra_send then assert(ws:create_message { content = "frag" }) end
    local out = drained(ws, "conversation.chat.completed")
    table.insert(out.names, 1, first and first.event_type)
    return out
  end
end

local CHAT_NAMES = { "chat.created", "conversation.chat.created", "conversation.chat.in_progress",
  "conversation.message.delta", "conversation.message.delta", "conversation.audio.sentence_start",
  "conversation.audio.delta", "conversation.message.completed", "conversation.audio.completed",
  "conversation.chat.completed" }

-- A connect that is expected to fail, as an outcome.
local function connect_outcome(client)
  local ws, err = connect(client, "chat", { bot_id = "bot_1" })
  if ws then return { ok = true } end
  return failure(err)
end

_M.cases = {
  chat = {
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "bot_1" })
      if not ws then return failure(err) end
      local first = ws:next()
      assert(ws:send("chat.update", { input_audio = { format = "pcm", sample_rate = 16000, channel = 1,
        bit_depth = 16 }, output_audio = { codec = "pcm", pcm_config = { sample_rate = 24000 } } }))
      for _, chunk in ipairs({ "hello ", "from ", "lua" }) do assert(ws:append_audio(chunk)) end
      assert(ws:complete())
      local out, by = drained(ws, "conversation.chat.completed")
      table.insert(out.names, 1, first.event_type)
      out.logid = type(first.logid) == "string"
      out.audio = by["conversation.audio.delta"][1].audio
      out.transcript = by["conversation.audio_transcript.completed"][1].data.content
      return out
    end,
    expect = { ok = true, logid = true, audio = "you said: hello from lua", transcript = "hello from lua",
      names = { "chat.created", "chat.updated", "input_audio_buffer.completed",
        "conversation.audio_transcript.completed", "conversation.chat.created", "conversation.chat.in_progress",
        "conversation.message.delta", "conversation.message.delta", "conversation.audio.sentence_start",
        "conversation.audio.delta", "conversation.message.completed", "conversation.audio.completed",
        "conversation.chat.completed" } },
    seen = { violations = {}, client_close = 1000, audio_bytes = 14, authorization = "Bearer pat_test",
      repeated_keys = 0, ended = "close frame" },
  },
  speech = {
    run = function(client)
      local ws, err = connect(client, "audio.speech")
      if not ws then return failure(err) end
      local first = ws:next()
      assert(ws:append_text("你好, "))
      assert(ws:append_text("world"))
      assert(ws:complete())
      local out, by = drained(ws, "speech.audio.completed")
      table.insert(out.names, 1, first.event_type)
      out.audio = by["speech.audio.update"][1].audio .. by["speech.audio.update"][2].audio
      return out
    end,
    expect = { ok = true, audio = "你好, world", names = { "speech.created", "input_text_buffer.completed",
      "speech.audio.update", "speech.audio.update", "speech.audio.completed" } },
    seen = { violations = {}, client_close = 1000 },
  },
  transcriptions = {
    run = function(client)
      local ws, err = connect(client, "audio.transcriptions")
      if not ws then return failure(err) end
      local first = ws:next()
      assert(ws:append_audio("spoken words"))
      assert(ws:complete())
      local out, by = drained(ws, "transcriptions.message.completed")
      table.insert(out.names, 1, first.event_type)
      out.text = by["transcriptions.message.update"][2].data.content
      return out
    end,
    expect = { ok = true, text = "spoken words", names = { "transcriptions.created", "input_audio_buffer.completed",
      "transcriptions.message.update", "transcriptions.message.update", "transcriptions.message.completed" } },
    seen = { violations = {}, client_close = 1000, audio_bytes = 12 },
  },
  simult_interpretation = {
    run = function(client)
      local ws, err = connect(client, "audio.simult_interpretation")
      if not ws then return failure(err) end
      local first = ws:next()
      assert(ws:append_audio("bonjour"))
      assert(ws:complete())
      local out, by = drained(ws, "simult_interpretation.message.completed")
      table.insert(out.names, 1, first.event_type)
      out.audio = by["simult_interpretation.audio.delta"][1].audio
      return out
    end,
    expect = { ok = true, audio = "translated: bonjour", names = { "simult_interpretation.created",
      "input_audio_buffer.completed", "simult_interpretation.transcription.delta",
      "simult_interpretation.translation.delta", "simult_interpretation.audio.delta",
      "simult_interpretation.message.completed" } },
    seen = { violations = {}, client_close = 1000 },
  },
  large_frames = { -- 64-bit lengths both ways: 200 KB up, two 100 KB pieces of audio down
    run = function(client)
      local ws, err = connect(client, "audio.speech")
      if not ws then return failure(err) end
      ws:next()
      local text = string.rep("0123456789", 20000)
      assert(ws:append_text(text))
      assert(ws:complete())
      local out, by = drained(ws, "speech.audio.completed")
      out.names = nil
      out.same = by["speech.audio.update"][1].audio .. by["speech.audio.update"][2].audio == text
      return out
    end,
    expect = { ok = true, same = true },
    seen = { violations = {} },
  },
  close_1011 = {
    run = fault_case { emu_fault = "close", emu_code = 1011, emu_reason = "internal trouble" },
    expect = { ok = false, kind = "transport", close_code = 1011, close_reason = "internal trouble",
      names = { "chat.created" } },
    seen = { client_close = 1011 },
  },
  close_1000 = {
    run = fault_case { emu_fault = "close", emu_code = 1000 },
    expect = { ok = true, names = { "chat.created" } },
    seen = { client_close = 1000 },
  },
  drop = {
    run = fault_case { emu_fault = "drop" },
    expect = { ok = false, kind = "transport", close_code = 1006, names = { "chat.created" } },
  },
  ping = {
    run = fault_case({ emu_fault = "ping" }, true),
    expect = { ok = true, names = CHAT_NAMES },
    seen = { violations = {}, pongs = 10 },
  },
  fragment = { -- 1-byte fragments with a ping and a pong between them
    run = fault_case({ emu_fault = "fragment" }, true),
    expect = { ok = true, names = CHAT_NAMES },
    seen = { violations = {}, pongs = 10 },
  },
  error_event = {
    run = fault_case({ emu_fault = "error" }, true),
    expect = { ok = true, names = { "chat.created", "error", unpack(CHAT_NAMES, 2) } },
  },
  oversize = {
    run = fault_case { emu_fault = "oversize", emu_size = 5000, max_message_bytes = 4096 },
    expect = { ok = false, kind = "transport", close_code = 1009, names = { "chat.created" } },
    seen = { client_close = 1009 },
  },
  masked = {
    run = fault_case { emu_fault = "masked" },
    expect = { ok = false, kind = "transport", close_code = 1002, names = { "chat.created" } },
    seen = { client_close = 1002 },
  },
  bad_utf8 = {
    run = fault_case { emu_fault = "bad_utf8" },
    expect = { ok = false, kind = "transport", close_code = 1007, names = { "chat.created" } },
    seen = { client_close = 1007 },
  },
  idle_timeout = {
    run = function(client)
      local now_ms = require("coze.core").monotonic_ms
      local ws, err = connect(client, "chat", { bot_id = "bot_1", emu_fault = "silent", idle_timeout_ms = 150 })
      if not ws then return failure(err) end
      ws:next()
      local t0 = now_ms()
      local ev
      ev, err = ws:next()
      local dt = now_ms() - t0
      return failure(err, { event = ev ~= nil, in_time = dt >= 140 and dt < 1000 or dt })
    end,
    expect = { ok = false, kind = "timeout", timeout = "idle", event = false, in_time = true },
  },
  bad_accept = {
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "bot_1", emu_fault = "bad_accept" })
      if ws then return { ok = true } end
      return failure(err, { says = err.msg:find("Sec-WebSocket-Accept", 1, true) ~= nil })
    end,
    expect = { ok = false, kind = "transport", says = true },
  },
  big_error = { -- a non-101 answer's body is read up to core.ws_max_error_body (64 KiB) on both backends:
    -- the emulator's is that much JSON and 3 bytes more, so a reader that took more finds no JSON
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "b", emu_fault = "big_error" })
      if ws then return { ok = true } end
      return failure(err)
    end,
    expect = { ok = false, kind = "api", code = 4000, http_status = 400 },
  },
  slow_error_body = { -- a 401 whose body stops after 1 of 1000 bytes: connect_timeout_ms +
    -- handshake_timeout_ms bound the whole upgrade, error body included, on both connections
    run = function(client)
      local now_ms = require("coze.core").monotonic_ms
      local t0 = now_ms()
      local ws, err = connect(client, "chat", { bot_id = "b", emu_fault = "slow_401", emu_ms = 5000,
        connect_timeout_ms = 200, handshake_timeout_ms = 300 })
      if ws then return { ok = true } end
      local dt = now_ms() - t0
      return failure(err, { in_time = dt >= 450 and dt < 2000 or dt, msg = err.msg })
    end,
    expect = { ok = false, kind = "timeout", timeout = "first_byte", in_time = true,
      msg = "no whole handshake answer within 500 ms (connect_timeout_ms + handshake_timeout_ms)" },
  },
  plain_503 = { -- a non-101 answer without a Coze body: kind http
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "b", emu_fault = "plain_503" })
      if ws then return { ok = true } end
      return failure(err, { msg = err.msg, logid = type(err.logid) == "string" })
    end,
    expect = { ok = false, kind = "http", http_status = 503, msg = "HTTP 503 instead of 101 Switching Protocols",
      logid = true },
  },
  unauthorized = { -- client_opts gives this one a token the emulator refuses
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "b" })
      if ws then return { ok = true } end
      return failure(err, { logid = type(err.logid) == "string", op = err.op })
    end,
    expect = { ok = false, kind = "api", code = 4101, http_status = 401, logid = true, op = "websockets.chat" },
  },
  refresh_401 = { -- client_opts gives an auth whose first token is refused: one refresh, one reconnect
    run = function(client)
      local ws, err = connect(client, "audio.speech")
      if not ws then return failure(err) end
      local first = ws:next()
      ws:close()
      return { ok = true, first = first.event_type, invalidated = client.auth.invalidated }
    end,
    expect = { ok = true, first = "speech.created", invalidated = { "invalid" } },
    seen = { authorization = "Bearer pat_fresh" },
  },
  tls = { -- wss:// to the emulator's TLS port (its self-signed certificate not checked)
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "bot_1" })
      if not ws then return failure(err) end
      local first = ws:next()
      ws:close()
      return { ok = true, first = first.event_type }
    end,
    expect = { ok = true, first = "chat.created" },
  },
  tls_untrusted = { -- the same certificate checked: refused
    run = connect_outcome,
    expect = { ok = false, kind = "transport", tls = true },
  },
  refused = { -- nothing listens at the URL: not sent, as an HTTP call's connect failure
    run = connect_outcome,
    expect = { ok = false, kind = "transport", not_sent = true },
  },
  cork = { -- cork/uncork (nested, one write per 64 KiB queued) and send_audio_file{realtime=false}
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "bot_1" })
      if not ws then return failure(err) end
      local first = ws:next()
      local out = { ok = true, first = first.event_type }
      assert(ws:cork())
      assert(ws:cork())
      assert(ws:append_audio("hello "))
      out.held = ws.conn:pending() > 0
      assert(ws:uncork())
      out.nested = ws.conn:pending() > 0
      local chunk, max = string.rep("ab", 320), 0 -- frames of ~900 bytes (printable: echoed back)
      for _ = 1, 100 do
        assert(ws:append_audio(chunk))
        max = math.max(max, ws.conn:pending())
      end
      out.batched = max >= 60000 and max < 65536 + 1000 and ws.conn:pending() < max
      assert(ws:uncork())
      out.written = ws.conn:pending() == 0
      local parts = {}
      for i = 1, 3000 do parts[i] = string.char(65 + i % 26) end
      local pcm = table.concat(parts):rep(50) .. "tail" -- two read blocks and part of a third
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write(pcm)
      f:close()
      out.file = ws:send_audio_file(path, { realtime = false, chunk_ms = 20 })
      os.remove(path)
      out.file_written = ws.conn:pending() == 0
      assert(ws:complete())
      local done
      repeat
        local ev = assert(ws:next())
        if ev.event_type == "conversation.audio_transcript.completed" then done = ev end
      until done
      out.same = done.data.content == "hello " .. chunk:rep(100) .. pcm
      ws:close()
      return out
    end,
    expect = { ok = true, first = "chat.created", held = true, nested = true, batched = true, written = true,
      file = 150004, file_written = true, same = true },
    -- 338 frames (1 + 100 + 235 appends, complete, close), each with a masking key of its own
    seen = { violations = {}, client_close = 1000, audio_bytes = 6 + 64000 + 150004, repeated_keys = 0,
      frames = 338 },
  },
  abandoned = { -- a session dropped without close is collected and its connection closed: the server sees
    -- the TCP close while the caller still runs (inside nginx, before the request ends)
    run = function(client)
      local tag = "gc-" .. require("coze.core").random_token(4)
      local function abandon() -- in a function of its own: no stack slot keeps the session
        local ws = assert(connect(client, "chat", { bot_id = "b", emu_tag = tag }))
        return ws:next().event_type
      end
      local first = abandon()
      local before = emu_last(client).ended
      collectgarbage()
      collectgarbage()
      local seen
      for _ = 1, 100 do
        seen = emu_last(client)
        if seen.ended then break end
        client.transport:sleep_ms(10)
      end
      return { ok = true, first = first, before = before == nil, same = seen.query.emu_tag == tag,
        ended = seen.ended, close_frame = seen.client_close ~= nil }
    end,
    expect = { ok = true, first = "chat.created", before = true, same = true, ended = "closed", close_frame = false },
  },
  close_args = { -- a code a close frame may not carry raises (nothing sent); a long reason is cut at a
    -- character boundary (the emulator reads what came)
    run = function(client)
      local ws, err = connect(client, "chat", { bot_id = "b" })
      if not ws then return failure(err) end
      local first = ws:next().event_type
      local ok, e = pcall(ws.close, ws, 1005)
      local raised = not ok and tostring(e):find("code 1005 may not be sent", 1, true) ~= nil
      local still_open = ws.conn ~= nil
      ws:close(4000, "xy" .. string.rep("\195\169", 100))
      local seen
      for _ = 1, 100 do
        seen = emu_last(client)
        if seen.ended then break end
        client.transport:sleep_ms(10)
      end
      return { ok = true, first = first, raised = raised, still_open = still_open, code = seen.client_close.code,
        reason = seen.client_close.reason == "xy" .. string.rep("\195\169", 60) }
    end,
    expect = { ok = true, first = "chat.created", raised = true, still_open = true, code = 4000, reason = true },
  },
  coroutines = { -- 20 sessions driven from coroutines in one loop (wait_ms = 0, on_wait = coroutine.yield);
    -- each hears 10 events 2 ms apart, so their waits hand control back to the loop
    run = function(client)
      local N = 20
      local threads, results, yields = {}, {}, 0
      for i = 1, N do
        threads[i] = coroutine.create(function()
          local ws = assert(client.websockets.chat:connect { bot_id = "b", emu_fault = "latency", emu_n = 10,
            wait_ms = 0, on_wait = coroutine.yield })
          assert(ws:next().event_type == "chat.created")
          local n = 0
          while n < 10 do
            assert(ws:next().event_type == "latency")
            n = n + 1
          end
          ws:close()
          results[i] = n
        end)
      end
      local done = 0
      while done < N do
        done = 0
        for i = 1, N do
          local co = threads[i]
          if coroutine.status(co) == "suspended" then
            local ok, e = coroutine.resume(co)
            if not ok then return { ok = false, msg = tostring(e) } end
            yields = yields + 1
          end
          if coroutine.status(co) == "dead" then done = done + 1 end
        end
      end
      return { ok = true, results = results, yielded = yields > N }
    end,
    expect = { ok = true, yielded = true,
      results = { 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10 } },
  },
}

_M.names = {}
for name in pairs(_M.cases) do _M.names[#_M.names + 1] = name end
table.sort(_M.names)

-- The client options a scenario runs with against base_url.
function _M.client_opts(name, base_url)
  local o = { token = "pat_test", base_url = base_url, max_retries = 0 }
  if name == "unauthorized" then o.token = "invalid" end
  if name == "tls" or name == "tls_untrusted" then
    o.ws_base_url = base_url:gsub("^http:", "wss:"):gsub(":(%d+)$", function(p) return ":" .. (tonumber(p) + 1) end)
    o.tls_verify = name == "tls_untrusted"
  end
  if name == "refused" then o.ws_base_url = "ws://127.0.0.1:9" end
  if name == "refresh_401" then
    local tokens = { "invalid", "pat_fresh" }
    o.token = nil
    o.auth = {
      invalidated = {},
      token = function() return tokens[1] end,
      invalidate = function(self, t)
        self.invalidated[#self.invalidated + 1] = t
        table.remove(tokens, 1)
      end,
    }
  end
  return o
end

return _M
