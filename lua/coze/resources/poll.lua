-- The one polling loop of the helpers that wait for a server-side job (chat:create_and_poll,
-- workflows.runs.run_histories:wait and runs:create_and_poll): the same option checks, the same
-- call options forwarded to every request, the same sleep through on_wait and the same deadline.
local args = require "coze.args"
local wait = require "coze.wait"

local _M = {}

_M.OPTIONS = { poll_interval_ms = true, poll_timeout_ms = true }
_M.DEFAULT_INTERVAL_MS = 1000
_M.DEFAULT_TIMEOUT_MS = 600000

-- Call options every request of a poll carries.
local FORWARD = { "headers", "wait_ms", "on_wait", "connect_timeout_ms", "first_byte_timeout_ms",
  "idle_timeout_ms", "total_timeout_ms", "max_retries", "retry_base_ms", "retry_max_delay_ms", "retry_budget_ms" }

-- Checks the options table and its poll options (non-negative, not NaN), raising at the caller's
-- caller (the user of the public helper that calls this). With the client, returns the options
-- with the client-wide call options under them (so the sleeps between polls use its on_wait too).
function _M.check(where, opts, client)
  args.table(where, opts, 2)
  for k in pairs(_M.OPTIONS) do args.non_negative(where, opts, k, 2) end
  if client then return client:with_defaults(opts) end
  return opts
end

-- The call options of opts, plus `extra` fields.
function _M.call_options(opts, extra)
  local out = {}
  for _, k in ipairs(FORWARD) do out[k] = opts[k] end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

-- The options of the job's first request: everything but the poll options.
function _M.without_poll(opts)
  local out = {}
  for k, v in pairs(opts) do
    if not _M.OPTIONS[k] then out[k] = v end
  end
  return out
end

-- The deadline of a poll that starts now (opts.poll_timeout_ms from now).
function _M.deadline(transport, opts)
  return transport:now_ms() + (opts.poll_timeout_ms or _M.DEFAULT_TIMEOUT_MS)
end

-- Polls until is_final(state). state, meta: the first answer, or nil to fetch it first;
-- fetch() -> state, meta | nil, err. Past the deadline: nil, timeout(state, limit_ms).
function _M.run(transport, opts, deadline, fetch, is_final, timeout, state, meta)
  local interval = opts.poll_interval_ms or _M.DEFAULT_INTERVAL_MS
  if state == nil then
    state, meta = fetch()
    if state == nil then return nil, meta end
  end
  while not is_final(state) do
    local left = deadline - transport:now_ms()
    if left <= 0 then return nil, timeout(state, opts.poll_timeout_ms or _M.DEFAULT_TIMEOUT_MS) end
    wait.sleep(transport, math.min(interval, left), opts.on_wait)
    state, meta = fetch()
    if state == nil then return nil, meta end
  end
  return state, meta
end

return _M
