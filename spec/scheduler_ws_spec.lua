-- WebSocket sessions inside coze.scheduler tasks, over real sockets: connect, send, next and close
-- wait by yielding to the scheduler (no wait_ms/on_wait), a silent session's task is not resumed,
-- cancel drops a session at once.
local emu = require "helpers.emu"
local coze = require "coze"
local core = require "coze.core"

local clock = core.monotonic_ms

-- Time limits stretch under the sanitizers (make sanitize) and valgrind (make valgrind).
local SLOW = require("helpers.mem").slow_factor()

-- Steps a frame loop (1 ms apart) until cond() or the time is up.
local function frames_until(sched, cond, ms)
  local t_end = clock() + ms * SLOW
  while not cond() do
    assert(clock() < t_end, "timed out")
    sched:step(2)
    core.sleep_ms(1)
  end
end

describe("websocket sessions in scheduler tasks", function()
  it("drives 20 speech sessions from tasks with no wait_ms or on_wait", function()
    local client = emu.client()
    local sched = coze.scheduler()
    local tasks = {}
    for i = 1, 20 do
      tasks[i] = sched:spawn(function()
        local ws = assert(client.websockets.audio.speech:connect {})
        assert.equal("speech.created", assert(ws:next()).event_type)
        assert(ws:append_text("session " .. i))
        assert(ws:complete())
        local audio = {}
        while true do
          local ev = assert(ws:next())
          if ev.event_type == "speech.audio.update" then audio[#audio + 1] = ev.audio end
          if ev.event_type == "speech.audio.completed" then break end
        end
        assert.is_true(ws:close())
        assert.is_nil(ws.conn)
        return table.concat(audio)
      end)
    end
    local t0 = clock()
    sched:run()
    assert.is_true(clock() - t0 < 5000 * SLOW)
    for i = 1, 20 do
      assert.equal("done", tasks[i]:status(), tostring(tasks[i].traceback))
      assert.equal("session " .. i, tasks[i]:result())
    end
    client:close()
  end)

  it("does not resume the tasks of silent sessions while others talk", function()
    local client = emu.client()
    local sched = coze.scheduler()
    local opened = 0
    local idle = {}
    for i = 1, 10 do
      idle[i] = sched:spawn(function()
        local ws = assert(client.websockets.chat:connect { bot_id = "bot_1", emu_fault = "silent" })
        assert.equal("chat.created", assert(ws:next()).event_type)
        opened = opened + 1
        return ws:next() -- nothing ever comes
      end)
    end
    frames_until(sched, function() return opened == 10 end, 5000)
    for _ = 1, 5 do sched:step(2); core.sleep_ms(1) end
    local before = 0
    for i = 1, 10 do before = before + idle[i].resumes end
    -- a talking session in the same scheduler: its task runs, the silent ones stay parked
    local talker = sched:spawn(function()
      local ws = assert(client.websockets.audio.speech:connect {})
      assert.equal("speech.created", assert(ws:next()).event_type)
      assert(ws:append_text("still here"))
      assert(ws:complete())
      local n = 0
      for ev in ws:events() do
        if ev.event_type == "speech.audio.update" then n = n + 1 end
        if ev.event_type == "speech.audio.completed" then break end
      end
      ws:close()
      return n
    end)
    frames_until(sched, function() return talker:status() == "done" end, 5000)
    for _ = 1, 50 do sched:step(2); core.sleep_ms(1) end
    local after = 0
    for i = 1, 10 do
      after = after + idle[i].resumes
      assert.equal("waiting", idle[i]:status())
    end
    assert.equal(before, after)
    assert.is_true(talker:result() > 0)
    -- quitting: cancel drops every session at once (no close handshake wait on a silent server)
    local t0 = clock()
    sched:close()
    assert.is_true(clock() - t0 < 200 * SLOW)
    for i = 1, 10 do
      assert.equal("cancelled", idle[i]:status())
    end
    client:close()
  end)

  it("ends a silent session at idle_timeout_ms inside a task", function()
    local client = emu.client()
    local sched = coze.scheduler()
    local task = sched:spawn(function()
      local ws = assert(client.websockets.chat:connect { bot_id = "bot_1", emu_fault = "silent",
        idle_timeout_ms = 150 })
      assert.equal("chat.created", assert(ws:next()).event_type)
      local t0 = clock()
      local ev, err = ws:next()
      return ev, err, clock() - t0
    end)
    frames_until(sched, function() return task:status() == "done" end, 3000)
    local ev, err, took = task:result()
    assert.is_nil(ev)
    assert.equal("timeout", err.kind)
    assert.equal("idle", err.timeout)
    assert.is_true(took >= 140)
    -- woken by its deadline, not every frame: a handful of resumes, not ~150
    assert.is_true(task.resumes < 20, "resumes: " .. task.resumes)
    client:close()
  end)

  it("gives the handshake error of a refused connect to the task", function()
    local client = emu.client()
    local sched = coze.scheduler()
    local task = sched:spawn(function()
      return client.websockets.chat:connect { bot_id = "bot_1", emu_fault = "bad_accept" }
    end)
    sched:run()
    local ws, err = task:result()
    assert.is_nil(ws)
    assert.equal("transport", err.kind)
    client:close()
  end)
end)
