-- The client: its configuration (auth, base URL, transport, headers, timeouts, limits, retry
-- policy) and Client:request, which hands a resource's request description to the pipeline with
-- the Coze envelope as decoder. Resources only describe requests; this module sends them.
local args = require "coze.args"
local defaults = require "coze.defaults"
local download = require "coze.download"
local envelope = require "coze.envelope"
local errors = require "coze.errors"
local header = require "coze.header"
local log = require "coze.log"
local pipeline = require "coze.pipeline"
local request = require "coze.request"
local retry = require "coze.retry"
local scrub = require "coze.scrub"
local stream_mod = require "coze.stream"
local transport_mod = require "coze.transport"
local url = require "coze.url"

local fail = args.fail
local TIMEOUT_KEYS = defaults.TIMEOUT_KEYS

local _M = {}

_M.CN_BASE_URL = defaults.CN_BASE_URL
_M.COM_BASE_URL = defaults.COM_BASE_URL
_M.CALL_OPTIONS = request.CALL_OPTIONS

local Client = {}
Client.__index = Client
_M.Client = Client

--- coze.new{ token = "pat_...", base_url = coze.CN_BASE_URL, ... }
-- Options: token or auth, base_url, transport, headers (sent with every call), timeouts
-- (connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms), proxy, no_proxy,
-- ca_file, ca_path, tls_verify (true unless set to false), max_event_bytes, max_body_bytes,
-- logger (coze.log: a function(record) or an object with level-named methods; default COZE_LOG).
function _M.new(opts)
  args.table("new", opts)
  local auth = opts.auth
  if auth == nil then
    local token = opts.token
    if type(token) ~= "string" or token == "" then
      fail("new", "field 'token' must be a non-empty string (or give 'auth')")
    end
    if header.has_crlf(token) then fail("new", "field 'token' contains CR or LF") end
    auth = require("coze.auth.static").new { token = token }
  elseif type(auth) ~= "table" or type(auth.token) ~= "function" then
    fail("new", "field 'auth' must be an auth object with a token method")
  end
  local base_url, why = url.base(opts.base_url or os.getenv("COZE_API_BASE") or defaults.COM_BASE_URL)
  if not base_url then fail("new", "field 'base_url' " .. why) end
  request.check_limits("new", opts)
  if args.type("new", opts, "headers", "table") then
    local ok, why = header.lines { opts.headers }
    if not ok then fail("new", why) end
  end
  args.type("new", opts, "tls_verify", "boolean")
  local self = setmetatable({
    auth = auth,
    base_url = base_url,
    transport = transport_mod.select(opts),
    headers = opts.headers or {},
    max_event_bytes = opts.max_event_bytes,
    max_body_bytes = opts.max_body_bytes or defaults.API.max_body_bytes,
    log_sink = log.new("new", opts.logger),
  }, Client)
  for _, k in ipairs(TIMEOUT_KEYS) do
    self[k] = opts[k] or defaults.API[k]
  end
  for k, v in pairs(retry.DEFAULTS) do self[k] = opts[k] or v end
  require("coze.resources").attach(self)
  require("coze.websocket").attach(self, opts)
  return self
end

function Client.__tostring(c)
  return "coze.Client (" .. c.base_url .. ")"
end

function Client:close()
  if self.transport and self.transport.close then self.transport:close() end
end

local function auth_rejected(err)
  return err.http_status == 401 or err.code == 4100 or err.code == 4101
end

-- Sends one request. req: op, method, path, query (table), body (table -> JSON, or string),
-- multipart (true: body's fields become multipart/form-data parts, files streamed from disk, see
-- coze.multipart), parts (ready-made transport parts), headers (name -> value), stream (profile
-- name, when an SSE answer is wanted), response ("json" | "binary"), result (envelope key to
-- return, "data" by default; "body" = all), idempotent (safe to replay), on_close (the stream's),
-- and call (the caller's call options: headers, query, timeouts, wait_ms, on_wait, retry settings,
-- on_progress, output, on_chunk, request_id, idempotency_key, conversation_id_header). Returns
-- result, meta | stream | nil, err. A binary result is the bytes, or their count when they went to
-- output / on_chunk. Failed attempts are retried when retry.retryable says so; a 401 is answered
-- once by asking the auth object for a new token (auth:invalidate) and replaying, unless the auth
-- object says it is not refreshable (a static token).
-- The pipeline's hooks for API calls. Module-level functions of the pipeline table p (which
-- carries client, req, call), so a call allocates no closures.
local function credential(p)
  return p.client.auth:token(p.client, p.call)
end

local function on_rejected(p, err, token)
  local auth = p.client.auth
  -- a static token would come back the same: no replay
  if not auth_rejected(err) or not auth.invalidate or auth.refreshable == false then return false end
  auth:invalidate(token)
  return true
end

local function take(p, h, status, headers, token)
  if status < 200 or status >= 300 then return nil end
  local req, call, client = p.req, p.call, p.client
  if req.stream and (headers["content-type"] or ""):find("text/event-stream", 1, true) then
    return true, stream_mod.new(h, {
      profile = req.stream, op = req.op, logid = headers["x-tt-logid"], http_status = status,
      headers = headers, max_event_bytes = call.max_event_bytes or client.max_event_bytes,
      wait_ms = call.wait_ms, on_wait = call.on_wait, on_close = req.on_close,
      on_end = client.log_sink and client.log_sink.on_stream_end,
      scrub = scrub.with { token }, -- server text in the stream's errors (an error event echoing it)
    })
  end
  if req.response == "binary" and not envelope.is_json(headers) then
    return download.receive(h, status, headers, { output = call.output, on_chunk = call.on_chunk,
      max_body_bytes = call.max_body_bytes or client.max_body_bytes, wait_ms = call.wait_ms, on_wait = call.on_wait })
  end
end

local function decode(p, status, headers, body, token)
  local req = p.req
  local res, meta = envelope.decode(req, status, headers, body, p.transport, token)
  if res == nil then return false, meta end
  if req.stream and status >= 200 and status < 300 then
    -- asked for a stream, got a successful JSON body: not what the operation promises
    return false, errors.new("decode", { op = req.op, http_status = status, logid = headers["x-tt-logid"],
      msg = "expected text/event-stream, got '" .. (headers["content-type"] or "") .. "'" })
  end
  return true, res, meta
end

local HOOKS = { credential = credential, decode = decode, on_rejected = on_rejected }
local HOOKS_TAKE = { credential = credential, decode = decode, on_rejected = on_rejected, take = take }

function Client:request(req)
  local call = req.call or {}
  local treq, safe = request.build(self, req, call)
  if not treq then return nil, safe end
  local lines = treq.headers
  treq.headers = nil
  return pipeline.run {
    client = self, req = req, call = call, policy = self,
    transport = self.transport, request = treq, headers = lines, op = req.op, safe = safe,
    hooks = (req.stream or req.response == "binary") and HOOKS_TAKE or HOOKS,
  }
end

return _M
