-- Helpers on client.chat written on top of the generated operations.
local args = require "coze.args"
local errors = require "coze.errors"
local poll = require "coze.resources.poll"
local stream_mod = require "coze.stream"
local wait = require "coze.wait"

local _M = {}

-- Statuses after which a chat no longer changes by itself.
_M.TERMINAL = { completed = true, failed = true, requires_action = true, canceled = true }

local function is_final(chat) return _M.TERMINAL[chat.status] end

-- chat:create_and_poll{ bot_id, user_id, additional_messages, poll_interval_ms = 1000,
--   poll_timeout_ms = 600000, cancel_on_timeout = true, ... } -> { chat = Chat, messages = {...} | nil } | nil, err
-- Creates a chat, polls chat:retrieve until a terminal status, then lists its messages when it
-- completed. Past the deadline: nil, err with err.kind "timeout", err.timeout "poll", err.chat; the
-- chat is canceled first (as coze-py does: the bot would otherwise keep working, and billing, for
-- an answer nobody reads) unless cancel_on_timeout = false. err.chat is the last polled state;
-- err.canceled says whether the cancel call succeeded (err.cancel_err when it failed).
local function create_and_poll(self, opts)
  local where = "chat.create_and_poll"
  local client = self._client
  opts = poll.check(where, opts, client)
  local cancel_on_timeout = args.type(where, opts, "cancel_on_timeout", "boolean")
  local transport = client.transport
  local deadline = poll.deadline(transport, opts)
  local first = poll.without_poll(opts)
  first.cancel_on_timeout = nil
  local chat, err = self:create(first)
  if not chat then return nil, err end
  local ids = { conversation_id = chat.conversation_id, chat_id = chat.id }
  chat, err = poll.run(transport, opts, deadline, function()
    return self:retrieve(poll.call_options(opts, ids))
  end, is_final, function(last, limit)
    return errors.new("timeout", { op = where, timeout = "poll", chat = last,
      msg = "chat " .. tostring(last.id) .. " still " .. tostring(last.status) .. " after " .. limit .. " ms" })
  end, chat)
  if not chat then
    if cancel_on_timeout ~= false and err.kind == "timeout" and err.timeout == "poll" then
      local canceled, cerr = self:cancel(poll.call_options(opts, ids))
      err.canceled = canceled ~= nil
      if canceled then
        err.msg = err.msg .. "; canceled it"
      else
        err.cancel_err = cerr
        err.msg = err.msg .. "; canceling it failed: " .. tostring(cerr and cerr.msg)
      end
    end
    return nil, err
  end
  local result = { chat = chat }
  if chat.status == "completed" then
    local messages
    messages, err = self.messages:list(poll.call_options(opts, ids))
    if not messages then return nil, err end
    result.messages = messages
  end
  return result
end

-- chat:stream{ ..., cancel_on_close = true }: closing the stream before its done event (close(),
-- or a `break` out of a Lua 5.4 for-loop over events()/raw_events()) also calls chat:cancel for
-- the chat it started, so the bot stops working. A stream dropped without close() is not
-- canceled: nothing runs when the collector frees it (a finalizer would send a request from
-- inside the garbage collector, at an arbitrary point of the program, with no on_wait to yield
-- to). The cancel call is a request like any other: it waits through the stream's on_wait.
local function remember_ids(stream, ev)
  local d = ev.data
  if type(d) == "table" then
    stream.chat_id = d.id
    stream.conversation_id = d.conversation_id
  end
end

-- The chat profile that also watches the chat's ids.
local CANCELABLE = stream_mod.profile("chat", { watch = { ["conversation.chat.created"] = remember_ids } })

local function cancel_unfinished(client, on_wait, wait_ms)
  return function(stream)
    if stream.completed or not stream.chat_id or (stream.err and stream.err.kind == "api") then return end
    local ow = on_wait
    if ow == nil and client.call_defaults then ow = client.call_defaults.on_wait end
    -- closed outside the coroutine that read it (a Ctrl-C handler): sleep between the cancel's
    -- polls instead of raising from close()
    if ow == coroutine.yield and not wait.can_yield() then
      local transport = client.transport
      ow = function(ms) transport:sleep_ms(ms) end
    end
    client.chat:cancel { conversation_id = stream.conversation_id, chat_id = stream.chat_id, max_retries = 1,
      on_wait = ow, wait_ms = wait_ms }
  end
end

local function with_cancel(generated, cancelable)
  return function(self, opts)
    if type(opts) ~= "table" or opts.cancel_on_close == nil then return generated(self, opts) end
    local cancel = opts.cancel_on_close
    if type(cancel) ~= "boolean" then
      args.fail("chat.stream", "option 'cancel_on_close' must be a boolean")
    end
    local copy = {}
    for k, v in pairs(opts) do copy[k] = v end
    copy.cancel_on_close = nil
    if not cancel then return generated(self, copy) end
    return cancelable(self, copy)
  end
end

local function cancelable(builder, op)
  return builder.variant(op, function(req, self)
    local call = req.call
    req.stream = CANCELABLE
    req.on_close = cancel_unfinished(self._client, call.on_wait, call.wait_ms)
  end)
end

function _M.extend(client, builder)
  local chat = client.chat
  chat.create_and_poll = create_and_poll
  chat.stream = with_cancel(chat.stream, cancelable(builder, "chat.stream"))
  chat.submit_tool_outputs_stream = with_cancel(chat.submit_tool_outputs_stream,
    cancelable(builder, "chat.submit_tool_outputs_stream"))
end

return _M
