-- Helpers on client.chat written on top of the generated operations.
local errors = require "coze.errors"
local wait = require "coze.wait"

local _M = {}

-- Statuses after which a chat no longer changes by itself.
_M.TERMINAL = { completed = true, failed = true, requires_action = true, canceled = true }

local POLL_OPTIONS = { poll_interval_ms = true, poll_timeout_ms = true }

local function check(opts)
  if type(opts) ~= "table" then
    error("coze: chat.create_and_poll: expected an options table, got " .. type(opts), 3)
  end
  for k in pairs(POLL_OPTIONS) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 0) then
      error("coze: chat.create_and_poll: field '" .. k .. "' must be a non-negative number", 3)
    end
  end
end

-- chat:create_and_poll{ bot_id, user_id, additional_messages, poll_interval_ms = 1000,
--   poll_timeout_ms = 600000, ... } -> { chat = Chat, messages = {...} | nil } | nil, err
-- Creates a chat, polls chat:retrieve until a terminal status, then lists its messages when it
-- completed. Past the deadline: nil, err with err.kind "timeout", err.timeout "poll", err.chat.
local function create_and_poll(self, opts)
  check(opts)
  local client = self._client
  local interval = opts.poll_interval_ms or 1000
  local limit = opts.poll_timeout_ms or 600000
  local create_opts, call_opts = {}, {}
  for k, v in pairs(opts) do
    if not POLL_OPTIONS[k] then create_opts[k] = v end
  end
  for _, k in ipairs({ "headers", "wait_ms", "on_wait", "connect_timeout_ms", "first_byte_timeout_ms",
    "idle_timeout_ms", "total_timeout_ms" }) do
    call_opts[k] = opts[k]
  end
  local transport = client.transport
  local deadline = transport:now_ms() + limit
  local chat, err = self:create(create_opts)
  if not chat then return nil, err end
  local ids = { conversation_id = chat.conversation_id, chat_id = chat.id }
  while not _M.TERMINAL[chat.status] do
    local left = deadline - transport:now_ms()
    if left <= 0 then
      return nil, errors.new("timeout", { op = "chat.create_and_poll", timeout = "poll", chat = chat,
        msg = "chat " .. tostring(chat.id) .. " still " .. tostring(chat.status) .. " after " .. limit .. " ms" })
    end
    wait.sleep(transport, math.min(interval, left), opts.on_wait)
    local q = { conversation_id = ids.conversation_id, chat_id = ids.chat_id }
    for k, v in pairs(call_opts) do q[k] = v end
    chat, err = self:retrieve(q)
    if not chat then return nil, err end
  end
  local result = { chat = chat }
  if chat.status == "completed" then
    local q = { conversation_id = ids.conversation_id, chat_id = ids.chat_id }
    for k, v in pairs(call_opts) do q[k] = v end
    local messages
    messages, err = self.messages:list(q)
    if not messages then return nil, err end
    result.messages = messages
  end
  return result
end

-- chat:stream{ ..., cancel_on_close = true }: closing the stream before its done event (break,
-- close(), garbage) also calls chat:cancel for the chat it started, so the bot stops working.
local function remember_ids(stream, ev)
  local d = ev.data
  if type(d) == "table" then
    stream.chat_id = d.id
    stream.conversation_id = d.conversation_id
  end
end

local function cancel_unfinished(client)
  return function(stream)
    if stream.completed or not stream.chat_id or (stream.err and stream.err.kind == "api") then return end
    client.chat:cancel { conversation_id = stream.conversation_id, chat_id = stream.chat_id, max_retries = 1 }
  end
end

local function with_cancel(generated)
  return function(self, opts)
    if type(opts) ~= "table" or opts.cancel_on_close == nil then return generated(self, opts) end
    local cancel = opts.cancel_on_close
    if type(cancel) ~= "boolean" then
      error("coze: chat.stream: option 'cancel_on_close' must be a boolean", 2)
    end
    local copy = {}
    for k, v in pairs(opts) do copy[k] = v end
    copy.cancel_on_close = nil
    local stream, err = generated(self, copy)
    if stream and cancel then
      stream.watch = { ["conversation.chat.created"] = remember_ids }
      stream.on_close = cancel_unfinished(self._client)
    end
    return stream, err
  end
end

function _M.extend(client)
  local chat = client.chat
  chat.create_and_poll = create_and_poll
  chat.stream = with_cancel(chat.stream)
  chat.submit_tool_outputs_stream = with_cancel(chat.submit_tool_outputs_stream)
end

return _M
