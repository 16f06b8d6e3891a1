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
local wait = require "coze.wait"

local fail = args.fail
local TIMEOUT_KEYS = defaults.TIMEOUT_KEYS

local _M = {}

_M.CN_BASE_URL = defaults.CN_BASE_URL
_M.COM_BASE_URL = defaults.COM_BASE_URL
_M.CALL_OPTIONS = request.CALL_OPTIONS

local Client = {}
Client.__index = Client
_M.Client = Client

-- coze.new's own options, with their types (the others are request.CALL_OPTIONS: client-wide defaults).
local CLIENT_OPTIONS = {
  token = "string", auth = "table", base_url = "string", transport = "table", proxy = "string",
  no_proxy = "string", ca_file = "string", ca_path = "string", tls_verify = "boolean", max_buffer = "number",
  ws_base_url = "string", max_message_bytes = "number", logger = "function|table",
}
-- Call options that belong to one request: a client-wide default would repeat them on every call
-- (one idempotency key for all calls, every download into one file).
local PER_REQUEST = { output = true, on_chunk = true, request_id = true, idempotency_key = true }
-- Client-wide call options that Client:request merges into each call; the other ones the client
-- keeps in its own fields (headers, the timeouts, the retry settings, the limits).
local MERGED = { "wait_ms", "on_wait", "on_progress", "query", "conversation_id_header" }

local KNOWN = {}
for k in pairs(CLIENT_OPTIONS) do KNOWN[k] = true end
for k in pairs(request.CALL_OPTIONS) do
  if not PER_REQUEST[k] then KNOWN[k] = true end
end
_M.OPTIONS = KNOWN

-- Raises at coze.new's caller for an option coze.new does not know or of the wrong type.
local function check_options(opts)
  for k, v in pairs(opts) do
    if PER_REQUEST[k] then
      fail("new", "option '" .. k .. "' belongs to one call: give it to the call, not to coze.new", 2)
    end
    if not KNOWN[k] then args.unknown("new", k, KNOWN, 2) end
    local want = CLIENT_OPTIONS[k] or request.CALL_OPTIONS[k]
    if not want:find(type(v), 1, true) then
      fail("new", "option '" .. k .. "' must be a " .. want:gsub("|", " or ") .. " (got " .. type(v) .. ")", 2)
    end
  end
end

--- coze.new{ token = "pat_...", base_url = coze.CN_BASE_URL, ... }
-- Options: token or auth, base_url, transport, proxy, no_proxy, ca_file, ca_path, tls_verify,
-- max_buffer, ws_base_url, max_message_bytes, logger, and every call option but the per-request
-- ones (output, on_chunk, request_id, idempotency_key) as the default of every call: headers (sent
-- with every call), query, the timeouts, the retry settings, the limits, wait_ms, on_wait,
-- on_progress, conversation_id_header. An unknown option raises ("did you mean ...?").
-- logger: coze.log (a function(record) or an object with level-named methods; default COZE_LOG).
function _M.new(opts)
  args.table("new", opts)
  check_options(opts)
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
  if opts.headers then
    local ok, why = header.lines { opts.headers }
    if not ok then fail("new", why) end
  end
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
  local merged
  for _, k in ipairs(MERGED) do
    if opts[k] ~= nil then
      merged = merged or {}
      merged[k] = opts[k]
    end
  end
  self.call_defaults = merged
  require("coze.resources").attach(self)
  require("coze.websocket").attach(self, opts)
  return self
end

-- The call options of one call with the client-wide defaults under them (the call's win; query
-- tables are merged, the call's values over the client's). The call's own table when the client
-- has no defaults to merge.
function Client:with_defaults(call)
  local d = self.call_defaults
  if not d then return call end
  local out = {}
  for k, v in pairs(d) do out[k] = v end
  for k, v in pairs(call) do out[k] = v end
  if d.query and call.query then
    local q = {}
    for k, v in pairs(d.query) do q[k] = v end
    for k, v in pairs(call.query) do q[k] = v end
    out.query = q
  end
  return out
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

-- A successful JSON answer is decoded by the transport where it can (h:read_all "json"), straight
-- from its buffer: a large body and its value are then never both whole in memory.
local function read_as(_, status, headers)
  if status >= 200 and status < 300 and envelope.is_json(headers) then return "json" end
end

local HOOKS = { credential = credential, decode = decode, on_rejected = on_rejected, read_as = read_as }
local HOOKS_TAKE = { credential = credential, decode = decode, on_rejected = on_rejected, take = take,
  read_as = read_as }

function Client:request(req)
  local own = req.call or {}
  local call = self:with_defaults(own)
  if call ~= own and call.on_progress and not own.on_progress and not req.multipart then
    call.on_progress = nil -- a client-wide upload callback: uploads only
  end
  if call.on_wait then wait.check_on_wait(req.op or "request", call.on_wait, 2) end
  local treq, safe = request.build(self, req, call)
  if not treq then return nil, safe end
  if call.output and req.response == "binary" then
    local ok, err = download.check_output(call.output)
    if not ok then return nil, errors.annotate(err, { op = req.op }) end
  end
  local lines = treq.headers
  treq.headers = nil
  return pipeline.run {
    client = self, req = req, call = call, policy = self,
    transport = self.transport, request = treq, headers = lines, op = req.op, safe = safe,
    hooks = (req.stream or req.response == "binary") and HOOKS_TAKE or HOOKS,
  }
end

return _M
