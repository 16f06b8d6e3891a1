-- What every OAuth auth object shares: option checks, the private side (secrets and the token
-- cache live in a weak table, never in the object, so neither tostring nor a table dump shows
-- them), the transport to use, OAuth requests and the Client interface (token, invalidate).
local header = require "coze.header"
local http = require "coze.auth.http"
local cache_mod = require "coze.auth.cache"
local json = require "coze.json"
local retry = require "coze.retry"
local url = require "coze.url"

local _M = {}

_M.COM_BASE_URL = "https://api.coze.com"
_M.CN_BASE_URL = "https://api.coze.cn"

_M.GRANT_JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_M.GRANT_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
_M.TOKEN_PATH = "/api/permission/oauth2/token"

local private = setmetatable({}, { __mode = "k" })

function _M.private(self)
  return private[self]
end

-- Misuse --------------------------------------------------------------------------------------

-- Raises "coze: <where>: <msg>" at the caller of the public function (level counts from there).
function _M.raise(where, msg, level)
  error("coze: " .. where .. ": " .. msg, (level or 2) + 1)
end
local raise = _M.raise

function _M.check_string(where, opts, key, required, level)
  local v = opts[key]
  if v == nil and not required then return nil end
  if type(v) ~= "string" or v == "" then
    raise(where, "field '" .. key .. "' must be a non-empty string (got "
      .. (v == "" and "an empty string" or type(v)) .. ")", (level or 2) + 1)
  end
  return v
end

function _M.check_type(where, opts, key, t, level)
  local v = opts[key]
  if v ~= nil and type(v) ~= t then
    raise(where, "field '" .. key .. "' must be a " .. t .. " (got " .. type(v) .. ")", (level or 2) + 1)
  end
  return v
end

function _M.check_number(where, opts, key, lo, hi, integer, level)
  local v = opts[key]
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= v or v < lo or (hi and v > hi) or (integer and v % 1 ~= 0) then
    raise(where, "field '" .. key .. "' must be " .. (integer and "an integer" or "a number") .. " from " .. lo
      .. (hi and (" to " .. hi) or " up") .. " (got " .. (type(v) == "number" and tostring(v) or type(v)) .. ")",
      (level or 2) + 1)
  end
  return v
end

-- A string or integer id that goes into a path segment.
function _M.check_id(where, opts, key, level)
  local v = opts[key]
  if v == nil then return nil end
  if type(v) == "number" and v % 1 == 0 then return url.scalar(v, key) end
  if type(v) ~= "string" or v == "" then
    raise(where, "field '" .. key .. "' must be a non-empty string or an integer (got " .. type(v) .. ")",
      (level or 2) + 1)
  end
  return v
end

function _M.check_base_url(where, opts, key, level)
  local v = opts[key or "base_url"]
  if v == nil then return nil end
  if type(v) ~= "string" or not v:match("^https?://[^/]") then
    raise(where, "field '" .. (key or "base_url") .. "' must be an http(s) URL", (level or 2) + 1)
  end
  return (v:gsub("/+$", ""))
end

function _M.check_headers(where, opts, level)
  local h = opts.headers
  if h == nil then return nil end
  if type(h) ~= "table" then raise(where, "field 'headers' must be a table", (level or 2) + 1) end
  local out = {}
  for name, v in pairs(h) do
    local key, value = header.check(name, v)
    if not key then raise(where, value, (level or 2) + 1) end
    if key == "authorization" then
      raise(where, "header 'Authorization' is set by the auth object", (level or 2) + 1)
    end
    out[name] = value
  end
  return out
end

-- The www host of an API base: https://api.coze.cn -> https://www.coze.cn (other hosts stay).
function _M.www_base(api_base)
  return (api_base:gsub("^(https?://)api%.", "%1www."))
end

-- The host name of a base URL, for the JWT aud claim: https://api.coze.cn -> api.coze.cn.
function _M.host_of(base_url)
  local authority = base_url:match("^%a[%w+.-]*://([^/?#]+)") or ""
  authority = authority:gsub("^.*@", "")
  local v6 = authority:match("^%[(.-)%]")
  if v6 then return v6 end
  return (authority:gsub(":%d*$", ""))
end

-- Construction --------------------------------------------------------------------------------

local CALL_NUMBERS = {
  "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "total_timeout_ms",
  "max_retries", "retry_base_ms", "retry_max_delay_ms", "retry_budget_ms", "lock_timeout_ms",
}

-- Fills the options every auth object takes and returns its private table.
-- where: "auth.jwt" ...; level: how far up the public constructor's caller is (from here).
function _M.init(self, where, opts, level)
  level = (level or 2) + 1
  local p = { secrets = {} }
  private[self] = p
  self.base_url = _M.check_base_url(where, opts, "base_url", level)
  local transport = opts.transport
  if transport ~= nil and (type(transport) ~= "table" or type(transport.request) ~= "function") then
    raise(where, "field 'transport' must be a transport object", level)
  end
  p.transport = transport
  p.transport_opts = {
    proxy = _M.check_string(where, opts, "proxy", false, level),
    no_proxy = _M.check_string(where, opts, "no_proxy", false, level),
    ca_file = _M.check_string(where, opts, "ca_file", false, level),
    ca_path = _M.check_string(where, opts, "ca_path", false, level),
    tls_verify = _M.check_type(where, opts, "tls_verify", "boolean", level),
  }
  p.headers = _M.check_headers(where, opts, level)
  p.numbers = {}
  for _, k in ipairs(CALL_NUMBERS) do p.numbers[k] = _M.check_number(where, opts, k, 0, nil, false, level) end
  local skew = _M.check_number(where, opts, "refresh_skew", 0, nil, false, level)
  local lock, store = opts.lock, opts.store
  if lock ~= nil and (type(lock) ~= "table" or type(lock.lock) ~= "function" or type(lock.unlock) ~= "function") then
    raise(where, "field 'lock' must have lock and unlock methods", level)
  end
  if store ~= nil and (type(store) ~= "table" or type(store.get) ~= "function" or type(store.set) ~= "function") then
    raise(where, "field 'store' must have get and set methods", level)
  end
  local on_token = _M.check_type(where, opts, "on_token", "function", level)
  local cache_key = _M.check_string(where, opts, "cache_key", false, level)
  p.cache_opts = { refresh_skew = skew, lock = lock, store = store, on_token = on_token,
    lock_timeout_ms = p.numbers.lock_timeout_ms, key = cache_key }
  return p
