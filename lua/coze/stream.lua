-- Streams of Server-Sent Events with one contract for every transport and every framing:
--   stream:next()   -> event | nil (normal end) | nil, err      (never raises)
--   stream:events() -> for-loop form; a failure raises the error object; break closes (5.4)
-- An event is { event = name, id = ..., raw = data text, data = decoded JSON or raw (lazy) }.
local core = require "coze.core"
local errors = require "coze.errors"
local json = require "coze.json"
local wait = require "coze.wait"

local _M = {}

local DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024

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

local Event = {}
_M.Event = Event

-- ev.data is decoded on first access, so a relay that only reads ev.raw never pays for JSON.
function Event.__index(ev, key)
  if key ~= "data" then return nil end
  local raw = rawget(ev, "raw")
  local v = json.decode(raw)
  if v == nil then v = raw end
  rawset(ev, "data", v)
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

function Stream:_deliver(raw, name, id, eof_partial)
  local profile = self.profile
  name = name or "message"
  local ev = setmetatable({ event = name, raw = raw, id = id }, Event)
  local watch = self.watch
  if watch and watch[name] then watch[name](self, ev) end
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
  if eof_partial and json.decode(raw) == nil then
    return self:_fail(self:_error("stream", { msg = "stream truncated inside a '" .. name .. "' event" }))
  end
  return ev
end

function Stream:next()
  if self.finished then return nil, self.err end
  local parser = self.parser
  while true do
    local raw, name, id, eof_partial = parser:next()
    if raw then
      return self:_deliver(raw, name, id, eof_partial)
    elseif name then
      return self:_fail(self:_error("stream", { msg = name }))
    end
    if self.eof then
      return self:_fail(self:_error("stream", { msg = "stream ended without its terminal event" }))
    end
    local chunk, err = wait.await(self.handle, "read", self.wait_ms, self.on_wait)
    if chunk then
      parser:feed(chunk)
    elseif err then
      err.op = err.op or self.op
      err.logid = err.logid or self.logid
      err.http_status = err.http_status or self.http_status
      return self:_fail(err)
    else
      self.eof = true
      parser:finish()
    end
  end
end

local function iterate(s)
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
