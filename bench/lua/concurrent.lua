-- S streams of N deltas each in one Lua state, each in its own coroutine with
-- wait_ms = 0, on_wait = coroutine.yield on every call, driven round-robin by a frame loop that
-- sleeps 1 ms after a round in which no stream received an event (like a game loop would idle).
-- S = 1 is the single-stream baseline (same code path, same options).
--   lua concurrent.lua URL S N [spin]
-- "spin" never sleeps (pure busy polling). Prints "streams=<S> done=<k> events=<e> rounds=<r> idle_rounds=<i>".
local base_url, S, N, spin = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4] == "spin"
local core = require "coze.core"
local coze = require "coze"
local client = coze.new { token = "pat_bench", base_url = base_url }
local yield = coroutine.yield
local total, done = 0, 0

local function worker()
  local stream = assert(client.chat:stream { bot_id = "bench_bot", user_id = "bench_user",
    wait_ms = 0, on_wait = yield,
    headers = { ["X-Emu-Deltas"] = tostring(N), ["X-Emu-Reply"] = '"hello "', ["X-Emu-Completed"] = "short" } })
  local deltas = 0
  for ev in stream:events() do
    total = total + 1
    if ev.event == "conversation.message.delta" then deltas = deltas + 1 end
  end
  if deltas == N then done = done + 1 end
end

local cos = {}
for i = 1, S do cos[i] = coroutine.create(worker) end
local live, rounds, idle = S, 0, 0
while live > 0 do
  local before = total
  live = 0
  rounds = rounds + 1
  for i = 1, S do
    local co = cos[i]
    if coroutine.status(co) ~= "dead" then
      local ok, err = coroutine.resume(co)
      if not ok then error(err, 0) end
      if coroutine.status(co) ~= "dead" then live = live + 1 end
    end
  end
  if total == before and live > 0 then
    idle = idle + 1
    if not spin then core.sleep_ms(1) end
  end
end
client:close()
io.write(string.format("streams=%d done=%d events=%d rounds=%d idle_rounds=%d\n", S, done, total, rounds, idle))
if done ~= S then os.exit(1) end
