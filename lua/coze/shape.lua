-- Field shapes of the endpoint table (lua/coze/endpoints.lua, `types`): what a call's value becomes
-- on the wire. A shape is a kind name ("string", "integer", "number", "boolean", "array", "object",
-- "map", "any") or a table { kind, detail, message = true }: { "array", item }, { "map", value },
-- { "object", { field = shape, ... } }; message marks a chat message (content + content_type).
-- conform() returns the value to send (the caller's table itself when nothing changes, else a copy:
-- the caller's tables are never modified) or nil and a message naming the field.
local json = require "coze.json"

local _M = {}

_M.KINDS = { string = true, integer = true, number = true, boolean = true, array = true, object = true,
  map = true, any = true }

local EMPTY_ARRAY = json.empty_array
local TWO53 = 2 ^ 53
local math_type = math.type -- nil on LuaJIT, where every number is a double
local floor, format, type, pairs, next = math.floor, string.format, type, pairs, next

local function kind(s)
  if type(s) == "table" then return s[1] end
  return s
end
_M.kind = kind

-- The exact decimal text of an integer, or nil when the number may already have lost digits (a
-- double above 2^53: on LuaJIT every number, on Lua 5.4 a float such as 7.39e18) or is not whole.
local function id_text(v)
  if math_type and math_type(v) == "integer" then return format("%d", v) end
  if v == floor(v) and v > -TWO53 and v < TWO53 then return format("%d", v) end
  return nil
end
_M.id_text = id_text

-- Whether t's keys are exactly 1..#t (an empty table is one).
local function is_sequence(t)
  local n, count = #t, 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then return false end
    count = count + 1
  end
  return count == n
end
_M.is_sequence = is_sequence

local function is_message(s)
  return type(s) == "table" and s.message == true
end

-- A shallow copy: values are copied on write, so the caller's tables never change.
local function copy(t)
  local out = {}
  for k, x in pairs(t) do out[k] = x end
  return out
end

local conform

-- The inner checks return the value to send, or nil, what is wrong, and where below the value
-- ("" = the value itself, "[2].content"): paths are only built on the way out of a failure.
local function conform_list(s, v, in_query)
  if type(v) ~= "table" then
    if in_query and type(v) == "string" then return v end -- "a,b,c" as the API takes it
    return nil, "must be a list (a table like { a, b }), got " .. type(v), ""
  end
  if next(v) == nil then
    if in_query then return v end
    return EMPTY_ARRAY
  end
  local item = type(s) == "table" and s[2] or "any"
  if not is_sequence(v) then
    if is_message(item) and (v.content ~= nil or v.role ~= nil) then
      return nil, "is a list of messages, got one message: wrap it in a list: `{ coze.message.user_text(...) }`", ""
    end
    if kind(item) == "object" then
      return nil, "is a list of objects, got one object: wrap it in a list: `{ { ... } }`", ""
    end
    return nil, "must be a list (keys 1..n, like { a, b }), got a table with other keys", ""
  end
  if item == "any" or item == "array" or item == "object" or item == "map" then return v end
  local out = v
  for i = 1, #v do
    local x, err, at = conform(item, v[i], in_query)
    if err then return nil, err, "[" .. i .. "]" .. at end
    if x ~= v[i] then
      if out == v then out = copy(v) end
      out[i] = x
    end
  end
  return out
end

-- A message's object_string content given as a table (the list of items) becomes the JSON text the
-- API wants. m is a table of the caller's own (a copy). nil, or what is wrong with m.content.
local function content_error(m)
  local c = m.content
  if type(c) ~= "table" then return nil end
  if m.content_type ~= "object_string" then
    return "is a table: set content_type = \"object_string\" (coze.message.user_object builds such a message)"
  end
  if not is_sequence(c) then
    return "is a list of content items, got one item: wrap it in a list: `{ coze.message.text(...) }`"
  end
  if next(c) == nil then
    m.content = "[]"
    return nil
  end
  local text, err = json.encode(c)
  if not text then return "cannot be encoded as JSON: " .. err end
  m.content = text
  return nil
end

-- The same for a body that is itself a message (conversations.messages:create): nil or the error.
function _M.message_content(m)
  local err = content_error(m)
  return err and ("field 'content' " .. err)
end

local function conform_object(s, v, in_query)
  local k0 = kind(s)
  if type(v) ~= "table" then
    return nil, "must be an object (a table with string keys), got " .. type(v), ""
  end
  if next(v) == nil then return v end
  if v[1] ~= nil then
    return nil, "must be an object (a table with string keys), got a list", ""
  end
  local detail = type(s) == "table" and s[2] or nil
  if detail == nil or detail == "any" then return v end
  local message = s.message
  local out = v
  for k, x in pairs(v) do
    local sub = k0 == "map" and detail or detail[k]
    if message and k == "content" and type(x) == "table" then sub = nil end -- content_error below
    if sub ~= nil and sub ~= "any" then
      local y, err, at = conform(sub, x, in_query)
      if err then return nil, err, "." .. tostring(k) .. at end
      if y ~= x then
        if out == v then out = copy(v) end
        out[k] = y
      end
    end
  end
  if message and type(out.content) == "table" then
    if out == v then out = copy(v) end
    local err = content_error(out)
    if err then return nil, err, ".content" end
  end
  return out
end

function conform(s, v, in_query)
  local t = type(v)
  if t == "userdata" then return v end
  local k = kind(s)
  if k == "string" then
    if t == "string" then return v end
    if t == "number" then
      local text = id_text(v)
      if text then return text end
      return nil, "is a string id: pass ids as strings (\"7390...\"); the number " .. tostring(v)
        .. " cannot hold every digit", ""
    end
    return nil, "must be a string, got " .. t, ""
  elseif k == "integer" then
    if t == "number" and v == floor(v) then return v end
    if t == "string" and v:match("^%-?%d+$") then
      local n = tonumber(v)
      if n > -TWO53 and n < TWO53 then return in_query and v or n end
    end
    return nil, "must be an integer, got " .. (t == "number" and tostring(v) or t), ""
  elseif k == "number" then
    if t == "number" then return v end
    if t == "string" and tonumber(v) then return in_query and v or tonumber(v) end
    return nil, "must be a number, got " .. t, ""
  elseif k == "boolean" then
    if t == "boolean" then return v end
    return nil, "must be a boolean, got " .. t, ""
  elseif k == "array" then
    return conform_list(s, v, in_query)
  elseif k == "object" or k == "map" then
    if in_query and t == "string" then return v end
    return conform_object(s, v, in_query)
  end
  return v
end

-- shape, value, field name[, in_query] -> the value to send | nil, "field '<name...>' <what is wrong>".
-- json.null passes as is.
function _M.conform(s, v, name, in_query)
  local out, err, at = conform(s, v, in_query)
  if err then return nil, "field '" .. name .. at .. "' " .. err end
  return out
end

-- Edit distance of two short names (only on the error path).
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- What a misspelt name k may have meant among names: "'x'" or "one of 'a', 'b'", or nil.
function _M.suggest(k, names)
  local seen, prefixed, containing, close, best = {}, {}, {}, nil, nil
  for _, c in ipairs(names) do
    if not seen[c] and c ~= k then
      seen[c] = true
      if c:sub(1, #k + 1) == k .. "_" then prefixed[#prefixed + 1] = c end
      if c:find(k, 1, true) then containing[#containing + 1] = c end
      local d = distance(k, c)
      if d <= (#k >= 6 and 2 or 1) and (best == nil or d < best) then close, best = c, d end
    end
  end
  local function quote(list)
    table.sort(list)
    if #list == 1 then return "'" .. list[1] .. "'" end
    return "one of '" .. table.concat(list, "', '") .. "'"
  end
  if #prefixed > 0 then return quote(prefixed) end
  if close then return "'" .. close .. "'" end
  if #containing > 0 and #k >= 4 then return quote(containing) end
  return nil
end

return _M
