-- WebSocket endpoints of the four realtime APIs (/v1/chat, /v1/audio/speech, /v1/audio/transcriptions,
-- /v1/audio/simult_interpretation) with the emulator's own RFC 6455 server framing on the raw request
-- socket (never the SDK's codec, so a bug on both sides cannot cancel out).
--
-- On the wire it checks: GET with Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a
-- Sec-WebSocket-Key of 16 base64 bytes, the bearer token (emu.auth_check: 401 with the Coze body);
-- then every client frame: masked, no RSV bits, a known opcode, control frames short and unfragmented,
-- text as JSON envelopes with a non-empty string `id` and an `event_type`; pongs echo the ping payload;
-- the client's close frame (code, reason) is recorded and echoed. What it saw is at GET /__emu/ws/last,
-- with `ended` once the session is over: "close frame", or the read error that ended it ("closed").
--
-- Faults, from the query (?emu_fault=...): fragment (every server message in 1-byte fragments with a ping
-- and a pong between them), ping (a ping before every message), error (an `error` event after the created
-- event), close (a close frame with emu_code/emu_reason after created), drop (half a frame, then the
-- socket closes), masked (a masked server frame), bad_utf8 (a text frame that is not UTF-8), oversize
-- (a text message of emu_size bytes), bad_accept (a wrong Sec-WebSocket-Accept), silent (nothing after
-- created), big_error (a 400 answer whose body is 64 KiB of JSON and 3 bytes more), latency (emu_n events with the send time in data.t, for bench/), slow_401 (a 401 answer with
-- Content-Length 1000 whose body stops after 1 byte, the socket held open for emu_ms, default 3000),
-- plain_503 (a 503 answer with an HTML body, as from a gateway). emu_echo_deltas=1 on /v1/chat answers every append with one conversation.audio.delta.
local bit = require "bit"
local ffi = require "ffi"
local util = require "emu.util"
local auth_check = require "emu.auth_check"
local cjson = util.json

pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } emu_ws_timespec;")
pcall(ffi.cdef, "int clock_gettime(int clk, emu_ws_timespec *ts);")
local ts = ffi.new("emu_ws_timespec")

local _M = {}
local dict = ngx.shared.emu

-- CLOCK_REALTIME in seconds with the nanoseconds (ngx.now() is cached and has 1 ms steps).
local function realtime()
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end
local GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

local band, bor, bxor, rshift = bit.band, bit.bor, bit.bxor, bit.rshift

-- Four bytes per step (a byte loop, run by the interpreter in here, took ~60 us per 1 KB frame and
-- made the emulator the bottleneck of bench/ws.sh). Words and key read in the same byte order, so
-- the XOR is byte for byte whatever the machine's order.
local function unmask(payload, key)
  local n = #payload
  if n == 0 then return payload end
  local words = math.floor((n + 3) / 4)
  local buf = ffi.new("uint32_t[?]", words)
  ffi.copy(buf, payload, n)
  local k = ffi.cast("const uint32_t *", key)[0]
  for i = 0, words - 1 do buf[i] = bxor(buf[i], k) end
  return ffi.string(buf, n)
end

local function header(op, fin, n, masked)
  local b0 = string.char(bor(fin and 0x80 or 0, op))
  local m = masked and 0x80 or 0
  if n < 126 then return b0 .. string.char(bor(m, n)) end
  if n < 65536 then return b0 .. string.char(bor(m, 126), rshift(n, 8), band(n, 255)) end
  local bytes = {}
  for i = 8, 1, -1 do
    bytes[i] = n % 256
    n = math.floor(n / 256)
  end
  return b0 .. string.char(bor(m, 127), unpack(bytes))
end

-- One session: socket, path, faults, and what it saw.
local Session = {}
Session.__index = Session

