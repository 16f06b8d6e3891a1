-- Percent-encoding for path segments and query strings (RFC 3986 unreserved characters stay).
local _M = {}

local function hex(c)
  return string.format("%%%02X", string.byte(c))
end

-- Escapes everything but unreserved characters, so "/", "?" and "#" cannot leave a segment (a
-- whole "." or ".." stays as it is: path segments go through segment()).
-- Most values (ids, names) need nothing: find() answers that without building a copy.
function _M.escape(s)
  s = tostring(s)
  if not s:find("[^%w%-%._~]") then return s end
  return (s:gsub("[^%w%-%._~]", hex))
end

local function scalar(v, name)
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

-- A path segment from a user or config value: escaped, and never "." or ".." (a dot segment moves
-- the request to another path). Refusals raise naming the field, `level` as in coze.args.
function _M.segment(v, name, where, level)
  local s = scalar(v, name)
  if s == "." or s == ".." then
    require("coze.args").fail(where or "path", "field '" .. name .. "' must not be '.' or '..'", level)
  end
  return _M.escape(s)
end

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
