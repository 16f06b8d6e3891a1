-- Hostile and broken servers: every failure comes back as an error object, never a crash, a hang,
-- unbounded memory or a silently short result. One `it` per scenario.
local emu = require "helpers.emu"
local coze = require "coze"

local function with_fault(fault, extra)
  local h = { ["X-Emu-Fault"] = fault }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

local function drain(stream)
  local n, ev, err = 0, nil, nil
  repeat
    ev, err = stream:next()
    if ev then n = n + 1 end
  until not ev
  return n, err
end

describe("hostile servers", function()
  local client
  before_each(function() client = emu.client { max_retries = 0 } end)
  after_each(function() client:close() end)

  it("reports a body shorter than its Content-Length as a transport error", function()
    local res, err = client.conversations:create { headers = with_fault("content_length_lie") }
    assert.is_nil(res)
    assert.equal("transport", err.kind)
    assert.equal("conversations.create", err.op)
  end)

  it("reports broken chunked encoding as a transport error", function()
    local res, err = client.conversations:create { headers = with_fault("bad_chunked") }
    assert.is_nil(res)
    assert.equal("transport", err.kind)
  end)

  it("reports invalid JSON as a decode error with the logid", function()
    local res, err = client.conversations:create { headers = with_fault("malformed_json") }
    assert.is_nil(res)
    assert.equal("decode", err.kind)
    assert.is_string(err.logid)
  end)

  it("reports invalid UTF-8 in a JSON body as a decode error naming the byte", function()
    local res, err = client.conversations:create { headers = with_fault("invalid_utf8") }
    assert.is_nil(res)
    assert.equal("decode", err.kind)
    assert.truthy(err.msg:find("invalid UTF%-8 in the response body at byte %d+"))
  end)

  it("refuses a JSON body larger than max_body_bytes", function()
    local res, err = client.conversations:create { max_body_bytes = 64 }
    assert.is_nil(res)
    assert.equal("decode", err.kind)
    assert.truthy(err.msg:find("max_body_bytes", 1, true))
  end)

  it("refuses an event larger than max_event_bytes", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u", max_event_bytes = 4096,
      headers = with_fault("huge_event;bytes=100000") })
    local _, err = drain(stream)
    assert.equal("stream", err.kind)
    assert.truthy(err.msg:find("exceeds", 1, true))
  end)

  it("ends a stream whose server stops sending with an idle timeout", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u", idle_timeout_ms = 150,
      headers = with_fault("stall;after=1;ms=3000") })
    local n, err = drain(stream)
    assert.equal(1, n)
    assert.equal("timeout", err.kind)
    assert.equal("idle", err.timeout)
  end)

  it("ends a stream at the total deadline when one is set", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u", total_timeout_ms = 300,
      headers = { ["X-Emu-Deltas"] = "100", ["X-Emu-Drip-Ms"] = "20" } })
    local _, err = drain(stream)
    assert.equal("timeout", err.kind)
    assert.equal("total", err.timeout)
  end)

  it("reports a slow server as a first-byte timeout", function()
    local res, err = client.conversations:create { first_byte_timeout_ms = 150,
      headers = with_fault("slow_headers;ms=2000") }
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.equal("first_byte", err.timeout)
  end)

  it("reports a connection reset mid-stream after the events that arrived", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u", headers = with_fault("reset;after=2") })
    local n, err = drain(stream)
    assert.equal(2, n)
    assert.equal("transport", err.kind)
  end)

  it("reports a stream cut inside an event as truncation", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u", headers = with_fault("truncate;after=2") })
    local _, err = drain(stream)
    assert.equal("stream", err.kind)
  end)

  it("reports a stream that ends cleanly without done", function()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u", headers = with_fault("no_done") })
    local _, err = drain(stream)
    assert.equal("stream", err.kind)
  end)

  it("does not follow a redirect, so the Authorization header never reaches another host", function()
    local before = emu.last_request().seq
    local res, err = client.conversations:create { headers = with_fault("redirect;to=http://127.0.0.2:9/steal") }
    assert.is_nil(res)
    assert.equal("http", err.kind)
    assert.equal(302, err.http_status)
    assert.equal(before + 1, emu.last_request().seq)
  end)

  it("reports an HTML error page as an http error", function()
    local res, err = client.conversations:create { headers = with_fault("status;code=502;body=html") }
    assert.is_nil(res)
    assert.equal("http", err.kind)
    assert.equal(502, err.http_status)
    assert.falsy(err.msg:find("\n", 1, true))
  end)

  it("reports a JSON success where a stream was promised as a decode error", function()
    local stream, err = client.chat:stream { bot_id = "b", user_id = "u",
      headers = with_fault("json_error;code=0;msg=ok") }
    assert.is_nil(stream)
    assert.equal("decode", err.kind)
  end)
