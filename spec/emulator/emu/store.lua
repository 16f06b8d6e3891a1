-- Emulator state kept in ngx.shared.emu (survives across requests, cleared by POST /__emu/reset).
--   conv:<id>  JSON of a conversation (the exact `data` object returned by the API)
--   chat:<id>  JSON of a chat record (public Chat fields + emulator bookkeeping, see chat.lua)
--   id:seq     counter behind new_id()
local cjson = require "cjson.safe"

local _M = {}
local dict = ngx.shared.emu

-- Ids look like the real ones: 19 decimal digits, e.g. "7390029769854844001".
-- The counter stays far below 2^53 so it is exact in a shared-dict number.
local ID_BASE = 29769854844000
function _M.new_id()
  local n = dict:incr("id:seq", 1, ID_BASE)
  return string.format("73900%014d", n)
end

function _M.now()
  return ngx.time()
end

-- Conversations --------------------------------------------------------------

-- Creates a conversation and returns its data table (id, created_at, updated_at, meta_data, last_section_id, ...).
function _M.conv_create(fields, id)
  fields = fields or {}
  local now = ngx.time()
  local conv = {
    id = id or _M.new_id(),
    created_at = now,
    updated_at = now,
    meta_data = type(fields.meta_data) == "table" and fields.meta_data or {},
    last_section_id = nil,
    connector_id = "1024",
    creator_id = "7390029769850000001",
    name = type(fields.name) == "string" and fields.name or "",
  }
  conv.last_section_id = conv.id
  if type(fields.bot_id) == "string" then conv.bot_id = fields.bot_id end
  dict:set("conv:" .. conv.id, cjson.encode(conv))
  return conv
end

-- The stored JSON text of a conversation, or nil.
function _M.conv_raw(id)
  if not id or id == "" then return nil end
  return (dict:get("conv:" .. id))
end

function _M.conv_get(id)
  local raw = _M.conv_raw(id)
  return raw and cjson.decode(raw) or nil
end

-- Returns the conversation, registering ids the emulator has not seen (lenient, like an implicit create).
function _M.conv_ensure(id, fields)
  if id and id ~= "" then
    local c = _M.conv_get(id)
    if c then return c end
    return _M.conv_create(fields, id)
  end
  return _M.conv_create(fields)
end

-- Chats ----------------------------------------------------------------------

function _M.chat_put(chat)
  local ok, err = dict:set("chat:" .. chat.id, cjson.encode(chat))
  if not ok then ngx.log(ngx.ERR, "emu store: cannot save chat ", chat.id, ": ", err) end
  return chat
end

function _M.chat_get(id)
  if not id or id == "" then return nil end
  local raw = dict:get("chat:" .. id)
  return raw and cjson.decode(raw) or nil
end

return _M
