-- The Lua 5.4 floor of the relay path: what the interpreter charges for the objects each event is
-- handed out as, built the way the SDK builds them (C, a batch per call) and walked the way the relay
-- loop walks them, with coze loaded so the collector works on the same live heap.
--   lua floor.lua N LEN      (bench/run.sh: N events, LEN = the delta's raw bytes)
-- Prints "floor-tables ns" and "floor-strings ns": per event, tables { event, raw } + metatable, and
-- raw strings alone (raw_events()).
local floor = require "floor"
local coze = require "coze"
local client = coze.new { token = "pat_bench", base_url = "http://127.0.0.1:1" } -- never called
local Event = require("coze.stream").Event
local n, len = tonumber(arg[1]), tonumber(arg[2])
local BATCH = 64
local name = "conversation.message.delta"

local function run(tables)
  collectgarbage("collect")
  local q, bytes, t0 = {}, 0, os.clock()
  for _ = 1, n // BATCH do
    if tables then
      floor.fill(q, BATCH, name, len, Event)
      for i = 1, BATCH do
        local ev = q[i]
        if ev.event == name then bytes = bytes + #ev.raw end
      end
    else
      floor.fill(q, BATCH, nil, len)
      for i = 1, BATCH do bytes = bytes + #q[i] end
    end
  end
  return (os.clock() - t0) / (n // BATCH * BATCH) * 1e9, bytes
end

local tns = run(true)
local sns = run(false)
client:close()
io.write(string.format("floor-tables %.1f\nfloor-strings %.1f\n", tns, sns))
