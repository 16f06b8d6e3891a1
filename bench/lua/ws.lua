-- WebSocket bench client (bench/ws.sh).
--   lua ws.lua URL session N   N appends of 20 ms of 16 kHz mono 16-bit PCM to /v1/chat while the
--                              emulator answers each with one conversation.audio.delta (ev.audio read)
--   lua ws.lua URL file N PCM  the same N chunks as ws:send_audio_file(PCM, { realtime = false }) (a
--                              10-minute recording sent as fast as it goes: the chunks share writes)
--   lua ws.lua URL empty       connect, the created event, close (the baseline subtracted)
--   lua ws.lua URL latency N   N events stamped by the server; prints the median and p99 of
--                              (ws:next() returned - written), CLOCK_REALTIME on both sides
-- The sender and the receiver are coroutines of one loop (wait_ms = 1, on_wait = coroutine.yield).
local coze = require "coze"
local core = require "coze.core"

local url, mode, n = arg[1], arg[2], tonumber(arg[3] or 0)
local client = coze.new { token = "pat_bench", base_url = url, wait_ms = 1, on_wait = coroutine.yield }

-- 256 different chunks of 640 bytes (20 ms) of noise, taken in turn: audio is not one chunk repeated
-- (a repeated chunk makes every echoed delta the same text but for its id, which LuaJIT's string
-- hash, sampling a few bytes of long strings, puts in one bucket). Made in every mode, so the
-- baseline subtracts it.
local CHUNKS = {}
local unpack = table.unpack or unpack
do
  local seed = 12345
  local bytes = {}
  for i = 1, 256 do
    for j = 1, 640 do
      seed = (seed * 1103515245 + 12345) % 2147483648
      bytes[j] = seed % 256
    end
    CHUNKS[i] = string.char(unpack(bytes))
  end
end

local function run(fns)
  local threads = {}
  for i, fn in ipairs(fns) do threads[i] = coroutine.create(fn) end
  local live = #threads
  while live > 0 do
    live = 0
    for _, co in ipairs(threads) do
      if coroutine.status(co) == "suspended" then
        local ok, e = coroutine.resume(co)
        if not ok then error(e, 0) end
      end
      if coroutine.status(co) ~= "dead" then live = live + 1 end
    end
  end
end

if mode == "empty" then
  run { function()
    local ws = assert(client.websockets.chat:connect { bot_id = "bench" })
    assert(ws:next().event_type == "chat.created")
    ws:close()
  end }
  print("ok")
elseif mode == "session" or mode == "file" then
  local deltas, bytes = 0, 0
  local ws
  run { function()
    ws = assert(client.websockets.chat:connect { bot_id = "bench", emu_echo_deltas = 1 })
    assert(ws:next().event_type == "chat.created")
  end }
  run {
    mode == "file" and function() -- sender: yields (on_wait) only while the socket is full
      assert(ws:send_audio_file(arg[4], { realtime = false, chunk_ms = 20 }) == n * 640)
      assert(ws:complete())
    end or function() -- sender: a batch of appends, then the reader's turn
      for i = 1, n do
        assert(ws:append_audio(CHUNKS[i % 256 + 1]))
        if i % 32 == 0 then coroutine.yield() end
      end
      assert(ws:complete())
    end,
    function() -- reader: next() yields (on_wait) when nothing arrived within wait_ms
      while true do
        local ev = assert(ws:next())
        local t = ev.event_type
        if t == "conversation.audio.delta" then
          deltas = deltas + 1
          bytes = bytes + #ev.audio
        elseif t == "conversation.chat.completed" then
          return
        end
      end
    end,
  }
  run { function() ws:close() end }
  print(string.format("deltas=%d bytes=%d", deltas, bytes))
  if deltas < n then os.exit(1) end
elseif mode == "latency" then
  local samples = {}
  run { function()
    local ws = assert(client.websockets.chat:connect { bot_id = "bench", emu_fault = "latency", emu_n = n })
    assert(ws:next().event_type == "chat.created")
    for i = 1, n do
      local ev = assert(ws:next())
      samples[i] = (core.time() - ev.data.t) * 1000
    end
    ws:close()
  end }
  table.sort(samples)
  print(string.format("median_ms=%.3f p99_ms=%.3f n=%d", samples[math.ceil(#samples / 2)],
    samples[math.ceil(#samples * 0.99)], #samples))
end
