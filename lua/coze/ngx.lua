-- What an nginx handler needs beyond the client (loaded only inside nginx's lua module):
--   relay(stream, opts)       a stream to the browser as Server-Sent Events, without blocking the worker
--   shared_store(dict_name)   the token cache's store on an ngx.shared dict (every worker, one token)
--   shared_lock(dict_name)    the token cache's lock on it (one token request per refresh)
local json = require "coze.json"
local record = require("coze.stream").record
local record_into = require("coze.stream").record_into

local ngx = rawget(_G, "ngx")
if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then
  error("coze.ngx is for nginx's lua module (OpenResty) only", 2)
end

local concat, tostring, type = table.concat, tostring, type

local _M = {}

-- One SSE record: event/id/data lines (a multi-line payload as several data lines).
_M.record = record

-- The error event a browser gets when the upstream failed after the headers went out, so a failed
-- answer never looks complete.
local function error_record(err)
  local data = json.encode {
    code = err.code or err.kind, msg = tostring(err.msg or err), logid = err.logid,
  } or '{"code":"relay","msg":"upstream failed"}'
  return "event: error\ndata: " .. data .. "\n\n"
end

local function start_headers()
  if ngx.headers_sent then return end
  local h = ngx.header
  h["Content-Type"] = "text/event-stream"
  h["Cache-Control"] = "no-cache"
  h["X-Accel-Buffering"] = "no"
end

-- The browser went away (needs `lua_check_client_abort on;`): close the upstream stream, which
-- closes its connection and, for chat:stream{ cancel_on_close = true }, cancels the chat.
local function watch_abort(stream, opts)
  local ok = ngx.on_abort(function()
    pcall(stream.close, stream)
    if opts.on_abort then pcall(opts.on_abort, stream) end
    ngx.exit(499)
  end)
  return ok
end

-- map(ev) -> string (the new data, same event name) | table { event?, data = string|table, id? } | nil (skip)
-- Its record's pieces go into buf after index nb; returns the new nb.
local function mapped(ev, map, buf, nb)
  local out = map(ev)
  if out == nil then return nb end
  if type(out) == "string" then return record_into(buf, nb, ev.event, out, ev.id) end
  if type(out) ~= "table" then error("coze.ngx.relay: opts.map must return a string, a table or nil", 0) end
  local data = out.data
  if type(data) ~= "string" then data = json.encode(data) or "null" end
  return record_into(buf, nb, out.event or ev.event, data, out.id)
end

-- relay(stream, opts) -> events relayed | nil, err
-- opts: map (see mapped), flush ("event": ngx.flush(true) per event; "batch" (default): per batch of
-- events that arrived together), on_abort (fn(stream), called when the browser went away).
-- Without map, the fast path: stream:raw_chunks(), the events' bytes as received, one write and one
-- flush per batch of whole events (whatever flush says: a batch is what was there to parse).
-- Both paths relay the terminal and error events, and a profile's done_data record (the
-- completions' `data: [DONE]`, which map never sees): without it a browser could not tell a complete
-- answer from a cut one.
function _M.relay(stream, opts)
  opts = opts or {}
  local map, per_event = opts.map, opts.flush == "event"
  start_headers()
  watch_abort(stream, opts)
  local n, buf, nb = 0, {}, 0
  local failed
  local function flush()
    -- nothing written since the last flush (a map skipped those events): ngx.flush would answer
    -- "nothing to flush", which is no failure of the client's
    if nb == 0 then return true end
    local ok, werr = ngx.print(nb == 1 and buf[1] or concat(buf, "", 1, nb))
    for i = nb, 1, -1 do buf[i] = nil end
    nb = 0
    if not ok then return nil, werr end
    local ok, ferr = ngx.flush(true)
    if not ok then return nil, ferr end
    return true
  end
  -- flushes when the next event would need a read (nothing parsed ahead), so a batch is what came
  -- in together and nothing waits in our buffer while the upstream is quiet
  local function drained()
    return stream._rq[stream._ri] == nil and stream._q[stream._qi] == nil
  end
  -- k events went into buf (rec: one more piece of it)
  local function put(rec, k)
    n = n + k
    if rec then
      nb = nb + 1
      buf[nb] = rec
    end
    if per_event or stream.finished or drained() then
      local ok, werr = flush()
      if not ok then
        stream:close()
        error({ relay_write = tostring(werr) })
      end
    end
  end
  local ok, e
  if map then
    -- events(): the stream's inlined fast path; its failure raises the error object, as raw_chunks()
    ok, e = pcall(function()
      for ev in stream:events() do
        local before = nb
        nb = mapped(ev, map, buf, nb)
        put(nil, nb > before and 1 or 0) -- what map skipped was not relayed
      end
      -- a done_data record (`data: [DONE]`) is the browser's sign of a complete answer, as on the
      -- fast path: relayed, not through map (events() hands no event out for it)
      local done = stream.done_event
      if done then
        nb = record_into(buf, nb, done.event, done.raw, done.id)
        put(nil, 1)
      end
    end)
  else
    -- raw_chunks(): whole events as received, a batch per chunk; its failure raises the error object
    local iter, state = stream:raw_chunks()
    ok, e = pcall(function()
      for chunk, k in iter, state do put(chunk, k) end
    end)
  end
  if not ok then
    if type(e) == "table" and e.relay_write then
      return nil, require("coze.errors").new("transport", { msg = "writing to the client: " .. e.relay_write })
    end
    if getmetatable(e) == nil or e.kind == nil then -- a bug or map's error: not ours to hide
      stream:close() -- but the upstream (and, for a chat, its cancel) does not wait for the request's end
      error(e, 0)
    end
    failed = e
  end
  if failed then
    -- an api error came as an `error` event, which was relayed above; anything else (reset,
    -- truncation, timeouts) gets one here
    if failed.kind ~= "api" then
      nb = nb + 1
      buf[nb] = error_record(failed)
    end
    flush()
    stream:close()
    return nil, failed
  end
  flush()
  stream:close()
  return n
end

-- shared_store(dict_name): store:get(key) / store:set(key, entry), entries kept as JSON.
local Store = {}
Store.__index = Store
Store.__tostring = function() return "coze.ngx.SharedStore (redacted)" end

local function dict_of(where, name)
  local d = ngx.shared[name]
  if not d then
    error("coze.ngx." .. where .. ": no shared dict '" .. tostring(name)
      .. "': add `lua_shared_dict " .. tostring(name) .. " 1m;` to the http block of nginx.conf", 3)
  end
  return d
end

function _M.shared_store(dict_name)
  return setmetatable({ dict = dict_of("shared_store", dict_name) }, Store)
end

function Store:get(key)
  local s = self.dict:get("coze:token:" .. key)
  if s == nil then return nil end
  return json.decode(s)
end

function Store:set(key, entry)
  local s = json.encode(entry)
  local ok, err = self.dict:set("coze:token:" .. key, s)
  if not ok then error("coze.ngx.shared_store: cannot store the token: " .. tostring(err), 2) end
end

-- shared_lock(dict_name): one holder per key across the workers, by dict:add with an expiry (a
-- crashed holder's lock runs out); waiters look again every 10 ms through on_wait (ngx.sleep).
local Lock = {}
Lock.__index = Lock
Lock.__tostring = function() return "coze.ngx.SharedLock" end

local counter = 0

function _M.shared_lock(dict_name)
  return setmetatable({ dict = dict_of("shared_lock", dict_name), safe_until = {} }, Lock)
end

function Lock:lock(key, opts)
  local on_wait = opts and opts.on_wait
  local ttl = (opts and opts.timeout_ms or 120000) / 1000
  counter = counter + 1
  local owner = ngx.worker.pid() .. ":" .. counter .. ":" .. ngx.now()
  local k = "coze:lock:" .. key
  while true do
    ngx.update_time() -- the dict's expiry starts from nginx's cached time: make it now
    local t0 = ngx.now()
    local ok, err = self.dict:add(k, owner, ttl)
    if ok then
      self.safe_until[owner] = t0 + ttl - math.min(1, ttl / 2)
      return owner
    end
    if err ~= "exists" then return nil, err end
    if not on_wait then return nil, "busy" end
    on_wait(10)
  end
end

-- A shared dict has no compare-and-delete: a lock that expired between our get and our delete could
-- already be another worker's. Nothing yields between the two calls, so only its own expiry can end
-- our hold there: a lock within a second of it (half its time, for short ones) is left to run out.
function Lock:unlock(key, owner)
  local k = "coze:lock:" .. key
  local safe_until = self.safe_until[owner]
  self.safe_until[owner] = nil
  ngx.update_time()
  if safe_until and ngx.now() < safe_until and self.dict:get(k) == owner then self.dict:delete(k) end
end

return _M
