-- Conversations: POST /v1/conversation/create, GET /v1/conversation/retrieve.
local util = require "emu.util"
local store = require "emu.store"
local auth = require "emu.auth_check"
local cjson = util.json

local _M = {}

local function bad(msg) return util.fail(4000, "请求参数错误: " .. msg) end

local function create()
  auth.check()
  local body, err = util.body_json()
  if body == nil then return bad("body is not valid JSON (" .. tostring(err) .. ")") end
  if type(body) ~= "table" then return bad("body must be a JSON object") end
  if body.bot_id ~= nil and body.bot_id ~= cjson.null and type(body.bot_id) ~= "string" then
    return bad("bot_id must be a string")
  end
  if body.meta_data ~= nil and body.meta_data ~= cjson.null and type(body.meta_data) ~= "table" then
    return bad("meta_data must be an object")
  end
  if body.messages ~= nil and body.messages ~= cjson.null and type(body.messages) ~= "table" then
    return bad("messages must be an array")
  end
  local conv = store.conv_create({ bot_id = body.bot_id, meta_data = body.meta_data, name = body.name })
  return util.ok_raw(store.conv_raw(conv.id))
end

-- Hot path (benchmarks run thousands in a row): the stored JSON is spliced into the envelope as is.
local function retrieve()
  auth.check()
  local raw = store.conv_raw(ngx.var.arg_conversation_id)
  if not raw then return util.fail(4002, "invalid conversation") end
  return util.ok_raw(raw)
end

_M.routes = {
  { "POST", "/v1/conversation/create", create },
  { "GET", "/v1/conversation/retrieve", retrieve },
}

return _M
