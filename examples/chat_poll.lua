-- Asks a bot without streaming: creates the chat, polls until it finishes, prints the answer.
--   COZE_API_TOKEN, COZE_BOT_ID [, COZE_API_BASE]
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"

local client = coze.new { token = assert(os.getenv("COZE_API_TOKEN"), "set COZE_API_TOKEN"),
  base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }

local res, err = client.chat:create_and_poll {
  bot_id = assert(os.getenv("COZE_BOT_ID"), "set COZE_BOT_ID"),
  user_id = "lua-coze-example",
  additional_messages = { coze.message.user_text(arg[1] or "What can you do?") },
  poll_interval_ms = 500,
  poll_timeout_ms = 60000,
}
if not res then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print("status: " .. res.chat.status)
for _, m in ipairs(res.messages or {}) do
  if m.type == "answer" then print(m.content) end
end
