-- Web OAuth apps (authorization code with a client secret) and personal tokens as auth objects.
local emu = require "helpers.emu"
local mark, since = emu.mark, emu.since
local coze = require "coze"
local cjson = require "cjson"

local CB = "http://127.0.0.1/callback"
local SECRET = "emu-web-secret"

local function web(extra)
  local o = { client_id = "emu-client-web", client_secret = SECRET, redirect_uri = CB, base_url = emu.url }
  for k, v in pairs(extra or {}) do o[k] = v end
  return coze.auth.web(o)
end

local function new_code()
  local _, body = emu.post("/__emu/oauth/authorize", { client_id = "emu-client-web", redirect_uri = CB })
  return body.code
end

describe("coze.auth.web", function()
  it("builds the authorize URL without PKCE, on the www host, with a workspace variant", function()
    local a = coze.auth.web { client_id = "cid", client_secret = "s3cr3t-value", redirect_uri = CB,
      base_url = "https://api.coze.cn" }
    local u, s = a:authorize_url { state = "st1" }
    assert.equal("https://www.coze.cn/api/permission/oauth2/authorize?client_id=cid&redirect_uri="
      .. "http%3A%2F%2F127.0.0.1%2Fcallback&response_type=code&state=st1", u)
    assert.equal("st1", s.state)
    assert.falsy(u:find("s3cr3t", 1, true))
    u = a:authorize_url { workspace_id = 77 }
    assert.truthy(u:find("^https://www%.coze%.cn/api/permission/oauth2/workspace_id/77/authorize%?"))
    u = coze.auth.web { client_id = "cid", client_secret = "x", redirect_uri = CB, base_url = "https://api.coze.cn",
      www_base_url = "https://login.example" }:authorize_url()
    assert.truthy(u:find("^https://login%.example/api/permission/oauth2/authorize%?"))
  end)

  it("raises naming client_secret when it is missing", function()
    local ok, err = pcall(coze.auth.web, { client_id = "cid" })
    assert.is_false(ok)
    assert.truthy(err:find("client_secret", 1, true))
  end)

  it("exchanges a code with the secret as bearer and serves the token", function()
    local a = web()
    local m = mark()
    local info = assert(a:exchange_code { code = new_code() })
    local req = since(m, "oauth2")[1]
    assert.equal("Bearer " .. SECRET, emu.header(req, "Authorization"))
    local body = cjson.decode(req.body)
    assert.equal("authorization_code", body.grant_type)
    assert.is_nil(body.client_secret)
    assert.is_nil(body.code_verifier)
    assert.equal(info.access_token, a:token())
    local client = coze.new { auth = a, base_url = emu.url }
    assert(client.conversations:create {})
    client:close()
  end)

  it("refreshes with the secret too", function()
    local a = web()
    local info1 = assert(a:exchange_code { code = new_code() })
    local m = mark()
    local info2 = assert(a:refresh())
    assert.are_not.equal(info1.refresh_token, info2.refresh_token)
    local req = since(m, "oauth2")[1]
    assert.equal("Bearer " .. SECRET, emu.header(req, "Authorization"))
    assert.equal("refresh_token", cjson.decode(req.body).grant_type)
  end)

  it("reports a wrong secret without showing it", function()
    local a = web { client_secret = "wrong-secret-123" }
    local info, err = a:exchange_code { code = new_code() }
    assert.is_nil(info)
    assert.equal("auth", err.kind)
    assert.equal("invalid_client", err.code)
    assert.equal(401, err.http_status)
    assert.falsy(tostring(err):find("wrong-secret-123", 1, true))
  end)

  it("finds the redirect_uri of an authorize_url session by state", function()
    local a = coze.auth.web { client_id = "emu-client-web", client_secret = SECRET, base_url = emu.url }
    local _, s = a:authorize_url { redirect_uri = CB }
    assert(a:exchange_code { code = new_code(), state = s.state })
  end)
end)

describe("coze.auth.token", function()
  it("is a personal token as an auth object", function()
    local a = coze.auth.token { token = "pat_abcdef123456" }
    assert.equal("pat_abcdef123456", a:token())
    assert.is_false(a:invalidate("pat_abcdef123456"))
    assert.equal("pat_abcdef123456", a:token())
    assert.falsy(tostring(a):find("pat_", 1, true))
    local client = coze.new { auth = a, base_url = emu.url }
    assert(client.conversations:create {})
    assert.equal("Bearer pat_abcdef123456", emu.header(emu.last_request(), "Authorization"))
    client:close()
  end)

  it("raises naming token", function()
    local ok, err = pcall(coze.auth.token, { token = "" })
    assert.is_false(ok)
    assert.truthy(err:find("'token'", 1, true))
    ok, err = pcall(coze.auth.token, { token = "a\nb" })
    assert.is_false(ok)
    assert.truthy(err:find("'token'", 1, true))
  end)
end)
