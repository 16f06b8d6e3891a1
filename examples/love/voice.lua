-- A voice NPC for examples/love: push-to-talk streams a WAV file to a bot over
-- client.websockets.chat (as a microphone would, 20 ms of PCM at a time, in real time while the key
-- is held), and the spoken reply is queued to a love.audio queueable source as its deltas arrive.
-- Everything runs in coze.scheduler tasks: one keeps the session and reads its events, one per
-- push sends the audio; love.update calls voice:update() to hand decoded audio to OpenAL.
local wav = require "coze.wav"

local _M = {}

local OUT_RATE = 24000 -- the reply's PCM (chat.update output_audio); the emulator echoes the input
local CHUNK_MS = 20
local BUFFERS = 16     -- OpenAL buffers of the queueable source

local Voice = {}
Voice.__index = Voice

-- opts: client, sched, bot_id, wav (path), connect (extra connect{} options), on_text(text) for the
-- reply's text as it streams.
function _M.new(opts)
  local self = setmetatable({ client = opts.client, sched = opts.sched, bot_id = opts.bot_id, wav = opts.wav,
    connect_opts = opts.connect or {}, status = "idle", heard = nil, reply = {}, pending = {}, head = 1, tail = 0,
    carry = "", queued = 0, received = 0, talking = false, turns = 0 }, Voice)
  self.source = love.audio.newQueueableSource(OUT_RATE, 16, 1, BUFFERS)
  local ok, ffi = pcall(require, "ffi")
  self.ffi = ok and ffi or nil
  return self
end

-- The session task: connects once, then reads every event for the rest of the game.
function Voice:open()
  if self.task then return end
  self.status = "connecting"
  self.task = self.sched:spawn(function()
    local o = { bot_id = self.bot_id }
    for k, v in pairs(self.connect_opts) do o[k] = v end
    local ws = assert(self.client.websockets.chat:connect(o))
    assert(ws:update { input_audio = { format = "pcm", codec = "pcm", sample_rate = 16000, channel = 1, bit_depth = 16 },
      output_audio = { codec = "pcm", pcm_config = { sample_rate = OUT_RATE } } })
    self.ws = ws
    self.status = "ready"
    for ev in ws:events() do
      local t = ev.event_type
      if t == "conversation.audio.delta" then
        local pcm = ev.audio -- decoded in C
        self.received = self.received + #pcm
        self.tail = self.tail + 1
        self.pending[self.tail] = pcm -- OpenAL gets it in update(), outside the SDK's time
      elseif t == "conversation.audio_transcript.completed" then
        self.heard = ev.data.content
      elseif t == "conversation.message.delta" then
        self.reply[#self.reply + 1] = ev.data.content
      elseif t == "conversation.chat.completed" then
        self.turns = self.turns + 1
        self.status = "ready"
      elseif t == "error" then
        self.status = "error " .. tostring(ev.data and ev.data.msg)
      end
    end
  end)
end

-- Push-to-talk pressed: a task streams the WAV file's PCM in real time while the key is held (or
-- until the file ends), then completes the input so the bot answers.
function Voice:press()
  if self.talking or not self.wav then return end
  self:open()
  self.talking = true
  self.reply, self.heard = {}, nil
  self.sent = 0
  self.sender = self.sched:spawn(function()
    while not self.ws do
      if self.task:status() ~= "waiting" and self.task:status() ~= "ready" and self.task:status() ~= "running" then
        error("no session: " .. tostring(select(2, self.task:result())), 0)
      end
      coroutine.yield(10)
    end
    local f = assert(io.open(self.wav, "rb"))
    local fmt = assert(wav.read_header(f))
    local chunk = math.floor(fmt.sample_rate * CHUNK_MS / 1000) * fmt.channels * fmt.bit_depth / 8
    local left = fmt.data_bytes
    self.status = "listening"
    while self.talking and (left == nil or left > 0) do
      local bytes = f:read(left and math.min(chunk, left) or chunk)
      if not bytes or bytes == "" then break end
      assert(self.ws:append_audio(bytes))
      self.sent = self.sent + #bytes
      if left then left = left - #bytes end
      coroutine.yield(CHUNK_MS) -- sleeps in the scheduler: the frame goes on
    end
    f:close()
    assert(self.ws:complete())
    self.talking = false
    self.status = "thinking"
  end)
end

function Voice:release()
  self.talking = false
end

-- In love.update: decoded reply audio into the queueable source, as OpenAL frees buffers. Samples
-- are 16-bit, so an odd byte waits for the next delta.
function Voice:update()
  local src, pending = self.source, self.pending
  while pending[self.head] and src:getFreeBufferCount() > 0 do
    local bytes = self.carry .. pending[self.head]
    pending[self.head] = nil
    self.head = self.head + 1
    if #bytes % 2 == 1 then
      self.carry = bytes:sub(-1)
      bytes = bytes:sub(1, -2)
    else
      self.carry = ""
    end
    if #bytes > 0 then
      local samples = #bytes / 2
      local sd = love.sound.newSoundData(samples, OUT_RATE, 16, 1)
      if self.ffi and sd.getFFIPointer then
        self.ffi.copy(sd:getFFIPointer(), bytes, #bytes)
      else
        for i = 0, samples - 1 do
          local lo, hi = bytes:byte(2 * i + 1, 2 * i + 2)
          local v = lo + hi * 256
          if v >= 32768 then v = v - 65536 end
          sd:setSample(i, v / 32768)
        end
      end
      src:queue(sd)
      self.queued = self.queued + #bytes
      if self.on_queue then self.on_queue(bytes) end
    end
  end
  if self.queued > 0 and not src:isPlaying() and src:getFreeBufferCount() < BUFFERS then
    src:play()
    self.played = true
  end
end

function Voice:text()
  return table.concat(self.reply)
end

function Voice:draw(font, x, y, w)
  love.graphics.setColor(0.08, 0.1, 0.09, 0.85)
  love.graphics.rectangle("fill", x, y, w, 54, 6, 6)
  love.graphics.setColor(1, 1, 1)
  love.graphics.setFont(font)
  local head = self.wav and ("Voice NPC (hold F1 to talk: " .. self.wav:match("[^/]*$") .. ") - " .. self.status)
    or "Voice NPC: set COZE_LOVE_WAV to a 16 kHz mono WAV to talk"
  love.graphics.print(head, x + 8, y + 6)
  local line = self.heard and ("you: " .. self.heard .. "   bot: " .. self:text()) or ""
  love.graphics.print(line, x + 8, y + 28)
end

return _M
