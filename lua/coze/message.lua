-- Builders for additional_messages entries.
local json = require "coze.json"

local _M = {}

local function text(role, content)
  if type(content) ~= "string" then
    error("coze.message: content must be a string, got " .. type(content), 3)
  end
  return { role = role, content = content, content_type = "text" }
end

function _M.user_text(content) return text("user", content) end
function _M.assistant_text(content) return text("assistant", content) end

-- Multimodal content: items like { type = "text", text = "..." }, { type = "image", file_id = "..." }.
function _M.user_object(items)
  if type(items) ~= "table" then
    error("coze.message: items must be a table, got " .. type(items), 2)
  end
  return { role = "user", content = assert(json.encode(items)), content_type = "object_string" }
end

return _M
