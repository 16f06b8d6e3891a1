-- The Coze answer of a non-streaming API call: the envelope {code, msg, data, detail.logid}, the
-- OpenAI-style {error = {...}} of chat.completions, or a bare HTTP error, turned into result, meta
-- or an error object.
local errors = require "coze.errors"
local json = require "coze.json"
local retry = require "coze.retry"
local scrub_mod = require "coze.scrub"
local utf8_check = require("coze.core").utf8_check

local _M = {}

-- Whether a response's Content-Type is JSON.
function _M.is_json(headers)
  local ctype = headers["content-type"]
  return ctype ~= nil and ctype:lower():find("json", 1, true) ~= nil
end
local is_json = _M.is_json

-- decode(req, status, headers, body, clock, secrets) -> result, meta | nil, err
-- req: op, response ("binary" for downloads read whole), result (envelope key, "data" by
-- default; "body" = the whole answer). clock: anything with time() (Unix seconds), for Retry-After.
-- secrets: what the request carried (its token), scrubbed from every message taken from the body.
function _M.decode(req, status, headers, body, clock, secrets)
  local scrub = scrub_mod.scrub
  local logid = headers["x-tt-logid"]
  local base = { op = req.op, http_status = status, logid = logid }
  if status == 429 or status >= 500 then
    base.retry_after = retry.after_seconds(headers["retry-after"], clock:time())
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
    base.msg = "HTTP " .. status .. (body ~= "" and (": " .. scrub_mod.snippet(body, secrets)) or "")
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
    base.msg = scrub(decoded.msg or decoded.error_message or decoded.message or "", secrets)
    base.detail = decoded.detail
    return nil, errors.new("api", base)
  end
  local oe = decoded.error
  if code == nil and type(oe) == "table" then
    -- OpenAI-style error body (chat.completions): {"error":{"message","type","code"}}
    base.code = oe.code ~= nil and oe.code ~= json.null and oe.code or oe.type
    base.msg = type(oe.message) == "string" and scrub(oe.message, secrets) or ""
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

return _M
