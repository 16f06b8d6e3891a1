-- Credentials never show: not in tostring of an auth object, not in a dump of its fields, not in an
-- error message built from a server answer that echoes them.
local emu = require "helpers.emu"
local read = emu.read_file
local coze = require "coze"
local core = require "coze.core"
local cjson = require "cjson"

local PEM = read("spec/fixtures/keys/rsa_pkcs8.pem")
local CB = "http://127.0.0.1/callback"

-- Every string reachable from v through table keys and values (not metatables, not upvalues).
local function strings(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings(k, out, seen)
      strings(x, out, seen)
    end
  end
  return out
end

local function assert_hidden(obj, secrets)
  local all = table.concat(strings(obj), "\n") .. "\n" .. tostring(obj)
  for _, s in ipairs(secrets) do
    assert.falsy(all:find(s, 1, true), "secret visible: " .. s:sub(1, 12) .. "...")
  end
end

-- A transport whose server answers 401 and echoes the whole request (unit specs of the Lua layer only).
local function echo_transport(status, as_text)
  local t = { log = {} }
  function t:request(req)
    self.log[#self.log + 1] = req
    local echo = table.concat(req.headers, " | ") .. " || " .. (req.body or "")
    local body = as_text and ("<html>" .. echo .. "</html>")
      or cjson.encode({ error_code = "invalid_client", error_message = "rejected: " .. echo })
    local done = false
    return {
      wait_headers = function() return status or 401 end,
      headers = function() return {} end,
      read = function()
        if done then return nil end
        done = true
        return body
      end,
      close = function() end,
    }
  end
  function t:now_ms() return core.monotonic_ms() end
  function t:time() return core.time() end
  function t:sleep_ms(ms) core.sleep_ms(ms) end
  return t
end

local function assert_clean(err, secrets)
  assert.truthy(err)
  for _, s in ipairs(secrets) do
    assert.falsy(err.msg:find(s, 1, true), "secret in err.msg: " .. s:sub(1, 12) .. "...")
    assert.falsy(tostring(err):find(s, 1, true), "secret in tostring(err): " .. s:sub(1, 12) .. "...")
  end
end

describe("redaction", function()
  it("hides every credential of every auth object from tostring and from its fields", function()
    local pat = coze.auth.token { token = "pat_visible_if_broken_1" }
    assert.equal("coze.auth.token (redacted)", tostring(pat))
    assert_hidden(pat, { "pat_visible_if_broken_1" })

    local jwt = coze.auth.jwt { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM,
      base_url = emu.url }
    local jtok = assert(jwt:token())
    local key_line = PEM:match("\n([^\n-][^\n]+)\n")
    assert_hidden(jwt, { jtok, key_line })
    assert.truthy(tostring(jwt):find("redacted", 1, true))

    local web = coze.auth.web { client_id = "emu-client-web", client_secret = "emu-web-secret", redirect_uri = CB,
      base_url = emu.url }
    local _, body = emu.post("/__emu/oauth/authorize", { client_id = "emu-client-web", redirect_uri = CB })
    local winfo = assert(web:exchange_code { code = body.code })
    assert_hidden(web, { "emu-web-secret", winfo.access_token, winfo.refresh_token })

    local pkce = coze.auth.pkce { client_id = "emu-client-pkce", redirect_uri = CB, base_url = emu.url }
    local _, session = pkce:authorize_url()
    local _, b2 = emu.post("/__emu/oauth/authorize", { client_id = "emu-client-pkce", redirect_uri = CB,
      code_challenge = session.code_challenge, code_challenge_method = "S256" })
    local pinfo = assert(pkce:exchange_code { code = b2.code, code_verifier = session.code_verifier })
    assert_hidden(pkce, { pinfo.access_token, pinfo.refresh_token })

    local dev = coze.auth.device { client_id = "emu-client-device", base_url = emu.url,
      refresh_token = "emu_rt_saved_value_123" }
    assert_hidden(dev, { "emu_rt_saved_value_123" })
  end)

  it("scrubs the JWT from an error message that echoes it", function()
    local t = echo_transport()
    local a = coze.auth.jwt { client_id = "c", public_key_id = "k", private_key = PEM, base_url = "https://api.coze.cn",
      transport = t, max_retries = 0 }
    local tok, err = a:token()
    assert.is_nil(tok)
    local jwt
    for _, line in ipairs(t.log[1].headers) do jwt = jwt or line:match("^Authorization: Bearer (.+)$") end
    assert.truthy(jwt)
    assert_clean(err, { jwt, jwt:match("^[^.]+%.([^.]+)") })
    assert.truthy(err.msg:find("[redacted]", 1, true))
  end)

  it("scrubs the client secret, the code and the refresh token from echoed errors", function()
    local t = echo_transport()
    local a = coze.auth.web { client_id = "c", client_secret = "websecret-0001", redirect_uri = CB,
      base_url = "https://api.coze.cn", transport = t, refresh_token = "rt-value-0002" }
    local _, err = a:exchange_code { code = "code-value-0003" }
    assert_clean(err, { "websecret-0001", "code-value-0003" })
    _, err = a:refresh()
    assert_clean(err, { "websecret-0001", "rt-value-0002" })
    local _, terr = a:token()
    assert_clean(terr, { "websecret-0001", "rt-value-0002" })
  end)

  it("scrubs the code verifier and the device code from echoed errors", function()
    local t = echo_transport()
    local p = coze.auth.pkce { client_id = "c", redirect_uri = CB, base_url = "https://api.coze.cn", transport = t }
    local v = coze.auth.code_verifier(60)
    local _, err = p:exchange_code { code = "code-value-0004", code_verifier = v }
    assert_clean(err, { v, "code-value-0004" })

    local answers = 0
    local inner = echo_transport()
    local d = coze.auth.device { client_id = "c", base_url = "https://api.coze.cn", transport = {
      request = function(self, req)
        answers = answers + 1
        if answers == 1 then
          local done = false
          return { wait_headers = function() return 200 end, headers = function() return {} end,
            read = function()
              if done then return nil end
              done = true
              return cjson.encode({ device_code = "devcode-secret-0005", user_code = "AAAA-BBBB", interval = 0 })
            end, close = function() end }
        end
        return inner:request(req)
      end,
      now_ms = inner.now_ms, time = inner.time, sleep_ms = inner.sleep_ms } }
    assert(d:get_device_code())
    local tok
    tok, err = d:poll_once()
    assert.is_nil(tok)
    assert_clean(err, { "devcode-secret-0005" })
  end)

  it("scrubs an HTML error page that echoes credentials", function()
    local t = echo_transport(502, true)
    local a = coze.auth.web { client_id = "c", client_secret = "websecret-0006", redirect_uri = CB,
      base_url = "https://api.coze.cn", transport = t }
    local _, err = a:exchange_code { code = "code-value-0007" }
    assert.equal("http", err.kind)
    assert.equal(502, err.http_status)
    assert_clean(err, { "websecret-0006", "code-value-0007" })
  end)

  it("scrubs token-shaped words the SDK does not know", function()
    local scrub = require("coze.auth.http").scrub
    local s = scrub("got czs_abcdef0123 and pat_XYZ987 and Bearer sk-123 and eyJhbGciOi.eyJzdWIi.c2ln", {})
    assert.falsy(s:find("czs_abc", 1, true))
    assert.falsy(s:find("pat_XYZ", 1, true))
    assert.falsy(s:find("sk-123", 1, true))
    assert.falsy(s:find("eyJhbGciOi", 1, true))
  end)
end)
