-- Streams of Server-Sent Events with one contract for every transport and every framing:
--   stream:next()   -> event | nil (normal end) | nil, err      (never raises)
--   stream:events() -> for-loop form; a failure raises the error object; break closes (5.4)
-- An event is { event = name, id = ..., raw = data text, data = decoded JSON or raw (lazy) }.
local core = require "coze.core"
local errors = require "coze.errors"
local json = require "coze.json"
local wait = require "coze.wait"

local rawset, setmetatable = rawset, setmetatable
local await, await_into = wait.await, wait.await_into

local _M = {}

local DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
local BATCH = 64 -- events the parser hands over per call (all already received; no added latency)

-- The one place event data is decoded: raw text -> value, or nil when it is not JSON.
local decode_data = json.decode

-- How each framing ends and reports errors (events.md).
local PROFILES = {
  chat = {
    terminal = { done = true },
    errors = { error = function(d) return d.code, d.msg end },
  },
  workflow = {
    terminal = { Done = true },
    errors = { Error = function(d) return d.error_code, d.error_message end },
  },
  -- OpenAI-style `data:` frames ending with `data: [DONE]`, which is not delivered.
  completions = {
    terminal = {},
    errors = { error = function(d) return d.code, d.message or d.msg end },
    done_data = "[DONE]",
  },
}
_M.PROFILES = PROFILES

-- Names that need more than handing the event over: terminal and error events. false: every
-- event takes the slow path (a profile with done_data; a stream with a watch table or its own
-- next, or once its last, possibly truncated, event is queued).
for _, profile in pairs(PROFILES) do
  local hot = {}
  for name in pairs(profile.terminal) do hot[name] = true end
  for name in pairs(profile.errors) do hot[name] = true end
  profile.hot = not profile.done_data and hot
end

local NO_EVENTS = {} -- the queue of a finished stream; never written

local Event = {}
_M.Event = Event

-- ev.data is decoded on first access, so a relay that only reads ev.raw never pays for JSON.
function Event.__index(ev, key)
  if key ~= "data" then return nil end
  local raw = ev.raw -- present (a missing raw would come back here as nil)
  local v = decode_data(raw)
  if v == nil then v = raw end
  ev.data = v -- no __newindex: a plain store
  return v
end

local Stream = {}
Stream.__index = Stream
_M.Stream = Stream

-- handle: a transport handle whose headers are in; opts: profile, op, logid, http_status, headers,
-- max_event_bytes, wait_ms, on_wait, on_close (called once with the stream when it closes),
-- watch ({ [event name] = fn(stream, ev) }, called before such an event is delivered).
-- stream.completed is true once the terminal event arrived.
function _M.new(handle, opts)
  local profile = PROFILES[opts.profile or "chat"]
  if not profile then error("coze: unknown stream profile '" .. tostring(opts.profile) .. "'", 2) end
  return setmetatable({
    handle = handle,
    parser = core.sse_parser(opts.max_event_bytes or DEFAULT_MAX_EVENT_BYTES),
    profile = profile,
    op = opts.op,
    logid = opts.logid,
    http_status = opts.http_status,
    headers = opts.headers,
    wait_ms = opts.wait_ms,
    on_wait = opts.on_wait,
    on_close = opts.on_close,
    watch = opts.watch,
    finished = false,
    completed = false,
    eof = false,
    _q = {},            -- events parsed and not yet returned: _q[_qi], _q[_qi + 1], ...
    _qi = 1,
    _hot = not opts.watch and profile.hot,
    _partial = false,   -- the event dispatched from an unterminated last line, once queued
  }, Stream)
end

function Stream:_error(kind, fields)
  fields.op = fields.op or self.op
  fields.logid = fields.logid or self.logid
  fields.http_status = fields.http_status or self.http_status
  return errors.new(kind, fields)
end

function Stream:_finish(err)
  self.finished = true
  self.err = err
  self._q, self._qi = NO_EVENTS, 1
  self:_release()
end

function Stream:_fail(err)
  self:_finish(err)
  return nil, err
end

