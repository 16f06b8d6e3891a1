-- The Coze answer of a non-streaming API call: the envelope {code, msg, data, detail.logid}, the
-- OpenAI-style {error = {...}} of chat.completions, or a bare HTTP error, turned into result, meta
-- or an error object.
local errors = require "coze.errors"
local json = require "coze.json"
local retry = require "coze.retry"
local scrub_mod = require "coze.scrub"
local scrub = scrub_mod.scrub
local utf8_check = require("coze.core").utf8_check

local _M = {}

-- Whether a response's Content-Type is JSON.
function _M.is_json(headers)
  local ctype = headers["content-type"]
  return ctype ~= nil and ctype:lower():find("json", 1, true) ~= nil
end
local is_json = _M.is_json

-- The envelope's code (`code`, or `error_code` in some answers); nil when absent.
local function code_of(decoded)
  local code = decoded.code
  if code == nil and decoded.error_code ~= nil then code = decoded.error_code end
  return code
end

-- Whether a decoded answer reports a failure (a non-zero code, an OpenAI error, a non-2xx status).
local function failed(decoded, status)
  local code = code_of(decoded)
  if code ~= nil then return code ~= 0 and code ~= "0" end
  return type(decoded.error) == "table" or status < 200 or status >= 300
end

-- body with each byte of an invalid UTF-8 sequence replaced by '?', from bad_at on; nil when there
-- are too many to bother (a body that is not text at all).
local MAX_REPLACED = 256

local function replace_invalid(body, bad_at)
  local parts, from = {}, 1
  for _ = 1, MAX_REPLACED do
    parts[#parts + 1] = body:sub(from, bad_at - 1)
    parts[#parts + 1] = "?"
    from = bad_at + 1
    local ok, at = utf8_check(body:sub(from))
    if ok then
      parts[#parts + 1] = body:sub(from)
      return table.concat(parts)
    end
    bad_at = from + at - 1
  end
  return nil
end

-- The result or error of a decoded answer. bad_utf8: the body held invalid UTF-8 (replaced by '?').
local function answer(req, headers, base, meta, decoded, status, token, bad_utf8)
  meta.body = decoded
  if type(decoded.detail) == "table" and base.logid == nil then
    base.logid = decoded.detail.logid
    meta.logid = base.logid
  end
  local code = code_of(decoded)
  if code ~= nil and code ~= 0 and code ~= "0" then
    base.code = code
    base.msg = scrub(decoded.msg or decoded.error_message or decoded.message or "", { token })
    if bad_utf8 then base.msg = base.msg .. " (" .. bad_utf8 .. ", shown as '?')" end
    base.detail = decoded.detail
    return nil, errors.new("api", base)
  end
  local oe = decoded.error
  if code == nil and type(oe) == "table" then
    -- OpenAI-style error body (chat.completions): {"error":{"message","type","code"}}
    base.code = oe.code ~= nil and oe.code ~= json.null and oe.code or oe.type
    base.msg = type(oe.message) == "string" and scrub(oe.message, { token }) or ""
    if bad_utf8 then base.msg = base.msg .. " (" .. bad_utf8 .. ", shown as '?')" end
    base.detail = oe
    return nil, errors.new("api", base)
  end
  if status < 200 or status >= 300 then
    base.msg = "HTTP " .. status .. (bad_utf8 and (" (" .. bad_utf8 .. ")") or "")
    return nil, errors.new("http", base)
  end
  if req.response == "binary" then
    base.msg = "expected binary content, got '" .. tostring(headers["content-type"]) .. "'"
    return nil, errors.new("decode", base)
  end
  if req.result == "body" then return decoded, meta end
  local result = decoded[req.result or "data"]
  if result == nil then result = true end -- success without data (deletes, updates): true, not nil
  return result, meta
end

-- decode(req, status, headers, body, clock, token) -> result, meta | nil, err
-- req: op, response ("binary" for downloads read whole), result (envelope key, "data" by
-- default; "body" = the whole answer). clock: anything with time() (Unix seconds), for Retry-After.
-- token: what the request carried, scrubbed from every message taken from the body.
function _M.decode(req, status, headers, body, clock, token)
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
  if type(body) == "table" then -- decoded by the transport (h:read_all "json"): valid UTF-8 JSON
    return answer(req, headers, base, meta, body, status, token)
  end
  local valid, bad_at = utf8_check(body)
  local bad_utf8
  if not valid then
    bad_utf8 = "invalid UTF-8 in the response body at byte " .. bad_at
    -- an error answer keeps its code and status: read it with the bad bytes replaced; a
    -- successful answer's data is not trusted
    body = replace_invalid(body, bad_at)
    if not body then
      base.msg = bad_utf8
      return nil, errors.new("decode", base)
    end
  end
  local decoded, derr = json.decode(body)
  if bad_utf8 and (type(decoded) ~= "table" or not failed(decoded, status)) then
    base.msg = bad_utf8
    return nil, errors.new("decode", base)
  end
  if decoded == nil or type(decoded) ~= "table" then
    if status >= 200 and status < 300 then
      base.msg = "malformed JSON in response: " .. (derr or "not an object")
      return nil, errors.new("decode", base)
    end
    base.msg = "HTTP " .. status .. (body ~= "" and (": " .. errors.server_text(body, { token }, status)) or "")
    return nil, errors.new("http", base)
  end
  return answer(req, headers, base, meta, decoded, status, token, bad_utf8)
end

return _M
