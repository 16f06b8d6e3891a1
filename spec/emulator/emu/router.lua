-- Dispatches requests to handler modules. Each module returns { routes = { {METHOD, PATH, fn}, ... } };
-- PATH may hold {name} segments, passed to fn as a table. Every request except /__emu/* is logged
-- (see emu.control) so specs can assert what the SDK sent.
local util = require "emu.util"
local validate = require "emu.validate"

local _M = {}

-- emu.catalog (every operation of the endpoint table, canned answers) comes first so that the
-- hand-written modules after it replace its routes for the same method and path.
local MODULES = { "emu.catalog", "emu.control", "emu.lowlevel", "emu.faults", "emu.chat", "emu.conversations", "emu.oauth", "emu.selftest",
  "emu.files", "emu.audio", "emu.workflows", "emu.completions", "emu.ws" }

local exact, patterns = {}, {}

local function add(method, path, fn)
  if path:find("{", 1, true) then
    local names = {}
    local pat = "^" .. path:gsub("[%-%.%+%*%?%^%$%%]", "%%%0"):gsub("{([%w_]+)}", function(n)
      names[#names + 1] = n
      return "([^/]+)"
    end) .. "$"
    local entry = { method = method, pat = pat, names = names, fn = fn }
    for i, r in ipairs(patterns) do
      if r.method == method and r.pat == pat then
        patterns[i] = entry -- a later module replaces the route
        return
      end
    end
    patterns[#patterns + 1] = entry
  else
    exact[method .. " " .. path] = fn
  end
end

for _, name in ipairs(MODULES) do
  local ok, mod = pcall(require, name)
  if ok and type(mod) == "table" and mod.routes then
    for _, r in ipairs(mod.routes) do add(r[1], r[2], r[3]) end
  elseif not ok and not tostring(mod):find("module '" .. name .. "' not found", 1, true) then
    ngx.log(ngx.ERR, "emulator module ", name, " failed to load: ", mod)
  end
end

local function find(method, path)
  local fn = exact[method .. " " .. path]
  if fn then return fn, {} end
  for _, r in ipairs(patterns) do
    if r.method == method then
      local caps = { path:match(r.pat) }
      if caps[1] then
        local params = {}
        for i, n in ipairs(r.names) do params[n] = ngx.unescape_uri(caps[i]) end
        return r.fn, params
      end
    end
  end
end

function _M.handle()
  local method, path = ngx.req.get_method(), ngx.var.uri
  local fn, params = find(method, path)
  local is_control = path:sub(1, 7) == "/__emu/" or path:sub(1, 7) == "/__low/"
  if not is_control then
    local control = package.loaded["emu.control"]
    if control and control.record then control.record(params) end
    local faults = package.loaded["emu.faults"]
    if faults and faults.before then faults.before() end
    validate.check(method, path)
  end
  if not fn then
    return util.fail(4000, "emulator: no route for " .. method .. " " .. path, 404)
  end
  return fn(params or {})
end

return _M