-- A clean end lets the connection go back to the cache: give the transfer a chance to complete.
function Stream:_drain_tail()
  local h = self.handle
  if h and not self.eof then
    local chunk = h:read(0)
    if chunk == nil then self.eof = true end
  end
end

function Stream:_release()
  local h = self.handle
  if h then
    self.handle = nil
    h:close()
  end
  if self.parser then
    self.parser:close()
    self.parser = nil
  end
  local on_close = self.on_close
  if on_close then
    self.on_close = nil
    on_close(self)
  end
end

-- The slow path of next(): watched, terminal and error events, and the last one of a truncated body.
function Stream:_deliver(ev)
  local name, raw = ev.event, ev.raw
  local watch = self.watch
  if watch then
    local fn = watch[name]
    if fn then fn(self, ev) end
  end
  local profile = self.profile
  if profile.done_data and raw == profile.done_data then
    self.completed = true
    self:_drain_tail()
    self:_finish(nil)
    return nil
  end
  if profile.terminal[name] then
    self.completed = true
    self:_drain_tail()
    self:_finish(nil)
    return ev
  end
  local extract = profile.errors[name]
  if extract then
    local data = ev.data
    local code, msg
    if type(data) == "table" then code, msg = extract(data) end
    self:_finish(self:_error("api", { code = code, msg = msg or raw, event = ev }))
    return ev
  end
  if ev == self._partial and decode_data(raw) == nil then
    return self:_fail(self:_error("stream", { msg = "stream truncated inside a '" .. name .. "' event" }))
  end
  return ev
end

function Stream:next()
  local i = self._qi
  local ev = self._q[i]
  if ev then
    self._qi = i + 1
    local hot = self._hot
    if hot and not hot[ev.event] then return ev end
    return self:_deliver(ev)
  end
  return self:_refill()
end

-- The queue is empty: parse what is buffered, reading more as needed.
function Stream:_refill()
  while true do
    if self.finished then return nil, self.err end
    local parser, q = self.parser, self._q
    local n, partial = parser:next_events(q, Event, BATCH)
    if n == nil then
      return self:_fail(self:_error("stream", { msg = partial }))
    elseif n > 0 then
      self._qi = 1
      if partial then
        self._partial = q[n]
        self._hot = false
      end
      return Stream.next(self)
    end
    if self.eof then
      return self:_fail(self:_error("stream", { msg = "stream ended without its terminal event" }))
    end
    local h = self.handle
    local got, err
    if h.read_into then
      got, err = await_into(h, parser, self.wait_ms, self.on_wait)
    else -- a transport with read() only
      got, err = await(h, "read", self.wait_ms, self.on_wait)
      if got and not self.finished then parser:feed(got) end
    end
    if self.finished then -- closed while waiting
      return nil, self.err
    elseif err then
      err.op = err.op or self.op
      err.logid = err.logid or self.logid
      err.http_status = err.http_status or self.http_status
      return self:_fail(err)
    elseif not got then
      self.eof = true
      parser:finish()
    end
  end
end

-- A watch table or an own next() set on a stream after new() turns the fast path off.
function Stream.__newindex(s, key, value)
  if (key == "watch" and value) or key == "next" then rawset(s, "_hot", false) end
  rawset(s, key, value)
end

local function iterate(s)
  local hot = s._hot
  if hot then -- Stream.next's fast path, inline
    local i = s._qi
    local ev = s._q[i]
    if ev and not hot[ev.event] then
      s._qi = i + 1
      return ev
    end
  end
  local ev, err = s:next()
  if ev then return ev end
  s:close()
  if err then error(err, 0) end
  return nil
end

-- for ev in stream:events() do ... end   (the fourth value closes the stream on break in 5.4)
function Stream:events()
  return iterate, self, nil, self
end

-- Closes at once; an unfinished transfer's connection is dropped. Idempotent. Later next() -> nil.
function Stream:close()
  if not self.finished then
    self:_finish(nil)
  else
    self:_release()
  end
end

Stream.__close = Stream.close
Stream.__gc = nil

function Stream.__tostring(s)
  return "coze.Stream (" .. (s.op or "?") .. (s.finished and ", closed)" or ")")
end

return _M
