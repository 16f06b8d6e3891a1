-- Drives several chat streams at once from one Lua state, the way a game or app loop would:
-- each stream lives in a coroutine, every call has wait_ms = 0 and on_wait = coroutine.yield.
--   COZE_API_TOKEN, COZE_BOT_ID [, COZE_API_BASE]
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"

local client = coze.new { token = assert(os.getenv("COZE_API_TOKEN"), "set COZE_API_TOKEN"),
  base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }
local bot_id = assert(os.getenv("COZE_BOT_ID"), "set COZE_BOT_ID")

local questions = { "one", "two", "three", "four" }
local answers, tasks = {}, {}
for i, q in ipairs(questions) do
  tasks[i] = coroutine.create(function()
    local stream = assert(client.chat:stream { bot_id = bot_id, user_id = "player" .. i,
      additional_messages = { coze.message.user_text(q) }, wait_ms = 0, on_wait = coroutine.yield })
    local parts = {}
    for ev in stream:events() do
      if ev.event == "conversation.message.delta" then parts[#parts + 1] = ev.data.content end
    end
    answers[i] = table.concat(parts)
  end)
end

local frames = 0
repeat -- the "frame loop": one resume per task per frame
  local alive = 0
  for _, co in ipairs(tasks) do
    if coroutine.status(co) ~= "dead" then
      assert(coroutine.resume(co))
      alive = alive + 1
    end
  end
  frames = frames + 1
until alive == 0
for i, q in ipairs(questions) do print(q .. " -> " .. answers[i]) end
print(frames .. " frames")
