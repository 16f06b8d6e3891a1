-- coze.core HTTP transport (libcurl multi) over real sockets against the emulator's /__low/ endpoints.
local core = require "coze.core"
local cjson = require "cjson"

local BASE = os.getenv("COZE_EMU_URL") or "http://127.0.0.1:18321"
local PORT = tonumber(BASE:match(":(%d+)/?$"))
local TLS_BASE = "https://127.0.0.1:" .. (PORT + 1)
local CERT = os.getenv("COZE_EMU_CERT") or ("build/emulator-" .. PORT .. "/cert.pem")

local now = core.monotonic_ms

-- Same pattern as the emulator: the byte at offset o is string.char(o % 256).
local BLOCK = {}
for i = 0, 255 do BLOCK[#BLOCK + 1] = string.char(i) end
BLOCK = table.concat(BLOCK)
local REP = string.rep(BLOCK, 1 + math.ceil(262144 / 256))
local function pattern(off, len)
  if len > #REP - 256 then
    return string.rep(BLOCK, math.ceil((len + 256) / 256)):sub(off % 256 + 1, off % 256 + len)
  end
  return REP:sub(off % 256 + 1, off % 256 + len)
end

local function md5(s)
  local name = os.tmpname()
  local f = assert(io.open(name, "wb"))
  f:write(s)
  f:close()
  local p = io.popen("md5sum " .. name)
  local out = p:read("*a")
  p:close()
  os.remove(name)
  return out:match("^(%x+)")
end

-- Under AddressSanitizer freed memory sits in a quarantine, so RSS says nothing about leaks or
-- buffering there (make sanitize sets COZE_SANITIZE); valgrind and the plain runs check it.
local function rss_kb()
  if os.getenv("COZE_SANITIZE") then return 0 end
  local f = io.open("/proc/self/status")
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local function open_fds()
  local ok, lfs = pcall(require, "lfs")
  if not ok then return nil end
  local n = 0
  for _ in lfs.dir("/proc/self/fd") do n = n + 1 end
  return n
end

-- Reads to the end: body, then err, kind, which when the stream failed.
local function read_all(r, timeout)
  local parts = {}
  while true do
    local c, err, kind, which = r:read(timeout or 10000)
    if c == nil then return table.concat(parts), err, kind, which end
    if c == false then error("read did not finish within the timeout") end
    parts[#parts + 1] = c
  end
end

local function fetch(s, opts)
  local r, err, kind = s:request(opts)
  assert(r, err)
  local status, herr, hkind = r:wait_headers(10000)
  assert(status, tostring(herr) .. " " .. tostring(hkind))
  local body, berr = read_all(r)
  assert(berr == nil, berr)
  return r, status, body
end

local function echo(s, opts)
  opts.url = opts.url or (BASE .. "/__low/echo")
  local r, status, body = fetch(s, opts)
  return cjson.decode(body), r, status
end

describe("core http", function()
  local s
  before_each(function() s = core.session() end)
  after_each(function() s:close() end)

  it("reports the libcurl version", function()
    assert.truthy(core.curl_version():find("libcurl", 1, true))
  end)

  describe("methods and bodies", function()
    local body = '{"text":"a\0b","n":[1,2,3]}'

    for _, m in ipairs({ "POST", "PUT", "DELETE", "PATCH" }) do
      it("sends " .. m .. " with a JSON body containing NUL bytes", function()
        local e, r, status = echo(s, { method = m, body = body,
          headers = { "Content-Type: application/json" } })
        assert.equal(200, status)
        assert.equal(m, e.method)
        assert.equal(#body, e.body_length)
        assert.equal(body, e.body)
        assert.equal(md5(body), e.body_md5)
        assert.equal("application/json", e.content_type)
        r:close()
      end)
    end

    it("sends a GET without a body", function()
      local e = echo(s, { method = "GET", url = BASE .. "/__low/echo?x=1&y=two" })
      assert.equal("GET", e.method)
      assert.equal(0, e.body_length)
      assert.same({ x = "1", y = "two" }, e.args)
    end)

    it("sends a DELETE without a body", function()
      local e = echo(s, { method = "DELETE" })
      assert.equal("DELETE", e.method)
      assert.equal(0, e.body_length)
    end)

    it("sends an empty POST with Content-Length: 0", function()
      local e = echo(s, { method = "POST" })
      assert.equal("POST", e.method)
      assert.equal("0", e.headers["content-length"])
    end)

    it("sends a large body intact", function()
      local big = pattern(0, 3 * 1024 * 1024 + 17)
      local e = echo(s, { method = "POST", body = big, headers = { "Content-Type: application/octet-stream" } })
      assert.equal(#big, e.body_length)
      assert.equal(md5(big), e.body_md5)
    end)
  end)

  describe("headers", function()
    it("sends request headers and lower-cases response header names", function()
      local e, r = echo(s, { method = "POST", body = "{}",
        headers = { "X-Test: hello", "Authorization: Bearer abc", "Content-Type: application/json" } })
      assert.equal("hello", e.headers["x-test"])
      assert.equal("Bearer abc", e.headers["authorization"])
      local h = r:headers()
      assert.equal("POST", h["x-echo-method"])
      assert.equal("a, b", h["x-multi"])
      assert.equal("application/json", h["content-type"])
      assert.is_nil(h["X-Echo-Method"])
      assert.equal(200, r:status())
    end)

    it("has no status or headers before the response arrived", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/slow_headers?ms=300" })
      assert.is_nil(r:status())
      assert.is_nil(r:headers())
      assert.is_false(r:wait_headers(0))
      assert.equal(200, r:wait_headers(5000))
      assert.equal("late", (read_all(r)))
      r:close()
    end)
  end)

  it("reuses the connection for the next request of a session", function()
    local _, r1 = echo(s, { method = "GET" })
    local i1 = r1:info()
    local _, r2 = echo(s, { method = "GET" })
    local i2 = r2:info()
    assert.equal(1, i1.num_connects)
    assert.equal(0, i2.num_connects)
    assert.equal(i1.local_port, i2.local_port)
    assert.is_true(i2.total_s >= 0 and i2.starttransfer_s >= 0 and i2.connect_s >= 0)
    r1:close()
    r2:close()
  end)

  describe("streaming", function()
    it("read(0) returns false before data arrives without blocking", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/stall?after=0&ms=400" })
      assert.equal(200, r:wait_headers(5000))
      local t0 = now()
      assert.is_false(r:read(0))
      assert.is_false(r:read(0))
      assert.is_true(now() - t0 < 50)
      t0 = now()
      assert.is_false(r:read(100))
      local waited = now() - t0
      assert.is_true(waited >= 90 and waited < 300, "waited " .. waited)
      assert.equal("end", (read_all(r)))
      r:close()
    end)

    it("waits without spinning, also while another transfer of the session is paused", function()
      local a = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=10000000&chunk=65536",
        max_buffer = 65536 })
      assert.equal(200, a:wait_headers(5000))
      assert.is_string(a:read(5000)) -- a now fills its buffer and pauses
      local b = s:request({ method = "GET", url = BASE .. "/__low/stall?after=0&ms=400" })
      assert.equal(200, b:wait_headers(5000))
      local cpu0, t0 = os.clock(), now()
      assert.equal("end", b:read(5000))
      local cpu, wall = os.clock() - cpu0, now() - t0
      assert.is_true(wall >= 300, "wall " .. wall)
      assert.is_true(cpu < 0.05, "cpu " .. cpu .. " s while waiting " .. wall .. " ms")
      a:close()
      b:close()
    end)

    it("returns data as soon as it is written", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=60&chunk=10&ms=80" })
      assert.equal(200, r:wait_headers(5000))
      local chunks, got, t0 = 0, {}, now()
      local first_at
      while true do
        local c = r:read(5000)
        if c == nil then break end
        assert.is_string(c)
        first_at = first_at or (now() - t0)
        chunks = chunks + 1
        got[#got + 1] = c
      end
      assert.equal(pattern(0, 60), table.concat(got))
      assert.is_true(chunks >= 4, "only " .. chunks .. " chunks")
      assert.is_true(first_at < 60, "first chunk after " .. first_at .. " ms")
      r:close()
    end)

    it("pauses the transfer when the buffer is full (a 50 MB body stays out of memory)", function()
      local n = 50 * 1024 * 1024
      local r = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=" .. n .. "&chunk=65536",
        max_buffer = 65536 })
      assert.equal(200, r:wait_headers(5000))
      collectgarbage()
      local base = rss_kb()
      -- reading another request drives the whole session for ~1 s while r is not read:
      -- without back-pressure r would buffer the full 50 MB meanwhile
      local drip = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=50&chunk=1&ms=20" })
      local dripped = read_all(drip)
      assert.equal(50, #dripped)
      drip:close()
      local grown = rss_kb() - base
      assert.is_true(grown < 8 * 1024, "RSS grew by " .. grown .. " kB while r was not read")
      local peak, off, reads, maxchunk = base, 0, 0, 0
      while true do
        local c, err = r:read(10000)
        assert(c ~= false, "stalled")
        if c == nil then
          assert.is_nil(err)
          break
        end
        if c ~= pattern(off, #c) then error("wrong bytes at offset " .. off) end
        off = off + #c
        reads = reads + 1
        if #c > maxchunk then maxchunk = #c end
        if reads % 40 == 0 then
          collectgarbage()
          local now_rss = rss_kb()
          if now_rss > peak then peak = now_rss end
          core.sleep_ms(2) -- a slow reader
        end
      end
      assert.equal(n, off)
      assert.is_true(maxchunk <= 2 * 65536, "chunk of " .. maxchunk)
      assert.is_true(peak - base < 16 * 1024, "RSS grew by " .. (peak - base) .. " kB")
      r:close()
    end)

    it("returns the bytes received, then a transport error, when the connection resets mid-body", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/reset?after=1000" })
      assert.equal(200, r:wait_headers(5000))
      local body, err, kind, which = read_all(r)
      assert.equal(pattern(0, 1000), body)
      assert.is_string(err)
      assert.equal("transport", kind)
      assert.is_number(which)
      -- sticky
      local c, err2, kind2 = r:read(0)
      assert.is_nil(c)
      assert.equal(err, err2)
      assert.equal("transport", kind2)
      r:close()
    end)

    it("decodes a gzip-encoded body", function()
      local r, status, body = fetch(s, { method = "GET", url = BASE .. "/__low/gzip/text" })
      assert.equal(200, status)
      assert.equal("gzip", r:headers()["content-encoding"])
      assert.equal(string.rep("the quick brown fox jumps over the lazy dog 0123456789\n", 20000), body)
      r:close()
    end)
  end)

  describe("timeouts and failures", function()
    it("fails with first_byte when the headers are late", function()
      local t0 = now()
      local r = s:request({ method = "GET", url = BASE .. "/__low/slow_headers?ms=2000",
        first_byte_timeout_ms = 200 })
      local st, err, kind, which = r:wait_headers(5000)
      local took = now() - t0
      assert.is_nil(st)
      assert.is_string(err)
      assert.equal("timeout", kind)
      assert.equal("first_byte", which)
      assert.is_true(took >= 190 and took < 1000, "took " .. took)
      r:close()
    end)

    it("fails with idle when the body stalls", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/stall?after=10&ms=2000",
        idle_timeout_ms = 200, first_byte_timeout_ms = 1000 })
      assert.equal(200, r:wait_headers(5000))
      assert.equal(pattern(0, 10), r:read(5000))
      local t0 = now()
      local c, err, kind, which = r:read(5000)
      local took = now() - t0
      assert.is_nil(c)
      assert.is_string(err)
      assert.equal("timeout", kind)
      assert.equal("idle", which)
      assert.is_true(took < 1000, "took " .. took)
      r:close()
    end)

    it("fails with total when the whole transfer takes too long", function()
      local t0 = now()
      local r = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=100&chunk=10&ms=100",
        total_timeout_ms = 300, idle_timeout_ms = 1000 })
      assert.equal(200, r:wait_headers(5000))
      local body, err, kind, which = read_all(r)
      local took = now() - t0
      assert.is_true(#body < 100)
      assert.is_string(err)
      assert.equal("timeout", kind)
      assert.equal("total", which)
      assert.is_true(took >= 280 and took < 1000, "took " .. took)
      r:close()
    end)

    it("returns wait_headers(0) false without blocking, and a caller timeout is not an error", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/slow_headers?ms=300" })
      local t0 = now()
      assert.is_false(r:wait_headers(0))
      assert.is_false(r:wait_headers(50))
      assert.is_true(now() - t0 < 200)
      assert.equal(200, r:wait_headers(5000))
      r:close()
    end)

    it("reports a refused connection as a transport error with curl's code", function()
      local r = s:request({ method = "GET", url = "http://127.0.0.1:1/", connect_timeout_ms = 2000 })
      local st, err, kind, which = r:wait_headers(5000)
      assert.is_nil(st)
      assert.is_string(err)
      assert.equal("transport", kind)
      assert.equal(7, which) -- CURLE_COULDNT_CONNECT
      local c, err2, kind2 = r:read(0)
      assert.is_nil(c)
      assert.equal(err, err2)
      assert.equal("transport", kind2)
      r:close()
    end)

    -- A loopback listener whose accept backlog is full drops new SYNs: connecting times out.
    local BACKLOG_PY = [[
import os, socket, sys, time
port = int(sys.argv[1])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(0)
cs = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    cs.append(c)
time.sleep(0.2)
print(os.getpid(), flush=True)
sys.stdout.close()
time.sleep(20)
]]

    it("fails with connect when the connection cannot be established in time", function()
      local rc = os.execute("command -v python3 >/dev/null 2>&1")
      if rc ~= true and rc ~= 0 then
        pending("python3 is needed for the full-backlog listener")
        return
      end
      local port = PORT + 90
      local p = io.popen("python3 -c '" .. BACKLOG_PY .. "' " .. port .. " 2>/dev/null &")
      local pid = p:read("*l")
      p:close()
      assert(pid, "backlog helper did not start")
      local ok, err = pcall(function()
        for _, o in ipairs({ { connect_timeout_ms = 200 }, { connect_timeout_ms = 3000, total_timeout_ms = 200 } }) do
          o.method, o.url = "GET", "http://127.0.0.1:" .. port .. "/"
          local t0 = now()
          local r = s:request(o)
          local st, msg, kind, which = r:wait_headers(5000)
          local took = now() - t0
          assert.is_nil(st)
          assert.is_string(msg)
          assert.equal("timeout", kind)
          assert.equal(o.total_timeout_ms and "total" or "connect", which)
          assert.is_true(took >= 190 and took < 1500, "took " .. took)
          r:close()
        end
      end)
      os.execute("kill " .. pid)
      assert(ok, err)
    end)

    it("returns a redirect without following it", function()
      local r, status = fetch(s, { method = "GET", url = BASE .. "/__low/redirect?to=/__low/echo" })
      assert.equal(302, status)
      assert.truthy(r:headers()["location"]:find("/__low/echo", 1, true))
      r:close()
    end)

    it("returns error statuses as statuses", function()
      local r, status, body = fetch(s, { method = "GET", url = BASE .. "/__low/status?code=503" })
      assert.equal(503, status)
      assert.equal("status 503", body)
      r:close()
    end)
  end)

  describe("TLS", function()
    it("verifies the server against ca_file", function()
      local f = io.open(CERT)
      assert(f, "emulator certificate not found at " .. CERT)
      f:close()
      local e, r = echo(s, { method = "POST", url = TLS_BASE .. "/__low/echo", body = "secure", ca_file = CERT })
      assert.equal(6, e.body_length)
      r:close()
    end)

    it("verifies by default and fails against an unknown CA", function()
      local r = s:request({ method = "GET", url = TLS_BASE .. "/__low/echo" })
      local st, err, kind, which = r:wait_headers(5000)
      assert.is_nil(st)
      assert.is_string(err)
      assert.equal("transport", kind)
      assert.equal(60, which) -- CURLE_PEER_FAILED_VERIFICATION
      r:close()
    end)

    it("skips verification with tls_verify = false", function()
      local e = echo(s, { method = "GET", url = TLS_BASE .. "/__low/echo", tls_verify = false })
      assert.equal("GET", e.method)
    end)
  end)

  describe("multipart", function()
    it("uploads a file part and a data part", function()
      local name = os.tmpname()
      local content = pattern(3, 300000)
      local f = assert(io.open(name, "wb"))
      f:write(content)
      f:close()
      local e = echo(s, { method = "POST", parts = {
        { name = "file", filename = "blob.bin", type = "application/octet-stream", path = name },
        { name = "note", data = "a\0b", type = "text/plain" },
        { name = "purpose", data = "fine-tune" },
      } })
      os.remove(name)
      assert.truthy(e.content_type:find("multipart/form-data", 1, true))
      assert.equal(3, #e.parts)
      assert.equal("file", e.parts[1].name)
      assert.equal("blob.bin", e.parts[1].filename)
      assert.equal("application/octet-stream", e.parts[1].type)
      assert.equal(#content, e.parts[1].length)
      assert.equal(md5(content), e.parts[1].md5)
      assert.equal("note", e.parts[2].name)
      assert.equal("a\0b", e.parts[2].data)
      assert.equal("text/plain", e.parts[2].type)
      assert.equal("fine-tune", e.parts[3].data)
    end)

    it("returns an error for a file that cannot be read", function()
      local r, err, kind = s:request({ method = "POST", url = BASE .. "/__low/echo",
        parts = { { name = "file", path = "/nonexistent/file.bin" } } })
      assert.is_nil(r)
      assert.truthy(err:find("/nonexistent/file.bin", 1, true))
      assert.equal("transport", kind)
    end)
  end)

  describe("sessions", function()
    it("completes many concurrent requests on one session", function()
      local rs = {}
      local t0 = now()
      for i = 1, 40 do
        rs[i] = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=20000&chunk=2000&ms=10&i=" .. i })
      end
      for i = 1, 40 do
        assert.equal(200, rs[i]:wait_headers(5000))
        local body, err = read_all(rs[i])
        assert.is_nil(err)
        assert.equal(pattern(0, 20000), body)
        rs[i]:close()
      end
      -- sequentially this would take 40 * ~90 ms
      local took = now() - t0
      assert.is_true(took < 2000, "took " .. took)
    end)

    it("makes a new request after one was closed mid-stream", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=10000000&chunk=65536",
        max_buffer = 65536 })
      assert.equal(200, r:wait_headers(5000))
      assert.is_string(r:read(5000))
      r:close()
      local e, r2 = echo(s, { method = "GET" })
      assert.equal("GET", e.method)
      assert.equal(1, r2:info().num_connects) -- the aborted connection was not reused
      r2:close()
    end)

    it("fails live requests with kind closed after the session is closed", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/stall?after=5&ms=1000" })
      assert.equal(200, r:wait_headers(5000))
      assert.equal(pattern(0, 5), r:read(5000))
      s:close()
      local c, err, kind = r:read(1000)
      assert.is_nil(c)
      assert.is_string(err)
      assert.equal("closed", kind)
      r:close()
    end)

    it("keeps the session alive while a request references it", function()
      local r = core.session():request({ method = "GET", url = BASE .. "/__low/bytes?n=100000&chunk=1000&ms=1" })
      collectgarbage()
      collectgarbage()
      assert.equal(200, r:wait_headers(5000))
      local body, err = read_all(r)
      assert.is_nil(err)
      assert.equal(100000, #body)
      r:close()
    end)

    it("frees abandoned requests: 100 opened mid-stream and dropped leave no sockets behind", function()
      local warm = echo(s, { method = "GET" })
      assert.equal("GET", warm.method)
      collectgarbage()
      collectgarbage()
      local fds0, rss0 = open_fds(), rss_kb()
      for round = 1, 2 do
        for i = 1, 50 do
          local r = s:request({ method = "GET", url = BASE .. "/__low/bytes?n=5000000&chunk=65536&r=" .. round .. i,
            max_buffer = 65536 })
          assert.equal(200, r:wait_headers(5000))
          assert.is_string(r:read(5000))
        end
        collectgarbage()
        collectgarbage()
      end
      local fds1 = open_fds()
      if fds0 then assert.is_true(fds1 <= fds0 + 1, fds0 .. " fds before, " .. fds1 .. " after") end
      assert.is_true(rss_kb() - rss0 < 16 * 1024)
      local e = echo(s, { method = "GET" })
      assert.equal("GET", e.method)
    end)
  end)

  describe("misuse", function()
    it("raises on closed objects, and close is idempotent", function()
      local r = s:request({ method = "GET", url = BASE .. "/__low/echo" })
      r:close()
      r:close()
      assert.has_error(function() r:read(0) end, "attempt to use a closed Request")
      assert.has_error(function() r:wait_headers(0) end, "attempt to use a closed Request")
      assert.has_error(function() r:headers() end, "attempt to use a closed Request")
      local s2 = core.session()
      s2:close()
      s2:close()
      assert.has_error(function() s2:request({ method = "GET", url = BASE }) end, "attempt to use a closed Session")
    end)

    local function err_of(opts)
      local ok, err = pcall(s.request, s, opts)
      assert.is_false(ok)
      return err
    end

    it("raises argument errors naming the field", function()
      assert.truthy(err_of({ method = "GET" }):find("request: field 'url' must be a string", 1, true))
      assert.truthy(err_of({ method = "GET", url = 42 }):find("field 'url' must be a string", 1, true))
      assert.truthy(err_of({ url = BASE }):find("field 'method' must be a string", 1, true))
      assert.truthy(err_of({ method = "POST", url = BASE, body = {} }):find("field 'body' must be a string", 1, true))
      assert.truthy(err_of({ method = "GET", url = BASE, headers = "x" }):find("field 'headers'", 1, true))
      assert.truthy(err_of({ method = "GET", url = BASE, headers = { 1 } }):find("field 'headers'", 1, true))
      assert.truthy(err_of({ method = "GET", url = BASE, idle_timeout_ms = "5" }):find("field 'idle_timeout_ms' must be a number", 1, true))
      assert.truthy(err_of({ method = "GET", url = BASE, total_timeout_ms = -1 }):find("field 'total_timeout_ms'", 1, true))
      assert.truthy(err_of({ method = "GET", url = BASE, tls_verify = "no" }):find("field 'tls_verify' must be a boolean", 1, true))
      assert.truthy(err_of({ method = "GET", url = BASE, proxy = 1 }):find("field 'proxy' must be a string", 1, true))
      assert.truthy(err_of({ method = "POST", url = BASE, parts = { { data = "x" } } }):find("parts[1].name", 1, true))
      assert.truthy(err_of({ method = "POST", url = BASE, parts = { { name = "x" } } }):find("parts[1]", 1, true))
      assert.has_error(function() s:request("nope") end)
    end)

    it("rejects header values containing CR or LF, naming the header", function()
      local err = err_of({ method = "GET", url = BASE, headers = { "X-Ok: 1", "X-Evil: a\r\nInjected: yes" } })
      assert.truthy(err:find("X-Evil", 1, true))
      err = err_of({ method = "GET", url = BASE, headers = { "X-Lf: a\nb" } })
      assert.truthy(err:find("X-Lf", 1, true))
    end)

    it("ignores unknown option keys", function()
      local e = echo(s, { method = "GET", colour = "blue" })
      assert.equal("GET", e.method)
    end)
  end)
end)
