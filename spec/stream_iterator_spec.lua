-- The for-loop forms on Lua 5.4: stream:events() and stream:raw_events() iterate with C functions
-- (SSEParser:iterator) that parse each event themselves and come back to Lua for reads, terminal and
-- error events and events next() queued. LuaJIT keeps its Lua iterators; these specs run on both.
local core = require "coze.core"
local json = require "cjson"
local stream_mod = require "coze.stream"
local emu = require "helpers.emu"

local C_ITERATORS = core.sse_iterators and type(jit) ~= "table"

-- A transport handle over chunks, read_into feeding one per call (gaps: on_wait runs between them)
local drip_handle = require("helpers.sse_cases").handle

local function bytes_of(s)
  local out = {}
  for i = 1, #s do out[i] = s:sub(i, i) end
  return out
end

local BIG = string.rep("x", 20000)
local BODY = table.concat {
  "event: conversation.chat.created\ndata: {\"id\":\"c1\"}\n\n",
  "event: conversation.message.delta\ndata: {\"content\":\"" .. BIG .. "\"}\n\n",
  "event: conversation.message.delta\ndata: {\"content\":\"!\"}\n\n",
  "event: done\ndata: \"[DONE]\"\n\n",
}

local function via_events(s)
  local out = {}
  for ev in s:events() do out[#out + 1] = { ev.event, ev.raw } end
  return out
end

local function via_raw(s)
  local out = {}
  for name, raw in s:raw_events() do out[#out + 1] = { name, raw } end
  return out
end

local EXPECTED = {
  { "conversation.chat.created", '{"id":"c1"}' },
  { "conversation.message.delta", '{"content":"' .. BIG .. '"}' },
  { "conversation.message.delta", '{"content":"!"}' },
  { "done", '"[DONE]"' },
}

describe("stream iterators", function()
  it("are C functions on Lua 5.4 and Lua functions on LuaJIT", function()
    local s = stream_mod.new(drip_handle({ BODY }), { profile = "chat" })
    local want = C_ITERATORS and "C" or "Lua"
    assert.equal(want, debug.getinfo(s:events(), "S").what)
    assert.equal(want, debug.getinfo(s:raw_events(), "S").what)
    s:close()
  end)

  for _, case in ipairs { { "events", via_events }, { "raw_events", via_raw } } do
    local name, walk = case[1], case[2]

    it(name .. " hands out a 20 KB event that arrives one byte per read, blocking", function()
      local h = drip_handle(bytes_of(BODY))
      local s = stream_mod.new(h, { profile = "chat" })
      assert.same(EXPECTED, walk(s))
      assert.is_true(s.completed)
      assert.equal(#BODY, h.reads)
    end)

    it(name .. " yields through on_wait between byte-sized reads and goes on where it stopped", function()
      local h = drip_handle(bytes_of(BODY), true)
      local s = stream_mod.new(h, { profile = "chat", wait_ms = 0, on_wait = coroutine.yield })
      local co = coroutine.create(walk)
      local yields, ok, got = 0, nil, nil
      while true do
        ok, got = coroutine.resume(co, s)
        assert(ok, got)
        if coroutine.status(co) == "dead" then break end
        yields = yields + 1
      end
      assert.same(EXPECTED, got)
      assert.is_true(yields >= #BODY)
      assert.is_true(s.completed)
    end)

    it(name .. " calls a profile's watch for the watched events only", function()
      local seen = {}
      local function note(_, ev) seen[#seen + 1] = ev.event end
      local profile = stream_mod.profile("chat", { watch = { ["conversation.message.delta"] = note, done = note } })
      local s = stream_mod.new(drip_handle({ BODY }), { profile = profile })
      local iter = name == "events" and s:events() or s:raw_events()
      local n = 0
      for _ in iter, s do n = n + 1 end
      assert.equal(4, n)
      assert.same({ "conversation.message.delta", "conversation.message.delta", "done" }, seen)
    end)

    it(name .. " ends quietly when the stream is closed inside the loop", function()
      local h = drip_handle({ BODY })
      local s = stream_mod.new(h, { profile = "chat" })
      local iter = name == "events" and s:events() or s:raw_events()
      local n = 0
      for _ in iter, s do
        n = n + 1
        s:close()
      end
      assert.equal(1, n)
      assert.is_true(h.closed)
    end)

    it(name .. " hands out what next() queued first, in order", function()
      local parts = {}
      for i = 1, 200 do parts[#parts + 1] = "event: e\ndata: " .. i .. "\n\n" end
      parts[#parts + 1] = "event: done\ndata: end\n\n"
      local s = stream_mod.new(drip_handle({ table.concat(parts) }), { profile = "chat" })
      local got = { s:next().raw, s:next().raw }
      for _, v in ipairs(walk(s)) do got[#got + 1] = v[2] end
      assert.equal(201, #got)
      for i = 1, 200 do assert.equal(tostring(i), got[i]) end
    end)
  end

  it("raise on misuse (Lua 5.4)", function()
    if not C_ITERATORS then return end
    local p = core.sse_parser()
    local f = function() end
    assert.has_error(function() p:iterator("nope", f, {}, {}) end)
    assert.has_error(function() p:iterator("raw", nil, {}) end)
    assert.has_error(function() p:iterator("raw", f, nil) end)
    assert.has_error(function() p:iterator("events", f, {}) end)
    p:close()
    assert.has_error(function() p:iterator("raw", f, {}) end, "attempt to use a closed SSEParser")
  end)
end)

describe("stream iterators over the curl transport", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("relay streams written one byte at a time from coroutines, with wait_ms = 0", function()
    local fns = {}
    for i = 1, 8 do
      fns[i] = function()
        local s = assert(client.chat:stream { bot_id = "b", user_id = "u", wait_ms = 0, on_wait = coroutine.yield,
          additional_messages = { { role = "user", content = "n" .. i, content_type = "text" } },
          headers = { ["X-Emu-Fault"] = "split" } })
        local text, last = {}, nil
        if i % 2 == 0 then
          for ev in s:events() do
            if ev.event == "conversation.message.delta" then text[#text + 1] = ev.data.content end
            last = ev.event
          end
        else
          for name, raw in s:raw_events() do
            if name == "conversation.message.delta" then text[#text + 1] = json.decode(raw).content end
            last = name
          end
        end
        return last .. ":" .. table.concat(text)
      end
    end
    local results = emu.run_all(fns)
    for i = 1, 8 do assert.equal("done:You said: n" .. i, results[i]) end
  end)
end)
