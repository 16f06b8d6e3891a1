-- The request pipeline every HTTP call goes through, API calls (coze.client) and OAuth token calls
-- (coze.auth.http) alike: one attempt (credential, send, wait for the headers, hand the response
-- to the caller or read and decode its body, close) and the retry loop around it. It knows no
-- response format: the caller's decode and take functions do.
local errors = require "coze.errors"
local header = require "coze.header"
local retry = require "coze.retry"
local wait = require "coze.wait"

local annotate = errors.annotate

local _M = {}

-- One attempt: true, result, meta | false, err, token (the token it sent, for a 401 replay).
local function attempt(p)
  local lines, token, err = p.headers, nil, nil
  if p.credential then
    token, err = p.credential()
    if not token then return false, annotate(err, { op = p.op }) end
    if header.has_crlf(token) then
      return false, errors.new("auth", { op = p.op, msg = "the token contains CR or LF" })
    end
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
  if p.on_progress then
    status, err = wait.headers_progress(h, p.on_progress, p.wait_ms, p.on_wait)
  else
    status, err = wait.await(h, "wait_headers", p.wait_ms, p.on_wait)
  end
  if not status then
    h:close()
    return false, annotate(err, { op = p.op }), token
  end
  local headers = h:headers()
  if p.take then
    -- a stream or a download keeps the handle: take answers nil when it does not want this response
    local ok, res, meta = p.take(h, status, headers, token)
    if ok ~= nil then
      if not ok then return false, annotate(res, { op = p.op, http_status = status, logid = headers["x-tt-logid"] }), token end
      return true, res, meta
    end
  end
  local body
  body, err = wait.read_all(h, p.max_body_bytes, p.wait_ms, p.on_wait)
  h:close()
  if not body then
    return false, annotate(err, { op = p.op, http_status = status, logid = headers["x-tt-logid"] }), token
  end
  local ok, res, meta = p.decode(status, headers, body, token)
  if not ok then return false, res, token end
  return true, res, meta
end

-- run(p) -> result, meta | nil, err
-- p: transport; request (the transport req without headers: method, url, body, parts, timeouts);
-- headers (header lines, already checked); credential (optional; function -> token | nil, err,
-- called per attempt, sent as "Authorization: Bearer"); op; decode(status, headers, body, token)
-- -> true, result, meta | false, err; take(h, status, headers, token) (optional) -> nil (not
-- mine) | true, result, meta | false, err, for answers that are not read whole (streams, downloads);
-- max_body_bytes; wait_ms, on_wait, on_progress; safe (replaying is harmless); on_rejected(err,
-- token) (optional; true = replay once with a new credential); max_retries, retry_base_ms,
-- retry_max_delay_ms, retry_budget_ms (retry.DEFAULTS when nil).
function _M.run(p)
  local transport = p.transport
  local d = retry.DEFAULTS
  local max_retries = p.max_retries or d.max_retries
  local budget = p.retry_budget_ms or d.retry_budget_ms
  local policy = {
    retry_base_ms = p.retry_base_ms or d.retry_base_ms,
    retry_max_delay_ms = p.retry_max_delay_ms or d.retry_max_delay_ms,
  }
  local started = transport:now_ms()
  local retries, replayed = 0, false
  while true do
    local ok, res, meta = attempt(p)
    if ok then
      if res == nil then res = true end
      return res, meta
    end
    local err, token = res, meta
    if not errors.is(err) then return nil, err end -- a caller's credential function failed its own way
    if not replayed and token and p.on_rejected and p.on_rejected(err, token) then
      replayed = true
    elseif retries < max_retries and not err.partial and retry.retryable(err, p.safe) then
      retries = retries + 1
      local delay = retry.delay_ms(policy, retries, err)
      if delay == nil or transport:now_ms() - started + delay > budget then
        err.attempts = retries
        return nil, err
      end
      wait.sleep(transport, delay, p.on_wait)
    else
      err.attempts = retries + 1
      return nil, err
    end
  end
end

return _M
