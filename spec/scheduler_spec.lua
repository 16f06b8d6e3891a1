-- coze.scheduler over real sockets: tasks waiting by yielding, resumed only when they can make
-- progress, a frame budget, errors and cancellation kept in the task, run() for scripts.
local emu = require "helpers.emu"
local coze = require "coze"
local core = require "coze.core"

local clock = core.monotonic_ms

-- Time limits stretch under the sanitizers (make sanitize) and valgrind (make valgrind).
local SLOW = require("helpers.mem").slow_factor()

local function chat_stream(client, text, headers)
  local h = { ["X-Emu-Reply"] = '"' .. text .. '"' }
  for k, v in pairs(headers or {}) do h[k] = v end
  return client.chat:stream { bot_id = "bot_1", user_id = "u1",
    additional_messages = { coze.message.user_text("hi") }, headers = h }
end

-- The deltas of a stream joined, and the completed answer: the reply whole and in order.
local function read_reply(stream)
  local parts, completed = {}, nil
  for ev in stream:events() do
    if ev.event == "conversation.message.delta" then
      parts[#parts + 1] = ev.data.content
    elseif ev.event == "conversation.message.completed" and ev.data.type == "answer" then
      completed = ev.data.content
    end
  end
  return table.concat(parts), completed
end

-- Streams a chat of n "ab" deltas through client and returns how many deltas arrived.
local function count_deltas(client, n)
  local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1",
    headers = { ["X-Emu-Deltas"] = tostring(n), ["X-Emu-Reply"] = '"ab"', ["X-Emu-Completed"] = "short" } })
  local got = 0
  for ev in stream:events() do
    if ev.event == "conversation.message.delta" then got = got + 1 end
  end
  return got
end

-- Steps like a frame loop (sleep ms between steps) until every task finished or limit_ms passed.
-- Returns the step count, the longest step in ms and the time of all steps together.
local function frames(sched, budget, sleep_ms, limit_ms)
  local t_end = clock() + (limit_ms or 10000)
  local steps, max, total = 0, 0, 0
  while true do
    local t0 = clock()
    local alive = sched:step(budget)
    local dt = clock() - t0
    if dt > max then max = dt end
    total = total + dt
    steps = steps + 1
    if alive == 0 then break end
    assert(clock() < t_end, "tasks still alive after " .. (limit_ms or 10000) .. " ms")
    core.sleep_ms(sleep_ms or 1)
  end
  return steps, max, total
end

