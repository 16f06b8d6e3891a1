-- docs/reference.md and the LuaLS definitions (types/coze.lua) cover every operation of the catalog
-- with every field, every method of a client and every call option, and are what
-- tools/gen_endpoints.py makes of the tree now (so they cannot drift from the catalog or the code).
local catalog = require "helpers.catalog"
local client_mod = require "coze.client"
local endpoints = require "coze.endpoints"

local DEFS, REFERENCE = "types/coze.lua", "docs/reference.md"
local OUTPUTS = { "lua/coze/endpoints.lua", "spec/emulator/emu/catalog_data.lua", "docs/resources.md",
  REFERENCE, DEFS }

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local s = f:read("*a")
  f:close()
  return s
end

-- os.execute succeeded (true on 5.2+, 0 on 5.1/LuaJIT).
local function run(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function plain(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

local defs, reference = read(DEFS), read(REFERENCE)

-- The fields of every SDK operation, from params.tsv: name -> true (path, query, body and form
-- parameters; multipart operations' phantom Data/body names are not fields).
local function catalog_fields()
  local rows = catalog.read_tsv("catalog/endpoints.tsv")
  local by_key = {}
  for _, p in ipairs(catalog.read_tsv("catalog/params.tsv")) do
    local list = by_key[p.operation] or {}
    by_key[p.operation] = list
    list[#list + 1] = p
  end
  local ops = {}
  for _, row in ipairs(rows) do
    if catalog.in_scope(row) then
      for _, name in ipairs(catalog.names_of(row)) do
        local fields = {}
        for _, p in ipairs(by_key[row.operation] or {}) do
          local loc = p.location
          if (loc == "path" or loc == "query" or loc == "body" or loc == "form")
            and not (row.content_type == "multipart" and (p.name == "Data" or p.name == "body")) then
            fields[p.name] = true
          end
        end
        for n in row.path:gmatch("{([%w_]+)}") do fields[n] = true end
        ops[name] = fields
      end
    end
  end
  return ops
end

local OPS = catalog_fields()

-- The options class of op in the LuaLS file: field name -> "required" | "optional".
local function defs_fields(op)
  local body = defs:match("\n%-%-%-@class coze%.opts%." .. plain(op) .. " : [%w%.]+\n(.-)\n\n")
  if not body then return nil end
  local fields = {}
  for name, opt in body:gmatch("%-%-%-@field ([%w_]+)(%??) ") do
    fields[name] = opt == "?" and "optional" or "required"
  end
  return fields
end

-- The section of op in the reference: field name -> "yes" | "".
local function reference_fields(op)
  local call = "client." .. op:gsub("%.([%w_]+)$", ":%1") .. "{...}"
  local section = reference:match("\n### `" .. plain(call) .. "`\n(.-)\n### ")
    or reference:match("\n### `" .. plain(call) .. "`\n(.*)$")
  if not section then return nil end
  local fields = {}
  for name, req in section:gmatch("\n| `([%w_]+)` | `[^\n]-` | (%a*) |") do fields[name] = req end
  return fields
end

local function required_of(ep)
  local set = {}
  for _, n in ipairs(ep.required or {}) do set[n] = true end
  for n in ep[3]:gmatch("{([%w_]+)}") do set[n] = true end
  return set
end

describe("the reference (docs/reference.md) and the LuaLS definitions (types/coze.lua)", function()
  it("cover every in-scope operation of the catalog, and the endpoint table has no other", function()
    local n = 0
    for op in pairs(OPS) do
      n = n + 1
      local parent, method = op:match("^(.*)%.([%w_]+)$")
      assert.truthy(defs:find("\n%-%-%-@class coze%.resource%." .. plain(parent) .. "\n"), "class of " .. parent)
      assert.truthy(defs:find("\n%-%-%-@param opts coze%.opts%." .. plain(op) .. "\n.-\nfunction R_"
        .. plain(parent:gsub("%.", "_")) .. ":" .. method .. "%(opts%) end\n"), "method " .. op)
      assert.truthy(reference_fields(op), "reference section of " .. op)
    end
    assert.equal(#endpoints, n)
  end)

  it("list every field of every operation, required ones as required", function()
    for _, ep in ipairs(endpoints) do
      local op = ep[1]
      local want, required = OPS[op], required_of(ep)
      local typed, documented = assert(defs_fields(op), "options class of " .. op), reference_fields(op)
      for name in pairs(want) do
        assert.truthy(typed[name], op .. ": field " .. name .. " missing from " .. DEFS)
        assert.truthy(documented[name], op .. ": field " .. name .. " missing from " .. REFERENCE)
        local is_required = required[name] == true
        assert.equal(is_required and "required" or "optional", typed[name], op .. "." .. name)
        assert.equal(is_required and "yes" or "", documented[name], op .. "." .. name)
      end
    end
  end)

  it("type every method of a client, helpers included, and every resource it hangs on", function()
    local client = client_mod.new { token = "pat_x", base_url = "http://127.0.0.1:1" }
    local seen = 0
    local function walk(node, path)
      for k, v in pairs(node) do
        if type(k) == "string" and k:sub(1, 1) ~= "_" then
          local here = path and (path .. "." .. k) or k
          if type(v) == "function" and path then
            seen = seen + 1
            assert.truthy(defs:find("\nfunction R_" .. plain(path:gsub("%.", "_")) .. ":" .. k .. "%(opts%) end\n"),
              "method " .. here)
            assert.truthy(reference:find("\n### `client." .. plain(path) .. ":" .. k .. "{...}`\n", 1),
              "reference of " .. here)
          elseif type(v) == "table" and getmetatable(v) == require("coze.resources").Resource then
            assert.truthy(defs:find("\n%-%-%-@class coze%.resource%." .. plain(here) .. "\n"), "resource " .. here)
            walk(v, here)
          end
        end
      end
    end
    walk(client, nil)
    assert.is_true(seen > #endpoints) -- the helpers (create_and_poll, wait) are methods too
  end)

  it("name every call option, typed in coze.CallOptions", function()
    local class = defs:match("\n%-%-%-@class coze%.CallOptions\n(.-)\n\n")
    for name in pairs(client_mod.CALL_OPTIONS) do
      assert.truthy(class:find("%-%-%-@field " .. name .. "%? "), "call option " .. name)
      assert.truthy(reference:find("\n| `" .. name .. "` |", 1, true), "call option " .. name)
    end
  end)

  it("make client.chat:stream{ complete its fields (coze.new -> Client -> chat -> stream's options)", function()
    assert.truthy(defs:find("\n%-%-%-@meta coze\n", 1) or defs:find("^%-%-%-@meta coze\n"))
    assert.truthy(defs:find("---@return coze.Client\nfunction coze.new(opts) end\n", 1, true))
    assert.truthy(defs:find("\n---@field chat coze.resource.chat\n", 1, true))
    assert.truthy(defs:find("---@param opts coze.opts.chat.stream\n---@return coze.ChatStream|nil result\n", 1, true))
    local f = defs_fields("chat.stream")
    assert.equal("required", f.bot_id)
    assert.equal("optional", f.additional_messages)
    for _, m in ipairs({ "next", "events", "raw_events", "raw_chunks", "close" }) do
      assert.truthy(defs:find("\nfunction Stream:" .. m .. "%(%) end\n"), "Stream:" .. m)
    end
    for _, m in ipairs({ "next_page", "iter", "each" }) do
      assert.truthy(defs:find("\nfunction Page:" .. m .. "%(%) end\n"), "Page:" .. m)
    end
  end)

  it("cover what require 'coze' exposes and every auth constructor", function()
    local coze = require "coze"
    for k in pairs(coze) do
      assert.truthy(defs:find("\n%-%-%-@field " .. k .. " ") or defs:find("\nfunction coze%." .. k .. "%("),
        "coze." .. k)
    end
    for k, v in pairs(coze.auth) do
      if type(v) == "function" then
        assert.truthy(defs:find("\nfunction auth%." .. k .. "%("), "coze.auth." .. k)
      end
    end
    for k, v in pairs(coze.message) do
      if type(v) == "function" then
        assert.truthy(defs:find("\nfunction message%." .. k .. "%("), "coze.message." .. k)
      end
    end
    for _, k in ipairs(require("coze.errors").FIELDS) do
      assert.truthy(defs:match("\n%-%-%-@class coze%.Error\n(.-)\n\n"):find("---@field " .. k, 1, true), "err." .. k)
    end
  end)

  it("use only types it declares or Lua's own", function()
    local known = { ["nil"] = true, any = true, boolean = true, string = true, number = true, integer = true,
      ["function"] = true, table = true, thread = true, userdata = true, fun = true, ["false"] = true,
      ["true"] = true }
    for name in defs:gmatch("\n%-%-%-@class ([%w_%.]+)") do known[name] = true end
    for name in defs:gmatch("\n%-%-%-@alias ([%w_%.]+)") do known[name] = true end
    local function check(expr, where)
      expr = expr:gsub('"[^"]*"', ""):gsub("[%w_]+%??:", "") -- literals, names of fun/table-literal members
      for name in expr:gmatch("[%a_][%w_%.]*") do
        assert.truthy(known[name], "unknown type '" .. name .. "' in " .. where)
      end
    end
    for line in defs:gmatch("[^\n]+") do
      local t = line:match("^%-%-%-@field [%w_]+%?? (%S+)") or line:match("^%-%-%-@param [%w_]+%?? (.+)$")
        or line:match("^%-%-%-@return (%S+)") or line:match("^%-%-%-@class [%w_%.]+ : ([%w_%.]+)")
        or line:match("^%-%-%-| (%S+)") and ""
      if t then check(t, line) end
    end
  end)

  it("is a Lua chunk that runs (a definitions file that LuaLS can read)", function()
    local chunk = assert(loadfile(DEFS))
    local coze = chunk()
    assert.equal("function", type(coze.new))
  end)

  it("is what tools/gen_endpoints.py makes of the tree now", function()
    local tmp = os.tmpname()
    os.remove(tmp)
    assert.is_true(run("mkdir -p " .. tmp))
    local p = assert(io.popen("python3 tools/gen_endpoints.py --out " .. tmp .. " 2>&1"))
    local log = p:read("*a")
    p:close()
    for _, rel in ipairs(OUTPUTS) do
      local ok, generated = pcall(read, tmp .. "/" .. rel)
      assert.truthy(ok, "the generator wrote no " .. rel .. ": " .. log)
      assert.is_true(generated == read(rel), rel .. " differs from the generator's output: run python3 tools/gen_endpoints.py")
    end
    run("rm -rf " .. tmp)
  end)

  it("passes lua-language-server --check when it is installed", function()
    if not run("command -v lua-language-server >/dev/null 2>&1") then
      pending("lua-language-server is not installed (no Debian bookworm package)")
      return
    end
    local log = os.tmpname()
    local p = assert(io.popen("lua-language-server --check types --checklevel=Warning --logpath=" .. log .. "d 2>&1"))
    local out = p:read("*a")
    p:close()
    run("rm -rf " .. log .. " " .. log .. "d")
    assert.truthy(out:find("no problems found", 1, true) or out:find("Diagnosis completed, no problems", 1, true), out)
  end)
end)
