-- Fault scenarios run over both transports (spec/faults_transports_spec.lua runs them on libcurl in
-- busted and through coze.transport.ngx in the application nginx of spec/openresty/): each gives
-- the same outcome { ok, kind, timeout, code, events } on both, or the transports differ.
-- The one known difference is not here: a gzip body the client did not ask for (the emulator's `gzip`
-- fault) is decoded by libcurl, which asks for it, and refused by the cosockets, which decode nothing
-- (spec/openresty_app_spec.lua checks both).
local _M = {}

local function fault(f, key)
  return { ["X-Emu-Fault"] = f, ["X-Emu-Fault-Key"] = key }
end

local CHAT = { bot_id = "7000000000000000001", user_id = "u1",
  additional_messages = { { role = "user", content = "hello there", content_type = "text" } } }

local function chat_opts(extra)
  local o = {}
  for k, v in pairs(CHAT) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- Drains a stream: number of events and the error it ended with.
local function drain(stream)
  local n = 0
  while true do
    local ev, err = stream:next()
    if not ev then return n, err end
    n = n + 1
  end
end

local function outcome(n, err)
  if not err then return { ok = true, events = n } end
  return { ok = false, kind = err.kind, timeout = err.timeout, code = err.code, events = n,
    not_sent = err.not_sent and true or false, tls = err.tls and true or false }
end

local function stream_case(headers, extra)
  return function(client, key)
    local h = {}
    for k, v in pairs(headers) do h[k] = v:gsub("@KEY@", key) end
    local s, err = client.chat:stream(chat_opts(extra and extra(h) or { headers = h }))
    if not s then return outcome(nil, err) end
    return outcome(drain(s))
  end
end

local function call_case(f, extra)
  return function(client, key)
    local o = { headers = fault(f, key) }
    for k, v in pairs(extra or {}) do o[k] = v end
    local res, err = client.conversations:create(o)
    if res then return { ok = true } end
    return outcome(nil, err)
  end
end

-- name -> fn(client, key) -> outcome. key makes `times=` counts independent per run.
_M.cases = {
  plain_stream = stream_case({}),
  reset = stream_case({ ["X-Emu-Fault"] = "reset;after=2" }),
  truncate = stream_case({ ["X-Emu-Fault"] = "truncate;after=2" }),
  no_done = stream_case({ ["X-Emu-Fault"] = "no_done" }),
  error_event = stream_case({ ["X-Emu-Fault"] = "error_event;after=1;code=4013" }),
  crlf = stream_case({ ["X-Emu-Fault"] = "crlf" }),
  cr = stream_case({ ["X-Emu-Fault"] = "cr" }),
  split = stream_case({ ["X-Emu-Fault"] = "split" }),
  eof_no_newline = stream_case({ ["X-Emu-Fault"] = "eof_no_newline" }),
  idle_timeout = stream_case({ ["X-Emu-Fault"] = "stall;after=1;ms=1500" },
    function(h) return { headers = h, idle_timeout_ms = 300 } end),
  oversize_event = stream_case({ ["X-Emu-Fault"] = "huge_event;bytes=200000" },
    function(h) return { headers = h, max_event_bytes = 65536 } end),
  json_error_for_stream = stream_case({ ["X-Emu-Fault"] = "json_error;code=4100;status=200" }),
  retry_429 = call_case("429;times=1;retry_after=1", { max_retries = 2, idempotency_key = "fault-429" }),
  retry_503 = call_case("status;code=503;times=1", { max_retries = 2, idempotency_key = "fault-503" }),
  status_502 = call_case("status;code=502", { max_retries = 0 }),
  status_500_html = call_case("status;code=500;body=html", { max_retries = 0 }),
  first_byte_timeout = call_case("slow_headers;ms=1500", { max_retries = 0, first_byte_timeout_ms = 300 }),
  content_length_lie = call_case("content_length_lie", { max_retries = 0 }),
  bad_chunked = call_case("bad_chunked", { max_retries = 0 }),
  malformed_json = call_case("malformed_json", { max_retries = 0 }),
  refused = function(client) -- client_opts points this one at a closed port
    local res, err = client.conversations:create { max_retries = 0 }
    if res then return { ok = true } end
    return outcome(nil, err)
  end,
}

-- What the emulator must see of the retried cases, on each transport: how many attempts, and the
-- least wait between them (Retry-After: 1 honoured)
_M.attempts = {
  retry_429 = { requests = 2, min_gap_s = 0.9 },
  retry_503 = { requests = 2, min_gap_s = 0 },
}

_M.names = {}
for name in pairs(_M.cases) do _M.names[#_M.names + 1] = name end
table.sort(_M.names)

-- The client a scenario runs with: base_url, and a port nothing listens on for `refused`.
function _M.client_opts(name, base_url)
  local url = base_url
  if name == "refused" then url = "http://127.0.0.1:9" end
  return { token = "pat_test", base_url = url, max_retries = 0 }
end

return _M
