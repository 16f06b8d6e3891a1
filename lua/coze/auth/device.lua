-- Device-code apps (TVs, CLIs, consoles): get a user code the user enters on another device, then
-- poll the token endpoint until they approve. Polling honours `interval`, adds 5 s on `slow_down`,
-- keeps waiting on `authorization_pending`, stops on `access_denied` and `expired_token` (in either
-- spelling: error_code/error_message or error/error_description) and at the code's own expires_in.
-- poll_once never waits (for game and app loops); wait_for_token waits, with a deadline.
local args = require "coze.args"
local core = require "coze.core"
local errors = require "coze.errors"
local url = require "coze.url"
local wait = require "coze.wait"
local base = require "coze.auth.base"
local app = require "coze.auth.app"

local _M = {}

local Device = app.install(base.class("auth.device"))
_M.Device = Device
Device._no_token_hint = "complete the device flow first (get_device_code, then poll_once or wait_for_token)"
Device._op = "auth.device.token"

local TOKEN_OP = "auth.device.token"
local SLOW_DOWN_S = 5
local DEFAULT_INTERVAL_S = 5
local DEFAULT_EXPIRES_S = 300
-- Bounds on what a server may ask (RFC 8628 leaves them open): a poll at least once a minute, a
-- code that lives at most an hour. A server's NaN or infinity is refused, never used: NaN made
-- every poll due at once, an infinite interval overflowed the sleep into a busy loop.
local MAX_INTERVAL_S = 60
local MAX_EXPIRES_S = 3600

local function finite(v)
  return type(v) == "number" and v == v and v > -math.huge and v < math.huge
end

-- interval, expires_in (s) of a device-code answer, clamped | nil, message.
local function server_times(res)
  local interval, expires = tonumber(res.interval), tonumber(res.expires_in)
  if res.interval ~= nil and not finite(interval) then
    return nil, nil, "the device-code response has an unusable interval (" .. tostring(res.interval) .. ")"
  end
  if res.expires_in ~= nil and not finite(expires) then
    return nil, nil, "the device-code response has an unusable expires_in (" .. tostring(res.expires_in) .. ")"
  end
  if interval == nil or interval < 0 then interval = DEFAULT_INTERVAL_S end
  if interval > MAX_INTERVAL_S then interval = MAX_INTERVAL_S end
  expires = expires or DEFAULT_EXPIRES_S
  if expires > 1e9 then expires = expires - core.time() end -- an absolute time after all
  if expires < 0 then expires = 0 end
  if expires > MAX_EXPIRES_S then expires = MAX_EXPIRES_S end
  return interval, expires
end

local OWN = { client_id = true, workspace_id = true, refresh_token = true, access_token = true, expires_in = true }

--- coze.auth.device{ client_id, workspace_id, base_url, refresh_token (a saved one), ... }
function _M.new(opts)
  if type(opts) ~= "table" then args.fail("auth.device", "expected an options table") end
  base.check_known("auth.device", opts, OWN)
  local self = setmetatable({}, Device)
  app.init(self, "auth.device", opts)
  self.workspace_id = base.check_id("auth.device", opts, "workspace_id")
  return self
end

--- device:get_device_code{ workspace_id, on_wait } -> { user_code, verification_uri, verification_url,
-- expires_in (s), interval (s), device_code } | nil, err. Show user_code and verification_url to the user.
function Device:get_device_code(opts)
  local where = "auth.device.get_device_code"
  local call = base.call_opts(where, opts)
  opts = opts or {}
  local ws = base.check_id(where, opts, "workspace_id") or self.workspace_id
  local path, op = "/api/permission/oauth2/device/code", "auth.device.code"
  if ws then
    path, op = "/api/permission/oauth2/workspace_id/" .. base.segment(where, ws, "workspace_id") .. "/device/code", "auth.device.workspace_code"
  end
  local res, err = self:_post(path, { client_id = self.client_id }, { op = op, call = call, safe = true })
  if not res then return nil, err end
  if type(res.device_code) ~= "string" or res.device_code == "" then
    return nil, errors.new("decode", { op = op, msg = "the device-code response has no device_code" })
  end
  local interval, expires, why = server_times(res)
  if not interval then return nil, errors.new("decode", { op = op, msg = why }) end
  local now = core.monotonic_ms()
  local p = base.private(self)
  p.device = {
    device_code = res.device_code, interval = interval,
    expires_at_ms = now + expires * 1000, next_poll_ms = now + interval * 1000,
  }
  local user_code = res.user_code
  if type(user_code) == "number" then user_code = url.scalar(user_code, "user_code") end -- the docs say Integer
  if type(user_code) ~= "string" then user_code = nil end
  local vuri = type(res.verification_uri) == "string" and res.verification_uri or nil
  local vurl = vuri
  if vuri and user_code then
    vurl = vuri .. (vuri:find("?", 1, true) and "&" or "?") .. "user_code=" .. url.escape(user_code)
  end
  return { device_code = res.device_code, user_code = user_code, verification_uri = vuri, verification_url = vurl,
    expires_in = expires, interval = interval }
