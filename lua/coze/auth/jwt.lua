-- JWT OAuth apps (server-to-server): sign an RS256 JWT with the app's private key and exchange it
-- for an access token. Claims are built here; signing happens in C (core.jwt_rs256). A JWT is used
-- once: every token request, retries included, signs a new one with a new jti.
local args = require "coze.args"
local core = require "coze.core"
local errors = require "coze.errors"
local json = require "coze.json"
local base = require "coze.auth.base"

local _M = {}

local JWT = base.class("auth.jwt")
_M.JWT = JWT

local MAX_TTL = 86399
local where = "auth.jwt"
local OWN = { client_id = true, public_key_id = true, private_key = true, ttl = true, session_name = true,
  session_context = true, scope = true, account_id = true, enterprise_id = true, aud = true }

-- A private_key value that is a file name rather than PEM text (asked only when it is not a usable
-- key): no BEGIN line, one line, and a path's look (a slash, or a key file's extension).
local function looks_like_path(pem)
  if pem:find("-----BEGIN", 1, true) or pem:find("\n", 1, true) or #pem > 4096 then return false end
  return pem:find("/", 1, true) ~= nil or pem:find("\\", 1, true) ~= nil
    or pem:match("%.[pP][eE][mM]$") ~= nil or pem:match("%.[kK][eE][yY]$") ~= nil
end

--- coze.auth.jwt{ client_id, public_key_id, private_key = pem, base_url, ttl = 900, session_name,
--   session_context, scope, account_id | enterprise_id, aud, refresh_skew = 60, headers, ... }
function _M.new(opts)
  if type(opts) ~= "table" then args.fail(where, "expected an options table") end
  base.check_known(where, opts, OWN)
  local self = setmetatable({}, JWT)
  local p = base.init(self, where, opts)
  self.client_id = args.string(where, opts, "client_id", true)
  self.public_key_id = args.string(where, opts, "public_key_id", true)
  local pem = opts.private_key
  if type(pem) ~= "string" or pem == "" then
    args.fail(where, "field 'private_key' must be a PEM string (got "
      .. (pem == "" and "an empty string" or type(pem)) .. ")")
  end
  local key, kerr = core.rsa_key(pem)
  if not key and looks_like_path(pem) then
    args.fail(where, "field 'private_key' looks like a file path ('" .. pem .. "'): pass the PEM text, not a path"
      .. " (read the file first: io.open(path):read(\"*a\"))")
  end
  if not key then
    args.fail(where, "field 'private_key' is not a usable RSA private key: "
      .. require("coze.scrub").scrub(tostring(kerr), { pem }))
  end
  p.key = key
  self.ttl = args.number(where, opts, "ttl", 1, MAX_TTL, true) or 900
  self.session_name = args.string(where, opts, "session_name", false)
  p.session_context = args.type(where, opts, "session_context", "table")
  p.scope = args.type(where, opts, "scope", "table")
  if p.session_context and not json.encode(p.session_context) then
    args.fail(where, "field 'session_context' cannot be encoded as JSON")
  end
  if p.scope and not json.encode(p.scope) then args.fail(where, "field 'scope' cannot be encoded as JSON") end
  self.account_id = base.check_id(where, opts, "account_id")
  self.enterprise_id = base.check_id(where, opts, "enterprise_id")
  if self.account_id and self.enterprise_id then
    args.fail(where, "fields 'account_id' and 'enterprise_id' exclude each other")
  end
  self.aud = args.string(where, opts, "aud", false)
  if self.account_id then
    self.path = "/api/permission/oauth2/account/" .. base.segment(where, self.account_id, "account_id") .. "/token"
    self._op = "auth.jwt.account_token"
  elseif self.enterprise_id then
    self.path = "/api/permission/oauth2/enterprise_id/" .. base.segment(where, self.enterprise_id, "enterprise_id") .. "/token"
    self._op = "auth.jwt.enterprise_token"
  else
    self.path = base.TOKEN_PATH
    self._op = p.scope and "auth.jwt.channel_token" or "auth.jwt.token"
  end
  base.init_cache(p, table.concat({ "coze.auth.jwt", self.client_id, self.public_key_id, self.session_name or "",
    self.account_id or "", self.enterprise_id or "" }, ":"))
  return self
end

-- Signs a new JWT for the API base base_url: jwt | nil, err.
function JWT:sign(base_url)
  local p = base.private(self)
  local now = math.floor(core.time())
  local jti, rerr = core.random_token(32)
  if not jti then return nil, errors.new("auth", { op = self._op, msg = "cannot make a jti: " .. tostring(rerr) }) end
  local claims = {
    iss = self.client_id,
    aud = self.aud or base.host_of(base_url),
    iat = now,
    exp = now + self.ttl,
    jti = jti,
    session_name = self.session_name,
    session_context = p.session_context,
  }
  local header = assert(json.encode({ alg = "RS256", typ = "JWT", kid = self.public_key_id }))
  local payload = assert(json.encode(claims))
  local jwt, serr = core.jwt_rs256(p.key, header, payload)
  if not jwt then return nil, errors.new("auth", { op = self._op, msg = "cannot sign the JWT: " .. tostring(serr) }) end
  return jwt
end

function JWT:_fetch(_, client, call)
  local body = { grant_type = base.GRANT_JWT, duration_seconds = self.ttl, scope = base.private(self).scope }
  local base_url = self:_base_url(client)
  return self:_post(self.path, body, {
    op = self._op, client = client, call = call,
    safe = true, -- a new JWT per attempt: replaying is harmless
    bearer = function() return self:sign(base_url) end,
  })
end

--- auth:refresh{ on_wait = } -> token info | nil, err: fetches a new token now (JWT apps have no
-- refresh token; this signs a new JWT).
function JWT:refresh(opts)
  opts = opts or {}
  local call = base.call_opts(where .. ".refresh", opts)
  local p = base.private(self)
  local tok, err = p.cache:get(function(e) return self:_fetch(e, nil, call) end,
    { on_wait = call.on_wait, default_ttl = self.ttl, op = self._op, force = true })
  if not tok then return nil, err end
  return base.info(p.cache:peek())
end

return _M
