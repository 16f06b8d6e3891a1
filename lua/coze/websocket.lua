-- Realtime APIs over WebSocket: client.websockets.chat, .audio.speech, .audio.transcriptions and
-- .audio.simult_interpretation, each with connect{...} -> session | nil, err. Framing, masking, the
-- handshake and base64 are in the C core; the connection comes from the client's transport
-- (t:websocket: libcurl's core.ws_open, or inside nginx a cosocket, coze.transport.ngx_ws), so one
-- session object runs on both. This module builds the handshake request, turns answers and close
-- codes into coze.errors, and waits in Lua (wait_ms / on_wait) so one Lua state can drive many
-- sessions from coroutines.
local core = require "coze.core"
local args = require "coze.args"
local errors = require "coze.errors"
local header = require "coze.header"
local json = require "coze.json"
local url = require "coze.url"
local useragent = require "coze.useragent"
local wav = require "coze.wav"
local wait = require "coze.wait"
local scheduler = require "coze.scheduler"

local _M = {}

local DAY_MS = 86400000
local DEFAULTS = {
  handshake_timeout_ms = 10000, -- from connected to the 101 answer
  close_timeout_ms = 1000,      -- how long close() waits for the server's close frame
  idle_timeout_ms = 0,          -- 0: no idle limit (a voice session may be quiet for long)
}

-- connect{} keys that configure the session; every other key goes to the query string.
local SESSION_OPTIONS = {
  wait_ms = "number", on_wait = "function", idle_timeout_ms = "number", connect_timeout_ms = "number",
  handshake_timeout_ms = "number", close_timeout_ms = "number", max_message_bytes = "number",
  headers = "table", query = "table",
}

-- coze.new options the sessions take over from the client.
local CLIENT_OPTIONS = { "ws_base_url", "wait_ms", "on_wait", "proxy", "no_proxy", "ca_file", "ca_path",
  "tls_verify", "max_message_bytes" }

local monotonic_ms = core.monotonic_ms
local base64_decode = core.base64_decode

---------------------------------------------------------------------------------------------------
-- Events

-- Where each downlink event carries base64 audio (data.<field>).
local AUDIO_FIELD = {
  ["conversation.audio.delta"] = "content",
  ["speech.audio.update"] = "delta",
  ["simult_interpretation.audio.delta"] = "delta",
}

local Event = {}
_M.Event = Event

local ws_event, ws_event_audio = core.ws_event, core.ws_event_audio
local ws_close_code_ok, utf8_check = core.ws_close_code_ok, core.utf8_check

-- The whole message through the JSON decoder: data and detail (and the envelope when the scan
-- could not give it). A message that is not JSON leaves data nil and sets ev.decode_error.
local function decode_all(ev)
  local obj, derr = json.decode(rawget(ev, "raw"))
  rawset(ev, "_decoded", true)
  if type(obj) ~= "table" then
    rawset(ev, "decode_error", "malformed event JSON: " .. tostring(derr or "not an object"))
    return
  end
  rawset(ev, "data", obj.data)
  rawset(ev, "detail", obj.detail)
  if rawget(ev, "event_type") == nil then rawset(ev, "event_type", obj.event_type) end
  if rawget(ev, "id") == nil then rawset(ev, "id", obj.id) end
  if rawget(ev, "logid") == nil and type(obj.detail) == "table" then rawset(ev, "logid", obj.detail.logid) end
end

-- ev.data and ev.detail are decoded on first access; ev.audio (the decoded bytes of the event's
-- base64 audio) is taken straight out of the text and decoded in C.
function Event.__index(ev, k)
  if k == "audio" then
    local bytes = ws_event_audio(ev, AUDIO_FIELD) -- stored in ev.audio by the same call
    if bytes == false then -- escapes or an odd shape: through the decoder
      local data = ev.data
      local b64 = type(data) == "table" and data[AUDIO_FIELD[rawget(ev, "event_type")]]
      bytes = type(b64) == "string" and base64_decode(b64) or nil
      rawset(ev, "audio", bytes)
    end
    return bytes
  end
  if (k == "data" or k == "detail" or k == "decode_error") and not rawget(ev, "_decoded") then
    decode_all(ev)
    return rawget(ev, k)
  end
  return nil
end

-- The event of a text message whose envelope the C scan could not read (escapes, odd shapes).
local function decoded_event(text)
  local ev = { raw = text }
  decode_all(ev)
  if ev.decode_error then return nil, ev.decode_error end
  return setmetatable(ev, Event)
end

-- ev | nil, decode error. The table is built in C (core.ws_event: raw, event_type, id, logid and
-- where data is, for ev.audio), as the connections' recv/take build it when given Event.
local function new_event(text)
  local ev = ws_event(text, Event)
  if ev then return ev end
  return decoded_event(text)
end
_M.new_event = new_event

---------------------------------------------------------------------------------------------------
-- Sessions

local Session = {}
Session.__index = Session
_M.Session = Session

function Session.__tostring(s)
  return "coze.websockets session (" .. s.op .. ", " .. (s.conn and "open" or "closed") .. ")"
end

local function closed_error(self)
  return errors.new("transport", { op = self.op, msg = "the session is closed" })
end

local function conn_error(self, msg, kind, code)
  local e
  if kind == "timeout" then
    e = errors.new("timeout", { op = self.op, timeout = "poll", msg = msg })
  else
    e = errors.new("transport", { op = self.op, msg = msg, close_code = code })
  end
  e.logid = self.logid
  return e
end

-- Drops the connection at once (no close handshake).
local function drop(self)
  if self.conn then
    self.conn:close()
    self.conn = nil
  end
end

-- Writes queued bytes, waiting through on_wait: true | nil, err.
function Session:_flush(wait_ms)
  local ok, msg, kind = self.conn:flush(wait_ms)
  if ok == nil then return nil, conn_error(self, msg, kind) end
  return ok
end

local function sent(self, ok, msg, kind)
  if ok == nil then
    local err = conn_error(self, msg, kind)
    drop(self)
    self.final = err
    return nil, err
  end
  if ok == false then
    local done, err = wait.await(self, "_flush", self.wait_ms, self.on_wait)
    if not done then
      drop(self)
      self.final = err
      return nil, err
    end
  end
  return true
end

local function next_id(self)
  self.seq = self.seq + 1
  return self.id_prefix .. self.seq
end

--- ws:send(event_type, data[, id]) -> id | nil, err. One text frame {id, event_type, data}.
function Session:send(event_type, data, id)
  if type(event_type) ~= "string" or event_type == "" then
    args.fail(self.op .. ":send", "event_type must be a non-empty string")
  end
  if data ~= nil and type(data) ~= "table" then args.fail(self.op .. ":send", "data must be a table or nil") end
  if id ~= nil and (type(id) ~= "string" or id == "") then
    args.fail(self.op .. ":send", "id must be a non-empty string or nil")
  end
  if not self.conn then return nil, self.final or closed_error(self) end
  id = id or next_id(self)
  local text, jerr = json.encode({ id = id, event_type = event_type, data = data })
  if not text then args.fail(self.op .. ":send", "cannot encode the event as JSON: " .. tostring(jerr)) end
  local ok, err = sent(self, self.conn:send(text))
  if not ok then return nil, err end
  return id
end

-- The text between a delta's id and its base64, by event type.
local DELTA_MID = setmetatable({}, { __index = function(t, event_type)
  local mid = '","event_type":"' .. event_type .. '","data":{"delta":"'
  t[event_type] = mid
  return mid
end })

-- One text frame {"id":..,"event_type":..,"data":{"delta":base64(bytes)}}: the id's number and the
-- base64 written straight into the frame in C, no JSON encoder and no strings per frame in Lua.
-- With i and n: the bytes bytes:sub(i, i + n - 1), without making that string. Returns true, or the
-- id when want_id.
local function send_delta(self, event_type, bytes, i, n, want_id)
  local conn = self.conn
  if not conn then return nil, self.final or closed_error(self) end
  local seq = self.seq + 1
  self.seq = seq
  local ok, msg, kind = conn:send_b64(self.id_head, bytes, '"}}', i, n, seq, DELTA_MID[event_type])
  if ok ~= true then -- queued behind a full socket, or failed
    local err
    ok, err = sent(self, ok, msg, kind)
    if not ok then return nil, err end
  end
  return want_id and self.id_prefix .. seq or true
end

--- ws:cork() ... ws:uncork(): the frames sent in between may share writes (one write per 64 KiB
-- queued, the rest at uncork), for a batch that needs no per-frame latency. Without it every send
-- is written at once. Corks nest; next() and flushes still write what is queued. true | nil, err.
function Session:cork()
  if not self.conn then return nil, self.final or closed_error(self) end
  self.conn:cork(true)
  return true
end

function Session:uncork()
  if not self.conn then return nil, self.final or closed_error(self) end
  return sent(self, self.conn:cork(false))
end

-- One look for the next message or close (for coze.wait, which calls it until it is not false):
-- kind ("text", "binary", "close", "idle") | false | nil, msg; the rest of recv's answer (data, or
-- code and reason; or the error kind and close code) is left in self._a and self._b.
function Session:_recv(w)
  local conn, idle = self.conn, self.idle_timeout_ms
  -- a connection that cannot poll (a cosocket) waits for the whole idle time, not in slices, when
  -- no on_wait wants control back (each slice's timeout would be a line in nginx's error log)
  if conn.can_poll == false and not self.on_wait then w = DAY_MS end
  if idle > 0 then
    local left = idle - conn:idle_ms()
    if left <= 0 then return "idle" end
    if left < w then w = math.ceil(left) end
  end
  local kind, a, b, c = conn:recv(w, Event)
  if kind == nil then
    self._a, self._b = b, c
    return nil, a
  end
  self._a, self._b = a, b
  return kind
