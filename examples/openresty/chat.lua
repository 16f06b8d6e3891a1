-- GET /chat?q=...&user=...: the bot's answer streamed to the browser as SSE, event by event.
local coze = require "coze"
local relay = require("coze.ngx").relay

local _M = {}

function _M.handle()
  local client = coze.new { token = os.getenv("COZE_API_TOKEN"), base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }
  local stream, err = client.chat:stream {
    bot_id = ngx.var.arg_bot or os.getenv("COZE_BOT_ID"), user_id = ngx.var.arg_user or "web",
    additional_messages = { coze.message.user_text(ngx.unescape_uri(ngx.var.arg_q or "hello")) },
    cancel_on_close = true, -- the browser left: relay closes the stream, and the chat is canceled
  }
  if not stream then
    ngx.status = 502
    ngx.say(tostring(err))
    return
  end
  local n, rerr = relay(stream)
  if not n then ngx.log(ngx.WARN, "chat relay: ", tostring(rerr)) end
end

return _M
