-- Device-code flow: pending -> approve -> token, slow_down, denied, expired, deadlines, both error spellings.
local emu = require "helpers.emu"
local mark, since = emu.mark, emu.since
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local function device(extra)
  local o = { client_id = "emu-client-device", base_url = emu.url }
  for k, v in pairs(extra or {}) do o[k] = v end
  return coze.auth.device(o)
end

local function code(a, interval, expires, extra)
  local headers = { ["X-Emu-Device-Interval"] = tostring(interval or 0) }
  if expires then headers["X-Emu-Device-Expires"] = tostring(expires) end
  local o = { headers = headers }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(a:get_device_code(o))
end

local function approve(user_code)
  local status = emu.post("/__emu/oauth/device/approve", { user_code = user_code })
  assert.equal(200, status)
end

-- A transport answering from a list (unit specs of the Lua layer only).
local function fake_transport(answers)
  local t = { log = {} }
  function t:request(req)
    self.log[#self.log + 1] = req
    local a = answers[#self.log] or answers[#answers]
    local done = false
    return {
      wait_headers = function() return a.status end,
      headers = function() return { ["content-type"] = "application/json" } end,
      read = function()
        if done then return nil end
        done = true
        return type(a.body) == "table" and cjson.encode(a.body) or a.body
      end,
      close = function() end,
    }
  end
  function t:now_ms() return core.monotonic_ms() end
  function t:time() return core.time() end
  function t:sleep_ms(ms) core.sleep_ms(ms) end
  return t
end

describe("coze.auth.device", function()
  it("gets a device code with the user code and verification URL", function()
    local a = device()
    local m = mark()
    local info = code(a, 0)
    assert.truthy(info.user_code:find("^%u%u%u%u%-%u%u%u%u$"))
    assert.truthy(info.verification_uri:find("/oauth/device$"))
    assert.equal(info.verification_uri .. "?user_code=" .. info.user_code, info.verification_url)
    assert.equal(300, info.expires_in)
    assert.equal(0, info.interval)
    local req = since(m, "oauth2")[1]
    assert.equal("/api/permission/oauth2/device/code", req.path)
    assert.same({ client_id = "emu-client-device" }, cjson.decode(req.body))
  end)

  it("uses the workspace variant", function()
    local a = device { workspace_id = "ws1" }
    local m = mark()
    code(a, 0)
    assert.equal("/api/permission/oauth2/workspace_id/ws1/device/code", since(m, "oauth2")[1].path)
    local b = device()
    m = mark()
    code(b, 0, nil, { workspace_id = 42 })
    assert.equal("/api/permission/oauth2/workspace_id/42/device/code", since(m, "oauth2")[1].path)
  end)

  it("goes pending -> approved -> token with poll_once", function()
    local a = device()
    local info = code(a, 0)
    local tok, w = a:poll_once()
    assert.is_false(tok)
    assert.equal(0, w)
    approve(info.user_code)
    local m = mark()
    local t, tinfo = a:poll_once()
    assert.truthy(t:find("^czs_"))
    assert.truthy(tinfo.refresh_token)
    local body = cjson.decode(since(m, "oauth2")[1].body)
    assert.same({ grant_type = "urn:ietf:params:oauth:grant-type:device_code", client_id = "emu-client-device",
      device_code = info.device_code }, body)
    assert.equal(t, a:token())
    assert.equal(t, (a:poll_once()))
    local client = coze.new { auth = a, base_url = emu.url }
    assert(client.conversations:create {})
    client:close()
  end)

  it("makes no request before the interval has passed", function()
    local a = device()
    code(a, 1)
    local m = mark()
    local tok, w = a:poll_once()
    assert.is_false(tok)
    assert.truthy(w > 900 and w <= 1000)
    assert.equal(0, #since(m, "oauth2"))
  end)

  it("backs off by 5 s on slow_down", function()
    local a = device()
    local info = code(a, 1)
    local _, w = a:poll_once()
    core.sleep_ms(w + 20)
    -- another poller just asked: the SDK's poll now comes too fast for the server
    emu.post("/api/permission/oauth2/token", { grant_type = "urn:ietf:params:oauth:grant-type:device_code",
      client_id = "emu-client-device", device_code = info.device_code })
    local m = mark()
    local tok
    tok, w = a:poll_once()
    assert.is_false(tok)
    assert.equal(6000, w)
    assert.equal(1, #since(m, "oauth2"))
    tok, w = a:poll_once()
    assert.is_false(tok)
    assert.truthy(w > 5900 and w <= 6000)
    assert.equal(1, #since(m, "oauth2"))
  end)

  it("stops on access_denied", function()
    local a = device()
    local info = code(a, 0)
    emu.post("/__emu/oauth/device/deny", { user_code = info.user_code })
    local tok, err = a:poll_once()
    assert.is_nil(tok)
    assert.equal("auth", err.kind)
    assert.equal("access_denied", err.code)
    assert.truthy(err.msg:find("denied", 1, true))
    local m = mark()
    tok, err = a:wait_for_token { deadline_ms = 1000 }
    assert.is_nil(tok)
    assert.equal("access_denied", err.code)
    assert.equal(0, #since(m, "oauth2"))
  end)

  it("stops at the code's own expires_in", function()
    local a = device()
    code(a, 0, 1)
    core.sleep_ms(1100)
    local t0 = core.monotonic_ms()
    local tok, err = a:wait_for_token { deadline_ms = 5000 }
    assert.is_nil(tok)
    assert.equal("auth", err.kind)
    assert.equal("expired_token", err.code)
    assert.truthy(core.monotonic_ms() - t0 < 1000)
  end)

  it("waits for the approval with wait_for_token, through on_wait", function()
    local a = device()
    local info = code(a, 0.3)
    local waits = 0
    local tok, tinfo = a:wait_for_token { deadline_ms = 5000, on_wait = function()
      waits = waits + 1
      if waits == 3 then approve(info.user_code) end
      core.sleep_ms(5)
    end }
    assert.truthy(tok:find("^czs_"))
    assert.equal(tok, tinfo.access_token)
    assert.truthy(waits >= 3)
  end)

  it("waits for the approval with wait_for_token in a coroutine", function()
    local a = device()
    local info = code(a, 0.2)
    local co = coroutine.create(function() return a:wait_for_token { deadline_ms = 5000, on_wait = coroutine.yield } end)
    local res, frames = nil, 0
    while coroutine.status(co) ~= "dead" do
      frames = frames + 1
      if frames == 5 then approve(info.user_code) end
      local ok, r = coroutine.resume(co)
      assert(ok, r)
      res = r
      core.sleep_ms(5)
    end
    assert.truthy(frames > 5)
    assert.truthy(res:find("^czs_"))
  end)

  it("gives up at deadline_ms with a poll timeout", function()
    local a = device()
    code(a, 1)
    local t0 = core.monotonic_ms()
    local tok, err = a:wait_for_token { deadline_ms = 300 }
    assert.is_nil(tok)
    assert.equal("timeout", err.kind)
    assert.equal("poll", err.timeout)
    local took = core.monotonic_ms() - t0
    assert.truthy(took >= 290 and took < 900, took)
  end)

  it("raises when polled before get_device_code", function()
    local ok, err = pcall(function() device():poll_once() end)
    assert.is_false(ok)
    assert.truthy(err:find("get_device_code", 1, true))
    assert.has_error(function() device():wait_for_token { deadline_ms = "soon" } end)
  end)

  it("has no token before the flow completes", function()
    local tok, err = device():token()
    assert.is_nil(tok)
    assert.equal("auth", err.kind)
    assert.truthy(err.msg:find("get_device_code", 1, true))
  end)

  it("reads the error/error_description spelling", function()
    local t = fake_transport {
      { status = 200, body = { device_code = "dc1", user_code = "ABCD-EFGH", verification_uri = "https://x/d",
        expires_in = 300, interval = 0 } },
      { status = 400, body = { error = "slow_down", error_description = "too fast" } },
      { status = 400, body = { error = "expired_token", error_description = "gone" } },
    }
    local a = coze.auth.device { client_id = "c", base_url = "https://api.coze.cn", transport = t }
    assert(a:get_device_code())
    local tok, w = a:poll_once()
    assert.is_false(tok)
    assert.equal(5000, w)
    core.sleep_ms(0)
    -- skip the wait: the next answer is the terminal one
    local p = require("coze.auth.base").private(a)
    p.device.next_poll_ms = 0
    local err
    tok, err = a:poll_once()
    assert.is_nil(tok)
    assert.equal("expired_token", err.code)
    assert.truthy(err.msg:find("gone", 1, true))
  end)

  it("reads the error_code/error_message spelling", function()
    local t = fake_transport {
      { status = 200, body = { device_code = "dc1", user_code = "ABCD-EFGH", verification_uri = "https://x/d",
        expires_in = 300, interval = 0 } },
      { status = 400, body = { error_code = "authorization_pending", error_message = "wait" } },
      { status = 400, body = { error_code = "access_denied", error_message = "no" } },
    }
    local a = coze.auth.device { client_id = "c", base_url = "https://api.coze.cn", transport = t }
    assert(a:get_device_code())
    assert.is_false((a:poll_once()))
    local tok, err = a:poll_once()
    assert.is_nil(tok)
    assert.equal("access_denied", err.code)
    assert.equal(3, #t.log)
    assert.equal("https://api.coze.cn/api/permission/oauth2/token", t.log[3].url)
  end)
end)
