-- The SDK inside a real nginx (Debian's nginx-core + lua module): spec/openresty/app.lua's handlers
-- call the emulator over coze.transport.ngx; this spec is their browser. No ngx.* is mocked.
local emu = require "helpers.emu"
local core = require "coze.core"
local cjson = require "cjson"
local scenarios = require "helpers.fault_scenarios"
local slow_factor = require("helpers.mem").slow_factor

local EMU_PORT = tonumber(emu.url:match(":(%d+)$"))
-- COZE_APP_PORT moves the two app nginx (default: the emulator's port + 10 and + 11; each also listens
-- 20 above, a server without a resolver directive)
local APP_PORT = tonumber(os.getenv("COZE_APP_PORT") or "") or EMU_PORT + 10
local APP = "http://127.0.0.1:" .. APP_PORT
local APP2 = "http://127.0.0.1:" .. (APP_PORT + 1) -- 2 workers
-- spec/openresty/ctl's certificates: wrong.pem/.key (for wrong.example), trusted.pem (it and the emulator's)
local CERTS = "build/app-" .. APP_PORT .. "/"

local PROXY_VARS = { "https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" }

-- env: extra "NAME=value ..." for nginx; the proxy variables of the caller's shell never reach it
local function ctl(cmd, port, workers, env)
  -- without LD_PRELOAD: make sanitize preloads the ASan runtime into lua5.4, and nginx must not inherit it
  local ok = os.execute(string.format("env -u LD_PRELOAD -u %s COZE_EMU_URL=%s COZE_APP_PORT=%d COZE_APP_WORKERS=%d %s spec/openresty/ctl %s >/dev/null",
    table.concat(PROXY_VARS, " -u "), emu.url, port, workers, env or "", cmd))
  assert(ok == true or ok == 0, "spec/openresty/ctl " .. cmd .. " failed")
end

local session

