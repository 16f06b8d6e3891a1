-- Workflows: runs (sync and async), run histories, streamed runs with Interrupt/resume, the
-- non-streaming resume and the chatflow (/v1/workflows/chat, chat-style events).
--
-- Special workflow_ids:
--   wf_interrupt       stream_run: Message (question node "问答"), then Interrupt {interrupt_data:
--                      {event_id, type = 2, data = ""}} and the end of the body (no Done, as in the docs);
--                      with `X-Emu-Interrupt-Done: 1` a Done follows. stream_resume with that event_id
--                      answers "收到: <resume_data>" and Done; resume_data "again" interrupts once more.
--                      A used or unknown event_id -> 4315 / 4314 (JSON, before any event).
--   wf_error           stream_run: one Message, then Error {error_code = 720702011, error_message}
--                      (no Done); async run history ends "Fail"; chatflow: `error` event {code, msg}.
--   wf_ping            stream_run: PING records (empty data) between the messages, an unknown event
--                      `NodeProgress` (JSON) and an unknown event `Trace` with a non-JSON payload.
--   wf_never_done      async run: stays "Running".
--   wf_not_published   every run: 4200 JSON error (before any event).
-- Headers: X-Emu-Reply (the output text), X-Emu-Deltas (number of Message pieces; above the text's
-- length: the whole text that many times, records without id lines, for the bench), X-Emu-Pings: N
-- (PING records after the first message, any workflow), X-Emu-Poll-Steps: N (async: run histories
-- report Running N times, default 2). Every stream goes through faults.sse_writer().
local util = require "emu.util"
local store = require "emu.store"
local auth = require "emu.auth_check"
local faults = require "emu.faults"
local cjson = util.json

local _M = {}
local dict = ngx.shared.emu

local DEFAULT_OUTPUT = "为什么小明要带一把尺子去看电影？因为他听说电影很长，怕坐不下！"
local QUESTION = "请问你想查看哪个城市、哪一天的天气呢"
local SPACE_ID = "7498204883280400001"

local function bad(msg) return util.fail(4000, "请求参数错误: " .. msg) end

