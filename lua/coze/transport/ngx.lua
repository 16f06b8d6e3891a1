-- Transport on nginx cosockets (OpenResty): HTTP/1.1 written here (Debian ships no lua-resty-http),
-- every wait a yield to nginx inside the cosocket, so a call never blocks the worker. The header
-- block goes through the same pure C rules as libcurl's (core.parse_headers), stream bodies into the
-- same C SSE parser (read_into), so events and errors are the same on both transports.
--
-- A cosocket can only block-by-yielding inside receive, so this transport cannot poll:
-- t.can_poll = false, and every wait_ms means "until something arrives" (transport/README.md);
-- only while a multipart body goes out does wait_headers return `false, "sent"`, after each piece,
-- so upload progress can be reported (the waiting loop calls again at once, without on_wait).
-- Chunked bodies go through the pure C decoder (csrc/chunked.c), straight into the SSE parser.
local core = require "coze.core"
local errors = require "coze.errors"
local multipart_body = require "coze.multipart"
local proxies = require "coze.transport.proxy"
local SENT = require("coze.wait").SENT

local ngx = rawget(_G, "ngx")

local _M = {}

local Transport = {}
Transport.__index = Transport

local Handle = {}
Handle.__index = Handle

local READ_MAX = 65536        -- bytes handed out per read at most
local FILE_CHUNK = 65536      -- bytes of a multipart file part read from disk at a time
local HEADER_MAX = core.HEADERS_MAX_BYTES -- the header block's limits (csrc/headers.h), as libcurl's
local HEADER_LINES = core.HEADERS_MAX_FIELDS
local LINE_MAX = 8192         -- a status line
local POOL_IDLE_MS = 60000
local POOL_SIZE = 64

-- What to add to nginx.conf, for the errors that come from a missing directive.
local HINT_RESOLVER = " (cosockets resolve through nginx: add a `resolver` directive to nginx.conf, e.g. `resolver 127.0.0.53 ipv6=off;`)"
local HINT_CA = " (nginx verifies with `lua_ssl_trusted_certificate`: add e.g. `lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;` and `lua_ssl_verify_depth 3;` to nginx.conf)"

local HINT_NAME = " (connect with the host name the certificate was issued for, or set tls_verify = false)"

