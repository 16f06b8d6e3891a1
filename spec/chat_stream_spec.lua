-- client.chat:stream against the emulator: the stream contract over real sockets.
local emu = require "helpers.emu"
local coze = require "coze"

local function stream_chat(client, extra, fault)
  local opts = {
    bot_id = "bot_1", user_id = "u1",
    additional_messages = { coze.message.user_text("早上好") },
    headers = {},
  }
  if fault then opts.headers["X-Emu-Fault"] = fault end
  for k, v in pairs(extra or {}) do
    if k == "headers" then
      for hk, hv in pairs(v) do opts.headers[hk] = hv end
    else
      opts[k] = v
    end
  end
  return client.chat:stream(opts)
end

local function collect(stream)
  local names, text, last = {}, {}, nil
  while true do
    local ev, err = stream:next()
    if not ev then return names, table.concat(text), err end
    names[#names + 1] = ev.event
    if ev.event == "conversation.message.delta" then text[#text + 1] = ev.data.content end
    last = ev
  end
end

describe("chat:stream", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("streams a chat from created to done", function()
    local stream = assert(stream_chat(client))
    local names, text, err = collect(stream)
    assert.is_nil(err)
    assert.equal("You said: 早上好", text)
    assert.equal("conversation.chat.created", names[1])
    assert.equal("conversation.chat.in_progress", names[2])
    assert.equal("conversation.chat.completed", names[#names - 1])
    assert.equal("done", names[#names])
  end)

  it("returns nil on every call after the normal end", function()
    local stream = assert(stream_chat(client))
    collect(stream)
    local ev, err = stream:next()
    assert.is_nil(ev)
    assert.is_nil(err)
  end)

  it("iterates with the for-loop form", function()
    local stream = assert(stream_chat(client))
    local parts = {}
    for ev in stream:events() do
      if ev.event == "conversation.message.delta" then parts[#parts + 1] = ev.data.content end
    end
    assert.equal("You said: 早上好", table.concat(parts))
  end)

  it("decodes data lazily on first access and keeps the raw text", function()
    local stream = assert(stream_chat(client))
    local ev = assert(stream:next())
    assert.is_nil(rawget(ev, "data"))
    assert.is_string(ev.raw)
    assert.equal("created", ev.data.status)
    assert.is_table(rawget(ev, "data"))
    stream:close()
  end)

  it("exposes the logid and status of the stream", function()
    local stream = assert(stream_chat(client))
    assert.equal(200, stream.http_status)
    assert.is_string(stream.logid)
    assert.truthy(#stream.logid > 0)
    stream:close()
  end)

  it("sends stream=true and the conversation_id in the query", function()
    local stream = assert(stream_chat(client, { conversation_id = "conv_42" }))
    collect(stream)
    local req = emu.last_request()
    assert.equal("POST", req.method)
    assert.equal("/v3/chat", req.path)
    assert.equal("conv_42", req.query.conversation_id)
    local body = require("cjson").decode(req.body)
    assert.is_true(body.stream)
    assert.equal("bot_1", body.bot_id)
    assert.equal("早上好", body.additional_messages[1].content)
  end)

  it("delivers an error event, then ends with the error object", function()
    local stream = assert(stream_chat(client, nil, "error_event;after=3;code=4013;msg=model failed"))
    local names, _, err = collect(stream)
    assert.equal("error", names[#names])
    assert.is_table(err)
    assert.equal("api", err.kind)
    assert.equal(4013, err.code)
    assert.equal("model failed", err.msg)
    assert.equal(stream.logid, err.logid)
  end)

  it("raises the error object from the for-loop form", function()
    local stream = assert(stream_chat(client, nil, "error_event;after=2;code=4013;msg=boom"))
    local ok, err = pcall(function()
      for _ in stream:events() do end
    end)
    assert.is_false(ok)
    assert.is_true(coze.errors.is(err))
    assert.equal(4013, err.code)
    assert.truthy(tostring(err):find("4013", 1, true))
  end)

  it("treats a stream that ends without done as an error", function()
    local stream = assert(stream_chat(client, nil, "no_done"))
    local names, text, err = collect(stream)
    assert.equal("You said: 早上好", text)
    assert.equal("conversation.chat.completed", names[#names])
    assert.equal("stream", err.kind)
    assert.truthy(err.msg:find("terminal", 1, true))
  end)

  it("reports a connection reset mid-stream instead of a short stream", function()
    local stream = assert(stream_chat(client, nil, "reset;after=3"))
    local names, _, err = collect(stream)
    assert.equal(3, #names)
    assert.equal("transport", err.kind)
    assert.equal("chat.stream", err.op)
  end)

  it("raises on a reset inside the for-loop form", function()
    local stream = assert(stream_chat(client, nil, "reset;after=2"))
    assert.has_error(function() for _ in stream:events() do end end)
  end)

  it("reports an event cut in the middle as truncation", function()
    local stream = assert(stream_chat(client, nil, "truncate;after=3"))
    local names, _, err = collect(stream)
    assert.equal(3, #names)
    assert.equal("stream", err.kind)
  end)

  it("returns nil, err when the server answers a JSON error instead of a stream", function()
    local stream, err = stream_chat(client, nil, "json_error;code=4101;msg=token invalid;status=401")
    assert.is_nil(stream)
    assert.equal("api", err.kind)
    assert.equal(4101, err.code)
    assert.equal("token invalid", err.msg)
    assert.equal(401, err.http_status)
    assert.is_string(err.logid)
  end)

  it("returns nil, err with retry_after on 429 before the stream starts", function()
    local stream, err = stream_chat(client, nil, "429;retry_after=2")
    assert.is_nil(stream)
    assert.equal(429, err.http_status)
    assert.equal(2, err.retry_after)
    assert.equal(4009, err.code)
  end)

  it("refuses an event larger than max_event_bytes", function()
    local stream = assert(stream_chat(client, { max_event_bytes = 64 * 1024 }, "huge_event;bytes=200000"))
    local _, _, err = collect(stream)
    assert.equal("stream", err.kind)
    assert.truthy(err.msg:find("exceeds", 1, true))
  end)

  for _, fault in ipairs({ "split", "crlf", "cr", "bom", "comments", "space", "eof_no_newline" }) do
    it("gives the same events with the '" .. fault .. "' framing", function()
      local plain_names, plain_text = collect(assert(stream_chat(client)))
      local names, text, err = collect(assert(stream_chat(client, nil, fault)))
      assert.is_nil(err)
      assert.same(plain_names, names)
      assert.equal(plain_text, text)
    end)
  end

  it("fires the idle timeout when the server stops sending", function()
    local stream = assert(stream_chat(client, { idle_timeout_ms = 200 }, "stall;after=2;ms=2000"))
    local names, _, err = collect(stream)
    assert.equal(2, #names)
    assert.equal("timeout", err.kind)
    assert.equal("idle", err.timeout)
    assert.truthy(tostring(err):find("idle timeout", 1, true))
  end)

  it("fires the first-byte timeout when the server is slow to answer", function()
    local stream, err = stream_chat(client, { first_byte_timeout_ms = 200 }, "slow_headers;ms=2000")
    assert.is_nil(stream)
    assert.equal("timeout", err.kind)
    assert.equal("first_byte", err.timeout)
  end)

  it("keeps a slow drip alive as long as bytes keep coming", function()
    local stream = assert(stream_chat(client, { idle_timeout_ms = 500, headers = { ["X-Emu-Drip-Ms"] = "50" } }))
    local _, text, err = collect(stream)
    assert.is_nil(err)
    assert.equal("You said: 早上好", text)
  end)

  it("closes early and the client keeps working", function()
    local stream = assert(stream_chat(client, { headers = { ["X-Emu-Deltas"] = "1000" } }))
    assert(stream:next())
    stream:close()
    assert.is_nil(stream:next())
    local names, text = collect(assert(stream_chat(client)))
    assert.equal("done", names[#names])
    assert.equal("You said: 早上好", text)
  end)

  it("closes the stream when a 5.4 for-loop breaks", function()
    if _VERSION ~= "Lua 5.4" or type(jit) == "table" then return end
    local stream = assert(stream_chat(client, { headers = { ["X-Emu-Deltas"] = "100" } }))
    local run = assert(load([[
      local stream = ...
      for ev in stream:events() do break end
    ]]))
    run(stream)
    assert.is_true(stream.finished)
    assert.is_nil(stream.handle)
  end)

  it("drives many streams from coroutines with wait_ms = 0", function()
    local fns = {}
    for i = 1, 20 do
      fns[i] = function()
        local stream = assert(stream_chat(client, {
          wait_ms = 0, on_wait = coroutine.yield,
          additional_messages = { coze.message.user_text("n" .. i) },
          headers = { ["X-Emu-Drip-Ms"] = "5" },
        }))
        local _, text, err = collect(stream)
        assert.is_nil(err)
        return text
      end
    end
    local results = emu.run_all(fns)
    for i = 1, 20 do assert.equal("You said: n" .. i, results[i]) end
  end)

  it("streams submit_tool_outputs after requires_action", function()
    local stream = assert(stream_chat(client, { bot_id = "bot_requires_action" }))
    local chat
    for ev in stream:events() do
      if ev.event == "conversation.chat.requires_action" then chat = ev.data end
    end
    assert.equal("requires_action", chat.status)
    local call = chat.required_action.submit_tool_outputs.tool_calls[1]
    local s2 = assert(client.chat:submit_tool_outputs_stream {
      conversation_id = chat.conversation_id, chat_id = chat.id,
      tool_outputs = { { tool_call_id = call.id, output = "sunny" } },
    })
    local names, text, err = collect(s2)
    assert.is_nil(err)
    assert.equal("Tool said: sunny", text)
    assert.equal("done", names[#names])
  end)
end)

describe("chat:stream cancel_on_close", function()
  it("cancels the chat when the stream is closed before done", function()
    local client = emu.client()
    local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1", cancel_on_close = true,
      additional_messages = { coze.message.user_text("long") }, headers = { ["X-Emu-Deltas"] = "500" } })
    local ev = assert(stream:next())
    assert.equal("conversation.chat.created", ev.event)
    stream:close()
    local req = emu.last_request()
    assert.equal("/v3/chat/cancel", req.path)
    assert.equal(ev.data.id, require("cjson").decode(req.body).chat_id)
    client:close()
  end)

  it("does not cancel a chat that finished", function()
    local client = emu.client()
    local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1", cancel_on_close = true })
    for _ in stream:events() do end
    assert.equal("/v3/chat", emu.last_request().path)
    client:close()
  end)

  it("does not cancel a stream dropped without close(): the collector sends no request", function()
    local client = emu.client()
    local before = emu.mark()
    do
      local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1", cancel_on_close = true,
        headers = { ["X-Emu-Deltas"] = "500" } })
      assert(stream:next())
    end
    collectgarbage()
    collectgarbage()
    assert.same({}, emu.since(before, "/v3/chat/cancel"))
    client:close()
  end)

  it("sends the cancel through the call's on_wait, so closing from a coroutine yields", function()
    local client = emu.client()
    local co = coroutine.wrap(function()
      local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1", cancel_on_close = true,
        wait_ms = 0, on_wait = coroutine.yield, headers = { ["X-Emu-Deltas"] = "500" } })
      assert(stream:next())
      while coroutine.yield("read") do end -- the first yields were the request's: count only the close's

      stream:close()
      return "closed"
    end)
    while co() ~= "read" do end
    local yields = 0
    while co(false) ~= "closed" do yields = yields + 1 end
    assert.truthy(yields > 0)
    assert.equal("/v3/chat/cancel", emu.last_request().path)
    client:close()
  end)
end)

describe("a stream closed by another coroutine while its reader waits in on_wait", function()
  for _, form in ipairs({ "next", "events", "raw_events" }) do
    it("ends the reader's " .. form .. "() quietly, without raising (real sockets)", function()
      local client = emu.client()
      local stream
      local got = 0
      local reader = coroutine.create(function()
        stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1", wait_ms = 0,
          on_wait = coroutine.yield, headers = { ["X-Emu-Deltas"] = "50", ["X-Emu-Drip-Ms"] = "20" } })
        if form == "next" then
          while true do
            local ev, err = stream:next()
            if not ev then return "end", err end
            got = got + 1
          end
        end
        for _ in stream[form](stream) do got = got + 1 end
        return "end"
      end)
      local closer = coroutine.create(function()
        while got < 3 do coroutine.yield() end
        stream:close()
        return "closed"
      end)
      local results = {}
      for _ = 1, 100000 do
        for _, co in ipairs({ reader, closer }) do
          if coroutine.status(co) ~= "dead" then
            local ok, a, b = coroutine.resume(co)
            assert(ok, a) -- a raise inside the reader (a string before the fix) fails here
            if coroutine.status(co) == "dead" then results[co] = { a, b } end
          end
        end
        if coroutine.status(reader) == "dead" and coroutine.status(closer) == "dead" then break end
      end
      assert.equal("end", results[reader][1])
      assert.is_nil(results[reader][2])
      assert.equal("closed", results[closer][1])
      assert.is_true(got >= 3)
      assert.is_false(stream.completed)
      assert.is_nil(stream:next())
      client:close()
    end)
  end
end)

describe("server text in a stream's errors", function()
  local SECRET = "pat_secret_echoed_123"
  local function scrub(s) return (s:gsub(SECRET, "[redacted]")) end

  it("passes an error event's message, code and event copy through opts.scrub (real sockets)", function()
    local client = emu.client()
    local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1",
      headers = { ["X-Emu-Fault"] = "error_event;after=2;code=4100;msg=bad token Bearer%20" .. SECRET } })
    stream.scrub = scrub -- what the client passes as opts.scrub (the pipeline sets it at new())
    local last, err
    while true do
      local ev, e = stream:next()
      if not ev then err = e break end
      last = ev
    end
    assert.equal("error", last.event)
    assert.truthy(last.raw:find(SECRET, 1, true)) -- the event handed out is what the server sent
    assert.equal("api", err.kind)
    assert.equal(4100, err.code)
    assert.equal("bad token Bearer [redacted]", err.msg)
    assert.is_nil(err.event.raw:find(SECRET, 1, true))
    assert.is_nil(tostring(err):find(SECRET, 1, true))
    client:close()
  end)

  it("takes scrub from the options of new() and leaves text as it is without one", function()
    local stream_mod = require "coze.stream"
    local body = 'event: error\ndata: {"code":"' .. SECRET .. '","msg":"echo ' .. SECRET .. '"}\n\n'
    local function handle()
      local h = { sent = false }
      function h.read(self) if self.sent then return nil end self.sent = true return body end
      function h.close() end
      return h
    end
    local s = stream_mod.new(handle(), { profile = "chat", scrub = scrub })
    assert(s:next())
    local _, err = s:next()
    assert.equal("echo [redacted]", err.msg)
    assert.equal("[redacted]", err.code)
    s = stream_mod.new(handle(), { profile = "chat" })
    assert(s:next())
    _, err = s:next()
    assert.equal("echo " .. SECRET, err.msg)
  end)
end)

describe("abandoned streams", function()
  it("frees 100 streams dropped mid-way without close (make valgrind checks the leaks)", function()
    local client = emu.client()
    for i = 1, 100 do
      local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u" .. i,
        headers = { ["X-Emu-Deltas"] = "200" } })
      assert(stream:next())
    end
    collectgarbage()
    collectgarbage()
    local names = {}
    local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "after" })
    for ev in stream:events() do names[#names + 1] = ev.event end
    assert.equal("done", names[#names])
    client:close()
  end)
end)
