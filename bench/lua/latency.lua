-- Latency from the server writing an event (its send time is in the data) to stream:next()
-- returning it, measured with coze.core.time() (CLOCK_REALTIME, same clock as the server's).
--   lua latency.lua URL
-- Prints "n=<events> median_us=<..> p99_us=<..> max_us=<..>".
local base_url = arg[1]
local core = require "coze.core"
local coze = require "coze"
local json = require "cjson"
local now = core.time
local client = coze.new { token = "pat_bench", base_url = base_url }
local stream = assert(client.chat:stream { bot_id = "bench_bot", user_id = "bench_user" })
local raws, times, n = {}, {}, 0
while true do
  local ev, err = stream:next()
  local t = now()
  if not ev then assert(err == nil, tostring(err)); break end
  if ev.event == "conversation.message.delta" then
    n = n + 1
    raws[n], times[n] = ev.raw, t
  end
end
client:close()
local lat = {}
for i = 1, n do
  local d = json.decode(raws[i])
  lat[i] = ((times[i] - d.rt_s) - d.rt_ns * 1e-9) * 1e6
end
table.sort(lat)
local function pct(p) return lat[math.max(1, math.ceil(p * n))] end
io.write(string.format("n=%d median_us=%.1f p99_us=%.1f max_us=%.1f\n", n, pct(0.5), pct(0.99), lat[n]))
