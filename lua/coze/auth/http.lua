-- OAuth answers: the decoder of the bare OAuth JSON a token endpoint returns ({access_token,
-- expires_in, ...} or {error_code, error_message} / {error, error_description}); every message
-- built from the answer goes through coze.scrub with the secrets of the flow. Token calls go
-- through coze.pipeline like API calls; they cannot go through Client:request, which asks the auth
-- object for a token.
local defaults = require "coze.defaults"
local errors = require "coze.errors"
local json = require "coze.json"
local pipeline = require "coze.pipeline"
local retry = require "coze.retry"
local scrub_mod = require "coze.scrub"
local useragent = require "coze.useragent"

local _M = {}

-- The scrubber is coze.scrub, shared with the API path; kept here under its old name.
_M.scrub = scrub_mod.scrub
local scrub = scrub_mod.scrub

local function present(v) return v ~= nil and v ~= "" and v ~= json.null and v ~= 0 and v ~= "0" end

-- Parses one answer into true, decoded | false, err.
local function parse(o, status, headers, body, secrets)
  local base = { op = o.op, http_status = status, logid = headers["x-tt-logid"] }
  if status == 429 or status >= 500 then
    base.retry_after = retry.after_seconds(headers["retry-after"], o.transport:time())
  end
  local decoded = json.decode(body)
  if type(decoded) == "table" then
    if base.logid == nil and type(decoded.detail) == "table" and type(decoded.detail.logid) == "string" then
      base.logid = decoded.detail.logid
    end
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
  base.msg = scrub("HTTP " .. status, secrets) .. (body ~= "" and (": " .. errors.server_text(body, secrets, status)) or "")
  return false, errors.new("http", base)
end

-- Sends a POST and returns the decoded answer | nil, err.
-- o: transport, url, op, body (JSON text), bearer (string, or function returning a new string per
-- attempt, e.g. a freshly signed JWT), headers (list of name->value tables, already checked),
-- secrets (values to scrub), safe (replaying is harmless once the request reached the server),
-- max_retries, retry_base_ms, retry_max_delay_ms, retry_budget_ms, wait_ms, on_wait, timeouts,
-- log_sink (coze.log: a record per attempt, as for API calls).
function _M.post(o)
  local ua = useragent.headers()
  local lines = {
    "User-Agent: " .. ua.user_agent,
    "X-Coze-Client-User-Agent: " .. ua.client_user_agent,
    "Accept: application/json",
    "Content-Type: application/json",
  }
  for _, list in ipairs(o.headers or {}) do
    for name, value in pairs(list) do lines[#lines + 1] = name .. ": " .. tostring(value) end
  end
  local req = { method = "POST", url = o.url, body = o.body }
  for _, k in ipairs(defaults.TIMEOUT_KEYS) do req[k] = o[k] or defaults.OAUTH[k] end
  local bearer, credential = o.bearer, nil
  if type(bearer) == "function" then
    credential = function() return bearer() end
  elseif bearer then
    credential = function() return bearer end
  end
  local p = {
    transport = o.transport, request = req, headers = lines, op = o.op, safe = o.safe,
    secrets = o.secrets, -- what coze.log scrubs from its records
    call = { wait_ms = o.wait_ms, on_wait = o.on_wait, max_body_bytes = defaults.OAUTH.max_body_bytes },
    policy = o, -- its retry settings
    hooks = {
      credential = credential,
      decode = function(_, status, headers, body, token)
        local secrets = {}
        for k, v in pairs(o.secrets or {}) do secrets[k] = v end
        if token then secrets[#secrets + 1] = token end
        return parse(o, status, headers, body, secrets)
      end,
    },
  }
  return pipeline.run(p)
end

return _M