end

-- Inside a coze.scheduler task: would the wait call `what` find something now? (Never blocks: the
-- socket is polled with timeout 0, or the connection's buffered bytes answer; so a silent session
-- costs one poll per step and its task is not resumed.)
local READY_WHAT = { _recv = "recv", _flush = "flush", _handshake = "handshake", _closing = "recv" }

function Session:ready(_, what)
  local conn = self.conn
  if not conn then return true end
  local due = self._due
  if due and monotonic_ms() >= due then return true end
  if what == "_recv" and self.idle_timeout_ms > 0 and conn:idle_ms() >= self.idle_timeout_ms then return true end
  return conn:ready(READY_WHAT[what] or "recv")
end

local function receive(self)
  local kind, msg = wait.await(self, "_recv", self.wait_ms, self.on_wait)
  if kind == nil then return nil, msg, self._a, self._b end
  return kind, self._a, self._b
end

--- ws:next() -> event | nil (closed normally) | nil, err. Never raises.
function Session:next()
  local conn = self.conn
  if not conn then return nil, self.final end
  -- a message already received is taken without the waiting loop (no poll, no syscall); a task
  -- still reaches its scheduler checkpoint at every read, which brings at most 64 KiB
  local kind, a, b, c = false
  local take = conn.take
  if take then kind, a, b, c = take(conn, Event) end
  if kind == false then kind, a, b, c = receive(self) end
  if kind == "event" then return a end
  if kind == "text" then
    local ev, derr = new_event(a)
    if not ev then return nil, errors.new("decode", { op = self.op, logid = self.logid, msg = derr }) end
    return ev
  elseif kind == "binary" then
    return setmetatable({ binary = true, raw = a }, Event)
  elseif kind == "close" then
    self.conn:flush(0) -- the echo of the close frame
    drop(self)
    if a == 1000 or a == 1005 then return nil end
    self.final = errors.new("transport", { op = self.op, logid = self.logid, close_code = a, close_reason = b,
      msg = "the server closed the session with code " .. a .. (b ~= "" and (": " .. b) or "") })
    return nil, self.final
  elseif kind == "idle" then
    self.final = errors.new("timeout", { op = self.op, logid = self.logid, timeout = "idle",
      msg = "nothing received for " .. self.idle_timeout_ms .. " ms" })
    self.conn:send_close(1001, "idle timeout")
    drop(self)
    return nil, self.final
  end
  -- a: message, b: kind ("protocol", "closed", "transport", "timeout"), c: close code
  self.final = errors.new("transport", { op = self.op, logid = self.logid, msg = a, close_code = c or 1006 })
  drop(self)
  return nil, self.final
