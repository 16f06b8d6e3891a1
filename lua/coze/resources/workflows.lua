-- Helpers on client.workflows written on top of the generated operations.
--
-- Streams (workflows.runs:stream / :resume, profile "workflow": id/event/data records;
-- Message, Error, Done, Interrupt, PING and any other name delivered as it came):
--   stream.interrupt   after an Interrupt event: { workflow_id, event_id, interrupt_type, data,
--                      node_title }; the event itself carries ev.resume_args = { workflow_id,
--                      event_id, interrupt_type }
--   stream:resume{ resume_data = "...", ... }  -> workflows.runs:resume (the streaming resume, as
--                      coze-py/js/go name it; /v1/workflows/resume is runs:resume_sync) with those ids
--   stream.debug_url   from the Done event (also from the chatflow's done event)
-- A stream that ends right after its Interrupt event, without Done, ends normally.
--
-- Polling (workflows.runs:create with is_async = true answers an execute_id):
--   client.workflows.runs.run_histories:wait{ workflow_id, execute_id, poll_interval_ms = 1000,
--     poll_timeout_ms = 600000 } -> the run history record once its execute_status is not "Running"
--   client.workflows.runs:create_and_poll{ workflow_id, parameters, ... } -> the same, after an
--     asynchronous run; past the deadline nil, err with err.kind "timeout", err.timeout "poll".
local args = require "coze.args"
local errors = require "coze.errors"
local poll = require "coze.resources.poll"
local stream_mod = require "coze.stream"

local _M = {}

-- Streams ---------------------------------------------------------------------

local function keep_debug_url(stream, ev)
  local d = ev.data
  if type(d) == "table" and type(d.debug_url) == "string" then stream.debug_url = d.debug_url end
end

local function on_interrupt(stream, ev)
  local d = ev.data
  local i = type(d) == "table" and d.interrupt_data
  if type(i) ~= "table" then return end
  stream.interrupt = { workflow_id = stream.workflow_id, event_id = i.event_id, interrupt_type = i.type,
    data = i.data, node_title = d.node_title }
  ev.resume_args = { workflow_id = stream.workflow_id, event_id = i.event_id, interrupt_type = i.type }
end

-- The profiles of workflow runs (soft end at Interrupt, from coze.stream) and of chatflows, with
-- what these helpers keep from their events.
local WORKFLOW = stream_mod.profile("workflow", { watch = { Done = keep_debug_url, Interrupt = on_interrupt } })
local CHATFLOW = stream_mod.profile("chat", { watch = { done = keep_debug_url } })

-- stream:resume{ resume_data = "...", <call options> } for a stream that was interrupted.
local function resume(stream, opts)
  args.table("workflows.runs.resume", opts)
  local i = stream.interrupt
  if not i then args.fail("workflows.runs.resume", "the stream has not been interrupted") end
  local o = { workflow_id = i.workflow_id, event_id = i.event_id, interrupt_type = i.interrupt_type }
  for k, v in pairs(opts) do o[k] = v end
  return stream.client.workflows.runs:resume(o)
end

local function with_profile(builder, op, profile)
  return builder.variant(op, function(req) req.stream = profile end)
end

local function workflow_stream(variant)
  return function(self, opts)
    local stream, err = variant(self, opts)
    if not stream then return nil, err end
    stream.client = self._client
    stream.workflow_id = opts.workflow_id
    stream.resume = resume
    return stream
  end
end

-- Polling ---------------------------------------------------------------------

local RUNNING = "Running"

local function first_record(data)
  if type(data) == "table" and data[1] ~= nil then return data[1] end
  return data
end

local function is_final(rec) return rec.execute_status ~= RUNNING end

-- Polls run_histories:retrieve for execute_id until its record is no longer Running.
local function poll_history(histories, where, opts, workflow_id, execute_id, deadline)
  local q = poll.call_options(opts, { workflow_id = workflow_id, execute_id = execute_id })
  return poll.run(histories._client.transport, opts, deadline, function()
    local data, meta = histories:retrieve(q)
    if data == nil then return nil, meta end
    local rec = first_record(data)
    if type(rec) ~= "table" then
      return nil, errors.new("decode", { op = where, msg = "run history without a record", logid = meta and meta.logid })
    end
    return rec, meta
  end, is_final, function(last, limit)
    return errors.new("timeout", { op = where, timeout = "poll", history = last, execute_id = execute_id,
      msg = "workflow run " .. tostring(execute_id) .. " still " .. RUNNING .. " after " .. limit .. " ms" })
  end)
end

-- run_histories:wait{ workflow_id, execute_id, poll_interval_ms, poll_timeout_ms, <call options> }
local function wait_history(self, opts)
  local where = "workflows.runs.run_histories.wait"
  poll.check(where, opts)
  for _, k in ipairs({ "workflow_id", "execute_id" }) do
    local v = opts[k]
    if (type(v) ~= "string" and type(v) ~= "number") or v == "" then
      args.fail(where, "field '" .. k .. "' is required")
    end
  end
  return poll_history(self, where, opts, opts.workflow_id, opts.execute_id, poll.deadline(self._client.transport, opts))
end

-- runs:create_and_poll{ workflow_id, parameters, ..., poll_interval_ms, poll_timeout_ms }
local function create_and_poll(self, opts)
  local where = "workflows.runs.create_and_poll"
  poll.check(where, opts)
  local deadline = poll.deadline(self._client.transport, opts)
  local create = poll.without_poll(opts)
  create.is_async = true
  local res, meta = self:create(create)
  if not res then return nil, meta end
  local execute_id = res.execute_id
  if execute_id == nil or execute_id == "" then
    return nil, errors.new("decode", { op = where, msg = "the asynchronous run answered no execute_id",
      logid = meta and meta.logid })
  end
  return poll_history(self.run_histories, "workflows.runs.run_histories.wait", opts, opts.workflow_id,
    execute_id, deadline)
end

function _M.extend(client, builder)
  local wf = rawget(client, "workflows")
  if not wf then return end
  local runs = rawget(wf, "runs")
  if runs then
    if runs.stream then runs.stream = workflow_stream(with_profile(builder, "workflows.runs.stream", WORKFLOW)) end
    if runs.resume then
      runs.resume = workflow_stream(with_profile(builder, "workflows.runs.resume", WORKFLOW))
    end
    if runs.create then runs.create_and_poll = create_and_poll end
    local histories = rawget(runs, "run_histories")
    if histories and histories.retrieve then histories.wait = wait_history end
  end
  local chat = rawget(wf, "chat")
  if chat and chat.stream then chat.stream = with_profile(builder, "workflows.chat.stream", CHATFLOW) end
end

return _M
