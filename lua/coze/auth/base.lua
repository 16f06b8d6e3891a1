-- What every OAuth auth object shares: option checks, the private side (secrets and the token
-- cache live in a weak table, never in the object, so neither tostring nor a table dump shows
-- them), the transport to use, OAuth requests and the Client interface (token, invalidate).
local args = require "coze.args"
local defaults = require "coze.defaults"
local header = require "coze.header"
local http = require "coze.auth.http"
local cache_mod = require "coze.auth.cache"
local json = require "coze.json"
local log = require "coze.log"
local retry = require "coze.retry"
local transport_mod = require "coze.transport"
local url = require "coze.url"

local _M = {}


_M.GRANT_JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_M.GRANT_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
_M.TOKEN_PATH = "/api/permission/oauth2/token"

local private = setmetatable({}, { __mode = "k" })

function _M.private(self)
  return private[self]
end

-- Misuse --------------------------------------------------------------------------------------

-- The checks below take `level` as the frames between their caller and the user, 2 by default
-- (a public constructor calling a helper of this module); the generic ones are coze.args.

-- A string or integer id that goes into a path segment (url.segment: not empty, not "." or "..").
function _M.check_id(where, opts, key, level)
  local v = opts[key]
  if v == nil then return nil end
  if type(v) == "number" and v % 1 == 0 then return url.scalar(v, key) end
  if type(v) ~= "string" or v == "" then
    args.fail(where, "field '" .. key .. "' must be a non-empty string or an integer (got " .. type(v) .. ")",
      (level or 2))
  end
  local ok, msg = url.segment(v, key)
  if not ok then args.fail(where, msg, (level or 2)) end
  return v
end

-- The escaped path segment of an id (config or call value): url.segment, raising when it refuses.
function _M.segment(where, v, key, level)
  local seg, msg = url.segment(v, key)
  if not seg then args.fail(where, msg, (level or 2)) end
  return seg
end

function _M.check_base_url(where, opts, key, level)
  local v = opts[key or "base_url"]
  if v == nil then return nil end
  local base, why = url.base(v)
  if not base then args.fail(where, "field '" .. (key or "base_url") .. "' " .. why, (level or 2)) end
  return base
end

function _M.check_headers(where, opts, level)
  local h = opts.headers
  if h == nil then return nil end
  if type(h) ~= "table" then args.fail(where, "field 'headers' must be a table", (level or 2)) end
  local out = {}
  for name, v in pairs(h) do
    local key, value = header.check(name, v)
    if not key then args.fail(where, value, (level or 2)) end
    if header.RESERVED[key] then args.fail(where, header.RESERVED[key], (level or 2)) end
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

-- The options every auth object takes (base.init reads them).
_M.COMMON = { base_url = true, transport = true, proxy = true, no_proxy = true, ca_file = true, ca_path = true,
  tls_verify = true, headers = true, refresh_skew = true, lock = true, store = true, on_token = true, cache_key = true,
  logger = true }
for _, k in ipairs(CALL_NUMBERS) do _M.COMMON[k] = true end

local known_sets = setmetatable({}, { __mode = "k" })

-- Raises "unknown option ... (did you mean ...?)" at the constructor's caller for a key of opts that
-- is neither common nor in `own` (the flow's own option names, a set).
function _M.check_known(where, opts, own, level)
  local set = known_sets[own]
  if not set then
    set = {}
    for k in pairs(_M.COMMON) do set[k] = true end
    for k in pairs(own) do set[k] = true end
    known_sets[own] = set
  end
  args.known(where, opts, set, (level or 1) + 1)
end

-- Fills the options every auth object takes and returns its private table.
-- where: "auth.jwt" ...; level: how far up the public constructor's caller is (from here).
function _M.init(self, where, opts, level)
  level = (level or 2) + 1
  local p = { secrets = {} }
  private[self] = p
  self.base_url = _M.check_base_url(where, opts, "base_url", level)
  local transport = opts.transport
  if transport ~= nil and (type(transport) ~= "table" or type(transport.request) ~= "function") then
    args.fail(where, "field 'transport' must be a transport object", level - 1)
  end
  p.transport = transport
  p.transport_opts = {
    proxy = args.string(where, opts, "proxy", false, level - 1),
    no_proxy = args.string(where, opts, "no_proxy", false, level - 1),
    ca_file = args.string(where, opts, "ca_file", false, level - 1),
    ca_path = args.string(where, opts, "ca_path", false, level - 1),
    tls_verify = args.type(where, opts, "tls_verify", "boolean", level - 1),
  }
  p.headers = _M.check_headers(where, opts, level)
  p.numbers = {}
  for _, k in ipairs(CALL_NUMBERS) do p.numbers[k] = args.number(where, opts, k, 0, nil, false, level - 1) end
  local skew = args.number(where, opts, "refresh_skew", 0, nil, false, level - 1)
  local lock, store = opts.lock, opts.store
  if lock ~= nil and (type(lock) ~= "table" or type(lock.lock) ~= "function" or type(lock.unlock) ~= "function") then
    args.fail(where, "field 'lock' must have lock and unlock methods", level - 1)
  end
  if store ~= nil and (type(store) ~= "table" or type(store.get) ~= "function" or type(store.set) ~= "function") then
    args.fail(where, "field 'store' must have get and set methods", level - 1)
  end
  local on_token = args.type(where, opts, "on_token", "function", level - 1)
  local cache_key = args.string(where, opts, "cache_key", false, level - 1)
  p.log_sink = opts.logger ~= nil and log.new(where, opts.logger, level) or nil
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
  return self.base_url or (client and client.base_url) or os.getenv("COZE_API_BASE") or defaults.COM_BASE_URL
end

function Auth:_transport(client)
  local p = private[self]
  if p.transport then return p.transport end
  if client and client.transport then return client.transport end
  if not p.own_transport then
    p.own_transport = transport_mod.select(p.transport_opts)
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
    log_sink = p.log_sink or (client and client.log_sink) or log.from_env(), -- token calls log like API calls
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
  -- a caller without on_wait waits for another coroutine's token request the transport's way
  -- (ngx.sleep inside OpenResty) instead of getting "busy"
  local on_wait = call.on_wait
  if on_wait == nil then
    local t = self:_transport(client)
    on_wait = t.default_on_wait and t:default_on_wait() or nil
  end
  return p.cache:get(function(entry) return self:_fetch(entry, client, c) end,
    { on_wait = on_wait, default_ttl = self.ttl, op = self._op })
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

-- Checks the per-call options of explicit calls (exchange_code, refresh, ...; opts a table, or nil
-- for none): returns the call table.
function _M.call_opts(where, opts, level)
  level = (level or 2) + 1
  opts = args.table(where, opts or {}, level - 1)
  local call = {
    headers = _M.check_headers(where, opts, level),
    wait_ms = args.number(where, opts, "wait_ms", 0, nil, false, level - 1),
    on_wait = args.type(where, opts, "on_wait", "function", level - 1),
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
