-- When a failed call may be sent again, and how long to wait first.
-- Safe to replay: GET/HEAD, calls marked idempotent (lists, token calls) and calls carrying an
-- X-Idempotency-Key. Any call may be replayed when the request never left: the transport says so
-- with err.not_sent (see transport/README.md). Nothing is replayed once a stream's first byte arrived.
local _M = {}

_M.DEFAULTS = {
  max_retries = 2,          -- attempts after the first
  retry_base_ms = 500,      -- first backoff step; doubles each attempt
  retry_max_delay_ms = 8000,-- cap of one wait (a longer Retry-After ends the retries)
  retry_budget_ms = 30000,  -- cap of the whole call's time spent on retries
}

local RETRY_STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }
local RETRY_CODES = { [5000] = true, [4009] = true }

-- Whether err (from an attempt of a call that is `safe` to replay) deserves another attempt.
function _M.retryable(err, safe)
  if err.tls then return false end -- a refused certificate stays refused
  if err.not_sent then return true end
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

-- Seconds a Retry-After header value asks for (delta-seconds or an HTTP-date, RFC 9110 10.2.3),
-- counted from now (Unix seconds); nil when absent or unreadable.
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9,
  Oct = 10, Nov = 11, Dec = 12 }

function _M.after_seconds(value, now)
  if not value then return nil end
  local n = tonumber(value)
  if n then return n end
  -- HTTP-date form, e.g. "Wed, 21 Oct 2015 07:28:00 GMT"
  local d, mon, y, h, mi, s = value:match("%a+, (%d+) (%a+) (%d+) (%d+):(%d+):(%d+) GMT")
  if not d then return nil end
  local m = MONTHS[mon]
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

return _M
