-- NPCs that talk, in LÖVE 11.4 with lua-coze: type a line, press Enter, and the NPC's reply streams
-- into its speech bubble as the deltas arrive; several NPCs can talk at once. Every chat runs in a
-- task of coze.scheduler(); love.update gives the SDK at most 2 ms of each frame.
--
--   COZE_API_TOKEN=pat_... COZE_BOT_ID=739...[,739...] love examples/love     (COZE_API_BASE: other host)
--   love examples/love --test PORT [--shot FILE]    8 NPCs against the local emulator; exits 0 or 1
--
-- Keys: Tab picks the NPC, Enter sends, F1 held talks to the voice NPC (voice.lua: the WAV file in
-- COZE_LOVE_WAV streamed over client.websockets.chat, the reply played as it arrives), Escape quits
-- (open streams and sessions are closed at once).
-- The font is a CJK font from a Debian package, loaded by path (COZE_LOVE_FONT overrides it).
local utf8 = require "utf8"

-- coze's Lua files and coze.core: shipped next to the game (README.md), or this checkout's lua/ and
-- build/luajit/ when run as `love examples/love`.
-- They run interpreted (jit.off): LuaJIT compiling the SDK's loops in the middle of a frame costs
-- more than it saves on a few events per frame, and it comes as spikes of milliseconds.
local function setup_paths()
  local base = love.filesystem.getSourceBaseDirectory()
  local src = love.filesystem.getSource()
  package.cpath = base .. "/?.so;" .. src .. "/../../build/luajit/?.so;" .. package.cpath
  local lua_path = src .. "/../../lua/?.lua;" .. src .. "/../../lua/?/init.lua"
  table.insert(package.loaders, 2, function(name)
    if name ~= "coze" and name:sub(1, 5) ~= "coze." then return nil end
    local file = name:gsub("%.", "/")
    for _, f in ipairs({ file .. ".lua", file .. "/init.lua" }) do
      if love.filesystem.getInfo(f) then
        local chunk = assert(love.filesystem.load(f))
        if jit then jit.off(chunk, true) end
        return chunk
      end
    end
    local path = package.searchpath(name, lua_path)
    if not path then return "\n\tno file for '" .. name .. "' in the game or " .. lua_path end
    local chunk = assert(loadfile(path))
    if jit then jit.off(chunk, true) end
    return chunk
  end)
end

local FONT_PATHS = {
  "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",            -- fonts-wqy-microhei
  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",    -- fonts-noto-cjk
  "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", -- fonts-droid-fallback
}

