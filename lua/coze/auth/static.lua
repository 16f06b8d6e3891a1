-- A personal or service access token as an auth object: coze.auth.token{ token = "pat_..." } is what
-- coze.new{ token = "pat_..." } builds. It never expires on our side and has nothing to refresh.
local args = require "coze.args"
local header = require "coze.header"

local _M = {}

local Static = {}
Static.__index = Static
Static.__tostring = function() return "coze.auth.token (redacted)" end
Static.refreshable = false
_M.Static = Static

local secret = setmetatable({}, { __mode = "k" })

local OWN = { token = true }

--- coze.auth.token{ token = "pat_..." }
function _M.new(opts)
  if type(opts) ~= "table" then args.fail("auth.token", "expected an options table") end
  args.known("auth.token", opts, OWN)
  local token = args.string("auth.token", opts, "token", true)
  if header.has_crlf(token) then args.fail("auth.token", "field 'token' contains CR or LF") end
  local self = setmetatable({}, Static)
  secret[self] = token
  return self
end

function Static:token()
  return secret[self]
end

-- Nothing to refresh: a refused personal token stays refused (the client reports the 401, and
-- does not replay the call: refreshable is false).
function Static:invalidate()
  return false
end

return _M
