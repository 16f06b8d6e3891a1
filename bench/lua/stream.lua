-- Streams one chat of N delta events (or one workflow run of N Message events) through the Lua SDK.
--   lua stream.lua relay|relay-raw|relay-chunks|decoded URL N [chat|workflow]
-- relay:     the loop reads only ev.event and ev.raw (no JSON decoding)
-- relay-raw: the same through stream:raw_events() (name, raw: no event table)
-- relay-chunks: stream:raw_chunks(): the bytes of whole events as received, a batch per chunk (what
--            coze.ngx.relay's fast path writes); chat only: counts events (6 are not deltas)
-- decoded:   the loop reads ev.data.content of every delta (JSON decoded per event)
-- Prints "events=<n> deltas=<d> bytes=<b>" on stdout so run.sh can check the run was complete.
-- workflow: the same scenario on a workflow stream (profile "workflow": its events are Message, the
-- run ends at Done), to compare CPU per event with chat streams.
local mode, base_url, n, kind = arg[1], arg[2], tonumber(arg[3]), arg[4] or "chat"
local coze = require "coze"
local client = coze.new { token = "pat_bench", base_url = base_url }
local headers = { ["X-Emu-Deltas"] = tostring(n), ["X-Emu-Reply"] = '"hello "', ["X-Emu-Completed"] = "short" }
local stream, DELTA
if kind == "workflow" then
  stream = assert(client.workflows.runs:stream { workflow_id = "bench_wf", headers = headers })
  DELTA = "Message"
else
  stream = assert(client.chat:stream { bot_id = "bench_bot", user_id = "bench_user", headers = headers })
  DELTA = "conversation.message.delta"
end

local events, deltas, bytes = 0, 0, 0
if mode == "relay" then
  for ev in stream:events() do
    events = events + 1
    if ev.event == DELTA then deltas = deltas + 1 end
    bytes = bytes + #ev.raw
  end
elseif mode == "relay-raw" then
  for name, raw in stream:raw_events() do
    events = events + 1
    if name == DELTA then deltas = deltas + 1 end
    bytes = bytes + #raw
  end
elseif mode == "relay-chunks" then
  for chunk, k in stream:raw_chunks() do
    events = events + k
    bytes = bytes + #chunk
  end
  deltas = events - 6 -- a chat: created, in_progress, 2 completed, chat.completed, done
elseif mode == "decoded" then
  for ev in stream:events() do
    events = events + 1
    if ev.event == DELTA then
      deltas = deltas + 1
      bytes = bytes + #ev.data.content
    end
  end
else
  error("mode must be relay, relay-raw, relay-chunks or decoded")
end
client:close()
io.write(string.format("events=%d deltas=%d bytes=%d\n", events, deltas, bytes))
-- a workflow run ends with one more Message (the End node's output) before Done
if deltas ~= n + (kind == "workflow" and 1 or 0) then os.exit(1) end
