-- Error objects returned as the second value of every failing call: `nil, err`.
-- err.kind says which family: "api" (Coze answered with a non-zero code), "http" (a non-2xx answer
-- without a Coze body), "transport" (connection, TLS, protocol; err.not_sent when the request never
-- reached the server, err.tls when a certificate was refused), "timeout" (err.timeout names which: "connect", "first_byte", "idle",
-- "total", "poll"), "decode" (malformed JSON, a body over max_body_bytes), "stream" (a stream that
-- broke its contract: ended without its terminal event, truncated, event too large), "auth", and
-- "io" (a local file: an upload that cannot be read, a download's `output` that cannot be
-- written; err.path names it). Other fields: op, code, msg, http_status, logid, retry_after (s),
-- attempts, partial (bytes were handed out, so the call is never replayed).
local _M = {}

local Error = {}
Error.__index = Error
_M.Error = Error

local FIELDS = { "kind", "code", "msg", "http_status", "logid", "timeout", "retry_after", "op" }

-- Server text (msg, logid, code) reaches logs and terminals through tostring: control characters
-- (CR, LF, ANSI escapes) are written as escapes, so a server cannot forge log lines or colours.
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function printable(v)
  local s = tostring(v)
  if not s:find("%c") then return s end
  return (s:gsub("%c", function(c) return ESCAPES[c] or string.format("\\x%02X", c:byte()) end))
end

function Error.__tostring(e)
  local parts = { "coze" }
  if e.op then parts[#parts + 1] = " " .. e.op end
  parts[#parts + 1] = ": "
  local label
  if e.kind == "api" and e.code ~= nil then
    label = "error " .. printable(e.code)
  elseif e.kind == "timeout" then
    label = (e.timeout or "request") .. " timeout"
  else
    label = tostring(e.kind) .. " error"
  end
  local msg = e.msg and e.msg ~= "" and printable(e.msg)
  local says_status = msg and e.http_status and msg:sub(1, 5) == "HTTP " and msg:match("^HTTP (%d+)") == tostring(e.http_status)
  if msg and (says_status or msg:sub(1, #label):lower() == label:lower()) then
    parts[#parts + 1] = msg -- "first_byte timeout after 200 ms" already says what the label would
  else
    parts[#parts + 1] = label
    if msg then parts[#parts + 1] = ": " .. msg end
  end
  local extra = {}
  if type(e.attempts) == "number" and e.attempts > 1 then extra[#extra + 1] = "after " .. e.attempts .. " attempts" end
  if e.http_status and not says_status then extra[#extra + 1] = "http " .. tostring(e.http_status) end
  if e.retry_after then extra[#extra + 1] = "retry after " .. tostring(e.retry_after) .. "s" end
  if e.logid and e.logid ~= "" then extra[#extra + 1] = "logid " .. printable(e.logid) end
  if #extra > 0 then parts[#parts + 1] = " (" .. table.concat(extra, ", ") .. ")" end
  return table.concat(parts)
end

-- "upload failed: " .. err and err .. "\n" read as tostring(err) does.
function Error.__concat(a, b)
  return tostring(a) .. tostring(b)
end

-- Text for an error message from a server's non-JSON body: an HTML page becomes its title (or its
-- text without markup), runs of blanks one space. Not cut here: coze.scrub.snippet scrubs, then
-- cuts, so a secret that straddles the cut leaves nothing behind.
function _M.summary(body)
  if type(body) ~= "string" then return body end
  local head = body:sub(1, 512):lower()
  if head:find("<!doctype html", 1, true) or head:find("<html", 1, true) or head:find("<head", 1, true)
    or head:find("<title", 1, true) or head:find("<body", 1, true) then
    local title = body:match("<[Tt][Ii][Tt][Ll][Ee][^>]*>(.-)</[Tt][Ii][Tt][Ll][Ee]>")
    if title and title:find("%S") then
      body = title
    else
      body = body:gsub("<[Ss][Cc][Rr][Ii][Pp][Tt].-</[Ss][Cc][Rr][Ii][Pp][Tt]>", " ")
        :gsub("<[Ss][Tt][Yy][Ll][Ee].-</[Ss][Tt][Yy][Ll][Ee]>", " "):gsub("<[^>]*>", " ")
    end
    body = body:gsub("&nbsp;", " "):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&amp;", "&")
  end
  return (body:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

-- A server's non-JSON body for err.msg: summarised, scrubbed of the secrets (and credential
-- shapes), cut at defaults.SNIPPET_BYTES; the full size said when it was cut. A leading HTTP
-- status (an nginx page titled "502 Bad Gateway") is dropped when it is `status`, said already.
function _M.server_text(body, secrets, status)
  local summary = _M.summary(body)
  if status and summary:sub(1, #tostring(status) + 1) == tostring(status) .. " " then
    summary = summary:sub(#tostring(status) + 2)
  end
  local text = require("coze.scrub").snippet(summary, secrets)
  if #body > #text + 16 then text = text .. " (" .. #body .. "-byte body)" end
  return text
end

-- new("api", { code = 4101, msg = "...", http_status = 401, logid = "..." })
function _M.new(kind, fields)
  local e = { kind = kind }
  if fields then
    for k, v in pairs(fields) do e[k] = v end
  end
  if e.msg == nil then e.msg = "" end
  return setmetatable(e, Error)
end

-- Fills the call's context into err where the layer that made it did not know it (a transport
-- error knows no op; an attempt knows no logid before the headers): set fields are kept.
-- annotate(err, { op = ..., http_status = ..., logid = ... }) -> err
function _M.annotate(err, ctx)
  if getmetatable(err) ~= Error then return err end
  for k, v in pairs(ctx) do
    if err[k] == nil then err[k] = v end
  end
  return err
end

function _M.is(v)
  return getmetatable(v) == Error
end

_M.FIELDS = FIELDS
return _M
