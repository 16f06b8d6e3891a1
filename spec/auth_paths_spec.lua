-- Ids from configuration that become path segments (issue 12 #8): a "." or ".." would move the
-- request to another path, e.g. account_id = ".." sends the JWT exchange to the plain token path.
local emu = require "helpers.emu"
local coze = require "coze"
local url = require "coze.url"

local PEM = emu.read_file("spec/fixtures/keys/rsa_pkcs8.pem")
local CB = "http://127.0.0.1/cb"

local function jwt(extra)
  local o = { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM, base_url = emu.url }
  for k, v in pairs(extra) do o[k] = v end
  return coze.auth.jwt(o)
end

local function refuses(field, fn)
  local ok, msg = pcall(fn)
  assert.is_false(ok)
  assert.truthy(tostring(msg):find("field '" .. field .. "' must not be '.' or '..'", 1, true), tostring(msg))
end

describe("url.segment", function()
  it("escapes a segment and refuses dot segments and empty values, naming the field", function()
    assert.equal("a%2Fb%3Fc%23d", url.segment("a/b?c#d", "id"))
    assert.equal("42", url.segment(42, "id"))
    assert.equal("...", url.segment("...", "id"))
    assert.equal("a.b%2Fc", url.segment("a.b/c", "id"))
    assert.is_nil(url.segment("x/../y", "id"))
    assert.equal(".hidden", url.segment(".hidden", "id"))
    for _, v in ipairs({ ".", ".." }) do
      local s, msg = url.segment(v, "account_id")
      assert.is_nil(s)
      assert.truthy(msg:find("field 'account_id' must not be '.' or '..'", 1, true))
    end
    local s, msg = url.segment("", "id")
    assert.is_nil(s)
    assert.equal("field 'id' must not be empty", msg)
    s, msg = url.segment(1.5, "id")
    assert.is_nil(s)
    assert.truthy(msg:find("field 'id' must be a string or an integer", 1, true))
  end)
end)

describe("auth paths from configuration", function()
  it("refuses account_id '..' before anything reaches the server", function()
    local before = emu.mark()
    refuses("account_id", function() jwt { account_id = ".." } end)
    refuses("account_id", function() jwt { account_id = "." } end)
    refuses("enterprise_id", function() jwt { enterprise_id = ".." } end)
    assert.same({}, emu.since(before))
  end)

  it("refuses '..' between slashes (nginx decodes %2F before it resolves dot segments)", function()
    local before = emu.mark()
    refuses("account_id", function() jwt { account_id = "../x" } end)
    refuses("account_id", function() jwt { account_id = "a\\.." } end)
    assert.same({}, emu.since(before))
  end)

  it("escapes a slash in account_id instead of letting it add segments", function()
    local before = emu.mark()
    local a = jwt { account_id = "a/b", max_retries = 0 }
    a:token() -- the emulator knows no such account; what matters is the path that reached it
    local reqs = emu.since(before, "oauth2")
    assert.equal(1, #reqs)
    assert.truthy(reqs[1].path:find("/api/permission/oauth2/account/a", 1, true), reqs[1].path)
  end)

  it("refuses a device workspace_id '..', also one set on the object after construction", function()
    refuses("workspace_id", function()
      coze.auth.device { client_id = "emu-client-device", base_url = emu.url, workspace_id = ".." }
    end)
    local d = coze.auth.device { client_id = "emu-client-device", base_url = emu.url }
    refuses("workspace_id", function() d:get_device_code { workspace_id = "." } end)
    d.workspace_id = ".."
    local before = emu.mark()
    refuses("workspace_id", function() d:get_device_code() end)
    assert.same({}, emu.since(before))
  end)

  it("refuses a web authorize_url workspace_id '..'", function()
    local a = coze.auth.web { client_id = "cid", client_secret = "s3cr3t-value", redirect_uri = CB, base_url = emu.url }
    refuses("workspace_id", function() a:authorize_url { workspace_id = ".." } end)
    local u = a:authorize_url { workspace_id = "ws/1" }
    assert.truthy(u:find("/workspace_id/ws%2F1/authorize", 1, true))
  end)
end)
