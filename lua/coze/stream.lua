-- Streams of Server-Sent Events with one contract for every transport and every framing:
--   stream:next()       -> event | nil (normal end, or closed) | nil, err      (never raises, also
--                          when another coroutine closes the stream while this one waits in on_wait)
--   stream:events()     -> for-loop form; a failure raises the error object; break closes (5.4)
--   stream:raw_events() -> for name, raw, id in ...: the same without a table per event (relays)
--   stream:raw_chunks() -> for chunk, n in ...: the bytes of whole events as received, a batch at a
--                          time (relays that forward SSE as it came: coze.ngx.relay's fast path)
-- An event is { event = name, id = ..., raw = data text, data = decoded JSON or raw (lazy) }.
-- A stream's framing is its profile (PROFILES below, or one derived with _M.profile): the terminal
-- and error events, the events it watches and its soft end. Streams are extended through profiles,
-- never by replacing a stream's methods after new() (helpers may add plain data fields).
--
-- State (the invariant every path below keeps):
--   * Events are parsed ahead into at most one of two queues, in order: _q (event tables, Lua 5.4
--     next(): parser:next_events) or _rq (flat name, raw, id triples: LuaJIT and raw_events():
--     parser:next_raw). A queue is refilled only when both are empty, so the order is kept. (One
--     flat queue for both would build 5.4's next() tables in Lua: measured ~20% slower per event.)
--   * _hot is the set of names that need Lua (profile.hot: terminal, error, watched, soft end), or
--     false when every event must pass _deliver (a done_data profile, a queued partial event, or
--     after the soft end event). Events whose name is not in _hot are handed out as they are.
--   * `direct` (parser:set_direct) lets the C iterators (Lua 5.4 for-loops) parse events
--     themselves; it is on only while _hot is a set and both queues are empty.
--   * _partial / _rpartial: the event dispatched at the end of the body from an unterminated last
--     line, once queued (_rpartial is its index in _rq). _deliver fails it unless it is whole (its
--     data is JSON, or a terminal event's `[DONE]` / empty payload).
--   * last_event: the name of the last event _deliver handled (every event after a soft end).
--   * done_event: the done_data event that completed the stream; next() does not hand it out, a
--     relay forwards it (a browser's only sign that such a stream is complete).
--   * raw_chunks() reads the parser with its batch walk (parser:walk): it hands out what was
--     queued first (as records), and leaves the events of profile.stop (every event once _hot is
--     false after a soft end) to _deliver, one at a time, as next() does.
--   * finished: the handle and parser are released, both queues are NO_EVENTS, err is final; a
--     reader waiting in on_wait polls through _guard, which sees it and stops reading.
local core = require "coze.core"
local errors = require "coze.errors"
local json = require "coze.json"
local track = require("coze.scheduler").track
local wait = require "coze.wait"

local rawget, setmetatable = rawget, setmetatable
local await, await_into = wait.await, wait.await_into

local _M = {}

local DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
local BATCH = 64 -- events the parser hands over per call (all already received; no added latency)

-- Where event tables are built. Lua 5.4 builds them fastest in C (parser:next_events); LuaJIT
-- compiles a table constructor and is slow through the C API, so there next() builds each event
-- in Lua from the raw queue (parser:next_raw) as it is handed out.
local EVENTS_IN_LUA = type(rawget(_G, "jit")) == "table"

-- Lua 5.4: the for-loop forms iterate with C functions that parse each event straight from the
-- parser (SSEParser:iterator): no queue, no Lua frame per event. They come back to Lua (below,
-- "The C iterators") for reads, terminal and error events, and whenever next() has queued events.
local C_ITERATORS = not EVENTS_IN_LUA and core.sse_iterators

-- The one place event data is decoded: raw text -> value, or nil when it is not JSON.
local decode_data = json.decode

-- How each framing ends and reports errors (catalog/events.md). A profile:
--   terminal  { [name] = true }: the events that complete the stream (delivered, then the end)
--   errors    { [name] = fn(data) -> code, msg }: events that end it with an "api" error
--   watch     { [name] = fn(stream, ev) }: called before such an event is delivered
--   soft_end  a name: a body that ends right after this event ends normally (a workflow paused at
--             an Interrupt), not as a truncated stream
--   done_data data text that ends the stream and is not delivered (OpenAI-style `data: [DONE]`)
-- Only terminal, error, watched and soft-end names leave the fast paths.
local function compile_profile(p)
  p.watch = p.watch or {}
  local hot = {}
  for name in pairs(p.terminal) do hot[name] = true end
  for name in pairs(p.errors) do hot[name] = true end
  for name in pairs(p.watch) do hot[name] = true end
  if p.soft_end then hot[p.soft_end] = true end
  p.stop = hot -- the names the C iterators leave to Lua
  p.hot = not p.done_data and hot
  local names = {}
  for name in pairs(hot) do names[#names + 1] = name end
  table.sort(names)
  p.stop_names = #names > 0 and table.concat(names, "\n") .. "\n" or "" -- the same for parser:walk
  return p
end

local PROFILES = {
  chat = compile_profile {
    terminal = { done = true },
    errors = {
      error = function(d) return d.code, d.msg end,
      -- a failed chat is a failed call, also when `done` follows: its last_error is the error
      ["conversation.chat.failed"] = function(d)
        local e = type(d.last_error) == "table" and d.last_error or {}
        local msg = e.msg
        if type(msg) ~= "string" or msg == "" then msg = "chat " .. tostring(d.id) .. " failed" end
        return e.code, msg
      end,
    },
  },
  workflow = compile_profile {
    terminal = { Done = true },
    errors = { Error = function(d) return d.error_code, d.error_message end },
    soft_end = "Interrupt",
  },
  completions = compile_profile {
    terminal = {},
    errors = { error = function(d) return d.code, d.message or d.msg end },
    done_data = "[DONE]",
  },
}
_M.PROFILES = PROFILES

-- A profile derived from `base` (a name or a profile): fields replace the base's, except watch,
-- whose handlers are added to the base's. Make it once (at require time), not per stream.
function _M.profile(base, fields)
  local b = type(base) == "table" and base or PROFILES[base]
  if not b then error("coze: unknown stream profile '" .. tostring(base) .. "'", 2) end
  local p = {}
  for k, v in pairs(b) do p[k] = v end
  for k, v in pairs(fields) do p[k] = v end
  local watch = {}
  for k, v in pairs(b.watch) do watch[k] = v end
  for k, v in pairs(fields.watch or {}) do watch[k] = v end
  p.watch = watch
  return compile_profile(p)
end

local NO_EVENTS = {} -- the queue of a finished stream; never written

-- One SSE record from an event's parts: id, event and data lines (a multi-line payload as several
-- data lines), as pieces stored into buf after index n; returns the new n. A relay joins a batch of
-- records with one table.concat (no string per record). (Plain finds: LuaJIT compiles them; a
-- pattern class would end its trace.)
local function record_into(buf, n, name, raw, id)
  if raw:find("\n", 1, true) or raw:find("\r", 1, true) then
    raw = raw:gsub("\r\n", "\n"):gsub("\r", "\n"):gsub("\n", "\ndata: ")
  end
  if id then
    buf[n + 1], buf[n + 2], buf[n + 3] = "id: ", id, "\nevent: "
    n = n + 3
  else
    n = n + 1
    buf[n] = "event: "
  end
  buf[n + 1], buf[n + 2], buf[n + 3], buf[n + 4] = name, "\ndata: ", raw, "\n\n"
  return n + 4
end
_M.record_into = record_into

-- The same record as one string: what raw_chunks() hands out for an event whose bytes as received
-- are not at hand.
local function record(name, raw, id)
  local t = {}
  return table.concat(t, "", 1, record_into(t, 0, name, raw, id))
end
_M.record = record

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

-- handle: a transport handle whose headers are in; opts: profile (a name of PROFILES or a profile
-- from _M.profile), op, logid, http_status, headers, max_event_bytes, wait_ms, on_wait, on_close
-- (called once with the stream when it closes: close(), the end, or a 5.4 `break`; never by the
-- garbage collector), scrub (string -> string, applied to every server text that goes into an
-- error: error events' messages, codes and event copies). stream.completed is true once the
-- terminal event (or the soft end) arrived.
function _M.new(handle, opts)
  local profile = opts.profile or "chat"
  if type(profile) ~= "table" then profile = PROFILES[profile] end
  if not profile then error("coze: unknown stream profile '" .. tostring(opts.profile) .. "'", 2) end
  local s = setmetatable({
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
    on_end = opts.on_end, -- coze.log's end record (nil when nothing logs)
    scrub = opts.scrub,
    last_event = nil,
    finished = false,
    completed = false,
    done_event = false,
    eof = false,
    _q = {},            -- events parsed and not yet returned: _q[_qi], _q[_qi + 1], ...
    _qi = 1,
    _rq = NO_EVENTS,    -- raw_events' queue: name, raw, id at _rq[_ri], _rq[_ri + 1], _rq[_ri + 2], ...
    _ri = 1,
    _rpartial = false,  -- the _rq index of the event dispatched from an unterminated last line
    _hot = profile.hot,
    _partial = false,   -- the event dispatched from an unterminated last line, once queued
  }, Stream)
  if s._hot then s.parser:set_direct(true) end
  track(s) -- inside a coze.scheduler task: cancelling the task closes the stream
  return s
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
  self._rq, self._ri = NO_EVENTS, 1
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
  local on_end = self.on_end
  if on_end then self.on_end = nil on_end(self, h) end -- before the handle and parser go
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

-- Every later event takes the slow path (so last_event names the last one).
function Stream:_slow()
  self._hot = false
  local parser = self.parser
  if parser then parser:set_direct(false) end
end

-- The non-JSON payloads a terminal event may carry (catalog/events.md: `[DONE]`, an empty data line).
local DONE_TEXT = { ["[DONE]"] = true, [""] = true }

-- Whether an event dispatched from an unterminated last line is whole: its data is JSON, the
-- profile's done_data, or a terminal event's documented non-JSON payload. A `done` cut inside its
-- JSON is a truncated stream, not a completed one.
local function whole(profile, name, raw)
  if raw == profile.done_data or (profile.terminal[name] and DONE_TEXT[raw]) then return true end
  return decode_data(raw) ~= nil
end

-- The slow path of next(): watched, terminal, error and soft-end events, and the last one of a
-- truncated body.
function Stream:_deliver(ev)
  local name, raw = ev.event, ev.raw
  local profile = self.profile
  self.last_event = name
  if ev == self._partial and not whole(profile, name, raw) then
    local shown = self.scrub and self.scrub(name) or name
    return self:_fail(self:_error("stream", { msg = "stream truncated inside a '" .. shown .. "' event" }))
  end
  local fn = profile.watch[name]
  if fn then fn(self, ev) end
  if name == profile.soft_end then self:_slow() end
  if profile.done_data and raw == profile.done_data then
    self.done_event = ev
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
    if msg == nil then msg = raw end
    local shown, scrub = ev, self.scrub
    if scrub then -- the server's text, which may echo a credential; the event handed out stays as sent
      if type(msg) == "string" then msg = scrub(msg) end
      if type(code) == "string" then code = scrub(code) end
      shown = setmetatable({ event = name, raw = scrub(raw), id = ev.id }, Event)
    end
    self:_finish(self:_error("api", { code = code, msg = msg, event = shown }))
    return ev
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

-- The event queue is empty: hand over the raw queue (LuaJIT, or left by raw_events()), else parse
-- what is buffered.
function Stream:_refill()
  if self._rq[self._ri] then return self:_pop_raw() end
  local ok, err = self:_fill(EVENTS_IN_LUA)
  if not ok then return nil, err end
  return Stream.next(self)
end

-- The next event of the raw queue as an event table, through the same checks as next().
function Stream:_pop_raw()
  local q, i = self._rq, self._ri
  self._ri = i + 3
  local ev = setmetatable({ event = q[i], raw = q[i + 1], id = q[i + 2] }, Event)
  if i == self._rpartial then self._partial = ev end
  local hot = self._hot
  if hot and not hot[ev.event] then return ev end
  return self:_deliver(ev)
end

-- Parses what is buffered into the event queue (flat: the raw queue), reading more as needed.
-- true once events are queued; nil, err (or nil at the end) when the stream is finished.
function Stream:_fill(flat)
  while true do
    if self.finished then return nil, self.err end
    local parser = self.parser
    local q, n, partial
    if flat then
      q = self._rq
      if q == NO_EVENTS then
        q = {}
        self._rq = q
      end
      n, partial = parser:next_raw(q, BATCH)
    else
      q = self._q
      n, partial = parser:next_events(q, Event, BATCH)
    end
    if n == nil then
      return self:_fail(self:_error("stream", { msg = partial }))
    elseif n > 0 then
      if flat then self._ri = 1 else self._qi = 1 end
      if partial then
        if flat then self._rpartial = 3 * n - 2 else self._partial = q[n] end
        self._hot = false
      end
      return true
    end
    if self.eof then return self:_ended() end
    local ok, err = self:_read()
    if not ok then return nil, err end
  end
end

-- The body ended and every event was handed out: nil (a normal end) | nil, err.
function Stream:_ended()
  local soft = self.profile.soft_end
  if soft and self.last_event == soft then -- paused, not cut: a normal end
    self.completed = true
    self:_finish(nil)
    return nil
  end
  return self:_fail(self:_error("stream", { msg = "stream ended without its terminal event" }))
end

-- The handle as _read waits on it with on_wait: on_wait lets other coroutines run, and one of
-- them may close this stream (the many-streams pattern); the handle is closed then and would
-- raise, so every poll first asks whether the stream is still open (nil: treated as the end).
function Stream:_guarded()
  local g = self._guard
  if not g then
    local s, h = self, self.handle
    g = {
      read_into = h.read_into and function(_, parser, ms)
        if s.finished then return nil end
        return h:read_into(parser, ms)
      end,
      read = function(_, ms)
        if s.finished then return nil end
        return h:read(ms)
      end,
    }
    self._guard = g
  end
  return g
end

-- Waits for more of the body and feeds it to the parser: true, or nil, err once the stream is
-- finished (failed, or closed while waiting). At the end of the body the parser is finished (it
-- may still hand out a last record) and true is returned.
function Stream:_read()
  local h, parser = self.handle, self.parser
  if self.on_wait then h = self:_guarded() end
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
  return true
end

-- raw_events()' slow path: terminal, error, watched and partial events, refills.
-- name, raw, id | nil (normal end) | nil, err
function Stream:_next_raw()
  while true do
    local ev, err
    if self._q[self._qi] then -- events next() queued
      ev, err = self:next()
    elseif self._rq[self._ri] then
      ev, err = self:_pop_raw()
    else
      local ok
      ok, err = self:_fill(true)
      if not ok then return nil, err end
      local hot, q = self._hot, self._rq
      if hot and not hot[q[1]] then
        self._ri = 4
        return q[1], q[2], q[3]
      end
    end
    if ev then return ev.event, ev.raw, ev.id end
    if err or self.finished then return nil, err end
  end
end

-- What the fast paths of iterate do not hand out: the stream's next(), and at the end close (and
-- raise the error, if any).
local function iterate_slow(s)
  local ev, err = s:next()
  if ev then return ev end
  s:close()
  if err then error(err, 0) end
  return nil
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
  return iterate_slow(s)
end

if EVENTS_IN_LUA then
  iterate = function(s)
    local hot = s._hot
    if hot then -- Stream.next's fast path on LuaJIT (_refill, _pop_raw), inline
      local i = s._ri
      local q = s._rq
      local name = q[i]
      if name and not hot[name] then
        s._ri = i + 3
        return setmetatable({ event = name, raw = q[i + 1], id = q[i + 2] }, Event)
      end
    end
    return iterate_slow(s)
  end
end

-- The C iterators (Lua 5.4) -------------------------------------------------------------------
-- SSEParser:iterator hands out plain events itself and calls slow() for the rest (csrc/lsse.c):
-- slow(s, name, raw, id, partial) for an event it parsed but must not hand out (terminal, error,
-- cut at the end of the body), slow(s) when the parser needs bytes, slow(s, false) when it has no
-- direct path (events queued by next(), a stream past its soft end, a parser error, a closed stream).
-- The iterator keeps the parser it was made for: a stream never replaces its parser.

-- true: bytes were fed, parse again; else the next event through next(): ev | nil | nil, err.
function Stream:_more(use_next)
  if not use_next and not self.eof then
    local ok, err = self:_read()
    if ok then return true end
    return nil, err
  end
  local ev, err = self:next()
  if ev and self._hot and not self.finished and not self._q[self._qi] and not self._rq[self._ri] then
    self.parser:set_direct(true) -- what next() queued is handed out: the C side goes on
  end
  return ev, err
end

-- events()' slow(): true, the event, or nil at the end; a failure closes the stream and raises.
local function events_slow(s, name, raw, id, partial)
  local ev, err
  if name then -- parsed by C, through next()'s checks
    ev = setmetatable({ event = name, raw = raw, id = id }, Event)
    if partial then s._partial = ev end
    ev, err = s:_deliver(ev)
  else
    ev, err = s:_more(name == false)
  end
  if ev then return ev end
  s:close()
  if err then error(err, 0) end
  return nil
end

-- raw_events()' slow(): the same as name, raw, id.
local function raw_slow(s, name, raw, id, partial)
  local ev = events_slow(s, name, raw, id, partial)
  if ev == true or ev == nil then return ev end
  return ev.event, ev.raw, ev.id
end

-- for ev in stream:events() do ... end   (the fourth value closes the stream on break in 5.4)
function Stream:events()
  local parser = self.parser
  if C_ITERATORS and parser then
    return parser:iterator("events", events_slow, self.profile.stop, Event), self, nil, self
  end
  return iterate, self, nil, self
end

local function iterate_raw(s)
  local hot = s._hot
  if hot then -- the common event: three slots of the raw queue, no table
    local i = s._ri
    local q = s._rq
    local name = q[i]
    if name and not hot[name] then
      s._ri = i + 3
      return name, q[i + 1], q[i + 2]
    end
  end
  local name, raw, id = s:_next_raw()
  if name then return name, raw, id end
  s:close()
  if raw then error(raw, 0) end
  return nil
end

-- for name, raw, id in stream:raw_events() do ... end: events() for relays, without an event table
-- (raw is ev.raw, id is nil when the stream never set one). Same contract: terminal and error
-- events are delivered, then a failure raises the error object; break closes the stream (5.4).
function Stream:raw_events()
  local parser = self.parser
  if C_ITERATORS and parser then
    return parser:iterator("raw", raw_slow, self.profile.stop), self, nil, self
  end
  return iterate_raw, self, nil, self
end

-- raw_chunks() ---------------------------------------------------------------------------------
-- The next chunk: chunk, n (events in it) | nil (normal end) | nil, err. A walk of the parser takes
-- every complete event buffered as one string of their bytes as received; it stops at the events
-- of profile.stop (and one cut at the end of the body), which go through _deliver as in next() and
-- then end the chunk (their bytes too, when _deliver hands them out).
function Stream:_next_chunk()
  while true do
    if self.finished then return nil, self.err end
    if self._q[self._qi] or self._rq[self._ri] then -- parsed ahead by next(): their bytes are gone
      local ev, err = self:next()
      if not ev then return nil, err end
      return record(ev.event, ev.raw, ev.id), 1
    end
    local profile = self.profile
    local names = profile.stop_names
    if not self._hot and profile.hot then names = false end -- after a soft end: one at a time
    local chunk, n, name, raw, id, partial, bytes = self.parser:walk(names, profile.done_data)
    if chunk == nil then return self:_fail(self:_error("stream", { msg = n })) end
    if name then
      local ev = setmetatable({ event = name, raw = raw, id = id }, Event)
      if partial then self._partial = ev end
      if self:_deliver(ev) or self.done_event then -- the done_data event is not handed to next(), but relayed
        bytes = bytes or record(name, raw, id)
        chunk, n = chunk == "" and bytes or chunk .. bytes, n + 1
      end
      if chunk ~= "" then return chunk, n end -- a failure _deliver found is the next call's
    elseif chunk ~= "" then
      return chunk, n
    elseif self.eof then
      return self:_ended()
    else
      local ok, err = self:_read()
      if not ok then return nil, err end
    end
  end
end

local function iterate_chunks(s)
  local chunk, n = s:_next_chunk()
  if chunk then return chunk, n end
  s:close()
  if n then error(n, 0) end
  return nil
end

-- for chunk, n in stream:raw_chunks() do ... end: the stream as the SSE bytes it came in (CR, CRLF,
-- comments, id lines as received; a BOM at its start dropped), a batch of whole events per chunk:
-- each chunk ends on an event boundary, so a relay can write it as it is and anything it writes
-- after still starts a record; n is the number of events in it (0 for comments alone). Terminal and
-- error events are recognised as next() recognises them: they end their chunk, which is handed out
-- (the terminal or error event included), then the loop ends or raises the error object (a cut
-- stream or failed chat never looks complete). break closes the stream (5.4). An event parsed
-- ahead by next() before comes as a record made from its parts. max_event_bytes also bounds an
-- event's bytes as received (framing and comments included).
function Stream:raw_chunks()
  return iterate_chunks, self, nil, self
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