function Session:violation(msg)
  local v = self.seen.violations
  v[#v + 1] = msg
end

function Session:raw_frame(op, payload, fin, masked)
  local h = header(op, fin ~= false, #payload, masked)
  if masked then
    local key = "\1\2\3\4"
    return self.sock:send(h .. key .. unmask(payload, key))
  end
  return self.sock:send(h .. payload)
end

-- A whole message, fragmented or preceded by a ping when the fault asks.
function Session:message(text)
  local fault = self.fault
  if fault == "ping" then
    self.pings[#self.pings + 1] = "p" .. #self.pings
    self:raw_frame(0x9, self.pings[#self.pings])
  end
  if fault == "fragment" and #text > 1 then
    for i = 1, #text do
      self:raw_frame(i == 1 and 0x1 or 0x0, text:sub(i, i), i == #text)
      if i == 1 then
        self.pings[#self.pings + 1] = "f" .. #self.pings
        self:raw_frame(0x9, self.pings[#self.pings])
        self:raw_frame(0xA, "unsolicited")
      end
    end
    return
  end
  return self:raw_frame(0x1, text)
end

function Session:event(event_type, data)
  self.n = self.n + 1
  local ev = { id = "srv-" .. self.n, event_type = event_type, data = data,
    detail = { logid = self.logid } }
  return self:message(util.encode(ev))
end

-- Reads one frame: fin, op, payload | nil, err. Checks what RFC 6455 asks of a client.
function Session:read_frame()
  local sock = self.sock
  local h, err = sock:receive(2)
  if not h then return nil, err end
  local b0, b1 = h:byte(1, 2)
  local fin, op, masked, n = band(b0, 0x80) ~= 0, band(b0, 0x0F), band(b1, 0x80) ~= 0, band(b1, 0x7F)
  if band(b0, 0x70) ~= 0 then self:violation("RSV bits set") end
  if n == 126 then
    local e = sock:receive(2)
    if not e then return nil, "closed" end
    n = e:byte(1) * 256 + e:byte(2)
  elseif n == 127 then
    local e = sock:receive(8)
    if not e then return nil, "closed" end
    n = 0
    for i = 1, 8 do n = n * 256 + e:byte(i) end
  end
  if op >= 8 and (n > 125 or not fin) then self:violation("bad control frame") end
  if op ~= 0 and op ~= 1 and op ~= 2 and op ~= 8 and op ~= 9 and op ~= 10 then
    self:violation("unknown opcode " .. op)
  end
  local key = ""
  if masked then
    key = sock:receive(4)
    if not key then return nil, "closed" end
  else
    self:violation("unmasked client frame")
  end
  self.seen.frames = self.seen.frames + 1
  local payload = n > 0 and sock:receive(n) or ""
  if not payload then return nil, "closed" end
  if masked then
    local keys = self.keys
    if keys[key] then self.seen.repeated_keys = self.seen.repeated_keys + 1 end
    keys[key] = true
    payload = unmask(payload, key)
  end
  return fin, op, payload
end

function Session:save()
  dict:set("ws:last", cjson.encode(self.seen))
end

function Session:close_with(code, reason)
  self:raw_frame(0x8, string.char(rshift(code, 8), band(code, 255)) .. (reason or ""))
end

-- Reads until the client's close frame (recorded) or the end of the connection.
function Session:await_close()
  while true do
    local fin, op, payload = self:read_frame()
    if fin == nil then return end
    if op == 0x8 then
      self:record_close(payload)
      return
    end
  end
end

function Session:record_close(payload)
  local code = #payload >= 2 and (payload:byte(1) * 256 + payload:byte(2)) or nil
  self.seen.client_close = { code = code or cjson.null, reason = payload:sub(3) }
end

local function b64(s) return ngx.encode_base64(s) end

-- The API behaviours: uplink event -> downlink events.
local function reply_chat(s, text)
  s:event("conversation.chat.created", { id = "chat-1", conversation_id = "conv-1", status = "created" })
  s:event("conversation.chat.in_progress", { id = "chat-1", conversation_id = "conv-1", status = "in_progress" })
  local answer = "you said: " .. text
  local half = math.floor(#answer / 2)
  s:event("conversation.message.delta", { id = "msg-1", chat_id = "chat-1", role = "assistant", type = "answer",
    content_type = "text", content = answer:sub(1, half) })
  s:event("conversation.message.delta", { id = "msg-1", chat_id = "chat-1", role = "assistant", type = "answer",
    content_type = "text", content = answer:sub(half + 1) })
  s:event("conversation.audio.sentence_start", { text = answer })
  s:event("conversation.audio.delta", { id = "msg-2", chat_id = "chat-1", role = "assistant", type = "answer",
    content_type = "audio", content = b64(answer) })
  s:event("conversation.message.completed", { id = "msg-1", chat_id = "chat-1", role = "assistant",
    type = "answer", content_type = "text", content = answer })
  s:event("conversation.audio.completed", { id = "msg-2", chat_id = "chat-1", role = "assistant",
    type = "answer", content_type = "audio", content = "" })
  s:event("conversation.chat.completed", { id = "chat-1", conversation_id = "conv-1", status = "completed",
    usage = { token_count = #answer, input_count = #text, output_count = #answer } })
end

local function heard(s)
  local audio = table.concat(s.audio)
  s.audio = {}
  if ngx.re.find(audio, "^[\\x20-\\x7e]*$", "jo") then return audio end
  return "<" .. #audio .. " bytes of audio>"
end

local API = {}

API["/v1/chat"] = {
  created = "chat.created",
  ["chat.update"] = function(s, data) s:event("chat.updated", data) end,
  ["input_audio_buffer.complete"] = function(s)
    s:event("input_audio_buffer.completed")
    local text = heard(s)
    s:event("conversation.audio_transcript.completed", { content = text })
    reply_chat(s, text)
  end,
  ["input_audio_buffer.clear"] = function(s) s.audio = {}; s:event("input_audio_buffer.cleared") end,
  ["conversation.message.create"] = function(s, data)
    if type(data) ~= "table" or type(data.content) ~= "string" then
      return s:event("error", { code = 4000, msg = "data.content is required" })
    end
    reply_chat(s, data.content)
  end,
  ["conversation.clear"] = function(s) s:event("conversation.cleared") end,
  ["conversation.chat.cancel"] = function(s) s:event("conversation.chat.canceled", { code = 2, msg = "canceled" }) end,
  ["conversation.chat.submit_tool_outputs"] = function(s, data)
    local out = type(data) == "table" and type(data.tool_outputs) == "table" and data.tool_outputs[1]
    reply_chat(s, type(out) == "table" and tostring(out.output) or "")
  end,
  ["input_text.generate_audio"] = function(s, data)
    local text = type(data) == "table" and tostring(data.text or "") or ""
    s:event("conversation.audio.delta", { content_type = "audio", content = b64(text) })
    s:event("conversation.audio.completed", { content_type = "audio", content = "" })
  end,
}

API["/v1/audio/speech"] = {
  created = "speech.created",
  ["speech.update"] = function(s, data) s:event("speech.updated", data) end,
  ["input_text_buffer.append"] = function(s, data)
    s.text[#s.text + 1] = type(data) == "table" and tostring(data.delta or "") or ""
  end,
  ["input_text_buffer.complete"] = function(s)
    local text = table.concat(s.text)
    s.text = {}
    s:event("input_text_buffer.completed")
    local half = math.floor(#text / 2)
    s:event("speech.audio.update", { delta = b64(text:sub(1, half)) })
    s:event("speech.audio.update", { delta = b64(text:sub(half + 1)) })
    s:event("speech.audio.completed")
  end,
}

API["/v1/audio/transcriptions"] = {
  created = "transcriptions.created",
  ["transcriptions.update"] = function(s, data) s:event("transcriptions.updated", data) end,
  ["input_audio_buffer.complete"] = function(s)
    s:event("input_audio_buffer.completed")
    local text = heard(s)
    s:event("transcriptions.message.update", { content = text:sub(1, math.floor(#text / 2)) })
    s:event("transcriptions.message.update", { content = text })
    s:event("transcriptions.message.completed")
  end,
  ["input_audio_buffer.clear"] = function(s) s.audio = {}; s:event("input_audio_buffer.cleared") end,
}

-- Event names as @coze/api (packages/coze-js, websocket resources) uses them; events.md has no table.
API["/v1/audio/simult_interpretation"] = {
  created = "simult_interpretation.created",
  ["simult_interpretation.update"] = function(s, data) s:event("simult_interpretation.updated", data) end,
  ["input_audio_buffer.complete"] = function(s)
    s:event("input_audio_buffer.completed")
    local text = heard(s)
    local translation = "translated: " .. text
    s:event("simult_interpretation.transcription.delta", { delta = text })
    s:event("simult_interpretation.translation.delta", { delta = translation })
    s:event("simult_interpretation.audio.delta", { delta = b64(translation) })
    s:event("simult_interpretation.message.completed")
  end,
  ["input_audio_buffer.clear"] = function(s) s.audio = {}; s:event("input_audio_buffer.cleared") end,
}

local function on_append(s, data)
  local delta = type(data) == "table" and data.delta
  local bytes = type(delta) == "string" and ngx.decode_base64(delta)
  if not bytes then
    return s:event("error", { code = 4000, msg = "data.delta must be base64" })
  end
  s.audio[#s.audio + 1] = bytes
  s.seen.audio_bytes = s.seen.audio_bytes + #bytes
  if s.echo_deltas then s:event("conversation.audio.delta", { content_type = "audio", content = delta }) end
end

function Session:on_text(text)
  local ev = cjson.decode(text)
  if type(ev) ~= "table" then
    self:violation("text frame is not JSON")
    return self:event("error", { code = 4000, msg = "invalid JSON" })
  end
  if type(ev.id) ~= "string" or ev.id == "" or type(ev.event_type) ~= "string" then
    self:violation("event without id or event_type")
    return self:event("error", { code = 4000, msg = "id and event_type are required" })
  end
  local types = self.seen.events
  if #types < 100 then types[#types + 1] = ev.event_type end
  self.seen.last_event = ev
  local fn = self.api[ev.event_type]
  if ev.event_type == "input_audio_buffer.append" and self.api ~= API["/v1/audio/speech"] then
    return on_append(self, ev.data)
  end
  if type(fn) ~= "function" then
    return self:event("error", { code = 4000, msg = "unknown event_type " .. ev.event_type })
  end
  return fn(self, ev.data)
end

local function fail(code, msg, status)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(util.encode({ code = code, msg = msg, detail = { logid = util.request_logid() } }))
  return ngx.exit(status)
end

function _M.handle()
  local upgrade = ngx.var.http_upgrade
  if not upgrade or upgrade:lower() ~= "websocket" then return require("emu.router").handle() end
  local control = package.loaded["emu.control"] or require "emu.control"
  control.record({})
  local api = API[ngx.var.uri]
  if not api then return fail(4000, "no websocket API at " .. ngx.var.uri, 404) end
  local h = ngx.req.get_headers()
  local key = h["sec-websocket-key"]
  local conn = type(h["connection"]) == "string" and h["connection"]:lower() or ""
  if ngx.req.get_method() ~= "GET" or ngx.req.http_version() ~= 1.1 or not conn:find("upgrade", 1, true) then
    return fail(4000, "not a WebSocket upgrade request", 400)
  end
  if h["sec-websocket-version"] ~= "13" then return fail(4000, "Sec-WebSocket-Version must be 13", 400) end
  local raw_key = type(key) == "string" and ngx.decode_base64(key)
  if not raw_key or #raw_key ~= 16 then return fail(4000, "Sec-WebSocket-Key must be 16 base64 bytes", 400) end
  local args = ngx.req.get_uri_args()
  local fault = args.emu_fault
  if fault == "big_error" then -- a 400 whose JSON body fills 64 KiB exactly, then 3 bytes more
    local head = '{"code":4000,"msg":"'
    local body = head .. string.rep("x", 65536 - #head - 2) .. '"}!!!'
    ngx.status = 400
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #body
    ngx.print(body)
    return ngx.exit(400)
  end
  if fault == "plain_503" then -- a gateway's answer: no Coze body
    ngx.status = 503
    ngx.header["Content-Type"] = "text/html"
    ngx.header["X-Tt-Logid"] = util.request_logid()
    ngx.print("<html><body>503 Service Unavailable</body></html>")
    return ngx.exit(503)
  end
  if fault == "slow_401" then -- an error answer whose body never comes whole (Content-Length 1000, 1 byte)
    ngx.status = 401
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = 1000
    ngx.print("{")
    ngx.flush(true)
    ngx.sleep((tonumber(args.emu_ms) or 3000) / 1000)
    return ngx.exit(444)
  end
  auth_check.check()
  local accept = ngx.encode_base64(ngx.sha1_bin(key .. GUID))
  if fault == "bad_accept" then accept = ngx.encode_base64(ngx.sha1_bin(key)) end
  local logid = util.request_logid()
  ngx.status = 101
  ngx.header["Upgrade"] = "websocket"
  ngx.header["Sec-WebSocket-Accept"] = accept
  ngx.header["Content-Type"] = nil
  ngx.send_headers()
  ngx.flush(true)
  local sock, err = ngx.req.socket(true)
  if not sock then
    ngx.log(ngx.ERR, "emulator ws: no raw socket: ", err)
    return ngx.exit(444)
  end
  sock:settimeout(60000)
  local s = setmetatable({
    sock = sock, api = api, fault = fault, logid = logid, n = 0, audio = {}, text = {}, pings = {}, keys = {},
    echo_deltas = args.emu_echo_deltas == "1",
    seen = { path = ngx.var.uri, query = args, violations = {}, frames = 0, repeated_keys = 0, events = {},
      pongs = 0, audio_bytes = 0, user_agent = h["x-coze-client-user-agent"] or cjson.null,
      authorization = h["authorization"] or cjson.null },
  }, Session)
  s:save()
  s:event(api.created)
  if fault == "error" then s:event("error", { code = 4001, msg = "emulated error event" }) end
  if fault == "close" then
    s:close_with(tonumber(args.emu_code) or 1000, args.emu_reason)
    s:await_close()
    s:save()
    return ngx.exit(ngx.OK)
  end
  if fault == "drop" then
    sock:send(header(0x1, true, 100, false) .. '{"event_type":"half')
    s:save()
    return ngx.exit(444)
  end
  if fault == "masked" then s:raw_frame(0x1, '{"id":"m","event_type":"masked"}', true, true) end
  if fault == "bad_utf8" then s:raw_frame(0x1, '{"id":"u","event_type":"\237\160\128"}') end
  if fault == "latency" then -- bench: emu_n events carrying the time they were written, 2 ms apart
    for _ = 1, tonumber(args.emu_n) or 100 do
      ngx.sleep(0.002)
      s:message(string.format('{"id":"t","event_type":"latency","data":{"t":%.6f}}', realtime()))
    end
  end
  if fault == "oversize" then
    local n = tonumber(args.emu_size) or 1024
    s:message('{"id":"o","event_type":"big","data":"' .. string.rep("x", n) .. '"}')
  end
  local fragments = {}
  while true do
    local fin, op, payload = s:read_frame()
    if fin == nil then -- op: the read's error ("closed": the client's TCP close, with or without a close frame)
      s.seen.ended = op
      break
    end
    if op == 0x8 then
      s.seen.ended = "close frame"
      s:record_close(payload)
      s:raw_frame(0x8, payload:sub(1, 2))
      break
    elseif op == 0x9 then
      s:raw_frame(0xA, payload)
    elseif op == 0xA then
      local want = table.remove(s.pings, 1)
      if payload == want then s.seen.pongs = s.seen.pongs + 1 else s:violation("pong does not echo the ping") end
    elseif op == 0x1 or op == 0x0 then
      fragments[#fragments + 1] = payload
      if fin then
        local text = table.concat(fragments)
        fragments = {}
        if fault ~= "silent" then s:on_text(text) end
      end
    else
      s:violation("unexpected opcode " .. op)
    end
    if #s.seen.violations > 0 and s.seen.violations[#s.seen.violations]:find("unmasked", 1, true) then
      s:close_with(1002, "unmasked client frame")
      break
    end
  end
  s:save()
  return ngx.exit(ngx.OK)
end

_M.routes = {
  { "GET", "/__emu/ws/last", function()
      ngx.header["Content-Type"] = "application/json"
      ngx.print(dict:get("ws:last") or "{}")
    end },
}

return _M