-- Whether the certificate of TLS session sess (a cdata of resty.core's sslhandshake) names IP
-- address ip: sess, or nil, why. nginx checks a certificate's name only against an SNI name, and
-- an IP is neither sent as SNI nor matched as one (its IP SANs are not DNS names), so this is
-- libcurl's check of an IP host, done on nginx's own OpenSSL through the FFI.
local ip_check
local function names_ip(sess, ip)
  if ip_check == nil then
    ip_check = false
    local okf, ffi = pcall(require, "ffi")
    if okf then
      pcall(ffi.cdef, "void *SSL_SESSION_get0_peer(void *s);"
        .. "int X509_check_ip_asc(void *x, const char *address, unsigned int flags);")
      local okc, C = pcall(function() return ffi.C, ffi.C.SSL_SESSION_get0_peer, ffi.C.X509_check_ip_asc end)
      if okc then
        ip_check = function(s, addr)
          local cert = C.SSL_SESSION_get0_peer(s)
          return cert ~= nil and C.X509_check_ip_asc(cert, addr, 0) == 1
        end
      end
    end
  end
  if not ip_check or type(sess) ~= "cdata" then
    return nil, "certificate host mismatch (this nginx cannot check an IP address against a certificate)"
  end
  if ip_check(sess, ip) then return sess end
  return nil, "certificate host mismatch (no IP address " .. ip .. " in the certificate's names)"
end

-- opts: proxy, no_proxy (libcurl's rules and environment, coze.transport.proxy), tls_verify
-- (default true), pool_size, pool_idle_ms. ca_file/ca_path are refused (nginx's own directives
-- hold the CA).
function _M.new(opts)
  opts = opts or {}
  return setmetatable({
    can_poll = false,
    proxy = opts.proxy, no_proxy = opts.no_proxy, ca_file = opts.ca_file, ca_path = opts.ca_path,
    tls_verify = opts.tls_verify ~= false,
    pool_size = opts.pool_size or POOL_SIZE,
    pool_idle_ms = opts.pool_idle_ms or POOL_IDLE_MS,
  }, Transport)
end

function Transport:now_ms() return ngx.now() * 1000 end
function Transport:time() return ngx.time() end
function Transport:sleep_ms(ms) ngx.sleep((ms or 0) / 1000) end

function Transport.default_on_wait()
  local sleep = ngx.sleep
  return function(ms) sleep((ms or 1) / 1000) end
end

function Transport:close() end -- the pool is nginx's, per worker

-- A WebSocket connection on a cosocket, speaking through the same C codec as libcurl's
-- (coze.transport.ngx_ws); coze.websocket's sessions ask the client's transport for it.
function Transport:websocket(o) return require("coze.transport.ngx_ws").open(self, o) end

local function terr(msg, fields)
  fields = fields or {}
  fields.msg = msg
  return errors.new("transport", fields)
end

local function timeout_err(which, msg)
  return errors.new("timeout", { timeout = which, msg = msg, not_sent = which == "connect" or nil })
end

-- scheme, host, port, target ("/path?query")
local function parse_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  local authority, target = rest:match("^([^/?#]*)(.*)$")
  target = target:gsub("#.*$", "")
  if target == "" then target = "/" elseif target:sub(1, 1) == "?" then target = "/" .. target end
  authority = authority:gsub("^.*@", "")
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil end
  local default = scheme == "https" and 443 or 80
  port = tonumber(port) or default
  local hosthdr = authority:find("^%[") and ("[" .. host .. "]") or host
  if port ~= default then hosthdr = hosthdr .. ":" .. port end
  return scheme, host, port, target, hosthdr
end

local function quoted(s)
  return (s:gsub('[\\"]', "\\%0"))
end

-- Multipart body as a list of pieces (strings, or { path = } read from disk when sent) and its length.
local function multipart(parts)
  local boundary = multipart_body.boundary()
  local pieces, len = {}, 0
  for _, p in ipairs(parts) do
    if (p.name or ""):find("[\r\n]") or (p.filename or ""):find("[\r\n]") or (p.type or ""):find("[\r\n]") then
      return nil, nil, "multipart part name, filename or type holds a line break"
    end
    local h = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. quoted(p.name or "") .. "\""
    if p.filename then h = h .. "; filename=\"" .. quoted(p.filename) .. "\"" end
    local ctype = p.type or ((p.filename or p.path) and "application/octet-stream")
    if ctype then h = h .. "\r\nContent-Type: " .. ctype end
    h = h .. "\r\n\r\n"
    pieces[#pieces + 1] = h
    len = len + #h
    if p.path then
      local f, msg = io.open(p.path, "rb")
      if not f then return nil, nil, "cannot open file '" .. p.path .. "': " .. tostring(msg) end
      local size = f:seek("end")
      f:close()
      pieces[#pieces + 1] = { path = p.path, size = size }
      len = len + size
    else
      local d = p.data or ""
      pieces[#pieces + 1] = d
      len = len + #d
    end
    pieces[#pieces + 1] = "\r\n"
    len = len + 2
  end
  local tail = "--" .. boundary .. "--\r\n"
  pieces[#pieces + 1] = tail
  len = len + #tail
  return pieces, len, boundary
end

-- A cosocket timeout for ms: nginx raises "bad timeout value" from 2^31 ms on, which libcurl takes
-- (idle_timeout_ms = 3e9, math.huge for "no limit"), so those wait as long as nginx can count.
local TIMEOUT_MAX = 2147483647
function _M.timeout_ms(ms)
  if not (ms <= TIMEOUT_MAX) then return TIMEOUT_MAX end -- NaN too
  return ms
end

-- The timeout for the next socket operation: the phase's own limit, cut by the total deadline.
-- Returns ms (0 = none: as long as nginx counts, as from 2^31 ms on) and which limit it is.
function Handle:_limit(phase_ms, which)
  local ms = phase_ms or 0
  if self.deadline then
    local left = self.deadline - ngx.now() * 1000
    if left < 1 then left = 1 end
    if ms == 0 or left < ms then return left, "total" end
  end
  if ms == 0 then return TIMEOUT_MAX, which end
  return ms, which
end

function Handle:_settimeout(phase_ms, which)
  local ms, w = self:_limit(phase_ms, which)
  self.sock:settimeout(_M.timeout_ms(ms))
  self.which = w
end

-- A socket failure as an error object (the socket is dropped: nothing more can come of it).
function Handle:_fail(msg, during)
  self:_drop()
  local e
  if msg == "timeout" then
    e = timeout_err(self.which, during .. ": timed out (" .. self.which .. ")")
  elseif msg == "closed" then
    e = terr(during .. ": connection closed by the server", { closed = during == "reading the body" or nil })
  else
    e = terr(during .. ": " .. tostring(msg))
  end
  self.err = e
  return nil, e
end

function Handle:_drop()
  self.t_end = self.t_end or ngx.now()
  self:_end_upload()
  local sock = self.sock
  if sock then
    self.sock = nil
    sock:close()
  end
end

-- The phases of nginx's lua module where cosockets work (lua-nginx-module's docs, "Context").
local COSOCKET_PHASES = { rewrite = true, server_rewrite = true, access = true, content = true,
  timer = true, ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true, preread = true }
_M.COSOCKET_PHASES = COSOCKET_PHASES

-- Raises (a programming mistake, like a call at the wrong place) when the current phase has no
-- cosockets; the SDK never falls back to blocking libcurl inside nginx.
function _M.check_phase(level)
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    error("coze: no HTTP calls in nginx's '" .. tostring(phase) .. "' phase (cosockets are not "
      .. "available there, and a blocking call would stall the worker): make the call from a "
      .. "rewrite/access/content handler or from a timer, e.g. ngx.timer.at(0, function() ... end)",
      (level or 1) + 1)
  end
end

-- A connect failure as an error object: a timeout (connect, or the total deadline) or a transport
-- error, both with not_sent (nothing reached the server).
local function connect_err(h, what, cerr)
  if cerr == "timeout" then
    return timeout_err(h.which == "total" and "total" or "connect", what .. ": timed out")
  end
  return terr(what .. ": " .. tostring(cerr), { not_sent = true })
end

-- One line of sock through reader rd (sock:receiveuntil("\n")), its CR LF cut: at most max bytes
-- are ever taken, so a server's endless line costs no memory (receive("*l") would keep all of it).
-- Returns the line; nil, "too long"; or nil, err, partial (the socket's error).
local function capped_line(rd, max)
  if max < 0 then max = 0 end
  local parts, n = nil, 0
  local line
  while true do
    local data, err, partial = rd(max - n + 1)
    if not data then
      if err then return nil, err, (line or "") .. (parts and table.concat(parts) or "") .. (partial or "") end
      break
    end
    if line == nil then
      line = data
    else
      parts = parts or { line }
      parts[#parts + 1] = data
    end
    n = n + #data
    if n > max then return nil, "too long" end
  end
  if parts then line = table.concat(parts) end
  line = line or ""
  if line:byte(-1) == 13 then line = line:sub(1, -2) end
  return line
end

-- The CONNECT exchange with proxy px for host:port on h's fresh socket: true, or nil, err. A
-- refusal names the proxy's status (err.proxy_status), never its credentials.
function Handle:_tunnel(px, host, port)
  local sock = self.sock
  local authority = (host:find(":", 1, true) and "[" .. host .. "]" or host) .. ":" .. port
  local head = "CONNECT " .. authority .. " HTTP/1.1\r\nHost: " .. authority
    .. "\r\nProxy-Connection: Keep-Alive\r\n"
  if px.auth then head = head .. "Proxy-Authorization: Basic " .. ngx.encode_base64(px.auth) .. "\r\n" end
  local what = "CONNECT to " .. authority .. " through proxy " .. px.name
  local ok, err = sock:send(head .. "\r\n")
  local status, reason, line, n = nil, "", nil, 0
  local rd = ok and sock:receiveuntil("\n")
  while ok do
    line, err = capped_line(rd, HEADER_MAX - n)
    if not line then
      if err == "too long" then err = "proxy " .. core.HEADERS_TOO_LARGE end
      break
    end
    n = n + #line + 2
    if not status then
      status = tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
      if not status then line, err = nil, "malformed status line from the proxy: " .. line:sub(1, 80); break end
      reason = line:match("^HTTP/%d%.%d %d%d%d ?(.*)$")
    elseif line == "" then
      break
    end
  end
  if not ok or not line then
    self.sock = nil
    sock:close()
    return nil, connect_err(self, what, err)
  end
  if status < 200 or status > 299 then
    self.sock = nil
    sock:close()
    if reason ~= "" then reason = " " .. reason end
    return nil, terr("proxy " .. px.name .. " refused the CONNECT to " .. authority .. ": HTTP " .. status .. reason,
      { proxy_status = status })
  end
  return true
end

-- Sends the next piece of a multipart body (a part's head, or up to FILE_CHUNK bytes of its file):
-- true while more is left, false once all went out, nil, err on failure.
function Handle:_send_piece()
  local up = self.up
  while true do
    local p = up.pieces[up.i]
    if p == nil then
      self.up = nil
      return false
    end
    local data
    if type(p) == "string" then
      data, up.i = p, up.i + 1
    else
      if not up.f then
        local f, msg = io.open(p.path, "rb")
        if not f then
          self:_drop()
          self.err = errors.new("io", { msg = "cannot open file '" .. p.path .. "': " .. tostring(msg) })
          return nil, self.err
        end
        up.f, up.left = f, p.size
      end
      -- the size Content-Length promised, no more (a file that grew would desynchronise a kept-alive
      -- connection), and a file that shrank ends the request (else the server waits for the rest)
      if up.left == 0 then
        up.f:close()
        up.f, up.i = nil, up.i + 1
      else
        data = up.f:read(up.left < FILE_CHUNK and up.left or FILE_CHUNK)
        if not data then
          self:_drop()
          self.err = errors.new("io", { path = p.path, msg = "file '" .. p.path .. "' shrank while it was uploaded ("
            .. (p.size - up.left) .. " of " .. p.size .. " bytes read)" })
          return nil, self.err
        end
        up.left = up.left - #data
      end
    end
    if data and data ~= "" then
      local sent, werr = self.sock:send(data)
      if not sent then
        local first = self.upload_bytes == 0
        local _, e = self:_fail(werr, "sending the request")
        -- a kept-alive connection the server closed meanwhile: nothing of this request was taken
        if first and not self.fresh and werr == "closed" then e.not_sent = true end
        return nil, e
      end
      self.upload_bytes = self.upload_bytes + #data
      return true
    end
  end
end

function Handle:_end_upload()
  local up = self.up
  self.up = nil
  if up and up.f then up.f:close() end
end

function Transport:request(req)
  if type(ngx) ~= "table" or not ngx.socket then
    return nil, terr("coze.transport.ngx needs nginx's lua module (OpenResty)")
  end
  _M.check_phase(2)
  if (req.ca_file or self.ca_file) or (req.ca_path or self.ca_path) then
    return nil, terr("coze.transport.ngx: ca_file/ca_path cannot be set per request inside nginx" .. HINT_CA)
  end
  local scheme, host, port, target, hosthdr = parse_url(req.url)
  if not scheme or (scheme ~= "http" and scheme ~= "https") then
    return nil, terr("unsupported URL: " .. tostring(req.url))
  end
  local px
  local purl = proxies.url_for(scheme, host, { proxy = req.proxy or self.proxy, no_proxy = req.no_proxy or self.no_proxy })
  if purl then
    local perr
    px, perr = proxies.parse(purl)
    if not px then return nil, terr("coze.transport.ngx: " .. perr) end -- deterministic: no retry
  end
  local verify = req.tls_verify
  if verify == nil then verify = self.tls_verify end
  -- the clock is cached since the last yield and the caller may have worked since: the deadline
  -- and the timings count from now (an upgrade's deadline fired ~60 ms early on the cached time)
  ngx.update_time()
  local h = setmetatable({
    t = self, req = req, scheme = scheme, host = host, port = port,
    deadline = (req.total_timeout_ms or 0) > 0 and ngx.now() * 1000 + req.total_timeout_ms or nil,
    state = "start", which = "connect", reuse = false, upload_bytes = 0, body_bytes = 0,
    t0 = ngx.now(), -- the timings of h:info(), as libcurl's (later readings follow a yield: fresh)
  }, Handle)

  local sock, serr = ngx.socket.tcp()
  if not sock then -- a phase without cosockets
    return nil, terr("coze.transport.ngx: " .. tostring(serr))
  end
  h.sock = sock
  h:_settimeout(req.connect_timeout_ms, "connect")
  -- req.no_pool (a WebSocket upgrade): a pool nothing is ever put back into, so always a new connection
  local pool = scheme .. ":" .. host .. ":" .. port .. (verify and "" or ":noverify") .. (req.no_pool and ":no_pool" or "")
  local chost, cport = host, port
  if px then
    -- one pool per proxy, target and credentials (keyed-hashed: a pool name is no secret)
    local via, verr = proxies.pool_name(px)
    if not via then
      h.sock = nil
      sock:close()
      return nil, terr("coze.transport.ngx: " .. verr)
    end
    pool = pool .. ":via:" .. via
    chost, cport = px.host, px.port
  end
  local ok, cerr = sock:connect(chost, cport, { pool = pool, pool_size = self.pool_size })
  if not ok then
    h.sock = nil
    sock:close()
    local e = connect_err(h, px and ("cannot connect to proxy " .. px.name) or ("cannot connect to " .. host .. ":" .. port), cerr)
    if tostring(cerr):find("no resolver", 1, true) or tostring(cerr):find("could not be resolved", 1, true) then
      e.msg = e.msg .. HINT_RESOLVER
    end
    return nil, e
  end
  h.connect_s = ngx.now() - h.t0
  -- https, and req.tunnel (a WebSocket upgrade, also on ws://: a proxy relays no Upgrade), go
  -- through a CONNECT tunnel; plain http in absolute form
  local tunnel = px and (scheme == "https" or req.tunnel)
  if tunnel and sock:getreusedtimes() == 0 then
    local tunneled, tunnel_err = h:_tunnel(px, host, port)
    if not tunneled then return nil, tunnel_err end
  end
  if scheme == "https" and sock:getreusedtimes() == 0 then
    local sni = host
    -- an IP literal carries no SNI (RFC 6066; libcurl sends none either)
    local ip = host:find(":", 1, true) or host:find("^%d+%.%d+%.%d+%.%d+$")
    if ip then sni = nil end
    -- lua-nginx-module 0.10.23 sometimes reports a refused certificate as success (and then
    -- closes the socket) or trips an assertion in resty.core: both are caught as a refusal below.
    -- Verifying an IP asks for the session (nil, not false): it holds the certificate checked below.
    local want_session = false
    if verify and ip then want_session = nil end
    local okc, sess, herr = pcall(sock.sslhandshake, sock, want_session, sni, verify)
    if not okc then sess, herr = nil, "certificate verify failed (" .. tostring(sess) .. ")" end
    -- resty.core answers a handshake that kept no session with nil and no error: names_ip refuses it
    if okc and sess == nil and herr == nil and want_session == nil then sess = true end
    if sess and not sock:getreusedtimes() then
      sess, herr = nil, "certificate verify failed (nginx's error log names the reason)"
    end
    if sess and verify and ip then sess, herr = names_ip(sess, host) end
    if not sess then
      h.sock = nil
      sock:close()
      if herr == "timeout" then
        return nil, timeout_err(h.which == "total" and "total" or "connect", "TLS handshake with " .. host .. ": timed out")
      end
      herr = tostring(herr)
      -- nginx reports a refused certificate as "<X509 verify code>: <reason>"
      if herr:find("^%d+: ") or herr:find("certificate verify failed", 1, true) then
        return nil, terr("TLS certificate of " .. host .. " not trusted: " .. herr .. HINT_CA, { tls = true })
      end
      if herr:find("certificate host mismatch", 1, true) then -- as libcurl's CURLE_PEER_FAILED_VERIFICATION
        return nil, terr("TLS certificate is not for " .. host .. ": " .. herr .. HINT_NAME, { tls = true })
      end
      return nil, terr("TLS handshake with " .. host .. " failed: " .. herr, { not_sent = true })
    end
  end
  h.fresh = sock:getreusedtimes() == 0

  -- The request head and body. Through a proxy a plain http request goes in absolute form.
  local line1 = req.method .. " " .. target .. " HTTP/1.1"
  if px and not tunnel then line1 = req.method .. " http://" .. hosthdr .. target .. " HTTP/1.1" end
  local lines = { line1, "Host: " .. hosthdr }
  if px and not tunnel and px.auth then
    lines[3] = "Proxy-Authorization: Basic " .. ngx.encode_base64(px.auth)
  end
  local has = {}
  for _, l in ipairs(req.headers or {}) do
    local name = l:match("^([^:]+):")
    if name then has[name:lower()] = true end
    lines[#lines + 1] = l
  end
  if req.parts then
    local pieces, len, boundary = multipart(req.parts)
    if not pieces then
      h:_drop()
      return nil, errors.new("io", { msg = boundary })
    end
    if not has["content-type"] then
      lines[#lines + 1] = "Content-Type: multipart/form-data; boundary=" .. boundary
    end
    lines[#lines + 1] = "Content-Length: " .. len
    -- the pieces go out from wait_headers, one per call, so on_progress sees them (wait.headers_progress)
    h.up, h.upload_total = { pieces = pieces, i = 1 }, len
  elseif req.body then
    lines[#lines + 1] = "Content-Length: " .. #req.body
    h.upload_total = #req.body
  elseif req.method == "POST" or req.method == "PUT" or req.method == "PATCH" then
    lines[#lines + 1] = "Content-Length: 0"
  end
  lines[#lines + 1] = "\r\n"
  local head = table.concat(lines, "\r\n")
  h:_settimeout(req.first_byte_timeout_ms, "first_byte")
  local sent, werr
  if req.body and #req.body <= READ_MAX then
    sent, werr = sock:send(head .. req.body)
  else
    sent, werr = sock:send(head)
    if sent and req.body then sent, werr = sock:send(req.body) end
  end
  if not sent then
    -- a kept-alive connection the server closed meanwhile: nothing of this request was taken
    local _, e = h:_fail(werr, "sending the request")
    if not h.fresh and werr == "closed" then e.not_sent = true end
    return nil, e
  end
  if req.body then h.upload_bytes = #req.body end
  h.state = "sent"
  return h
end

-- One line (without CRLF) of at most max bytes; past them the header block's limit error.
function Handle:_line(during, max)
  self.rd = self.rd or self.sock:receiveuntil("\n")
  local line, err, partial = capped_line(self.rd, max)
  if not line then
    if err == "too long" then return self:_fail(core.HEADERS_TOO_LARGE, during) end
    if err == "closed" and partial == "" and during == "reading the status line" and not self.fresh then
      -- a pooled connection the server had closed (as libcurl, which retries it at once)
      local _, e = self:_fail(err, during)
      e.not_sent = true
      return nil, e
    end
    return self:_fail(err, during)
  end
  return line
end

-- While a multipart body goes out, each call sends one piece and returns false, "sent" (so a
-- caller's on_progress sees h:info() move, wait.headers_progress, and nothing calls on_wait in
-- between: the send itself yielded to nginx); then it waits for the status.
function Handle:wait_headers()
  if self.status then return self.status end
  if self.err then return nil, self.err end
  if not self.sock then return nil, terr("closed") end
  if self.up then
    self:_settimeout(self.req.first_byte_timeout_ms, "first_byte")
    local more, err = self:_send_piece()
    if more == nil then return nil, err end
    return false, SENT
  end
  while true do
    self:_settimeout(self.req.first_byte_timeout_ms, "first_byte")
    local line, err = self:_line("reading the status line", LINE_MAX)
    if not line then return nil, err end
    local version, status = line:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not version then
      return self:_fail("malformed status line", "reading the status line")
    end
    status = tonumber(status)
    self.starttransfer_s = ngx.now() - self.t0
    local block, n = {}, 0
    while true do
      local l, lerr = self:_line("reading the headers", HEADER_MAX - n)
      if not l then return nil, lerr end
      if l == "" then break end
      n = n + #l + 2
      if #block == HEADER_LINES then return self:_fail(core.HEADERS_TOO_LARGE, "reading the headers") end
      block[#block + 1] = l
    end
    if status >= 200 or status == 101 then
      local head_block = table.concat(block, "\r\n")
      local headers, perr = core.parse_headers(head_block .. "\r\n")
      if not headers then return self:_fail(perr, "reading the headers") end
      self.status, self.hdrs, self.head_block = status, headers, head_block -- the raw block: the WebSocket Accept check
      local conn = (headers["connection"] or ""):lower()
      self.reuse = version == "1.1" and not conn:find("close", 1, true)
      local te = (headers["transfer-encoding"] or ""):lower()
      local ce = (headers["content-encoding"] or "identity"):lower()
      if ce ~= "identity" and ce ~= "" then
        return self:_fail("response body in content-encoding '" .. ce .. "', which was not asked for",
          "reading the headers")
      end
      if self.req.method == "HEAD" or status == 204 or status == 304 then
        self.left = 0
      elseif te ~= "" then
        if not te:find("chunked%s*$") then
          return self:_fail("unsupported transfer-encoding '" .. te .. "'", "reading the headers")
        end
        self.chunked, self.dec = true, core.chunked_decoder()
      elseif headers["content-length"] then
        local len = tonumber(headers["content-length"]:match("^%s*(%d+)%s*$"))
        if not len then return self:_fail("invalid Content-Length", "reading the headers") end
        self.left = len
      else
        self.left, self.reuse = nil, false -- delimited by the close
      end
      self.state = "body"
      if self.left == 0 and not self.chunked then self:_done() end
      return status
    end
  end
end

function Handle:headers() return self.hdrs end

-- The body was read to its end: the connection goes back to nginx's pool when the server allows,
-- never for req.no_pool (an upgrade's, even when refused with an empty body).
function Handle:_done()
  self.state = "done"
  self.t_end = ngx.now()
  local sock = self.sock
  if not sock then return end
  self.sock = nil
  if self.reuse and not self.req.no_pool then
    sock:setkeepalive(_M.timeout_ms(self.t.pool_idle_ms), self.t.pool_size)
  else
    sock:close()
  end
end

local BODY = "reading the body"

-- A chunked body through the C decoder (csrc/chunked.c): the next decoded bytes, or with a parser
-- true once they went into it (no Lua string); nil at the end.
function Handle:_read_chunked(parser)
  local dec = self.dec
  while true do
    local data, err = self.sock:receiveany(READ_MAX)
    if not data then return self:_fail(err, BODY) end
    local out, done = dec:feed(data, parser)
    if out == nil then return self:_fail(done, BODY) end
    if done then
      self:_done()
      if parser or out ~= "" then return out end
      return nil
    end
    if parser or out ~= "" then return out end
  end
end

-- h:read(wait_ms): the next body bytes; nil at the clean end; nil, err. Never false (can_poll = false).
function Handle:read()
  if self.state == "done" then return nil end
  if self.err then return nil, self.err end
  if self.state ~= "body" then
    if self.state == "closed" then return nil end
    local st, err
    repeat st, err = self:wait_headers() until st ~= false
    if not st then return nil, err end
    if self.state == "done" then return nil end
  end
  self:_settimeout(self.req.idle_timeout_ms, "idle")
  if self.chunked then return self:_read_chunked() end
  local left = self.left
  if left == 0 then
    self:_done()
    return nil
  end
  local data, err = self.sock:receiveany(left and (left < READ_MAX and left or READ_MAX) or READ_MAX)
  if not data then
    if err == "closed" and left == nil then -- a close-delimited body ends so
      self:_drop()
      self.state = "done"
      return nil
    end
    return self:_fail(err, BODY)
  end
  self.body_bytes = self.body_bytes + #data
  if left then
    left = left - #data
    self.left = left
    if left == 0 then self:_done() end
  end
  return data
end

function Handle:read_into(parser, wait_ms)
  if self.chunked and self.state == "body" and not self.err then
    self:_settimeout(self.req.idle_timeout_ms, "idle")
    return self:_read_chunked(parser)
  end
  local data, err = self:read(wait_ms)
  if data then
    parser:feed(data)
    return true
  end
  return data, err
end

-- As libcurl's info(): seconds since the request started to the connection (TCP, to the proxy
-- when there is one; 0 for a pooled one), to the status line, and to the end (or now).
function Handle:info()
  return { num_connects = self.fresh and 1 or 0, upload_bytes = self.upload_bytes, upload_total = self.upload_total,
    connect_s = self.connect_s, starttransfer_s = self.starttransfer_s,
    total_s = (self.t_end or ngx.now()) - self.t0,
    download_bytes = self.dec and self.dec:bytes() or self.body_bytes }
end

-- An unfinished response's connection is closed, never pooled.
function Handle:close()
  if self.state ~= "done" then self.state = "closed" end
  self:_drop()
end

return _M
