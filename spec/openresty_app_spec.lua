-- The SDK inside a real nginx (Debian's nginx-core + lua module): spec/openresty/app.lua's handlers
-- call the emulator over coze.transport.ngx; this spec is their browser. No ngx.* is mocked.
local emu = require "helpers.emu"
local core = require "coze.core"
local cjson = require "cjson"
local scenarios = require "helpers.fault_scenarios"

local EMU_PORT = tonumber(emu.url:match(":(%d+)$"))
local APP = "http://127.0.0.1:" .. (EMU_PORT + 10)
local APP2 = "http://127.0.0.1:" .. (EMU_PORT + 11) -- 2 workers

local function ctl(cmd, port, workers)
  -- without LD_PRELOAD: make sanitize preloads the ASan runtime into lua5.4, and nginx must not inherit it
  local ok = os.execute(string.format("env -u LD_PRELOAD COZE_EMU_URL=%s COZE_APP_PORT=%d COZE_APP_WORKERS=%d spec/openresty/ctl %s >/dev/null",
    emu.url, port, workers, cmd))
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

describe("the SDK inside nginx (coze.transport.ngx)", function()
  setup(function()
    ctl("restart", EMU_PORT + 10, 1)
    ctl("restart", EMU_PORT + 11, 2)
  end)
  teardown(function()
    if session then session:close(); session = nil end
    ctl("stop", EMU_PORT + 10, 1)
    ctl("stop", EMU_PORT + 11, 2)
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
      local t = core.monotonic_ms()
      local p = s2:request { method = "GET", url = APP .. "/ping" }
      assert.equal(200, p:wait_headers(5000))
      while p:read(5000) do end
      p:close()
      local dt = core.monotonic_ms() - t
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
    assert.truthy(pinged and pinged < 2000, "ping took " .. tostring(pinged))
    local _, plain = get(APP .. "/chat")
    local want = events_of(plain)
    for i = 1, 200 do assert.same(want, events_of(table.concat(bodies[i]))) end
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
  end)

  it("relays an upstream failure after the headers as an error event, never as done", function()
    local _, body = get(APP .. "/chat?fault=reset;after=3")
    local names = events_of(body)
    assert.equal("error", names[#names])
    for _, name in ipairs(names) do assert.are_not.equal("done", name) end
    assert.truthy(body:find('"code":"transport"', 1, true))
  end)

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
  setup(function() ctl("start", EMU_PORT + 10, 1) end)
  teardown(function() ctl("stop", EMU_PORT + 10, 1) end)
  local coze = require "coze"
  for _, name in ipairs(scenarios.names) do
    it(name, function()
      local c = coze.new(scenarios.client_opts(name, emu.url))
      local on_curl = scenarios.cases[name](c, "curl-" .. name .. "-" .. core.monotonic_ms())
      c:close()
      local on_ngx = get_json(APP .. "/scenario?name=" .. name)
      assert.same(on_curl, on_ngx)
    end)
  end
end)
