-- What the user-authorized OAuth apps (PKCE, web, device) share: tokens that come with a refresh
-- token, refreshing (the old refresh token dies on use, so the new one is stored at once), and
-- restoring a saved refresh token.
local args = require "coze.args"
local errors = require "coze.errors"
local base = require "coze.auth.base"

local _M = {}

local REFRESH_OP = "auth.oauth.token.refresh"

-- Common options of the user-authorized apps: client_id, refresh_token / access_token + expires_in
-- (a saved session to restore). Returns the private table.
function _M.init(self, where, opts, level)
  level = (level or 2) + 1
  local p = base.init(self, where, opts, level)
  self.client_id = args.string(where, opts, "client_id", true, level - 1)
  local rt = args.string(where, opts, "refresh_token", false, level - 1)
  local at = args.string(where, opts, "access_token", false, level - 1)
  local exp = args.number(where, opts, "expires_in", 0, nil, false, level - 1)
  if at and not exp then args.fail(where, "field 'expires_in' is required with 'access_token'", level - 1) end
  base.init_cache(p, table.concat({ "coze." .. where, self.client_id }, ":"))
  if rt or at then
    local now = p.cache.clock()
    local e = p.cache:entry_from({ access_token = at, expires_in = exp or now, refresh_token = rt }, now)
    if not at then e.access_token, e.expires_at, e.refresh_at = nil, nil, nil end
    e.gen = 1
    p.cache.store:set(p.cache.key, e)
  end
  return p
end

-- True when the server's answer means the refresh token itself is no good.
local function refresh_refused(err)
  if not errors.is(err) or err.kind ~= "auth" then return false end
  local code = err.code
  if code == "invalid_grant" or code == "expired_token" then return true end
  return type(err.msg) == "string" and err.msg:find("refresh_token", 1, true) ~= nil
end

-- fetch for the cache: refreshes with the stored refresh token.
function _M.refresh_fetch(self, entry, client, call, what)
  local rt = entry and entry.refresh_token
  if not rt then
    local msg
    if entry and entry.err and entry.err.refused then
      msg = "the refresh token was refused; authorize again"
    else
      msg = "no token yet: " .. what
    end
    return nil, errors.new("auth", { op = REFRESH_OP, msg = msg })
  end
  local p = base.private(self)
  local res, err = self:_post(base.TOKEN_PATH, { grant_type = "refresh_token", client_id = self.client_id,
    refresh_token = rt }, {
    op = REFRESH_OP, client = client, call = call, bearer = p.client_secret, secrets = { rt },
    safe = false, -- the refresh token dies on use: never replay once the server may have seen it
  })
  if res then return res end
  if refresh_refused(err) then
    err.msg = "the refresh token is invalid or expired; authorize again (" .. err.msg .. ")"
    err.refused = true
    return nil, err, true
  end
  return nil, err
end

-- Methods shared by the classes (installed by install()).
local M = {}

function M:_fetch(entry, client, call)
  return _M.refresh_fetch(self, entry, client, call, self._no_token_hint)
end

--- auth:refresh{ refresh_token = ?, on_wait = } -> token info | nil, err
-- Refreshes now with the stored (or the given) refresh token; the new pair replaces the old one.
function M:refresh(opts)
  opts = opts or {}
  local where = self._name .. ".refresh"
  local call = base.call_opts(where, opts)
  local rt = args.string(where, opts, "refresh_token", false)
  local p = base.private(self)
  local tok, err = p.cache:get(function(e)
    if not rt then return self:_fetch(e, nil, call) end
    local copy = {}
    for k, v in pairs(e or {}) do copy[k] = v end
    copy.refresh_token = rt
    local res, ferr, drop = self:_fetch(copy, nil, call)
    -- a refused refresh token given here says nothing about the stored one
    if drop and not (e and e.refresh_token == rt) then drop = nil end
    return res, ferr, drop
  end, { on_wait = call.on_wait, op = REFRESH_OP, force = true })
  if not tok then return nil, err end
  return base.info(p.cache:peek())
end

-- Stores a token answer from an exchange or a device approval: returns the info table.
function M:_store(res)
  local p = base.private(self)
  local cache = p.cache
  local e = cache:entry_from(res, cache.clock(), nil, nil)
  if type(e.access_token) ~= "string" or e.access_token == "" then
    return nil, errors.new("decode", { op = self._op, msg = "the OAuth response has no access_token" })
  end
  cache:put(e)
  return base.info(e)
end

function _M.install(C)
  for k, v in pairs(M) do C[k] = v end
  return C
end

return _M
