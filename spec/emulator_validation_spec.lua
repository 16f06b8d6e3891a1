-- The emulator rejects what Coze rejects (emu/validate.lua): requests of catalog operations whose
-- body, query or headers do not match the catalog's types get Coze's 4000 envelope naming the field.
-- Sent as raw HTTP, so nothing of the SDK's request building is involved.
local cjson = require "cjson"
local emu = require "helpers.emu"

local function send(method, path, body, headers)
  local h = { "Authorization: Bearer pat_test" }
  for _, x in ipairs(headers or {}) do h[#h + 1] = x end
  return emu.raw(method, path, body, h)
end

-- Asserts the Coze parameter error: HTTP 200, code 4000, msg naming the field, logid in body and header.
local function rejects(field, method, path, body, headers)
  local status, text, hdrs = send(method, path, body, headers)
  assert.equal(200, status)
  local res = cjson.decode(text)
  assert.equal(4000, res.code, text)
  assert.matches("请求参数错误: " .. field:gsub("[%[%]%.%-]", "%%%0"), res.msg)
  assert.is_string(res.detail.logid)
  assert.equal(res.detail.logid, hdrs["x-tt-logid"])
  return res.msg
end

local function accepts(method, path, body, headers)
  local status, text = send(method, path, body, headers)
  local res = text:sub(1, 1) == "{" and cjson.decode(text) or {}
  assert.is_true(status == 200 and res.code ~= 4000, text)
end

local CHAT = '{"bot_id":"7390029769854844001","user_id":"u1","stream":false,"auto_save_history":true%s}'
local function chat(extra) return CHAT:format(extra) end

describe("the emulator's request validation", function()
  it("accepts a well-formed chat", function()
    accepts("POST", "/v3/chat", chat(',"additional_messages":[{"role":"user","type":"question",'
      .. '"content":"hi","content_type":"text"}]'))
  end)

  it("rejects an object where the catalog types an array, empty or not", function()
    local msg = rejects("additional_messages", "POST", "/v3/chat", chat(',"additional_messages":{}'))
    assert.matches("must be an array, got an object", msg)
    rejects("additional_messages", "POST", "/v3/chat",
      chat(',"additional_messages":{"role":"user","content":"x","content_type":"text"}'))
    accepts("POST", "/v3/chat", chat(',"additional_messages":[]'))
  end)

  it("rejects a number where the catalog types a string id", function()
    local msg = rejects("bot_id", "POST", "/v3/chat", '{"bot_id":7.3900297698548e+18,"user_id":"u1"}')
    assert.matches("must be a string, got a number", msg)
    rejects("document_ids[1]", "POST", "/open_api/knowledge/document/delete", '{"document_ids":[7390029769854844001]}',
      { "Agw-Js-Conv: str" })
  end)

  it("rejects object_string content that is not a JSON array text", function()
    local m = '{"role":"user","type":"question","content_type":"object_string","content":%s}'
    rejects("additional_messages[1].content", "POST", "/v3/chat",
      chat(',"additional_messages":[' .. m:format('[{"type":"text","text":"hi"}]') .. ']'))
    rejects("additional_messages[1].content", "POST", "/v3/chat",
      chat(',"additional_messages":[' .. m:format('"not json"') .. ']'))
    accepts("POST", "/v3/chat",
      chat(',"additional_messages":[' .. m:format(cjson.encode('[{"type":"text","text":"hi"}]')) .. ']'))
    rejects("content", "POST", "/v1/conversation/message/create?conversation_id=c1",
      '{"role":"user","content_type":"object_string","content":{"type":"text"}}')
  end)

  it("rejects a missing required field, nested ones included", function()
    assert.matches("user_id is required", rejects("user_id", "POST", "/v3/chat", '{"bot_id":"b1"}'))
    rejects("tool_outputs[1].tool_call_id", "POST", "/v3/chat/submit_tool_outputs?conversation_id=c1&chat_id=x",
      '{"tool_outputs":[{"output":"o"}]}')
  end)

  it("rejects a missing required query parameter and a non-integer one", function()
    rejects("workspace_id is required", "GET", "/v1/bots")
    rejects("page_num must be an integer", "GET", "/v1/bots?workspace_id=w1&page_num=two")
  end)

  it("rejects a knowledge document operation without Agw-Js-Conv: str", function()
    local body = '{"document_ids":["1"]}'
    local msg = rejects("header Agw-Js-Conv", "POST", "/open_api/knowledge/document/delete", body)
    assert.matches("Agw%-Js%-Conv: str", msg)
    rejects("header Agw-Js-Conv must be str", "POST", "/open_api/knowledge/document/delete", body,
      { "Agw-Js-Conv: num" })
    accepts("POST", "/open_api/knowledge/document/delete", body, { "Agw-Js-Conv: str" })
  end)

  it("rejects a body that is not JSON or not an object", function()
    rejects("body is not valid JSON", "POST", "/v3/chat", '{"bot_id":')
    rejects("body must be a JSON object", "POST", "/v3/chat", '["x"]')
  end)

  it("checks docs-only operations against params.tsv, nested tables included", function()
    rejects("data[1].keyword", "PUT", "/v1/variables", '{"connector_uid":"u","data":[{"value":"v"}]}')
    rejects("update_rule.update_type", "POST", "/open_api/knowledge/document/update",
      '{"document_id":"1","update_rule":{"update_type":"1"}}', { "Agw-Js-Conv: str" })
  end)

  it("does not require what the spec marks required but every official SDK omits", function()
    accepts("POST", "/v1/workflows/chat", '{"workflow_id":"w1","additional_messages":[{"role":"user",'
      .. '"content":"hi","content_type":"text"}]}')
    accepts("POST", "/open_api/knowledge/document/create", '{"dataset_id":"1","document_bases":[{"name":"d",'
      .. '"source_info":{"file_base64":"eA==","file_type":"txt"}}]}', { "Agw-Js-Conv: str" })
  end)

  it("answers 401 before looking at the parameters", function()
    assert.equal(401, (emu.raw("POST", "/v3/chat", "{}")))
  end)
end)
