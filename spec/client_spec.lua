-- The request pipeline: headers, errors, argument checks, connection reuse.
local emu = require "helpers.emu"
local coze = require "coze"
local cjson = require "cjson"

describe("coze.new", function()
  it("raises without a token or auth", function()
    assert.has_error(function() coze.new {} end)
    assert.has_error(function() coze.new { token = "" } end)
  end)

  it("raises on a bad base_url, naming it", function()
    local ok, err = pcall(coze.new, { token = "t", base_url = "ftp://x" })
    assert.is_false(ok)
    assert.truthy(err:find("base_url", 1, true))
  end)

  it("raises on a wrong-type timeout, naming it", function()
    local ok, err = pcall(coze.new, { token = "t", idle_timeout_ms = "fast" })
    assert.is_false(ok)
    assert.truthy(err:find("idle_timeout_ms", 1, true))
  end)

  it("exposes the two base URLs", function()
    assert.equal("https://api.coze.cn", coze.CN_BASE_URL)
    assert.equal("https://api.coze.com", coze.COM_BASE_URL)
  end)

  it("never shows the token in tostring", function()
    local c = coze.new { token = "pat_secret_value", base_url = emu.url }
    assert.falsy(tostring(c):find("pat_secret", 1, true))
    assert.falsy(tostring(c.auth):find("pat_secret", 1, true))
    c:close()
  end)
end)

describe("requests", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("sends the headers of the official SDKs", function()
    assert(client.conversations:retrieve { conversation_id = "x" } or true)
    local req = emu.last_request()
    assert.equal("Bearer pat_test", emu.header(req, "Authorization"))
    assert.truthy(emu.header(req, "User-Agent"):find("^coze%-lua/"))
    local cua = cjson.decode(emu.header(req, "X-Coze-Client-User-Agent"))
    assert.equal("lua", cua.lang)
    assert.equal(coze._VERSION, cua.version)
    assert.is_string(cua.lang_version)
    assert.is_string(cua.os_name)
    assert.is_string(cua.os_version)
  end)

  it("adds per-call headers and query values", function()
    client.conversations:create { bot_id = "b", headers = { ["X-Trace"] = "t1" }, query = { extra = "1" } }
    local req = emu.last_request()
    assert.equal("t1", emu.header(req, "X-Trace"))
    assert.equal("1", req.query.extra)
    assert.equal("application/json", emu.header(req, "Content-Type"))
    local body = cjson.decode(req.body)
    assert.equal("b", body.bot_id)
    assert.is_nil(body.headers)
    assert.is_nil(body.query)
  end)

  it("sends client-wide headers on every call", function()
    local c = emu.client { headers = { ["X-Tenant"] = "t9" } }
    c.conversations:create {}
    assert.equal("t9", emu.header(emu.last_request(), "X-Tenant"))
    c:close()
  end)

  it("passes fields the catalog lacks through extra_body", function()
    client.conversations:create { bot_id = "b", extra_body = { brand_new_field = { x = 1 } } }
    assert.same({ x = 1 }, cjson.decode(emu.last_request().body).brand_new_field)
  end)

  it("refuses header values with CR or LF", function()
    local ok, err = pcall(function()
      client.conversations:create { headers = { ["X-Bad"] = "a\r\nInjected: 1" } }
    end)
    assert.is_false(ok)
    assert.truthy(err:find("X-Bad", 1, true))
  end)

  it("reports an invalid token as an api error with http status and logid", function()
    local c = emu.client { token = "invalid" }
    local res, err = c.conversations:create {}
    assert.is_nil(res)
    assert.equal("api", err.kind)
    assert.equal(4101, err.code)
    assert.equal(401, err.http_status)
    assert.is_string(err.logid)
    local s = tostring(err)
    assert.truthy(s:find("4101", 1, true))
    assert.truthy(s:find("logid", 1, true))
    assert.falsy(s:find("invalid", 1, true) and s:find("Bearer", 1, true))
    c:close()
  end)

  it("reports 429 with retry_after", function()
    local res, err = client.conversations:create { headers = { ["X-Emu-Fault"] = "429;retry_after=3" } }
    assert.is_nil(res)
    assert.equal(429, err.http_status)
    assert.equal(3, err.retry_after)
  end)

  it("reads Retry-After in the HTTP-date form", function()
    local res, err = client.conversations:create { headers = { ["X-Emu-Fault"] = "429;retry_after_date=5" } }
    assert.is_nil(res)
    assert.is_number(err.retry_after)
    assert.truthy(err.retry_after >= 3 and err.retry_after <= 6)
  end)

  it("reports a 5xx HTML page as an http error", function()
    local res, err = client.conversations:create { headers = { ["X-Emu-Fault"] = "status;code=503;body=html" } }
    assert.is_nil(res)
    assert.equal("http", err.kind)
    assert.equal(503, err.http_status)
  end)

  it("reports a 5xx envelope as an api error", function()
    local res, err = client.conversations:create { headers = { ["X-Emu-Fault"] = "status;code=502" } }
    assert.is_nil(res)
    assert.equal(502, err.http_status)
    assert.equal(5000, err.code)
  end)

  it("reports malformed JSON as a decode error", function()
    local res, err = client.conversations:create { headers = { ["X-Emu-Fault"] = "malformed_json" } }
    assert.is_nil(res)
    assert.equal("decode", err.kind)
    assert.is_string(err.logid)
  end)

  it("reports a closed port as a transport error", function()
    local c = coze.new { token = "t", base_url = "http://127.0.0.1:1" }
    local res, err = c.conversations:create {}
    assert.is_nil(res)
    assert.equal("transport", err.kind)
    assert.equal("conversations.create", err.op)
    c:close()
  end)

  it("reuses one connection across calls", function()
    local conv = assert(client.conversations:create {})
    for _ = 1, 5 do assert(client.conversations:retrieve { conversation_id = conv.id }) end
    local reqs = emu.requests(6)
    local conn = reqs[1].connection
    assert.is_not_nil(conn)
    for i = 2, 6 do assert.equal(conn, reqs[i].connection) end
  end)

  it("verifies TLS by default and accepts the emulator's CA when given", function()
    local c = coze.new { token = "t", base_url = emu.tls_url }
    local res, err = c.conversations:create {}
    assert.is_nil(res)
    assert.equal("transport", err.kind)
    c:close()
    local port = emu.url:match(":(%d+)$")
    local ca = "build/emulator-" .. port .. "/cert.pem"
    c = coze.new { token = "t", base_url = emu.tls_url, ca_file = ca }
    assert(c.conversations:create {})
    c:close()
  end)
end)

describe("errors", function()
  it("reads well in tostring", function()
    local e = coze.errors.new("api", { code = 4000, msg = "bad request", http_status = 200, logid = "L1", op = "chat.create" })
    assert.equal("coze chat.create: error 4000: bad request (http 200, logid L1)", tostring(e))
    local t = coze.errors.new("timeout", { timeout = "idle", msg = "no bytes for 200 ms" })
    assert.equal("coze: idle timeout: no bytes for 200 ms", tostring(t))
  end)
end)
