-- The token cache of an auth object: refresh before expiry, one token request at a time.
--
-- Coze's `expires_in` is an absolute Unix time (seconds). A token is served until
-- refresh_at = expires_at - min(refresh_skew, lifetime / 2); after that the next caller refreshes.
--
-- Single flight: a cache miss takes the lock; callers that find the lock held wait (through their
-- own on_wait) and, when the holder finishes, take its result: the same token, or the same error.
-- Who finished a flight is told by a generation counter kept in the entry, so the scheme works with
-- any lock and store that offer this small interface:
--
--   lock:lock(key, { on_wait = fn|nil, timeout_ms = n }) -> owner (truthy) | nil, "busy" | "timeout" | msg
--        waits while another owner holds key (calling on_wait between looks); without on_wait a
--        lock that cannot block answers nil, "busy" at once. A lock left held longer than
--        timeout_ms (a crashed or abandoned holder) is taken over.
--   lock:unlock(key, owner)          releases it when owner still holds it
--   store:get(key) -> entry | nil    store:set(key, entry)
--
-- An entry is a flat table of strings and numbers (plus `err`, a flat table), so a shared-dict store
-- can keep it as JSON. An OpenResty implementation plugs in resty.lock (or ngx.semaphore) and
-- ngx.shared.DICT here; the ones below serve one Lua state (coroutines).
local core = require "coze.core"
local errors = require "coze.errors"
local wait = require "coze.wait"

local _M = {}

_M.DEFAULT_SKEW = 60
_M.DEFAULT_LOCK_TIMEOUT_MS = 120000
local WAIT_STEP_MS = 10

-- Lua-state lock --------------------------------------------------------------------------

local LocalLock = {}
LocalLock.__index = LocalLock
LocalLock.__tostring = function() return "coze.auth.LocalLock" end

function _M.local_lock()
  return setmetatable({ held = {}, n = 0 }, LocalLock)
end

function LocalLock:lock(key, opts)
  local on_wait = opts and opts.on_wait
  local timeout = opts and opts.timeout_ms or _M.DEFAULT_LOCK_TIMEOUT_MS
  while true do
    local h = self.held[key]
    if h == nil or core.monotonic_ms() >= h.expires then break end
    if not on_wait then return nil, "busy" end
    wait.call_on_wait(on_wait, WAIT_STEP_MS)
  end
  self.n = self.n + 1
  local owner = { id = self.n, expires = core.monotonic_ms() + timeout }
  self.held[key] = owner
  return owner
end

function LocalLock:unlock(key, owner)
  if self.held[key] == owner then self.held[key] = nil end
end

-- Lua-state store -----------------------------------------------------------------------------

local LocalStore = {}
LocalStore.__index = LocalStore
LocalStore.__tostring = function() return "coze.auth.LocalStore (redacted)" end

function _M.local_store()
  return setmetatable({ entries = {} }, LocalStore)
end

function LocalStore:get(key) return self.entries[key] end
function LocalStore:set(key, entry) self.entries[key] = entry end

-- Cache -------------------------------------------------------------------------------------------

local Cache = {}
Cache.__index = Cache
Cache.__tostring = function() return "coze.auth.Cache (redacted)" end
_M.Cache = Cache

-- opts: key, refresh_skew (s), lock, store, lock_timeout_ms, clock (Unix seconds), on_token
function _M.new(opts)
  return setmetatable({
    key = opts.key,
    skew = opts.refresh_skew or _M.DEFAULT_SKEW,
    lock = opts.lock or _M.local_lock(),
    store = opts.store or _M.local_store(),
    lock_timeout_ms = opts.lock_timeout_ms or _M.DEFAULT_LOCK_TIMEOUT_MS,
    clock = opts.clock or core.time,
    on_token = opts.on_token,
  }, Cache)
end

local function fresh(e, now)
  return e ~= nil and type(e.access_token) == "string" and e.refresh_at ~= nil and now < e.refresh_at
end

local function valid(e, now)
  return e ~= nil and type(e.access_token) == "string" and e.expires_at ~= nil and now < e.expires_at
end

local ERR_FIELDS = { "kind", "code", "msg", "http_status", "logid", "op", "timeout", "retry_after", "attempts",
  "refused" }

local function flat_err(err)
  local t = {}
  if errors.is(err) or type(err) == "table" then
    for _, k in ipairs(ERR_FIELDS) do t[k] = err[k] end
  else
    t.kind, t.msg = "auth", tostring(err)
  end
  return t
end

local function from_flat(t)
  local f = {}
  for k, v in pairs(t) do f[k] = v end
  local kind = f.kind or "auth"
  f.kind = nil
  return errors.new(kind, f)
end

