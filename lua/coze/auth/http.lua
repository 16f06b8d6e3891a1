-- OAuth HTTP: POST a JSON body to a Coze OAuth endpoint and read its bare OAuth JSON answer
-- ({access_token, expires_in, ...} or {error_code, error_message} / {error, error_description}).
-- Token calls cannot go through Client:request (it asks the auth object for a token), so this is the
-- small pipeline they use: same transport interface, same waiting loop, same retry rules.
-- Messages built from server answers are scrubbed of credentials: a server that echoes a token, a
-- JWT or a secret never puts it into an error.
local errors = require "coze.errors"
local json = require "coze.json"
local retry = require "coze.retry"
local wait = require "coze.wait"
local useragent = require "coze.useragent"

local _M = {}

_M.TIMEOUTS = {
  connect_timeout_ms = 10000,
  first_byte_timeout_ms = 30000,
  idle_timeout_ms = 30000,
  total_timeout_ms = 60000,
}
local TIMEOUT_KEYS = { "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "total_timeout_ms" }
_M.TIMEOUT_KEYS = TIMEOUT_KEYS

local MAX_BODY = 1024 * 1024
local REDACTED = "[redacted]"

-- Credential shapes scrubbed from any message even when we do not know the value.
local PATTERNS = {
  "eyJ[%w_%-]+%.[%w_%-]+%.?[%w_%-]*", -- a JWT (header {"... base64url)
  "[Bb]earer%s+[^%s\"',;]+",
  "czs_[%w_%-]+", "czu_[%w_%-]+", "pat_[%w_%-]+", "sat_[%w_%-]+",
}

local function replace_plain(s, needle, by)
  local out, i = {}, 1
  while true do
    local a, b = s:find(needle, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    out[#out + 1] = by
    i = b + 1
  end
  if i == 1 then return s end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

-- Removes every known secret (exact values, at least 4 bytes) and credential-shaped word from s.
function _M.scrub(s, secrets)
  if type(s) ~= "string" then return s end
  if secrets then
    for _, v in pairs(secrets) do
      if type(v) == "string" and #v >= 4 then s = replace_plain(s, v, REDACTED) end
    end
  end
  for _, p in ipairs(PATTERNS) do s = s:gsub(p, REDACTED) end
  return s
end
local scrub = _M.scrub

local function snippet(body)
  return (body:sub(1, 200):gsub("%c", " "))
end

local function retry_after(headers, transport)
  local ok, client = pcall(require, "coze.client")
  if not ok then return nil end
  return client.retry_after_seconds(headers["retry-after"], transport:time())
end

-- Parses one answer into true, decoded | false, err.
local function parse(o, status, headers, body, secrets)
  local base = { op = o.op, http_status = status, logid = headers["x-tt-logid"] }
  if status == 429 or status >= 500 then base.retry_after = retry_after(headers, o.transport) end
  local decoded = json.decode(body)
  if type(decoded) == "table" then
    if base.logid == nil and type(decoded.detail) == "table" and type(decoded.detail.logid) == "string" then
      base.logid = decoded.detail.logid
    end
    local function present(v) return v ~= nil and v ~= "" and v ~= json.null and v ~= 0 and v ~= "0" end
    local code = decoded.error_code
    if not present(code) then code = decoded.error end
    if not present(code) then code = decoded.code end -- a Coze envelope error ({code, msg}) from the gateway
    if present(code) then
      local msg = ""
      for _, k in ipairs({ "error_message", "error_description", "msg" }) do
        if type(decoded[k]) == "string" and decoded[k] ~= "" then msg = decoded[k] break end
      end
      if type(code) ~= "string" and type(code) ~= "number" then code = tostring(code) end
      base.code = code
      base.msg = scrub(tostring(code) .. (msg ~= "" and (": " .. msg) or ""), secrets)
      return false, errors.new("auth", base)
    end
    if status >= 200 and status < 300 then return true, decoded end
    base.msg = "HTTP " .. status
    return false, errors.new("http", base)
  end
  if status >= 200 and status < 300 then
    base.msg = "malformed JSON in OAuth response"
    return false, errors.new("decode", base)
  end
  base.msg = scrub("HTTP " .. status .. (body ~= "" and (": " .. snippet(body)) or ""), secrets)
  return false, errors.new("http", base)
end

-- One attempt: true, decoded | false, err.
local function attempt(o)
  local secrets = {}
  for k, v in pairs(o.secrets or {}) do secrets[k] = v end
  local bearer = o.bearer
  if type(bearer) == "function" then
    local b, berr = bearer()
    if not b then return false, berr end
    bearer = b
  end
  local ua = useragent.headers()
  local lines = {
    "User-Agent: " .. ua.user_agent,
    "X-Coze-Client-User-Agent: " .. ua.client_user_agent,
    "Accept: application/json",
    "Content-Type: application/json",
  }
  if bearer then
    secrets[#secrets + 1] = bearer
    lines[#lines + 1] = "Authorization: Bearer " .. bearer
  end
  for _, list in ipairs(o.headers or {}) do
    for name, value in pairs(list) do lines[#lines + 1] = name .. ": " .. tostring(value) end
  end
  local req = { method = "POST", url = o.url, headers = lines, body = o.body }
  for _, k in ipairs(TIMEOUT_KEYS) do req[k] = o[k] or _M.TIMEOUTS[k] end

  local h, err = o.transport:request(req)
  if not h then return false, err end
  local status
  status, err = wait.await(h, "wait_headers", o.wait_ms, o.on_wait)
  if not status then
    h:close()
    return false, err
  end
  local headers = h:headers()
  local body
  body, err = wait.read_all(h, MAX_BODY, o.wait_ms, o.on_wait)
  h:close()
  if not body then
    err.http_status = err.http_status or status
    err.logid = err.logid or headers["x-tt-logid"]
    return false, err
  end
  return parse(o, status, headers, body, secrets)
end

-- Sends a POST and returns the decoded answer | nil, err.
-- o: transport, url, op, body (JSON text), bearer (string, or function returning a new string per
-- attempt, e.g. a freshly signed JWT), headers (list of name->value tables, already checked),
-- secrets (values to scrub), safe (replaying is harmless once the request reached the server),
-- max_retries, retry_base_ms, retry_max_delay_ms, retry_budget_ms, wait_ms, on_wait, timeouts.
function _M.post(o)
  local transport = o.transport
  local max_retries = o.max_retries or retry.DEFAULTS.max_retries
  local budget = o.retry_budget_ms or retry.DEFAULTS.retry_budget_ms
  local policy = {
    retry_base_ms = o.retry_base_ms or retry.DEFAULTS.retry_base_ms,
    retry_max_delay_ms = o.retry_max_delay_ms or retry.DEFAULTS.retry_max_delay_ms,
  }
  local started = transport:now_ms()
  local retries = 0
  while true do
    local ok, res = attempt(o)
    if ok then return res end
    local err = res
    if errors.is(err) then err.op = err.op or o.op end
    if errors.is(err) and retries < max_retries and retry.retryable(err, o.safe) then
      retries = retries + 1
      local delay = retry.delay_ms(policy, retries, err)
      if delay == nil or transport:now_ms() - started + delay > budget then
        err.attempts = retries
        return nil, err
      end
      wait.sleep(transport, delay, o.on_wait)
    else
      if errors.is(err) then err.attempts = retries + 1 end
      return nil, err
    end
  end
end

return _M
