-- Cooperative tasks for frame loops (games, apps) and scripts: coze.scheduler().
--
--   local sched = coze.scheduler()
--   local task = sched:spawn(fn, ...)   -- fn(...) runs as a task; nothing runs before a step
--   sched:step(budget_ms)               -- in the frame loop: -> tasks still alive
--   sched:run()                         -- in a script: until every task has finished
--   task:status()  -> "ready" | "waiting" | "running" | "done" | "failed" | "cancelled"
--   task:result()  -> fn's returns | nil, err (it raised, or kind "cancelled")
--   task:cancel()  closes the streams the task opened and drops it
--
-- Inside a task every SDK wait (coze.wait: HTTP calls, streams, pages, token fetches, retry and
-- poll sleeps) polls without blocking and, when nothing is there yet, yields to the scheduler what
-- it waits for: a transport handle, a time, or another task (Task:_wait). step() resumes a waiting
-- task only when that can make progress: the handle says it is ready (h:ready, one non-blocking
-- poll of the sockets per step), the time has come, the other task finished. So a task on a silent
-- stream costs a readiness check per step, never a resume. A handle with h:watch(key, what) costs
-- less: the task is parked, and once per step one call per transport (src:ready_keys) names the
-- parked tasks whose handles are ready, so 200 silent streams cost one poll() and one C call. A plain coroutine.yield() in a task
-- lets the others run (resumed next step); coroutine.yield(ms) sleeps ms.
-- Pure Lua, no engine dependency: only the clock comes from coze.core.
local core = require "coze.core"
local args = require "coze.args"
local errors = require "coze.errors"

local co_create, co_resume, co_yield = coroutine.create, coroutine.resume, coroutine.yield
local co_running, co_status, co_close = coroutine.running, coroutine.status, coroutine.close
local unpack = table.unpack or unpack
local select, type, pairs, ipairs, pcall, setmetatable, next = select, type, pairs, ipairs, pcall, setmetatable, next
local huge = math.huge

local clock = core.monotonic_ms

local _M = {}

-- How run() idles when no task could make progress: sleeps from 1 ms, doubling up to this, and
-- never past the next deadline. Latency for a script, not a busy spin.
local RUN_IDLE_MAX_MS = 4

local WAIT = {}              -- what Task:_wait yields: the wait is in the task's fields
local WEAK_KEYS = { __mode = "k" }
local FINISHED = { done = true, failed = true, cancelled = true }

local running = nil          -- the task being resumed (any scheduler), or nil
local last_key = 0           -- tasks' keys for h:watch, unique across schedulers
local by_key = setmetatable({}, { __mode = "v" })
local watcher = setmetatable({}, { __mode = "kv" }) -- handle -> the task watching it
local slice_end = huge       -- when the step resuming it runs out of budget
local round = 0              -- one per step: handles poll their sockets once per round

local Task = {}
Task.__index = Task
_M.Task = Task

local Scheduler = {}
Scheduler.__index = Scheduler
_M.Scheduler = Scheduler

-- The task running now, or nil: outside any task, and inside a coroutine a task made itself (its
-- yields belong to that coroutine's owner, so SDK calls there block as elsewhere).
local function current()
  local t = running
  if t and t.co == co_running() then return t end
  return nil
end
_M.current = current

-- Registers a closable object (a stream) with the running task, so cancel() or a failure closes it.
function _M.track(obj)
  local t = running
  if t and t.co == co_running() then
    local open = t._open
    if not open then
      open = setmetatable({}, WEAK_KEYS)
      t._open = open
    end
    open[obj] = true
  end
end

function _M.new()
  return setmetatable({ tasks = {}, cursor = 1, finished = 0, resumed = 0, next_due = huge,
    sources = {}, keys = {} }, Scheduler)
end

-- Task side ------------------------------------------------------------------------------------

-- Stops watching the task's handle (its transport's ready_keys no longer names the task).
local function unwatch(t)
  local h = t._wh
  t._parked = false
  if not h then return end
  t._wh, t._wwhat = nil, nil
  if watcher[h] == t then watcher[h] = nil end
  h:watch(0, nil)
  local sources, src = t.sched.sources, t._src
  t._src = nil
  local c = sources[src] - 1
  if c > 0 then sources[src] = c else sources[src] = nil end
end

-- Parks the task on h: step leaves it alone until h's transport names it in ready_keys. A handle
-- carries one key: a second task waiting on it is not parked (it asks h:ready every step).
local function park(t, h, what)
  if t._wh ~= h or t._wwhat ~= what then
    unwatch(t)
    local owner = watcher[h]
    if owner and owner._wh == h then return end
    local src = h:watch(t.key, what)
    if not src then return end
    watcher[h] = t
    t._wh, t._wwhat, t._src = h, what, src
    local sources = t.sched.sources
    sources[src] = (sources[src] or 0) + 1
  end
  t._parked = true
