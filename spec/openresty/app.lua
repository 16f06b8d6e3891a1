-- Handlers of the application nginx (spec/openresty/nginx.conf.in): the SDK over cosockets against
-- the emulator, each location a behaviour spec/openresty_app_spec.lua checks from outside.
local coze = require "coze"
local json = require "cjson"

local EMU = os.getenv("COZE_EMU_URL")
local ROOT = debug.getinfo(1, "S").source:match("^@(.*)/spec/openresty/app%.lua$")

local _M = {}

local function arg(name) return ngx.var["arg_" .. name] end

local function client(extra)
  local o = { token = "pat_test", base_url = EMU, max_retries = 0 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return coze.new(o)
end

local function send_json(t)
  ngx.header["Content-Type"] = "application/json"
  ngx.print(json.encode(t))
end

local CHAT = { bot_id = "7000000000000000001", user_id = "u1",
  additional_messages = { { role = "user", content = "hello there, this is a relayed chat", content_type = "text" } } }

local routes = {}

-- The relays' maps, by ?map=
local MAPS = {
  ["1"] = function(ev) return { event = ev.event, data = { len = #ev.raw } } end, -- a JSON rewrite
  -- only the deltas' text: every other event skipped
  deltas = function(ev) if ev.event == "conversation.message.delta" then return ev.data.content end end,
  -- a handler's bug on the first delta
  raise = function(ev) if ev.event == "conversation.message.delta" then error("map failed") end end,
  raw = function(ev) return ev.raw end, -- the map path's own cost: no JSON, the data as it came
}

-- /chat?fault=&drip=&flush=event&map=1&cancel=1&key=: a relayed chat
routes["/chat"] = function()
  local headers = {}
  if arg("fault") then headers["X-Emu-Fault"] = ngx.unescape_uri(arg("fault")) end
  if arg("drip") then headers["X-Emu-Drip-Ms"] = arg("drip") end
  if arg("deltas") then -- the bench's long stream (bench/run.sh scenario 1)
    headers["X-Emu-Deltas"] = arg("deltas")
    headers["X-Emu-Reply"] = '"hello "'
    headers["X-Emu-Completed"] = "short"
  end
  local o = { headers = headers, cancel_on_close = arg("cancel") == "1", max_event_bytes = tonumber(arg("maxev")) }
  for k, v in pairs(CHAT) do o[k] = v end
  if arg("q") then o.additional_messages = { coze.message.user_text(ngx.unescape_uri(arg("q"))) } end
  local stream, err = client({ idle_timeout_ms = tonumber(arg("idle")) }).chat:stream(o)
  if not stream then
    ngx.status = 502
    ngx.say(tostring(err))
    return
  end
  local n, rerr = require("coze.ngx").relay(stream, { flush = arg("flush"), map = MAPS[arg("map") or ""] })
  if not n then ngx.log(ngx.INFO, "relay ended: ", tostring(rerr)) end
  if arg("count") then ngx.print(": relayed ", n, "\n\n") end -- a comment the browser ignores
end

-- /completions?map=1: a relayed chat.completions stream (data-only records ending with `data: [DONE]`)
routes["/completions"] = function()
  local stream, err = client().chat.completions:stream { model = "m",
    messages = { { role = "user", content = "hello there" } } }
  if not stream then
    ngx.status = 502
    ngx.say(tostring(err))
    return
  end
  local n, rerr = require("coze.ngx").relay(stream, { map = arg("map") == "1" and MAPS.raw or nil })
  if not n then ngx.log(ngx.WARN, "relay ended: ", tostring(rerr)) end
end

-- The bench's long chat asked for on a bare cosocket (no SDK): the socket, its answer still unread
local function bench_chat_socket()
  local host, port = EMU:match("^http://([^:/]+):(%d+)")
  local sock = ngx.socket.tcp()
  assert(sock:connect(host, tonumber(port)))
  local body = '{"bot_id":"bench_bot","user_id":"bench_user","stream":true}'
  assert(sock:send("POST /v3/chat HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer pat_bench\r\n"
    .. "Content-Type: application/json\r\nX-Emu-Deltas: " .. arg("deltas") .. "\r\nX-Emu-Reply: \"hello \"\r\n"
    .. "X-Emu-Completed: short\r\nConnection: close\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body))
  return sock
end

-- /floor?deltas=: the bench's floor of a Lua relay on cosockets: the emulator's chat body read with
-- receiveany and written with ngx.print + ngx.flush(true) per read, nothing parsed (chunked framing
-- and all: the bytes are not SSE to a browser; bench/ngx_relay.sh counts the worker's CPU only)
routes["/floor"] = function()
  local sock = bench_chat_socket()
  ngx.header["Content-Type"] = "text/event-stream"
  local flush = arg("flush") ~= "0"
  while true do
    local data = sock:receiveany(65536)
    if not data then break end
    ngx.print(data)
    if flush then ngx.flush(true) end
  end
  sock:close()
end

-- /walkfloor?deltas=: /floor plus what the fast path must do in C per read (the chunked decoder
-- into the SSE parser, the batch walk, the chunk string), no SDK code between: the floor of a relay
-- that parses (bench/ngx_relay.sh)
routes["/walkfloor"] = function()
  local core = require "coze.core"
  local sock = bench_chat_socket()
  repeat local l = sock:receive("*l") until l == ""
  ngx.header["Content-Type"] = "text/event-stream"
  local dec, parser = core.chunked_decoder(), core.sse_parser()
  local names = require("coze.stream").PROFILES.chat.stop_names
  while true do
    local data = sock:receiveany(65536)
    if not data then break end
    local out, done = dec:feed(data, parser)
    local chunk = parser:walk(names)
    if chunk ~= "" then ngx.print(chunk); ngx.flush(true) end
    if done then break end
  end
  sock:close()
end

-- /relay_bytes?case=&step=: coze.ngx.relay's fast path over a chat body of spec/helpers/sse_cases.lua,
-- fed in pieces of step bytes by an in-memory handle (the bytes exact; nginx's writing real)
routes["/relay_bytes"] = function()
  local cases = require "helpers.sse_cases"
  local c = cases.cases[arg("case")]
  local pieces = cases.pieces(cases.body(c), tonumber(arg("step")))
  local stream = require("coze.stream").new(cases.handle(pieces), { profile = "chat", op = "chat.stream" })
  local n, err = require("coze.ngx").relay(stream)
  ngx.log(ngx.INFO, "relayed ", tostring(n), " ", tostring(err))
end

-- /chunks?fault=: stream:raw_chunks() of a chat over cosockets; what it handed out, as JSON
routes["/chunks"] = function()
  local headers = {}
  if arg("fault") then headers["X-Emu-Fault"] = ngx.unescape_uri(arg("fault")) end
  local o = { headers = headers }
  for k, v in pairs(CHAT) do o[k] = v end
  local stream = assert(client().chat:stream(o))
  local parts, n, chunks = {}, 0, 0
  local ok, e = pcall(function()
    for chunk, k in stream:raw_chunks() do
      parts[#parts + 1] = chunk
      n, chunks = n + k, chunks + 1
    end
  end)
  send_json { body = table.concat(parts), n = n, chunks = chunks, ok = ok,
    kind = not ok and e.kind or nil, code = not ok and e.code or nil, completed = stream.completed }
end

-- /scenario?name=: one of spec/helpers/fault_scenarios.lua over cosockets; its outcome as JSON
routes["/scenario"] = function()
  local sc = require "helpers.fault_scenarios"
  local name = arg("name")
  local c = coze.new(sc.client_opts(name, EMU))
  local out = sc.cases[name](c, "ngx-" .. name .. "-" .. ngx.now())
  send_json(out)
end

-- /keepalive?n=: n sequential calls; the spec reads which upstream connections the emulator saw
routes["/keepalive"] = function()
  local c = client()
  local ok = 0
  for _ = 1, tonumber(arg("n")) or 100 do
    if c.conversations:create {} then ok = ok + 1 end
  end
  send_json { ok = ok }
end

-- /retrieve?n=&id=: n sequential conversations:retrieve on one client (bench/ngx_calls.sh); wall ms
routes["/retrieve"] = function()
  local c = client()
  local ok, id = 0, arg("id")
  ngx.update_time()
  local t0 = ngx.now()
  for _ = 1, tonumber(arg("n")) or 2000 do
    local conv = c.conversations:retrieve { conversation_id = id }
    if conv and conv.id == id then ok = ok + 1 end
  end
  ngx.update_time()
  send_json { ok = ok, ms = (ngx.now() - t0) * 1000 }
end

-- /abandon: a stream read for one event and closed, then a call: the call must work (on a new connection)
routes["/abandon"] = function()
  local c = client()
  local o = { headers = { ["X-Emu-Drip-Ms"] = "50" } }
  for k, v in pairs(CHAT) do o[k] = v end
  local s = assert(c.chat:stream(o))
  local ev = s:next()
  s:close()
  local res, err = c.conversations:create {}
  send_json { first = ev and ev.event, ok = res ~= nil, err = err and tostring(err) }
end

-- /jwt: a call with a JWT auth object built per request, its token shared through the dict
local PEM
routes["/jwt"] = function()
  if not PEM then
    local f = assert(io.open(ROOT .. "/spec/fixtures/keys/rsa_pkcs8.pem", "rb"))
    PEM = f:read("*a")
    f:close()
  end
  local cn = require "coze.ngx"
  local auth = coze.auth.jwt { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM,
    base_url = EMU, store = cn.shared_store("coze_tokens"), lock = cn.shared_lock("coze_tokens") }
  local c = coze.new { auth = auth, base_url = EMU, max_retries = 0 }
  local headers = {}
  if arg("fault") then
    headers["X-Emu-Fault"] = ngx.unescape_uri(arg("fault"))
    headers["X-Emu-Fault-Key"] = arg("key")
  end
  local res, err = c.conversations:create { headers = headers }
  send_json { ok = res ~= nil, err = err and tostring(err), pid = ngx.worker.pid() }
end

-- /lock: coze.ngx.shared_lock's release rules and the token cache's lock around a failing store
routes["/lock"] = function()
  local cn = require "coze.ngx"
  local dict = ngx.shared.coze_tokens
  local lock = cn.shared_lock("coze_tokens")
  local out = {}
  local owner = assert(lock:lock("t1", { timeout_ms = 5000 }))
  out.held = dict:get("coze:lock:t1") == owner
  lock:unlock("t1", owner)
  out.released = dict:get("coze:lock:t1") == nil
  -- a lock near its expiry is left to run out, never deleted: by then it may be another's
  local short = assert(lock:lock("t2", { timeout_ms = 200 }))
  ngx.sleep(0.15)
  lock:unlock("t2", short)
  out.near_expiry_kept = dict:get("coze:lock:t2") == short
  ngx.sleep(0.1)
  local other = assert(cn.shared_lock("coze_tokens"):lock("t2", { timeout_ms = 5000 }))
  lock:unlock("t2", short) -- a stale owner's unlock
  out.others_kept = dict:get("coze:lock:t2") == other
  -- a store that raises inside the token cache's locked section still releases the lock
  local cache = require "coze.auth.cache"
  local c = cache.new { key = "t3", lock = lock,
    store = { get = function() return nil end, set = function() error("store full") end } }
  local ok, err = pcall(c.get, c, function() return { access_token = "a", expires_in = 900 } end, {})
  out.store_error = not ok and tostring(err):find("store full", 1, true) ~= nil
  out.released_after_store_error = dict:get("coze:lock:t3") == nil
  send_json(out)
end

-- /tls?verify=0: a call to the emulator's TLS port (a self-signed certificate nginx does not trust)
routes["/tls"] = function()
  local tls = EMU:gsub("^http:", "https:"):gsub(":(%d+)$", function(p) return ":" .. (tonumber(p) + 1) end)
  local c = client { base_url = tls, tls_verify = arg("verify") ~= "0" }
  local res, err = c.conversations:create {}
  send_json { ok = res ~= nil, kind = err and err.kind, tls = err and err.tls, msg = err and tostring(err) }
end

-- /resolve: an unresolvable host
routes["/resolve"] = function()
  local c = client { base_url = "http://" .. (arg("host") or "no-such-host.invalid") }
  local res, err = c.conversations:create {}
  send_json { ok = res ~= nil, kind = err and err.kind, not_sent = err and err.not_sent, msg = err and tostring(err) }
end

-- /ws_scenario?name=: one of spec/helpers/ws_scenarios.lua on the cosocket connection; its outcome as JSON
routes["/ws_scenario"] = function()
  local sc = require "helpers.ws_scenarios"
  local name = arg("name")
  local c = coze.new(sc.client_opts(name, EMU))
  assert(c.transport.websocket == require("coze.transport.ngx").new().websocket, "not the cosocket transport")
  send_json(sc.cases[name].run(c))
end

-- /ws_wait?ms=: a session that hears nothing, waiting for its idle timeout (the spec pings meanwhile);
-- also says which connection the session ran on
routes["/ws_wait"] = function()
  local ws = assert(client().websockets.chat:connect { bot_id = "b", emu_fault = "silent",
    idle_timeout_ms = tonumber(arg("ms")) })
  local backend = ws.conn.can_poll == false and "cosocket" or tostring(ws.conn)
  local first = ws:next()
  local t0 = ngx.now()
  local ev, err = ws:next()
  ngx.update_time()
  send_json { first = first.event_type, event = ev ~= nil, kind = err and err.kind, timeout = err and err.timeout,
    waited_ms = (ngx.now() - t0) * 1000, backend = backend }
end

-- /proxied?proxy=&tls=1&verify=0&no_proxy=&host=&port=&n=: n calls (default 1) through a proxy; the last outcome
routes["/proxied"] = function()
  local base = EMU
  if arg("tls") == "1" then
    base = EMU:gsub("^http:", "https:"):gsub(":(%d+)$", function(p) return ":" .. (tonumber(p) + 1) end)
  end
  if arg("host") then base = base:gsub("127%.0%.0%.1", arg("host")) end
  if arg("port") then base = base:gsub(":%d+$", ":" .. arg("port")) end
  local c = client { base_url = base, tls_verify = arg("verify") ~= "0", proxy = arg("proxy") and ngx.unescape_uri(arg("proxy")),
    no_proxy = arg("no_proxy") }
  local res, err
  for _ = 1, tonumber(arg("n")) or 1 do res, err = c.conversations:create {} end
  send_json { ok = res ~= nil, kind = err and err.kind, not_sent = err and err.not_sent, tls = err and err.tls,
    proxy_status = err and err.proxy_status, msg = err and tostring(err) }
end

-- /ws_proxied?proxy=&no_proxy=&tls=1: a chat session through a proxy (wss:// with tls=1, its
-- certificate not checked): its first event, then closed
routes["/ws_proxied"] = function()
  local o = { proxy = arg("proxy") and ngx.unescape_uri(arg("proxy")),
    no_proxy = arg("no_proxy") and ngx.unescape_uri(arg("no_proxy")) }
  if arg("tls") == "1" then
    o.ws_base_url = EMU:gsub("^http:", "wss:"):gsub(":(%d+)$", function(p) return ":" .. (tonumber(p) + 1) end)
    o.tls_verify = false
  end
  local ws, err = client(o).websockets.chat:connect { bot_id = "b" }
  if not ws then return send_json { ok = false, kind = err.kind, proxy_status = err.proxy_status } end
  local ev, nerr = ws:next()
  ws:close()
  send_json { ok = ev ~= nil, first = ev and ev.event_type, msg = nerr and tostring(nerr) }
end

-- /logged: a JSON call and a chat stream read to its end with a logger; the records' timings
routes["/logged"] = function()
  send_json(require("helpers.timings").run(EMU))
end

-- /upload?size=&sleep_ms=: a multipart upload of a file of size bytes with on_progress (and with
-- sleep_ms, an on_wait that sleeps that long); the progress calls it saw, the on_wait calls, wall ms
routes["/upload"] = function()
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(string.rep("u", tonumber(arg("size")) or 1000000))
  f:close()
  local seen, waits, on_wait = {}, 0, nil
  local sleep_ms = tonumber(arg("sleep_ms"))
  if sleep_ms then on_wait = function() waits = waits + 1; ngx.sleep(sleep_ms / 1000) end end
  ngx.update_time()
  local t0 = ngx.now()
  local file, err = client().files:upload { file = path, on_wait = on_wait,
    on_progress = function(sent, total) seen[#seen + 1] = { sent, total } end }
  ngx.update_time()
  os.remove(path)
  send_json { ok = file ~= nil, bytes = file and file.bytes, err = err and tostring(err), seen = seen,
    waits = waits, ms = (ngx.now() - t0) * 1000 }
end

-- The worker's resident memory in KB (/proc: the hostile-server specs bound its growth).
local function rss_kb()
  local f = io.open("/proc/self/status", "rb")
  local kb = f and tonumber(f:read("*a"):match("VmRSS:%s*(%d+)"))
  if f then f:close() end
  return kb
end

-- /hostile?port=&scheme=https&verify=0: one call to a spec/helpers/hostile_http.py server; its outcome
-- and how much the worker's RSS grew meanwhile (KB)
routes["/hostile"] = function()
  local base = (arg("scheme") or "http") .. "://127.0.0.1:" .. arg("port")
  local c = client { base_url = base, tls_verify = arg("verify") ~= "0" }
  local rss0 = rss_kb()
  local res, err = c.conversations:create {}
  send_json { ok = res ~= nil, kind = err and err.kind, tls = err and err.tls, not_sent = err and err.not_sent,
    retryable = err and require("coze.retry").retryable(err, true), msg = err and tostring(err), rss_growth_kb = rss_kb() - rss0 }
end

-- /upload_change?change=grow|shrink: a 1 MB file that grows (by 100 KB) or shrinks (to 1000 bytes)
-- at the first on_progress, uploaded; then a call on the same client (and so the same pool)
routes["/upload_change"] = function()
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(string.rep("u", 1000000))
  f:close()
  local changed = false
  local function change()
    if changed then return end
    changed = true
    local g = assert(io.open(path, arg("change") == "grow" and "ab" or "wb"))
    g:write(arg("change") == "grow" and string.rep("g", 100000) or string.rep("s", 1000))
    g:close()
  end
  local c = client()
  local file, err = c.files:upload { file = path, on_progress = change }
  os.remove(path)
  local after, aerr = c.conversations:create {}
  send_json { ok = file ~= nil, bytes = file and file.bytes, kind = err and err.kind, msg = err and tostring(err),
    after = after ~= nil, after_err = aerr and tostring(aerr) }
end

-- The timeouts past 2^31 ms of /big_timeouts (libcurl takes them; nginx's cosockets count less far).
local BIG = { connect_timeout_ms = 3e9, first_byte_timeout_ms = 3e9, idle_timeout_ms = math.huge, total_timeout_ms = 3e9 }

-- /big_timeouts: a chat stream and a websocket session with them
routes["/big_timeouts"] = function()
  local c = client(BIG)
  local last, n = nil, 0
  local ok, e = pcall(function()
    local stream = assert(c.chat:stream(CHAT))
    for ev in stream:events() do last, n = ev.event, n + 1 end
  end)
  local ws_first
  local wok, we = pcall(function()
    local ws = assert(c.websockets.chat:connect { bot_id = "b", idle_timeout_ms = 3e9 })
    ws_first = assert(ws:next()).event_type
    ws:close()
  end)
  send_json { ok = ok, err = not ok and tostring(e) or nil, last = last, n = n, ws_ok = wok,
    ws_err = not wok and tostring(we) or nil, ws_first = ws_first }
end

-- /ws_refused?port=&n=3: n websocket upgrades a server refuses; their statuses
routes["/ws_refused"] = function()
  local c = client { base_url = "http://127.0.0.1:" .. arg("port") }
  local statuses = {}
  for i = 1, tonumber(arg("n")) or 3 do
    local ws, err = c.websockets.chat:connect { bot_id = "b" }
    if ws then ws:close() end
    statuses[i] = err and err.http_status or 0
  end
  send_json { statuses = statuses }
end

-- /call?fault=: one conversations.create with that emulator fault; its outcome
routes["/call"] = function()
  local res, err = client().conversations:create { headers = { ["X-Emu-Fault"] = ngx.unescape_uri(arg("fault")) } }
  send_json { ok = res ~= nil, kind = err and err.kind, not_sent = err and err.not_sent, msg = err and tostring(err) }
end

-- /mem: the worker's Lua heap in KB (bench/ngx_calls.sh tells the heap from the rest of the RSS)
routes["/mem"] = function()
  if arg("collect") == "1" then collectgarbage() end
  send_json { lua_kb = collectgarbage("count") }
end

routes["/log_result"] = function()
  ngx.print(ngx.shared.app:get("log_phase") or "")
end

-- log_by_lua: no cosockets there; the call must raise the documented error
function _M.log_phase()
  local ok, e = pcall(function() return client().conversations:create {} end)
  ngx.shared.app:set("log_phase", ok and "no error" or tostring(e))
end

-- a location's own prefix (nginx.conf.in's /trusted/, and /b64/ of bench/ngx_relay.sh BIG=1) is
-- dropped before the route is looked up
function _M.handle()
  local fn = routes[(ngx.var.uri:gsub("^/trusted/", "/"):gsub("^/b64/", "/"))]
  if not fn then return ngx.exit(404) end
  return fn()
end

return _M
