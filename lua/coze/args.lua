-- Argument checks for the public API. Misuse raises "coze: <where>: <msg>" pointing at the
-- caller's line: `level` counts frames above the function that calls the check (1, the default,
-- is that function's caller, i.e. the user when the check runs directly in a public method).
local _M = {}

local function fail(where, msg, level)
  error("coze: " .. where .. ": " .. msg, (level or 1) + 2)
end
_M.fail = fail

local function describe(v)
  if v == "" then return "an empty string" end
  if v ~= v then return "NaN" end
  return type(v)
end

-- The options table of a call.
function _M.table(where, v, level)
  if type(v) ~= "table" then
    fail(where, "expected an options table, got " .. type(v), (level or 1) + 1)
  end
  return v
end

-- opts[key]: nil, or a non-negative number that is not NaN.
function _M.non_negative(where, opts, key, level)
  local v = opts[key]
  if v ~= nil and (type(v) ~= "number" or v < 0 or v ~= v) then
    fail(where, "field '" .. key .. "' must be a non-negative number (got " .. describe(v) .. ")",
      (level or 1) + 1)
  end
  return v
end

-- opts[key]: nil, or a number from lo to hi (hi nil: no upper bound), an integer when `integer`.
function _M.number(where, opts, key, lo, hi, integer, level)
  local v = opts[key]
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= v or v < lo or (hi and v > hi) or (integer and v % 1 ~= 0) then
    fail(where, "field '" .. key .. "' must be " .. (integer and "an integer" or "a number") .. " from " .. lo
      .. (hi and (" to " .. hi) or " up") .. " (got " .. (type(v) == "number" and tostring(v) or describe(v)) .. ")",
      (level or 1) + 1)
  end
  return v
end

-- opts[key]: a non-empty string (or nil when not required).
function _M.string(where, opts, key, required, level)
  local v = opts[key]
  if v == nil and not required then return nil end
  if type(v) ~= "string" or v == "" then
    fail(where, "field '" .. key .. "' must be a non-empty string (got " .. describe(v) .. ")",
      (level or 1) + 1)
  end
  return v
end

-- opts[key]: nil or a value of Lua type `t`.
function _M.type(where, opts, key, t, level)
  local v = opts[key]
  if v ~= nil and type(v) ~= t then
    fail(where, "field '" .. key .. "' must be a " .. t .. " (got " .. describe(v) .. ")", (level or 1) + 1)
  end
  return v
end

return _M
