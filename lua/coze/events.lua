-- Names of stream events and statuses (catalog events.md), so that a typo is an error, not a
-- comparison that is silently never true:
--   if ev.event == coze.events.chat.CONVERSATION_MESSAGE_DELTA then ... end
-- The long names are the ones coze-py and coze-js use (ChatEventType, ChatStatus, WorkflowEventType,
-- MessageType); the chat events also have short aliases (MESSAGE_DELTA). Reading a name that does not
-- exist raises at the caller's line, listing the names that do; the tables are read-only.
-- Realtime (WebSocket) events are under coze.events.realtime.<api>.up / .down, named after their
-- event_type in capitals (conversation.audio.delta -> CONVERSATION_AUDIO_DELTA).
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

-- Chat and chatflow SSE (/v3/chat, /v3/chat/submit_tool_outputs, /v1/workflows/chat).
local CHAT = {
  CONVERSATION_CHAT_CREATED = "conversation.chat.created",
  CONVERSATION_CHAT_IN_PROGRESS = "conversation.chat.in_progress",
  CONVERSATION_MESSAGE_DELTA = "conversation.message.delta",
  CONVERSATION_AUDIO_DELTA = "conversation.audio.delta",
  CONVERSATION_MESSAGE_COMPLETED = "conversation.message.completed",
  CONVERSATION_CHAT_COMPLETED = "conversation.chat.completed",
  CONVERSATION_CHAT_FAILED = "conversation.chat.failed",
  CONVERSATION_CHAT_REQUIRES_ACTION = "conversation.chat.requires_action",
  ERROR = "error",
  DONE = "done",
}
for short, value in pairs({
  CHAT_CREATED = CHAT.CONVERSATION_CHAT_CREATED,
  CHAT_IN_PROGRESS = CHAT.CONVERSATION_CHAT_IN_PROGRESS,
  MESSAGE_DELTA = CHAT.CONVERSATION_MESSAGE_DELTA,
  AUDIO_DELTA = CHAT.CONVERSATION_AUDIO_DELTA,
  MESSAGE_COMPLETED = CHAT.CONVERSATION_MESSAGE_COMPLETED,
  CHAT_COMPLETED = CHAT.CONVERSATION_CHAT_COMPLETED,
  CHAT_FAILED = CHAT.CONVERSATION_CHAT_FAILED,
  CHAT_REQUIRES_ACTION = CHAT.CONVERSATION_CHAT_REQUIRES_ACTION,
}) do CHAT[short] = value end
_M.chat = strict("coze.events.chat", CHAT)

-- Workflow SSE (/v1/workflow/stream_run, /v1/workflow/stream_resume): capitalised names.
_M.workflow = strict("coze.events.workflow", {
  MESSAGE = "Message",
  ERROR = "Error",
  DONE = "Done",
  INTERRUPT = "Interrupt",
  PING = "PING",
})

-- Chat.status (/v3/chat, /v3/chat/retrieve and the chat events' data).
_M.chat_status = strict("coze.events.chat_status", {
  CREATED = "created",
  IN_PROGRESS = "in_progress",
  COMPLETED = "completed",
  FAILED = "failed",
  REQUIRES_ACTION = "requires_action",
  CANCELED = "canceled",
})

-- Message.type.
_M.message_type = strict("coze.events.message_type", {
  QUESTION = "question",
  ANSWER = "answer",
  FUNCTION_CALL = "function_call",
  TOOL_OUTPUT = "tool_output",
  TOOL_RESPONSE = "tool_response",
  FOLLOW_UP = "follow_up",
  VERBOSE = "verbose",
})

-- execute_status of an asynchronous workflow run (/v1/workflows/{workflow_id}/run_histories/{execute_id}).
_M.workflow_status = strict("coze.events.workflow_status", {
  SUCCESS = "Success",
  RUNNING = "Running",
  FAIL = "Fail",
})

-- Realtime (WebSocket) event types per API and direction (events.md section 4; simult_interpretation
-- from @coze/api, the only SDK that has it). Constant names are the event types in capitals.
local function realtime(where, types)
  local t = {}
  for _, v in ipairs(types) do t[(v:upper():gsub("%.", "_"))] = v end
  return strict(where, t)
end

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
  realtime_apis[api] = strict(where, { up = realtime(where .. ".up", dirs.up), down = realtime(where .. ".down", dirs.down) })
end
_M.realtime = strict("coze.events.realtime", realtime_apis)

return strict("coze.events", _M)
