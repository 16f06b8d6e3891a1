-- The WebSocket connection on nginx cosockets (what coze.transport.ngx's t:websocket returns): the
-- protocol is the C codec of the libcurl connection (core.ws_codec: masking with OpenSSL's RNG,
-- reassembly, ping -> pong, close echo, UTF-8 and size checks), the socket, TLS (SNI, verification)
-- and the upgrade request are coze.transport.ngx's own request, whose 101 answer hands its socket
-- over. It has the methods of core.WebSocket that coze.websocket's session calls, so a session is
-- the same object on both; every wait yields to nginx inside the cosocket, never blocking the worker.
local core = require "coze.core"
local errors = require "coze.errors"
local ngx_transport = require "coze.transport.ngx" -- (which loads this module only when a session opens)

local ngx = rawget(_G, "ngx")

local _M = {}

local Conn = {}
Conn.__index = Conn

local READ_MAX = 65536
local MAX_ERROR_BODY = core.ws_max_error_body -- the most of a non-101 answer's body read (csrc/wshs.h)
local SEND_TIMEOUT_MS = 60000  -- lua_socket_send_timeout's default

-- Cosockets cannot look without waiting: recv(w) waits up to w ms inside the cosocket, and the
-- session waits with the whole idle time (not in slices) when no on_wait asks for control back.
Conn.can_poll = false

local function now_ms() return ngx.now() * 1000 end

-- o: the options of core.ws_open (url, target, headers, connect_timeout_ms, tls_verify,
-- max_message_bytes, proxy, no_proxy, ca_file, ca_path), handshake_timeout_ms and handshake_total_ms
-- (the session's deadline for the whole upgrade, as on libcurl); the proxy decision is
-- coze.transport.ngx's (coze.transport.proxy), as for HTTP calls. Nothing is sent until handshake().
function _M.open(transport, o)
  ngx_transport.check_phase(3)
  local codec, why = core.ws_codec { max_message_bytes = o.max_message_bytes }
  if not codec then return nil, why, "transport" end
  return setmetatable({ t = transport, o = o, codec = codec, phase = "connect",
    last_rx = now_ms() }, Conn)
end

-- handshake() -> 101 | status, headers, body (another answer) | "late" (no whole answer within
-- handshake_timeout_ms, or not all of it, error body included, within handshake_total_ms) | nil, err
-- (a coze.errors object of the transport) | nil, msg, kind.
-- Does the whole opening handshake in one call: it waits by yielding to nginx.
function Conn:handshake()
  if self.phase ~= "connect" then return nil, "handshake already done", "transport" end
  self.phase = "handshake"
  local o, codec = self.o, self.codec
  local lines = { "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: " .. codec:key() }
  for _, l in ipairs(o.headers or {}) do lines[#lines + 1] = l end
  -- (t:request reads the real time: its deadline counts from now, not from the cached time)
  local h, err = self.t:request {
    method = "GET", url = o.url:gsub("/$", "") .. o.target, headers = lines,
    connect_timeout_ms = o.connect_timeout_ms, first_byte_timeout_ms = o.handshake_timeout_ms,
    total_timeout_ms = o.handshake_total_ms, -- status, headers and an error body: a server that
    -- sends part of an error body and stalls must not hold connect (a cosocket read has no other limit)
    tls_verify = o.tls_verify, proxy = o.proxy, no_proxy = o.no_proxy, ca_file = o.ca_file, ca_path = o.ca_path,
    no_pool = true, -- an upgraded connection never goes back to the pool, nor comes from it
    tunnel = true,  -- through a proxy a CONNECT tunnel for ws:// too, as libcurl's (csrc/wsconn.c)
  }
  if not h then return nil, err end
  local status, herr = h:wait_headers()
  if not status then
    if herr.kind == "timeout" and (herr.timeout == "first_byte" or herr.timeout == "total") then return "late" end
    return nil, herr
  end
  if status == 101 then
    local ok, why = codec:check_answer("HTTP/1.1 101\r\n" .. h.head_block .. "\r\n\r\n")
    if not ok then
      h:close()
      return nil, why, "transport"
    end
    -- frames sent right behind the answer are still in the cosocket's buffer
    self.sock, h.sock, h.state = h.sock, nil, "done"
    self.phase, self.last_rx = "open", now_ms()
    return 101
  end
  local parts, n = {}, 0
  while n < MAX_ERROR_BODY do
    local chunk, rerr = h:read()
    if rerr and rerr.kind == "timeout" then -- as libcurl: the answer did not come whole in time
      h:close()
      return "late"
    end
    if not chunk then break end -- the end, or a cut body: what came is the body
    parts[#parts + 1] = chunk
    n = n + #chunk
  end
  h:close()
  return status, h:headers(), table.concat(parts):sub(1, MAX_ERROR_BODY)
end

-- Writes what the codec queued: true | nil, msg, kind. With data (a data frame was queued), nothing
-- while the codec's cork holds it (the one cork rule, csrc/wscodec.h, as on libcurl).
function Conn:_write(data)
  local codec = self.codec
  if codec:holds(data) then return true end
  local out = codec:output()
  if out == "" then return true end
  local sock = self.sock
  sock:settimeout(SEND_TIMEOUT_MS)
  local ok, err = sock:send(out)
  if not ok then
    if err == "timeout" then return nil, "send failed: timed out", "timeout" end
    return nil, "send failed: " .. tostring(err), "transport"
  end
  return true
end

local function not_open(self)
  if self.phase ~= "open" then return nil, "the handshake is not done", "transport" end
end

local function queued(self, data, ok, msg, kind)
  if not ok then return nil, msg, kind end
  return self:_write(data)
end

-- send(data[, binary]) -> true | nil, msg, kind
function Conn:send(data, binary)
  if self.phase ~= "open" then return not_open(self) end
  return queued(self, true, self.codec:send(data, binary))
end

-- send_b64(pre, bytes, post[, i, n[, seq, mid]]): one text frame, as core.WebSocketCodec's
function Conn:send_b64(pre, bytes, post, i, n, seq, mid)
  if self.phase ~= "open" then return not_open(self) end
  return queued(self, true, self.codec:send_b64(pre, bytes, post, i, n, seq, mid))
end

-- send_close([code[, reason]]): once; later calls send nothing and return true
function Conn:send_close(code, reason)
  if self.phase ~= "open" then return not_open(self) end
  return queued(self, false, self.codec:send_close(code, reason))
end

-- cork(on): corks nest; the last uncork writes what is queued. true | nil, msg, kind
function Conn:cork(on)
  local codec = self.codec
  if not codec or codec:cork(on) > 0 or self.phase ~= "open" then return true end
  return self:_write()
end

-- Uncorked, everything is written when send returns; flush writes what a cork holds.
function Conn:flush()
  if self.phase ~= "open" then return true end
  return self:_write()
end
function Conn:pending() return self.codec and self.codec:pending() or 0 end
function Conn:ready() return true end
function Conn:idle_ms() return now_ms() - self.last_rx end

-- recv(wait_ms) -> false | "text"|"binary", data | "close", code, reason | nil, msg, kind, close_code:
-- as core.WebSocket's (pongs and close echoes are written here).
function Conn:recv(w)
  if self.phase ~= "open" then return not_open(self) end
  local codec, sock = self.codec, self.sock
  while true do
    local kind, a, b, c = codec:next()
    local ok, msg, wkind = self:_write()
    if kind == nil then return nil, a, b, c end
    if kind then
      if not ok and kind ~= "close" then return nil, msg, wkind end
      return kind, a, b
    end
    if not ok then return nil, msg, wkind end
    if self.eof then return nil, "connection closed without a close frame", "closed", 1006 end
    sock:settimeout(ngx_transport.timeout_ms(w and w >= 1 and w or 1))
    local data, err = sock:receiveany(READ_MAX)
    if data then
      self.last_rx = now_ms()
      local fed, ferr, fkind, fcode = codec:feed(data)
      if not fed then return nil, ferr, fkind, fcode end
    elseif err == "timeout" then
      return false
    elseif err == "closed" then
      self.eof = true
    else -- a reset connection: the close frame never came
      return nil, "receive failed: " .. tostring(err), "closed", 1006
    end
  end
end

-- close(): the socket closed at once (the session's close sent its close frame first); idempotent.
-- A Conn collected unclosed needs no finalizer of its own: the cosocket's userdata has nginx's lua
-- module's (it closes the connection) and the codec's has the core's (spec: ws scenario "abandoned").
function Conn:close()
  local sock = self.sock
  self.sock, self.phase = nil, "closed"
  if sock then sock:close() end
  if self.codec then
    self.codec:close()
    self.codec = nil
  end
end

return _M
