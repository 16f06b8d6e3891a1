-- What coze.log's records say of a transport's timings, for the same calls on libcurl (busted) and
-- on cosockets (spec/openresty/app.lua's /logged): a JSON call, then a chat stream read to its end.
local coze = require "coze"

local _M = {}

local FIELDS = { "connect_ms", "first_byte_ms", "total_ms", "bytes", "reused" }

-- run(base_url) -> { { event, connect_ms, first_byte_ms, total_ms, bytes, reused }... }
function _M.run(base_url)
  local records = {}
  local c = coze.new { token = "pat_test", base_url = base_url, max_retries = 0,
    logger = function(r) records[#records + 1] = r end }
  assert(c.conversations:create {})
  local s = assert(c.chat:stream { bot_id = "b", user_id = "u", additional_messages = {
    coze.message.user_text("hello") }, headers = { ["X-Emu-Drip-Ms"] = "20" } })
  for _ in s:events() do end
  c:close()
  local out = {}
  for i, r in ipairs(records) do
    local o = { event = r.event, op = r.op }
    for _, k in ipairs(FIELDS) do o[k] = r[k] end
    out[i] = o
  end
  return out
end

return _M
