-- Chat v3: POST /v3/chat (JSON or SSE), retrieve, cancel, submit_tool_outputs, message/list.
-- Emulator knobs (request headers):
--   X-Emu-Reply: text        answer text (default "You said: " .. last user message, or "Hello");
--                            '"quoted"' values are JSON-decoded (nginx trims blanks), %XX is decoded
--   X-Emu-Deltas: N          number of conversation.message.delta events (N > #chars: each carries the whole answer)
--   X-Emu-Drip-Ms: ms        sleep + flush between events
--   X-Emu-Completed: short   the answer's conversation.message.completed carries the reply text once
--                            instead of the whole joined answer (keeps long streams' events small)
--   X-Emu-Poll-Steps: N      non-stream chats report in_progress for N retrieves (default 2)
-- Special bot ids: bot_requires_action, bot_failed, bot_never_done.
local util = require "emu.util"
local store = require "emu.store"
local auth = require "emu.auth_check"
local faults = require "emu.faults"
local cjson = util.json

local _M = {}

local FOLLOW_UP = "What else can you help me with?"
local VERBOSE = '{"msg_type":"generate_answer_finish","data":"{\\"finish_reason\\":0}","from_module":null,"from_unit":null}'
local REQUIRED_ACTION = {
  type = "submit_tool_outputs",
  submit_tool_outputs = {
    tool_calls = { {
      id = "call_1",
      type = "function",
      ["function"] = { name = "get_weather", arguments = '{"city":"Beijing"}' },
    } },
  },
}
local FAILED_ERROR = { code = 4013, msg = "模型错误" }
local SPECIAL_BOTS = { bot_requires_action = "requires_action", bot_failed = "failed", bot_never_done = "never" }

local function bad(msg) return util.fail(4000, "请求参数错误: " .. msg) end

local function body_or_fail()
  local body, err = util.body_json()
  if body == nil then return bad("body is not valid JSON (" .. tostring(err) .. ")") end
  if type(body) ~= "table" then return bad("body must be a JSON object") end
  return body
end

local function nonempty_string(v)
  if type(v) == "number" then v = string.format("%.0f", v) end
  return type(v) == "string" and v ~= "" and v or nil
end

-- Splits the answer into delta pieces. Returns pieces (array) or, when every delta carries the whole
-- answer, nil and the repeat count.
local function split_answer(answer, n)
  local cs = util.chars(answer)
  if n ~= nil and n <= 0 then return {} end
  if n ~= nil and n > #cs then return nil, n end
  return util.split_text(cs, n)
end

local function zero_usage() return { token_count = 0, output_count = 0, input_count = 0 } end

local function status_of(c)
  if c.canceled then return "canceled" end
  if c.final == "never" or (c.polls_left or 0) > 0 then return "in_progress" end
  return c.final
end

-- The public Chat object (ChatV3ChatDetail) of a stored chat in the given status.
local function chat_obj(c, status)
  local o = {
    id = c.id, conversation_id = c.conversation_id, bot_id = c.bot_id, created_at = c.created_at,
    meta_data = c.meta_data or {}, section_id = c.section_id, status = status,
    last_error = { code = 0, msg = "" }, usage = zero_usage(),
  }
  if status == "completed" then
    o.completed_at = c.completed_at or ngx.time()
    o.usage = { input_count = c.input_count, output_count = c.output_count,
                token_count = c.input_count + c.output_count }
  elseif status == "failed" then
    o.failed_at = c.failed_at or ngx.time()
    o.last_error = FAILED_ERROR
  elseif status == "requires_action" then
    o.required_action = REQUIRED_ACTION
  end
  return o
end

local function message(c, id, mtype, content)
  return {
    id = id, conversation_id = c.conversation_id, bot_id = c.bot_id, chat_id = c.id, section_id = c.section_id,
    role = "assistant", type = mtype, content = content, content_type = "text",
    created_at = c.completed_at or c.created_at, updated_at = c.completed_at or c.created_at,
    meta_data = {}, reasoning_content = "",
  }
end

local function full_text(c)
  if (c.reps or 1) > 1 then return string.rep(c.answer, c.reps) end
  return c.answer
end

-- Prepares a chat's answer (text, delta count, message ids, usage) from the emulator headers.
local function prepare_answer(c, answer)
  c.answer = answer
  c.deltas = tonumber(ngx.var.http_x_emu_deltas)
  c.reps = 1
  if c.deltas and c.deltas > 0 and c.deltas > #util.chars(answer) then c.reps = c.deltas end
  c.answer_msg_id, c.verbose_msg_id, c.follow_msg_id = store.new_id(), store.new_id(), store.new_id()
  c.output_count = math.max(1, math.floor(#answer * c.reps / 4))
  c.completed_at, c.failed_at = nil, nil
end

local function poll_steps()
  local n = tonumber(ngx.var.http_x_emu_poll_steps)
  if n and n >= 0 then return math.floor(n) end
  return 2
end

-- Marks a chat final now (stream case) and fills its timestamps.
local function finalize_now(c)
  c.polls_left = 0
  if c.final == "completed" then c.completed_at = ngx.time() end
  if c.final == "failed" then c.failed_at = ngx.time() end
end

-- Writes the whole chat event sequence for a stored chat (its `final` tells which ending).
local function stream_chat(c)
  local w = faults.sse_writer()
  if w.huge_bytes then
    c.answer, c.reps, c.deltas = string.rep("x", w.huge_bytes), 1, 1
  end
  w:event("conversation.chat.created", chat_obj(c, "created"))
  w:event("conversation.chat.in_progress", chat_obj(c, "in_progress"))
  if c.final == "requires_action" then
    w:event("conversation.chat.requires_action", chat_obj(c, "requires_action"))
    w:event("done", '"[DONE]"')
    return w:finish()
  elseif c.final == "failed" then
    w:event("conversation.chat.failed", chat_obj(c, "failed"))
    w:event("done", '"[DONE]"')
    return w:finish()
  end

  local msg = message(c, c.answer_msg_id, "answer", "")
  msg.created_at, msg.updated_at, msg.meta_data, msg.reasoning_content, msg.content = nil, nil, nil, nil, nil
  local pre = util.encode(msg):sub(1, -2) .. ',"content":'
  local pieces, reps = split_answer(c.answer, c.deltas)
  if pieces then
    for i = 1, #pieces do w:event_parts("conversation.message.delta", pre, cjson.encode(pieces[i]), "}") end
  else
    w:event_repeat("conversation.message.delta", pre .. cjson.encode(c.answer) .. "}", reps)
  end
  local completed = ngx.var.http_x_emu_completed == "short" and c.answer or full_text(c)
  w:event("conversation.message.completed", message(c, c.answer_msg_id, "answer", completed))
  w:event("conversation.message.completed", message(c, c.verbose_msg_id, "verbose", VERBOSE))
  w:event("conversation.chat.completed", chat_obj(c, "completed"))
  w:event("done", '"[DONE]"')
  return w:finish()
end

local function last_user_text(msgs)
  local text
  for _, m in ipairs(msgs) do
    if type(m) == "table" and (m.role == "user" or m.role == nil) and m.content ~= nil then
      text = type(m.content) == "string" and m.content or util.encode(m.content)
    end
  end
  return text
end

-- POST /v3/chat
local function create_chat()
  auth.check()
  local body = body_or_fail()
  local bot_id = nonempty_string(body.bot_id)
  if not bot_id then return bad("bot_id is required") end
  local user_id = nonempty_string(body.user_id)
  if not user_id then return bad("user_id is required") end
  local stream = body.stream == true
  local auto_save = body.auto_save_history ~= false
  if not stream and not auto_save then
    return util.fail(4007, "流false仅在自动保存为true时允许")
  end
  local msgs = body.additional_messages
  if msgs ~= nil and msgs ~= cjson.null and type(msgs) ~= "table" then
    return bad("additional_messages must be an array")
  end
  if type(msgs) ~= "table" then msgs = {} end
  if body.meta_data ~= nil and body.meta_data ~= cjson.null and type(body.meta_data) ~= "table" then
    return bad("meta_data must be an object")
  end

  local conv = store.conv_ensure(ngx.var.arg_conversation_id, { bot_id = bot_id })
  local user_text = last_user_text(msgs)
  local c = {
    id = store.new_id(), conversation_id = conv.id, bot_id = bot_id, user_id = user_id,
    created_at = ngx.time(), section_id = conv.last_section_id,
    meta_data = type(body.meta_data) == "table" and body.meta_data or {},
    final = SPECIAL_BOTS[bot_id] or "completed",
    input_count = math.max(1, math.floor(#(user_text or "") / 4)),
  }
  prepare_answer(c, util.header_text("x-emu-reply") or (user_text and ("You said: " .. user_text) or "Hello"))

  if stream then
    finalize_now(c)
    store.chat_put(c)
    return stream_chat(c)
  end
  c.polls_left = poll_steps()
  store.chat_put(c)
  return util.ok(chat_obj(c, "in_progress"))
end

-- Looks up the chat named by conversation_id + chat_id (query or body); sends 4000/4001 on failure.
local function find_chat(src)
  local conv_id = nonempty_string(src.conversation_id)
  local chat_id = nonempty_string(src.chat_id)
  if not conv_id then return bad("conversation_id is required") end
  if not chat_id then return bad("chat_id is required") end
  local c = store.chat_get(chat_id)
  if not c or c.conversation_id ~= conv_id then
    return util.fail(4001, "Invalid chat")
  end
  return c
end

local function query()
  return ngx.req.get_uri_args(20)
end

-- GET|POST /v3/chat/retrieve
local function retrieve_chat()
  auth.check()
  local c = find_chat(query())
  if not c.canceled and c.final ~= "never" and (c.polls_left or 0) > 0 then
    c.polls_left = c.polls_left - 1
    if c.polls_left == 0 then
      if c.final == "completed" then c.completed_at = ngx.time() end
      if c.final == "failed" then c.failed_at = ngx.time() end
    end
    store.chat_put(c)
  end
  return util.ok(chat_obj(c, status_of(c)))
end

-- POST /v3/chat/cancel
local function cancel_chat()
  auth.check()
  local body = body_or_fail()
  local c = find_chat(body)
  c.canceled = true
  store.chat_put(c)
  return util.ok(chat_obj(c, "canceled"))
end

-- POST /v3/chat/submit_tool_outputs
local function submit_tool_outputs()
  auth.check()
  local q = query()
  local body = body_or_fail()
  if not nonempty_string(q.conversation_id) then return bad("conversation_id is required") end
  if not nonempty_string(q.chat_id) then return bad("chat_id is required") end
  local outs = body.tool_outputs
  if type(outs) ~= "table" or outs[1] == nil then return bad("tool_outputs is required (non-empty array)") end
  for i, o in ipairs(outs) do
    if type(o) ~= "table" or not nonempty_string(o.tool_call_id) then
      return bad("tool_outputs[" .. (i - 1) .. "].tool_call_id is required")
    end
  end
  local c = find_chat(q)
  local st = status_of(c)
  if st ~= "requires_action" then
    return bad("chat " .. c.id .. " is not in status requires_action (status: " .. st .. ")")
  end
  local first = outs[1].output
  if type(first) ~= "string" then first = first == nil and "" or util.encode(first) end
  c.final = "completed"
  prepare_answer(c, util.header_text("x-emu-reply") or ("Tool said: " .. first))
  if body.stream == true then
    finalize_now(c)
    store.chat_put(c)
    return stream_chat(c)
  end
  c.polls_left = poll_steps()
  store.chat_put(c)
  return util.ok(chat_obj(c, "in_progress"))
end

-- GET /v3/chat/message/list: bare array of the chat's messages.
local function list_messages()
  auth.check()
  local c = find_chat(query())
  local st = status_of(c)
  local items = {}
  if st == "completed" then
    items[1] = util.encode(message(c, c.answer_msg_id, "answer", full_text(c)))
    items[2] = util.encode(message(c, c.verbose_msg_id, "verbose", VERBOSE))
    items[3] = util.encode(message(c, c.follow_msg_id, "follow_up", FOLLOW_UP))
  elseif st == "requires_action" then
    local m = message(c, c.answer_msg_id, "function_call",
      util.encode({ name = "get_weather", arguments = { city = "Beijing" }, plugin_id = "7390029769850000100",
                    api_id = "7390029769850000101", plugin_type = 1, thought = "" }))
    items[1] = util.encode(m)
  end
  return util.ok_raw("[" .. table.concat(items, ",") .. "]")
end

_M.routes = {
  { "POST", "/v3/chat", create_chat },
  { "GET", "/v3/chat/retrieve", retrieve_chat },
  { "POST", "/v3/chat/retrieve", retrieve_chat },
  { "POST", "/v3/chat/cancel", cancel_chat },
  { "POST", "/v3/chat/submit_tool_outputs", submit_tool_outputs },
  { "GET", "/v3/chat/message/list", list_messages },
  { "POST", "/v3/chat/message/list", list_messages },
}

-- Exposed for future handlers (chatflow) that emit the same chat-style stream.
_M.split_answer = split_answer
_M.stream_chat = stream_chat
_M.chat_obj = chat_obj

return _M
