-- The emulator rejects what Coze rejects: every request of a catalog operation is checked against the
-- catalog's own declared types (openapi.reconstructed.json, else params.tsv; required headers also from
-- the endpoints.tsv notes) before its handler runs, and a mismatch is answered like Coze does: HTTP 200,
-- {"code":4000,"msg":"请求参数错误: <field> ...","detail":{"logid":...}} and X-Tt-Logid.
-- It reads the catalog, never the SDK's endpoint table, so an SDK bug cannot hide behind a matching
-- emulator bug. Validators are compiled once when the module loads (nginx init_by_lua); per request the
-- cost is one route lookup and one walk of the (small) body; streamed events are never looked at.
local cjson = require "cjson.safe"

local _M = {}

-- The API catalog, the one place to repoint: $COZE_EMU_CATALOG (nginx.conf.in passes it through with
-- `env`), else the repository's catalog/.
local EMU_DIR = debug.getinfo(1, "S").source:match("^@(.*)/emu/[^/]+$") or "spec/emulator"
local function catalog_dir()
  local env = os.getenv("COZE_EMU_CATALOG")
  if env and env ~= "" then return env end
  return EMU_DIR .. "/../../catalog"
end
_M.CATALOG_DIR = catalog_dir()

-- Fields the spec marks required that every official SDK (coze-py, coze-js, coze-go) sends the call
-- without; Coze serves those calls, so the emulator does too (docs/porting.md lists them).
_M.SPEC_REQUIRED_BUT_OMITTED = {
  ["chat.create|chat.stream"] = {
    ["additional_messages[].type"] = "the field's own text says it defaults to question; coze-js types it optional",
    ["additional_messages[].content"] = "coze-js types it optional (a message may carry only meta_data)",
  },
  ["workflows.chat.stream"] = { parameters = "coze-py/js/go send no parameters unless given" },
  ["datasets.documents.create"] = {
    chunk_strategy = "coze-py/js/go omit it (server default: automatic chunking)",
    format_type = "coze-py/js/go omit it (server infers it from the dataset)",
  },
}

-- Mistakes of this SDK that the strict emulator found and that another change fixes: each entry turns
-- off exactly one check (operation -> field path as the error names it, "header <Name>" for headers).
-- Remove an entry when the SDK fix lands; the suite then proves the fix.
_M.KNOWN_SDK_GAPS = {}

-- Operations not validated: OAuth endpoints answer {error_code,...} not the 4000 envelope, the
-- OpenAI-style completions endpoint answers OpenAI errors, and websdk rows are JS config, not HTTP.
local SKIP_GROUPS = { auth = true, websdk = true }
local SKIP_OPS = { ["chat.completions.create"] = true }

