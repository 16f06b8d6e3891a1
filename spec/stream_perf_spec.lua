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
-- Every fixture, whole and in random splits, gives through collect(chunks, max, batch) the events
-- next() gives.
local function matches_next_on_every_fixture(collect)
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
      assert.same(expected, collect(chunks, nil, 64), file)
      assert.same(expected, collect(chunks, nil, 1), file)
      assert.same(with_next(chunks, 64), collect(chunks, 64, 3), file)
    end
  end
end

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
    matches_next_on_every_fixture(with_batches)
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

  it("keeps its fast paths when fields are set after new() (no __newindex)", function()
    local s = stream_mod.new(fake_handle({ CHAT }, true), { profile = "chat" })
    assert.is_nil(getmetatable(s).__newindex)
    local called = false
    s.watch = { ["conversation.message.delta"] = function() called = true end }
    s.anything = 1
    assert.truthy(s._hot)
    assert.equal(5, #names_of(s))
    assert.is_false(called)
  end)

  it("calls the watch of a derived profile, and only watched names leave the fast path", function()
    local created
    local profile = stream_mod.profile("chat", {
      watch = { ["conversation.chat.created"] = function(_, ev) created = ev.data.id end } })
    local s = stream_mod.new(fake_handle({ CHAT }, true), { profile = profile })
    assert.same({ done = true, error = true, ["conversation.chat.failed"] = true,
      ["conversation.chat.created"] = true }, s._hot)
    assert.is_nil(stream_mod.PROFILES.chat.watch["conversation.chat.created"])
    local names = names_of(s)
    assert.equal(5, #names)
    assert.equal("c1", created)
    assert.equal("done", s.last_event)
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

-- The same through p:next_raw(q, batch): name, raw, id triples, no table per event.
local function with_raw(chunks, max, batch)
  local p, q, out = core.sse_parser(max), {}, {}
  local function drain()
    while true do
      local n, partial = p:next_raw(q, batch)
      if n == nil then
        out[#out + 1] = { error = partial }
        return partial
      end
      if n == 0 then return nil end
      for i = 1, n do
        local k = 3 * i - 2
        assert.is_string(q[k])
        out[#out + 1] = { event = q[k], raw = q[k + 1], id = q[k + 2], partial = (partial and i == n) or nil }
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

describe("SSEParser:next_raw", function()
  it("stores name, data and id triples, the default name and a nil id", function()
    local p, q = core.sse_parser(), {}
    p:feed("event: a\ndata: 1\n\ndata: 2\nid: 7\n\n")
    local n, partial = p:next_raw(q, 64)
    assert.equal(2, n)
    assert.is_false(partial)
    assert.same({ "a", "1", nil, "message", "2", "7" }, { q[1], q[2], q[3], q[4], q[5], q[6] })
    assert.equal(0, (p:next_raw(q)))
  end)

  it("stops at max, goes on with the next call and clears a longer earlier batch", function()
    local p, q = core.sse_parser(), {}
    p:feed(string.rep("data: e\n\n", 5))
    assert.equal(3, (p:next_raw(q, 3)))
    assert.equal(2, (p:next_raw(q, 3)))
    assert.equal("e", q[5])
    assert.is_nil(q[7])
    assert.is_nil(q[8])
    assert.equal(0, (p:next_raw(q, 3)))
  end)

  it("flags the last event of an unterminated line and hands out an oversized one's error", function()
    local p, q = core.sse_parser(), {}
    p:feed("data: whole\n\ndata: {\"a\":")
    assert.equal(1, (p:next_raw(q)))
    p:finish()
    local n, partial = p:next_raw(q)
    assert.equal(1, n)
    assert.is_true(partial)
    assert.equal("{\"a\":", q[2])
    p = core.sse_parser(16)
    p:feed("data: ok\n\ndata: " .. string.rep("x", 64) .. "\n\n")
    assert.equal(1, (p:next_raw(q)))
    local none, msg = p:next_raw(q)
    assert.is_nil(none)
    assert.equal("event exceeds 16 bytes", msg)
  end)

  it("gives the events next() gives for every fixture, whole and in random splits", function()
    matches_next_on_every_fixture(with_raw)
  end)

  it("keeps event names and data right across large events and buffer moves", function()
    local big = string.rep("z", 300000)
    local parts = {}
    for i = 1, 3000 do
      parts[#parts + 1] = "event: name" .. (i % 7) .. "\ndata: " .. i .. "\n\n"
      if i % 1000 == 0 then parts[#parts + 1] = "event: big\ndata: " .. big .. "\n\n" end
    end
    local s = table.concat(parts)
    for _, size in ipairs({ 1, 7, 4096, 65536 }) do
      local chunks = {}
      if size == 1 then -- one byte at a time over the first 2,000 bytes, then whole
        for i = 1, 2000 do chunks[#chunks + 1] = s:sub(i, i) end
        chunks[#chunks + 1] = s:sub(2001)
      else
        for i = 1, #s, size do chunks[#chunks + 1] = s:sub(i, i + size - 1) end
      end
      local got = with_raw(chunks, nil, 64)
      assert.equal(3003, #got)
      assert.same(with_next(chunks), got)
      assert.same(with_batches(chunks, nil, 64), got)
    end
  end)

  it("raises on misuse", function()
    local p = core.sse_parser()
    assert.has_error(function() p:next_raw(nil) end)
    assert.has_error(function() p:next_raw({}, 0) end)
    p:close()
    assert.has_error(function() p:next_raw({}) end, "attempt to use a closed SSEParser")
  end)
end)

describe("Request:read_into attaching its parser", function()
  local session
  before_each(function() session = core.session() end)
  after_each(function() session:close() end)

  local function chat_request(n, extra, s)
    local headers = { "Authorization: Bearer pat_test", "Content-Type: application/json",
      "X-Emu-Deltas: " .. (n or 300), 'X-Emu-Reply: "hi "' }
    for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
    local r = (s or session):request { method = "POST", url = emu.url .. "/v3/chat", headers = headers,
      body = '{"bot_id":"b","user_id":"u","stream":true}', max_buffer = extra and extra.max_buffer }
    assert.equal(200, r:wait_headers(5000))
    return r
  end

  -- Reads r into parser p to the end: delta count, last name, peak buffered().
  local function pump_all(r, p)
    local deltas, last, peak = 0, nil, 0
    while true do
      if p:buffered() > peak then peak = p:buffered() end
      while true do
        local raw, name = p:next()
        if not raw then break end
        if name == "conversation.message.delta" then deltas = deltas + 1 end
        last = name
      end
      local ok, msg = r:read_into(p, 5000)
      assert.is_nil(msg)
      if ok == nil then break end
    end
    return deltas, last, peak
  end

  it("feeds the whole body to the attached parser and returns nil at the end", function()
    local r, p = chat_request(), core.sse_parser()
    local deltas, last = pump_all(r, p)
    assert.equal(300, deltas)
    assert.equal("done", last)
    assert.is_nil(r:read_into(p, 0))
    r:close()
  end)

  it("feeds the bytes that arrived before it was attached first", function()
    local r, p = chat_request(50), core.sse_parser()
    -- another request of the session drives the shared handle: r's body is buffered meanwhile
    local other = chat_request(2000)
    while other:read(5000) do end
    other:close()
    local deltas, last = pump_all(r, p)
    assert.equal(50, deltas)
    assert.equal("done", last)
    r:close()
  end)

  it("pauses the transfer while the parser holds max_buffer bytes not pumped", function()
    local headers = { max_buffer = 4096 }
    local r, p = chat_request(3000, headers), core.sse_parser()
    local deltas, last, peak = pump_all(r, p)
    assert.equal(3000, deltas)
    assert.equal("done", last)
    assert.is_true(peak < 4096 + 65536 + 1024, "peak " .. peak)
    r:close()
  end)

  it("keeps a parser it has no other reference to alive", function()
    local r = chat_request(100)
    local weak = setmetatable({ core.sse_parser() }, { __mode = "v" })
    assert.is_true(r:read_into(weak[1], 5000))
    collectgarbage()
    collectgarbage()
    assert.is_not_nil(weak[1])
    local other = chat_request(2000) -- drives the shared handle: curl feeds r's parser meanwhile
    while other:read(5000) do end
    other:close()
    r:close()
  end)

  it("is detached by read(), which goes on with the bytes not fed yet", function()
    local r, p = chat_request(2000), core.sse_parser()
    assert.is_true(r:read_into(p, 5000))
    local parts = {}
    while true do
      local chunk, msg = r:read(5000)
      assert.is_nil(msg)
      if chunk == nil then break end
      if chunk then parts[#parts + 1] = chunk end
    end
    p:feed(table.concat(parts))
    p:finish()
    local deltas, last = 0, nil
    while true do
      local raw, name = p:next()
      if not raw then break end
      if name == "conversation.message.delta" then deltas = deltas + 1 end
      last = name
    end
    assert.equal(2000, deltas)
    assert.equal("done", last)
    r:close()
  end)

  it("moves to another parser given to read_into", function()
    local r, p1, p2 = chat_request(2000), core.sse_parser(), core.sse_parser()
    assert.is_true(r:read_into(p1, 5000))
    local d2 = pump_all(r, p2)
    local d1 = 0
    p1:feed("\n") -- the record cut at the switch is not part of either count
    while true do
      local raw, name = p1:next()
      if not raw then break end
      if name == "conversation.message.delta" then d1 = d1 + 1 end
    end
    assert.is_true(d1 > 0)
    assert.is_true(d1 + d2 >= 1999 and d1 + d2 <= 2000)
    r:close()
  end)

  it("returns a transport failure as nil, msg, kind like read", function()
    local r, p = chat_request(300, { "X-Emu-Fault: reset;after=3" }), core.sse_parser()
    local ok, msg, kind
    repeat ok, msg, kind = r:read_into(p, 5000) until ok ~= true
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.equal("transport", kind)
    r:close()
  end)

  it("raises before driving curl with a closed or finished parser", function()
    local r = chat_request()
    local p = core.sse_parser()
    p:finish()
    assert.has_error(function() r:read_into(p, 0) end, "SSEParser: feed after finish")
    p = core.sse_parser()
    assert.is_true(r:read_into(p, 5000))
    p:close()
    assert.has_error(function() r:read_into(p, 0) end, "attempt to use a closed SSEParser")
    assert.has_error(function() r:read_into({}, 0) end)
    r:close()
    assert.has_error(function() r:read_into(core.sse_parser(), 0) end, "attempt to use a closed Request")
  end)

  it("drops what the session delivers for a request whose parser was closed", function()
    local r1, p = chat_request(5000), core.sse_parser()
    r1:read_into(p, 0)
    p:close()
    local r2 = chat_request(5000)
    local bytes = 0
    while true do
      local chunk = r2:read(5000)
      if chunk == nil then break end
      if chunk then bytes = bytes + #chunk end
    end
    assert.is_true(bytes > 5000 * 100)
    r1:close()
    r2:close()
  end)
end)

describe("coze.stream raw_events", function()
  local function raw_list(stream)
    local out = {}
    for name, raw, id in stream:raw_events() do out[#out + 1] = { name, raw, id } end
    return out
  end

  local function event_list(stream)
    local out = {}
    for ev in stream:events() do out[#out + 1] = { ev.event, ev.raw, ev.id } end
    return out
  end

  it("gives name, raw and id of every event, as events() does, over read_into and read", function()
    local s = CHAT:gsub("data: \"%[DONE%]\"", "id: 9\ndata: \"[DONE]\"")
    for seed = 1, 4 do
      local chunks = random_splits(s, seed)
      local expected = event_list(stream_mod.new(fake_handle(chunks, true), { profile = "chat" }))
      assert.equal(5, #expected)
      assert.equal("9", expected[5][3])
      local h1, h2 = fake_handle(chunks, true), fake_handle(chunks, false)
      local s1 = stream_mod.new(h1, { profile = "chat" })
      assert.same(expected, raw_list(s1))
      assert.same(expected, raw_list(stream_mod.new(h2, { profile = "chat" })))
      assert.is_true(s1.completed)
      assert.is_true(h1:closed() and h2:closed())
    end
  end)

  it("ends after the terminal event even with events queued behind it", function()
    local s = stream_mod.new(fake_handle({ CHAT .. "event: x\ndata: 1\n\n" }, true), { profile = "chat" })
    local got = raw_list(s)
    assert.equal("done", got[#got][1])
    assert.equal(5, #got)
    assert.is_nil(s:next())
  end)

  it("delivers an error event, then raises the error object", function()
    local s = stream_mod.new(fake_handle({ "event: conversation.chat.created\ndata: {}\n\n" ..
      "event: error\ndata: {\"code\":4013,\"msg\":\"boom\"}\n\nevent: x\ndata: 1\n\n" }, true),
      { profile = "chat", op = "chat.stream", logid = "L1" })
    local names = {}
    local ok, err = pcall(function()
      for name in s:raw_events() do names[#names + 1] = name end
    end)
    assert.is_false(ok)
    assert.same({ "conversation.chat.created", "error" }, names)
    assert.equal("api", err.kind)
    assert.equal(4013, err.code)
    assert.equal("boom", err.msg)
    assert.equal("L1", err.logid)
    assert.is_true(s.finished)
  end)

  it("raises the error object when the stream ends without its terminal event", function()
    local s = stream_mod.new(fake_handle({ "event: a\ndata: 1\n\n" }, true), { profile = "chat" })
    local n = 0
    local ok, err = pcall(function() for _ in s:raw_events() do n = n + 1 end end)
    assert.is_false(ok)
    assert.equal(1, n)
    assert.equal("stream", err.kind)
    assert.matches("without its terminal event", err.msg, 1, true)
  end)

  it("raises on a body cut inside the last event's JSON", function()
    local s = stream_mod.new(fake_handle({ "event: conversation.message.delta\ndata: {\"content\":\"a\"}\n\n",
      "event: conversation.message.delta\ndata: {\"cont" }, true), { profile = "chat" })
    local raws = {}
    local ok, err = pcall(function() for _, raw in s:raw_events() do raws[#raws + 1] = raw end end)
    assert.is_false(ok)
    assert.same({ "{\"content\":\"a\"}" }, raws)
    assert.matches("truncated inside a 'conversation.message.delta' event", err.msg, 1, true)
  end)

  it("hands out a complete last event without its blank line", function()
    local s = stream_mod.new(fake_handle({ "event: a\ndata: {}\n\nevent: done\ndata: \"[DONE]\"" }, true),
      { profile = "chat" })
    local got = raw_list(s)
    assert.same({ { "a", "{}" }, { "done", "\"[DONE]\"" } }, got)
    assert.is_true(s.completed)
  end)

  it("raises the parser's error for an oversized event after the events before it", function()
    local s = stream_mod.new(fake_handle({ "data: 1\n\ndata: " .. string.rep("x", 100) .. "\n\n" }, true),
      { profile = "chat", max_event_bytes = 50 })
    local raws = {}
    local ok, err = pcall(function() for _, raw in s:raw_events() do raws[#raws + 1] = raw end end)
    assert.is_false(ok)
    assert.same({ "1" }, raws)
    assert.equal("event exceeds 50 bytes", err.msg)
  end)

  it("does not hand out the completions [DONE] marker", function()
    local s = stream_mod.new(fake_handle({ "data: {\"a\":1}\n\ndata: [DONE]\n\n" }, true), { profile = "completions" })
    assert.same({ { "message", "{\"a\":1}" } }, raw_list(s))
    assert.is_true(s.completed)
  end)

  it("calls the watch functions with event tables", function()
    local seen = {}
    local s = stream_mod.new(fake_handle({ CHAT }, true), { profile = stream_mod.profile("chat",
      { watch = { ["conversation.message.delta"] = function(_, ev) seen[#seen + 1] = ev.data.content end } }) })
    assert.equal(5, #raw_list(s))
    assert.same({ "he", "llo" }, seen)
  end)

  it("shares one position with next() and events() when mixed", function()
    local parts = {}
    for i = 1, 300 do parts[#parts + 1] = "event: e\ndata: " .. i .. "\n\n" end
    parts[#parts + 1] = "event: done\ndata: end\n\n"
    local s = stream_mod.new(fake_handle({ table.concat(parts) }, true), { profile = "chat" })
    local got = { s:next().raw }
    local raw_iter, events_iter = s:raw_events(), s:events() -- no closing value: break keeps it open
    for _, raw in raw_iter, s do
      got[#got + 1] = raw
      if #got == 10 or #got == 150 then
        got[#got + 1] = s:next().raw
        for ev in events_iter, s do
          got[#got + 1] = ev.raw
          if #got % 7 == 0 then break end
        end
      end
      if #got >= 200 then break end
    end
    while true do
      local ev = s:next()
      if not ev then break end
      got[#got + 1] = ev.raw
    end
    assert.equal(301, #got)
    for i = 1, 300 do assert.equal(tostring(i), got[i]) end
    assert.equal("end", got[301])
  end)

  it("returns the stream as the closing value, and a 5.4 break closes it", function()
    local h = fake_handle({ CHAT }, true)
    local s = stream_mod.new(h, { profile = "chat" })
    assert.equal(s, select(4, s:raw_events()))
    if _VERSION ~= "Lua 5.4" or type(jit) == "table" then return end
    local run = assert(load("local s = ... for name in s:raw_events() do break end"))
    run(s)
    assert.is_true(s.finished)
    assert.is_true(h:closed())
  end)
end)

describe("coze.stream raw_events over the curl transport", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("relays 20,000 deltas in order with the raw text events() gives", function()
    local headers = { ["X-Emu-Deltas"] = "20000", ["X-Emu-Reply"] = '"hi "', ["X-Emu-Completed"] = "short" }
    local a = assert(client.chat:stream { bot_id = "b", user_id = "u", headers = headers })
    local b = assert(client.chat:stream { bot_id = "b", user_id = "u", headers = headers })
    local deltas, bytes, names = 0, 0, {}
    for name, raw in a:raw_events() do
      if name == "conversation.message.delta" then
        deltas = deltas + 1
        bytes = bytes + #raw
      end
      names[#names + 1] = name
    end
    local ebytes, enames = 0, {}
    for ev in b:events() do
      if ev.event == "conversation.message.delta" then ebytes = ebytes + #ev.raw end
      enames[#enames + 1] = ev.event
    end
    assert.equal(20000, deltas)
    assert.equal(ebytes, bytes)
    assert.same(enames, names)
    assert.equal("done", names[#names])
    assert.is_true(a.completed)
  end)

  it("raises the error object of an error event", function()
    local s = assert(client.chat:stream { bot_id = "b", user_id = "u",
      headers = { ["X-Emu-Fault"] = "error_event;after=2;code=4013;msg=boom" } })
    local last
    local ok, err = pcall(function() for name in s:raw_events() do last = name end end)
    assert.is_false(ok)
    assert.equal("error", last)
    assert.equal(4013, err.code)
    assert.equal(s.logid, err.logid)
  end)

  it("raises on a connection reset", function()
    local s = assert(client.chat:stream { bot_id = "b", user_id = "u",
      headers = { ["X-Emu-Fault"] = "reset;after=3" } })
    local ok, err = pcall(function() for _ in s:raw_events() do end end)
    assert.is_false(ok)
    assert.equal("transport", err.kind)
  end)
end)
