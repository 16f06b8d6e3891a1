-- Issue 13 item 8: error objects read well. They concatenate, say each thing once, summarise an
-- HTML or long body, state the attempts, point argument errors at the caller's line; a chat stream
-- that carries conversation.chat.failed ends with that chat's error; a PEM path is named as such.
local coze = require "coze"
local errors = require "coze.errors"
local scrub = require "coze.scrub"
local stream_mod = require "coze.stream"
local emu = require "spec.helpers.emu"

local THIS_FILE = debug.getinfo(1, "S").short_src

local function ask(extra)
  local o = { bot_id = "bot_1", user_id = "u1", additional_messages = { coze.message.user_text("hi") } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

describe("error objects", function()
  it("concatenate on either side like their tostring", function()
    local err = errors.new("api", { op = "files.upload", code = 4000, msg = "bad" })
    assert.equal("upload failed: " .. tostring(err), "upload failed: " .. err)
    assert.equal(tostring(err) .. "!", err .. "!")
    assert.equal(tostring(err) .. tostring(err), err .. err)
  end)

  it("do not repeat the timeout's name (first_byte timeout after 200 ms, once)", function()
    local client = emu.client { max_retries = 0 }
    local _, err = client.conversations:retrieve { conversation_id = "c", first_byte_timeout_ms = 200,
      headers = { ["X-Emu-Fault"] = "slow_headers;ms=1500" } }
    local s = tostring(err)
    assert.matches("coze conversations.retrieve: first_byte timeout after 200 ms", s, 1, true)
    assert.is_nil(s:find("timeout: first_byte timeout", 1, true))
  end)

  it("summarise an HTML error page to its title, without markup", function()
    local client = emu.client { max_retries = 0 }
    local _, err = client.conversations:retrieve { conversation_id = "c",
      headers = { ["X-Emu-Fault"] = "status;code=502;body=html" } }
    assert.equal("http", err.kind)
    assert.equal(502, err.http_status)
    assert.matches("^HTTP 502: Bad Gateway %(%d+%-byte body%)$", err.msg)
    assert.matches("^coze conversations.retrieve: HTTP 502: Bad Gateway %(%d+%-byte body%) %(logid ", tostring(err))
  end)

  it("cut a long text body to its first 200 characters and say how long it was", function()
    local client = emu.client { max_retries = 0 }
    local _, err = client.chat:create(ask { user_id = string.rep("u", 3000),
      headers = { ["X-Emu-Fault"] = "echo_auth;status=400;body=text;field=user_id;at=1" } })
    assert.equal("http", err.kind)
    assert.truthy(#err.msg < 260, "msg is " .. #err.msg .. " bytes")
    assert.matches("-byte body)", err.msg, 1, true)
  end)

  it("state the attempts when there was more than one", function()
    local fault = { ["X-Emu-Fault"] = "429", ["X-Emu-Fault-Key"] = emu.unique("att") }
    local _, err = emu.client { max_retries = 2, retry_base_ms = 1, retry_max_delay_ms = 2 }
      .conversations:retrieve { conversation_id = "c", headers = fault }
    assert.equal(3, err.attempts)
    assert.matches("after 3 attempts", tostring(err), 1, true)
    _, err = emu.client { max_retries = 0 }.conversations:retrieve { conversation_id = "c", headers = fault }
    assert.equal(1, err.attempts)
    assert.is_nil(tostring(err):find("attempt", 1, true))
  end)
end)

describe("argument errors", function()
  it("point at the caller's line for a sample of public calls", function()
    local c = emu.client()
    local cases = {
      function() c.conversations:retrieve { conversation_id = "c", headers = { ["X-A"] = "a\r\nb" } } end,
      function() c.conversations:retrieve {} end,
      function() c.conversations:retrieve { conversation_id = "c", max_retries = -1 } end,
      function() c.chat:stream { bot_id = "b", user_id = "u", cancel_on_close = 1 } end,
      function() c.chat:create_and_poll { bot_id = "b", user_id = "u", poll_timeout_ms = -1 } end,
      function() c.files:upload {} end,
      function() c.conversations.list(nil, {}) end,
      function() c.audio.speech:create { input = "x", voice_id = "v", output = "/tmp/a", on_chunk = print } end,
      function() c.workflows.runs:create {} end,
      function() coze.new { token = "pat", base_url = "ftp://x" } end,
      function() coze.auth.device { client_id = 1 } end,
    }
    for i, fn in ipairs(cases) do
      local ok, msg = pcall(fn)
      assert.is_false(ok, "case " .. i)
      assert.equal(THIS_FILE, tostring(msg):match("^(.-):%d+: coze: "), "case " .. i .. ": " .. tostring(msg))
    end
  end)
end)

describe("a chat stream carrying conversation.chat.failed", function()
  local function failed_stream(fault)
    local client = emu.client()
    local o = ask { bot_id = "bot_failed" }
    if fault then o.headers = { ["X-Emu-Fault"] = fault } end
    local stream = assert(client.chat:stream(o))
    return emu.collect(stream)
  end

  it("delivers it, then ends with the chat's last_error (a done after it changes nothing)", function()
    local evs, err = failed_stream()
    assert.equal("conversation.chat.failed", evs[#evs].event)
    assert.equal("failed", evs[#evs].data.status)
    assert.equal("api", err.kind)
    assert.equal(4013, err.code)
    assert.equal("模型错误", err.msg)
    assert.equal("conversation.chat.failed", err.event.event)
  end)

  it("ends the same way when the body stops right after it", function()
    local evs, err = failed_stream("no_done")
    assert.equal("conversation.chat.failed", evs[#evs].event)
    assert.equal("api", err.kind)
    assert.equal(4013, err.code)
  end)

  it("scrubs the credential from last_error's text (unit: a stream over a fake handle)", function()
    local body = 'event: conversation.chat.failed\ndata: {"id":"1","status":"failed","last_error":'
      .. '{"code":4100,"msg":"token pat_SECRETSECRET rejected"}}\n\nevent: done\ndata: "[DONE]"\n\n'
    local h = { sent = false }
    function h:read() if self.sent then return nil end self.sent = true return body end
    function h:close() end
    local s = stream_mod.new(h, { profile = "chat", op = "chat.stream", scrub = scrub.with { "pat_SECRETSECRET" } })
    local evs, err = emu.collect(s)
    assert.equal(1, #evs)
    assert.equal(4100, err.code)
    assert.equal("token [redacted] rejected", err.msg)
    assert.is_nil(tostring(err):find("SECRET", 1, true))
  end)
end)

describe("coze.auth.jwt private_key", function()
  it("says to pass the PEM text when given what looks like a path", function()
    for _, path in ipairs { "/etc/coze/private.pem", "keys/app_private_key.pem", "private.key" } do
      local ok, msg = pcall(function()
        coze.auth.jwt { client_id = "c", public_key_id = "k", private_key = path }
      end)
      assert.is_false(ok)
      assert.matches("pass the PEM text, not a path", msg, 1, true)
    end
  end)
end)
