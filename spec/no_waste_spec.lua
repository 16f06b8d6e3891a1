-- Issue 13 item 9: nothing billed for a mistake the SDK could see. audio.speech with an output
-- path that cannot be written sends nothing; chat:create_and_poll past its poll deadline cancels
-- the chat unless cancel_on_timeout = false. Checked on the emulator's request log.
local coze = require "coze"
local emu = require "spec.helpers.emu"

local function ask(extra)
  local o = { bot_id = "bot_never_done", user_id = "u1", additional_messages = { coze.message.user_text("hi") } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

describe("audio.speech output", function()
  it("that cannot be written fails before the request is sent", function()
    local client = emu.client()
    local mark = emu.mark()
    local n, err = client.audio.speech:create { input = "hi", voice_id = "7426720361733046281",
      output = "/nonexistent/dir/a.mp3" }
    assert.is_nil(n)
    assert.equal("io", err.kind)
    assert.equal("/nonexistent/dir/a.mp3", err.path)
    assert.equal("audio.speech.create", err.op)
    assert.same({}, emu.since(mark, "/v1/audio/speech"))
  end)

  it("that can be written is checked without leaving a file behind when the call then fails", function()
    local client = emu.client()
    local path = os.tmpname()
    os.remove(path)
    local n, err = client.audio.speech:create { input = "hi", voice_id = "voice_unknown", output = path }
    assert.is_nil(n)
    assert.equal("api", err.kind)
    assert.is_false(exists(path))
  end)

  it("that exists is not truncated by the check", function()
    local client = emu.client()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("keep")
    f:close()
    local n = client.audio.speech:create { input = "hi", voice_id = "voice_unknown", output = path }
    assert.is_nil(n)
    f = assert(io.open(path, "rb"))
    assert.equal("keep", f:read("*a"))
    f:close()
    os.remove(path)
  end)
end)

describe("chat:create_and_poll past its poll deadline", function()
  it("cancels the chat it started", function()
    local client = emu.client()
    local mark = emu.mark()
    local res, err = client.chat:create_and_poll(ask { poll_interval_ms = 20, poll_timeout_ms = 120 })
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.equal("poll", err.timeout)
    assert.is_true(err.canceled)
    assert.matches("canceled it", err.msg, 1, true)
    local cancels = emu.since(mark, "^/v3/chat/cancel$")
    assert.equal(1, #cancels)
    local body = require("cjson").decode(cancels[1].body)
    assert.equal(err.chat.id, body.chat_id)
    assert.equal(err.chat.conversation_id, body.conversation_id)
    local again = assert(client.chat:retrieve { conversation_id = err.chat.conversation_id, chat_id = err.chat.id })
    assert.equal("canceled", again.status)
  end)

  it("leaves the chat running with cancel_on_timeout = false, and sends no such field", function()
    local client = emu.client()
    local mark = emu.mark()
    local res, err = client.chat:create_and_poll(ask { poll_interval_ms = 20, poll_timeout_ms = 120,
      cancel_on_timeout = false })
    assert.is_nil(res)
    assert.equal("poll", err.timeout)
    assert.is_nil(err.canceled)
    assert.same({}, emu.since(mark, "^/v3/chat/cancel$"))
    local create = emu.since(mark, "^/v3/chat$")[1]
    assert.is_nil(create.body:find("cancel_on_timeout", 1, true))
    assert.is_nil(create.body:find("poll_", 1, true))
  end)
end)