end

local function iterate(self)
  local ev, err = self:next()
  if ev == nil and err ~= nil then error(err, 0) end
  return ev
end

--- for ev in ws:events() do ... end: raises the error object on nil, err; on Lua 5.4 a break
-- closes the session (the session is the loop's closing value).
function Session:events()
  return iterate, self, nil, self
end

--- ws:close([code[, reason]]): a close frame, a short wait for the server's, then the socket is
-- closed. Idempotent. Returns true. A code a close frame may not carry (1005, 1006, 1015, ...) or a
-- reason that is not UTF-8 raises; a reason over 123 bytes is cut at a character boundary.
function Session:close(code, reason)
  if code ~= nil and (type(code) ~= "number" or code ~= math.floor(code) or code < 0 or code > 65535
      or not ws_close_code_ok(code)) then
    args.fail(self.op .. ":close", "code " .. tostring(code) .. " may not be sent in a close frame "
      .. "(RFC 6455 section 7.4: 1000-1003, 1007-1014, 3000-4999)")
  end
  if reason ~= nil and type(reason) ~= "string" then args.fail(self.op .. ":close", "reason must be a string") end
  if reason ~= nil and not utf8_check(reason) then args.fail(self.op .. ":close", "reason must be UTF-8") end
  local conn = self.conn
  if not conn then return true end
  if conn:send_close(code or 1000, reason or "") ~= nil then
    self._due = monotonic_ms() + self.close_timeout_ms
    wait.await(self, "_closing", self.wait_ms, self.on_wait)
    self._due = nil
  end
  drop(self)
  return true
end
-- One step of the opening handshake until self._due: status[, head, body] | false | "late" (no
-- answer in time) | nil, msg, kind. head and body (of a non-101 answer, or msg and kind) are left
-- in self._a and self._b: coze.wait passes on two values.
function Session:_handshake(w)
  local left = self._due - monotonic_ms()
  local status, head, body, _, code, proxy_status = self.conn:handshake(math.min(w, math.max(0, left)))
  if status == false and left <= 0 then return "late" end
  self._a, self._b, self._code, self._proxy_status = head, body, code, proxy_status
  if status == nil then return nil, head end
  return status
end

-- Waiting for the server's close frame until self._due: true when it came, the connection ended or
-- the time is up; false to wait more (messages still arriving are dropped).
function Session:_closing(w)
  local conn = self.conn
  local left = self._due - monotonic_ms()
  if left <= 0 then return true end
  local kind = conn:recv(math.min(w, left))
  if kind == nil or kind == "close" then return true end
  return false
end

-- What coze.scheduler's task:cancel() calls instead of close: the close frame goes out if the
-- socket takes it now, then the connection is dropped, so quitting never waits for the server.
function Session:_abort()
  local conn = self.conn
  if conn then conn:send_close(1001, "going away") end
  drop(self)
end

-- A to-be-closed session (the closing value of events()) is closed with 1000 whatever error ends
-- the scope: __close's second argument is that error, not a close code.
function Session.__close(s)
  s:close()
end

--- ws:send_audio_file(path, { chunk_ms = 20, realtime = true, sample_rate, channels, bit_depth })
-- Streams a WAV file (header checked, its format used) or raw PCM (format from the options,
-- default 16 kHz mono 16-bit) as append_audio chunks of chunk_ms, paced in real time unless
-- realtime = false. Returns the PCM bytes sent | nil, err.
function Session:send_audio_file(path, opts)
  local where = self.op .. ":send_audio_file"
  if not self.append_event then args.fail(where, "this API takes no audio input") end
  if type(path) ~= "string" or path == "" then args.fail(where, "path must be a non-empty string") end
  opts = opts or {}
  args.table(where, opts)
  local chunk_ms = args.non_negative(where, opts, "chunk_ms") or 20
  if chunk_ms <= 0 then args.fail(where, "field 'chunk_ms' must be positive") end
  local f, msg = io.open(path, "rb")
  if not f then return nil, errors.new("io", { op = self.op, path = path, msg = "cannot read '" .. path .. "': " .. tostring(msg) }) end
  local fmt, herr = wav.read_header(f)
  if fmt == nil then
    f:close()
    return nil, errors.new("decode", { op = self.op, path = path, msg = herr })
  end
  if fmt == false then
    fmt = { sample_rate = opts.sample_rate or 16000, channels = opts.channels or 1, bit_depth = opts.bit_depth or 16 }
  end
  local block = fmt.channels * fmt.bit_depth / 8
  local chunk = math.max(block, math.floor(fmt.sample_rate * chunk_ms / 1000) * block)
  local left = fmt.data_bytes
  local total, started = 0, monotonic_ms()
  local realtime = opts.realtime ~= false
  -- not in real time nothing waits for a single chunk: they share writes (see cork)
  if not realtime then self:cork() end
  -- the file is read in blocks of whole chunks (one read(2) and one string per ~64 KiB, not per
  -- chunk); each chunk is a slice of its block
  local per_block = chunk * math.max(1, math.floor(65536 / chunk))
  local event_type = self.append_event
  while left == nil or left > 0 do
    local data = f:read(left and math.min(per_block, left) or per_block)
    if not data or data == "" then break end
    local size = #data
    for i = 1, size, chunk do
      local n = math.min(chunk, size - i + 1)
      local ok, err = send_delta(self, event_type, data, i, n)
      if not ok then
        f:close()
        return nil, err
      end
      total = total + n
      if realtime then
        local due = started + total / block / fmt.sample_rate * 1000
        local now = monotonic_ms()
        if due > now then wait.sleep(self.transport, due - now, self.on_wait) end
      end
    end
    if left then left = left - size end
  end
  f:close()
  if not realtime then
    local ok, err = self:uncork()
    if not ok then return nil, err end
  end
  return total
end

-- The typed uplink helpers of each API (each returns what send returns).
local function audio_helpers(class, update_event)
  class.append_event = "input_audio_buffer.append"
  function class:append_audio(bytes)
    if type(bytes) ~= "string" then args.fail(self.op .. ":append_audio", "bytes must be a string") end
    return send_delta(self, "input_audio_buffer.append", bytes, nil, nil, true)
  end
  function class:complete() return self:send("input_audio_buffer.complete") end
  function class:update(cfg) return self:send(update_event, cfg or {}) end
end

local function class_of(fields)
  local c = setmetatable(fields or {}, { __index = Session })
  c.__index = c
  c.__close = Session.__close
  c.__tostring = Session.__tostring
  return c
end

local Chat = class_of()
audio_helpers(Chat, "chat.update")
function Chat:clear() return self:send("input_audio_buffer.clear") end
function Chat:cancel() return self:send("conversation.chat.cancel") end
function Chat:clear_context() return self:send("conversation.clear") end
function Chat:submit_tool_outputs(chat_id, outputs)
  if type(chat_id) ~= "string" or chat_id == "" then
    args.fail(self.op .. ":submit_tool_outputs", "chat_id must be a non-empty string")
  end
  if type(outputs) ~= "table" then args.fail(self.op .. ":submit_tool_outputs", "outputs must be a table") end
  return self:send("conversation.chat.submit_tool_outputs", { chat_id = chat_id, tool_outputs = outputs })
end
--- ws:create_message{ role = "user", content = "...", content_type = "text" }
function Chat:create_message(msg)
  args.table(self.op .. ":create_message", msg)
  args.string(self.op .. ":create_message", msg, "content", true)
  return self:send("conversation.message.create", { role = msg.role or "user",
    content_type = msg.content_type or "text", content = msg.content })
end
function Chat:generate_audio(text)
  return self:send("input_text.generate_audio", { mode = "text", text = text })
end

local Speech = class_of()
function Speech:append_text(s)
  if type(s) ~= "string" then args.fail(self.op .. ":append_text", "text must be a string") end
  return self:send("input_text_buffer.append", { delta = s })
end
function Speech:complete() return self:send("input_text_buffer.complete") end
function Speech:update(cfg) return self:send("speech.update", cfg or {}) end

local Transcriptions = class_of()
audio_helpers(Transcriptions, "transcriptions.update")
function Transcriptions:clear() return self:send("input_audio_buffer.clear") end

-- Event names from @coze/api's websocket resources (events.md has no table for this API).
local Simult = class_of()
audio_helpers(Simult, "simult_interpretation.update")

local APIS = {
  { name = "chat", path = "/v1/chat", class = Chat },
  { name = "audio.speech", path = "/v1/audio/speech", class = Speech },
  { name = "audio.transcriptions", path = "/v1/audio/transcriptions", class = Transcriptions },
  { name = "audio.simult_interpretation", path = "/v1/audio/simult_interpretation", class = Simult },
}
_M.APIS = APIS

---------------------------------------------------------------------------------------------------
-- Connecting

--- The WebSocket base for an API base: https://api.coze.cn -> wss://ws.coze.cn, https://api.X ->
-- wss://ws.X, http://host:port -> ws://host:port (local servers).
function _M.ws_base(base_url)
  local scheme, host, path = base_url:match("^(%a+)://([^/]+)(.*)$")
  scheme = scheme and scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil end
  path = path:gsub("/+$", "")
  if scheme == "https" then return "wss://" .. host:gsub("^api%.", "ws.") .. path end
  return "ws://" .. host .. path
end

local function parse_head(head)
  local headers = {}
  for line in head:gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
    if name then headers[name:lower()] = value end
  end
  return headers
end

-- The error for a non-101 answer: kind "api" with the Coze code when the body has one, else "http".
-- head: the answer's head (libcurl's connection) or its headers table (the cosocket's).
local function answer_error(op, status, head, body)
  local headers = type(head) == "table" and head or parse_head(head)
  local base = { op = op, http_status = status, logid = headers["x-tt-logid"] }
  local decoded = body ~= "" and json.decode(body) or nil
  if type(decoded) == "table" then
    if type(decoded.detail) == "table" and base.logid == nil then base.logid = decoded.detail.logid end
    local code = decoded.code
    if code ~= nil and code ~= 0 then
      base.code = code
      base.msg = type(decoded.msg) == "string" and decoded.msg or ""
      return errors.new("api", base)
    end
  end
  base.msg = "HTTP " .. status .. " instead of 101 Switching Protocols"
  return errors.new("http", base)
end

-- The connection from the client's transport (t:websocket); a transport without one gets libcurl's,
-- except inside nginx, where nothing may fall back to a blocking libcurl connection.
local function open_conn(transport, o)
  if transport and transport.websocket then return transport:websocket(o) end
  if require("coze.transport").in_nginx() then
    return nil, "the client's transport has no WebSocket connection (inside nginx there is no libcurl fallback)"
  end
  return core.ws_open(o)
end

local Connector = {}
Connector.__index = Connector

local function opt(call, cfg, client, key)
  local v = call[key]
  if v == nil then v = cfg[key] end
  if v == nil then v = client[key] end
  return v
end

-- One attempt: session | nil, err, token.
local function attempt(self, call, query, where)
  local client, cfg, api = self._client, self._cfg, self._api
  local token, terr = client.auth:token(client, call)
  if not token then
    if errors.is(terr) then terr.op = terr.op or api.op end
    return nil, terr
  end
  if header.has_crlf(token) then return nil, errors.new("auth", { op = api.op, msg = "the token contains CR or LF" }) end
  local base = cfg.ws_base_url or _M.ws_base(client.base_url)
  local scheme, host, prefix = base:match("^(%a+)://([^/]+)(.*)$")
  scheme = scheme:lower()
  local target = prefix:gsub("/+$", "") .. api.path
  local ok, qs = pcall(url.query, query)
  if not ok then args.fail(where, qs, 2) end
  if qs ~= "" then target = target .. "?" .. qs end
  local ua = useragent.headers()
  local lines, seen = { "Authorization: Bearer " .. token, "User-Agent: " .. ua.user_agent,
    "X-Coze-Client-User-Agent: " .. ua.client_user_agent }, {}
  for _, list in ipairs({ client.headers or {}, call.headers or {} }) do
    for name, v in pairs(list) do
      local key, value = header.check(name, v)
      if not key then args.fail(where, value, 2) end
      if not seen[key] then lines[#lines + 1] = name .. ": " .. value end
      seen[key] = true
    end
  end
  local handshake_ms = call.handshake_timeout_ms or DEFAULTS.handshake_timeout_ms
  -- the whole upgrade (connecting, the answer's head and an error answer's body) ends by then
  local total_ms = (opt(call, cfg, client, "connect_timeout_ms") or 0) + handshake_ms
  local conn, msg = open_conn(client.transport, {
    url = (scheme == "wss" and "https://" or "http://") .. host .. "/", target = target, host = host,
    headers = lines, connect_timeout_ms = opt(call, cfg, client, "connect_timeout_ms"),
    proxy = cfg.proxy, no_proxy = cfg.no_proxy, ca_file = cfg.ca_file, ca_path = cfg.ca_path,
    tls_verify = cfg.tls_verify, max_message_bytes = opt(call, cfg, {}, "max_message_bytes"),
    handshake_timeout_ms = handshake_ms, handshake_total_ms = total_ms,
  })
  if not conn then return nil, errors.new("transport", { op = api.op, msg = msg }), token end
  local id_prefix = core.random_token(6) .. "-"
  local ws = setmetatable({
    conn = conn, op = api.op, transport = client.transport, seq = 0,
    wait_ms = opt(call, cfg, {}, "wait_ms"), on_wait = opt(call, cfg, {}, "on_wait"),
    id_prefix = id_prefix, id_head = '{"id":"' .. id_prefix,
    idle_timeout_ms = opt(call, cfg, {}, "idle_timeout_ms") or DEFAULTS.idle_timeout_ms,
    close_timeout_ms = call.close_timeout_ms or DEFAULTS.close_timeout_ms,
  }, api.class)
  -- connecting is bounded by connect_timeout_ms inside curl; the answer by handshake_timeout_ms
  ws._due = monotonic_ms() + total_ms
  scheduler.track(ws) -- inside a task: cancel() drops the session
  local status = wait.await(ws, "_handshake", ws.wait_ms, ws.on_wait)
  local head, body, code, proxy_status = ws._a, ws._b, ws._code, ws._proxy_status
  ws._due, ws._a, ws._b, ws._code, ws._proxy_status = nil, nil, nil, nil, nil
  if status == nil then
    conn:close()
    ws.conn = nil
    if errors.is(head) then -- the transport's own error object (the cosocket connection)
      head.op = api.op
      return nil, head, token
    end
    if body == "timeout" then return nil, errors.new("timeout", { op = api.op, timeout = "connect", msg = head, not_sent = true }), token end
    -- libcurl's connection gives its curl code: not_sent and tls as on HTTP calls (and as the
    -- cosocket connection's error objects have them)
    return nil, errors.new("transport", require("coze.transport.curl").code_fields({ op = api.op, msg = head },
      code, proxy_status)), token
  end
  if status == "late" then
    conn:close()
    ws.conn = nil
    return nil, errors.new("timeout", { op = api.op, timeout = "first_byte", msg = "no whole handshake answer within "
      .. total_ms .. " ms (connect_timeout_ms + handshake_timeout_ms)" }), token
  end
  if status ~= 101 then
    conn:close()
    ws.conn = nil
    return nil, answer_error(api.op, status, head, body), token
  end
  return ws
end

--- client.websockets.<api>:connect{ bot_id = ..., ... } -> session | nil, err
function Connector:connect(opts)
  local where = self._api.op .. ".connect"
  if getmetatable(self) ~= Connector then args.fail(where, "call it as a method: " .. where:gsub("%.connect$", ":connect") .. "{...}") end
  if opts == nil then opts = {} end
  args.table(where, opts)
  local call, query = {}, {}
  for k, v in pairs(opts) do
    local t = SESSION_OPTIONS[k]
    if t then
      if type(v) ~= t then args.fail(where, "field '" .. k .. "' must be a " .. t .. " (got " .. type(v) .. ")") end
      if t == "number" then args.non_negative(where, opts, k) end
      call[k] = v
    elseif type(k) == "string" then
      query[k] = v
    end
  end
  if call.query then
    for k, v in pairs(call.query) do query[k] = v end
  end
  local ws, err, token = attempt(self, call, query, where)
  local auth = self._client.auth
  if not ws and token and auth.invalidate and (err.http_status == 401 or err.code == 4100 or err.code == 4101) then
    auth:invalidate(token) -- one refresh and one reconnect, as for HTTP calls
    ws, err = attempt(self, call, query, where)
  end
  return ws, err
end

-- client.websockets.* from coze.new's options (ws_base_url, wait_ms, on_wait, transport settings).
function _M.attach(client, opts)
  local cfg = {}
  for _, k in ipairs(CLIENT_OPTIONS) do cfg[k] = opts and opts[k] end
  if cfg.ws_base_url ~= nil then
    local base, why = url.base(cfg.ws_base_url, "ws")
    if not base then args.fail("new", "field 'ws_base_url' " .. why, 2) end
    cfg.ws_base_url = base
  end
  local root = {}
  for _, api in ipairs(APIS) do
    local node = root
    local parts = {}
    for p in api.name:gmatch("[^%.]+") do parts[#parts + 1] = p end
    for i = 1, #parts - 1 do
      node[parts[i]] = node[parts[i]] or {}
      node = node[parts[i]]
    end
    api.op = "websockets." .. api.name
    node[parts[#parts]] = setmetatable({ _client = client, _cfg = cfg, _api = api }, Connector)
  end
  client.websockets = root
  return client
end

return _M
