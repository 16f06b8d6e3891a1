-- The request pipeline every HTTP call goes through, API calls (coze.client) and OAuth token calls
-- (coze.auth.http) alike: one attempt (credential, send, wait for the headers, hand the response
-- to the caller or read and decode its body, close) and the retry loop around it. It knows no
-- response format: the caller's decode and take functions do.
local errors = require "coze.errors"
local header = require "coze.header"
local log = require "coze.log"
local retry = require "coze.retry"
local wait = require "coze.wait"

local annotate = errors.annotate

local _M = {}

-- One attempt: true, result, meta | false, err, token (the token it sent, for a 401 replay).
-- r: the log record to fill (status, logid, timings, token), nil when nothing logs.
local function attempt(p, r)
  local lines, token, err = p.headers, nil, nil
  local hooks, call = p.hooks, p.call
  if hooks.credential then
    token, err = hooks.credential(p)
    if not token then return false, annotate(err, { op = p.op }) end
    if header.has_crlf(token) then
      return false, errors.new("auth", { op = p.op, msg = "the token contains CR or LF" })
    end
    if r then r.token = token end
    lines = { "Authorization: Bearer " .. token }
    for i, line in ipairs(p.headers) do lines[i + 1] = line end
  end
  local req = {}
  for k, v in pairs(p.request) do req[k] = v end
  req.headers = lines

  local h
  h, err = p.transport:request(req)
  if not h then return false, annotate(err, { op = p.op }), token end
  local status
  if call.on_progress then
    status, err = wait.headers_progress(h, call.on_progress, call.wait_ms, call.on_wait)
  else
    status, err = wait.await(h, "wait_headers", call.wait_ms, call.on_wait)
  end
  if not status then
    if r then log.timings(r, h) end
    h:close()
    return false, annotate(err, { op = p.op }), token
  end
  local headers = h:headers()
  if r then
    r.status, r.logid = status, headers["x-tt-logid"]
    log.timings(r, h) -- a stream's or download's up to the headers (a stream logs its end itself)
  end
  if hooks.take then
    -- a stream or a download keeps the handle: take answers nil when it does not want this response
    local ok, res, meta = hooks.take(p, h, status, headers, token)
    if ok ~= nil then
      if not ok then return false, annotate(res, { op = p.op, http_status = status, logid = headers["x-tt-logid"] }), token end
      return true, res, meta
    end
  end
  local body
  body, err = wait.read_all(h, call.max_body_bytes or p.policy.max_body_bytes, call.wait_ms, call.on_wait,
    hooks.read_as and hooks.read_as(p, status, headers))
  if r then log.timings(r, h) end
  h:close()
  if not body then
    return false, annotate(err, { op = p.op, http_status = status, logid = headers["x-tt-logid"] }), token
  end
  local ok, res, meta = hooks.decode(p, status, headers, body, token)
  if not ok then return false, res, token end
  return true, res, meta
end

-- A retry setting: the call's, else the policy's (the client's), else retry.DEFAULTS.
local function setting(p, k)
  local v = p.call[k]
  if v == nil then v = p.policy[k] end
  if v == nil then v = retry.DEFAULTS[k] end
  return v
end

-- run(p) -> result, meta | nil, err
-- p: transport; request (the transport req without headers: method, url, body, parts, timeouts);
-- headers (header lines, already checked); op; safe (replaying is harmless);
-- call: the call's own settings (wait_ms, on_wait, on_progress, max_body_bytes, max_retries,
--   retry_base_ms, retry_max_delay_ms, retry_budget_ms);
-- policy: where a setting the call lacks comes from (the client; retry.DEFAULTS after it), and
--   its log_sink: the coze.log sink that gets a record per attempt (nil: none is built);
-- hooks: the caller's functions, each called with p first (p carries what they need, so a call
-- allocates no closures; a caller keeps one hooks table per shape):
--   credential(p) -> token | nil, err (optional; per attempt, sent as "Authorization: Bearer")
--   decode(p, status, headers, body, token) -> true, result, meta | false, err (body: a string,
--     or the decoded table when read_as asked for "json" and the transport could decode it)
--   read_as(p, status, headers) (optional) -> "json" to let the transport decode the body
--   take(p, h, status, headers, token) (optional) -> nil (not mine) | true, result, meta |
--     false, err: for answers that are not read whole (streams, downloads)
--   on_rejected(p, err, token) (optional) -> true to replay once with a new credential
function _M.run(p)
  local transport, call = p.transport, p.call
  local max_retries, budget = setting(p, "max_retries"), setting(p, "retry_budget_ms")
  local policy = { retry_base_ms = setting(p, "retry_base_ms"), retry_max_delay_ms = setting(p, "retry_max_delay_ms") }
  local on_rejected = p.hooks.on_rejected
  local sink = p.policy.log_sink
  local started = transport:now_ms()
  local retries, replayed, n, r = 0, false, 0, nil
  while true do
    if sink then
      n = n + 1
      r = { attempt = n }
    end
    local ok, res, meta = attempt(p, r)
    if ok then
      if res == nil then res = true end
      if r then log.attempt(sink, p, r, "ok") end
      return res, meta
    end
    local err, token = res, meta
    if not errors.is(err) then return nil, err end -- a caller's credential function failed its own way
    if not replayed and token and on_rejected and on_rejected(p, err, token) then
      replayed = true
      if r then log.attempt(sink, p, r, "replay", err) end
    elseif retries < max_retries and not err.partial and retry.retryable(err, p.safe) then
      retries = retries + 1
      local delay = retry.delay_ms(policy, retries, err)
      if delay == nil or transport:now_ms() - started + delay > budget then
        err.attempts = retries
        if r then log.attempt(sink, p, r, "fail", err) end
        return nil, err
      end
      if r then log.attempt(sink, p, r, "retry", err, delay) end
      wait.sleep(transport, delay, call.on_wait)
    else
      err.attempts = retries + 1
      if r then log.attempt(sink, p, r, "fail", err) end
      return nil, err
    end
  end
end

return _M
