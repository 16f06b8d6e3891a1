-- Argument checks for the public API. Misuse raises "coze: <where>: <msg>" pointing at the
-- caller's line: the first frame outside the SDK's own files (so wrappers, tail calls and helpers
-- between the public method and the check cannot shift it into the SDK). `level` counts frames
-- above the function that calls the check (1, the default, is that function's caller); it is
-- used only when the SDK's files cannot be told apart (loaded from a string, not a file).
local _M = {}

local getinfo = debug.getinfo

-- "@/path/to/lua/coze/": the chunk-name prefix every file of the SDK shares.
local SDK_PREFIX = (getinfo(1, "S").source or ""):match("^(@.*[/\\]coze[/\\])args%.lua$")

-- The level (as error() counts from fail) of the first Lua frame outside the SDK, or nil.
local function user_level()
  if not SDK_PREFIX then return nil end
  local level = 3 -- 1: fail, 2: this function's caller is fail's caller ... start above fail's caller
  while true do
    local info = getinfo(level, "S")
    if not info then return nil end
    if info.what ~= "C" and info.source:sub(1, #SDK_PREFIX) ~= SDK_PREFIX then return level - 1 end
    level = level + 1
  end
end

local function fail(where, msg, level)
  error("coze: " .. where .. ": " .. msg, user_level() or (level or 1) + 2)
end
_M.fail = fail

local function describe(v)
  if v == "" then return "an empty string" end
  if v ~= v then return "NaN" end
  if type(v) == "number" then return tostring(v) end
  return type(v)
end

-- Raises "field '<key>' must be <what> (got <v>)" at the line of the check's caller.
local function bad_field(where, key, what, v, level)
  fail(where, "field '" .. key .. "' must be " .. what .. " (got " .. describe(v) .. ")", (level or 1) + 2)
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
    bad_field(where, key, "a non-negative number", v, level)
  end
  return v
end

-- opts[key]: nil, or a number from lo to hi (hi nil: no upper bound), an integer when `integer`.
function _M.number(where, opts, key, lo, hi, integer, level)
  local v = opts[key]
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= v or v < lo or (hi and v > hi) or (integer and v % 1 ~= 0) then
    bad_field(where, key, (integer and "an integer" or "a number") .. " from " .. lo
      .. (hi and (" to " .. hi) or " up"), v, level)
  end
  return v
end

-- opts[key]: a non-empty string (or nil when not required).
function _M.string(where, opts, key, required, level)
  local v = opts[key]
  if v == nil and not required then return nil end
  if type(v) ~= "string" or v == "" then
    bad_field(where, key, "a non-empty string", v, level)
  end
  return v
end

-- opts[key]: nil or a value of Lua type `t`.
function _M.type(where, opts, key, t, level)
  local v = opts[key]
  if v ~= nil and type(v) ~= t then
    bad_field(where, key, "a " .. t, v, level)
  end
  return v
end

-- Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short names.
local function distance(a, b)
  local la, lb = #a, #b
  local prev2, prev, cur = nil, {}, nil
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur = { [0] = i }
    local ca = a:byte(i)
    for j = 1, lb do
      local cb = b:byte(j)
      local d = prev[j - 1] + (ca == cb and 0 or 1)
      if prev[j] + 1 < d then d = prev[j] + 1 end
      if cur[j - 1] + 1 < d then d = cur[j - 1] + 1 end
      if prev2 and i > 1 and j > 1 and ca == b:byte(j - 1) and a:byte(i - 1) == cb and prev2[j - 2] + 1 < d then
        d = prev2[j - 2] + 1
      end
      cur[j] = d
    end
    prev2, prev = prev, cur
  end
  return prev[lb]
end

-- The known name closest to `key` (a key of known_set), or nil when none is close: a name that
-- differs by a few edits (about a third of its length), or that starts with key (`poll_timeout` ->
-- `poll_timeout_ms`). Ties go to the alphabetically first name, so the hint is stable.
function _M.suggest(key, known_set)
  if type(key) ~= "string" then return nil end
  local lkey = key:lower()
  local best, best_d
  for name in pairs(known_set) do
    if type(name) == "string" then
      local lname = name:lower()
      local d
      if #lkey >= 3 and lname:sub(1, #lkey) == lkey then
        d = 1 -- a prefix: the unit suffix left off
      else
        d = distance(lkey, lname)
        local limit = math.max(1, math.floor(math.max(#lkey, #lname) / 3))
        if d > limit then d = nil end
      end
      if d and (not best_d or d < best_d or (d == best_d and name < best)) then best, best_d = name, d end
    end
  end
  return best
end

-- Raises "unknown option 'key' (did you mean 'name'?)" for a key not in known_set (name -> anything
-- true), at the caller's line as `level` counts.
-- With no close name, the names that contain key (`timeout` -> the four timeouts) are listed.
function _M.unknown(where, key, known_set, level)
  local near = _M.suggest(key, known_set)
  local hint = ""
  if near then
    hint = " (did you mean '" .. near .. "'?)"
  elseif type(key) == "string" and #key >= 4 then
    local within = {}
    for name in pairs(known_set) do
      if type(name) == "string" and name:lower():find(key:lower(), 1, true) then within[#within + 1] = "'" .. name .. "'" end
    end
    table.sort(within)
    if #within > 0 then hint = " (did you mean one of " .. table.concat(within, ", ") .. "?)" end
  end
  fail(where, "unknown option '" .. tostring(key) .. "'" .. hint, (level or 1) + 1)
end

-- Raises (as unknown does) for the first key of opts, in sorted order, that known_set lacks.
function _M.known(where, opts, known_set, level)
  local bad
  for k in pairs(opts) do
    if not known_set[k] and (bad == nil or tostring(k) < tostring(bad)) then bad = k end
  end
  if bad ~= nil then _M.unknown(where, bad, known_set, (level or 1) + 1) end
end

return _M
