-- Authorization-code apps: PKCE (public clients: mobile, desktop, single-page) and web apps
-- (confidential: the client secret goes in `Authorization: Bearer` of code and refresh calls).
-- authorize_url builds the browser URL on the www host; exchange_code trades the callback's code
-- for a token pair that the auth object then keeps fresh with the refresh token.
local args = require "coze.args"
local core = require "coze.core"
local url = require "coze.url"
local base = require "coze.auth.base"
local app = require "coze.auth.app"

local _M = {}

local AUTHORIZE = "/api/permission/oauth2/authorize"
local CODE_OP = "auth.oauth.token.authorization_code"
local MAX_PENDING = 64

local PKCE = app.install(base.class("auth.pkce"))
local Web = app.install(base.class("auth.web"))
_M.PKCE, _M.Web = PKCE, Web
PKCE._no_token_hint = "complete the authorization first (authorize_url, then exchange_code)"
Web._no_token_hint = PKCE._no_token_hint
PKCE._op, Web._op = CODE_OP, CODE_OP

-- Their own options (base.COMMON besides).
local OWN = {
  ["auth.pkce"] = { client_id = true, refresh_token = true, access_token = true, expires_in = true,
    redirect_uri = true, www_base_url = true, code_challenge_method = true, code_verifier_length = true },
  ["auth.web"] = { client_id = true, refresh_token = true, access_token = true, expires_in = true,
    redirect_uri = true, www_base_url = true, client_secret = true },
}

local function common(self, where, opts)
  if type(opts) ~= "table" then args.fail(where, "expected an options table", 2) end
  base.check_known(where, opts, OWN[where], 2)
  local p = app.init(self, where, opts, 3)
  self.redirect_uri = args.string(where, opts, "redirect_uri", false, 2)
  self.www_base_url = base.check_base_url(where, opts, "www_base_url", 3)
  p.pending, p.pending_order = {}, {}
  return p
end

local function check_method(where, opts, key, level)
  local m = opts[key]
  if m ~= nil and m ~= "S256" and m ~= "plain" then
    args.fail(where, "field '" .. key .. "' must be \"S256\" or \"plain\"", (level or 2))
  end
  return m
end

--- coze.auth.pkce{ client_id, redirect_uri, base_url, www_base_url, code_challenge_method = "S256",
--   code_verifier_length = 64, refresh_token (a saved one), refresh_skew = 60, on_token, ... }
function _M.pkce(opts)
  local self = setmetatable({}, PKCE)
  common(self, "auth.pkce", opts)
  self.code_challenge_method = check_method("auth.pkce", opts, "code_challenge_method") or "S256"
  self.code_verifier_length = args.number("auth.pkce", opts, "code_verifier_length", 43, 128, true) or 64
  return self
end

