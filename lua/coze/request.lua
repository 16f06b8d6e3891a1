-- What an API call sends, built once before its attempts: the URL with its query, the body (JSON,
-- a string, or multipart parts), the header lines and the deadlines, and whether the call is safe
-- to replay. The credential is added per attempt by coze.pipeline.
local args = require "coze.args"
local defaults = require "coze.defaults"
local header = require "coze.header"
local json = require "coze.json"
local multipart = require "coze.multipart"
local url = require "coze.url"
local useragent = require "coze.useragent"

local fail = args.fail

local _M = {}

-- Keys of a call's options table that configure the call instead of going to the server.
_M.CALL_OPTIONS = {
  headers = "table", query = "table", wait_ms = "number", on_wait = "function",
  connect_timeout_ms = "number", first_byte_timeout_ms = "number", idle_timeout_ms = "number",
  total_timeout_ms = "number", max_event_bytes = "number", max_body_bytes = "number",
  max_retries = "number", retry_base_ms = "number", retry_max_delay_ms = "number", retry_budget_ms = "number",
  -- uploads (multipart operations) and binary downloads (response "binary")
  on_progress = "function", output = "string", on_chunk = "function",
  -- request headers by name (chat.completions documents them; any call may send them)
  request_id = "string", idempotency_key = "string", conversation_id_header = "string",
}

-- Call options that become request headers.
local HEADER_OPTIONS = {
  { "request_id", "X-Request-Id" }, { "idempotency_key", "X-Idempotency-Key" },
  { "conversation_id_header", "X-Conversation-Id" },
}

-- Limits that must allow at least one byte (0 would fail only after the request was sent and
-- billed), and the numbers that must not be negative or NaN.
-- (key -> lowest value; walked over the options given, which are few on a typical call)
local LIMITS = { max_event_bytes = 1, max_body_bytes = 1, wait_ms = 0, connect_timeout_ms = 0,
  first_byte_timeout_ms = 0, idle_timeout_ms = 0, total_timeout_ms = 0, max_retries = 0,
  retry_base_ms = 0, retry_max_delay_ms = 0, retry_budget_ms = 0 }

-- Checks the limits of a call's (or a client's) options where they are given: raises at `level`.
function _M.check_limits(where, opts, level)
  for k in pairs(opts) do
    local lo = LIMITS[k]
    if lo then args.number(where, opts, k, lo, nil, false, (level or 1) + 1) end
  end
end

local function has_idempotency_key(lists)
  for _, list in ipairs(lists) do
    for name in pairs(list) do
      if type(name) == "string" and name:lower() == "x-idempotency-key" then return true end
    end
  end
  return false
end

-- build(cfg, req, call) -> treq, safe | nil, err (a file to upload cannot be read). Misuse raises
-- in build's caller (Client:request). cfg: the client (base_url, headers, the timeouts); req and call
-- as Client:request takes them. treq: method, url, body, parts, the four timeouts, and headers
-- (lines, without Authorization).
function _M.build(cfg, req, call)
  local where = req.op or "request"
  if next(call) ~= nil then _M.check_limits(where, call, 2) end
  local target = cfg.base_url .. req.path
  local query = req.query or {}
  if call.query then
    for k, v in pairs(call.query) do query[k] = v end
  end
  local ok, qs = pcall(url.query, query)
  if not ok then fail(where, qs, 1) end
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
      if not body then fail(where, "cannot encode the request body as JSON: " .. err, 1) end
      base_headers["Content-Type"] = "application/json"
    end
  end
  if call.output ~= nil and call.on_chunk ~= nil then
    fail(where, "options 'output' and 'on_chunk' exclude each other", 1)
  end
  local named = {}
  for _, ho in ipairs(HEADER_OPTIONS) do
    local v = call[ho[1]]
    if v ~= nil then
      if v == "" or (ho[1] == "request_id" and #v > 128) then
        fail(where, "option '" .. ho[1] .. "' must be a non-empty string" ..
          (ho[1] == "request_id" and " of at most 128 characters" or ""), 1)
      end
      named[ho[2]] = v
    end
  end
  local extra = { cfg.headers, req.headers or {}, named, call.headers or {} }
  local lines, herr = header.lines { base_headers, extra[1], extra[2], extra[3], extra[4] }
  if not lines then fail(where, herr, 1) end
  local treq = { method = req.method, url = target, headers = lines, body = body, parts = parts }
  for _, k in ipairs(defaults.TIMEOUT_KEYS) do treq[k] = call[k] or cfg[k] end
  local json_answer = not req.stream and req.response ~= "binary"
  if treq.total_timeout_ms == nil then
    treq.total_timeout_ms = (json_answer and not req.multipart) and defaults.JSON_TOTAL_TIMEOUT_MS or 0
  end
  -- the transport bounds a JSON answer after decompression (a gzip bomb fails as too large)
  if json_answer then treq.max_body_bytes = call.max_body_bytes or cfg.max_body_bytes end
  local safe = req.idempotent or req.method == "GET" or req.method == "HEAD" or has_idempotency_key(extra)
  return treq, safe
end

return _M
