-- Percent-encoding for path segments and query strings (RFC 3986 unreserved characters stay).
local find, gmatch = string.find, string.gmatch

local _M = {}

local function hex(c)
  return string.format("%%%02X", string.byte(c))
end

-- Escapes everything but unreserved characters, so "/", "?" and "#" cannot leave a segment. The
-- dots are unreserved: a whole value of "." or ".." stays a dot segment that a server resolves
-- against the path (RFC 3986 5.2.4). Path segments go through segment() below, which refuses them.
-- Most values (ids, names) need nothing: find() answers that without building a copy.
function _M.escape(s)
  s = tostring(s)
  if not s:find("[^%w%-%._~]") then return s end
  return (s:gsub("[^%w%-%._~]", hex))
end

local scalar

local SCHEMES = {
  http = { "^[Hh][Tt][Tt][Pp][Ss]?://[^/]", "must be an http(s) URL" },
  ws = { "^[Ww][Ss][Ss]?://[^/]", "must be a ws:// or wss:// URL" },
}

-- A base URL (client or auth base_url; ws_base_url with kind "ws"): "http(s)://host[:port][/path]"
-- ("ws(s)://..."), without trailing slashes, or nil and what is wrong. A query or fragment would
-- swallow every API path appended to it (a "#x" sends every call to "/"), user:password@ would be
-- printed with the client, and a space or CR/LF would end the request line early (a header injected).
function _M.base(v, kind)
  local scheme = SCHEMES[kind or "http"]
  if type(v) ~= "string" or not find(v, scheme[1]) then return nil, scheme[2] end
  if find(v, "[?#]") then return nil, "must not hold a query or fragment ('?' or '#')" end
  local authority = v:match("^%a+://([^/]*)")
  if find(authority, "@", 1, true) then return nil, "must not hold user info ('user:password@')" end
  if find(v, "[%s%c]") then return nil, "must not hold spaces or control characters" end
  return (v:gsub("/+$", ""))
end

-- One path segment from a user or config value (a string, or an integer): the escaped text, or nil
-- and a message naming the field when the value is empty or a dot segment ("." or "..", also
-- between slashes), which would move the request to another path. Callers raise, each at its own stack level.
function _M.segment(v, name)
  local t = type(v)
  if t == "number" and v == math.floor(v) then
    v = scalar(v, name)
  elseif t ~= "string" then
    return nil, "field '" .. tostring(name) .. "' must be a string or an integer (got " .. t .. ")"
  end
  if v == "" then return nil, "field '" .. tostring(name) .. "' must not be empty" end
  if find(v, ".", 1, true) then
    -- also as a part between slashes: servers such as nginx decode %2F before they resolve dot
    -- segments, so "../x" escaped as "..%2Fx" still climbs out
    for part in gmatch(v .. "/", "([^/\\]*)[/\\]") do
      if part == "." or part == ".." then
        return nil, "field '" .. tostring(name) .. "' must not be '.' or '..' (nor hold them between slashes)"
      end
    end
  end
  return _M.escape(v)
end

function scalar(v, name)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == math.floor(v) and v >= -2^53 and v <= 2^53 then return string.format("%d", v) end
    return tostring(v)
  end
  if t == "boolean" then return tostring(v) end
  error("query value for '" .. name .. "' must be a string, number or boolean, got " .. t, 0)
end
_M.scalar = scalar

-- Encodes a table as a query string with keys sorted (stable URLs, easy to assert).
function _M.query(params)
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  if #keys == 0 then return "" end
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do
    out[i] = _M.escape(k) .. "=" .. _M.escape(scalar(params[k], k))
  end
  return table.concat(out, "&")
end

return _M
