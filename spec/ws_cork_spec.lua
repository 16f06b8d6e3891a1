-- ws:cork()/ws:uncork() and send_audio_file(realtime = false): frames that share writes, against the
-- emulator over real sockets. ws.conn:pending() (bytes queued, not yet written) shows what is held.
local emu = require "helpers.emu"

local last_session = require("helpers.ws").last_session

local function connect(client)
  local ws = assert(client.websockets.chat:connect { bot_id = "bot_1" })
  assert.equal("chat.created", assert(ws:next()).event_type)
  return ws
end

-- The event named `name`, skipping the others.
local function find(ws, name)
  while true do
    local ev, err = ws:next()
    assert(ev, tostring(err))
    if ev.event_type == name then return ev end
  end
end

describe("websockets cork", function()
  local client
  before_each(function() client = emu.client() end)

  it("writes every frame at once without a cork", function()
    local ws = connect(client)
    assert(ws:append_audio("abc"))
    assert.equal(0, ws.conn:pending())
    ws:close()
  end)

  it("holds data frames until uncork, then writes them in order", function()
    local ws = connect(client)
    assert.is_true(ws:cork())
    for _, chunk in ipairs({ "hello ", "corked ", "world" }) do assert(ws:append_audio(chunk)) end
    assert(ws:complete())
    assert.is_true(ws.conn:pending() > 0)
    assert.is_true(ws:uncork())
    assert.equal(0, ws.conn:pending())
    assert.equal("hello corked world", find(ws, "conversation.audio_transcript.completed").data.content)
    ws:close()
    local seen = last_session()
    assert.same({}, seen.violations)
    assert.equal(1000, seen.client_close.code)
  end)

  it("nests: only the last uncork writes", function()
    local ws = connect(client)
    ws:cork()
    ws:cork()
    assert(ws:append_audio("x"))
    assert.is_true(ws:uncork())
    assert.is_true(ws.conn:pending() > 0)
    assert.is_true(ws:uncork())
    assert.equal(0, ws.conn:pending())
    assert.is_true(ws:uncork()) -- one too many is harmless
    ws:close()
  end)

  it("writes once 64 KiB are queued", function()
    local ws = connect(client)
    ws:cork()
    local chunk = string.rep("\1\2", 320) -- a frame of ~900 bytes
    local max = 0
    for _ = 1, 100 do
      assert(ws:append_audio(chunk))
      max = math.max(max, ws.conn:pending())
    end
    assert.is_true(max >= 60000 and max < 65536 + 1000, "queued at most " .. max)
    assert.is_true(ws.conn:pending() < max)
    ws:uncork()
    ws:close()
  end)

  it("lets next() write what is corked while it waits, so a corked request still gets its answer", function()
    local ws = connect(client)
    ws:cork()
    assert(ws:append_audio("still corked"))
    assert(ws:complete())
    assert.equal("still corked", find(ws, "conversation.audio_transcript.completed").data.content)
    ws:close()
  end)

  it("writes control frames at once: a corked session closes with its data frames before the close", function()
    local ws = connect(client)
    ws:cork()
    assert(ws:append_audio("abcd"))
    assert.is_true(ws:close(4000, "bye"))
    local seen = last_session()
    assert.equal(4, seen.audio_bytes)
    assert.equal(4000, seen.client_close.code)
    assert.equal("bye", seen.client_close.reason)
  end)

  it("returns the session's error from cork and uncork once it is closed", function()
    local ws = connect(client)
    ws:close()
    local ok, err = ws:cork()
    assert.is_nil(ok)
    assert.equal("transport", err.kind)
    ok, err = ws:uncork()
    assert.is_nil(ok)
    assert.equal("transport", err.kind)
  end)
end)

describe("websockets send_audio_file", function()
  local client
  before_each(function() client = emu.client() end)

  local function pcm_file(bytes)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(bytes)
    f:close()
    return path
  end

  it("sends a file larger than its read block whole, chunk by chunk, and leaves nothing queued", function()
    local parts = {}
    for i = 1, 3000 do parts[i] = string.char(65 + i % 26) end
    local pcm = table.concat(parts):rep(50) .. "tail" -- 150,004 bytes: 2 blocks and a partial one
    local path = pcm_file(pcm)
    local ws = connect(client)
    assert.equal(#pcm, ws:send_audio_file(path, { realtime = false, chunk_ms = 20 }))
    assert.equal(0, ws.conn:pending())
    assert(ws:complete())
    assert.equal(pcm, find(ws, "conversation.audio_transcript.completed").data.content)
    ws:close()
    local seen = last_session()
    assert.equal(#pcm, seen.audio_bytes)
    assert.same({}, seen.violations)
    os.remove(path)
  end)

  it("raises for an API without audio input", function()
    local path = pcm_file("abcd")
    local ws = assert(client.websockets.audio.speech:connect {})
    assert.has_error(function() ws:send_audio_file(path) end,
      "coze: websockets.audio.speech:send_audio_file: this API takes no audio input")
    ws:close()
    os.remove(path)
  end)
end)

describe("websockets append_audio", function()
  it("returns the id its frame carries, one number up per frame", function()
    local ws = connect(emu.client())
    local a = assert(ws:append_audio("ab"))
    local b = assert(ws:append_audio("cd"))
    local prefix, n = a:match("^(.-)(%d+)$")
    assert.equal(prefix .. (tonumber(n) + 1), b)
    ws:close()
    local seen = last_session()
    assert.equal(b, seen.last_event.id)
    assert.equal("input_audio_buffer.append", seen.last_event.event_type)
    assert.equal("Y2Q=", seen.last_event.data.delta)
  end)
end)

describe("core WebSocket send_b64", function()
  it("sends a slice of the bytes and refuses a slice out of range", function()
    local client = emu.client()
    local ws = connect(client)
    local conn = ws.conn
    local pre = '{"id":"s1","event_type":"input_audio_buffer.append","data":{"delta":"'
    assert.is_true(conn:send_b64(pre, "xxhelloxx", '"}}', 3, 5))
    assert.is_true(conn:send_b64(pre, "", '"}}', 1, 0))
    assert.has_error(function() conn:send_b64(pre, "abc", '"}}', 0, 1) end)
    assert.has_error(function() conn:send_b64(pre, "abc", '"}}', 2, 3) end)
    assert.has_error(function() conn:send_b64(pre, "abc", '"}}', 5, 0) end)
    assert(ws:complete())
    assert.equal("hello", find(ws, "conversation.audio_transcript.completed").data.content)
    ws:close()
  end)
end)
