-- Streams one chat of N delta events through the Lua SDK.
--   lua stream.lua relay|relay-raw|decoded URL N
-- relay:     the loop reads only ev.event and ev.raw (no JSON decoding)
-- relay-raw: the same through stream:raw_events() (name, raw: no event table)
-- decoded:   the loop reads ev.data.content of every delta (JSON decoded per event)
-- Prints "events=<n> deltas=<d> bytes=<b>" on stdout so run.sh can check the run was complete.
local mode, base_url, n = arg[1], arg[2], tonumber(arg[3])
local coze = require "coze"
local client = coze.new { token = "pat_bench", base_url = base_url }
local stream = assert(client.chat:stream { bot_id = "bench_bot", user_id = "bench_user",
  headers = { ["X-Emu-Deltas"] = tostring(n), ["X-Emu-Reply"] = '"hello "', ["X-Emu-Completed"] = "short" } })

local events, deltas, bytes = 0, 0, 0
if mode == "relay" then
  for ev in stream:events() do
    events = events + 1
    if ev.event == "conversation.message.delta" then deltas = deltas + 1 end
    bytes = bytes + #ev.raw
  end
elseif mode == "relay-raw" then
  for name, raw in stream:raw_events() do
    events = events + 1
    if name == "conversation.message.delta" then deltas = deltas + 1 end
    bytes = bytes + #raw
  end
elseif mode == "decoded" then
  for ev in stream:events() do
    events = events + 1
    if ev.event == "conversation.message.delta" then
      deltas = deltas + 1
      bytes = bytes + #ev.data.content
    end
  end
else
  error("mode must be relay, relay-raw or decoded")
end
client:close()
io.write(string.format("events=%d deltas=%d bytes=%d\n", events, deltas, bytes))
if deltas ~= n then os.exit(1) end
