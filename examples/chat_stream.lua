-- Streams a chat and prints the answer as it arrives.
--   COZE_API_TOKEN, COZE_BOT_ID [, COZE_API_BASE] select the service (make demo points them at the
--   local emulator when no token is set).
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"

local token = assert(os.getenv("COZE_API_TOKEN"), "set COZE_API_TOKEN")
local bot_id = assert(os.getenv("COZE_BOT_ID"), "set COZE_BOT_ID")
local question = arg[1] or "早上好, tell me a short story"

local client = coze.new { token = token, base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }

local stream, err = client.chat:stream {
  bot_id = bot_id,
  user_id = "lua-coze-demo",
  additional_messages = { coze.message.user_text(question) },
}
if not stream then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

io.write("> ", question, "\n")
for ev in stream:events() do
  if ev.event == "conversation.message.delta" then
    io.write(ev.data.content)
    io.flush()
  elseif ev.event == "conversation.chat.completed" then
    local usage = ev.data.usage or {}
    io.write("\n[completed: ", tostring(usage.token_count or "?"), " tokens, logid ", stream.logid or "?", "]\n")
  elseif ev.event == "conversation.chat.failed" then
    io.write("\n[failed: ", tostring(ev.data.last_error and ev.data.last_error.msg), "]\n")
  end
end
client:close()