local function header(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = v[1] end
  return v
end

local function body_or_fail(required)
  local body = util.body_json()
  if type(body) ~= "table" then return bad("body is not a JSON object") end
  for _, k in ipairs(required) do
    local v = body[k]
    if v == nil or v == "" or v == cjson.null then return bad("field '" .. k .. "' is required") end
  end
  if body.workflow_id == "wf_not_published" then return util.fail(4200, "资源未找到: workflow never published") end
  return body
end

local function debug_url(workflow_id, execute_id)
  return "https://www.coze.cn/work_flow?execute_id=" .. execute_id .. "&space_id=" .. SPACE_ID ..
    "&workflow_id=" .. tostring(workflow_id) .. "&execute_mode=2"
end

local function output_text(body)
  local reply = util.header_text("x-emu-reply")
  if reply then return reply end
  local p = type(body.parameters) == "table" and body.parameters or {}
  if type(p.input) == "string" and p.input ~= "" then return "You said: " .. p.input end
  return DEFAULT_OUTPUT
end

local function pieces(text)
  local cs = util.chars(text)
  local n = tonumber(header("x-emu-deltas"))
  if not n or n < 1 then n = math.max(1, math.ceil(#cs / 4)) end
  if n > #cs then n = math.max(1, #cs) end
  return util.split_text(cs, n)
end

local function usage() return { input_count = 50, output_count = 100, token_count = 150 } end

-- Streams ----------------------------------------------------------------------

local function stream_writer()
  local w = faults.sse_writer()
  w.next_id = 0
  function w:record(name, data)
    local id = self.next_id
    self.next_id = id + 1
    return self:event(name, data, id)
  end
  return w
end

local function pings(w, n)
  for _ = 1, n do w:record("PING", "") end
end

local function messages(w, text, node_title)
  local n = tonumber(header("x-emu-deltas"))
  if n and n > #util.chars(text) then -- the bench's big streams: the whole text n times, batched
    w:event_repeat("Message", util.encode({ content = text, content_type = "text", node_is_finish = false,
      node_seq_id = "0", node_title = node_title or "Message", node_id = "900001" }), n)
    return
  end
  local ps = pieces(text)
  local extra_pings = tonumber(header("x-emu-pings")) or 0
  for i, p in ipairs(ps) do
    w:record("Message", { content = p, content_type = "text", node_is_finish = i == #ps,
      node_seq_id = tostring(i - 1), node_title = node_title or "Message", node_id = "900001" })
    if i == 1 and extra_pings > 0 then pings(w, extra_pings) end
  end
end

local function new_interrupt(w, workflow_id, execute_id)
  local n = dict:incr("wfint:seq", 1, 0)
  local event_id = execute_id .. "/63020599195167" .. string.format("%05d", n)
  dict:set("wfint:" .. event_id, cjson.encode({ workflow_id = workflow_id, execute_id = execute_id }))
  w:record("Message", { content = QUESTION, content_type = "text", node_is_finish = true, node_seq_id = "0",
    node_title = "问答" })
  w:record("Interrupt", { interrupt_data = { data = "", event_id = event_id, type = 2 }, node_title = "问答" })
  if header("x-emu-interrupt-done") == "1" then w:record("Done", { debug_url = debug_url(workflow_id, execute_id) }) end
  w:finish()
end

local function done(w, workflow_id, execute_id)
  w:record("Message", { content = util.encode({ output = w.output }), cost = "0.00", node_is_finish = true,
    node_seq_id = "0", node_title = "End", token = 0 })
  w:record("Done", { debug_url = debug_url(workflow_id, execute_id) })
  w:finish()
end

local function stream_run()
  auth.check()
  local body = body_or_fail({ "workflow_id" })
  local wid = body.workflow_id
  local execute_id = store.new_id()
  local w = stream_writer()
  if wid == "wf_interrupt" then return new_interrupt(w, wid, execute_id) end
  local text = output_text(body)
  if wid == "wf_error" then
    w:record("Message", { content = "partial", node_is_finish = false, node_seq_id = "0", node_title = "Message" })
    w:record("Error", { error_code = 720702011, error_message = "工作流执行失败: the code node raised an error" })
    return w:finish()
  end
  if wid == "wf_ping" then
    w:record("PING", "")
    local ps = pieces(text)
    for i, p in ipairs(ps) do
      w:record("Message", { content = p, node_is_finish = i == #ps, node_seq_id = tostring(i - 1), node_title = "Message" })
      w:record("PING", "")
    end
    w:record("NodeProgress", { node_id = "900001", progress = 50 })
    w:record("Trace", "plain text, not JSON")
  else
    messages(w, text)
  end
  w.output = text
  return done(w, wid, execute_id)
end

local function take_interrupt(body)
  local key = "wfint:" .. tostring(body.event_id)
  local raw = dict:get(key)
  if raw == "used" then return util.fail(4315, "执行已结束") end
  local rec = raw and cjson.decode(raw)
  if not rec or rec.workflow_id ~= body.workflow_id then return util.fail(4314, "未找到执行记录") end
  if tonumber(body.interrupt_type) ~= 2 then return bad("interrupt_type must be 2 for this event") end
  dict:set(key, "used")
  return rec
end

local function stream_resume()
  auth.check()
  local body = body_or_fail({ "workflow_id", "event_id", "interrupt_type", "resume_data" })
  local rec = take_interrupt(body)
  local w = stream_writer()
  if body.resume_data == "again" then return new_interrupt(w, body.workflow_id, rec.execute_id) end
  local text = "收到: " .. tostring(body.resume_data)
  messages(w, text)
  w.output = text
  return done(w, body.workflow_id, rec.execute_id)
end

-- JSON runs ----------------------------------------------------------------------

local function send_run(fields)
  fields.code, fields.msg = 0, ""
  fields.detail = { logid = util.request_logid() }
  return util.send_json(200, fields)
end

local function run()
  auth.check()
  local body = body_or_fail({ "workflow_id" })
  local wid = body.workflow_id
  local execute_id = store.new_id()
  if body.is_async == true then
    local final = wid == "wf_error" and "Fail" or (wid == "wf_never_done" and "never" or "Success")
    local steps = tonumber(header("x-emu-poll-steps")) or 2
    dict:set("wfrun:" .. execute_id, cjson.encode({ workflow_id = wid, final = final, polls_left = steps,
      output = util.encode({ output = output_text(body) }), created = ngx.time() }))
    return send_run({ execute_id = execute_id, debug_url = debug_url(wid, execute_id) })
  end
  if wid == "wf_error" then return util.fail(720702011, "工作流执行失败: the code node raised an error") end
  return send_run({ data = util.encode({ output = output_text(body) }), execute_id = execute_id,
    debug_url = debug_url(wid, execute_id), usage = usage() })
end

local function resume()
  auth.check()
  local body = body_or_fail({ "workflow_id", "event_id", "interrupt_type", "resume_data" })
  local rec = take_interrupt(body)
  return send_run({ data = util.encode({ output = "收到: " .. tostring(body.resume_data) }),
    execute_id = rec.execute_id, debug_url = debug_url(body.workflow_id, rec.execute_id), usage = usage() })
end

local function run_history(params)
  auth.check()
  local key = "wfrun:" .. tostring(params.execute_id)
  local raw = dict:get(key)
  local rec = raw and cjson.decode(raw)
  if not rec or rec.workflow_id ~= params.workflow_id then return util.fail(4314, "未找到执行记录") end
  local status = "Running"
  if rec.final ~= "never" then
    if rec.polls_left > 0 then
      rec.polls_left = rec.polls_left - 1
      dict:set(key, cjson.encode(rec))
    else
      status = rec.final
    end
  end
  local failed = status == "Fail"
  return util.ok({ {
    execute_id = params.execute_id, execute_status = status, bot_id = "0", connector_id = "1024",
    connector_uid = "u1", run_mode = 2, logid = util.request_logid(), create_time = rec.created,
    update_time = ngx.time(), output = status == "Success" and rec.output or "",
    error_code = failed and "720702011" or "0", error_message = failed and "工作流执行失败" or "",
    debug_url = debug_url(params.workflow_id, params.execute_id), token = "150", cost = "0.00",
    usage = usage(),
  } })
end

-- Chatflow -------------------------------------------------------------------------

local function last_user_text(msgs)
  if type(msgs) ~= "table" then return nil end
  for i = #msgs, 1, -1 do
    local m = msgs[i]
    if type(m) == "table" and m.role == "user" and type(m.content) == "string" then return m.content end
  end
end

local function chatflow()
  auth.check()
  local body = body_or_fail({ "workflow_id", "additional_messages" })
  local wid = body.workflow_id
  local conv = type(body.conversation_id) == "string" and body.conversation_id or store.new_id()
  local chat_id, execute_id, msg_id = store.new_id(), store.new_id(), store.new_id()
  local now = ngx.time()
  local zero = { token_count = 0, output_count = 0, input_count = 0 }
  local chat = { id = chat_id, conversation_id = conv, section_id = conv, created_at = now,
    last_error = { code = 0, msg = "" }, usage = zero, status = "created" }
  local w = faults.sse_writer()
  w:event("conversation.chat.created", chat)
  chat.status = "in_progress"
  w:event("conversation.chat.in_progress", chat)
  if wid == "wf_error" then
    w:event("error", { code = 720702011, msg = "工作流执行失败" })
    return w:finish()
  end
  local reply = util.header_text("x-emu-reply")
  local user = last_user_text(body.additional_messages)
  local text = reply or (user and ("You said: " .. user)) or "Hello"
  for _, p in ipairs(pieces(text)) do
    w:event("conversation.message.delta", { id = msg_id, conversation_id = conv, section_id = conv, chat_id = chat_id,
      role = "assistant", type = "answer", content = p, content_type = "text" })
  end
  w:event("conversation.message.completed", { id = msg_id, conversation_id = conv, section_id = conv, chat_id = chat_id,
    role = "assistant", type = "answer", content = text, content_type = "text", created_at = now, updated_at = now })
  chat.status, chat.completed_at = "completed", now
  chat.usage = { token_count = 150, output_count = 100, input_count = 50 }
  w:event("conversation.chat.completed", chat)
  w:event("done", { debug_url = debug_url(wid, execute_id) })
  return w:finish()
end

_M.routes = {
  { "POST", "/v1/workflow/run", run },
  { "POST", "/v1/workflow/stream_run", stream_run },
  { "POST", "/v1/workflow/stream_resume", stream_resume },
  { "POST", "/v1/workflows/resume", resume },
  { "GET", "/v1/workflows/{workflow_id}/run_histories/{execute_id}", run_history },
  { "POST", "/v1/workflows/chat", chatflow },
}

return _M
