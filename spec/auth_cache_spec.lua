-- The token cache: absolute expires_in, early refresh with a skew, single flight, 401 replay.
local emu = require "helpers.emu"
local mark, since, read = emu.mark, emu.since, emu.read_file
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local PEM = read("spec/fixtures/keys/rsa_pkcs8.pem")

local function jwt_auth(extra)
  local o = { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM, base_url = emu.url }
  for k, v in pairs(extra or {}) do o[k] = v end
  return coze.auth.jwt(o)
end

-- True when the emulator still accepts tok for an API call.
local function accepted(tok)
  local c = coze.new { token = tok, base_url = emu.url, max_retries = 0 }
  local res = c.conversations:create {}
  c:close()
  return res ~= nil
end

describe("token cache", function()
  it("releases its lock when the store raises inside the locked section", function()
    local cache = require "coze.auth.cache"
    local fail = true
    local store = cache.local_store()
    local set = store.set
    store.set = function(self, k, e) if fail then error("store full", 0) end return set(self, k, e) end
    local c = cache.new { key = "k", store = store }
    local fetch = function() return { access_token = "tok", expires_in = 900 } end
    local ok, err = pcall(c.get, c, fetch, {})
    assert.is_false(ok)
    assert.equal("store full", err)
    fail = false
    assert.equal("tok", c:get(fetch, {})) -- not "busy": the lock was given back
  end)

  it("reads expires_in as an absolute Unix time", function()
    local a = jwt_auth { ttl = 1200 }
    assert(a:token())
    local info = a:token_info()
    local now = core.time()
    assert.truthy(info.expires_in > now + 1190 and info.expires_in < now + 1202)
  end)

  it("refreshes before expiry with the skew while the old token is still valid", function()
    local a = jwt_auth { refresh_skew = 2, headers = { ["X-Emu-Token-Ttl"] = "3" } }
    local m = mark()
    local t1 = assert(a:token())
    assert.equal(t1, a:token())
    assert.equal(1, #since(m, "oauth2"))
    core.sleep_ms(1600) -- past refresh_at (expires_at - min(skew, lifetime / 2)), before expires_at
    assert.is_true(accepted(t1))
    local t2 = assert(a:token())
    assert.are_not.equal(t1, t2)
    assert.equal(2, #since(m, "oauth2"))
    assert.equal(t2, a:token())
    assert.equal(2, #since(m, "oauth2"))
  end)

  it("keeps a token without skew until its expiry", function()
    local a = jwt_auth { refresh_skew = 0, headers = { ["X-Emu-Token-Ttl"] = "3" } }
    local m = mark()
    local t1 = assert(a:token())
    core.sleep_ms(1600)
    assert.equal(t1, a:token())
    assert.equal(1, #since(m, "oauth2"))
  end)

  it("fetches a new token once the old one has expired", function()
    -- 2 s, not 1: the new token must still be valid when accepted() uses it, even under valgrind
    local a = jwt_auth { refresh_skew = 0, headers = { ["X-Emu-Token-Ttl"] = "2" } }
    local t1 = assert(a:token())
    core.sleep_ms(2100)
    local t2 = assert(a:token())
    assert.are_not.equal(t1, t2)
    assert.is_true(accepted(t2))
  end)

  it("makes exactly one token request for 25 coroutines asking at once", function()
    local a = jwt_auth {}
    local m = mark()
    local fns = {}
    for i = 1, 25 do
      fns[i] = function() return (a:token(nil, { on_wait = coroutine.yield })) end
    end
    local results = emu.run_all(fns)
    assert.equal(25, #results)
    for i = 2, 25 do assert.equal(results[1], results[i]) end
    assert.truthy(results[1]:find("^czs_"))
    assert.equal(1, #since(m, "oauth2"))
  end)

  it("makes one token request for 25 concurrent API calls through a client", function()
    local a = jwt_auth {}
    local client = coze.new { auth = a, base_url = emu.url }
    local m = mark()
    local fns = {}
    for i = 1, 25 do
      fns[i] = function()
        local conv = client.conversations:create { on_wait = coroutine.yield }
        return conv and conv.id or false
      end
    end
    local results = emu.run_all(fns)
    for i = 1, 25 do assert.truthy(results[i]) end
    local reqs = since(m)
    assert.equal(26, #reqs)
    assert.equal(1, #since(m, "oauth2"))
    local tok = a:token()
    for _, r in ipairs(reqs) do
      if not r.path:find("oauth2") then assert.equal("Bearer " .. tok, emu.header(r, "Authorization")) end
    end
    client:close()
  end)

  it("gives every waiter the error of a failed flight, after one request", function()
    local a = jwt_auth { public_key_id = "no-such-kid" }
    local m = mark()
    local fns = {}
    for i = 1, 25 do
      fns[i] = function()
        local tok, err = a:token(nil, { on_wait = coroutine.yield })
        return { tok = tok, err = err }
      end
    end
    local results = emu.run_all(fns)
    for i = 1, 25 do
      assert.is_nil(results[i].tok)
      assert.equal("auth", results[i].err.kind)
      assert.equal("invalid_client", results[i].err.code)
      assert.truthy(tostring(results[i].err):find("unknown kid", 1, true))
    end
    assert.equal(1, #since(m, "oauth2"))
    -- the next caller tries again
    assert.is_nil((a:token()))
    assert.equal(2, #since(m, "oauth2"))
  end)

  it("tells a caller without on_wait that a token request is in flight", function()
    local a = jwt_auth {}
    local co = coroutine.create(function() return a:token(nil, { on_wait = coroutine.yield }) end)
    assert(coroutine.resume(co)) -- now holding the lock, waiting for the answer
    local tok, err = a:token()
    assert.is_nil(tok)
    assert.equal("auth", err.kind)
    assert.truthy(err.msg:find("on_wait", 1, true))
    local res
    while coroutine.status(co) ~= "dead" do
      local _, r = coroutine.resume(co)
      res = r
    end
    assert.truthy(res:find("^czs_"))
    assert.equal(res, a:token())
  end)

  it("replays a request once with a new token after a 401 (code 4100)", function()
    local a = jwt_auth {}
    local client = coze.new { auth = a, base_url = emu.url }
    assert(client.conversations:create {})
    local t1 = a:token()
    local status = emu.post("/__emu/token", { token = t1, expires_in = -10 }) -- revoke it
    assert.equal(200, status)
    local m = mark()
    local conv = assert(client.conversations:create {})
    assert.truthy(conv.id)
    local reqs = since(m)
    assert.equal(3, #reqs)
    assert.equal("Bearer " .. t1, emu.header(reqs[1], "Authorization"))
    assert.truthy(reqs[2].path:find("oauth2/token", 1, true))
    local t2 = a:token()
    assert.are_not.equal(t1, t2)
    assert.equal("Bearer " .. t2, emu.header(reqs[3], "Authorization"))
    client:close()
  end)

  it("drops the cached token on invalidate only when it is the token that failed", function()
    local a = jwt_auth {}
    local t1 = assert(a:token())
    assert.is_false(a:invalidate("czs_some_other_token"))
    assert.equal(t1, a:token())
    assert.is_true(a:invalidate(t1))
    local m = mark()
    local t2 = assert(a:token())
    assert.are_not.equal(t1, t2)
    assert.equal(1, #since(m, "oauth2"))
    -- a late invalidate for the old token keeps the new one
    assert.is_false(a:invalidate(t1))
    assert.equal(t2, a:token())
    assert.equal(1, #since(m, "oauth2"))
  end)

  it("plugs in a custom lock and store", function()
    local calls = { lock = 0, unlock = 0, get = 0, set = 0 }
    local held, entries = {}, {}
    local lock = {
      lock = function(_, key) calls.lock = calls.lock + 1; assert(not held[key]); held[key] = true; return true end,
      unlock = function(_, key) calls.unlock = calls.unlock + 1; held[key] = nil end,
    }
    local store = {
      get = function(_, key) calls.get = calls.get + 1; local s = entries[key]; return s and cjson.decode(s) end,
      set = function(_, key, e) calls.set = calls.set + 1; entries[key] = cjson.encode(e) end,
    }
    local a = jwt_auth { lock = lock, store = store, cache_key = "k1" }
    local t1 = assert(a:token())
    assert.equal(t1, a:token())
    assert.equal(1, calls.lock)
    assert.equal(1, calls.unlock)
    assert.truthy(entries.k1)
    -- a second auth object on the same store shares the token
    local b = jwt_auth { lock = lock, store = store, cache_key = "k1" }
    assert.equal(t1, b:token())
  end)
end)

describe("coze.auth.cache unit", function()
  local cache = require "coze.auth.cache"

  it("reads a small expires_in as a lifetime and refreshes at half of a short lifetime", function()
    local now = 1800000000
    local c = cache.new { key = "k", refresh_skew = 60, clock = function() return now end }
    local e = c:entry_from({ access_token = "a", expires_in = now + 10 }, now)
    assert.equal(now + 10, e.expires_at)
    assert.equal(now + 5, e.refresh_at)
    e = c:entry_from({ access_token = "a", expires_in = now + 900 }, now)
    assert.equal(now + 840, e.refresh_at)
    e = c:entry_from({ access_token = "a", expires_in = 900 }, now)
    assert.equal(now + 900, e.expires_at)
  end)

  it("takes over a lock its holder abandoned", function()
    local l = cache.local_lock()
    assert.truthy(l:lock("k", { timeout_ms = 20 }))
    local ok, err = l:lock("k")
    assert.is_nil(ok)
    assert.equal("busy", err)
    core.sleep_ms(30)
    assert.truthy(l:lock("k"))
  end)
end)