---------------------------------------------------------------------------------------------------
-- A JSON reader that keeps what cjson (2.1.0, no array_mt) loses: whether an empty container was
-- [] or {}. Arrays carry the ARRAY metatable; null becomes NULL (treated as absent, as Go's decoder does).
local ARRAY, NULL = {}, setmetatable({}, { __tostring = function() return "null" end })
local byte, find, sub = string.byte, string.find, string.sub

local function ws(s, i)
  return find(s, "[^ \t\r\n]", i) or #s + 1
end

local function jstring(s, i)
  local j = i + 1
  while true do
    local q = find(s, '["\\]', j)
    if not q then error("unterminated string", 0) end
    if byte(s, q) == 34 then
      if find(s, "\\", i + 1, true) and find(s, "\\", i + 1, true) < q then
        local v = cjson.decode(sub(s, i, q))
        if v == nil then error("bad string escape", 0) end
        return v, q + 1
      end
      return sub(s, i + 1, q - 1), q + 1
    end
    j = q + 2
  end
end

local jvalue

local function jobject(s, i)
  local t = {}
  i = ws(s, i + 1)
  if byte(s, i) == 125 then return t, i + 1 end
  while true do
    if byte(s, i) ~= 34 then error("expected a key", 0) end
    local k
    k, i = jstring(s, i)
    i = ws(s, i)
    if byte(s, i) ~= 58 then error("expected ':'", 0) end
    t[k], i = jvalue(s, i + 1)
    i = ws(s, i)
    local c = byte(s, i)
    if c == 125 then return t, i + 1 end
    if c ~= 44 then error("expected ',' or '}'", 0) end
    i = ws(s, i + 1)
  end
end

local function jarray(s, i)
  local t, n = setmetatable({}, ARRAY), 0
  i = ws(s, i + 1)
  if byte(s, i) == 93 then return t, i + 1 end
  while true do
    n = n + 1
    t[n], i = jvalue(s, i)
    i = ws(s, i)
    local c = byte(s, i)
    if c == 93 then return t, i + 1 end
    if c ~= 44 then error("expected ',' or ']'", 0) end
    i = i + 1
  end
end

function jvalue(s, i)
  i = ws(s, i)
  local c = byte(s, i)
  if c == 34 then return jstring(s, i) end
  if c == 123 then return jobject(s, i) end
  if c == 91 then return jarray(s, i) end
  if find(s, "^true", i) then return true, i + 4 end
  if find(s, "^false", i) then return false, i + 5 end
  if find(s, "^null", i) then return NULL, i + 4 end
  local a, b = find(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if a then return tonumber(sub(s, a, b)), b + 1 end
  error("unexpected character at byte " .. i, 0)
end

local function decode(s)
  local ok, v, i = pcall(jvalue, s, 1)
  if not ok then return nil, v end
  if ws(s, i) <= #s then return nil, "trailing text after the JSON value" end
  return v
end
_M.decode = decode

local function kind(v)
  local t = type(v)
  if t == "table" then
    if v == NULL then return "null" end
    return getmetatable(v) == ARRAY and "array" or "object"
  end
  return t
end

---------------------------------------------------------------------------------------------------
-- Compiled shapes: { t = "string"|"integer"|"number"|"boolean"|"array"|"object"|"map"|"any",
-- props = {name = shape}, required = {names}, items = shape, values = shape, message = true when the
-- object is a chat message (content + content_type: object_string content must be a JSON array text).
local ANY = { t = "any" }
local SCALAR = { string = true, integer = true, number = true, boolean = true }

local function from_openapi(schema, comps, seen)
  if type(schema) ~= "table" then return ANY end
  local ref = schema["$ref"]
  if ref then
    local name = ref:match("([^/]+)$")
    if seen[name] then return ANY end
    seen[name] = true
    local shape = from_openapi(comps[name], comps, seen)
    seen[name] = nil
    return shape
  end
  local t = schema.type
  if SCALAR[t] then return { t = t } end
  if t == "array" then return { t = "array", items = from_openapi(schema.items, comps, seen) } end
  if t == "object" then
    if type(schema.properties) == "table" then
      local props = {}
      for k, v in pairs(schema.properties) do props[k] = from_openapi(v, comps, seen) end
      local req = type(schema.required) == "table" and schema.required or {}
      return { t = "object", props = props, required = req, message = props.content and props.content_type and true }
    end
    if type(schema.additionalProperties) == "table" then
      return { t = "map", values = from_openapi(schema.additionalProperties, comps, seen) }
    end
    return { t = "object" }
  end
  return ANY
end

-- params.tsv type text ("String", "Long", "Array of KVItem", "Object of UpdateRule", "map<string,string>",
-- "array<object(X)>", ...) -> shape; objs holds the operation's obj:<Name> tables.
local function from_tsv(text, objs)
  local low = text:lower()
  if low == "string" or low:match("^string%(") then return { t = "string" } end
  if low == "integer" or low == "interger" or low == "long" or low == "int" then return { t = "integer" } end
  if low == "number" or low == "float" or low == "double" then return { t = "number" } end
  if low == "boolean" or low == "bool" then return { t = "boolean" } end
  local item = text:match("^[Aa]rray of (.+)$") or text:match("^array<(.+)>$")
  if item then
    local name = item:match("^object%((.+)%)$") or item
    return { t = "array", items = objs[name] or from_tsv(item, objs) }
  end
  local obj = text:match("^Object of (.+)$") or text:match("^object%((.+)%)$")
  if obj then return objs[obj] or { t = "object" } end
  if low == "map<string,string>" then return { t = "map", values = { t = "string" } } end
  if low == "object" or low:match("^map") then return { t = "object" } end
  return ANY
end

local function lines(file)
  local f = assert(io.open(_M.CATALOG_DIR .. "/" .. file, "rb"))
  local text = f:read("*a")
  f:close()
  local rows, header = {}, nil
  for line in text:gmatch("[^\n]+") do
    local cols = {}
    for c in (line .. "\t"):gmatch("([^\t]*)\t") do cols[#cols + 1] = c end
    if not header then
      header = {}
      for i, c in ipairs(cols) do header[c] = i end
    else
      local row = {}
      for name, i in pairs(header) do row[name] = cols[i] or "" end
      rows[#rows + 1] = row
    end
  end
  return rows
end

-- Marks the fields an operation must not be strict about (spec-only requirements, known SDK gaps).
local function relax(op)
  local lax = {}
  for field in pairs(_M.SPEC_REQUIRED_BUT_OMITTED[op] or {}) do lax[field] = "required" end
  for field in pairs(_M.KNOWN_SDK_GAPS[op] or {}) do lax[field] = "any" end
  return lax
end

local function compile_op(row, openapi, tsv_rows)
  local op = { name = row.operation, query = {}, headers = {}, body = nil,
    json = row.content_type == "json" }
  local spec = openapi.paths[row.path] and openapi.paths[row.path][row.method:lower()]
  if spec then
    for _, p in ipairs(spec.parameters or {}) do
      local required = p.required == true or p.required == "true"
      local t = type(p.schema) == "table" and p.schema.type or "string"
      if p["in"] == "query" then
        op.query[#op.query + 1] = { name = p.name, t = t, required = required }
      elseif p["in"] == "header" and required and p.name:match("^[%w%-]+$") then
        local enum = type(p.schema) == "table" and p.schema.enum
        op.headers[#op.headers + 1] = { name = p.name, value = enum and enum[1] }
      end
    end
    local rb = spec.requestBody and spec.requestBody.content
    local js = rb and rb["application/json"]
    if js then op.body = from_openapi(js.schema, openapi.components.schemas, {}) end
  else
    local objs, body = {}, {}
    for _, r in ipairs(tsv_rows) do
      local name = r.location:match("^obj:(.+)$")
      if name then
        objs[name] = objs[name] or { t = "object", props = {}, required = {} }
        objs[name].props[r.name] = from_tsv(r.type, objs)
        if r.required == "yes" then table.insert(objs[name].required, r.name) end
      end
    end
    for _, r in ipairs(tsv_rows) do
      if r.location == "query" then
        op.query[#op.query + 1] = { name = r.name, t = from_tsv(r.type, objs).t, required = r.required == "yes" }
      elseif r.location == "header" and r.required == "yes" then
        op.headers[#op.headers + 1] = { name = r.name, value = r.enum ~= "" and r.enum or nil }
      elseif r.location == "body" then
        body.props = body.props or {}
        body.required = body.required or {}
        body.props[r.name] = from_tsv(r.type, objs)
        if r.required == "yes" then table.insert(body.required, r.name) end
      end
    end
    if body.props and op.json then op.body = { t = "object", props = body.props, required = body.required } end
  end
  -- Headers the notes require ("requires header Agw-Js-Conv: str") although the schema does not list them.
  for name, value in row.notes:gmatch("requires header ([%w%-]+): (%w+)") do
    local have = false
    for _, h in ipairs(op.headers) do have = have or h.name:lower() == name:lower() end
    if not have then op.headers[#op.headers + 1] = { name = name, value = value } end
  end
  for _, h in ipairs(op.headers) do h.key = h.name:lower() end
  op.lax = relax(row.operation)
  if not op.json then op.body = nil end
  return op
end

local exact, patterns = {}, {}

local function load()
  local f = assert(io.open(_M.CATALOG_DIR .. "/openapi.reconstructed.json", "rb"))
  local openapi = assert(cjson.decode(f:read("*a")))
  f:close()
  local by_op = {}
  for _, r in ipairs(lines("params.tsv")) do
    if not r.location:match("^response") then
      by_op[r.operation] = by_op[r.operation] or {}
      table.insert(by_op[r.operation], r)
    end
  end
  for _, row in ipairs(lines("endpoints.tsv")) do
    if row.path:sub(1, 1) == "/" and not SKIP_GROUPS[row.group] and not SKIP_OPS[row.operation]
      and row.method:match("^%u+$") then
      local op = compile_op(row, openapi, by_op[row.operation] or {})
      if row.path:find("{", 1, true) then
        local pat = "^" .. row.path:gsub("[%-%.%+%*%?%^%$%%]", "%%%0"):gsub("{[%w_]+}", "[^/]+") .. "$"
        patterns[#patterns + 1] = { method = row.method, pat = pat, op = op }
      else
        exact[row.method .. " " .. row.path] = op
      end
    end
  end
end

---------------------------------------------------------------------------------------------------
-- Checking. Each check returns nil or the message naming the field path (arrays as name[i]).
local ARTICLE = { array = "an array", object = "an object", integer = "an integer", ["nil"] = "missing" }
local function describe(k) return ARTICLE[k] or ("a " .. k) end

local function lax_key(path)
  return (path:gsub("%[%d+%]", "[]"))
end

local check

local function check_object(shape, v, path, lax)
  for _, name in ipairs(shape.required or {}) do
    local f = path == "" and name or (path .. "." .. name)
    local x = v[name]
    if (x == nil or x == NULL) and not lax[lax_key(f)] then
      return f .. " is required"
    end
  end
  if shape.props then
    for name, sub_shape in pairs(shape.props) do
      local x = v[name]
      if x ~= nil and x ~= NULL then
        local err = check(sub_shape, x, path == "" and name or (path .. "." .. name), lax)
        if err then return err end
      end
    end
  end
  if shape.message and v.content_type == "object_string" and type(v.content) == "string" then
    local items = decode(v.content)
    if kind(items) ~= "array" then
      return (path == "" and "" or path .. ".") .. "content must be a JSON array text when content_type is object_string"
    end
  end
end

function check(shape, v, path, lax)
  local t = shape.t
  if t == "any" or lax[lax_key(path)] == "any" then return nil end
  local k = kind(v)
  if t == "integer" then
    if k ~= "number" or v ~= math.floor(v) then return path .. " must be an integer, got " .. describe(k) end
    return nil
  end
  if t == "map" or t == "object" then
    if k ~= "object" then return path .. " must be an object, got " .. describe(k) end
    if t == "map" then
      if shape.values and shape.values.t ~= "any" then
        for key, x in pairs(v) do
          local err = x ~= NULL and check(shape.values, x, path .. "." .. key, lax)
          if err then return err end
        end
      end
      return nil
    end
    return check_object(shape, v, path, lax)
  end
  if k ~= t then return path .. " must be " .. describe(t) .. ", got " .. describe(k) end
  if t == "array" and shape.items and shape.items.t ~= "any" then
    for i = 1, #v do
      if v[i] ~= NULL then
        local err = check(shape.items, v[i], path .. "[" .. i .. "]", lax)
        if err then return err end
      end
    end
  end
end

local function check_request(op)
  local lax = op.lax
  if #op.headers > 0 then
    local headers = ngx.req.get_headers()
    for _, h in ipairs(op.headers) do
      local got = headers[h.key]
      if type(got) == "table" then got = got[1] end
      if not lax["header " .. h.name] then
        if got == nil then return "header " .. h.name .. " is required" .. (h.value and (" (" .. h.name .. ": " .. h.value .. ")") or "") end
        if h.value and got ~= h.value then return "header " .. h.name .. " must be " .. h.value .. ", got " .. got end
      end
    end
  end
  if #op.query > 0 then
    local args = ngx.req.get_uri_args(100)
    for _, q in ipairs(op.query) do
      local v = args[q.name]
      if type(v) == "table" and q.t ~= "array" then v = v[1] end
      if (v == nil or v == "" or v == true) and q.required and not lax[q.name] then
        return q.name .. " is required"
      end
      if type(v) == "string" and v ~= "" and not lax[q.name] then
        if q.t == "integer" and not v:match("^%-?%d+$") then return q.name .. " must be an integer, got " .. v end
        if q.t == "boolean" and v ~= "true" and v ~= "false" then return q.name .. " must be true or false, got " .. v end
      end
    end
  end
  if op.body then
    local raw = require("emu.util").body_raw()
    local body
    if raw:find("[^ \t\r\n]") then
      local err
      body, err = decode(raw)
      if body == nil then return "body is not valid JSON (" .. err .. ")" end
    else
      body = {}
    end
    if kind(body) ~= "object" then return "body must be a JSON object, got " .. describe(kind(body)) end
    return check_object(op.body, body, "", lax)
  end
end

local function find_op(method, path)
  local op = exact[method .. " " .. path]
  if op then return op end
  for _, r in ipairs(patterns) do
    if r.method == method and find(path, r.pat) then return r.op end
  end
end

-- Called by the router before the handler: answers 4000 and ends the request when the request is not
-- what Coze accepts; returns otherwise.
function _M.check(method, path)
  local op = find_op(method, path)
  if not op then return end
  require("emu.auth_check").check() -- Coze answers 401 before it looks at the parameters
  local msg = check_request(op)
  if msg then
    ngx.log(ngx.WARN, "emulator: rejected ", op.name, ": ", msg)
    return require("emu.util").fail(4000, "请求参数错误: " .. msg, 200)
  end
end

_M.operation = find_op -- for the emulator's own checks: method, path -> compiled operation
load()

return _M