end)

describe("bad input", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("keeps path parameters inside their segment", function()
    client.conversations:delete { conversation_id = "a/b/v3/chat?x=1#y" }
    local req = emu.last_request()
    assert.equal("DELETE", req.method)
    assert.equal("/v1/conversations/a%2Fb%2Fv3%2Fchat%3Fx%3D1%23y", req.request_uri)
    assert.equal("", req.raw_query)
  end)

  it("refuses a path parameter that is a dot segment", function()
    assert.has_error(function() client.conversations:delete { conversation_id = ".." } end,
      "coze: conversations.delete: field 'conversation_id' must not be '.' or '..' (nor hold them between slashes)")
  end)

  it("escapes query values", function()
    client.conversations:retrieve { conversation_id = "a&b=c d" }
    local req = emu.last_request()
    assert.equal("a&b=c d", req.query.conversation_id)
    assert.is_nil(req.query.b)
  end)

  it("refuses header values with CR or LF, naming the header", function()
    local ok, err = pcall(client.conversations.create, client.conversations,
      { headers = { ["X-Evil"] = "v\nInjected: yes" } })
    assert.is_false(ok)
    assert.truthy(err:find("X-Evil", 1, true))
  end)

  it("refuses a token with CR or LF", function()
    assert.has_error(function() coze.new { token = "pat_x\r\nInjected: 1", base_url = emu.url } end)
  end)

  it("never shows the token in an error", function()
    local c = emu.client { token = "invalid" }
    local _, err = c.conversations:create {}
    c:close()
    assert.equal(401, err.http_status)
    local text = tostring(err)
    for k, v in pairs(err) do text = text .. tostring(k) .. "=" .. tostring(v) .. ";" end
    assert.falsy(text:find("Bearer", 1, true))
  end)

  it("keeps TLS verification on unless tls_verify = false is given", function()
    local c = coze.new { token = "t", base_url = emu.tls_url, max_retries = 0 }
    local _, err = c.conversations:create {}
    c:close()
    assert.equal("transport", err.kind)
    c = coze.new { token = "t", base_url = emu.tls_url, tls_verify = false }
    assert(c.conversations:create {})
    c:close()
    assert.has_error(function() coze.new { token = "t", base_url = emu.url, tls_verify = "no" } end)
  end)
end)

describe("utf8_check", function()
  local core = require "coze.core"
  it("accepts valid UTF-8 and points at the first bad byte", function()
    assert.is_true(core.utf8_check("héllo 早上好 \240\159\152\128"))
    local cases = {
      { "ok \255", 4 }, { "\192\175", 1 }, { "a\237\160\128", 2 }, { "\244\144\128\128", 1 },
      { "abc\226\130", 4 }, { string.rep("x", 20) .. "\128", 21 },
    }
    for _, c in ipairs(cases) do
      local ok, at = core.utf8_check(c[1])
      assert.is_false(ok)
      assert.equal(c[2], at)
    end
  end)
end)