end

-- The wait descriptor: resume when handle h is ready for `what` ("wait_headers", "read"), when ms
-- have passed, or when task `join` has finished, whichever comes first (nil: not that one).
-- Called by coze.wait from inside the running task; returns when the scheduler resumes it.
function Task:_wait(h, what, ms, join)
  self._h, self._what, self._join = h, what, join
  self._until = ms and clock() + ms or nil
  if h and not ms and not join and h.watch then park(self, h, what) end
  co_yield(WAIT)
end

-- Would a poll of h for `what` find something now? (h:ready for this step's look at the sockets;
-- true for a handle that cannot tell.)
function Task:_ready(h, what)
  local ready = h.ready
  return not ready or ready(h, round, what)
end

-- At an I/O boundary of the running task: gives the rest of the step to the others once the
-- step's budget is spent, so a stream that always has data cannot hold the frame.
function Task:_checkpoint()
  if clock() >= slice_end then
    self._h, self._what, self._join, self._until = nil, nil, nil, nil
    co_yield(WAIT)
  end
end

function Task:status()
  return self.status_
end

-- Closes what the task holds: obj._abort when it has one (a WebSocket session, whose close would
-- wait for the server), else obj.close.
local function abort(obj)
  local f = obj._abort or obj.close
  if f then pcall(f, obj) end
end

local function close_open(t)
  local h = t._h
  t._h = nil
  if h then abort(h) end
  local open = t._open
  if open then
    t._open = nil
    for obj in pairs(open) do abort(obj) end
  end
end

local function set_finished(t, status)
  t.status_ = status
  t._join, t._until, t._args = nil, nil, nil
  unwatch(t)
  local s = t.sched
  s.finished = s.finished + 1
end

-- task:cancel() -> true, or false when it had already finished. Closes the streams the task
-- opened and the request it waits on; the task is never resumed again (Lua 5.4 closes its
-- to-be-closed variables). Called by the task itself, it does not return.
function Task:cancel()
  if FINISHED[self.status_] then return false end
  local self_cancel = current() == self
  set_finished(self, "cancelled")
  self.err = errors.new("cancelled", { msg = "task cancelled" })
  close_open(self)
  if self_cancel then
    co_yield(WAIT)
  elseif co_close and co_status(self.co) == "suspended" then
    pcall(co_close, self.co)
  end
  return true
end

-- fn's returns when it finished; nil, err when it raised (err as raised; task.traceback has the
-- traceback) or was cancelled. Inside another task it waits for this one; elsewhere, asking an
-- unfinished task is a mistake.
function Task:result()
  local st = self.status_
  if not FINISHED[st] then
    local me = current()
    if not me or me == self then
      args.fail("task:result", "the task has not finished (status '" .. st
        .. "'); check task:status(), or call it from another task to wait for it")
    end
    repeat me:_wait(nil, nil, nil, self) until FINISHED[self.status_]
    st = self.status_
  end
  if st == "done" then
    local r = self._res
    return unpack(r, 1, r.n)
  end
  return nil, self.err
end

function Task.__tostring(t)
  return "coze.Task (" .. t.status_ .. ")"
end

-- Scheduler side -------------------------------------------------------------------------------

