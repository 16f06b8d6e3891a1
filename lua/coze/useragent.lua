-- The User-Agent and X-Coze-Client-User-Agent headers the official SDKs send, computed once.
local core = require "coze.core"
local json = require "coze.json"
local version = require "coze.version"

local _M = {}

local cached

local function lang_version()
  if type(jit) == "table" and jit.version then return jit.version end
  return (_VERSION:gsub("^Lua ", ""))
end

function _M.headers()
  if cached then return cached end
  local sysname, release = core.uname()
  local os_name = sysname:lower()
  local lv = lang_version()
  cached = {
    user_agent = string.format("coze-lua/%s lua/%s %s/%s", version, lv:gsub("%s", "-"), os_name, release),
    client_user_agent = assert(json.encode({
      version = version, lang = "lua", lang_version = lv, os_name = os_name, os_version = release,
    })),
  }
  return cached
end

return _M