end

-- Creates the token cache once the subclass knows its default key.
function _M.init_cache(p, default_key)
  p.cache_opts.key = p.cache_opts.key or default_key
  p.cache = cache_mod.new(p.cache_opts)
  return p.cache
end

-- Runtime -------------------------------------------------------------------------------------

local Auth = {}
Auth.__index = Auth
_M.Auth = Auth

-- A class table for one flow: methods of Auth plus its own, a redacted tostring.
function _M.class(name)
  local C = {}
  for k, v in pairs(Auth) do C[k] = v end
  C.__index = C
  C.__tostring = function(self)
    local id = rawget(self, "client_id")
    return "coze." .. name .. " (" .. (id and ("client_id " .. id .. ", ") or "") .. "credentials redacted)"
  end
  C._name = name
  return C
end

function Auth:_base_url(client)
  return self.base_url or (client and client.base_url) or os.getenv("COZE_API_BASE") or _M.COM_BASE_URL
end

function Auth:_transport(client)
  local p = private[self]
  if p.transport then return p.transport end
  if client and client.transport then return client.transport end
  if not p.own_transport then
    p.own_transport = require("coze.transport.curl").new(p.transport_opts)
  end
  return p.own_transport
end

-- Drops the connection cache of a transport the auth object made for itself.
function Auth:close()
  local p = private[self]
  if p and p.own_transport then
    p.own_transport:close()
    p.own_transport = nil
  end
end

-- POSTs body (a table) to path under the API base: decoded | nil, err.
-- o: op, bearer, safe, client, call (wait_ms, on_wait, headers), secrets (extra values to scrub)
function Auth:_post(path, body, o)
  local p = private[self]
  local call = o.call or {}
  local client = o.client
  local transport = self:_transport(client)
  local text = assert(json.encode(body))
  local secrets = {}
  for _, v in pairs(p.secrets) do secrets[#secrets + 1] = v end
  local e = p.cache and p.cache:peek()
  if e then
    secrets[#secrets + 1] = e.access_token
    secrets[#secrets + 1] = e.refresh_token
  end
  for _, v in pairs(o.secrets or {}) do secrets[#secrets + 1] = v end
  local req = {
    transport = transport, url = self:_base_url(client) .. path, op = o.op, body = text, bearer = o.bearer,
    headers = { p.headers or {}, call.headers or {} }, secrets = secrets, safe = o.safe,
    wait_ms = call.wait_ms, on_wait = call.on_wait,
  }
  for k, v in pairs(p.numbers) do req[k] = v end
  if client then
    -- the client's retry policy unless the auth object has its own (timeouts stay the auth object's)
    for k in pairs(retry.DEFAULTS) do
      if req[k] == nil then req[k] = client[k] end
    end
  end
  return http.post(req)
end

--- auth:token(client, call) -> access token | nil, err. client and call are optional: without a
-- client the auth object uses its own transport; call.on_wait lets a waiting coroutine yield.
function Auth:token(client, call)
  call = call or {}
  local p = private[self]
  -- only the waiting options of the API call apply to the token request (not its headers)
  local c = { wait_ms = call.wait_ms, on_wait = call.on_wait }
  return p.cache:get(function(entry) return self:_fetch(entry, client, c) end,
    { on_wait = call.on_wait, default_ttl = self.ttl, op = self._op })
end

--- auth:invalidate(token): forgets the cached access token when it is `token` (the one the server
-- refused); a newer token another caller already fetched is kept.
function Auth:invalidate(token)
  local p = private[self]
  return p.cache:invalidate(token)
end

--- auth:token_info() -> { access_token, expires_in (absolute Unix s), refresh_token, token_type } | nil
-- The cached token, e.g. to persist a session (refresh tokens change on every refresh; see on_token).
function Auth:token_info()
  return _M.info(private[self].cache:peek())
end

-- Checks the per-call options of explicit calls (exchange_code, refresh, ...): returns the call table.
function _M.call_opts(where, opts, level)
  level = (level or 2) + 1
  local call = {
    headers = _M.check_headers(where, opts, level),
    wait_ms = _M.check_number(where, opts, "wait_ms", 0, nil, false, level),
    on_wait = _M.check_type(where, opts, "on_wait", "function", level),
  }
  return call
end

-- A copy of the cached token for the caller (the caller's own data: persist the refresh token).
function _M.info(entry)
  if not entry or not entry.access_token then return nil end
  return { access_token = entry.access_token, expires_in = entry.expires_at, refresh_token = entry.refresh_token,
    token_type = entry.token_type }
end

return _M