-- sched:spawn(fn, ...) -> task. fn(...) starts at the next step.
function Scheduler:spawn(fn, ...)
  if type(fn) ~= "function" then
    args.fail("scheduler:spawn", "expected a function, got " .. type(fn))
  end
  last_key = last_key + 1
  local t = setmetatable({ sched = self, co = co_create(fn), status_ = "ready", resumes = 0, key = last_key,
    _args = { n = select("#", ...), ... } }, Task)
  by_key[last_key] = t
  local tasks = self.tasks
  tasks[#tasks + 1] = t
  return t
end

local function pack(...)
  return { n = select("#", ...), ... }
end

-- What a resume came back with: finished (returned or raised), or yielded (our WAIT, or a user's
-- plain yield: nothing = run again next step, a number = sleep that many ms).
local function settle(t, ok, ...)
  local co = t.co
  if co_status(co) == "dead" then
    if ok then
      t._res = pack(...)
      set_finished(t, "done")
    else
      local err = ...
      t.err = err
      t.traceback = debug.traceback(co, tostring(err))
      set_finished(t, "failed")
      close_open(t)
    end
    t._h, t._what = nil, nil
    return
  end
  if t.status_ == "cancelled" then return end -- cancelled itself
  local v = ...
  if v == WAIT then
    t.status_ = (t._h or t._until or t._join) and "waiting" or "ready"
  elseif type(v) == "number" then
    t._h, t._what, t._join = nil, nil, nil
    t._until = clock() + v
    t.status_ = "waiting"
  else
    t._h, t._what, t._join, t._until = nil, nil, nil, nil
    t.status_ = "ready"
  end
end

local function resume(t)
  local prev = running
  running = t
  t.status_ = "running"
  t.resumes = t.resumes + 1
  local a = t._args
  if a then
    t._args = nil
    settle(t, co_resume(t.co, unpack(a, 1, a.n)))
  else
    settle(t, co_resume(t.co))
  end
  running = prev
end

-- Can the task make progress now? For one still waiting, also returns its deadline.
local function can_run(t, now)
  local st = t.status_
  if st == "ready" then return true end
  if st ~= "waiting" or t._parked then return false end
  if t._woken then
    t._woken = nil
    return true
  end
  local due = t._until
  if due and now >= due then return true end
  local h = t._h
  if h then
    local ready = h.ready
    if not ready or ready(h, round, t._what) then return true end -- a handle that cannot tell: poll
  else
    local j = t._join
    if j then
      if FINISHED[j.status_] then return true end
    elseif not due then
      return true
    end
  end
  return false, due
end

local function wake(t)
  if t and t._parked then
    t._parked = false
    t._woken = true
  end
end

-- Asks each transport the parked tasks wait on, once, which of them can make progress.
local function wake_parked(self)
  local keys = self.keys
  for src, _ in pairs(self.sources) do
    local n = src:ready_keys(round, keys)
    if n == nil then -- closed: every task parked on it wakes to find out
      for _, t in ipairs(self.tasks) do
        if t._src == src then wake(t) end
      end
    else
      for i = 1, n do wake(by_key[keys[i]]) end
    end
  end
end

-- Drops finished tasks, keeping the order and the round-robin position.
local function compact(self)
  local tasks, cursor = self.tasks, self.cursor
  local j, new_cursor = 0, nil
  for i = 1, #tasks do
    local t = tasks[i]
    if i == cursor then new_cursor = j + 1 end
    if not FINISHED[t.status_] then
      j = j + 1
      tasks[j] = t
    end
    if i > j then tasks[i] = nil end
  end
  self.cursor = new_cursor or 1
  self.finished = 0
  return j
end

-- sched:step([budget_ms]) -> number of tasks still alive. Resumes the tasks that can make
-- progress, round-robin from where the last step stopped, each at most once, until budget_ms
-- (default: no limit) is spent; a task that keeps receiving data yields at its next read once it
-- is. Errors raised in tasks stay in the tasks.
function Scheduler:step(budget_ms)
  if budget_ms ~= nil and (type(budget_ms) ~= "number" or budget_ms < 0 or budget_ms ~= budget_ms) then
    args.fail("scheduler:step", "budget_ms must be a non-negative number (got " .. type(budget_ms) .. ")")
  end
  if running and running.sched == self and co_running() == running.co then
    args.fail("scheduler:step", "called from inside one of its own tasks")
  end
  local tasks = self.tasks
  local n = #tasks
  round = round + 1
  if next(self.sources) then wake_parked(self) end
  local now = clock()
  local stop = budget_ms and now + budget_ms or huge
  local prev_end = slice_end
  slice_end = stop
  self.stepping = true
  local i = self.cursor
  if i > n then i = 1 end
  local resumed, next_due = 0, huge
  for _ = 1, n do
    local t = tasks[i]
    i = i + 1
    if i > n then i = 1 end
    if not t._parked then -- parked: wake_parked said its handle has nothing
      local go, due = can_run(t, now)
      if go then
        resume(t)
        resumed = resumed + 1
        now = clock()
        if now >= stop then break end
      elseif due and due < next_due then
        next_due = due
      end
    end
  end
  slice_end = prev_end
  self.stepping = false
  self.cursor = i
  self.resumed, self.next_due = resumed, next_due
  if self.finished > 0 then return compact(self) end
  return #tasks
end

-- sched:run() drives every task to its end (for scripts; blocks). Between steps in which no task
-- could make progress it sleeps briefly instead of spinning.
function Scheduler:run()
  if current() then args.fail("scheduler:run", "called from inside a task; use step, or task:result()") end
  local idle = 1
  while self:step() > 0 do
    if self.resumed > 0 then
      idle = 1
    else
      local ms = idle
      local left = self.next_due - clock()
      if left < ms then ms = left end
      if ms > 0 then core.sleep_ms(ms) end
      if idle < RUN_IDLE_MAX_MS then idle = idle * 2 end
    end
  end
end

-- sched:close(): cancels every task still alive (closing their streams) at once: for quitting.
function Scheduler:close()
  local me = current()
  for _, t in ipairs(self.tasks) do
    if t ~= me then t:cancel() end
  end
  if not self.stepping then compact(self) end -- else the step drops them
  if me and me.sched == self then me:cancel() end
end

function Scheduler.__tostring(s)
  return "coze.Scheduler (" .. #s.tasks .. " tasks)"
end

return _M
