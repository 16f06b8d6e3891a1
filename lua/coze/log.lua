-- Watching what the SDK does: one record per HTTP attempt (API and OAuth token calls), one at the
-- end of each stream. A client without a logger (and without COZE_LOG) has no sink: the pipeline
-- and streams test one field and build nothing.
--
-- A record is a plain table: level ("debug" | "info" | "warn"), event ("attempt" | "stream_end"),
-- op, method, url, attempt, status, logid, outcome ("ok" | "retry" | "replay" | "fail"),
-- wait_ms, error, connect_ms, first_byte_ms, total_ms, reused; stream_end: events, bytes,
-- completed, last_event. Never a header, a body, a token or a secret: the URL loses its userinfo
-- and the values of credential-named query keys, and every text goes through coze.scrub with the
-- attempt's token.
local args = require "coze.args"
local scrub_mod = require "coze.scrub"

local scrub = scrub_mod.scrub
local format, gsub, lower = string.format, string.gsub, string.lower

local _M = {}

_M.LEVELS = { debug = 1, info = 2, warn = 3, error = 4 }
local LEVELS = _M.LEVELS

-- Query keys whose values are never logged (matched as substrings of the lowercased key).
local SECRET_KEYS = { "token", "secret", "password", "passwd", "signature", "sig", "key", "code",
  "verifier", "auth", "credential", "session", "state" }

local function secret_key(k)
  k = lower(k)
  for _, s in ipairs(SECRET_KEYS) do
    if k:find(s, 1, true) then return true end
  end
  return false
end

-- url(u, secrets) -> u without userinfo, credential-named query values and anything scrub finds.
function _M.url(u, secrets)
  if type(u) ~= "string" then return u end
  u = gsub(u, "^(%a[%w+.-]*://)[^/?#]*@", "%1")
  u = gsub(u, "([?&])([^=&#]*)=([^&#]*)", function(sep, k, v)
    if v ~= "" and secret_key(k) then v = "[redacted]" end
    return sep .. k .. "=" .. v
  end)
  return scrub(u, secrets)
end

local function ms(s)
  if type(s) ~= "number" then return nil end
  return math.floor(s * 10000 + 0.5) / 10
end

-- Adds the transport's timings of handle h to record r (a transport without info adds none).
function _M.timings(r, h)
  if not h or not h.info then return end
  local info = h:info()
  if type(info) ~= "table" then return end
  r.connect_ms = ms(info.connect_s)
  r.first_byte_ms = ms(info.starttransfer_s)
  r.total_ms = ms(info.total_s)
  if info.num_connects then r.reused = info.num_connects == 0 end
  r.bytes = info.download_bytes
end

-- The order of a formatted line's fields (then any others, sorted).
local ORDER = { "event", "op", "method", "url", "attempt", "status", "logid", "outcome", "wait_ms",
  "error", "connect_ms", "first_byte_ms", "total_ms", "reused", "events", "bytes", "completed",
  "last_event" }
local IN_ORDER = {}
for _, k in ipairs(ORDER) do IN_ORDER[k] = true end

local function value(v)
  if type(v) == "number" then
    if v == math.floor(v) and v > -1e15 and v < 1e15 then return format("%d", v) end
    return format("%.1f", v)
  end
  v = tostring(v)
  -- quoted (control characters escaped) when it holds anything a terminal or a log parser reads
  if v == "" or v:find("[%s%c\"=]") then return (format("%q", v):gsub("\\\n", "\\n")) end
  return v
end

