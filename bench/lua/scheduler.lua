-- coze.scheduler under load (bench/run.sh scenario 5).
--   lua scheduler.lua idle URL T FRAMES   T tasks each waiting on a silent stream (the emulator's
--        stall fault); once all wait, FRAMES frames of sched:step(2) 1 ms apart. Prints the step
--        time per frame: "tasks=<T> frames=<F> median_us=.. p99_us=.. max_us=.. resumes=<r>"
--        (resumes: of the idle tasks during the measured frames; the goal is none).
--   lua scheduler.lua stream URL S N      S tasks x N deltas driven by sched:run(): the same work as
--        concurrent.lua S N (the hand-written round-robin), for CPU per event.
--        Prints "streams=<S> done=<k> events=<e>".
local mode, base_url = arg[1], arg[2]
local core = require "coze.core"
local coze = require "coze"
local client = coze.new { token = "pat_bench", base_url = base_url }
local sched = coze.scheduler()
local clock = core.monotonic_ms

if mode == "idle" then
  local T, FRAMES = tonumber(arg[3]), tonumber(arg[4])
  local started = 0
  local tasks = {}
  for i = 1, T do
    tasks[i] = sched:spawn(function()
      local stream = assert(client.chat:stream { bot_id = "bench_bot", user_id = "bench_user",
        headers = { ["X-Emu-Fault"] = "stall;after=1;ms=120000" } })
      for _ in stream:events() do started = started + 1 end
    end)
  end
  local t_end = clock() + 30000
  while started < T do -- every stream open and past its first event: silent from now on
    sched:step()
    core.sleep_ms(1)
    assert(clock() < t_end, "streams did not start")
  end
  for _ = 1, 20 do sched:step(); core.sleep_ms(1) end
  local r0 = 0
  for i = 1, T do r0 = r0 + tasks[i].resumes end
  local times = {}
  for f = 1, FRAMES do
    local t0 = clock()
    sched:step(2)
    times[f] = (clock() - t0) * 1000
    core.sleep_ms(1)
  end
  local r1 = 0
  for i = 1, T do r1 = r1 + tasks[i].resumes end
  table.sort(times)
  local function pct(p) return times[math.max(1, math.ceil(#times * p))] end
  sched:close()
  client:close()
  io.write(string.format("tasks=%d frames=%d median_us=%.1f p99_us=%.1f max_us=%.1f resumes=%d\n",
    T, FRAMES, pct(0.5), pct(0.99), times[#times], r1 - r0))
elseif mode == "stream" then
  local S, N = tonumber(arg[3]), tonumber(arg[4])
  local total, done = 0, 0
  for _ = 1, S do
    sched:spawn(function()
      local stream = assert(client.chat:stream { bot_id = "bench_bot", user_id = "bench_user",
        headers = { ["X-Emu-Deltas"] = tostring(N), ["X-Emu-Reply"] = '"hello "', ["X-Emu-Completed"] = "short" } })
      local deltas = 0
      for ev in stream:events() do
        total = total + 1
        if ev.event == "conversation.message.delta" then deltas = deltas + 1 end
      end
      if deltas == N then done = done + 1 end
    end)
  end
  sched:run()
  client:close()
  io.write(string.format("streams=%d done=%d events=%d\n", S, done, total))
  if done ~= S then os.exit(1) end
else
  error("usage: scheduler.lua idle URL T FRAMES | stream URL S N")
end
