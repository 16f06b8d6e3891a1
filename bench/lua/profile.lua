-- Where the Lua SDK's streaming CPU goes: the same SSE bytes (a captured emulator stream) pushed
-- through growing slices of the SDK's path, in memory (no network), timed with os.clock().
--   lua profile.lua FILE [CHUNK_BYTES]
-- Stages (each includes the previous one's work):
--   feed+next   core.sse_parser: feed(chunk) + next() until empty (C parser + 4 Lua values/event)
--   +event tbl  + setmetatable({event=, raw=, id=}, Event) per event (what stream:next allocates)
--   next()      the real coze.stream Stream over a fake in-memory handle, walked with stream:next()
--               (relay loop: ev.event, ev.raw; events queued in batches of 64)
--   events()    the same loop as for ev in stream:events() (on Lua 5.4 a C iterator, no queue)
--   raw_events() the same through stream:raw_events() (name, raw: no event table)
--   walk        core.sse_parser: feed(chunk) + walk(stop names) until empty (the batch walk alone)
--   raw_chunks() the Stream walked with stream:raw_chunks() (whole events as received, no per-event value)
--   decoded     the events() loop reading ev.data.content (lazy JSON decode via Event.__index)
--   json only   coze.json.decode of every event's raw text, nothing else
-- Prints one "stage seconds ns_per_event" line per stage.
local file, chunk_bytes = arg[1], tonumber(arg[2] or 65536)
local core = require "coze.core"
local stream_mod = require "coze.stream"
local json = require "coze.json"

local f = assert(io.open(file, "rb"))
local chunks = {}
while true do
  local c = f:read(chunk_bytes)
  if not c then break end
  chunks[#chunks + 1] = c
end
f:close()

local clock = os.clock
local function stage(name, fn)
  collectgarbage("collect")
  local t0 = clock()
  local n = fn()
  local dt = clock() - t0
  io.write(string.format("%-13s %.3f s %7.1f ns/event (%d events)\n", name, dt, dt / n * 1e9, n))
end

stage("feed+next", function()
  local p, n = core.sse_parser(), 0
  for i = 1, #chunks do
    p:feed(chunks[i])
    while p:next() do n = n + 1 end
  end
  return n
end)

local Event = stream_mod.Event
stage("+event tbl", function()
  local p, n = core.sse_parser(), 0
  local setmt = setmetatable
  for i = 1, #chunks do
    p:feed(chunks[i])
    while true do
      local raw, name, id = p:next()
      if not raw then break end
      local ev = setmt({ event = name or "message", raw = raw, id = id }, Event)
      n = n + 1
    end
  end
  return n
end)

local function fake_handle()
  local i = 0
  return {
    read = function() i = i + 1; return chunks[i] end,
    close = function() end,
  }
end

stage("next()", function()
  local s, n = stream_mod.new(fake_handle(), { profile = "chat" }), 0
  local bytes = 0
  while true do
    local ev = s:next()
    if not ev then break end
    n = n + 1
    if ev.event == "conversation.message.delta" then bytes = bytes + #ev.raw end
  end
  return n
end)

stage("events()", function()
  local s, n = stream_mod.new(fake_handle(), { profile = "chat" }), 0
  local bytes = 0
  for ev in s:events() do
    n = n + 1
    if ev.event == "conversation.message.delta" then bytes = bytes + #ev.raw end
  end
  return n
end)

stage("raw_events()", function()
  local s, n = stream_mod.new(fake_handle(), { profile = "chat" }), 0
  local bytes = 0
  for name, raw in s:raw_events() do
    n = n + 1
    if name == "conversation.message.delta" then bytes = bytes + #raw end
  end
  return n
end)

stage("walk", function()
  local p, n = core.sse_parser(), 0
  local names = stream_mod.PROFILES.chat.stop_names
  for i = 1, #chunks do
    p:feed(chunks[i])
    while true do
      local chunk, k, name = p:walk(names)
      n = n + k + (name and 1 or 0)
      if chunk == "" and not name then break end
    end
  end
  return n
end)

stage("raw_chunks()", function()
  local s, n = stream_mod.new(fake_handle(), { profile = "chat" }), 0
  local bytes = 0
  for chunk, k in s:raw_chunks() do
    n = n + k
    bytes = bytes + #chunk
  end
  return n
end)

stage("decoded", function()
  local s, n = stream_mod.new(fake_handle(), { profile = "chat" }), 0
  local bytes = 0
  for ev in s:events() do
    n = n + 1
    if ev.event == "conversation.message.delta" then bytes = bytes + #ev.data.content end
  end
  return n
end)

do
  local raws, p = {}, core.sse_parser()
  for i = 1, #chunks do
    p:feed(chunks[i])
    while true do
      local raw = p:next()
      if not raw then break end
      raws[#raws + 1] = raw
    end
  end
  stage("json only", function()
    local decode = json.decode
    for i = 1, #raws do local v = decode(raws[i]) end
    return #raws
  end)
end