-- format(record) -> one logfmt line: "coze level=debug event=attempt op=chat.create ...".
function _M.format(r)
  local out = { "coze level=" .. tostring(r.level) }
  for _, k in ipairs(ORDER) do
    local v = r[k]
    if v ~= nil then out[#out + 1] = k .. "=" .. value(v) end
  end
  local extra = {}
  for k in pairs(r) do
    if k ~= "level" and not IN_ORDER[k] then extra[#extra + 1] = tostring(k) end
  end
  table.sort(extra)
  for _, k in ipairs(extra) do out[#out + 1] = k .. "=" .. value(r[k]) end
  return table.concat(out, " ")
end

-- The sink: emit(record) hands the record to the user's logger. A logger that raises does not
-- break the call (a stream's next() never raises): the first failure is written to stderr.
local Sink = {}
Sink.__index = Sink

local function deliver(sink, r)
  local fn = sink.fn
  if fn then return fn(r) end
  local obj = sink.obj
  local m = obj[r.level]
  if type(m) == "function" then return m(obj, _M.format(r)) end
end

function Sink:emit(r)
  if LEVELS[r.level] < self.min then return end
  local ok, err = pcall(deliver, self, r)
  if not ok and not self.failed then
    self.failed = true
    io.stderr:write("coze: the logger raised: ", tostring(err), "\n")
  end
end

local function stderr_line(r)
  io.stderr:write(_M.format(r), "\n")
end

-- The environment's logger: COZE_LOG=debug|info|warn|error writes records at that level and above
-- to stderr; unset, empty, "off" or an unknown value: none.
function _M.from_env()
  local v = os.getenv("COZE_LOG")
  if not v then return nil end
  v = lower(v)
  if not LEVELS[v] then return nil end
  return _M.sink { fn = stderr_line, min = LEVELS[v] }
end

-- new(where, logger) -> sink | nil. logger: a function(record), or an object with level-named
-- methods (debug, info, warn, error: LuaLogging and the like) called as obj:info(line); nil: the
-- environment's (COZE_LOG), if any. level: as coze.args (2: the caller of new's caller).
function _M.new(where, logger, level)
  if logger == nil then return _M.from_env() end
  if type(logger) == "function" then return _M.sink { fn = logger, min = 1 } end
  local t = type(logger)
  if t == "table" or t == "userdata" then
    for name in pairs(LEVELS) do
      if type(logger[name]) == "function" then return _M.sink { obj = logger, min = 1 } end
    end
  end
  args.fail(where, "field 'logger' must be a function(record) or an object with debug/info/warn/error methods",
    level or 2)
end

-- The record of an attempt the pipeline made; r already holds what the attempt saw (status, logid,
-- timings, token). outcome: what the pipeline does next; err: the attempt's error.
local OUTCOME_LEVEL = { ok = "debug", retry = "info", replay = "info", fail = "warn" }

function _M.attempt(sink, p, r, outcome, err, wait_ms)
  local token = r.token
  r.token = nil
  local secrets = p.secrets -- an OAuth call's (client secret, refresh token, verifier, ...)
  if token then
    local all = { token }
    for _, v in pairs(secrets or {}) do all[#all + 1] = v end
    secrets = all
  end
  r.level = OUTCOME_LEVEL[outcome]
  r.event = "attempt"
  r.op = p.op
  r.method = p.request.method
  r.url = _M.url(p.request.url, secrets)
  r.outcome = outcome
  r.wait_ms = wait_ms
  if err then
    r.status = r.status or err.http_status
    r.logid = r.logid or err.logid
    r.error = scrub(tostring(err), secrets)
  end
  if r.logid then r.logid = scrub(r.logid, secrets) end
  sink:emit(r)
end

-- A stream's end hook (stream opts.on_end): called once, before its handle and parser are released.
local function stream_end(sink)
  return function(s, h)
    local r = { level = s.err and "warn" or "debug", event = "stream_end", op = s.op, logid = s.logid,
      status = s.http_status, completed = s.completed, last_event = s.last_event }
    _M.timings(r, h)
    r.reused, r.connect_ms = nil, nil
    local parser = s.parser
    if parser then r.events = parser:events() end
    if s.err then r.error = s.scrub and s.scrub(tostring(s.err)) or scrub(tostring(s.err)) end
    sink:emit(r)
  end
end

-- A sink from its fields (fn or obj, min): one end-of-stream hook per sink, made here once.
function _M.sink(fields)
  local sink = setmetatable(fields, Sink)
  sink.on_stream_end = stream_end(sink)
  return sink
end

return _M
