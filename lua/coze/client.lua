-- The client: configuration, the request pipeline (headers, auth, envelope, errors) and the
-- resource objects hanging off it. Resources only describe requests; this module sends them.
local errors = require "coze.errors"
local header = require "coze.header"
local json = require "coze.json"
local url = require "coze.url"
local useragent = require "coze.useragent"
local wait = require "coze.wait"
local stream_mod = require "coze.stream"
local retry = require "coze.retry"
local multipart = require "coze.multipart"
local utf8_check = require("coze.core").utf8_check
local has_crlf = header.has_crlf

local _M = {}

_M.CN_BASE_URL = "https://api.coze.cn"
_M.COM_BASE_URL = "https://api.coze.com"

local DEFAULTS = {
  connect_timeout_ms = 10000,
  first_byte_timeout_ms = 120000,
  idle_timeout_ms = 120000,
  total_timeout_ms = 0, -- never kill a long stream by default
  max_body_bytes = 64 * 1024 * 1024,
}

local TIMEOUT_KEYS = { "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "total_timeout_ms" }

-- Keys of a call's options table that configure the call instead of going to the server.
local CALL_OPTIONS = {
  headers = "table", query = "table", wait_ms = "number", on_wait = "function",
  connect_timeout_ms = "number", first_byte_timeout_ms = "number", idle_timeout_ms = "number",
  total_timeout_ms = "number", max_event_bytes = "number", max_body_bytes = "number",
  max_retries = "number", retry_base_ms = "number", retry_max_delay_ms = "number", retry_budget_ms = "number",
  -- uploads (multipart operations) and binary downloads (response "binary")
  on_progress = "function", output = "string", on_chunk = "function",
  -- request headers by name (chat.completions documents them; any call may send them)
  request_id = "string", idempotency_key = "string", conversation_id_header = "string",
}
_M.CALL_OPTIONS = CALL_OPTIONS

-- Call options that become request headers.
local HEADER_OPTIONS = {
  { "request_id", "X-Request-Id" }, { "idempotency_key", "X-Idempotency-Key" },
  { "conversation_id_header", "X-Conversation-Id" },
}

local Client = {}
Client.__index = Client
_M.Client = Client

local function argerror(where, msg)
  error("coze: " .. where .. ": " .. msg, 3)
end

local function check_number(where, opts, key)
  local v = opts[key]
  if v ~= nil and (type(v) ~= "number" or v < 0 or v ~= v) then
    argerror(where, "field '" .. key .. "' must be a non-negative number (got " .. type(v) .. ")")
  end
end

--- coze.new{ token = "pat_...", base_url = coze.CN_BASE_URL, ... }
-- Options: token or auth, base_url, transport, headers (sent with every call), timeouts
-- (connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms), proxy, no_proxy,
-- ca_file, ca_path, tls_verify (true unless set to false), max_event_bytes, max_body_bytes.
function _M.new(opts)
  if type(opts) ~= "table" then argerror("new", "expected an options table") end
  local auth = opts.auth
  if auth == nil then
    local token = opts.token
    if type(token) ~= "string" or token == "" then
      argerror("new", "field 'token' must be a non-empty string (or give 'auth')")
    end
    if has_crlf(token) then argerror("new", "field 'token' contains CR or LF") end
    auth = require("coze.auth.static").new { token = token }
  elseif type(auth) ~= "table" or type(auth.token) ~= "function" then
    argerror("new", "field 'auth' must be an auth object with a token method")
  end
  local base_url = opts.base_url or os.getenv("COZE_API_BASE") or _M.COM_BASE_URL
  if type(base_url) ~= "string" or not base_url:match("^https?://[^/]") then
    argerror("new", "field 'base_url' must be an http(s) URL")
  end
  for _, k in ipairs(TIMEOUT_KEYS) do check_number("new", opts, k) end
  check_number("new", opts, "max_event_bytes")
  check_number("new", opts, "max_body_bytes")
  if opts.headers ~= nil and type(opts.headers) ~= "table" then
    argerror("new", "field 'headers' must be a table")
  end
  if opts.tls_verify ~= nil and type(opts.tls_verify) ~= "boolean" then
    argerror("new", "field 'tls_verify' must be a boolean")
  end
  local transport = opts.transport
  if transport == nil then
    transport = require("coze.transport.curl").new {
      proxy = opts.proxy, no_proxy = opts.no_proxy, ca_file = opts.ca_file, ca_path = opts.ca_path,
      tls_verify = opts.tls_verify, max_buffer = opts.max_buffer,
    }
  end
  local self = setmetatable({
    auth = auth,
    base_url = (base_url:gsub("/+$", "")),
    transport = transport,
    headers = opts.headers or {},
    max_event_bytes = opts.max_event_bytes,
    max_body_bytes = opts.max_body_bytes or DEFAULTS.max_body_bytes,
  }, Client)
  for _, k in ipairs(TIMEOUT_KEYS) do
    self[k] = opts[k] or DEFAULTS[k]
  end
  for k, v in pairs(retry.DEFAULTS) do
    check_number("new", opts, k)
    self[k] = opts[k] or v
  end
  require("coze.resources").attach(self)
  return self
end

function Client.__tostring(c)
  return "coze.Client (" .. c.base_url .. ")"
end

function Client:close()
  if self.transport and self.transport.close then self.transport:close() end
end

local function header_lines(where, lists)
  local order, values = {}, {}
  for _, list in ipairs(lists) do
    for name, v in pairs(list) do
      local key, value = header.check(name, v)
      if not key then argerror(where, value) end
      if values[key] == nil then order[#order + 1] = key end
      values[key] = name .. ": " .. value
    end
  end
  local lines = {}
  for i, key in ipairs(order) do lines[i] = values[key] end
  return lines
end

local function retry_after_seconds(value, now)
  if not value then return nil end
  local n = tonumber(value)
  if n then return n end
  -- HTTP-date form, e.g. "Wed, 21 Oct 2015 07:28:00 GMT"
  local d, mon, y, h, mi, s = value:match("%a+, (%d+) (%a+) (%d+) (%d+):(%d+):(%d+) GMT")
  if not d then return nil end
  local months = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9,
    Oct = 10, Nov = 11, Dec = 12 }
  local m = months[mon]
  if not m then return nil end
  -- days from civil (UTC), independent of the local time zone
  local yy = tonumber(y) - (m <= 2 and 1 or 0)
  local era = math.floor(yy / 400)
  local yoe = yy - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  local t = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  local left = t - now
  return left > 0 and left or 0
end
_M.retry_after_seconds = retry_after_seconds

local function is_json(headers)
  local ctype = headers["content-type"]
  return ctype ~= nil and ctype:lower():find("json", 1, true) ~= nil
end

local function snippet(body)
  body = body:sub(1, 200):gsub("[%c]", " ")
  return body
end

-- Turns a complete non-streaming response into (result, meta) or (nil, err).
local function parse_response(self, req, status, headers, body)
  local logid = headers["x-tt-logid"]
  local base = { op = req.op, http_status = status, logid = logid }
  if status == 429 or status >= 500 then
    base.retry_after = retry_after_seconds(headers["retry-after"], self.transport:time())
  end
  local meta = { http_status = status, logid = logid, headers = headers }
  local binary = req.response == "binary"
  if binary and status >= 200 and status < 300 and not is_json(headers) then
    meta.bytes = #body
    return body, meta
  end
  local valid, bad_at = utf8_check(body)
  if not valid then
    base.msg = "invalid UTF-8 in the response body at byte " .. bad_at
    return nil, errors.new("decode", base)
  end
  local decoded, derr = json.decode(body)
  if decoded == nil or type(decoded) ~= "table" then
    if status >= 200 and status < 300 then
      base.msg = "malformed JSON in response: " .. (derr or "not an object")
      return nil, errors.new("decode", base)
    end
    base.msg = "HTTP " .. status .. (body ~= "" and (": " .. snippet(body)) or "")
    return nil, errors.new("http", base)
  end
  meta.body = decoded
  if type(decoded.detail) == "table" and base.logid == nil then
    base.logid = decoded.detail.logid
    meta.logid = base.logid
  end
  local code = decoded.code
  if code == nil and decoded.error_code ~= nil then code = decoded.error_code end
  if code ~= nil and code ~= 0 and code ~= "0" then
    base.code = code
    base.msg = decoded.msg or decoded.error_message or decoded.message or ""
    base.detail = decoded.detail
    return nil, errors.new("api", base)
  end
  local oe = decoded.error
  if code == nil and type(oe) == "table" then
    -- OpenAI-style error body (chat.completions): {"error":{"message","type","code"}}
    base.code = oe.code ~= nil and oe.code ~= json.null and oe.code or oe.type
    base.msg = type(oe.message) == "string" and oe.message or ""
    base.detail = oe
    return nil, errors.new("api", base)
  end
  if status < 200 or status >= 300 then
    base.msg = "HTTP " .. status
    return nil, errors.new("http", base)
  end
  if binary then
    base.msg = "expected binary content, got '" .. tostring(headers["content-type"]) .. "'"
    return nil, errors.new("decode", base)
  end
  if req.result == "body" then return decoded, meta end
  local result = decoded[req.result or "data"]
  if result == nil then result = true end -- success without data (deletes, updates): true, not nil
  return result, meta
end

local function has_idempotency_key(lists)
  for _, list in ipairs(lists) do
    for name in pairs(list) do
      if type(name) == "string" and name:lower() == "x-idempotency-key" then return true end
    end
  end
  return false
end

-- The parts of a request that stay the same across attempts: treq, safe | nil, err (a file to
-- upload cannot be read).
local function build(self, req, call)
  local where = req.op or "request"
  local target = self.base_url .. req.path
  local query = req.query or {}
  if call.query then
    for k, v in pairs(call.query) do query[k] = v end
  end
  local ok, qs = pcall(url.query, query)
  if not ok then argerror(where, qs) end
  if qs ~= "" then target = target .. "?" .. qs end

  local ua = useragent.headers()
  local base_headers = {
    ["User-Agent"] = ua.user_agent,
    ["X-Coze-Client-User-Agent"] = ua.client_user_agent,
    ["Accept"] = req.stream and "text/event-stream, application/json" or "application/json",
  }
  local body, parts = nil, req.parts
  if req.multipart then
    local err
    parts, err = multipart.parts(where, req.body or {})
    if not parts then return nil, err end
  elseif req.body ~= nil then
    if type(req.body) == "string" then
      body = req.body
    else
      local err
      body, err = json.encode(req.body)
      if not body then argerror(where, "cannot encode the request body as JSON: " .. err) end
      base_headers["Content-Type"] = "application/json"
    end
  end
  if call.output ~= nil and call.on_chunk ~= nil then
    argerror(where, "options 'output' and 'on_chunk' exclude each other")
  end
  local named = {}
  for _, ho in ipairs(HEADER_OPTIONS) do
    local v = call[ho[1]]
    if v ~= nil then
      if v == "" or (ho[1] == "request_id" and #v > 128) then
        argerror(where, "option '" .. ho[1] .. "' must be a non-empty string" ..
          (ho[1] == "request_id" and " of at most 128 characters" or ""))
      end
      named[ho[2]] = v
    end
  end
  local extra = { self.headers, req.headers or {}, named, call.headers or {} }
  local lists = { base_headers, extra[1], extra[2], extra[3], extra[4] }
  local treq = {
    method = req.method, url = target, headers = header_lines(where, lists), body = body, parts = parts,
  }
  for _, k in ipairs(TIMEOUT_KEYS) do treq[k] = call[k] or self[k] end
  local safe = req.idempotent or req.method == "GET" or req.method == "HEAD" or has_idempotency_key(extra)
  return treq, safe
end

-- Calls fn(...); if it raises, closes h first and re-raises (a caller's callback failing).
local function guarded(h, fn, ...)
  local ok, e = pcall(fn, ...)
  if not ok then
    h:close()
    error(e, 0)
  end
  return e
end

-- Upload progress: the transport's handle reports the request body bytes sent so far and their
-- total in h:info() (`upload_bytes`, `upload_total`, read from libcurl between polls). Waits
-- for the headers in short slices and calls on_progress(sent, total) whenever `sent` moved.
-- A transport whose info() lacks these fields gives no progress calls.
local PROGRESS_SLICE_MS = 100

local function wait_headers_progress(h, call)
  local on_progress, on_wait = call.on_progress, call.on_wait or wait.task_on_wait()
  local slice = call.wait_ms or (on_wait and 0 or PROGRESS_SLICE_MS)
  local last = -1
  local function report()
    if not h.info then return end
    local info = h:info()
    local sent = info and info.upload_bytes
    if sent and sent ~= last then
      last = sent
      local total = info.upload_total
      if total == nil or total < 0 then total = nil end
      guarded(h, on_progress, sent, total)
    end
  end
  while true do
    local status, err = h:wait_headers(slice)
    if status ~= false then
      if status then report() end
      return status, err
    end
    report()
    if on_wait then on_wait(slice) end
  end
end

-- A binary body (response "binary", a 2xx answer that is not JSON) goes to call.output (a file
-- written as the bytes arrive, removed when the transfer fails), to call.on_chunk(bytes), or into
-- one string (max_body_bytes applies). true, result, meta | false, err.
local function receive_binary(self, req, call, h, status, headers)
  local meta = { http_status = status, logid = headers["x-tt-logid"], headers = headers,
    content_type = headers["content-type"] }
  local output, on_chunk = call.output, call.on_chunk
  local max_bytes = call.max_body_bytes or self.max_body_bytes
  local f, parts, n = nil, nil, 0
  local function fail(err)
    h:close()
    if f then
      f:close()
      os.remove(output)
    end
    err.op = err.op or req.op
    err.http_status = err.http_status or status
    err.logid = err.logid or meta.logid
    if on_chunk and n > 0 then err.partial = true end -- bytes were handed out: never replay
    return false, err
  end
  if output then
    local msg
    f, msg = io.open(output, "wb")
    if not f then
      return fail(errors.new("io", { path = output, msg = "cannot write file '" .. output .. "': " .. tostring(msg) }))
    end
    meta.path = output
  elseif not on_chunk then
    parts = {}
  end
  while true do
    local chunk, err = wait.await(h, "read", call.wait_ms, call.on_wait)
    if chunk == nil then
      if err then return fail(err) end
      break
    end
    if #chunk > 0 then
      if f then
        local ok, werr = f:write(chunk)
        if not ok then
          return fail(errors.new("io", { path = output, msg = "cannot write file '" .. output .. "': " .. tostring(werr) }))
        end
      elseif on_chunk then
        guarded(h, on_chunk, chunk)
      else
        if n + #chunk > max_bytes then
          return fail(errors.new("decode", { msg = "response body exceeds max_body_bytes (" .. max_bytes ..
            "); give 'output' or 'on_chunk' to receive it in pieces" }))
        end
        parts[#parts + 1] = chunk
      end
      n = n + #chunk
      -- each chunk is garbage at once: collect as we go (one step per chunk, as if its bytes were
      -- allocated again), so a long download to a file or callback keeps memory flat
      if not parts then collectgarbage("step", math.ceil(#chunk / 1024)) end
    end
  end
  h:close()
  meta.bytes = n
  if f then
    local ok, cerr = f:close()
    f = nil
    if not ok then
      os.remove(output)
      return false, errors.new("io", { op = req.op, path = output, http_status = status, logid = meta.logid,
        msg = "cannot write file '" .. output .. "': " .. tostring(cerr) })
    end
  end
  if parts then return true, table.concat(parts), meta end
  return true, n, meta
end

-- One attempt: true, result, meta | false, err. Streams come back as the result.
function Client:_attempt(req, treq, call)
  local token, err = self.auth:token(self, call)
  if not token then
    if errors.is(err) then err.op = err.op or req.op end
    return false, err, nil
  end
  if has_crlf(token) then
    return false, errors.new("auth", { op = req.op, msg = "the token contains CR or LF" })
  end
  local headers_list = { "Authorization: Bearer " .. token }
  for i, line in ipairs(treq.headers) do headers_list[i + 1] = line end
  local attempt_req = {}
  for k, v in pairs(treq) do attempt_req[k] = v end
  attempt_req.headers = headers_list

  local h
  h, err = self.transport:request(attempt_req)
  if not h then
    err.op = err.op or req.op
    return false, err, token
  end
  local status
  if call.on_progress then
    status, err = wait_headers_progress(h, call)
  else
    status, err = wait.await(h, "wait_headers", call.wait_ms, call.on_wait)
  end
  if not status then
    h:close()
    err.op = err.op or req.op
    return false, err, token
  end
  local headers = h:headers()
  local ctype = headers["content-type"] or ""
  if req.stream and status >= 200 and status < 300 and ctype:find("text/event-stream", 1, true) then
    return true, stream_mod.new(h, {
      profile = req.stream, op = req.op, logid = headers["x-tt-logid"], http_status = status,
      headers = headers, max_event_bytes = call.max_event_bytes or self.max_event_bytes,
      wait_ms = call.wait_ms, on_wait = call.on_wait, on_close = req.on_close,
    })
  end
  if req.response == "binary" and status >= 200 and status < 300 and not is_json(headers) then
    local ok, res, meta = receive_binary(self, req, call, h, status, headers)
    if not ok then return false, res, token end
    return true, res, meta
  end
  local data
  data, err = wait.read_all(h, call.max_body_bytes or self.max_body_bytes, call.wait_ms, call.on_wait)
  h:close()
  if not data then
    err.op = err.op or req.op
    err.http_status = err.http_status or status
    err.logid = err.logid or headers["x-tt-logid"]
    return false, err, token
  end
  local res, meta = parse_response(self, req, status, headers, data)
  if res == nil then return false, meta, token end
  if req.stream and status >= 200 and status < 300 then
    -- asked for a stream, got a successful JSON body: not what the operation promises
    return false, errors.new("decode", { op = req.op, http_status = status, logid = headers["x-tt-logid"],
      msg = "expected text/event-stream, got '" .. ctype .. "'" }), token
  end
  return true, res, meta
end

local function policy_value(self, call, key)
  local v = call[key]
  if v == nil then v = self[key] end
  return v
end

local function auth_rejected(err)
  return err.http_status == 401 or err.code == 4100 or err.code == 4101
end

-- Sends one request. req: op, method, path, query (table), body (table -> JSON, or string),
-- multipart (true: body's fields become multipart/form-data parts, files streamed from disk, see
-- coze.multipart), parts (ready-made transport parts), headers (name -> value), stream (profile
-- name, when an SSE answer is wanted), response ("json" | "binary"), result (envelope key to
-- return, "data" by default; "body" = all), idempotent (safe to replay), and call (the caller's
-- call options: headers, query, timeouts, wait_ms, on_wait, retry settings, on_progress, output,
-- on_chunk, request_id, idempotency_key, conversation_id_header). Returns result, meta | stream |
-- nil, err. A binary result is the bytes, or their count when they went to output / on_chunk.
-- Failed attempts are retried when retry.retryable says so; a 401 is answered once by asking the
-- auth object for a new token (auth:invalidate) and replaying.
function Client:request(req)
  local call = req.call or {}
  local treq, safe = build(self, req, call)
  if not treq then return nil, safe end
  local transport = self.transport
  local max_retries = policy_value(self, call, "max_retries")
  local budget = policy_value(self, call, "retry_budget_ms")
  local policy = {
    retry_base_ms = policy_value(self, call, "retry_base_ms"),
    retry_max_delay_ms = policy_value(self, call, "retry_max_delay_ms"),
  }
  local started = transport:now_ms()
  local retries, replayed = 0, false
  while true do
    local ok, res, meta = self:_attempt(req, treq, call)
    if ok then
      if res == nil then res = true end
      return res, meta
    end
    local err, token = res, meta
    if not replayed and token and self.auth.invalidate and auth_rejected(err) then
      replayed = true
      self.auth:invalidate(token)
    elseif retries < max_retries and not err.partial and retry.retryable(err, safe) then
      retries = retries + 1
      local delay = retry.delay_ms(policy, retries, err)
      if delay == nil or transport:now_ms() - started + delay > budget then
        err.attempts = retries
        return nil, err
      end
      wait.sleep(transport, delay, call.on_wait)
    else
      err.attempts = retries + 1
      return nil, err
    end
  end
end

return _M
