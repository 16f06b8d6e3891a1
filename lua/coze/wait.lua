-- The one waiting loop. Blocking callers wait inside C in slices; callers with on_wait (for example
-- coroutine.yield in a game loop) get control back between non-blocking polls. Inside a task of
-- coze.scheduler (and without an on_wait of the caller's) polls never block: the task yields what
-- it waits for, and the scheduler resumes it when that is ready.
local errors = require "coze.errors"
local scheduler = require "coze.scheduler"

local current = scheduler.current

local _M = {}

local BLOCKING_SLICE_MS = 1000

-- A handle's `false, "sent"` (transport/README.md): no answer yet, but a piece of the request
-- body just went out and the next is ready, so the loop calls again at once. Nothing is waited
-- for, so on_wait (for waiting on the network) is not called: a sleeping one would pace the upload.
local SENT = "sent"
_M.SENT = SENT

-- What on_wait(ms) is told after a poll of a socket found nothing: the transport knows no time
-- at which bytes will come, so a short interval that keeps a stream's latency low without
-- spinning a caller that sleeps for the time it is given. (Sleeps pass the time to their end.)
_M.POLL_INTERVAL_MS = 10

local yield, isyieldable, running = coroutine.yield, coroutine.isyieldable, coroutine.running

local function can_yield()
  if isyieldable then return isyieldable() end
  local _, main = running()
  return running() ~= nil and not main
end
_M.can_yield = can_yield

local NOT_IN_COROUTINE = "option 'on_wait' is coroutine.yield, but the call does not run inside a coroutine: "
  .. "run it in one (coroutine.wrap, a coze.scheduler task) or leave on_wait out to block"
_M.NOT_IN_COROUTINE = NOT_IN_COROUTINE

-- Calls on_wait(ms); coroutine.yield outside a coroutine raises naming on_wait, where the VM would
-- only say "attempt to yield from outside a coroutine".
local function call_on_wait(on_wait, ms)
  if on_wait == yield and not can_yield() then error("coze: " .. NOT_IN_COROUTINE, 0) end
  return on_wait(ms)
end
_M.call_on_wait = call_on_wait

-- Raises at the caller's `level` (args.fail's count) when on_wait is coroutine.yield and the
-- call runs outside a coroutine: checked before a request goes out, so nothing is sent.
function _M.check_on_wait(where, on_wait, level)
  if on_wait == yield and not can_yield() then
    require("coze.args").fail(where, NOT_IN_COROUTINE, (level or 1) + 1)
  end
end

-- The poll's own wait and what on_wait is told after a poll found nothing.
local function slices(wait_ms, on_wait)
  if wait_ms == nil then wait_ms = on_wait and 0 or BLOCKING_SLICE_MS end
  return wait_ms, (wait_ms > 0 and wait_ms < _M.POLL_INTERVAL_MS) and wait_ms or _M.POLL_INTERVAL_MS
end

-- Calls h[method](h, wait_ms) until it returns something other than false.
function _M.await(h, method, wait_ms, on_wait)
  local task = not on_wait and current()
  if task then return _M.in_task(task, h, method) end
  local hint
  wait_ms, hint = slices(wait_ms, on_wait)
  local fn = h[method]
  while true do
    local r, err = fn(h, wait_ms)
    if r ~= false then return r, err end
    if on_wait and err ~= SENT then call_on_wait(on_wait, hint) end
  end
end

-- The same for h:read_into(parser, wait_ms).
function _M.await_into(h, parser, wait_ms, on_wait)
  local task = not on_wait and current()
  if task then return _M.in_task(task, h, "read", parser) end
  local hint
  wait_ms, hint = slices(wait_ms, on_wait)
  while true do
    local r, err = h:read_into(parser, wait_ms)
    if r ~= false then return r, err end
    if on_wait then call_on_wait(on_wait, hint) end
  end
end

