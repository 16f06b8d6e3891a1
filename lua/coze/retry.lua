-- When a failed call may be sent again, and how long to wait first.
-- Safe to replay: GET/HEAD, calls marked idempotent (lists, token calls) and calls carrying an
-- X-Idempotency-Key. Any call may be replayed when the request never left (connection refused,
-- DNS, TLS handshake, connect timeout). Nothing is replayed once a stream's first byte arrived.
local _M = {}

_M.DEFAULTS = {
  max_retries = 2,          -- attempts after the first
  retry_base_ms = 500,      -- first backoff step; doubles each attempt
  retry_max_delay_ms = 8000,-- cap of one wait (a longer Retry-After ends the retries)
  retry_budget_ms = 30000,  -- cap of the whole call's time spent on retries
}

-- curl codes that mean the request was not sent: nothing reached the server.
local NOT_SENT = {
  [5] = true,  -- CURLE_COULDNT_RESOLVE_PROXY
  [6] = true,  -- CURLE_COULDNT_RESOLVE_HOST
  [7] = true,  -- CURLE_COULDNT_CONNECT
  [35] = true, -- CURLE_SSL_CONNECT_ERROR
}

local RETRY_STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }
local RETRY_CODES = { [5000] = true, [4009] = true }

local function not_sent(err)
  if err.kind == "timeout" then return err.timeout == "connect" end
  return err.kind == "transport" and NOT_SENT[err.curl_code] == true
end
_M.not_sent = not_sent

-- Whether err (from an attempt of a call that is `safe` to replay) deserves another attempt.
function _M.retryable(err, safe)
  if not_sent(err) then return true end
  if not safe then return false end
  if err.kind == "transport" then return not err.closed end
  if err.kind == "timeout" then return err.timeout == "first_byte" end
  if err.http_status and RETRY_STATUS[err.http_status] then return true end
  if err.kind == "api" and RETRY_CODES[err.code] then return true end
  return false
end

-- Backoff before attempt n (1 = the first retry): full jitter, at least Retry-After.
function _M.delay_ms(policy, n, err, random)
  local cap = policy.retry_max_delay_ms
  local step = policy.retry_base_ms * 2 ^ (n - 1)
  if step > cap then step = cap end
  local ms = step / 2 + (random or math.random)() * step / 2
  if err.retry_after then
    local ra = err.retry_after * 1000
    if ra > cap then return nil end -- the server asks for longer than we are willing to wait
    if ra > ms then ms = ra end
  end
  return math.floor(ms)
end

return _M
