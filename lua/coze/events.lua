-- Names of stream events and statuses (catalog events.md), so that a typo is an error, not a
-- comparison that is silently never true:
--   if ev.event == coze.events.chat.CONVERSATION_MESSAGE_DELTA then ... end
-- The long names are the ones coze-py and coze-js use (ChatEventType, ChatStatus, WorkflowEventType,
-- MessageType): each is its value upper-cased. The chat events also have short aliases
-- (MESSAGE_DELTA). Reading a name that does not exist raises at the caller's line, listing the
-- names that do; the tables are read-only.
-- Realtime (WebSocket) events are under coze.events.realtime.<api>.up / .down, by the same rule.
local _M = {}

-- A read-only view of t whose missing names raise (a plain table would answer nil to a typo).
local function strict(where, t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  local known = table.concat(names, ", ")
  return setmetatable({}, {
    __index = function(_, k)
      local v = t[k]
      if v == nil then
        error("coze: " .. where .. ": no constant " .. tostring(k) .. " (known: " .. known .. ")", 2)
      end
      return v
    end,
    __newindex = function(_, k)
      error("coze: " .. where .. " is read-only (assigning " .. tostring(k) .. ")", 2)
    end,
  })
end

-- The group `where` of the values, each under its value upper-cased with '.' as '_' (the name
-- coze-py and coze-js give it: conversation.chat.created is CONVERSATION_CHAT_CREATED), and also
-- without `short` in front when a name starts with it.
local function group(where, values, short)
  local t = {}
  for _, value in ipairs(values) do
    local name = value:upper():gsub("%.", "_")
    t[name] = value
    if short and name:sub(1, #short) == short then t[name:sub(#short + 1)] = value end
  end
  return strict(where, t)
end

-- Chat and chatflow SSE (/v3/chat, /v3/chat/submit_tool_outputs, /v1/workflows/chat); the
-- conversation.* events also without CONVERSATION_ (MESSAGE_DELTA).
_M.chat = group("coze.events.chat", {
  "conversation.chat.created", "conversation.chat.in_progress", "conversation.message.delta",
  "conversation.audio.delta", "conversation.message.completed", "conversation.chat.completed",
  "conversation.chat.failed", "conversation.chat.requires_action", "error", "done",
}, "CONVERSATION_")

-- Workflow SSE (/v1/workflow/stream_run, /v1/workflow/stream_resume): capitalised names.
_M.workflow = group("coze.events.workflow", { "Message", "Error", "Done", "Interrupt", "PING" })

-- Chat.status (/v3/chat, /v3/chat/retrieve and the chat events' data).
_M.chat_status = group("coze.events.chat_status", {
  "created", "in_progress", "completed", "failed", "requires_action", "canceled",
})

-- Message.type.
_M.message_type = group("coze.events.message_type", {
  "question", "answer", "function_call", "tool_output", "tool_response", "follow_up", "verbose",
})

-- execute_status of an asynchronous workflow run (/v1/workflows/{workflow_id}/run_histories/{execute_id}).
_M.workflow_status = group("coze.events.workflow_status", { "Success", "Running", "Fail" })

-- Realtime (WebSocket) event types per API and direction (events.md section 4; simult_interpretation
-- from @coze/api, the only SDK that has it).

local REALTIME = {
  transcriptions = {
    up = { "transcriptions.update", "input_audio_buffer.append", "input_audio_buffer.complete",
      "input_audio_buffer.clear" },
    down = { "transcriptions.created", "transcriptions.updated", "input_audio_buffer.completed",
      "input_audio_buffer.cleared", "transcriptions.message.update", "transcriptions.message.completed", "error" },
  },
  speech = {
    up = { "speech.update", "input_text_buffer.append", "input_text_buffer.complete" },
    down = { "speech.created", "speech.updated", "input_text_buffer.completed", "speech.audio.update",
      "speech.audio.completed", "error" },
  },
  chat = {
    up = { "chat.update", "input_audio_buffer.append", "input_audio_buffer.complete", "input_audio_buffer.clear",
      "conversation.message.create", "conversation.clear", "conversation.chat.submit_tool_outputs",
      "conversation.chat.cancel", "input_text.generate_audio" },
    down = { "chat.created", "chat.updated", "conversation.chat.created", "conversation.chat.in_progress",
      "conversation.message.delta", "conversation.audio.sentence_start", "conversation.audio.delta",
      "conversation.message.completed", "conversation.audio.completed", "conversation.chat.completed",
      "conversation.chat.failed", "error", "input_audio_buffer.completed", "input_audio_buffer.cleared",
      "conversation.cleared", "conversation.chat.canceled", "conversation.audio_transcript.update",
      "conversation.audio_transcript.completed", "conversation.chat.requires_action",
      "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped" },
  },
  simult_interpretation = {
    up = { "simult_interpretation.update", "input_audio_buffer.append", "input_audio_buffer.complete" },
    down = { "simult_interpretation.created", "simult_interpretation.updated",
      "simult_interpretation.transcription.delta", "simult_interpretation.translation.delta",
      "simult_interpretation.audio.delta", "simult_interpretation.message.completed",
      "input_audio_buffer.completed", "error" },
  },
}
local realtime_apis = {}
for api, dirs in pairs(REALTIME) do
  local where = "coze.events.realtime." .. api
  realtime_apis[api] = strict(where, { up = group(where .. ".up", dirs.up), down = group(where .. ".down", dirs.down) })
end
_M.realtime = strict("coze.events.realtime", realtime_apis)

return strict("coze.events", _M)
