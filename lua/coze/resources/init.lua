-- Builds the client's resource objects from coze.endpoints: operation "a.b.c" becomes the method
-- client.a.b:c(opts). The table row says everything the method does: where each field goes, the
-- types it checks, paging (a coze.pager Page), streams, multipart bodies, whether it is a read.
-- Extensions (resources/<name>.lua) add helpers written in Lua on top.
local args = require "coze.args"
local client_mod = require "coze.client"
local multipart = require "coze.multipart"
local url = require "coze.url"
local pager = require "coze.pager"
local shape = require "coze.shape"

local _M = {}

local Resource = {}
Resource.__index = Resource
_M.Resource = Resource

function Resource.__tostring(r)
  return "coze resource " .. r._path
end

local BODYLESS = { GET = true, HEAD = true }

-- Argument errors of a generated method point at its caller: prepare() runs two frames below it.
local function fail(op, msg, depth)
  args.fail(op, msg, 3 + (depth or 0))
end

local function compile(ep)
  local op, method, path = ep[1], ep[2], ep[3]
  local body = ep.body or "json"
  local spec = {
    op = op, method = method, path = path, stream = ep.stream, response = ep.response or "json",
    result = ep.result, headers = ep.headers, set = ep.set, in_query = {}, in_path = {},
    required = ep.required or {}, types = ep.types or {}, body = body, message = ep.message,
    no_body = BODYLESS[method] or body == "none", paging = pager.compile(ep),
    idempotent = ep.idempotent or nil,
  }
  for name, t in pairs(spec.types) do
    if not shape.KINDS[shape.kind(t)] then
      error("coze: " .. op .. ": unknown type '" .. tostring(shape.kind(t)) .. "' for '" .. name .. "'", 2)
    end
  end
  for _, name in ipairs(ep.query or {}) do spec.in_query[name] = true end
  -- The path as pieces: literal text at odd indexes, path param names at even ones.
  local pieces, at = {}, 1
  for s, name, e in path:gmatch("(){([%w_]+)}()") do
    pieces[#pieces + 1] = path:sub(at, s - 1)
    pieces[#pieces + 1] = name
    spec.in_path[name] = true
    at = e
  end
  if #pieces > 0 then
    pieces[#pieces + 1] = path:sub(at)
    spec.path_pieces = pieces
  end
  spec.required_set = {}
  for _, name in ipairs(spec.required) do spec.required_set[name] = true end
  return spec
end
_M.compile = compile

-- A query value: scalars as they are, arrays joined with commas (ids=a,b,c).
local function query_value(op, k, v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  if t == "table" and (v[1] ~= nil or next(v) == nil) then
    local parts = {}
    for i, x in ipairs(v) do
      local xt = type(x)
      if xt ~= "string" and xt ~= "number" and xt ~= "boolean" then
        fail(op, "field '" .. k .. "' must be a list of strings or numbers", 1)
      end
      parts[i] = url.scalar(x, k)
    end
    return table.concat(parts, ",")
  end
  fail(op, "field '" .. k .. "' must be a string, number or boolean", 1)
end

-- The fields an operation knows: its catalog fields, path params and forced body fields.
local function knows(spec, k)
  return spec.types[k] ~= nil or spec.in_path[k] or spec.in_query[k] or spec.required_set[k]
    or (spec.set ~= nil and spec.set[k] ~= nil)
end

-- The names a misspelt field may have meant: the operation's fields and the call options.
local function candidates(spec, call_options)
  local out = { "extra_body", "extra_query" }
  for k in pairs(spec.types) do out[#out + 1] = k end
  for k in pairs(spec.in_path) do out[#out + 1] = k end
  for k in pairs(call_options) do out[#out + 1] = k end
  for k in pairs(require("coze.resources.poll").OPTIONS) do out[#out + 1] = k end
  return out
end

local function unknown_field(spec, k, call_options)
  local hint = shape.suggest(k, candidates(spec, call_options))
  return "unknown field '" .. k .. "'" .. (hint and ("; did you mean " .. hint .. "?") or "")
    .. " (to send a field the catalog lacks, put it in extra_body = {...} or extra_query = {...})"
end

-- Splits a call's options into path, query, body and call options, checking each field against its
-- shape in the catalog (shape.conform: ids as exact strings, arrays as JSON arrays, messages).
local function prepare(spec, opts)
  local op = spec.op
  if type(opts) ~= "table" then
    fail(op, "expected an options table, got " .. type(opts))
  end
  -- read per call: other modules may add call options after this one was loaded
  local call_options = client_mod.CALL_OPTIONS
  local call, query, body = {}, {}, nil
  local no_body, types = spec.no_body, spec.types
  local extra_body, extra_query
  for k, v in pairs(opts) do
    local kind = call_options[k]
    if kind then
      if type(v) ~= kind then fail(op, "option '" .. k .. "' must be a " .. kind) end
      call[k] = v
    elseif type(k) ~= "string" then
      fail(op, "option keys must be strings")
    elseif k == "extra_body" or k == "extra_query" then
      if type(v) ~= "table" then fail(op, "option '" .. k .. "' must be a table of fields") end
      if k == "extra_body" then extra_body = v else extra_query = v end
    elseif spec.in_path[k] then
      local t = type(v)
      if t ~= "string" and t ~= "number" then fail(op, "field '" .. k .. "' must be a string") end
    elseif not knows(spec, k) then
      fail(op, unknown_field(spec, k, call_options))
    else
      local to_query = spec.in_query[k] or no_body
      local want = types[k]
      if k == "content" and spec.message and type(v) == "table" then want = nil end -- message_content below
      if want then
        local err
        v, err = shape.conform(want, v, k, to_query)
        if err then fail(op, err) end
      end
      if to_query then
        if v == "" and spec.required_set[k] then fail(op, "field '" .. k .. "' must not be empty") end
        query[k] = query_value(op, k, v)
      else
        body = body or {}
        body[k] = v
      end
    end
  end
  -- after the fields: a misspelt required field is named as unknown, with the name it may have meant
  for _, name in ipairs(spec.required) do
    if opts[name] == nil then fail(op, "field '" .. name .. "' is required") end
  end
  if spec.message and body then
    local err = shape.message_content(body)
    if err then fail(op, err) end
  end
  if extra_body then
    if no_body then fail(op, "option 'extra_body': " .. spec.method .. " " .. spec.path .. " sends no body; use extra_query") end
    body = body or {}
    for k, v in pairs(extra_body) do body[k] = v end
  end
  if extra_query then
    for k, v in pairs(extra_query) do query[k] = query_value(op, k, v) end
  end
  local path, pieces = spec.path, spec.path_pieces
  if pieces then
    local out = {}
    for i = 1, #pieces, 2 do
      out[i] = pieces[i]
      local name = pieces[i + 1]
      if name then
        local v = opts[name]
        if v == nil or v == "" then fail(op, "field '" .. name .. "' is required") end
        local err
        v, err = shape.conform("string", v, name)
        if err then fail(op, err) end
        local seg, msg = url.segment(v, name)
        if not seg then fail(op, msg) end
        out[i + 1] = seg
      end
    end
    path = table.concat(out)
  end
  if spec.set then
    body = body or {}
    for k, v in pairs(spec.set) do body[k] = v end
  end
  if body == nil and not no_body then body = {} end
  return {
    op = op, method = spec.method, path = path, query = query, body = body, call = call,
    stream = spec.stream, response = spec.response, result = spec.result, headers = spec.headers,
    multipart = spec.body == "multipart" or nil, idempotent = spec.idempotent,
  }
end
_M.prepare = prepare

-- The method of an operation. adjust(req, self), when given, changes the prepared request of
-- each call (an extension's stream profile or on_close): extensions get their variants here
-- instead of patching what the method returns.
local function method_for(spec, adjust)
  local cfg = spec.paging
  return function(self, opts)
    if getmetatable(self) ~= Resource then
      args.fail(spec.op, "call it as a method: client." .. spec.op:gsub("%.([%w_]+)$", ":%1") .. "{...}")
    end
    local client = self._client
    if spec.body == "multipart" then opts = multipart.normalize(spec.op, opts) end
    if cfg == nil then
      local req = prepare(spec, opts)
      if adjust then adjust(req, self) end
      return client:request(req)
    end
    local max_pages
    opts, max_pages = pager.first_opts(cfg, opts, spec.op)
    local req = prepare(spec, opts)
    if adjust then adjust(req, self) end
    local function run(o) return client:request(prepare(spec, o)) end
    local raw, meta = client:request(req)
    if raw == nil then return nil, meta end
    return pager.new(cfg, run, opts, raw, meta, nil, max_pages)
  end
end

-- An extension's variant of the generated method of `op` in `endpoints` (see method_for).
local function variant(endpoints, op, adjust)
  for _, ep in ipairs(endpoints) do
    if ep[1] == op then return method_for(_M.spec_of(ep), adjust) end
  end
  error("coze: no operation '" .. op .. "' in the endpoint table", 3)
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

local EXTENSIONS = { "chat", "workflows" }

-- An endpoint's method, compiled once and shared by every client (it reads its client from self):
-- inside nginx a handler commonly builds a client per request, and compiling the whole table each
-- time cost about 200 KB per client.
local methods, specs = setmetatable({}, { __mode = "k" }), setmetatable({}, { __mode = "k" })

function _M.spec_of(ep)
  local spec = specs[ep]
  if not spec then
    spec = compile(ep)
    specs[ep] = spec
  end
  return spec
end

function _M.attach(client, endpoints)
  endpoints = endpoints or require("coze.endpoints")
  for _, ep in ipairs(endpoints) do
    local m = methods[ep]
    if not m then
      m = method_for(_M.spec_of(ep))
      methods[ep] = m
    end
    local target = client
    local op = ep[1]
    local last = op:match("([^%.]+)$")
    for part in op:gmatch("([^%.]+)%.") do target = node(target, part) end
    rawset(target, last, m)
  end
  -- what extensions build on: builder.variant(op, adjust) -> a variant of op's method
  local builder = { variant = function(op, adjust) return variant(endpoints, op, adjust) end }
  for _, name in ipairs(EXTENSIONS) do
    require("coze.resources." .. name).extend(client, builder)
  end
  return client
end

return _M