-- Turns a token answer into an entry. Coze's expires_in is an absolute Unix time; a value that
-- cannot be one (before 2001) is read as a lifetime in seconds, and a missing one as default_ttl.
function Cache:entry_from(res, now, default_ttl, prev)
  local exp = tonumber(res.expires_in)
  if exp == nil then
    exp = now + (default_ttl or 900)
  elseif exp < 1e9 then
    exp = now + exp
  end
  local lifetime = exp - now
  local skew = self.skew
  if lifetime / 2 < skew then skew = lifetime / 2 end
  if skew < 0 then skew = 0 end
  local rt = res.refresh_token
  if type(rt) ~= "string" or rt == "" then rt = prev and prev.refresh_token or nil end
  return {
    access_token = res.access_token,
    expires_at = exp,
    refresh_at = exp - skew,
    refresh_token = rt,
    token_type = type(res.token_type) == "string" and res.token_type or nil,
  }
end

function Cache:peek()
  return self.store:get(self.key)
end

local function notify(self, e)
  if self.on_token then
    self.on_token({ access_token = e.access_token, expires_in = e.expires_at, refresh_token = e.refresh_token,
      token_type = e.token_type })
  end
end

-- Stores a token obtained outside get() (a code exchange, a device approval) as a new generation.
function Cache:put(e)
  local old = self.store:get(self.key)
  e.gen = (old and old.gen or 0) + 1
  self.store:set(self.key, e)
  notify(self, e)
  return e
end

-- Keeps everything but the access token, so the next caller fetches (or refreshes) a new one.
function Cache:invalidate(token)
  local e = self.store:get(self.key)
  if not e or e.access_token == nil or e.access_token ~= token then return false end
  local n = {}
  for k, v in pairs(e) do n[k] = v end
  n.access_token, n.expires_at, n.refresh_at = nil, nil, nil
  self.store:set(self.key, n)
  return true
end

-- Forgets the refresh token (after the server refused it).
function Cache:drop_refresh_token()
  local e = self.store:get(self.key)
  if not e or not e.refresh_token then return end
  local n = {}
  for k, v in pairs(e) do n[k] = v end
  n.refresh_token = nil
  self.store:set(self.key, n)
end

-- Returns a valid access token, fetching one when needed: token | nil, err.
-- fetch(entry) -> answer table ({access_token, expires_in, refresh_token?}) | nil, err [, drop_refresh]
-- opts: on_wait (how a waiter waits: without it a second caller gets "busy"; auth objects pass
-- their transport's default_on_wait, which inside OpenResty is ngx.sleep, so requests of one worker
-- share one token request), default_ttl, force (refresh even if the cached one is fresh)
function Cache:get(fetch, opts)
  opts = opts or {}
  if opts.on_wait == nil then
    local w = wait.task_on_wait() -- a coze.scheduler task yields while it waits
    if w then
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      o.on_wait = w
      opts = o
    end
  end
  local key = self.key
  local now = self.clock()
  local e = self.store:get(key)
  if not opts.force and fresh(e, now) then return e.access_token end
  local gen0 = e and e.gen or 0
  local owner, lerr = self.lock:lock(key, { on_wait = opts.on_wait, timeout_ms = self.lock_timeout_ms })
  if not owner then
    if not opts.force and valid(e, now) then return e.access_token end -- still good while another refreshes
    if lerr == "busy" then
      return nil, errors.new("auth", { msg = "a token request is in flight in another coroutine;"
        .. " give on_wait (e.g. coroutine.yield) to wait for it" })
    end
    return nil, errors.new("auth", { msg = "cannot take the token lock: " .. tostring(lerr) })
  end
  e = self.store:get(key)
  now = self.clock()
  local gen = e and e.gen or 0
  if gen ~= gen0 and not opts.force then
    -- a flight finished while we waited for the lock: share its outcome
    if fresh(e, now) then
      self.lock:unlock(key, owner)
      return e.access_token
    end
    if e.err then
      self.lock:unlock(key, owner)
      return nil, from_flat(e.err)
    end
  elseif not opts.force and fresh(e, now) then
    self.lock:unlock(key, owner)
    return e.access_token
  end

  local ok, res, ferr, drop = pcall(fetch, e)
  if not ok then
    self.lock:unlock(key, owner)
    error(res, 0)
  end
  now = self.clock()
  local n
  if res then
    n = self:entry_from(res, now, opts.default_ttl, e)
    if type(n.access_token) ~= "string" or n.access_token == "" then
      res, ferr = nil, errors.new("decode", { op = opts.op, msg = "the OAuth response has no access_token" })
    end
  end
  if not res then
    n = {}
    if e then for k, v in pairs(e) do n[k] = v end end
    if drop then n.refresh_token = nil end
    n.err = flat_err(ferr)
  end
  n.gen = gen + 1
  -- a store that raises (a shared dict too small for the entry) must not leave the lock held
  local sok, serr = pcall(self.store.set, self.store, key, n)
  self.lock:unlock(key, owner)
  if not sok then error(serr, 0) end
  if not res then return nil, ferr end
  notify(self, n)
  return n.access_token
end

return _M