end

-- The device code get_device_code stored; raises when there is none yet.
local function device_code(self, where)
  local d = base.private(self).device
  if not d then args.fail(where, "no device code: call get_device_code first", 2) end
  return d
end

local function terminal(d, err, text)
  err.msg = text .. " (" .. (err.msg or "") .. ")"
  d.err = err
  return nil, err
end

--- device:poll_once{ on_wait = } -> access token, info | false, wait_ms (still pending: call again
-- after wait_ms) | nil, err. Makes at most one request, and none before the interval has passed.
function Device:poll_once(opts)
  local where = "auth.device.poll_once"
  local call = base.call_opts(where, opts)
  local d = device_code(self, where)
  if d.done then
    local tok, err = self:token(nil, call)
    if not tok then return nil, err end
    return tok, self:token_info()
  end
  if d.err then return nil, d.err end
  local now = core.monotonic_ms()
  if now >= d.expires_at_ms then
    return terminal(d, errors.new("auth", { op = TOKEN_OP, code = "expired_token", msg = "expired_token" }),
      "the device code expired before the user authorized")
  end
  if now < d.next_poll_ms then return false, math.ceil(d.next_poll_ms - now) end
  local res, err = self:_post(base.TOKEN_PATH, { grant_type = base.GRANT_DEVICE, client_id = self.client_id,
    device_code = d.device_code }, { op = TOKEN_OP, call = call, safe = false, secrets = { d.device_code } })
  now = core.monotonic_ms()
  if res then
    local info, serr = self:_store(res)
    if not info then return nil, serr end
    d.done = true
    return info.access_token, info
  end
  local code = errors.is(err) and err.kind == "auth" and err.code or nil
  if code == "authorization_pending" then
    d.next_poll_ms = now + d.interval * 1000
    return false, d.interval * 1000
  elseif code == "slow_down" then
    d.interval = math.min(d.interval + SLOW_DOWN_S, MAX_INTERVAL_S)
    d.next_poll_ms = now + d.interval * 1000
    return false, d.interval * 1000
  elseif code == "access_denied" then
    return terminal(d, err, "the user denied the authorization")
  elseif code == "expired_token" then
    return terminal(d, err, "the device code expired before the user authorized")
  end
  -- anything else (network, 5xx, ...): the caller decides; the next poll is an interval away
  d.next_poll_ms = now + d.interval * 1000
  return nil, err
end

--- device:wait_for_token{ deadline_ms, on_wait, wait_ms } -> access token, info | nil, err
-- Polls until the user approves (or denies, or the code expires). deadline_ms bounds the wait
-- (ms from now; err.kind "timeout", err.timeout "poll"); on_wait (e.g. coroutine.yield) is called
-- while waiting instead of sleeping.
function Device:wait_for_token(opts)
  local where = "auth.device.wait_for_token"
  local call = base.call_opts(where, opts)
  opts = opts or {}
  local deadline_ms = args.number(where, opts, "deadline_ms", 0, nil, false)
  device_code(self, where)
  local transport = self:_transport(nil)
  local deadline = deadline_ms and core.monotonic_ms() + deadline_ms
  local poll_opts = { on_wait = call.on_wait, wait_ms = call.wait_ms, headers = opts.headers }
  while true do
    if deadline and core.monotonic_ms() >= deadline then
      return nil, errors.new("timeout", { op = TOKEN_OP, timeout = "poll",
        msg = "the user did not authorize within deadline_ms (" .. deadline_ms .. ")" })
    end
    local tok, w = self:poll_once(poll_opts)
    if tok then return tok, w end
    if tok == nil then return nil, w end
    if w < 10 then w = 10 end -- an interval of 0 still leaves the server a breath
    if deadline then
      local left = deadline - core.monotonic_ms()
      if w > left then w = left end
    end
    if w > 0 then wait.sleep(transport, w, call.on_wait) end
  end
end

return _M
