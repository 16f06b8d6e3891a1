-- Authorization code + PKCE: the authorize URL, code exchange (S256 and plain), refresh rotation.
local emu = require "helpers.emu"
local mark, since = emu.mark, emu.since
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local CB = "http://127.0.0.1/callback"

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function parse_url(u)
  local base, qs = u:match("^([^?]+)%?(.*)$")
  local q = {}
  for k, v in qs:gmatch("([^&=]+)=([^&]*)") do q[unescape(k)] = unescape(v) end
  return base, q
end

local function pkce(extra)
  local o = { client_id = "emu-client-pkce", redirect_uri = CB, base_url = emu.url }
  for k, v in pairs(extra or {}) do o[k] = v end
  return coze.auth.pkce(o)
end

-- What the browser round trip gives the app: a code for the session's challenge.
local function code_for(client_id, session)
  local status, body = emu.post("/__emu/oauth/authorize", { client_id = client_id, redirect_uri = CB,
    code_challenge = session and session.code_challenge, code_challenge_method = session and session.code_challenge_method })
  assert.equal(200, status)
  return body.code
end

local function raw_refresh(client_id, rt)
  return emu.post("/api/permission/oauth2/token", { grant_type = "refresh_token", client_id = client_id, refresh_token = rt })
end

describe("coze.auth.pkce authorize_url", function()
  it("builds the www URL with an S256 challenge of a fresh verifier and a state", function()
    local a = coze.auth.pkce { client_id = "cid", redirect_uri = "https://app.example/cb", base_url = "https://api.coze.cn" }
    local u, s = a:authorize_url()
    local base, q = parse_url(u)
    assert.equal("https://www.coze.cn/api/permission/oauth2/authorize", base)
    assert.equal("code", q.response_type)
    assert.equal("cid", q.client_id)
    assert.equal("https://app.example/cb", q.redirect_uri)
    assert.equal("S256", q.code_challenge_method)
    assert.equal(s.state, q.state)
    assert.truthy(#s.state >= 16)
    assert.equal(64, #s.code_verifier)
    assert.is_nil(s.code_verifier:find("[^%w%-_]"))
    assert.equal(core.base64url_encode(core.sha256(s.code_verifier)), q.code_challenge)
    assert.equal(q.code_challenge, s.code_challenge)
    local u2, s2 = a:authorize_url { state = "my-state" }
    assert.are_not.equal(s.code_verifier, s2.code_verifier)
    assert.equal("my-state", select(2, parse_url(u2)).state)
  end)

  it("uses plain only on request", function()
    local a = coze.auth.pkce { client_id = "cid", redirect_uri = CB, base_url = "https://api.coze.com" }
    local u, s = a:authorize_url { code_challenge_method = "plain" }
    local base, q = parse_url(u)
    assert.equal("https://www.coze.com/api/permission/oauth2/authorize", base)
    assert.equal("plain", q.code_challenge_method)
    assert.equal(s.code_verifier, q.code_challenge)
    local b = coze.auth.pkce { client_id = "cid", redirect_uri = CB, code_challenge_method = "plain" }
    assert.equal("plain", select(2, parse_url((b:authorize_url()))).code_challenge_method)
  end)

  it("builds the workspace variant", function()
    local a = coze.auth.pkce { client_id = "cid", redirect_uri = CB, base_url = "https://api.coze.cn" }
    local base = parse_url((a:authorize_url { workspace_id = "ws 1" }))
    assert.equal("https://www.coze.cn/api/permission/oauth2/workspace_id/ws%201/authorize", base)
  end)

  it("makes verifiers of 43 to 128 characters", function()
    for _, n in ipairs({ 43, 100, 128 }) do
      local a = coze.auth.pkce { client_id = "cid", redirect_uri = CB, code_verifier_length = n }
      local _, s = a:authorize_url()
      assert.equal(n, #s.code_verifier)
    end
    assert.has_error(function() coze.auth.pkce { client_id = "cid", code_verifier_length = 42 } end)
    assert.has_error(function() coze.auth.pkce { client_id = "cid", code_verifier_length = 129 } end)
  end)

  it("raises naming the field on misuse", function()
    local function raises(pattern, fn)
      local ok, err = pcall(fn)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
    end
    raises("client_id", function() coze.auth.pkce { client_id = "" } end)
    raises("code_challenge_method", function() coze.auth.pkce { client_id = "c", code_challenge_method = "S512" } end)
    raises("redirect_uri", function() coze.auth.pkce { client_id = "c" }:authorize_url() end)
    raises("code_verifier", function() pkce():authorize_url { code_verifier = "short" } end)
    raises("code", function() pkce():exchange_code {} end)
    raises("code_verifier", function() pkce():exchange_code { code = "c" } end)
    raises("expires_in", function() pkce { access_token = "x" } end)
  end)

  it("is a URL the emulator's authorize endpoint redirects to the consent page", function()
    local a = pkce()
    local u = a:authorize_url { workspace_id = "ws1" }
    local s = core.session()
    local r = s:request { method = "GET", url = u }
    assert.equal(302, r:wait_headers(5000))
    assert.truthy(r:headers().location:find("/oauth/consent?authorize_key=", 1, true))
    r:close()
    s:close()
    local _, body = emu.raw("GET", "/__emu/oauth/last_authorize")
    local rec = cjson.decode(body)
    assert.equal("ws1", rec.workspace_id)
    assert.equal("S256", rec.query.code_challenge_method)
  end)
end)

describe("coze.auth.pkce tokens", function()
  it("exchanges a code with the S256 verifier (found by state) and then serves the token", function()
    local a = pkce()
    local _, session = a:authorize_url()
    local code = code_for("emu-client-pkce", session)
    local m = mark()
    local info, err = a:exchange_code { code = code, state = session.state }
    assert.is_nil(err)
    assert.truthy(info.access_token:find("^czs_"))
    assert.truthy(info.refresh_token)
    assert.truthy(info.expires_in > core.time() + 800)
    local body = cjson.decode(since(m, "oauth2")[1].body)
    assert.same({ grant_type = "authorization_code", client_id = "emu-client-pkce", code = code, redirect_uri = CB,
      code_verifier = session.code_verifier }, body)
    assert.is_nil(emu.header(since(m, "oauth2")[1], "Authorization"))
    assert.equal(info.access_token, a:token())
    local client = coze.new { auth = a, base_url = emu.url }
    assert(client.conversations:create {})
    client:close()
    assert.equal(1, #since(m, "oauth2"))
  end)

  it("exchanges a code with a plain challenge", function()
    local a = pkce()
    local _, session = a:authorize_url { code_challenge_method = "plain" }
    local info = assert(a:exchange_code { code = code_for("emu-client-pkce", session),
      code_verifier = session.code_verifier })
    assert.truthy(info.access_token)
  end)

  it("returns the server's error for a wrong verifier", function()
    local a = pkce()
    local _, session = a:authorize_url()
    local info, err = a:exchange_code { code = code_for("emu-client-pkce", session),
      code_verifier = coze.auth.code_verifier(50) }
    assert.is_nil(info)
    assert.equal("auth", err.kind)
    assert.equal("invalid_grant", err.code)
    assert.equal(400, err.http_status)
    assert.equal("auth.oauth.token.authorization_code", err.op)
    local _, t = a:token()
    assert.equal("auth", t.kind)
    assert.truthy(t.msg:find("exchange_code", 1, true))
  end)

  it("refreshes, stores the rotated refresh token, and reports a dead one clearly", function()
    local seen = {}
    local a = pkce { on_token = function(info) seen[#seen + 1] = info end }
    local _, session = a:authorize_url()
    local info1 = assert(a:exchange_code { code = code_for("emu-client-pkce", session), state = session.state })
    local info2 = assert(a:refresh())
    assert.are_not.equal(info1.refresh_token, info2.refresh_token)
    assert.are_not.equal(info1.access_token, info2.access_token)
    assert.equal(info2.refresh_token, a:token_info().refresh_token)
    assert.equal(2, #seen)
    assert.equal(info2.refresh_token, seen[2].refresh_token)
    -- the old one died on use
    local status, body = raw_refresh("emu-client-pkce", info1.refresh_token)
    assert.equal(400, status)
    assert.equal("invalid_grant", body.error_code)
    -- refreshing with a dead one is a clear auth error that never shows the token
    local info, err = a:refresh { refresh_token = info1.refresh_token }
    assert.is_nil(info)
    assert.equal("auth", err.kind)
    assert.equal("invalid_grant", err.code)
    assert.truthy(err.msg:find("authorize again", 1, true))
    assert.falsy(tostring(err):find(info1.refresh_token, 1, true))
  end)

  it("refreshes through token() when the access token is due, with the skew", function()
    local a = pkce { refresh_skew = 2, headers = { ["X-Emu-Token-Ttl"] = "3" } }
    local _, session = a:authorize_url()
    local info1 = assert(a:exchange_code { code = code_for("emu-client-pkce", session), state = session.state })
    local m = mark()
    assert.equal(info1.access_token, a:token())
    core.sleep_ms(1600)
    local t2 = assert(a:token())
    assert.are_not.equal(info1.access_token, t2)
    local reqs = since(m, "oauth2")
    assert.equal(1, #reqs)
    local body = cjson.decode(reqs[1].body)
    assert.equal("refresh_token", body.grant_type)
    assert.equal(info1.refresh_token, body.refresh_token)
    assert.are_not.equal(info1.refresh_token, a:token_info().refresh_token)
  end)

  it("refreshes after a 401 (invalidate) and replays the call", function()
    local a = pkce()
    local _, session = a:authorize_url()
    local info1 = assert(a:exchange_code { code = code_for("emu-client-pkce", session), state = session.state })
    emu.post("/__emu/token", { token = info1.access_token, expires_in = -10 })
    local client = coze.new { auth = a, base_url = emu.url }
    local m = mark()
    assert(client.conversations:create {})
    assert.equal(3, #since(m))
    assert.equal("refresh_token", cjson.decode(since(m, "oauth2")[1].body).grant_type)
    client:close()
  end)

  it("restores a saved refresh token, and gives up clearly on a refused one", function()
    local a = pkce()
    local _, session = a:authorize_url()
    local info1 = assert(a:exchange_code { code = code_for("emu-client-pkce", session), state = session.state })
    local b = pkce { refresh_token = info1.refresh_token }
    local tok = assert(b:token())
    assert.truthy(tok:find("^czs_"))
    local c = pkce { refresh_token = info1.refresh_token } -- now dead: b rotated it
    local m = mark()
    local t, err = c:token()
    assert.is_nil(t)
    assert.equal("auth", err.kind)
    assert.truthy(err.msg:find("authorize again", 1, true))
    t, err = c:token()
    assert.is_nil(t)
    assert.truthy(err.msg:find("authorize again", 1, true))
    assert.equal(1, #since(m, "oauth2"))
  end)
end)
