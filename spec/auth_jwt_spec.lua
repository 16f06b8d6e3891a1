-- JWT OAuth apps against the emulator, which verifies the RS256 signature itself (libcrypto FFI).
local emu = require "helpers.emu"
local mark, since, read = emu.mark, emu.since, emu.read_file
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local PEM = read("spec/fixtures/keys/rsa_pkcs8.pem")
local PEM1 = read("spec/fixtures/keys/rsa_pkcs1.pem")
local TOKEN_PATH = "/api/permission/oauth2/token"

local function jwt_auth(extra)
  local o = { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM, base_url = emu.url }
  for k, v in pairs(extra or {}) do o[k] = v end
  return coze.auth.jwt(o)
end

local function last_jwt()
  local status, body = emu.raw("GET", "/__emu/oauth/last_jwt")
  assert.equal(200, status)
  return cjson.decode(body)
end

local function jwt_parts(authz)
  local jwt = authz:match("^Bearer (.+)$")
  local h, p = jwt:match("^([^.]+)%.([^.]+)%.")
  return jwt, cjson.decode(core.base64url_decode(h)), cjson.decode(core.base64url_decode(p))
end

local function raw_post(path, body, headers)
  local s = core.session()
  local lines = { "Content-Type: application/json" }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
  local r = s:request { method = "POST", url = emu.url .. path, body = body, headers = lines }
  local status = assert(r:wait_headers(5000))
  local parts = {}
  while true do
    local chunk = r:read(5000)
    if not chunk then break end
    parts[#parts + 1] = chunk
  end
  r:close()
  s:close()
  return status, cjson.decode(table.concat(parts))
end

local function raises(pattern, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.truthy(tostring(err):find(pattern, 1, true), "expected '" .. pattern .. "' in: " .. tostring(err))
  return tostring(err)
end

describe("coze.auth.jwt construction", function()
  it("raises naming private_key for an unreadable PEM, without the key bytes", function()
    local msg = raises("private_key", function() jwt_auth { private_key = read("spec/fixtures/keys/garbage.pem") } end)
    assert.falsy(msg:find("BEGIN", 1, true))
    raises("private_key", function() jwt_auth { private_key = read("spec/fixtures/keys/ec_p256.pem") } end)
    raises("private_key", function() jwt_auth { private_key = 42 } end)
    raises("private_key", function() jwt_auth { private_key = "" } end)
  end)

  it("never shows the key in the error for a PEM it cannot use", function()
    local broken = PEM:gsub("MII", "XXX", 1)
    local msg = raises("private_key", function() jwt_auth { private_key = broken } end)
    for line in PEM:gmatch("[^\n]+") do
      if not line:find("-----", 1, true) then assert.falsy(msg:find(line:sub(1, 20), 1, true)) end
    end
  end)

  it("raises naming public_key_id, client_id and ttl", function()
    raises("public_key_id", function() jwt_auth { public_key_id = false } end)
    raises("public_key_id", function()
      coze.auth.jwt { client_id = "emu-client-jwt", private_key = PEM }
    end)
    raises("client_id", function() jwt_auth { client_id = "" } end)
    raises("ttl", function() jwt_auth { ttl = "900" } end)
    raises("ttl", function() jwt_auth { ttl = 0 } end)
    raises("ttl", function() jwt_auth { ttl = 86400 } end)
    raises("ttl", function() jwt_auth { ttl = 1.5 } end)
    raises("session_context", function() jwt_auth { session_context = "x" } end)
    raises("scope", function() jwt_auth { scope = 1 } end)
    raises("base_url", function() jwt_auth { base_url = "api.coze.cn" } end)
    raises("enterprise_id", function() jwt_auth { account_id = 1, enterprise_id = "e" } end)
    raises("refresh_skew", function() jwt_auth { refresh_skew = -1 } end)
    raises("headers", function() jwt_auth { headers = "x" } end)
    raises("options table", function() coze.auth.jwt() end)
  end)

  it("reports the caller's line for misuse", function()
    local ok, err = pcall(function() jwt_auth { ttl = "x" } end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("auth_jwt_spec.lua", 1, true))
  end)
end)

describe("coze.auth.jwt tokens", function()
  it("gets a token the emulator signs off, with the claims and header Coze wants", function()
    local a = jwt_auth { ttl = 1200, session_name = "user-42",
      session_context = { device_info = { device_id = "dev-1", custom_consumer = "cc" } } }
    local t0 = os.time()
    local tok, err = a:token()
    assert.is_nil(err)
    assert.truthy(tok:find("^czs_"))
    local rec = last_jwt()
    assert.same({ alg = "RS256", typ = "JWT", kid = "emu-kid-1" }, rec.header)
    local c = rec.claims
    assert.equal("emu-client-jwt", c.iss)
    assert.equal("127.0.0.1", c.aud)
    assert.equal(1200, c.exp - c.iat)
    assert.truthy(math.abs(c.iat - t0) <= 2)
    assert.equal("user-42", c.session_name)
    assert.same({ device_info = { device_id = "dev-1", custom_consumer = "cc" } }, c.session_context)
    assert.truthy(#c.jti >= 43)
    assert.equal(1200, rec.duration_seconds)
    assert.equal(TOKEN_PATH, rec.path)
  end)

  it("posts the jwt-bearer grant with duration_seconds and the JWT as bearer", function()
    local a = jwt_auth { ttl = 600 }
    local m = mark()
    assert(a:token())
    local reqs = since(m, "oauth2")
    assert.equal(1, #reqs)
    local body = cjson.decode(reqs[1].body)
    assert.same({ grant_type = "urn:ietf:params:oauth:grant-type:jwt-bearer", duration_seconds = 600 }, body)
    local _, h, p = jwt_parts(emu.header(reqs[1], "Authorization"))
    assert.equal("emu-kid-1", h.kid)
    assert.equal("emu-client-jwt", p.iss)
  end)

  it("takes aud from the host of base_url, or the aud option", function()
    local base = require "coze.auth.base"
    assert.equal("api.coze.cn", base.host_of("https://api.coze.cn"))
    assert.equal("api.coze.com", base.host_of("https://api.coze.com/"))
    assert.equal("127.0.0.1", base.host_of("http://127.0.0.1:18900/x"))
    local a = jwt_auth { aud = "api.coze.cn" }
    assert(a:token())
    assert.equal("api.coze.cn", last_jwt().claims.aud)
  end)

  it("sends the channel scope in the body", function()
    local scope = { account_permission = { permission_list = { "Connector.botChat" } },
      attribute_constraint = { connector_bot_chat_attribute = { bot_id_list = { "bot1" } } } }
    local a = jwt_auth { scope = scope }
    assert(a:token())
    assert.same(scope, last_jwt().scope)
  end)

  it("uses the cross-account and enterprise token paths", function()
    local a = jwt_auth { account_id = 7001 }
    assert(a:token())
    local rec = last_jwt()
    assert.equal("/api/permission/oauth2/account/7001/token", rec.path)
    assert.equal("7001", rec.account_id)
    a = jwt_auth { enterprise_id = "e-9" }
    assert(a:token())
    rec = last_jwt()
    assert.equal("/api/permission/oauth2/enterprise_id/e-9/token", rec.path)
    assert.equal("e-9", rec.enterprise_id)
  end)

  it("signs with the PKCS#1 key of the second kid too", function()
    local a = jwt_auth { public_key_id = "emu-kid-2", private_key = PEM1 }
    assert(a:token())
  end)

  it("gets an auth error when the emulator cannot verify the signature", function()
    local a = jwt_auth { public_key_id = "emu-kid-2" } -- kid 2 is the PKCS#1 key; we sign with PKCS#8
    local tok, err = a:token()
    assert.is_nil(tok)
    assert.equal("auth", err.kind)
    assert.equal("invalid_client", err.code)
    assert.equal(401, err.http_status)
    assert.truthy(err.msg:find("signature", 1, true))
    assert.equal("auth.jwt.token", err.op)
  end)

  it("never reuses a JWT: the server rejects a replayed one, the SDK signs a new one per request", function()
    local a = jwt_auth {}
    local m = mark()
    assert(a:token())
    assert(a:refresh())
    local reqs = since(m, "oauth2")
    assert.equal(2, #reqs)
    local jwt1, _, p1 = jwt_parts(emu.header(reqs[1], "Authorization"))
    local jwt2, _, p2 = jwt_parts(emu.header(reqs[2], "Authorization"))
    assert.are_not.equal(jwt1, jwt2)
    assert.are_not.equal(p1.jti, p2.jti)
    local status, body = raw_post(TOKEN_PATH, reqs[1].body, { "Authorization: Bearer " .. jwt1 })
    assert.equal(401, status)
    assert.equal("invalid_client", body.error_code)
    assert.truthy(body.error_message:find("jti already used", 1, true))
  end)

  it("signs a new JWT (new jti) when it retries a failed token request", function()
    local a = jwt_auth { retry_base_ms = 10, headers = {
      ["X-Emu-Fault"] = "status;code=503;times=1", ["X-Emu-Fault-Key"] = "jwt-retry-" .. core.random_token(8) } }
    local m = mark()
    local tok, err = a:token()
    assert.is_nil(err)
    assert.truthy(tok)
    local reqs = since(m, "oauth2")
    assert.equal(2, #reqs)
    local jwt1, _, p1 = jwt_parts(emu.header(reqs[1], "Authorization"))
    local jwt2, _, p2 = jwt_parts(emu.header(reqs[2], "Authorization"))
    assert.are_not.equal(jwt1, jwt2)
    assert.are_not.equal(p1.jti, p2.jti)
  end)

  it("serves the cached token until it is due for refresh", function()
    local a = jwt_auth {}
    local m = mark()
    local t1 = assert(a:token())
    for _ = 1, 5 do assert.equal(t1, a:token()) end
    assert.equal(1, #since(m, "oauth2"))
  end)

  it("authenticates API calls of a client", function()
    local a = jwt_auth {}
    local client = coze.new { auth = a, base_url = emu.url }
    local conv = assert(client.conversations:create {})
    assert.truthy(conv.id)
    local tok = a:token()
    assert.equal("Bearer " .. tok, emu.header(emu.last_request(), "Authorization"))
    client:close()
  end)

  it("returns a transport error when the token endpoint cannot be reached", function()
    local a = coze.auth.jwt { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM,
      base_url = "http://127.0.0.1:1", max_retries = 0 }
    local tok, err = a:token()
    assert.is_nil(tok)
    assert.equal("transport", err.kind)
    assert.equal("auth.jwt.token", err.op)
  end)
end)
