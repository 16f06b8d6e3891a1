-- OpenAI-style chat completions: POST /v1/chat/completions (auth.md section 6).
-- Body: model*, messages* (non-empty), stream, stream_options.include_usage. The answer is
-- "You said: <last user message>" (or X-Emu-Reply), split like chat deltas (X-Emu-Deltas).
-- Non-stream: the bare OpenAI object (no Coze envelope). Stream: data-only records (chat.completion.chunk)
-- ending with `data: [DONE]`, through the shared writer so stream faults apply (no_done drops [DONE]).
-- Errors are OpenAI-style: HTTP 400 {"error":{"message","type","param","code"}}; model "model_not_found"
-- -> 404. X-Request-Id is echoed in the response; the same X-Idempotency-Key answers the same id.
local util = require "emu.util"
local auth = require "emu.auth_check"
local faults = require "emu.faults"
local cjson = util.json

local _M = {}
local dict = ngx.shared.emu

local function oai_error(status, msg, code, param)
  util.request_logid()
  return util.send_json(status, { error = { message = msg, type = "invalid_request_error", param = param or cjson.null,
    code = code or cjson.null } })
end

local function text_of(content)
  if type(content) == "string" then return content end
  if type(content) == "table" then
    local out = {}
    for _, part in ipairs(content) do
      if type(part) == "table" and part.type == "text" and type(part.text) == "string" then out[#out + 1] = part.text end
    end
    return table.concat(out)
  end
  return ""
end

local function answer(messages)
  local reply = util.header_text("x-emu-reply")
  if reply then return reply end
  for i = #messages, 1, -1 do
    local m = messages[i]
    if type(m) == "table" and m.role == "user" then return "You said: " .. text_of(m.content) end
  end
  return "Hello"
end

local function pieces(text)
  local cs = util.chars(text)
  local n = tonumber(ngx.var.http_x_emu_deltas)
  if not n or n < 1 then n = nil elseif n > #cs then n = math.max(1, #cs) end
  return util.split_text(cs, n)
end

local function completion_id()
  local key = ngx.var.http_x_idempotency_key
  if key and key ~= "" then
    local id = dict:get("idem:" .. key)
    if id then return id, true end
  end
  local id = string.format("chatcmpl-emu%08d", dict:incr("chatcmpl:seq", 1, 0))
  if key and key ~= "" then dict:set("idem:" .. key, id) end
  return id, false
end

local function handler()
  auth.check()
  local body = util.body_json()
  if type(body) ~= "table" then return oai_error(400, "the body is not a JSON object", "invalid_json") end
  if type(body.model) ~= "string" or body.model == "" then
    return oai_error(400, "you must provide a model parameter", "missing_required_parameter", "model")
  end
  if type(body.messages) ~= "table" or body.messages[1] == nil then
    return oai_error(400, "'messages' must be a non-empty array", "invalid_value", "messages")
  end
  if body.model == "model_not_found" then
    return oai_error(404, "The model `" .. body.model .. "` does not exist", "model_not_found", "model")
  end
  local rid = ngx.var.http_x_request_id
  if rid then ngx.header["X-Request-Id"] = rid end
  local id, replayed = completion_id()
  if replayed then ngx.header["X-Emu-Idempotent-Replay"] = "1" end
  local text = answer(body.messages)
  local created = ngx.time()
  local usage = { prompt_tokens = 12, completion_tokens = #util.chars(text), total_tokens = 12 + #util.chars(text) }
  if body.stream ~= true then
    util.request_logid()
    return util.send_json(200, {
      id = id, object = "chat.completion", created = created, model = body.model,
      choices = { { index = 0, message = { role = "assistant", content = text }, finish_reason = "stop" } },
      usage = usage,
    })
  end
  local w = faults.sse_writer()
  local head = "data" .. w.colon
  local function frame(tbl)
    return w:_emit(head .. util.encode(tbl) .. w.tail)
  end
  local function chunk(delta, finish)
    return frame({ id = id, object = "chat.completion.chunk", created = created, model = body.model,
      choices = { { index = 0, delta = delta, finish_reason = finish or cjson.null } } })
  end
  chunk({ role = "assistant", content = "" })
  for _, p in ipairs(pieces(text)) do chunk({ content = p }) end
  chunk({}, "stop")
  if type(body.stream_options) == "table" and body.stream_options.include_usage == true then
    frame({ id = id, object = "chat.completion.chunk", created = created, model = body.model,
      choices = cjson.empty_array or {}, usage = usage })
  end
  if not w.no_done then
    if w.eof_no_newline then w:_emit(head .. "[DONE]") else w:_emit(head .. "[DONE]" .. w.tail) end
  end
  return w:finish()
end

_M.routes = {
  { "POST", "/v1/chat/completions", handler },
}

return _M