-- love.graphics.newFont only sees the game's own files: read the font with io and hand LÖVE bytes.
local function load_fonts(sizes)
  local paths = { os.getenv("COZE_LOVE_FONT") }
  for _, p in ipairs(FONT_PATHS) do paths[#paths + 1] = p end
  for _, path in ipairs(paths) do
    local f = io.open(path, "rb")
    if f then
      local bytes = f:read("*a")
      f:close()
      local data = love.filesystem.newFileData(bytes, path:match("[^/]+$"))
      local fonts, ok = {}, true
      for i, size in ipairs(sizes) do
        ok, fonts[i] = pcall(love.graphics.newFont, data, size)
        if not ok then break end
      end
      if ok then return fonts, path end
      print("warning: cannot load font " .. path .. ": " .. tostring(fonts[#fonts]))
    end
  end
  print("warning: no CJK font found (apt-get install fonts-wqy-microhei, or set COZE_LOVE_FONT);"
    .. " Chinese text will show as boxes")
  local fonts = {}
  for i, size in ipairs(sizes) do fonts[i] = love.graphics.newFont(size) end
  return fonts, nil
end

local coze, client, sched, voice_mod, voice
local fonts, font_path
local npcs, selected, input = {}, 1, ""
local W, H = 1024, 640
local BG = { 0.16, 0.22, 0.18 }
local BUBBLE_LINES = 6

-- Bubble ---------------------------------------------------------------------------------------

local Bubble = {}
Bubble.__index = Bubble

local function new_bubble(text)
  return setmetatable({ parts = { text }, text = text or "", dirty = false, done = false }, Bubble)
end

function Bubble:append(s) -- called for every delta, inside the SDK's time: keep it O(1)
  self.parts[#self.parts + 1] = s
  self.dirty = true
end

function Bubble:get()
  if self.dirty then
    self.text = table.concat(self.parts)
    self.dirty = false
  end
  return self.text
end

-- NPCs -----------------------------------------------------------------------------------------

local function layout(n)
  local cols = math.min(n, 4)
  local rows = math.ceil(n / cols)
  local cw, ch = W / cols, (H - 140) / rows -- below: the voice NPC's panel and the text box
  for i, npc in ipairs(npcs) do
    local c, r = (i - 1) % cols, math.floor((i - 1) / cols)
    npc.x, npc.y, npc.cw, npc.ch = c * cw, r * ch, cw, ch
  end
end

local function add_npc(name, color, bot_id)
  npcs[#npcs + 1] = { name = name, color = color, bot_id = bot_id, bubble = new_bubble("..."),
    user_id = "player-" .. (#npcs + 1) }
end

-- Starts the NPC's reply to line in a task: the bubble fills as the deltas arrive. A new line
-- cancels a reply still streaming (its stream is closed at once).
local function talk(npc, line, headers)
  if npc.task then npc.task:cancel() end
  local bubble = new_bubble()
  npc.bubble = bubble
  npc.task = sched:spawn(function()
    local stream = assert(client.chat:stream { bot_id = npc.bot_id, user_id = npc.user_id,
      conversation_id = npc.conversation_id, headers = headers,
      additional_messages = { coze.message.user_text(line) } })
    for ev in stream:events() do
      local name = ev.event
      if name == "conversation.message.delta" then
        bubble:append(ev.data.content)
      elseif name == "conversation.chat.created" then
        npc.conversation_id = ev.data.conversation_id -- the next line continues this dialogue
      elseif name == "conversation.message.completed" and ev.data.type == "answer" then
        bubble.completed = ev.data.content
      end
    end
    bubble.done = true
  end)
end

-- Test mode ------------------------------------------------------------------------------------

local test -- nil, or the state of --test
local make_test_wav, check_voice

local function pct(s)
  return (s:gsub("[^%w ]", function(c) return string.format("%%%02X", c:byte()) end))
end

local REPLIES = {
  "我是村长。欢迎来到青山村！The old mill is north of the river.",
  "铁匠铺今天开门，剑和盾都有。Bring me iron ore and I forge a blade.",
  "商人：丝绸、茶叶、瓷器，应有尽有。Prices are fair, friend.",
  "猎人说森林里有狼，晚上别出门。Wolves hunt after dark.",
  "Healer here. 草药可以治伤，also good for tea. 请慢用。",
  "守卫：城门日落时关闭。Show your pass at the gate.",
  "渔夫：河里的鱼今天特别多！Want to try the new rod?",
  "学者：这本古书记载了龙的传说。The dragon sleeps under the lake.",
}

local function report(ok, msg)
  print((ok and "ok - " or "not ok - ") .. msg)
  io.stdout:flush()
  if not ok then test.failed = test.failed + 1 end
end

-- A 1 s 440 Hz tone, 16 kHz mono 16-bit, for push-to-talk: its path.
make_test_wav = function()
  local wav = require "coze.wav"
  local rate, n = 16000, 16000
  local pcm = {}
  for i = 0, n - 1 do
    local v = math.floor(math.sin(2 * math.pi * 440 * i / rate) * 12000)
    if v < 0 then v = v + 65536 end
    pcm[#pcm + 1] = string.char(v % 256, math.floor(v / 256))
  end
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(wav.header(rate, 1, 16, 2 * n), table.concat(pcm))
  f:close()
  return path
end

local function start_test(port, shot)
  client = coze.new { token = "pat_love", base_url = "http://127.0.0.1:" .. port }
  test = { frames = {}, cpu = {}, vcpu = {}, failed = 0, shot = shot, started = love.timer.getTime(), phase = "talk" }
  for i = 1, 8 do
    add_npc("NPC " .. i, { 0.3 + 0.08 * i, 0.7 - 0.05 * i, 0.4 + 0.06 * (i % 3) }, "bot_love")
  end
  layout(#npcs)
  -- at load time, like a level: one chat through every code path, so LuaJIT has compiled them
  -- before the first measured frame
  local warm = sched:spawn(function()
    for _ in assert(client.chat:stream { bot_id = "bot_love", user_id = "warmup",
      headers = { ["X-Emu-Deltas"] = "200" } }):events() do end
  end)
  sched:run()
  if warm:status() ~= "done" then error("warm-up chat: " .. tostring(select(2, warm:result())), 0) end
  for i, npc in ipairs(npcs) do
    -- 24 deltas 66-94 ms apart: replies at the pace of a model's tokens (each bot its own), ~2 s
    talk(npc, "hello " .. i, { ["X-Emu-Reply"] = pct(REPLIES[i]), ["X-Emu-Drip-Ms"] = tostring(62 + 4 * i),
      ["X-Emu-Deltas"] = "24" })
  end
  love.window.setVSync(0)
  test.wav = make_test_wav()
  voice = voice_mod.new { client = client, sched = sched, bot_id = "bot_love", wav = test.wav,
    connect = { emu_echo_deltas = "1" } } -- the emulator echoes every append as reply audio
  test.voice_queued = {}
  voice.on_queue = function(bytes) test.voice_queued[#test.voice_queued + 1] = bytes end
  -- the voice NPC's session opens with the level too; it stays silent while the others talk
  voice:open()
  local t_end = love.timer.getTime() + 5
  while voice.status ~= "ready" do
    sched:step()
    love.timer.sleep(0.001)
    if love.timer.getTime() > t_end or voice.task:status() == "failed" then
      error("voice session: " .. voice.status .. " " .. tostring(select(2, voice.task:result())), 0)
    end
  end
end

local function percentile(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

local function check_replies()
  local whole = 0
  for i, npc in ipairs(npcs) do
    local b = npc.bubble
    local text = b:get()
    if npc.task:status() ~= "done" then
      report(false, "NPC " .. i .. ": task " .. npc.task:status() .. ": " .. tostring(select(2, npc.task:result())))
    elseif text ~= REPLIES[i] or b.completed ~= REPLIES[i] then
      report(false, "NPC " .. i .. ": got '" .. text .. "', want '" .. REPLIES[i] .. "'")
    else
      whole = whole + 1
    end
  end
  report(whole == #npcs, whole .. " of " .. #npcs .. " replies whole and in order (deltas joined = completed answer)")
  -- SDK time per frame: the thread's CPU time in sched:step (what the SDK costs the game, without
  -- the preemptions of a busy machine); the wall time is reported beside it.
  local wall, cpu = test.frames, test.cpu
  table.sort(wall)
  table.sort(cpu)
  local f = #cpu > 0 and cpu or wall
  local what = #cpu > 0 and "thread CPU" or "wall"
  local p99, max = percentile(f, 0.99), f[#f]
  report(#f >= 100, #f .. " frames while streaming")
  report(p99 < 1, string.format("SDK time per frame p99 %.3f ms (%s; goal < 1 ms; p50 %.3f ms; wall p99 %.3f ms)",
    p99, what, percentile(f, 0.5), percentile(wall, 0.99)))
  report(max < 4, string.format("SDK time per frame max %.3f ms (%s; goal < 4 ms; wall max %.3f ms)",
    max, what, wall[#wall]))
  report(font_path ~= nil, "CJK font loaded from " .. tostring(font_path))
end

-- The voice NPC: what was sent is what the emulator heard, and every byte of reply audio (the echo
-- of each append, then the spoken answer) was queued to the source in order and played.
check_voice = function()
  local f = assert(io.open(test.wav, "rb"))
  f:seek("set", 44)
  local pcm = f:read(voice.sent)
  f:close()
  os.remove(test.wav)
  local heard = "<" .. voice.sent .. " bytes of audio>"
  local answer = "you said: " .. heard
  report(voice.sent > 8000 and voice.sent < 32000, "push-to-talk sent " .. voice.sent ..
    " of 32000 bytes of PCM while the key was held")
  report(voice.heard == heard, "voice NPC heard " .. tostring(voice.heard))
  report(voice:text() == answer, "voice NPC answered '" .. voice:text() .. "'")
  local queued = table.concat(test.voice_queued) .. voice.carry
  report(queued == pcm .. answer and voice.received == #queued,
    string.format("reply audio queued whole and in order (%d bytes received, %d queued to the source)",
      voice.received, voice.queued))
  report(voice.played == true, "queueable source playing the reply")
  local f2 = test.vcpu
  table.sort(f2)
  -- a turn is ~60 frames under xvfb: its p99 is its max, so the gate is the hitch limit
  report(#f2 > 0 and f2[#f2] < 4, string.format(
    "SDK time per frame during the voice turn max %.3f ms (thread CPU; goal < 4 ms; p50 %.3f ms; %d frames)",
    f2[#f2] or -1, percentile(f2, 0.5) or -1, #f2))
end

-- Non-background pixels in each bubble (its fill) and dark ones inside (the text).
local function check_screenshot(img)
  local iw, ih = img:getDimensions()
  local ok_bubbles = 0
  for i, npc in ipairs(npcs) do
    local r = npc.rect
    local filled, ink, area = 0, 0, 0
    for y = math.max(0, r[2]), math.min(ih - 1, r[2] + r[4] - 1) do
      for x = math.max(0, r[1]), math.min(iw - 1, r[1] + r[3] - 1) do
        local pr, pg, pb = img:getPixel(x, y)
        area = area + 1
        if math.abs(pr - BG[1]) + math.abs(pg - BG[2]) + math.abs(pb - BG[3]) > 0.1 then filled = filled + 1 end
        if pr + pg + pb < 1.2 then ink = ink + 1 end
      end
    end
    if filled > area * 0.8 and ink > 300 then
      ok_bubbles = ok_bubbles + 1
    else
      print(string.format("# bubble %d: %d of %d pixels filled, %d text pixels", i, filled, area, ink))
    end
  end
  report(ok_bubbles == #npcs, ok_bubbles .. " of " .. #npcs .. " bubbles drawn with text in the screenshot")
  local png = img:encode("png"):getString()
  local f = io.open(test.shot, "wb")
  report(f ~= nil, "screenshot written to " .. test.shot)
  if f then
    f:write(png)
    f:close()
  end
end

local function test_update(dt)
  local now = love.timer.getTime()
  if now - test.started > 30 then
    report(false, "replies not finished after 30 s")
    test.phase = "quit"
  end
  if test.phase == "talk" then
    local alive = 0
    for _, npc in ipairs(npcs) do
      local st = npc.task:status()
      if st ~= "done" and st ~= "failed" and st ~= "cancelled" then alive = alive + 1 end
    end
    if alive == 0 then
      check_replies()
      test.phase = "shoot"
    end
  elseif test.phase == "shot" then
    -- the text box: type a line to NPC 1 and send it; the reply continues its conversation
    test.conversation_id = npcs[1].conversation_id
    selected = 1
    love.textinput("你好，")
    love.textinput("村长")
    love.keypressed("backspace")
    love.keypressed("return")
    test.phase = "typed"
  elseif test.phase == "typed" then
    local st = npcs[1].task:status()
    if st ~= "ready" and st ~= "waiting" and st ~= "running" then
      local got = npcs[1].bubble:get()
      report(got == "You said: 你好，村" and npcs[1].conversation_id == test.conversation_id,
        "typed line answered in NPC 1's conversation: '" .. got .. "'")
      test.phase = "voice"
    end
  elseif test.phase == "voice" then
    -- push-to-talk: F1 held for 0.5 s of the 1 s file, then released
    love.keypressed("f1")
    test.voice_t0 = now
    test.phase = "voice_talk"
  elseif test.phase == "voice_talk" then
    if now - test.voice_t0 >= 0.5 then
      love.keyreleased("f1")
      test.phase = "voice_wait"
    end
  elseif test.phase == "voice_wait" then
    if voice.turns >= 1 and not voice.pending[voice.head] then
      check_voice()
      test.phase = "silent"
    elseif voice.task:status() == "failed" or (voice.sender and voice.sender:status() == "failed") then
      local t = voice.task:status() == "failed" and voice.task or voice.sender
      report(false, "voice NPC: " .. tostring(select(2, t:result())))
      test.phase = "silent"
    end
  elseif test.phase == "silent" then
    -- quitting with a stream open must not hang: this one stays silent for 20 s
    local silent = sched:spawn(function()
      local stream = assert(client.chat:stream { bot_id = "bot_love", user_id = "quitter",
        headers = { ["X-Emu-Fault"] = "stall;after=1;ms=20000" } })
      for _ in stream:events() do test.quit_stream = stream end
    end)
    test.silent = silent
    test.phase = "wait_silent"
  elseif test.phase == "wait_silent" then
    if test.quit_stream then test.phase = "quit" end
  elseif test.phase == "quit" then
    test.phase = "done"
    love.event.quit(test.failed == 0 and 0 or 1)
  end
end

-- LÖVE callbacks ---------------------------------------------------------------------------------

function love.load(args)
  setup_paths()
  coze = require "coze"
  voice_mod = require "voice"
  sched = coze.scheduler()
  fonts, font_path = load_fonts({ 16, 20 })
  love.keyboard.setKeyRepeat(true)
  W, H = love.graphics.getDimensions()
  for i = 1, #args do
    if args[i] == "--test" then
      local shot = "love-npc-test.png"
      for j = 1, #args do
        if args[j] == "--shot" then shot = args[j + 1] end
      end
      return start_test(assert(tonumber(args[i + 1]), "--test PORT"), shot)
    end
  end
  local token, bots = os.getenv("COZE_API_TOKEN"), os.getenv("COZE_BOT_ID")
  if not token or not bots then
    print("set COZE_API_TOKEN and COZE_BOT_ID (comma-separated for one bot per NPC)")
  end
  client = coze.new { token = token or "missing", base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }
  local ids = {}
  for id in (bots or "missing"):gmatch("[^,%s]+") do ids[#ids + 1] = id end
  local names = { "村长 Elder", "铁匠 Smith", "商人 Merchant" }
  local colors = { { 0.85, 0.65, 0.3 }, { 0.55, 0.55, 0.65 }, { 0.4, 0.7, 0.45 } }
  for i, name in ipairs(names) do add_npc(name, colors[i], ids[(i - 1) % #ids + 1]) end
  layout(#npcs)
  voice = voice_mod.new { client = client, sched = sched, wav = os.getenv("COZE_LOVE_WAV"),
    bot_id = os.getenv("COZE_VOICE_BOT_ID") or ids[1] }
end

-- The CPU time of this thread (ms), to tell the SDK's own cost from a busy machine's preemptions.
local thread_cpu_ms
do
  local ok, ffi = pcall(require, "ffi")
  if ok and ffi.os == "Linux" then
    pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } coze_timespec;"
      .. " int clock_gettime(int clk, coze_timespec *ts);")
    local ts = ffi.new("coze_timespec")
    thread_cpu_ms = function()
      ffi.C.clock_gettime(3, ts) -- CLOCK_THREAD_CPUTIME_ID
      return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end
  end
end

function love.update(dt)
  local t0 = love.timer.getTime()
  local c0 = test and thread_cpu_ms and thread_cpu_ms()
  local alive = sched:step(2) -- the SDK's share of this frame
  if voice then voice:update() end -- reply audio into OpenAL (outside the SDK's time)
  if test then
    if test.phase == "talk" and alive > 0 then
      test.frames[#test.frames + 1] = (love.timer.getTime() - t0) * 1000
      if c0 then test.cpu[#test.cpu + 1] = thread_cpu_ms() - c0 end
    elseif (test.phase == "voice_talk" or test.phase == "voice_wait") and c0 then
      test.vcpu[#test.vcpu + 1] = thread_cpu_ms() - c0
    end
    test_update(dt)
  end
end

local function draw_npc(i, npc)
  local cx, by = npc.x + npc.cw / 2, npc.y + npc.ch - 20
  love.graphics.setColor(npc.color)
  love.graphics.circle("fill", cx, by - 30, 26)
  love.graphics.setColor(1, 1, 1)
  love.graphics.setFont(fonts[1])
  love.graphics.printf(npc.name, npc.x, by, npc.cw, "center")
  if i == selected and not test then
    love.graphics.circle("line", cx, by - 30, 32)
  end
  -- the bubble: the last BUBBLE_LINES lines of the reply so far
  local bw = npc.cw - 24
  local font = fonts[1]
  local task = npc.task
  local text = npc.bubble:get()
  if task and task:status() == "failed" then
    text = text .. " (" .. tostring(select(2, task:result())) .. ")"
  end
  local _, lines = font:getWrap(text, bw - 16)
  local first = math.max(1, #lines - BUBBLE_LINES + 1)
  local shown = {}
  for k = first, #lines do shown[#shown + 1] = lines[k] end
  local lh = font:getHeight()
  local bh = math.max(1, #shown) * lh + 16
  local bx, byy = npc.x + 12, by - 70 - bh
  npc.rect = { math.floor(bx), math.floor(byy), math.floor(bw), math.floor(bh) }
  love.graphics.setColor(0.97, 0.96, 0.9)
  love.graphics.rectangle("fill", bx, byy, bw, bh, 8, 8)
  love.graphics.polygon("fill", cx - 8, byy + bh, cx + 8, byy + bh, cx, byy + bh + 12)
  love.graphics.setColor(0.1, 0.1, 0.12)
  love.graphics.print(table.concat(shown, "\n"), bx + 8, byy + 8)
end

function love.draw()
  love.graphics.clear(BG)
  for i, npc in ipairs(npcs) do draw_npc(i, npc) end
  if voice then voice:draw(fonts[1], 8, H - 122, W - 16) end
  -- the text box
  love.graphics.setColor(0.08, 0.1, 0.09)
  love.graphics.rectangle("fill", 0, H - 60, W, 60)
  love.graphics.setColor(1, 1, 1)
  love.graphics.setFont(fonts[2])
  local who = npcs[selected] and npcs[selected].name or "?"
  local caret = math.floor(love.timer.getTime() * 2) % 2 == 0 and "_" or ""
  love.graphics.print(who .. " <  " .. input .. caret, 16, H - 45)
  if not font_path then
    love.graphics.setColor(1, 0.5, 0.4)
    love.graphics.print("no CJK font: install fonts-wqy-microhei", 16, 8)
  end
  if test and test.phase == "shoot" then
    test.phase = "wait_shot"
    love.graphics.captureScreenshot(function(img)
      check_screenshot(img)
      test.phase = "shot"
    end)
  end
end

function love.textinput(t)
  input = input .. t
end

function love.keypressed(key)
  if key == "escape" then
    love.event.quit()
  elseif key == "f1" then
    if voice then voice:press() end
  elseif key == "tab" then
    selected = selected % #npcs + 1
  elseif key == "backspace" then
    local off = utf8.offset(input, -1)
    if off then input = input:sub(1, off - 1) end
  elseif key == "return" and input ~= "" and npcs[selected] then
    talk(npcs[selected], input)
    input = ""
  end
end

function love.keyreleased(key)
  if key == "f1" and voice then voice:release() end
end

function love.mousepressed(x, y)
  for i, npc in ipairs(npcs) do
    if x >= npc.x and x < npc.x + npc.cw and y >= npc.y and y < npc.y + npc.ch then selected = i end
  end
end

-- In test mode an error ends the run (LÖVE's own handler would wait for the window to close).
local default_errorhandler = love.errorhandler or love.errhand
function love.errorhandler(msg)
  if not test then return default_errorhandler(msg) end
  print("not ok - " .. tostring(msg):gsub("\n", " "))
  print(debug.traceback())
  io.stdout:flush()
  if sched then sched:close() end
  os.exit(1)
end

-- Closing the window cancels every reply still streaming: their connections close at once.
function love.quit()
  local t0 = love.timer.getTime()
  if sched then sched:close() end
  local ms = (love.timer.getTime() - t0) * 1000
  if client then client:close() end
  if test then
    local closed = test.quit_stream and test.quit_stream.finished
    report(closed and ms < 50, string.format("quit closed the open stream in %.2f ms", ms))
    print(test.failed == 0 and "# love test passed" or "# love test FAILED")
  end
  return false
end
