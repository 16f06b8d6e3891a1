-- WebSocket sessions against a misbehaving server (the emulator's faults): framing, close codes,
-- protocol violations, the handshake, idle timeouts, many sessions from coroutines, and leaks.
local emu = require "helpers.emu"
local core = require "coze.core"

local last_session = require("helpers.ws").last_session

local function connect(query, extra)
  local client = emu.client(extra and extra.client)
  local opts = { bot_id = "bot_1" }
  for k, v in pairs(query or {}) do opts[k] = v end
  return client.websockets.chat:connect(opts)
end

-- Reads events until nil: names, the final error.
local function drain(ws)
  local names = {}
  while true do
    local ev, err = ws:next()
    if not ev then return names, err end
    names[#names + 1] = ev.event_type
  end
end

describe("websocket framing", function()
  it("reassembles 1-byte fragments with pings and pongs between them, answering each ping", function()
    local ws = assert(connect { emu_fault = "fragment" })
    local ev = assert(ws:next())
    assert.equal("chat.created", ev.event_type)
    assert(ws:create_message { content = "frag" })
    local names = {}
    repeat
      ev = assert(ws:next())
      names[#names + 1] = ev.event_type
    until ev.event_type == "conversation.chat.completed"
    assert.equal(9, #names)
    ws:close()
    local seen = last_session()
    assert.same({}, seen.violations)
    assert.equal(10, seen.pongs) -- one ping per fragmented message, each answered with its payload
  end)

  it("answers pings with pongs carrying the same payload", function()
    local ws = assert(connect { emu_fault = "ping" })
    assert.equal("chat.created", ws:next().event_type)
    assert(ws:create_message { content = "p" })
    repeat local ev = assert(ws:next()) until ev.event_type == "conversation.chat.completed"
    ws:close()
    local seen = last_session()
    assert.same({}, seen.violations)
    assert.equal(10, seen.pongs)
  end)

  it("refuses a message larger than max_message_bytes with 1009", function()
    local ws = assert(connect({ emu_fault = "oversize", emu_size = 5000, max_message_bytes = 4096 }))
    assert.equal("chat.created", ws:next().event_type)
    local ev, err = ws:next()
    assert.is_nil(ev)
    assert.equal("transport", err.kind)
    assert.equal(1009, err.close_code)
    assert.is_nil(ws:next())
    local seen = last_session()
    assert.equal(1009, seen.client_close.code)
  end)

  it("takes a message just under max_message_bytes", function()
    local ws = assert(connect({ emu_fault = "oversize", emu_size = 4000, max_message_bytes = 4096 }))
    assert.equal("chat.created", ws:next().event_type)
    assert.equal("big", ws:next().event_type)
    ws:close()
  end)

  it("fails with 1002 on a masked server frame", function()
    local ws = assert(connect { emu_fault = "masked" })
    assert.equal("chat.created", ws:next().event_type)
    local ev, err = ws:next()
    assert.is_nil(ev)
    assert.equal(1002, err.close_code)
    assert.matches("masked", err.msg)
    ws:close()
    assert.equal(1002, last_session().client_close.code)
  end)

  it("fails with 1007 on a text message that is not UTF-8 (an encoded surrogate)", function()
    local ws = assert(connect { emu_fault = "bad_utf8" })
    assert.equal("chat.created", ws:next().event_type)
    local _, err = ws:next()
    assert.equal(1007, err.close_code)
    ws:close()
    assert.equal(1007, last_session().client_close.code)
  end)
end)

describe("websocket close", function()
  it("ends next() with nil on a server close 1000 and echoes the code", function()
    local ws = assert(connect { emu_fault = "close", emu_code = 1000 })
    local names, err = drain(ws)
    assert.same({ "chat.created" }, names)
    assert.is_nil(err)
    assert.equal(1000, last_session().client_close.code)
  end)

  it("returns kind transport with close_code 1011 and the reason", function()
    local ws = assert(connect { emu_fault = "close", emu_code = 1011, emu_reason = "internal trouble" })
    local names, err = drain(ws)
    assert.same({ "chat.created" }, names)
    assert.equal("transport", err.kind)
    assert.equal(1011, err.close_code)
    assert.equal("internal trouble", err.close_reason)
    assert.equal(1011, last_session().client_close.code)
    local again, err2 = ws:next()
    assert.is_nil(again)
    assert.equal(err, err2)
  end)

  it("reports 1006 when the connection drops mid-message", function()
    local ws = assert(connect { emu_fault = "drop" })
    local names, err = drain(ws)
    assert.same({ "chat.created" }, names)
    assert.equal("transport", err.kind)
    assert.equal(1006, err.close_code)
  end)

  it("raises the error object from events() and closes the session on break (Lua 5.4)", function()
    local ws = assert(connect { emu_fault = "close", emu_code = 4001 })
    local ok, e = pcall(function()
      for _ in ws:events() do end
    end)
    assert.is_false(ok)
    assert.equal(4001, e.close_code)
    ws = assert(connect {})
    for ev in ws:events() do
      assert.equal("chat.created", ev.event_type)
      break
    end
    if _VERSION == "Lua 5.4" and not jit then assert.is_nil(ws.conn) end
    ws:close()
    ws = assert(connect {})
    ok, e = pcall(function()
      for _ in ws:events() do error({ mine = true }) end
    end)
    assert.is_false(ok)
    assert.is_true(e.mine) -- the loop's own error, not one from closing the session
    if _VERSION == "Lua 5.4" and not jit then assert.is_nil(ws.conn) end
    ws:close()
  end)

  it("raises naming the code for a close code RFC 6455 forbids sending, and sends nothing", function()
    local ws = assert(connect {})
    assert.equal("chat.created", ws:next().event_type)
    for _, code in ipairs({ 1005, 1006, 1015, 1016, 2999, 999, 5000, 1000.5 }) do
      assert.has_error(function() ws:close(code) end, "coze: websockets.chat:close: code " .. tostring(code)
        .. " may not be sent in a close frame (RFC 6455 section 7.4: 1000-1003, 1007-1014, 3000-4999)")
    end
    assert.has_error(function() ws:close(1000, "\255") end, "coze: websockets.chat:close: reason must be UTF-8")
    assert.is_truthy(ws.conn) -- still open: nothing went out
    assert(ws:create_message { content = "still here" })
    repeat local ev = assert(ws:next()) until ev.event_type == "conversation.chat.completed"
    assert.is_true(ws:close(3000, "fine"))
    local seen = last_session()
    assert.same({ code = 3000, reason = "fine" }, seen.client_close)
    assert.same({}, seen.violations)
  end)

  it("cuts a long close reason at a UTF-8 character boundary (the server would fail half a character)", function()
    local ws = assert(connect {})
    assert.equal("chat.created", ws:next().event_type)
    assert.is_true(ws:close(4000, "xy" .. string.rep("\195\169", 100)))
    local seen = last_session()
    assert.equal(4000, seen.client_close.code)
    assert.equal("xy" .. string.rep("\195\169", 60), seen.client_close.reason)
  end)

  it("delivers an error event and keeps the session", function()
    local ws = assert(connect { emu_fault = "error" })
    assert.equal("chat.created", ws:next().event_type)
    local ev = ws:next()
    assert.equal("error", ev.event_type)
    assert.equal(4001, ev.data.code)
    assert(ws:create_message { content = "on" })
    repeat ev = assert(ws:next()) until ev.event_type == "conversation.chat.completed"
    ws:close()
  end)
end)

describe("websocket handshake", function()
  it("refuses a wrong Sec-WebSocket-Accept with kind transport", function()
    local ws, err = connect { emu_fault = "bad_accept" }
    assert.is_nil(ws)
    assert.equal("transport", err.kind)
    assert.matches("Sec%-WebSocket%-Accept", err.msg)
  end)

  it("gives kind api with the Coze code, msg and logid for a 401 answer", function()
    local ws, err = emu.client({ token = "invalid" }).websockets.chat:connect { bot_id = "b" }
    assert.is_nil(ws)
    assert.equal("api", err.kind)
    assert.equal(4101, err.code)
    assert.equal(401, err.http_status)
    assert.is_string(err.logid)
    assert.equal("websockets.chat", err.op)
  end)

  it("gives kind http for a non-101 answer without a Coze body", function()
    local ws, err = connect { emu_fault = "plain_503" }
    assert.is_nil(ws)
    assert.equal("http", err.kind)
    assert.equal(503, err.http_status)
    assert.is_nil(err.code)
    assert.equal("HTTP 503 instead of 101 Switching Protocols", err.msg)
    assert.is_string(err.logid) -- from X-Tt-Logid
    assert.equal("websockets.chat", err.op)
  end)

  it("refreshes the token once and reconnects once after a 401", function()
    local tokens, invalidated = { "invalid", "pat_fresh" }, {}
    local auth = {
      token = function() return tokens[1] end,
      invalidate = function(_, t)
        invalidated[#invalidated + 1] = t
        table.remove(tokens, 1)
      end,
    }
    local ws = assert(emu.client({ auth = auth }).websockets.audio.speech:connect {})
    assert.same({ "invalid" }, invalidated)
    assert.equal("speech.created", ws:next().event_type)
    assert.equal("Bearer pat_fresh", last_session().authorization)
    ws:close()
    tokens = { "invalid", "invalid", "invalid" }
    invalidated = {}
    local none, err = emu.client({ auth = auth }).websockets.audio.speech:connect {}
    assert.is_nil(none)
    assert.equal(4101, err.code)
    assert.equal(1, #invalidated)
  end)

  it("returns kind transport when nothing listens on the port", function()
    local client = emu.client { ws_base_url = "ws://127.0.0.1:1" }
    local ws, err = client.websockets.chat:connect {}
    assert.is_nil(ws)
    assert.equal("transport", err.kind)
    assert.matches("cannot connect", err.msg)
  end)

  it("raises at the caller's line for bad session options", function()
    local client = emu.client()
    assert.has_error(function() client.websockets.chat:connect { wait_ms = "x" } end,
      "coze: websockets.chat.connect: field 'wait_ms' must be a number (got string)")
    assert.has_error(function() client.websockets.chat.connect({}, {}) end)
  end)
end)

describe("websocket waiting", function()
  it("times out with kind timeout and timeout = 'idle' when nothing arrives", function()
    local ws = assert(connect({ emu_fault = "silent", idle_timeout_ms = 150 }))
    assert.equal("chat.created", ws:next().event_type)
    local t0 = core.monotonic_ms()
    local ev, err = ws:next()
    assert.is_nil(ev)
    assert.equal("timeout", err.kind)
    assert.equal("idle", err.timeout)
    assert.is_true(core.monotonic_ms() - t0 >= 140)
    assert.is_true(core.monotonic_ms() - t0 < 1000)
  end)

  it("drives 20 sessions from coroutines in one loop with wait_ms = 0 and on_wait = coroutine.yield", function()
    local client = emu.client { wait_ms = 0, on_wait = coroutine.yield }
    local done, threads, results = 0, {}, {}
    for i = 1, 20 do
      threads[i] = coroutine.create(function()
        local ws = assert(client.websockets.audio.speech:connect {})
        assert.equal("speech.created", ws:next().event_type)
        assert(ws:append_text("session " .. i))
        assert(ws:complete())
        local audio = {}
        while true do
          local ev = assert(ws:next())
          if ev.event_type == "speech.audio.update" then audio[#audio + 1] = ev.audio end
          if ev.event_type == "speech.audio.completed" then break end
        end
        ws:close()
        results[i] = table.concat(audio)
      end)
    end
    local yields = 0
    while done < 20 do
      done = 0
      for i = 1, 20 do
        local co = threads[i]
        if coroutine.status(co) == "suspended" then
          local ok, e = coroutine.resume(co)
          assert(ok, e)
          yields = yields + 1
        end
        if coroutine.status(co) == "dead" then done = done + 1 end
      end
    end
    for i = 1, 20 do assert.equal("session " .. i, results[i]) end
    assert.is_true(yields > 20)
  end)

  it("frees the connection of a session dropped without close: the server sees the TCP close", function()
    -- opened in a function of its own, so no stack slot of the loop keeps the session
    local function abandon(tag)
      local ws = assert(connect { emu_tag = tag })
      assert.equal("chat.created", ws:next().event_type)
      assert.is_nil(last_session().ended)
    end
    for i = 1, 5 do
      local tag = "gc-" .. i
      abandon(tag)
      collectgarbage()
      collectgarbage()
      local seen
      for _ = 1, 100 do
        seen = last_session()
        if seen.ended then break end
        core.sleep_ms(10)
      end
      assert.equal(tag, seen.query.emu_tag)
      assert.equal("closed", seen.ended) -- a TCP close (no close frame: nothing ran to send one)
      assert.is_nil(seen.client_close)
    end
  end)
end)
