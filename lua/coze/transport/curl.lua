-- Transport on libcurl's multi interface (coze.core): one connection cache per transport,
-- transfers driven from Lua with read(wait_ms) so coroutines can yield between reads.
local core = require "coze.core"
local errors = require "coze.errors"

local _M = {}

local Transport = {}
Transport.__index = Transport

local Handle = {}
Handle.__index = Handle

-- curl codes that mean nothing reached the server, so any call may be sent again.
local NOT_SENT = {
  [5] = true,  -- CURLE_COULDNT_RESOLVE_PROXY
  [6] = true,  -- CURLE_COULDNT_RESOLVE_HOST
  [7] = true,  -- CURLE_COULDNT_CONNECT
  [35] = true, -- CURLE_SSL_CONNECT_ERROR
}

-- curl codes of a certificate the TLS check refused (or could not check): deterministic, so the
-- error says err.tls and is never retried.
local TLS_VERIFY = {
  [58] = true, -- CURLE_SSL_CERTPROBLEM
  [60] = true, -- CURLE_PEER_FAILED_VERIFICATION
  [77] = true, -- CURLE_SSL_CACERT_BADFILE
  [82] = true, -- CURLE_SSL_CRL_BADFILE
  [83] = true, -- CURLE_SSL_ISSUER_ERROR
  [90] = true, -- CURLE_SSL_PINNEDPUBKEYNOTMATCH
  [91] = true, -- CURLE_SSL_INVALIDCERTSTATUS
}

-- What a curl code (and the status of a proxy that refused the CONNECT) adds to the fields of a
-- transport error (HTTP calls, and coze.websocket for libcurl's WebSocket connection): curl_code,
-- not_sent, tls, proxy_status. Returns fields.
function _M.code_fields(fields, code, proxy_status)
  fields.curl_code, fields.not_sent, fields.tls = code, NOT_SENT[code], TLS_VERIFY[code]
  fields.proxy_status = proxy_status
  return fields
end

local function transport_error(msg, kind, which, proxy_status)
  if kind == "timeout" then
    return errors.new("timeout", { timeout = which, msg = msg, not_sent = which == "connect" or nil })
  end
  if kind == "too_large" then -- req.max_body_bytes (decompressed size), as wait.read_all's own check
    return errors.new("decode", { msg = msg })
  end
  return errors.new("transport", _M.code_fields({ msg = msg, closed = kind == "closed" or nil }, which, proxy_status))
end

-- Inside nginx's lua module (OpenResty) a blocking wait stops the whole worker; ngx.sleep yields
-- to nginx instead, in the phases that allow it. Elsewhere nil: the caller blocks in C.
local NGX_YIELDABLE = { rewrite = true, access = true, content = true, timer = true, ssl_cert = true,
  ssl_session_fetch = true, preread = true }

local function ngx_waiter()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  if not NGX_YIELDABLE[ngx.get_phase()] then return nil end
  local sleep = ngx.sleep
  return function(ms) sleep((ms or 1) / 1000) end
end

-- opts: proxy, no_proxy, ca_file, ca_path, tls_verify (default true), max_buffer
function _M.new(opts)
  opts = opts or {}
  return setmetatable({
    session = core.session(),
    proxy = opts.proxy, no_proxy = opts.no_proxy,
    ca_file = opts.ca_file, ca_path = opts.ca_path,
    tls_verify = opts.tls_verify ~= false,
    max_buffer = opts.max_buffer,
  }, Transport)
end

-- What a request (or a WebSocket connection) does not set comes from the transport's own options.
local function defaults(self, req)
  req.proxy = req.proxy or self.proxy
  req.no_proxy = req.no_proxy or self.no_proxy
  req.ca_file = req.ca_file or self.ca_file
  req.ca_path = req.ca_path or self.ca_path
  if req.tls_verify == nil then req.tls_verify = self.tls_verify end
  return req
end

function Transport:request(req)
  defaults(self, req)
  req.max_buffer = req.max_buffer or self.max_buffer
  local r, msg, kind, which = self.session:request(req)
  if not r then return nil, transport_error(msg, kind, which) end -- e.g. a part's file vanished
  return setmetatable({ r = r, t = self }, Handle)
end

-- Optional, for coze.scheduler (with Handle:watch): out[1..n] = the keys of the watched handles
-- that Handle:ready would call ready, in one poll and one call for all; -> n, or nil when the
-- transport is closed (then every watcher should look for itself).
function Transport:ready_keys(round, out)
  local n = self.session:ready_keys(round, out)
  local gone = self.gone
  if n and gone then -- watched handles closed since: their watchers wake to find out
    self.gone = nil
    for i = 1, #gone do out[n + i] = gone[i] end
    n = n + #gone
  end
  return n
end

function Transport:now_ms() return core.monotonic_ms() end
function Transport:time() return core.time() end
function Transport:sleep_ms(ms) core.sleep_ms(ms) end

-- A WebSocket connection on libcurl's connect-only mode (csrc/wsconn.c): proxies, CA files and TLS
-- as for HTTP calls. coze.websocket's sessions ask the client's transport for it.
function Transport:websocket(o) return core.ws_open(defaults(self, o)) end

-- How a caller that gave no on_wait waits for something other than this transport's I/O (a
-- token another coroutine is fetching): ngx.sleep inside OpenResty, nil (block) elsewhere.
function Transport.default_on_wait()
  return ngx_waiter()