--- coze.auth.web{ client_id, client_secret, redirect_uri, base_url, www_base_url, refresh_token, ... }
function _M.web(opts)
  local self = setmetatable({}, Web)
  local p = common(self, "auth.web", opts)
  p.client_secret = args.string("auth.web", opts, "client_secret", true)
  p.secrets[#p.secrets + 1] = p.client_secret
  return self
end

-- A PKCE code verifier: n characters of base64url from OpenSSL random bytes (RFC 7636: 43..128).
function _M.code_verifier(n)
  n = n or 64
  local tok = assert(core.random_token(math.ceil(n * 3 / 4)))
  return tok:sub(1, n)
end

local function www_base(self)
  return self.www_base_url or base.www_base(self:_base_url(nil))
end

local function remember(p, session)
  p.pending[session.state] = session
  local order = p.pending_order
  order[#order + 1] = session.state
  if #order > MAX_PENDING then
    p.pending[table.remove(order, 1)] = nil
  end
end

local function forget(p, state)
  if state == nil or p.pending[state] == nil then return end
  p.pending[state] = nil
  for i, s in ipairs(p.pending_order) do
    if s == state then table.remove(p.pending_order, i) break end
  end
end

local function build_url(self, where, opts, extra)
  if type(opts) ~= "table" then args.fail(where, "expected an options table", 2) end
  local redirect_uri = args.string(where, opts, "redirect_uri", false, 2) or self.redirect_uri
  if not redirect_uri then args.fail(where, "field 'redirect_uri' is required (here or in the constructor)", 2) end
  local state = args.string(where, opts, "state", false, 2) or core.random_token(16)
  local workspace_id = base.check_id(where, opts, "workspace_id", 3)
  local q = { response_type = "code", client_id = self.client_id, redirect_uri = redirect_uri, state = state }
  for k, v in pairs(extra or {}) do q[k] = v end
  local path = AUTHORIZE
  if workspace_id then
    path = "/api/permission/oauth2/workspace_id/" .. base.segment(where, workspace_id, "workspace_id", 3) .. "/authorize"
  end
  return www_base(self) .. path .. "?" .. url.query(q), { state = state, redirect_uri = redirect_uri,
    workspace_id = workspace_id }
end

--- pkce:authorize_url{ redirect_uri, state, workspace_id, code_challenge_method, code_verifier }
-- -> url, session. session = { state, code_verifier, code_challenge, code_challenge_method, redirect_uri }:
-- keep it for exchange_code (the auth object also remembers it by state).
function PKCE:authorize_url(opts)
  opts = opts or {}
  local where = "auth.pkce.authorize_url"
  local method = check_method(where, opts, "code_challenge_method") or self.code_challenge_method
  local verifier = opts.code_verifier
  if verifier ~= nil and (type(verifier) ~= "string" or #verifier < 43 or #verifier > 128
      or verifier:find("[^%w%-%._~]")) then
    args.fail(where, "field 'code_verifier' must be 43 to 128 characters of [A-Za-z0-9-._~]")
  end
  verifier = verifier or _M.code_verifier(self.code_verifier_length)
  local challenge = assert(core.pkce_challenge(verifier, method))
  local u, session = build_url(self, where, opts, { code_challenge = challenge, code_challenge_method = method })
  session.code_verifier, session.code_challenge, session.code_challenge_method = verifier, challenge, method
  remember(base.private(self), session)
  return u, session
end

--- web:authorize_url{ redirect_uri, state, workspace_id } -> url, session { state, redirect_uri }
function Web:authorize_url(opts)
  opts = opts or {}
  local u, session = build_url(self, "auth.web.authorize_url", opts)
  remember(base.private(self), session)
  return u, session
end

-- exchange_code of both flows: the code of opts, its redirect_uri (else the one of the session
-- authorize_url remembered under opts.state, else the constructor's) and with pkce its code_verifier
-- (the same fallbacks). Web sends its client secret as the bearer; PKCE has none.
local function exchange(self, where, opts, pkce)
  if type(opts) ~= "table" then args.fail(where, "expected an options table") end
  local code = args.string(where, opts, "code", true)
  local state = args.string(where, opts, "state", false)
  local p = base.private(self)
  local session = state and p.pending[state]
  local verifier
  if pkce then
    verifier = args.string(where, opts, "code_verifier", false) or (session and session.code_verifier)
    if not verifier then
      args.fail(where, "field 'code_verifier' is required (or the 'state' of an authorize_url of this object)")
    end
  end
  local redirect_uri = args.string(where, opts, "redirect_uri", false)
    or (session and session.redirect_uri) or self.redirect_uri
  if not redirect_uri then args.fail(where, "field 'redirect_uri' is required (here or in the constructor)") end
  local call = base.call_opts(where, opts)
  local res, err = self:_post(base.TOKEN_PATH, { grant_type = "authorization_code", client_id = self.client_id,
    code = code, redirect_uri = redirect_uri, code_verifier = verifier }, {
    op = CODE_OP, call = call, bearer = p.client_secret, secrets = { code, verifier },
    safe = false, -- a code works once: never replay once the server may have seen it
  })
  if not res then return nil, err end
  local info, serr = self:_store(res)
  if info then forget(p, state) end
  return info, serr
end

--- pkce:exchange_code{ code, code_verifier | state, redirect_uri, on_wait } -> token info | nil, err
function PKCE:exchange_code(opts)
  return exchange(self, "auth.pkce.exchange_code", opts, true)
end

--- web:exchange_code{ code, redirect_uri, state, on_wait } -> token info | nil, err
function Web:exchange_code(opts)
  return exchange(self, "auth.web.exchange_code", opts, false)
end

return _M
