-- Bearer-token check shared by every emulated API handler.
--   missing / malformed "Authorization: Bearer <token>"  -> HTTP 401 {code:4100, msg:"authentication is invalid"}
--   token "invalid"                                       -> HTTP 401 {code:4101, msg:"token invalid"}
--   "czs_..." / "emu_oauth_..." (OAuth access tokens)     -> accepted only while ngx.shared.emu["token:<token>"]
--                                                           holds an expiry (unix seconds) in the future, else 4100
--   anything else                                         -> accepted (personal access token)
local util = require "emu.util"

local _M = {}
local dict = ngx.shared.emu

-- The bearer token of this request, or nil.
function _M.token()
  local h = ngx.var.http_authorization
  if not h then return nil end
  local tok = h:match("^[Bb][Ee][Aa][Rr][Ee][Rr] +([^%s]+)%s*$")
  return tok
end

-- Returns true when the request may proceed; otherwise sends the 401 envelope and ends the request.
function _M.check()
  local tok = _M.token()
  if not tok then
    return util.fail(4100, "authentication is invalid", 401)
  end
  if tok == "invalid" then
    return util.fail(4101, "token invalid", 401)
  end
  if tok:sub(1, 4) == "czs_" or tok:sub(1, 10) == "emu_oauth_" then
    local exp = tonumber(dict:get("token:" .. tok))
    if not exp or exp <= ngx.time() then
      return util.fail(4100, "authentication is invalid", 401)
    end
  end
  return true
end

return _M
