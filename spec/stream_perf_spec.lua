-- The fast stream path: SSEParser:next_events (event tables built in C, many per call),
-- Request:read_into (body bytes fed straight to the parser), and coze.stream on top of them, with
-- the generic read() + feed() path kept for transports that only have read().
local core = require "coze.core"
local stream_mod = require "coze.stream"
local emu = require "helpers.emu"

local Event = stream_mod.Event
local FIXTURES = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "fixtures/sse/"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Every event of the chunks through p:next(), as { event, raw, id } (+ partial on the last one).
local function with_next(chunks, max)
  local p, out = core.sse_parser(max), {}
  local function drain()
    while true do
      local raw, name, id, partial = p:next()
      if raw == nil then
        if name then out[#out + 1] = { error = name } end
        return name
      end
      out[#out + 1] = { event = name or "message", raw = raw, id = id, partial = partial or nil }
    end
  end
  for _, c in ipairs(chunks) do
    p:feed(c)
    if drain() then return out end
  end
  p:finish()
  drain()
  return out
end

-- The same through p:next_events(q, Event, batch).
local function with_batches(chunks, max, batch)
  local p, q, out = core.sse_parser(max), {}, {}
  local function drain()
    while true do
      local n, partial = p:next_events(q, Event, batch)
      if n == nil then
        out[#out + 1] = { error = partial }
        return partial
      end
      if n == 0 then return nil end
      for i = 1, n do
        local ev = q[i]
        assert.equal(Event, getmetatable(ev))
        out[#out + 1] = { event = ev.event, raw = ev.raw, id = ev.id, partial = (partial and i == n) or nil }
      end
    end
  end
  for _, c in ipairs(chunks) do
    p:feed(c)
    if drain() then return out end
  end
  p:finish()
  drain()
  return out
end

local function random_splits(s, seed)
  math.randomseed(seed)
  local chunks, i = {}, 1
  while i <= #s do
    local n = math.random(1, 40)
    chunks[#chunks + 1] = s:sub(i, i + n - 1)
    i = i + n
  end
  return chunks
end

-- A transport handle over fixed chunks; with_into adds the optional read_into.
local function fake_handle(chunks, with_into)
  local i, closed = 0, false
  local h = {}
  function h:read()
    i = i + 1
    return chunks[i]
  end
  if with_into then
    h.into_calls = 0
    function h:read_into(parser)
      self.into_calls = self.into_calls + 1
      local c = self:read()
      if c == nil then return nil end
      parser:feed(c)
      return true
    end
  end
  function h:close() closed = true end
  function h:closed() return closed end
  return h
end

local CHAT = table.concat {
  "event: conversation.chat.created\ndata: {\"id\":\"c1\"}\n\n",
  "event: conversation.message.delta\ndata: {\"content\":\"he\"}\n\n",
  "event: conversation.message.delta\ndata: {\"content\":\"llo\"}\n\n",
  "event: conversation.chat.completed\ndata: {\"id\":\"c1\"}\n\n",
  "event: done\ndata: \"[DONE]\"\n\n",
}

local function names_of(stream)
  local names = {}
  while true do
    local ev, err = stream:next()
    if not ev then return names, err end
    names[#names + 1] = ev.event
  end
end

describe("SSEParser:next_events", function()
  it("stores event tables with the given metatable, the default name and the id", function()
    local p, q = core.sse_parser(), {}
    p:feed("event: a\ndata: 1\n\ndata: 2\nid: 7\n\n")
    local n, partial = p:next_events(q, Event, 64)
    assert.equal(2, n)
    assert.is_false(partial)
    assert.same({ event = "a", raw = "1" }, { event = q[1].event, raw = q[1].raw, id = rawget(q[1], "id") })
    assert.equal("message", q[2].event)
    assert.equal("2", q[2].raw)
    assert.equal("7", q[2].id)
    assert.equal(Event, getmetatable(q[1]))
    assert.equal(2, q[2].data) -- lazily decoded through the metatable
    assert.equal(0, (p:next_events(q, Event, 64)))
  end)

  it("builds plain tables without a metatable", function()
    local p, q = core.sse_parser(), {}
    p:feed("data: x\n\n")
    assert.equal(1, (p:next_events(q)))
    assert.is_nil(getmetatable(q[1]))
    assert.same({ event = "message", raw = "x" }, q[1])
  end)

  it("stops at max and goes on with the next call", function()
    local p, q = core.sse_parser(), {}
    p:feed(string.rep("data: e\n\n", 5))
    assert.equal(2, (p:next_events(q, Event, 2)))
    assert.equal(2, (p:next_events(q, Event, 2)))
    assert.equal(1, (p:next_events(q, Event, 2)))
    assert.equal(0, (p:next_events(q, Event, 2)))
  end)

  it("clears what is left of a longer earlier batch", function()
    local p, q = core.sse_parser(), {}
    p:feed("data: 1\n\ndata: 2\n\ndata: 3\n\n")
    assert.equal(3, (p:next_events(q, Event)))
    p:feed("data: 4\n\n")
    assert.equal(1, (p:next_events(q, Event)))
    assert.equal("4", q[1].raw)
    assert.is_nil(q[2])
    assert.is_nil(q[3])
  end)

  it("flags the event dispatched at the end of input from an unterminated line", function()
    local p, q = core.sse_parser(), {}
    p:feed("data: whole\n\ndata: {\"a\":")
    assert.equal(1, (p:next_events(q, Event)))
    p:finish()
    local n, partial = p:next_events(q, Event)
    assert.equal(1, n)
    assert.is_true(partial)
    assert.equal("{\"a\":", q[1].raw)
    assert.equal(0, (p:next_events(q, Event)))
  end)

  it("hands out the events before an oversized one, then its error", function()
    local p, q = core.sse_parser(16), {}
    p:feed("data: ok\n\ndata: " .. string.rep("x", 64) .. "\n\n")
    assert.equal(1, (p:next_events(q, Event)))
    assert.equal("ok", q[1].raw)
    local n, msg = p:next_events(q, Event)
    assert.is_nil(n)
    assert.equal("event exceeds 16 bytes", msg)
  end)

  it("gives the events next() gives for every fixture, whole and in random splits", function()
    local files = {}
    local ls = io.popen('ls "' .. FIXTURES .. '"')
    for file in ls:lines() do files[#files + 1] = file end
    ls:close()
    assert.is_true(#files > 10)
    for _, file in ipairs(files) do
      local s = read_file(FIXTURES .. file)
      for seed = 0, 3 do
        local chunks = seed == 0 and { s } or random_splits(s, seed)
        local expected = with_next(chunks)
        assert.same(expected, with_batches(chunks, nil, 64), file)
        assert.same(expected, with_batches(chunks, nil, 1), file)
        assert.same(with_next(chunks, 64), with_batches(chunks, 64, 3), file)
      end
    end
  end)

  it("keeps parsing after an event larger than the buffers it keeps (they are given back)", function()
    local big = string.rep("y", 1500000)
    local parts = { "data: " .. big .. "\n\n" }
    for i = 1, 2000 do parts[#parts + 1] = "event: e" .. (i % 3) .. "\ndata: " .. i .. "\n\n" end
    parts[#parts + 1] = "data: a\ndata: " .. big .. "\n\n" -- a multi-line one: copied into the data buffer
    parts[#parts + 1] = "data: last\n\n"
    local s = table.concat(parts)
    local chunks = {}
    for i = 1, #s, 65536 do chunks[#chunks + 1] = s:sub(i, i + 65535) end
    local got = with_batches(chunks, nil, 64)
    assert.equal(2003, #got)
    assert.equal(big, got[1].raw)
    assert.same({ event = "e1", raw = "1" }, got[2])
    assert.same({ event = "e2", raw = "2000" }, got[2001])
    assert.equal("a\n" .. big, got[2002].raw)
    assert.equal("last", got[2003].raw)
    assert.same(with_next(chunks), got)
  end)

  it("raises on misuse", function()
    local p = core.sse_parser()
    assert.has_error(function() p:next_events(nil) end)
    assert.has_error(function() p:next_events({}, 42) end)
    assert.has_error(function() p:next_events({}, nil, 0) end)
    p:close()
    assert.has_error(function() p:next_events({}) end, "attempt to use a closed SSEParser")
  end)
end)

describe("Request:read_into", function()
  local session
  before_each(function() session = core.session() end)
  after_each(function() session:close() end)

  local function chat_request(extra)
    local headers = { "Authorization: Bearer pat_test", "Content-Type: application/json",
      "X-Emu-Deltas: 300", 'X-Emu-Reply: "hi "' }
    for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
    local r = session:request { method = "POST", url = emu.url .. "/v3/chat", headers = headers,
      body = '{"bot_id":"b","user_id":"u","stream":true}' }
    assert.equal(200, r:wait_headers(5000))
    return r
  end

  it("feeds the whole body to the parser and returns nil at the end", function()
    local r, p = chat_request(), core.sse_parser()
    local deltas, last = 0, nil
    while true do
      local ok, msg = r:read_into(p, 5000)
      assert.is_nil(msg)
      if ok == nil then break end
      if ok then
        while true do
          local raw, name = p:next()
          if not raw then break end
          if name == "conversation.message.delta" then deltas = deltas + 1 end
          last = name
        end
      end
    end
    assert.equal(300, deltas)
    assert.equal("done", last)
    r:close()
  end)

  it("returns false when nothing arrives within the wait", function()
    local r = session:request { method = "GET", url = emu.url .. "/__low/stall?after=1&ms=500" }
    assert.truthy(r:wait_headers(5000))
    local p = core.sse_parser()
    local got_false = false
    for _ = 1, 50 do
      local ok = r:read_into(p, 0)
      if ok == false then got_false = true break end
    end
    assert.is_true(got_false)
    r:close()
  end)

  it("returns a transport failure as nil, msg, kind like read", function()
    local r, p = chat_request { "X-Emu-Fault: reset;after=3" }, core.sse_parser()
    local ok, msg, kind
    repeat ok, msg, kind = r:read_into(p, 5000) until ok ~= true
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.equal("transport", kind)
    r:close()
  end)

  it("raises for a closed or finished parser before reading", function()
    local r = chat_request()
    local p = core.sse_parser()
    p:finish()
    assert.has_error(function() r:read_into(p, 0) end, "SSEParser: feed after finish")
    p = core.sse_parser()
    p:close()
    assert.has_error(function() r:read_into(p, 0) end, "attempt to use a closed SSEParser")
    assert.has_error(function() r:read_into("x", 0) end)
    r:close()
  end)
end)

describe("coze.stream fast path", function()
  it("delivers the same events through read_into and through read + feed", function()
    local chunks = random_splits(CHAT, 7)
    local h1, h2 = fake_handle(chunks, false), fake_handle(chunks, true)
    local a, aerr = names_of(stream_mod.new(h1, { profile = "chat" }))
    local b, berr = names_of(stream_mod.new(h2, { profile = "chat" }))
    assert.is_nil(aerr)
    assert.is_nil(berr)
    assert.same(a, b)
    assert.equal(5, #a)
    assert.is_true(h2.into_calls > 0)
    assert.is_true(h1:closed() and h2:closed())
  end)

  it("returns nil after the terminal event even with events queued behind it", function()
    local s = stream_mod.new(fake_handle({ CHAT .. "event: x\ndata: 1\n\n" }), { profile = "chat" })
    local names = names_of(s)
    assert.equal("done", names[#names])
    assert.is_true(s.completed)
    assert.is_nil(s:next())
  end)

  it("calls a watch table set after new() for every event", function()
    local s = stream_mod.new(fake_handle({ CHAT }, true), { profile = "chat" })
    local seen = {}
    s.watch = setmetatable({}, { __index = function(_, name)
      return function(_, ev) seen[#seen + 1] = name .. "=" .. ev.event end
    end })
    local n = 0
    for _ in s:events() do n = n + 1 end
    assert.equal(5, n)
    assert.equal(5, #seen)
    assert.equal("done=done", seen[5])
  end)

  it("calls a watch given to new()", function()
    local created
    local s = stream_mod.new(fake_handle({ CHAT }, true), { profile = "chat",
      watch = { ["conversation.chat.created"] = function(_, ev) created = ev.data.id end } })
    local names = names_of(s)
    assert.equal(5, #names)
    assert.equal("c1", created)
  end)

  it("uses a next() set on the stream in the for-loop form", function()
    local s = stream_mod.new(fake_handle({ CHAT }, true), { profile = "chat" })
    local base, calls = getmetatable(s).next, 0
    s.next = function(self) calls = calls + 1 return base(self) end
    local n = 0
    for _ in s:events() do n = n + 1 end
    assert.equal(5, n)
    assert.equal(6, calls)
  end)

  it("ends with an error when the body is cut inside the last event's JSON", function()
    local s = stream_mod.new(fake_handle({ "event: conversation.message.delta\ndata: {\"content\":\"a\"}\n\n",
      "event: conversation.message.delta\ndata: {\"cont" }, true), { profile = "chat" })
    local ev = s:next()
    assert.equal("a", ev.data.content)
    local none, err = s:next()
    assert.is_nil(none)
    assert.equal("stream", err.kind)
    assert.matches("truncated inside a 'conversation.message.delta' event", err.msg, 1, true)
  end)

  it("delivers the events parsed before an oversized one, then the error", function()
    local s = stream_mod.new(fake_handle({ "data: 1\n\ndata: 2\n\ndata: " .. string.rep("x", 100) .. "\n\n" }, true),
      { profile = "chat", max_event_bytes = 50 })
    assert.equal("1", s:next().raw)
    assert.equal("2", s:next().raw)
    local none, err = s:next()
    assert.is_nil(none)
    assert.equal("stream", err.kind)
    assert.equal("event exceeds 50 bytes", err.msg)
  end)

  it("decodes data on first access only and keeps raw as received", function()
    local s = stream_mod.new(fake_handle({ CHAT }, true), { profile = "chat" })
    s:next()
    local ev = s:next()
    assert.is_nil(rawget(ev, "data"))
    assert.equal('{"content":"he"}', ev.raw)
    local d = ev.data
    assert.equal("he", d.content)
    assert.equal(d, rawget(ev, "data"))
    assert.is_nil(ev.other)
    s:close()
  end)

  it("gives a non-JSON data text back as data", function()
    local s = stream_mod.new(fake_handle({ "data: plain text\n\nevent: done\ndata: x\n\n" }, true), { profile = "chat" })
    assert.equal("plain text", s:next().data)
  end)
end)

describe("coze.stream over the curl transport", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("has the optional read_into on curl handles", function()
    local t = require("coze.transport.curl").new()
    local h = t:request { method = "GET", url = emu.url .. "/__emu/ping" }
    assert.is_function(h.read_into)
    h:close()
    t:close()
  end)

  it("streams 20,000 deltas in order, the short completed event with X-Emu-Completed", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u",
      headers = { ["X-Emu-Deltas"] = "20000", ["X-Emu-Reply"] = '"hi "', ["X-Emu-Completed"] = "short" } })
    local deltas, bytes, completed = 0, 0, nil
    for ev in stream:events() do
      if ev.event == "conversation.message.delta" then
        deltas = deltas + 1
        bytes = bytes + #ev.data.content
      elseif ev.event == "conversation.message.completed" and ev.data.type == "answer" then
        completed = ev.data.content
      end
    end
    assert.equal(20000, deltas)
    assert.equal(20000 * 3, bytes)
    assert.equal("hi ", completed)
    assert.is_true(stream.completed)
  end)

  it("carries the whole answer in the completed event without X-Emu-Completed", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u",
      headers = { ["X-Emu-Deltas"] = "10", ["X-Emu-Reply"] = '"hi "' } })
    local completed
    for ev in stream:events() do
      if ev.event == "conversation.message.completed" and ev.data.type == "answer" then completed = ev.data.content end
    end
    assert.equal(string.rep("hi ", 10), completed)
  end)
end)
