-- Builds the client's resource objects from coze.endpoints: operation "a.b.c" becomes the method
-- client.a.b:c(opts). Extensions (resources/<name>.lua) add helpers written in Lua on top.
local client_mod = require "coze.client"
local url = require "coze.url"

local _M = {}

local Resource = {}
Resource.__index = Resource
_M.Resource = Resource

function Resource.__tostring(r)
  return "coze resource " .. r._path
end

local CALL_OPTIONS = client_mod.CALL_OPTIONS
local BODYLESS = { GET = true, HEAD = true }

local function fail(op, msg)
  error("coze: " .. op .. ": " .. msg, 3)
end

local function compile(ep)
  local op, method, path = ep[1], ep[2], ep[3]
  local spec = {
    op = op, method = method, path = path, stream = ep.stream, response = ep.response or "json",
    result = ep.result, headers = ep.headers, set = ep.set, in_query = {}, in_path = {},
    required = ep.required or {},
  }
  for _, name in ipairs(ep.query or {}) do spec.in_query[name] = true end
  for name in path:gmatch("{([%w_]+)}") do spec.in_path[name] = true end
  return spec
end
_M.compile = compile

-- Splits a call's options into path, query, body and call options, checking what it can.
local function prepare(spec, opts)
  local op = spec.op
  if type(opts) ~= "table" then
    fail(op, "expected an options table, got " .. type(opts))
  end
  for _, name in ipairs(spec.required) do
    if opts[name] == nil then fail(op, "field '" .. name .. "' is required") end
  end
  local call, query, body = {}, {}, nil
  local bodyless = BODYLESS[spec.method]
  for k, v in pairs(opts) do
    local kind = CALL_OPTIONS[k]
    if kind then
      if type(v) ~= kind then fail(op, "option '" .. k .. "' must be a " .. kind) end
      call[k] = v
    elseif type(k) ~= "string" then
      fail(op, "option keys must be strings")
    elseif spec.in_path[k] then
      local t = type(v)
      if t ~= "string" and t ~= "number" then fail(op, "field '" .. k .. "' must be a string") end
    elseif spec.in_query[k] or bodyless then
      local t = type(v)
      if t ~= "string" and t ~= "number" and t ~= "boolean" then
        fail(op, "field '" .. k .. "' must be a string, number or boolean")
      end
      if t == "string" and v == "" and spec.in_query[k] then
        fail(op, "field '" .. k .. "' must not be empty")
      end
      query[k] = v
    else
      body = body or {}
      body[k] = v
    end
  end
  local path = spec.path:gsub("{([%w_]+)}", function(name)
    local v = opts[name]
    if v == nil or v == "" then fail(op, "field '" .. name .. "' is required") end
    return url.escape(url.scalar(v, name))
  end)
  if spec.set then
    body = body or {}
    for k, v in pairs(spec.set) do body[k] = v end
  end
  if body == nil and not bodyless then body = {} end
  return {
    op = op, method = spec.method, path = path, query = query, body = body, call = call,
    stream = spec.stream, response = spec.response, result = spec.result, headers = spec.headers,
  }
end
_M.prepare = prepare

local function method_for(spec)
  return function(self, opts)
    if getmetatable(self) ~= Resource then
      fail(spec.op, "call it as a method: client." .. spec.op:gsub("%.([%w_]+)$", ":%1") .. "{...}")
    end
    return self._client:request(prepare(spec, opts))
  end
end

local function node(parent, name)
  local child = rawget(parent, name)
  if child == nil then
    local path = parent._path and (parent._path .. "." .. name) or name
    child = setmetatable({ _client = parent._client or parent, _path = path }, Resource)
    rawset(parent, name, child)
  end
  return child
end

local EXTENSIONS = { "chat" }

function _M.attach(client, endpoints)
  endpoints = endpoints or require("coze.endpoints")
  for _, ep in ipairs(endpoints) do
    local spec = compile(ep)
    local names = {}
    for part in spec.op:gmatch("[^%.]+") do names[#names + 1] = part end
    local target = client
    for i = 1, #names - 1 do target = node(target, names[i]) end
    rawset(target, names[#names], method_for(spec))
  end
  for _, name in ipairs(EXTENSIONS) do
    require("coze.resources." .. name).extend(client)
  end
  return client
end

return _M