describe("coze.scheduler", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("streams 20 chats at once in tasks, every reply whole and in order", function()
    local sched = coze.scheduler()
    local tasks, want = {}, {}
    for i = 1, 20 do
      want[i] = "任务 " .. i .. " says hello to the player"
      tasks[i] = sched:spawn(function(text)
        local stream = assert(chat_stream(client, text, { ["X-Emu-Drip-Ms"] = "3" }))
        return read_reply(stream)
      end, want[i])
    end
    frames(sched, 2)
    for i = 1, 20 do
      assert.equal("done", tasks[i]:status())
      local joined, completed = tasks[i]:result()
      assert.equal(want[i], joined)
      assert.equal(want[i], completed)
    end
  end)

  it("finishes streams whose bytes wait in TLS or a paused transfer, not on the socket", function()
    -- a 512-byte buffer pauses the transfers all the time: curl then holds received bytes that no
    -- poll of the socket will announce
    local c = coze.new { token = "t", base_url = emu.tls_url, tls_verify = false, max_buffer = 512 }
    local sched = coze.scheduler()
    local tasks = {}
    for i = 1, 5 do
      tasks[i] = sched:spawn(function()
        return count_deltas(c, 3000)
      end)
    end
    frames(sched, 2, 1, 20000)
    for i = 1, 5 do assert.equal(3000, (tasks[i]:result())) end
    c:close()
  end)

  it("does not resume tasks waiting on silent streams", function()
    local sched = coze.scheduler()
    local tasks, got = {}, {}
    for i = 1, 5 do
      tasks[i] = sched:spawn(function()
        local stream = assert(chat_stream(client, "x", { ["X-Emu-Fault"] = "stall;after=2;ms=4000" }))
        for ev in stream:events() do got[#got + 1] = ev.event end
      end)
    end
    -- until all five have their first two events: the streams are open and silent from then on
    local t_end = clock() + 5000
    while #got < 10 do
      sched:step()
      core.sleep_ms(1)
      assert(clock() < t_end, "streams did not start")
    end
    core.sleep_ms(20)
    sched:step()
    local before = 0
    for i = 1, 5 do before = before + tasks[i].resumes end
    -- resumes prove the tasks were left alone; the time bound only catches gross per-step work, so
    -- the collector (a pause over the suite's whole heap lands in whichever step allocates) is paused
    local max = 0
    collectgarbage()
    collectgarbage("stop")
    for _ = 1, 200 do
      local t0 = clock()
      local alive = sched:step(2)
      max = math.max(max, clock() - t0)
      if alive ~= 5 then collectgarbage("restart") end
      assert.equal(5, alive)
      core.sleep_ms(1)
    end
    collectgarbage("restart")
    local after = 0
    for i = 1, 5 do
      after = after + tasks[i].resumes
      assert.equal("waiting", tasks[i]:status())
    end
    assert.equal(before, after) -- 200 steps, not one resume
    assert.truthy(max < 20 * SLOW, "longest idle step " .. max .. " ms")
    local t0 = clock()
    sched:close()
    assert.truthy(clock() - t0 < 100 * SLOW)
    for i = 1, 5 do assert.equal("cancelled", tasks[i]:status()) end
  end)

  it("wakes a parked task when its stream's idle timeout is due, when another task closes its stream, and when the client closes", function()
    local sched = coze.scheduler()
    local idle = sched:spawn(function()
      local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1", idle_timeout_ms = 150,
        additional_messages = { coze.message.user_text("hi") }, headers = { ["X-Emu-Fault"] = "stall;after=1;ms=5000" } })
      local ev, err
      repeat ev, err = stream:next() until ev == nil
      return err
    end)
    local victim_stream
    local victim = sched:spawn(function()
      victim_stream = assert(chat_stream(client, "v", { ["X-Emu-Fault"] = "stall;after=1;ms=5000" }))
      local ev, err
      repeat ev, err = victim_stream:next() until ev == nil
      return "ended", err
    end)
    local steps_before_close
    sched:spawn(function()
      while not victim_stream do coroutine.yield(10) end
      coroutine.yield(100) -- the victim is parked on a silent stream by now
      steps_before_close = victim.resumes
      victim_stream:close()
    end)
    frames(sched, 2, 1, 3000 * SLOW)
    local err = idle:result()
    assert.equal("timeout", err.kind)
    assert.equal("idle", err.timeout)
    assert.is_true(idle.resumes < 20, "resumes " .. idle.resumes)
    -- woken at once (reading a Request closed under it raises, as outside a scheduler)
    assert.is_true(victim:status() == "done" or victim:status() == "failed")
    assert.is_true(victim.resumes <= steps_before_close + 2)
    -- closing the client under parked tasks: they wake and end with its error
    local c2 = emu.client()
    local parked = {}
    for i = 1, 3 do
      parked[i] = sched:spawn(function()
        local stream = assert(chat_stream(c2, "p", { ["X-Emu-Fault"] = "stall;after=1;ms=5000" }))
        local ev, e
        repeat ev, e = stream:next() until ev == nil
        return e
      end)
    end
    local t_end = clock() + 3000 * SLOW
    while parked[3].resumes < 2 or parked[1].resumes < 2 or parked[2].resumes < 2 do
      sched:step(2)
      core.sleep_ms(1)
      assert(clock() < t_end)
    end
    for _ = 1, 20 do sched:step(2); core.sleep_ms(1) end
    c2:close()
    frames(sched, 2, 1, 2000 * SLOW)
    for i = 1, 3 do
      local e = parked[i]:result()
      assert.equal("transport", e.kind)
    end
  end)

  it("spends at most the step's budget, round-robin from where the last step stopped", function()
    local sched = coze.scheduler()
    local order = {}
    for i = 1, 6 do
      sched:spawn(function()
        for _ = 1, 3 do
          order[#order + 1] = i
          local t0 = clock()
          while clock() - t0 < 2 do end -- 2 ms of work between yields
          coroutine.yield()
        end
      end)
    end
    local steps = 0
    while true do
      local n0 = #order
      local t0 = clock()
      local alive = sched:step(5)
      local dt = clock() - t0
      steps = steps + 1
      assert.truthy(#order - n0 <= 3, "a 5 ms budget ran " .. (#order - n0) .. " tasks of 2 ms")
      assert.truthy(dt < 40 * SLOW, "step took " .. dt .. " ms") -- 5 + one task's 2 ms, on a shared machine
      if alive == 0 then break end
    end
    assert.truthy(steps >= 6)
    for k = 1, 18 do assert.equal((k - 1) % 6 + 1, order[k]) end
  end)

  it("makes a task that always has data yield once the budget is spent", function()
    local sched = coze.scheduler()
    local task = sched:spawn(function()
      return count_deltas(client, 30000)
    end)
    -- the collector is paused while the frames run: a collection over the large heap the whole
    -- suite leaves takes tens of ms inside whichever step allocates, which is the VM's pause,
    -- not the scheduler's (30,000 small events are a few MB of garbage)
    collectgarbage()
    collectgarbage("stop")
    local ok, steps, max, total = pcall(frames, sched, 1, 0)
    collectgarbage("restart")
    assert(ok, steps)
    assert.equal(30000, (task:result()))
    assert.truthy(steps > 5, "done in " .. steps .. " steps")
    -- preempted: no step ran most of the stream (a wall-clock bound alone fails on a loaded machine)
    assert.truthy(max < 15 * SLOW or max < total / 4,
      string.format("longest step %.1f ms of %.1f ms with a 1 ms budget", max, total))
  end)

  it("keeps errors in the task: a raise, and a stream's error event", function()
    local sched = coze.scheduler()
    local boom = sched:spawn(function() error("boom") end)
    local stream
    local api = sched:spawn(function()
      stream = assert(chat_stream(client, "hello", { ["X-Emu-Fault"] = "error_event;after=3;code=4013;msg=bad" }))
      return read_reply(stream)
    end)
    local fine = sched:spawn(function(a, b) return a + b, "x" end, 1, 2)
    frames(sched)
    assert.equal("failed", boom:status())
    local r, err = boom:result()
    assert.is_nil(r)
    assert.truthy(tostring(err):find("boom", 1, true))
    assert.truthy(boom.traceback:find("boom", 1, true))
    assert.equal("failed", api:status())
    r, err = api:result()
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(4013, err.code)
    assert.is_true(stream.finished)
    assert.same({ 3, "x" }, { fine:result() })
  end)

  it("cancels a task: its open streams close at once and it never runs again", function()
    local sched = coze.scheduler()
    local streams = {}
    local after_cancel = false
    local task = sched:spawn(function()
      streams[1] = assert(chat_stream(client, "a", { ["X-Emu-Fault"] = "stall;after=1;ms=5000" }))
      streams[2] = assert(chat_stream(client, "b", { ["X-Emu-Fault"] = "stall;after=1;ms=5000" }))
      for _ in streams[1]:events() do end
      after_cancel = true
    end)
    local t_end = clock() + 5000
    while not streams[2] do
      sched:step()
      core.sleep_ms(1)
      assert(clock() < t_end)
    end
    for _ = 1, 5 do sched:step() end
    assert.equal("waiting", task:status())
    local t0 = clock()
    assert.is_true(task:cancel())
    assert.truthy(clock() - t0 < 50 * SLOW)
    assert.is_false(task:cancel())
    assert.equal("cancelled", task:status())
    for i = 1, 2 do
      assert.is_true(streams[i].finished)
      assert.is_nil(streams[i].handle)
    end
    local r, err = task:result()
    assert.is_nil(r)
    assert.equal("cancelled", err.kind)
    assert.equal(0, sched:step())
    assert.is_false(after_cancel)
  end)

  it("lets a task cancel itself", function()
    local sched = coze.scheduler()
    local reached = false
    local task
    task = sched:spawn(function()
      task:cancel()
      reached = true
    end)
    assert.equal(0, sched:step())
    assert.equal("cancelled", task:status())
    assert.is_false(reached)
  end)

  it("closes from inside a task: every task cancelled, the step finishes", function()
    local sched = coze.scheduler()
    local others = {}
    for i = 1, 3 do others[i] = sched:spawn(function() coroutine.yield(10000) end) end
    local closer = sched:spawn(function() sched:close() end)
    for i = 4, 5 do others[i] = sched:spawn(function() coroutine.yield(10000) end) end
    assert.equal(0, sched:step())
    assert.equal("cancelled", closer:status())
    for i = 1, 5 do assert.equal("cancelled", others[i]:status()) end
  end)

  it("runs scripts to the end with run(), sleeping rather than spinning while tasks wait", function()
    local sched = coze.scheduler()
    local slept = sched:spawn(function()
      local t0 = clock()
      coroutine.yield(150)
      return clock() - t0
    end)
    local streamed = sched:spawn(function()
      return read_reply(assert(chat_stream(client, "slow drip", { ["X-Emu-Drip-Ms"] = "20" })))
    end)
    local called = sched:spawn(function()
      local conv = assert(client.conversations:create { headers = { ["X-Emu-Fault"] = "slow_headers;ms=200" } })
      return conv.id
    end)
    local joined = sched:spawn(function() return (streamed:result()) .. "!" end)
    local wall, cpu = clock(), os.clock()
    sched:run()
    wall, cpu = clock() - wall, (os.clock() - cpu) * 1000
    assert.truthy(slept:result() >= 150)
    assert.equal("slow drip", (streamed:result()))
    assert.truthy(called:result())
    assert.equal("slow drip!", joined:result())
    assert.truthy(wall >= 200)
    assert.truthy(SLOW > 1 or cpu < wall / 2, string.format("%.0f ms CPU in %.0f ms", cpu, wall))
  end)

  it("does not block a step while a task waits for headers, a retry's sleep or a page", function()
    local sched = coze.scheduler()
    local c = emu.client { retry_base_ms = 300, retry_max_delay_ms = 300 }
    local slow = sched:spawn(function()
      return assert(c.conversations:create { headers = { ["X-Emu-Fault"] = "slow_headers;ms=300" } }).id
    end)
    local retried = sched:spawn(function()
      local key = emu.unique("sched-retry")
      return assert(c.conversations:create { headers = { ["X-Emu-Fault"] = "status;code=503;times=1",
        ["X-Emu-Fault-Key"] = key, ["X-Idempotency-Key"] = key } }).id
    end)
    local paged = sched:spawn(function()
      local page = assert(c.bots:list { workspace_id = "w1", page_size = 5,
        headers = { ["X-Emu-Fault"] = "slow_headers;ms=50" } })
      local n = 0
      for _ in page:each() do n = n + 1 end
      return n
    end)
    local t0 = clock()
    local steps, max = frames(sched, 2, 2)
    assert.truthy(clock() - t0 >= 250)
    assert.truthy(slow:result())
    assert.truthy(retried:result())
    assert.equal(23, paged:result())
    assert.truthy(max < 20 * SLOW, "longest step " .. max .. " ms")
    assert.truthy(slow.resumes < 10, slow.resumes .. " resumes")
    assert.truthy(retried.resumes < 10, retried.resumes .. " resumes")
    assert.truthy(steps > 10)
    c:close()
  end)

  it("makes one token request for tasks that need a token at once, the others waiting in their tasks", function()
    local a = coze.auth.jwt { client_id = "emu-client-jwt", public_key_id = "emu-kid-1",
      private_key = emu.read_file("spec/fixtures/keys/rsa_pkcs8.pem"), base_url = emu.url }
    local c = coze.new { auth = a, base_url = emu.url }
    local m = emu.mark()
    local sched = coze.scheduler()
    local tasks = {}
    for i = 1, 10 do
      tasks[i] = sched:spawn(function() return assert(c.conversations:create {}).id end)
    end
    frames(sched, 2)
    for i = 1, 10 do
      local id, err = tasks[i]:result()
      assert.truthy(id, tostring(err))
    end
    assert.equal(1, #emu.since(m, "oauth2"))
    c:close()
  end)

  it("blocks as before outside tasks, and in a coroutine a task made itself", function()
    local text = read_reply(assert(chat_stream(client, "plain", { ["X-Emu-Drip-Ms"] = "2" })))
    assert.equal("plain", text)
    local sched = coze.scheduler()
    local task = sched:spawn(function()
      local inner = coroutine.wrap(function()
        return read_reply(assert(chat_stream(client, "nested", { ["X-Emu-Drip-Ms"] = "2" })))
      end)
      return inner()
    end)
    assert.equal(0, sched:step())
    assert.equal("nested", (task:result()))
  end)

  it("hands a task's own on_wait the waits instead of the scheduler", function()
    local sched = coze.scheduler()
    local calls = 0
    local task = sched:spawn(function()
      local stream = assert(client.chat:stream { bot_id = "bot_1", user_id = "u1",
        headers = { ["X-Emu-Drip-Ms"] = "5" }, wait_ms = 0,
        on_wait = function() calls = calls + 1; coroutine.yield() end })
      return read_reply(stream)
    end)
    frames(sched)
    assert.equal("done", task:status())
    assert.truthy(calls > 0)
  end)

  it("raises on misuse at the caller's line", function()
    local sched = coze.scheduler()
    assert.has_error(function() sched:spawn("nope") end, "coze: scheduler:spawn: expected a function, got string")
    assert.has_error(function() sched:step(-1) end)
    local t = sched:spawn(function() coroutine.yield() end)
    local ok, err = pcall(t.result, t)
    assert.is_false(ok)
    assert.truthy(err:find("has not finished", 1, true))
    local inner = sched:spawn(function() sched:step() end)
    sched:step()
    assert.equal("failed", inner:status())
    assert.truthy(tostring(select(2, inner:result())):find("inside one of its own tasks", 1, true))
    sched:close()
  end)
end)