end
_M.default_on_wait = ngx_waiter

function Transport:close()
  self.session:close()
end

function Handle:wait_headers(wait_ms)
  local status, msg, kind, which, proxy_status = self.r:wait_headers(wait_ms)
  if status == nil then return nil, transport_error(msg, kind, which, proxy_status) end
  return status
end

function Handle:headers()
  return self.r:headers()
end

function Handle:read(wait_ms)
  local chunk, msg, kind, which = self.r:read(wait_ms)
  if chunk == nil and msg ~= nil then return nil, transport_error(msg, kind, which) end
  return chunk
end

-- Optional: the whole body in one string (false: wait_ms ran out, call again); as = "json": the
-- decoded table for a valid UTF-8 JSON object/array, decoded from the C buffer.
function Handle:read_all(max_bytes, wait_ms, as)
  local body, msg, kind, which = self.r:read_all(max_bytes, wait_ms, as)
  if body == nil and msg then
    if kind == "malformed" then return nil, errors.new("decode", { msg = msg }) end
    return nil, transport_error(msg, kind, which)
  end
  return body
end

-- Optional (stream.lua falls back to read + parser:feed without it): feeds the next body bytes
-- straight into a core.sse_parser. true, false, nil at the end, or nil, err, as read. The first
-- call attaches the parser to the transfer (curl's callback feeds it in C); read() detaches it.

function Handle:read_into(parser, wait_ms)
  local ok, msg, kind, which = self.r:read_into(parser, wait_ms)
  if ok == nil and msg ~= nil then return nil, transport_error(msg, kind, which) end
  return ok
end

-- Optional (coze.scheduler resumes a waiting task only when this says so; without it, every
-- step): true when wait_headers (what == "wait_headers") or a read would not wait. Never blocks;
-- the session's sockets are polled once per distinct round.
function Handle:ready(round, what)
  return self.r:ready(round, what == "wait_headers")
end

-- Optional: from now on (until watch(0) or close) Transport:ready_keys reports key whenever
-- ready(round, what) would be true. Returns the transport, whose ready_keys the watcher calls.
function Handle:watch(key, what)
  self.r:watch(key, what == "wait_headers")
  self.key = key > 0 and key or nil
  return self.t
end

function Handle:info()
  return self.r:info()
end

function Handle:close()
  self.r:close()
  local key = self.key
  if key then
    self.key = nil
    local t = self.t
    t.gone = t.gone or {}
    t.gone[#t.gone + 1] = key
  end
end

return _M
