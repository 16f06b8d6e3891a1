-- HTTP header checks shared by the request pipeline and the auth flows. They run on every call, so
-- they avoid Lua patterns where a plain search does (a pattern with a set costs ~50x more per byte).
local find, lower, match = string.find, string.lower, string.match

local _M = {}

-- true when s holds a CR or LF (which would let a value start a header of its own).
function _M.has_crlf(s)
  return find(s, "\r", 1, true) ~= nil or find(s, "\n", 1, true) ~= nil
end

-- Names already checked, with their lower-case form: a client sends the same few on every call.
-- Bounded, so a program inventing names cannot grow it without end.
local KNOWN_MAX = 256
local known, nknown = {}, 0

-- The lower-case form of a valid header name (a token of letters, digits, '-' and '_'), or nil.
function _M.key(name)
  local k = known[name]
  if k then return k end
  if type(name) ~= "string" or not match(name, "^[%w%-_]+$") then return nil end
  k = lower(name)
  if nknown < KNOWN_MAX then
    known[name] = k
    nknown = nknown + 1
  end
  return k
end

-- One header as a request sends it: key (lower-case name), value (a number made a string) for a
-- valid pair, or nil and what is wrong with it. The callers raise, each at its own stack level.
function _M.check(name, value)
  local key = _M.key(name)
  if not key then return nil, "header name '" .. tostring(name) .. "' is not a valid token" end
  local t = type(value)
  if t == "number" then
    value = tostring(value)
  elseif t ~= "string" then
    return nil, "header '" .. name .. "' must be a string (got " .. t .. ")"
  end
  if _M.has_crlf(value) then return nil, "header '" .. name .. "' contains CR or LF" end
  if key == "host" and value == "" then return nil, "header 'Host' must not be empty" end
  return key, value
end

-- Headers a caller may not set: the auth object sends the one Authorization.
_M.RESERVED = { authorization = "header 'Authorization' is set by the auth object (give 'token' or 'auth')" }

-- Header lines ("Name: value") from lists of name -> value tables, later lists overriding earlier
-- ones by case-insensitive name (the first spelling's position is kept): lines | nil, what is wrong.
-- A RESERVED name in any list is wrong.
function _M.lines(lists)
  local order, values = {}, {}
  local check, reserved = _M.check, _M.RESERVED
  for _, list in ipairs(lists) do
    for name, v in pairs(list) do
      local key, value = check(name, v)
      if not key then return nil, value end
      if reserved[key] then return nil, reserved[key] end
      if values[key] == nil then order[#order + 1] = key end
      values[key] = name .. ": " .. value
    end
  end
  local lines = {}
  for i, key in ipairs(order) do lines[i] = values[key] end
  return lines
end

return _M