-- A GET to the application nginx: status, body, headers.
local function get(url, wait)
  session = session or core.session()
  local r = session:request { method = "GET", url = url }
  local status, err = r:wait_headers(wait or 20000)
  assert(status, err)
  local parts = {}
  while true do
    local chunk, rerr = r:read(wait or 20000)
    if chunk == nil then assert(rerr == nil, rerr); break end
    if chunk then parts[#parts + 1] = chunk end
  end
  local h = r:headers()
  r:close()
  return status, table.concat(parts), h
end

local function get_json(url) local _, body = get(url); return cjson.decode(body) end

-- One /ping round trip on session s: its time in ms (the worker-not-blocked specs).
local function ping_ms(s)
  local t = core.monotonic_ms()
  local p = s:request { method = "GET", url = APP .. "/ping" }
  assert.equal(200, p:wait_headers(5000))
  while p:read(5000) do end
  p:close()
  return core.monotonic_ms() - t
end

-- A spec/helpers/hostile_http.py server on a free port: its port, a function that stops it, and
-- one that counts the connections it accepted.
local function hostile(mode, ...)
  local base = os.tmpname()
  os.execute(string.format("python3 spec/helpers/hostile_http.py %s %s.log %s > %s.port 2>/dev/null & echo $! > %s.pid",
    mode, base, table.concat({ ... }, " "), base, base))
  local function read(ext)
    local f = io.open(base .. ext, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
  end
  local port
  for _ = 1, 100 do
    port = tonumber(read(".port") or "")
    if port then break end
    core.sleep_ms(50)
  end
  assert(port, "hostile_http.py " .. mode .. " did not start")
  local function stop()
    local pid = tonumber(read(".pid") or "")
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    for _, ext in ipairs { ".port", ".pid", ".log", "" } do os.remove(base .. ext) end
  end
  local function connections()
    local _, n = (read(".log") or ""):gsub("\n", "")
    return n
  end
  return port, stop, connections
end

-- The event names a browser reads in a relayed body (the fast path forwards the upstream's own
-- framing: `event:x`, CRLF, comments), through the SDK's SSE parser.
local function events_of(body)
  local p, names = core.sse_parser(), {}
  p:feed(body):finish()
  while true do
    local raw, name = p:next()
    if not raw then break end
    names[#names + 1] = name or "message"
  end
  return names
end

-- The answer a relayed chat carries: its deltas' content in the order they came (ids differ from
-- chat to chat, so this and the event names are what two relays of one chat must share).
local function answer_of(body)
  local p, text = core.sse_parser(), {}
  p:feed(body):finish()
  while true do
    local raw, name = p:next()
    if not raw then break end
    if name == "conversation.message.delta" then text[#text + 1] = cjson.decode(raw).content end
  end
  return table.concat(text)
end

describe("the SDK inside nginx (coze.transport.ngx)", function()
  setup(function()
    ctl("restart", APP_PORT, 1)
    ctl("restart", APP_PORT + 1, 2)
  end)
  teardown(function()
    if session then session:close(); session = nil end
    ctl("stop", APP_PORT, 1)
    ctl("stop", APP_PORT + 1, 2)
  end)

  it("relays a chat as SSE with the SSE headers, done last", function()
    local status, body, h = get(APP .. "/chat")
    assert.equal(200, status)
    assert.equal("text/event-stream", h["content-type"])
    assert.equal("no-cache", h["cache-control"])
    assert.equal("no", h["x-accel-buffering"])
    local names = events_of(body)
    assert.equal("conversation.chat.created", names[1])
    assert.equal("done", names[#names])
  end)

  for _, f in ipairs { "crlf", "cr", "split", "space", "comments", "bom" } do
    it("relays the same events under the framing '" .. f .. "'", function()
      local _, plain = get(APP .. "/chat")
      local _, body = get(APP .. "/chat?fault=" .. f)
      assert.same(events_of(plain), events_of(body))
      assert.equal(answer_of(plain), answer_of(body))
      assert.truthy(#answer_of(plain) > 10)
    end)
  end

  it("relays a Content-Length (not chunked) stream", function()
    -- the emulator's /__low/bytes answers with Content-Length; a stream through it is parsed the same
    local r = get_json(APP .. "/scenario?name=plain_stream")
    assert.is_true(r.ok)
  end)

  it("hands the first event to the browser before the emulator writes the last (drip)", function()
    session = session or core.session()
    local t0 = core.monotonic_ms()
    local r = session:request { method = "GET", url = APP .. "/chat?drip=200&flush=event" }
    assert.equal(200, r:wait_headers(10000))
    local first, body = nil, {}
    while true do
      local chunk, err = r:read(10000)
      assert.is_nil(err)
      if chunk == nil then break end
      if chunk and not first and chunk:find("event:", 1, true) then first = core.monotonic_ms() - t0 end
      body[#body + 1] = chunk
    end
    r:close()
    local total = core.monotonic_ms() - t0
    local n = #events_of(table.concat(body))
    assert.truthy(n >= 8)
    assert.truthy(first < total - 1000, "first event at " .. first .. " ms, end at " .. total .. " ms")
  end)

  it("never blocks the worker: /ping answers under 50 ms during a 5 s drip", function()
    session = session or core.session()
    local s2 = core.session()
    local r = session:request { method = "GET", url = APP .. "/chat?drip=450&flush=event" }
    assert.equal(200, r:wait_headers(10000))
    local worst, pings, done = 0, 0, false
    while not done do
      local chunk, err = r:read(0)
      assert.is_nil(err)
      if chunk == nil then done = true end
      local dt = ping_ms(s2)
      if dt > worst then worst = dt end
      pings = pings + 1
      core.sleep_ms(100)
    end
    r:close()
    s2:close()
    assert.truthy(pings >= 30, pings .. " pings")
    assert.truthy(worst < 50, "slowest /ping: " .. worst .. " ms")
  end)

  it("relays 200 concurrent streams in one worker, each complete and in order, /ping still answers", function()
    local s = core.session()
    local reqs, bodies, left = {}, {}, 200
    for i = 1, 200 do
      reqs[i] = s:request { method = "GET", url = APP .. "/chat?drip=20" }
      bodies[i] = {}
    end
    local t = core.monotonic_ms()
    local p = s:request { method = "GET", url = APP .. "/ping" }
    local pinged
    local deadline = core.monotonic_ms() + 60000
    while left > 0 and core.monotonic_ms() < deadline do
      for i = 1, 200 do
        local r = reqs[i]
        if r then
          local chunk, err = r:read(0)
          assert.is_nil(err)
          if chunk == nil then
            r:close(); reqs[i] = nil; left = left - 1
          elseif chunk then
            bodies[i][#bodies[i] + 1] = chunk
          end
        end
      end
      if p and p:status() == 200 then pinged = core.monotonic_ms() - t; p:close(); p = nil end
      core.sleep_ms(2)
    end
    s:close()
    assert.equal(0, left)
    -- (the client polling 200 transfers is what runs under the sanitizers, not the worker)
    assert.truthy(pinged and pinged < 2000 * slow_factor(), "ping took " .. tostring(pinged))
    local _, plain = get(APP .. "/chat")
    local want, text = events_of(plain), answer_of(plain)
    for i = 1, 200 do
      local body = table.concat(bodies[i])
      assert.same(want, events_of(body))
      assert.equal(text, answer_of(body)) -- every delta, in order
    end
  end)

  it("keeps one upstream connection over 100 sequential calls", function()
    local mark = emu.mark()
    assert.equal(100, get_json(APP .. "/keepalive?n=100").ok)
    local conns = {}
    for _, r in ipairs(emu.since(mark, "^/v1/conversation")) do conns[r.connection] = true end
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.equal(1, n)
  end)

  it("never puts an abandoned stream's connection back: the next call works on a new one", function()
    local mark = emu.mark()
    local r = get_json(APP .. "/abandon")
    assert.equal("conversation.chat.created", r.first)
    assert.is_true(r.ok)
    local log = emu.since(mark)
    assert.equal(2, #log)
    assert.are_not.equal(log[1].connection, log[2].connection)
  end)

  it("closes the upstream and cancels the chat when the browser goes away", function()
    local mark = emu.mark()
    local s = core.session()
    local r = s:request { method = "GET", url = APP .. "/chat?drip=300&flush=event&cancel=1" }
    assert.equal(200, r:wait_headers(10000))
    local got = ""
    while not got:find("conversation.message.delta", 1, true) do got = got .. (r:read(5000) or "") end
    r:close()
    s:close()
    local cancels
    for _ = 1, 100 do
      cancels = emu.since(mark, "/cancel$")
      if #cancels > 0 then break end
      core.sleep_ms(50)
    end
    assert.equal(1, #cancels)
    -- and the upstream connection was closed, not left open until the stream ended
    local conn = string.format("%d", emu.since(mark, "^/v3/chat$")[1].connection)
    local gone
    for _ = 1, 100 do
      local _, b = get(emu.url .. "/__emu/gone?connection=" .. conn)
      gone = cjson.decode(b).gone
      if gone then break end
      core.sleep_ms(50)
    end
    assert.is_true(gone)
  end)

  it("relays what map keeps when it skips events (the first ones included)", function()
    local _, body = get(APP .. "/chat?drip=5&map=deltas&count=1")
    local names = events_of(body)
    assert.is_true(#names > 1, body)
    assert.equal(": relayed " .. #names, body:match(": relayed %d+"), "relay's count is what it wrote")
    for _, name in ipairs(names) do assert.equal("conversation.message.delta", name) end
    local p, text = core.sse_parser(), {}
    p:feed(body):finish()
    for raw in function() return (p:next()) end do text[#text + 1] = raw end
    assert.truthy(table.concat(text):find("relayed chat", 1, true), body) -- the reply echoes the question
  end)

  it("closes the upstream and cancels the chat when map raises, and the error reaches nginx", function()
    local mark = emu.mark()
    local s = core.session()
    local r = s:request { method = "GET", url = APP .. "/chat?drip=50&cancel=1&map=raise" }
    assert.truthy(r:wait_headers(10000))
    repeat local chunk = r:read(10000) until not chunk -- nginx ends the answer (cut, or a 500)
    r:close()
    s:close()
    local cancels
    for _ = 1, 100 do
      cancels = emu.since(mark, "/cancel$")
      if #cancels > 0 then break end
      core.sleep_ms(20)
    end
    assert.equal(1, #cancels)
  end)

  it("shared_lock releases its own lock, lets one near expiry run out, and survives a failing store", function()
    local r = get_json(APP .. "/lock")
    assert.is_true(r.held)
    assert.is_true(r.released)
    assert.is_true(r.near_expiry_kept)
    assert.is_true(r.others_kept)
    assert.is_true(r.store_error)
    assert.is_true(r.released_after_store_error)
  end)

  it("relays an upstream failure after the headers as an error event, never as done", function()
    local _, body = get(APP .. "/chat?fault=reset;after=3")
    local names = events_of(body)
    assert.equal("error", names[#names])
    for _, name in ipairs(names) do assert.are_not.equal("done", name) end
    assert.truthy(body:find('"code":"transport"', 1, true))
  end)

  -- every way an upstream can fail after the headers, on both relay paths: the browser's last event
  -- is our error event with the SDK's code, and no done the server never sent
  local FAILURES = {
    { "reset;after=3", "transport" },
    { "truncate;after=3", "stream" },
    { "no_done", "stream" },
    { "stall;after=2;ms=1500&idle=300", "timeout" },
    { "huge_event;bytes=200000&maxev=65536", "stream" },
  }
  for _, f in ipairs(FAILURES) do
    for _, path in ipairs { "", "&map=1" } do
      it("ends a relay whose upstream fails (" .. f[1] .. (path ~= "" and ", map" or "") .. ") with an error event", function()
        local _, body = get(APP .. "/chat?fault=" .. f[1] .. path)
        local names = events_of(body)
        assert.equal("error", names[#names], body)
        for i, name in ipairs(names) do
          assert.are_not.equal("done", name)
          if i < #names then assert.are_not.equal("error", name) end
        end
        local last = body:match("event: error\ndata: ([^\n]*)\n\n$")
        assert.equal(f[2], cjson.decode(last).code, body:sub(-300))
      end)
    end
  end

  it("relays the upstream's own error event as it came", function()
    local _, body = get(APP .. "/chat?fault=error_event;after=2;code=4013")
    local names = events_of(body)
    assert.equal("error", names[#names])
    assert.truthy(body:find("4013", 1, true))
  end)

  it("relays through opts.map", function()
    local _, body = get(APP .. "/chat?map=1")
    assert.truthy(body:find('data: {"len":', 1, true))
    assert.equal("done", events_of(body)[#events_of(body)])
  end)

  it("relays a completions stream's closing `data: [DONE]` on both paths (a browser's sign it is complete)", function()
    for _, q in ipairs { "", "?map=1" } do
      local _, body = get(APP .. "/completions" .. q)
      local p, last, n = core.sse_parser(), nil, 0
      p:feed(body):finish()
      while true do
        local raw = p:next()
        if not raw then break end
        last, n = raw, n + 1
      end
      assert.truthy(n > 2, body)
      assert.equal("[DONE]", last, q)
      assert.truthy(body:find('"object":"chat.completion.chunk"', 1, true), body)
    end
  end)

  it("raises the documented error for a call in log_by_lua", function()
    get(APP .. "/log_phase")
    local msg
    for _ = 1, 50 do
      _, msg = get(APP .. "/log_result")
      if msg ~= "" then break end
      core.sleep_ms(20)
    end
    assert.truthy(msg:find("'log' phase", 1, true), msg)
    assert.truthy(msg:find("ngx.timer.at(0", 1, true), msg)
  end)

  it("refuses an untrusted certificate with a message naming lua_ssl_trusted_certificate", function()
    local r = get_json(APP .. "/tls")
    assert.is_false(r.ok)
    assert.equal("transport", r.kind)
    assert.is_true(r.tls)
    assert.truthy(r.msg:find("lua_ssl_trusted_certificate", 1, true), r.msg)
    local off = get_json(APP .. "/tls?verify=0")
    assert.is_true(off.ok, off.msg)
  end)

  it("names the resolver directive when a host cannot be resolved", function()
    local r = get_json(APP .. "/resolve")
    assert.is_false(r.ok)
    assert.is_true(r.not_sent)
    assert.truthy(r.msg:find("resolver", 1, true), r.msg)
  end)

  it("says to add a resolver directive where nginx.conf has none", function()
    local r = get_json("http://127.0.0.1:" .. (APP_PORT + 20) .. "/resolve?host=localhost")
    assert.is_false(r.ok)
    assert.is_true(r.not_sent)
    assert.truthy(r.msg:find("add a `resolver` directive", 1, true), r.msg)
  end)

  it("makes one token request for 20 concurrent JWT calls over 2 workers (shared_store/shared_lock)", function()
    local mark = emu.mark()
    local pids = {}
    local function round()
      local s = core.session()
      local reqs = {}
      for i = 1, 20 do reqs[i] = s:request { method = "GET", url = APP2 .. "/jwt?i=" .. i } end
      for i = 1, 20 do
        assert.equal(200, reqs[i]:wait_headers(20000))
        local body = {}
        while true do
          local c = reqs[i]:read(20000)
          if not c then break end
          body[#body + 1] = c
        end
        reqs[i]:close()
        local r = cjson.decode(table.concat(body))
        assert.is_true(r.ok, r.err)
        pids[r.pid] = true
      end
      s:close()
      local n = 0
      for _ in pairs(pids) do n = n + 1 end
      return n
    end
    -- the kernel decides which worker accepts: more rounds until both served (each one must reuse the token)
    local workers = 0
    for _ = 1, 5 do
      workers = round()
      if workers == 2 then break end
    end
    assert.equal(2, workers, "both workers served")
    assert.equal(1, #emu.since(mark, "oauth2/token"))
    -- a 401 makes the handler drop the shared token: one new token request, the call replayed
    mark = emu.mark()
    local r = get_json(APP2 .. "/jwt?fault=echo_auth%3Btimes%3D1%3Bstatus%3D401&key=k" .. core.monotonic_ms())
    assert.is_true(r.ok, r.err)
    assert.equal(1, #emu.since(mark, "oauth2/token"))
    assert.is_true(get_json(APP2 .. "/jwt").ok)
    assert.equal(1, #emu.since(mark, "oauth2/token"))
  end)
end)

describe("fault scenarios give the same outcome on libcurl and on cosockets", function()
  setup(function() ctl("start", APP_PORT, 1) end)
  teardown(function() ctl("stop", APP_PORT, 1) end)
  local coze = require "coze"
  for _, name in ipairs(scenarios.names) do
    it(name, function()
      local c = coze.new(scenarios.client_opts(name, emu.url))
      local m0 = emu.mark()
      local on_curl = scenarios.cases[name](c, "curl-" .. name .. "-" .. core.monotonic_ms())
      c:close()
      local m1 = emu.mark()
      local on_ngx = get_json(APP .. "/scenario?name=" .. name)
      assert.same(on_curl, on_ngx)
      local want = scenarios.attempts[name]
      if want then
        local curl_seen, ngx_seen = {}, emu.since(m1, "^/v1/conversation")
        for _, r in ipairs(emu.since(m0, "^/v1/conversation")) do
          if r.seq <= m1 then curl_seen[#curl_seen + 1] = r end
        end
        for _, seen in ipairs { curl_seen, ngx_seen } do
          assert.equal(want.requests, #seen)
          assert.truthy(seen[2].time - seen[1].time >= want.min_gap_s, "retried after " .. (seen[2].time - seen[1].time) .. " s")
        end
      end
    end)
  end
end)

describe("websocket sessions inside nginx run on cosockets", function()
  local ws_scenarios = require "helpers.ws_scenarios"
  local last_session = require("helpers.ws").last_session
  setup(function() ctl("start", APP_PORT, 1) end)
  teardown(function() ctl("stop", APP_PORT, 1) end)

  for _, name in ipairs(ws_scenarios.names) do
    local case = ws_scenarios.cases[name]
    it(name .. " gives the same outcome as on libcurl", function()
      assert.same(case.expect, get_json(APP .. "/ws_scenario?name=" .. name))
      for k, v in pairs(case.seen or {}) do
        local seen = last_session()
        local got = seen[k]
        if k == "client_close" then got = seen.client_close and seen.client_close.code end
        assert.same(v, got, k)
      end
    end)
  end

  it("never blocks the worker: /ping answers under 50 ms while a session waits 1.5 s for its idle timeout", function()
    local s, s2 = core.session(), core.session()
    local t0 = core.monotonic_ms()
    local r = s:request { method = "GET", url = APP .. "/ws_wait?ms=1500" }
    local worst, pings = 0, 0
    while core.monotonic_ms() - t0 < 1300 do
      local dt = ping_ms(s2)
      if dt > worst then worst = dt end
      pings = pings + 1
      core.sleep_ms(50)
    end
    assert.equal(200, r:wait_headers(10000))
    local parts = {}
    while true do
      local chunk = r:read(10000)
      if not chunk then break end
      if chunk then parts[#parts + 1] = chunk end
    end
    r:close()
    s:close()
    s2:close()
    local out = cjson.decode(table.concat(parts))
    assert.equal("cosocket", out.backend)
    assert.equal("chat.created", out.first)
    assert.equal("timeout", out.kind)
    assert.equal("idle", out.timeout)
    assert.is_true(out.waited_ms >= 1400, out.waited_ms)
    assert.truthy(pings >= 10, pings .. " pings")
    assert.truthy(worst < 50, "slowest /ping: " .. worst .. " ms")
  end)
end)

describe("coze.transport.ngx through an HTTP proxy", function()
  -- spec/helpers/connect_proxy.py on loopback (nginx refuses CONNECT, so the emulator is none):
  -- one open, one that wants Basic credentials
  local PROXY_PORT, AUTH_PORT = APP_PORT + 2, APP_PORT + 3
  local PROXY, AUTH = "http://127.0.0.1:" .. PROXY_PORT, "http://127.0.0.1:" .. AUTH_PORT
  local EMU_TLS = "127.0.0.1:" .. (EMU_PORT + 1)
  local coze = require "coze"
  local proxies = require "helpers.proxy"
  local running = {}

  -- The first request of each proxy connection since the last call, as connect_proxy.py logged them.
  local function seen(port) return running[port]:seen() end

  local function proxied(q) return get_json(APP .. "/proxied?" .. q) end
  -- The same call on libcurl outside nginx: kind, not_sent and proxy_status must agree
  local function on_curl(base, proxy_url)
    local c = coze.new { token = "pat_test", base_url = base, tls_verify = false, proxy = proxy_url, max_retries = 0 }
    local _, err = c.conversations:create {}
    c:close()
    return { kind = err and err.kind, not_sent = err and err.not_sent, proxy_status = err and err.proxy_status }
  end
  local function esc(s) return (s:gsub("[^%w._~-]", function(c) return string.format("%%%02X", c:byte()) end)) end

  setup(function()
    ctl("start", APP_PORT, 1)
    running[PROXY_PORT] = proxies.start(PROXY_PORT)
    running[AUTH_PORT] = proxies.start(AUTH_PORT, "user:p@ss w:rd") -- the proxy URL gives it %-escaped
    seen(PROXY_PORT); seen(AUTH_PORT)
  end)
  teardown(function()
    for _, p in pairs(running) do p:stop() end
    ctl("stop", APP_PORT, 1)
  end)

  it("tunnels an https call through CONNECT, as libcurl does with the same proxy option", function()
    local r = proxied("tls=1&verify=0&proxy=" .. esc(PROXY))
    assert.is_true(r.ok, r.msg)
    assert.same({ { method = "CONNECT", target = EMU_TLS, auth = "missing" } }, seen(PROXY_PORT))
    local c = coze.new { token = "pat_test", base_url = "https://" .. EMU_TLS, tls_verify = false, proxy = PROXY, max_retries = 0 }
    assert(c.conversations:create {})
    c:close()
    assert.same({ { method = "CONNECT", target = EMU_TLS, auth = "missing" } }, seen(PROXY_PORT))
  end)

  it("sends the target's name as SNI inside the tunnel (none for an IP address, as libcurl)", function()
    local mark = emu.mark()
    assert.is_true(proxied("tls=1&verify=0&host=localhost&proxy=" .. esc(PROXY)).ok)
    assert.is_true(proxied("tls=1&verify=0&proxy=" .. esc(PROXY)).ok)
    local log = emu.since(mark, "^/v1/conversation")
    assert.equal(2, #log)
    assert.equal("localhost", log[1].sni)
    assert.is_nil(log[2].sni)
    seen(PROXY_PORT)
  end)

  it("verifies the target's certificate inside the tunnel (as direct)", function()
    local r = proxied("tls=1&proxy=" .. esc(PROXY))
    assert.is_false(r.ok)
    assert.is_true(r.tls)
    assert.truthy(r.msg:find("lua_ssl_trusted_certificate", 1, true), r.msg)
  end)

  it("refuses a trusted certificate for another host name as libcurl does: err.tls, never retried", function()
    local port, stop = hostile("tls", CERTS .. "wrong.pem", CERTS .. "wrong.key")
    local ok, e = pcall(function()
      local r = get_json(APP .. "/trusted/proxied?tls=1&host=localhost&port=" .. port .. "&proxy=" .. esc(PROXY))
      assert.is_false(r.ok, r.msg)
      assert.equal("transport", r.kind)
      assert.is_true(r.tls)
      assert.is_nil(r.not_sent)
      assert.truthy(r.msg:find("certificate host mismatch", 1, true), r.msg)
      assert.truthy(r.msg:find("tls_verify = false", 1, true), r.msg)
      local c = coze.new { token = "pat_test", base_url = "https://localhost:" .. port, proxy = PROXY,
        ca_file = CERTS .. "trusted.pem", max_retries = 0 }
      local _, err = c.conversations:create {}
      c:close()
      assert.same({ kind = err.kind, tls = err.tls, not_sent = err.not_sent }, { kind = r.kind, tls = r.tls, not_sent = r.not_sent })
    end)
    stop()
    seen(PROXY_PORT)
    assert(ok, e)
  end)

  it("keeps the tunnel alive: 5 calls, 1 CONNECT", function()
    ctl("restart", APP_PORT, 1) -- an empty pool: the tunnels of the calls before are not counted
    assert.is_true(proxied("tls=1&verify=0&n=5&proxy=" .. esc(PROXY)).ok)
    assert.equal(1, #seen(PROXY_PORT))
  end)

  it("sends a plain http call in absolute form, as libcurl does", function()
    assert.is_true(proxied("proxy=" .. esc(PROXY)).ok)
    local log = seen(PROXY_PORT)
    assert.equal(1, #log)
    assert.equal("POST", log[1].method)
    assert.equal(emu.url .. "/v1/conversation/create", log[1].target)
    local c = coze.new { token = "pat_test", base_url = emu.url, proxy = PROXY, max_retries = 0 }
    assert(c.conversations:create {})
    c:close()
    assert.same(log, seen(PROXY_PORT))
  end)

  it("authenticates with the proxy URL's credentials and never prints them", function()
    local good = "http://user:p%40ss%20w%3Ard@127.0.0.1:" .. AUTH_PORT
    assert.is_true(proxied("tls=1&verify=0&proxy=" .. esc(good)).ok)
    assert.is_true(proxied("proxy=" .. esc(good)).ok)
    local log = seen(AUTH_PORT)
    assert.equal(2, #log)
    assert.equal("ok", log[1].auth)
    assert.equal("ok", log[2].auth)
    local c = coze.new { token = "pat_test", base_url = emu.url, proxy = good, max_retries = 0 }
    assert(c.conversations:create {}) -- libcurl decodes the credentials the same way
    c:close()
    assert.equal("ok", seen(AUTH_PORT)[1].auth)
    -- other credentials get another pool (a keyed hash of them in its name): the tunnel the good
    -- ones left in the pool is not theirs, so their CONNECT goes out and is refused
    local bad = proxied("tls=1&verify=0&proxy=" .. esc("http://user:wrong-secret@127.0.0.1:" .. AUTH_PORT))
    assert.is_false(bad.ok)
    assert.equal("transport", bad.kind)
    assert.equal(407, bad.proxy_status)
    assert.truthy(bad.msg:find("407", 1, true), bad.msg)
    assert.is_nil(bad.msg:find("wrong-secret", 1, true), bad.msg)
    assert.equal(1, #seen(AUTH_PORT))
    assert.same({ kind = "transport", proxy_status = 407 }, -- and on libcurl
      on_curl("https://" .. EMU_TLS, "http://user:wrong-secret@127.0.0.1:" .. AUTH_PORT))
    seen(AUTH_PORT)
    -- and the same credentials find their pooled tunnel again: no new CONNECT
    assert.is_true(proxied("tls=1&verify=0&proxy=" .. esc(good)).ok)
    assert.same({}, seen(AUTH_PORT))
  end)

  it("says the proxy refused the CONNECT, with its status", function()
    local r = proxied("tls=1&verify=0&host=refused.invalid&proxy=" .. esc(PROXY))
    assert.is_false(r.ok)
    assert.equal("transport", r.kind)
    assert.equal(403, r.proxy_status)
    assert.truthy(r.msg:find("refused the CONNECT to refused.invalid:" .. (EMU_PORT + 1) .. ": HTTP 403", 1, true), r.msg)
    assert.same(on_curl("https://refused.invalid:" .. (EMU_PORT + 1), PROXY), { kind = r.kind, not_sent = r.not_sent,
      proxy_status = 403 })
    seen(PROXY_PORT)
  end)

  it("reports an unreachable proxy as a transport error that was not sent", function()
    local r = proxied("tls=1&verify=0&proxy=" .. esc("http://127.0.0.1:9"))
    assert.is_false(r.ok)
    assert.equal("transport", r.kind)
    assert.is_true(r.not_sent)
    assert.truthy(r.msg:find("cannot connect to proxy 127.0.0.1:9", 1, true), r.msg)
    assert.same(on_curl("https://" .. EMU_TLS, "http://127.0.0.1:9"), { kind = r.kind, not_sent = r.not_sent })
    assert.is_nil(r.proxy_status)
  end)

  it("reads https_proxy and no_proxy from the environment nginx.conf lets through (`env`)", function()
    local port = APP_PORT + 4
    ctl("restart", port, 1, "https_proxy=" .. PROXY .. " no_proxy=127.0.0.1")
    local ok, err = pcall(function()
      local base = "http://127.0.0.1:" .. port .. "/proxied?"
      local r = get_json(base .. "tls=1&verify=0&host=localhost") -- the proxy resolves it
      assert.is_true(r.ok, r.msg)
      assert.same({ { method = "CONNECT", target = "localhost:" .. (EMU_PORT + 1), auth = "missing" } }, seen(PROXY_PORT))
      assert.is_true(get_json(base .. "tls=1&verify=0").ok) -- no_proxy
      -- http reads http_proxy only, so this one goes direct, where nginx's resolver knows no localhost
      assert.is_false(get_json(base .. "host=localhost").ok)
      assert.same({}, seen(PROXY_PORT))
    end)
    ctl("stop", port, 1)
    assert(ok, err)
  end)

  -- A WebSocket session through the proxy outside nginx (libcurl's connection): its outcome as
  -- /ws_proxied gives it
  local function ws_on_curl(o)
    local opts = { token = "pat_test", base_url = emu.url, max_retries = 0, proxy = o.proxy, no_proxy = o.no_proxy }
    if o.transport_proxy then -- the transport's own option, as its HTTP calls take it
      opts.transport = require("coze.transport.curl").new { proxy = o.transport_proxy }
    end
    if o.tls then
      opts.ws_base_url, opts.tls_verify = "wss://" .. EMU_TLS, false
    end
    local c = coze.new(opts)
    local ws, err = c.websockets.chat:connect { bot_id = "b" }
    if not ws then c:close(); return { ok = false, kind = err.kind, proxy_status = err.proxy_status } end
    local ev, nerr = ws:next()
    ws:close()
    c:close()
    return { ok = ev ~= nil, first = ev and ev.event_type, msg = nerr and tostring(nerr) }
  end

  it("opens WebSocket sessions through a CONNECT tunnel, ws:// and wss://, as libcurl does", function()
    local EMU_PLAIN = "127.0.0.1:" .. EMU_PORT
    for _, case in ipairs { { q = "", target = EMU_PLAIN }, { q = "&tls=1", tls = true, target = EMU_TLS } } do
      local r = get_json(APP .. "/ws_proxied?proxy=" .. esc(PROXY) .. case.q)
      assert.same({ ok = true, first = "chat.created" }, r)
      assert.same({ { method = "CONNECT", target = case.target, auth = "missing" } }, seen(PROXY_PORT))
      assert.same(r, ws_on_curl { proxy = PROXY, tls = case.tls })
      assert.same({ { method = "CONNECT", target = case.target, auth = "missing" } }, seen(PROXY_PORT))
      assert.same(r, ws_on_curl { transport_proxy = PROXY, tls = case.tls })
      assert.same({ { method = "CONNECT", target = case.target, auth = "missing" } }, seen(PROXY_PORT))
    end
    -- with the proxy's credentials (Proxy-Authorization on the CONNECT), on both
    local good = "http://user:p%40ss%20w%3Ard@127.0.0.1:" .. AUTH_PORT
    assert.same({ ok = true, first = "chat.created" }, get_json(APP .. "/ws_proxied?proxy=" .. esc(good)))
    assert.same({ ok = true, first = "chat.created" }, ws_on_curl { proxy = good })
    local log = seen(AUTH_PORT)
    assert.equal(2, #log)
    assert.same({ "ok", "ok" }, { log[1].auth, log[2].auth })
    -- refused: the proxy's status on both
    local bad = "http://user:wrong@127.0.0.1:" .. AUTH_PORT
    assert.same({ ok = false, kind = "transport", proxy_status = 407 }, get_json(APP .. "/ws_proxied?proxy=" .. esc(bad)))
    assert.same({ ok = false, kind = "transport", proxy_status = 407 }, ws_on_curl { proxy = bad })
    seen(AUTH_PORT)
  end)

  it("opens WebSocket sessions directly for a host in no_proxy, on both connections", function()
    for _, q in ipairs { "", "&tls=1" } do
      local r = get_json(APP .. "/ws_proxied?no_proxy=localhost,127.0.0.1&proxy=" .. esc(PROXY) .. q)
      assert.same({ ok = true, first = "chat.created" }, r)
      assert.same(r, ws_on_curl { proxy = PROXY, no_proxy = "localhost,127.0.0.1", tls = q ~= "" })
    end
    assert.same({}, seen(PROXY_PORT))
  end)

  it("goes direct for a host in no_proxy, and with proxy = ''", function()
    assert.is_true(proxied("tls=1&verify=0&no_proxy=localhost,127.0.0.1&proxy=" .. esc(PROXY)).ok)
    assert.is_true(proxied("proxy=").ok)
    assert.same({}, seen(PROXY_PORT))
  end)
end)

describe("timings inside nginx", function()
  setup(function() ctl("start", APP_PORT, 1) end)
  teardown(function() ctl("stop", APP_PORT, 1) end)

  it("gives coze.log the timings and byte counts libcurl gives", function()
    local ngx_records = get_json(APP .. "/logged")
    local curl_records = require("helpers.timings").run(emu.url)
    assert.equal(3, #ngx_records) -- the call's attempt, the stream's attempt, its end
    for i, r in ipairs(ngx_records) do
      local c = curl_records[i]
      assert.same({ c.event, c.op }, { r.event, r.op })
      for _, k in ipairs { "connect_ms", "first_byte_ms", "total_ms", "bytes", "reused" } do
        assert.equal(type(c[k]), type(r[k]), r.event .. " " .. r.op .. " " .. k)
      end
      if r.first_byte_ms then assert.truthy(r.first_byte_ms <= r.total_ms, i) end
      if r.connect_ms then assert.truthy(r.connect_ms <= r.first_byte_ms, i) end
    end
    -- the JSON answer's bytes (Content-Length) and the chunked stream's data bytes, as curl counts them
    assert.truthy(ngx_records[1].bytes > 0)
    assert.equal(curl_records[3].bytes, ngx_records[3].bytes)
    assert.truthy(ngx_records[3].total_ms >= 100, ngx_records[3].total_ms) -- the stream drips for longer
  end)
end)

describe("upload progress inside nginx", function()
  setup(function() ctl("start", APP_PORT, 1) end)
  teardown(function() ctl("stop", APP_PORT, 1) end)

  it("calls on_progress while a multipart file goes out, ending at the total", function()
    local r = get_json(APP .. "/upload?size=3000000")
    assert.is_true(r.ok, r.err)
    assert.equal(3000000, r.bytes)
    assert.truthy(#r.seen >= 10, #r.seen .. " calls")
    local last = r.seen[#r.seen]
    assert.equal(last[2], last[1])
    assert.truthy(last[2] > 3000000) -- the whole multipart body, as libcurl's upload total
    for i = 2, #r.seen do assert.truthy(r.seen[i][1] > r.seen[i - 1][1]) end
  end)

  it("does not call a sleeping on_wait between the pieces of an upload (cosocket sends yield already)", function()
    local size = 4000000
    local pieces = math.ceil(size / 65536)
    local r = get_json(APP .. "/upload?sleep_ms=50&size=" .. size)
    assert.is_true(r.ok, r.err)
    assert.equal(size, r.bytes)
    assert.equal(0, r.waits)
    -- ~61 pieces: with a 50 ms sleep after each the upload took over 3 s
    assert.truthy(r.ms < pieces * 50 / 4, r.ms .. " ms")
    assert.truthy(#r.seen >= 10, #r.seen .. " progress calls") -- progress still moves piece by piece
    assert.equal(r.seen[#r.seen][2], r.seen[#r.seen][1])
  end)

  it("draws each multipart boundary from OpenSSL, so a new worker does not repeat the last one's", function()
    local seen = {}
    for i = 1, 2 do
      if i > 1 then ctl("restart", APP_PORT, 1) end
      local mark = emu.mark()
      assert.is_true(get_json(APP .. "/upload?size=1000").ok)
      local log = emu.since(mark, "^/v1/files/upload")
      seen[i] = log[1].headers["Content-Type"]:match("boundary=(%S+)")
      assert.truthy(seen[i] and #seen[i] >= 40, seen[i])
    end
    assert.are_not.equal(seen[1], seen[2])
  end)

  it("sends a file that grows meanwhile only up to the Content-Length it promised; the connection stays in step", function()
    local mark = emu.mark()
    local r = get_json(APP .. "/upload_change?change=grow")
    assert.is_true(r.ok, r.msg)
    assert.equal(1000000, r.bytes)
    assert.is_true(r.after, r.after_err)
    local log = emu.since(mark)
    assert.equal(2, #log)
    assert.equal(log[1].connection, log[2].connection) -- kept alive, and in step
  end)

  it("fails an upload whose file shrinks meanwhile with an io error naming the file, never pooling its connection", function()
    local mark = emu.mark()
    local r = get_json(APP .. "/upload_change?change=shrink")
    assert.is_false(r.ok)
    assert.equal("io", r.kind)
    assert.truthy(r.msg:find("shrank", 1, true) and r.msg:find("/tmp/", 1, true), r.msg)
    assert.is_true(r.after, r.after_err)
    local log = emu.since(mark)
    assert.equal(1, #log) -- the cut upload never reached a handler
    assert.equal(1, log[1].connection_requests) -- the call after it came on a new connection
  end)
end)

describe("coze.transport.ngx against hostile servers", function()
  local coze = require "coze"
  setup(function() ctl("start", APP_PORT, 1) end)
  teardown(function() ctl("stop", APP_PORT, 1) end)

  -- The same call on libcurl outside nginx.
  local function on_curl(base, extra)
    local o = { token = "pat_test", base_url = base, max_retries = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    local c = coze.new(o)
    local res, err = c.conversations:create {}
    c:close()
    return res, err
  end

  it("checks an IP host against the certificate's names as libcurl does: another name's is refused, never retried", function()
    local port, stop = hostile("tls", CERTS .. "wrong.pem", CERTS .. "wrong.key")
    local ok, e = pcall(function()
      local r = get_json(APP .. "/trusted/hostile?scheme=https&port=" .. port)
      assert.is_false(r.ok, r.msg)
      assert.equal("transport", r.kind)
      assert.is_true(r.tls)
      assert.is_false(r.retryable)
      assert.truthy(r.msg:find("certificate host mismatch", 1, true), r.msg)
      assert.truthy(r.msg:find("tls_verify = false", 1, true), r.msg)
      local _, err = on_curl("https://127.0.0.1:" .. port, { ca_file = CERTS .. "trusted.pem" })
      assert.same({ kind = err.kind, tls = err.tls, not_sent = err.not_sent }, { kind = r.kind, tls = r.tls, not_sent = r.not_sent })
      -- the emulator's certificate names 127.0.0.1: accepted with verification on, on both
      local good = get_json(APP .. "/trusted/tls")
      assert.is_true(good.ok, good.msg)
      assert(on_curl("https://127.0.0.1:" .. (EMU_PORT + 1), { ca_file = CERTS .. "trusted.pem" }))
    end)
    stop()
    assert(ok, e)
  end)

  it("takes timeouts past 2^31 ms (3e9, math.huge) as libcurl does, for calls, streams and websockets", function()
    local r = get_json(APP .. "/big_timeouts")
    assert.is_true(r.ok, r.err)
    assert.equal("done", r.last)
    assert.is_true(r.ws_ok, r.ws_err)
    assert.equal("chat.created", r.ws_first)
    -- the reference: the same options on libcurl
    local c = coze.new { token = "pat_test", base_url = emu.url, max_retries = 0, connect_timeout_ms = 3e9,
      first_byte_timeout_ms = 3e9, idle_timeout_ms = math.huge, total_timeout_ms = 3e9 }
    assert(c.conversations:create {})
    c:close()
  end)

  it("never pools an upgrade's connection, not even after a refusal without a body: 3 upgrades, 3 connections", function()
    local port, stop, connections = hostile("empty403")
    local ok, e = pcall(function()
      assert.same({ statuses = { 403, 403, 403 } }, get_json(APP .. "/ws_refused?n=3&port=" .. port))
      assert.equal(3, connections())
    end)
    stop()
    assert(ok, e)
  end)

  -- libcurl asks for gzip and decodes it; cosockets ask for nothing and decode nothing, so outcomes
  -- differ and spec/helpers/fault_scenarios.lua cannot hold this case
  it("refuses a body in a content-encoding it did not ask for, naming it (libcurl asks for gzip and decodes)", function()
    local r = get_json(APP .. "/call?fault=gzip")
    assert.is_false(r.ok)
    assert.equal("transport", r.kind)
    assert.is_nil(r.not_sent)
    assert.truthy(r.msg:find("content-encoding 'gzip'", 1, true), r.msg)
    local res = assert(on_curl(emu.url, { headers = { ["X-Emu-Fault"] = "gzip" } }))
    assert.equal("7390029769854844001", res.id)
  end)

  for _, mode in ipairs { "longline", "manyheaders" } do
    it("fails an endless header block (" .. mode .. ") with libcurl's limit error, the worker's memory bounded", function()
      local port, stop = hostile(mode)
      local ok, e = pcall(function()
        local r = get_json(APP .. "/hostile?port=" .. port)
        assert.is_false(r.ok)
        assert.equal("transport", r.kind)
        assert.truthy(r.msg:find(core.HEADERS_TOO_LARGE, 1, true), r.msg)
        assert.truthy(r.rss_growth_kb < 4096, "the worker grew by " .. r.rss_growth_kb .. " KB")
        local _, err = on_curl("http://127.0.0.1:" .. port)
        assert.equal(err.kind, r.kind)
        assert.equal(err.not_sent, r.not_sent)
        assert.truthy(tostring(err):find(core.HEADERS_TOO_LARGE, 1, true), tostring(err))
      end)
      stop()
      assert(ok, e)
    end)
  end
end)
