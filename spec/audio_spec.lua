-- client.audio: binary speech (bytes, output file, on_chunk), JSON errors in place of audio, the
-- multipart operations, and the 200 MB download memory check.
local emu = require "helpers.emu"
local mem = require "helpers.mem"
local rss_kb, reset_peak, instrumented = mem.rss_kb, mem.reset_peak, mem.instrumented

local unique = emu.unique

-- The emulator's audio: the byte at offset o is string.char(o % 256).
local BLOCK = {}
for i = 0, 255 do BLOCK[#BLOCK + 1] = string.char(i) end
BLOCK = table.concat(BLOCK)
local function pattern(n)
  return (string.rep(BLOCK, math.ceil(n / 256))):sub(1, n)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function speech(client, extra, headers)
  local o = { input = "今天天气不错", voice_id = "7426720361733046281", headers = headers or {} }
  for k, v in pairs(extra or {}) do o[k] = v end
  return client.audio.speech:create(o)
end

describe("audio.speech:create", function()
  local client, paths
  before_each(function()
    client = emu.client()
    paths = {}
  end)
  after_each(function()
    client:close()
    for _, p in ipairs(paths) do os.remove(p) end
  end)
  local function tmp()
    local p = os.tmpname()
    os.remove(p)
    paths[#paths + 1] = p
    return p
  end

  it("returns the audio bytes, byte-exact with NULs", function()
    local audio, meta = speech(client, nil, { ["X-Emu-Audio-Bytes"] = "70000", ["X-Emu-Audio-Chunk"] = "1000" })
    assert.is_string(audio, tostring(meta))
    assert.equal(70000, #audio)
    assert.equal(pattern(70000), audio)
    assert.equal(0, audio:byte(1))
    assert.equal("audio/mpeg", meta.content_type)
    assert.equal(70000, meta.bytes)
    assert.is_string(meta.logid)
    assert.equal(200, meta.http_status)
    local req = emu.last_request()
    assert.equal("/v1/audio/speech", req.path)
    assert.truthy(req.body:find('"voice_id":"7426720361733046281"', 1, true))
  end)

  it("follows response_format in the content type", function()
    local audio, meta = speech(client, { response_format = "wav" })
    assert.equal(4096, #audio)
    assert.equal("audio/wav", meta.content_type)
  end)

  it("writes the bytes to output as they arrive and returns their count", function()
    local path = tmp()
    local n, meta = speech(client, { output = path }, { ["X-Emu-Audio-Bytes"] = "300000", ["X-Emu-Audio-Chunk"] = "7777" })
    assert.equal(300000, n, tostring(meta))
    assert.equal(path, meta.path)
    assert.equal(300000, meta.bytes)
    assert.equal(pattern(300000), read_file(path))
  end)

  it("replaces an existing output file", function()
    local path = tmp()
    local f = assert(io.open(path, "wb"))
    f:write(string.rep("z", 100000))
    f:close()
    assert.equal(10, speech(client, { output = path }, { ["X-Emu-Audio-Bytes"] = "10" }))
    assert.equal(pattern(10), read_file(path))
  end)

  it("hands chunks to on_chunk in order", function()
    local chunks = {}
    local n = speech(client, { on_chunk = function(b) chunks[#chunks + 1] = b end },
      { ["X-Emu-Audio-Bytes"] = "3000000", ["X-Emu-Audio-Chunk"] = "65536" })
    assert.equal(3000000, n)
    assert.truthy(#chunks >= 3) -- the transport holds at most max_buffer (<= 1 MiB) unread
    assert.equal(pattern(3000000), table.concat(chunks))
  end)

  it("returns an empty string for an empty body", function()
    local audio = speech(client, nil, { ["X-Emu-Audio-Bytes"] = "0" })
    assert.equal("", audio)
  end)

  it("turns a JSON error body in place of audio into nil, err", function()
    local audio, err = speech(client, { voice_id = "voice_unknown" })
    assert.is_nil(audio)
    assert.equal("api", err.kind)
    assert.equal(4200, err.code)
    assert.equal(200, err.http_status)
    assert.is_string(err.logid)
    assert.equal("audio.speech.create", err.op)
  end)

  it("creates no output file when the answer is a JSON error", function()
    local path = tmp()
    local n, err = speech(client, { output = path, voice_id = "voice_unknown" })
    assert.is_nil(n)
    assert.equal("api", err.kind)
    assert.is_false(exists(path))
    local calls = 0
    n, err = speech(client, { on_chunk = function() calls = calls + 1 end },
      { ["X-Emu-Fault"] = "json_error;code=4000;msg=bad" })
    assert.is_nil(n)
    assert.equal(4000, err.code)
    assert.equal(0, calls)
  end)

  it("refuses a JSON success body where audio was promised", function()
    local audio, err = speech(client, nil, { ["X-Emu-Fault"] = "malformed_json" })
    assert.is_nil(audio)
    assert.equal("decode", err.kind)
  end)

  it("removes the partial output file when the transfer breaks", function()
    local path = tmp()
    local n, err = speech(client, { output = path },
      { ["X-Emu-Audio-Bytes"] = "100000", ["X-Emu-Audio-Chunk"] = "1000", ["X-Emu-Audio-Reset-After"] = "30000" })
    assert.is_nil(n)
    assert.equal("transport", err.kind)
    assert.equal("audio.speech.create", err.op)
    assert.is_false(exists(path))
  end)

  it("never replays a call whose chunks were already handed out", function()
    local got = 0
    local n, err = speech(client, { on_chunk = function(b) got = got + #b end, idempotency_key = unique("speech"),
      retry_base_ms = 1 }, { ["X-Emu-Audio-Bytes"] = "100000", ["X-Emu-Audio-Chunk"] = "1000",
      ["X-Emu-Audio-Reset-After"] = "30000" })
    assert.is_nil(n)
    assert.equal("transport", err.kind)
    assert.is_true(err.partial)
    assert.equal(1, err.attempts)
    assert.equal(30000, got)
  end)

  it("retries a broken in-memory download of a call with an idempotency key", function()
    local audio, err = speech(client, { idempotency_key = unique("speech"), retry_base_ms = 1, max_retries = 1 },
      { ["X-Emu-Audio-Bytes"] = "100000", ["X-Emu-Audio-Reset-After"] = "30000" })
    assert.is_nil(audio)
    assert.equal("transport", err.kind)
    assert.equal(2, err.attempts)
  end)

  it("keeps max_body_bytes for in-memory audio", function()
    local audio, err = speech(client, { max_body_bytes = 1000 }, { ["X-Emu-Audio-Bytes"] = "5000" })
    assert.is_nil(audio)
    assert.equal("decode", err.kind)
    assert.truthy(err.msg:find("output", 1, true))
  end)

  it("returns nil, err naming the path when output cannot be written", function()
    local n, err = speech(client, { output = "/nonexistent/dir/a.mp3" })
    assert.is_nil(n)
    assert.equal("io", err.kind)
    assert.equal("/nonexistent/dir/a.mp3", err.path)
    assert.truthy(tostring(err):find("/nonexistent/dir/a.mp3", 1, true))
  end)

  it("raises when output and on_chunk are both given, or have the wrong type", function()
    assert.has_error(function() speech(client, { output = "/tmp/x", on_chunk = function() end }) end)
    assert.has_error(function() speech(client, { output = 42 }) end)
    assert.has_error(function() speech(client, { on_chunk = "f" }) end)
  end)

  it("closes the transfer and raises when on_chunk raises", function()
    assert.has_error(function()
      speech(client, { on_chunk = function() error("enough") end })
    end, "enough")
  end)

  it("reports an authentication failure as an api error", function()
    local c = emu.client { token = "invalid" }
    local audio, err = speech(c)
    c:close()
    assert.is_nil(audio)
    assert.equal(4101, err.code)
    assert.equal(401, err.http_status)
  end)
end)

describe("audio multipart operations", function()
  local client, path
  before_each(function()
    client = emu.client()
    local base = os.tmpname()
    os.remove(base)
    path = base .. ".wav"
    local f = assert(io.open(path, "wb"))
    f:write("RIFF\0\0\0\0WAVEfmt " .. string.rep("\0\1", 498)) -- 1012 bytes
    f:close()
  end)
  after_each(function()
    client:close()
    os.remove(path)
  end)

  local function part(data, name)
    for _, p in ipairs(data.emu_parts) do
      if p.name == name then return p end
    end
  end

  it("transcribes a file streamed from disk", function()
    local res = assert(client.audio.transcriptions:create { file = path })
    assert.truthy(res.text:find("(1012 bytes)", 1, true))
    assert.equal(1012, part(res, "file").length)
  end)

  it("transcribes bytes given as content", function()
    local res = assert(client.audio.transcriptions:create { content = "\0\0\1\1", file_name = "a.pcm" })
    assert.truthy(res.text:find("a.pcm (4 bytes)", 1, true))
  end)

  it("clones a voice from a file and plain form fields", function()
    local res = assert(client.audio.voices:clone { file = path, audio_format = "wav", voice_name = "my voice",
      preview_text = "你好" })
    assert.is_string(res.voice_id)
    assert.equal("wav", part(res, "audio_format").value)
    assert.equal("my voice", part(res, "voice_name").value)
    assert.equal("你好", part(res, "preview_text").value)
    assert.equal(1012, part(res, "file").length)
  end)

  it("creates, updates and identifies voiceprints with numbers sent as form text", function()
    local res = assert(client.audio.voiceprint_groups.features:create { group_id = "g1", name = "alice", file = path,
      sample_rate = 16000, channel = 1 })
    assert.is_string(res.id)
    assert.equal("16000", part(res, "sample_rate").value)
    assert.equal("1", part(res, "channel").value)
    res = assert(client.audio.voiceprint_groups.features:update { group_id = "g1", feature_id = res.id, name = "alice2" })
    assert.equal("alice2", part(res, "name").value)
    assert.is_nil(part(res, "file"))
    res = assert(client.audio.voiceprint_groups:speaker_identify { group_id = "g1", file = path, top_k = 3 })
    assert.equal(3, res.feature_score_list[1].top_k)
  end)

  it("returns nil, err naming a missing file", function()
    local res, err = client.audio.transcriptions:create { file = "/nonexistent/a.wav" }
    assert.is_nil(res)
    assert.equal("io", err.kind)
    assert.equal("/nonexistent/a.wav", err.path)
  end)
end)

describe("audio.speech:create of 200 MB", function()
  it("writes to the output file as the bytes arrive: RSS stays flat", function()
    local skip_rss = instrumented()
    local size = skip_rss and 8 * 1024 * 1024 or 200 * 1024 * 1024
    local path = os.tmpname()
    local client = emu.client()
    assert(speech(client, { output = path }, { ["X-Emu-Audio-Bytes"] = "100000" })) -- warm up
    collectgarbage()
    collectgarbage()
    local before = rss_kb()
    local exact = reset_peak()
    local peak = 0
    local function sample()
      local r = rss_kb()
      if r > peak then peak = r end
    end
    local n, err = speech(client, { output = path, wait_ms = 20, on_wait = sample, total_timeout_ms = 60000 },
      { ["X-Emu-Audio-Bytes"] = tostring(size), ["X-Emu-Audio-Chunk"] = "1048576" })
    sample()
    if exact then peak = select(2, rss_kb()) end
    collectgarbage()
    local after = rss_kb()
    client:close()
    local f = assert(io.open(path, "rb"))
    local fsize = f:seek("end")
    local ok_bytes = true
    for _, off in ipairs({ 0, 255, 256, 1048575, 1048576, size - 1 }) do
      f:seek("set", off)
      if f:read(1):byte() ~= off % 256 then ok_bytes = false end
    end
    f:close()
    os.remove(path)
    assert.equal(size, n, tostring(err))
    assert.equal(size, fsize)
    assert.is_true(ok_bytes)
    io.stderr:write(string.format("# download %d MB to a file: RSS before %d kB, peak %d kB (%s), after %d kB\n",
      size / 1048576, before, peak, exact and "VmHWM" or "sampled", after))
    if not skip_rss then
      assert.truthy(peak - before < 8 * 1024, "peak RSS grew by " .. (peak - before) .. " kB")
      assert.truthy(after - before < 8 * 1024, "RSS grew by " .. (after - before) .. " kB")
    end
  end)
end)
