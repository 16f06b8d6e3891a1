-- Builders for chat messages (additional_messages, conversations:create's messages,
-- conversations.messages:create) and for the content items of multimodal (object_string) messages.
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

-- Content items (the object_string object of the API), as coze-py's MessageObjectString builds them:
-- text("...") and image/file/audio of a file id (a string) or of { file_id = ... } / { file_url = ... }.
function _M.text(s)
  if type(s) ~= "string" then error("coze.message.text: expected a string, got " .. type(s), 2) end
  return { type = "text", text = s }
end

local function file_item(kind)
  return function(ref)
    if type(ref) == "string" and ref ~= "" then return { type = kind, file_id = ref } end
    if type(ref) == "table" and ((ref.file_id ~= nil) ~= (ref.file_url ~= nil)) then
      return { type = kind, file_id = ref.file_id, file_url = ref.file_url }
    end
    error("coze.message." .. kind .. ": expected a file id, { file_id = ... } or { file_url = ... }", 2)
  end
end
_M.image = file_item("image")
_M.file = file_item("file")
_M.audio = file_item("audio")

-- A multimodal user message: items is a list of content items (above); the API wants them as a JSON
-- array text, which this encodes (a table given as content of an object_string message elsewhere is
-- encoded the same way when the call is sent).
function _M.user_object(items)
  if type(items) ~= "table" or (next(items) ~= nil and items[1] == nil) then
    error("coze.message.user_object: items must be a list of content items, like "
      .. "{ coze.message.text(\"...\"), coze.message.image(file_id) }", 2)
  end
  return { role = "user", content = next(items) == nil and "[]" or assert(json.encode(items)),
    content_type = "object_string" }
end

return _M