-- The waiting loop inside a task: h[method](h, 0) (h:read_into(parser, 0) with a parser) until it
-- returns something other than false, yielding to the scheduler in between. A poll is made only
-- when the handle says it would find something (the step already looked at the sockets), so a
-- task that has drained its stream yields without driving the transport again.
function _M.in_task(task, h, method, parser)
  while true do
    local err
    if task:_ready(h, method) then
      local r
      if parser then r, err = h:read_into(parser, 0) else r, err = h[method](h, 0) end
      if r ~= false then
        task:_checkpoint()
        return r, err
      end
    end
    if err ~= SENT then task:_wait(h, method) end
  end
end

local function task_sleep(ms)
  current():_wait(nil, nil, ms or 0)
end

-- An on_wait(ms) that sleeps by yielding to the scheduler, when running in a task; else nil.
function _M.task_on_wait()
  if current() then return task_sleep end
  return nil
end

-- Reads a whole response body: string | nil, err. More than max_bytes is an error (kind "decode"),
-- so a server that never stops cannot fill memory. as = "json": the transport may answer with the
-- decoded table instead (h:read_all's "json"; a malformed body is then an error of kind "decode").
function _M.read_all(h, max_bytes, wait_ms, on_wait, as)
  if h.read_all and not (not on_wait and current()) then
    -- one buffer sized from Content-Length, bounded after decompression, no chunks to join (a
    -- task reads in chunks: its handle would look ready at every step until the body is whole)
    local fn = h.read_all
    local hint
    wait_ms, hint = slices(wait_ms, on_wait)
    while true do
      local body, err = fn(h, max_bytes, wait_ms, as)
      if body ~= false then
        if body == nil and err == nil then body = "" end
        return body, err
      end
      if on_wait then call_on_wait(on_wait, hint) end
    end
  end
  local parts, n = {}, 0
  while true do
    local chunk, err = _M.await(h, "read", wait_ms, on_wait)
    if chunk == nil then
      if err then return nil, err end
      return table.concat(parts)
    end
    n = n + #chunk
    if n > max_bytes then
      return nil, errors.new("decode",
        { msg = "response body exceeds max_body_bytes (" .. max_bytes .. ")" })
    end
    parts[#parts + 1] = chunk
  end
end

-- Calls fn(...) for a handle h; if fn (a caller's callback) raises, closes h first and re-raises.
function _M.guarded(h, fn, ...)
  local ok, e = pcall(fn, ...)
  if not ok then
    h:close()
    error(e, 0)
  end
  return e
end
local guarded = _M.guarded

-- Upload progress: the transport's handle reports the request body bytes sent so far and their
-- total in h:info() (`upload_bytes`, `upload_total`, read between polls). Waits for the headers in
-- short slices and calls on_progress(sent, total) whenever `sent` moved. A transport whose info()
-- lacks these fields gives no progress calls.
local PROGRESS_SLICE_MS = 100

function _M.headers_progress(h, on_progress, wait_ms, on_wait)
  on_wait = on_wait or _M.task_on_wait()
  local slice = wait_ms or (on_wait and 0 or PROGRESS_SLICE_MS)
  local hint = (slice > 0 and slice < _M.POLL_INTERVAL_MS) and slice or _M.POLL_INTERVAL_MS
  local last = -1
  local function report()
    if not h.info then return end
    local info = h:info()
    local sent = info and info.upload_bytes
    if sent and sent ~= last then
      last = sent
      local total = info.upload_total
      if total == nil or total < 0 then total = nil end
      guarded(h, on_progress, sent, total)
    end
  end
  while true do
    local status, err = h:wait_headers(slice)
    if status ~= false then
      if status then report() end
      return status, err
    end
    report()
    if on_wait and err ~= SENT then call_on_wait(on_wait, hint) end
  end
end

-- Sleeps ms, through on_wait when given so a scheduler keeps running.
function _M.sleep(transport, ms, on_wait)
  if ms <= 0 then return end
  if not on_wait then
    on_wait = _M.task_on_wait()
    if not on_wait then return transport:sleep_ms(ms) end
  end
  local deadline = transport:now_ms() + ms
  while true do
    local left = deadline - transport:now_ms()
    if left <= 0 then return end
    call_on_wait(on_wait, left)
  end
end

return _M
