-- client.files: multipart uploads streamed from disk or sent from a string, progress, file errors,
-- and the 200 MB memory check (the file never passes through Lua).
local emu = require "helpers.emu"
local mem = require "helpers.mem"
local rss_kb, reset_peak, instrumented = mem.rss_kb, mem.reset_peak, mem.instrumented

local unique = emu.unique
local coze = require "coze"

local function tmpname(tag)
  local base = os.tmpname() -- created by mkstemp on Lua 5.4: only its unique name is wanted
  os.remove(base)
  return base .. "-" .. tag
end

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

local function md5_file(path)
  local p = assert(io.popen("md5sum '" .. path .. "'"))
  local out = p:read("*a")
  p:close()
  return out:match("^(%x+)")
end

local function md5_string(s)
  local path = tmpname("md5")
  write_file(path, s)
  local m = md5_file(path)
  os.remove(path)
  return m
end

-- A binary test body with NULs, CR/LF and boundary-looking bytes.
local SAMPLE = "\0\1\2\r\n--boundary\r\n\255\254" .. string.rep("abc\0", 1000) .. "\r\n--"

describe("files:upload", function()
  local client, paths
  before_each(function()
    client = emu.client()
    paths = {}
  end)
  after_each(function()
    client:close()
    for _, p in ipairs(paths) do os.remove(p) end
  end)

  local function sample_file(data, tag)
    local p = tmpname(tag or "up.bin")
    paths[#paths + 1] = p
    write_file(p, data)
    return p
  end

  it("streams a file from disk as the multipart field 'file'", function()
    local path = sample_file(SAMPLE, "report.bin")
    local file, meta = client.files:upload { file = path }
    assert.is_table(file, tostring(meta))
    assert.equal(#SAMPLE, file.bytes)
    assert.equal(md5_file(path), file.md5)
    assert.equal(path:match("[^/]+$"), file.file_name)
    assert.is_string(file.id)
    assert.is_string(meta.logid)
    local req = emu.last_request()
    assert.equal("/v1/files/upload", req.path)
    assert.truthy(emu.header(req, "content-type"):find("multipart/form-data; boundary=", 1, true))
    assert.truthy(req.body:find('name="file"; filename="' .. file.file_name .. '"', 1, true))
  end)

  it("uploads a string given as content with a file name", function()
    local file = assert(client.files:upload { content = SAMPLE, file_name = "notes.txt" })
    assert.equal(#SAMPLE, file.bytes)
    assert.equal(md5_string(SAMPLE), file.md5)
    assert.equal("notes.txt", file.file_name)
  end)

  it("uploads an empty string", function()
    local file = assert(client.files:upload { content = "", file_name = "empty.txt" })
    assert.equal(0, file.bytes)
  end)

  it("takes a file table with its own file name and content type", function()
    local path = sample_file("%PDF-1.4 fake", "x.dat")
    local file = assert(client.files:upload { file = { path = path, filename = "report.pdf", type = "application/pdf" } })
    assert.equal("report.pdf", file.file_name)
    assert.equal("application/pdf", file.content_type)
    local file2 = assert(client.files:upload { file = { data = "hello", filename = "h.txt", type = "text/plain" } })
    assert.equal(5, file2.bytes)
    assert.equal("text/plain", file2.content_type)
  end)

  it("applies file_name and content_type to a path", function()
    local path = sample_file("abc", "a.tmp")
    local file = assert(client.files:upload { file = path, file_name = "b.csv", content_type = "text/csv" })
    assert.equal("b.csv", file.file_name)
    assert.equal("text/csv", file.content_type)
  end)

  it("can be retrieved after the upload", function()
    local file = assert(client.files:upload { content = "xyz", file_name = "r.txt" })
    local again = assert(client.files:retrieve { file_id = file.id })
    assert.equal(file.id, again.id)
    assert.equal(3, again.bytes)
  end)

  it("returns nil, err naming the path when the file is missing, and sends nothing", function()
    local before = emu.last_request()
    local file, err = client.files:upload { file = "/nonexistent/dir/missing.pdf" }
    assert.is_nil(file)
    assert.equal("io", err.kind)
    assert.equal("/nonexistent/dir/missing.pdf", err.path)
    assert.equal("files.upload", err.op)
    assert.truthy(tostring(err):find("/nonexistent/dir/missing.pdf", 1, true))
    local after = emu.last_request()
    assert.equal(before and before.seq, after and after.seq)
  end)

  it("returns nil, err for a directory", function()
    local file, err = client.files:upload { file = "/tmp" }
    assert.is_nil(file)
    assert.equal("io", err.kind)
    assert.truthy(tostring(err):find("/tmp", 1, true))
  end)

  it("raises on a wrong-type file, naming the field", function()
    local ok, msg = pcall(client.files.upload, client.files, { file = 42 })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("'file'", 1, true))
    ok, msg = pcall(client.files.upload, client.files, { content = 42 })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("'content'", 1, true))
    ok, msg = pcall(client.files.upload, client.files, { file = { path = "/a", data = "b" } })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("exactly one", 1, true))
  end)

  it("raises when both file and content are given, or neither", function()
    assert.has_error(function() client.files:upload { file = "/a", content = "b" } end)
    assert.has_error(function() client.files:upload { file_name = "x" } end)
    assert.has_error(function() client.files:upload {} end)
  end)

  it("raises on an open file handle (give its path instead)", function()
    local path = sample_file("x")
    local fh = assert(io.open(path, "rb"))
    local ok, msg = pcall(client.files.upload, client.files, { file = fh })
    fh:close()
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("path", 1, true))
  end)

  it("sends other file tables as file parts and plain fields as form fields", function()
    local file = assert(client.files:upload { file = { data = "a", filename = "a.txt" },
      extra_body = { other = { data = "b\0", filename = "b.bin" }, purpose = "test", n = 3, flag = true,
        meta = { k = "v" } } })
    assert.equal(1, file.bytes)
    local body = emu.last_request().body
    assert.truthy(body:find('name="other"; filename="b.bin"', 1, true))
    assert.truthy(body:find('name="purpose"\r\n\r\ntest\r\n', 1, true))
    assert.truthy(body:find('name="n"\r\n\r\n3\r\n', 1, true))
    assert.truthy(body:find('name="flag"\r\n\r\ntrue\r\n', 1, true))
    assert.truthy(body:find('name="meta"\r\n\r\n{"k":"v"}\r\n', 1, true))
  end)

  it("re-sends the whole file when a call with an idempotency key is retried", function()
    local path = sample_file(SAMPLE)
    local file, err = client.files:upload { file = path, idempotency_key = unique("up"),
      retry_base_ms = 1, headers = { ["X-Emu-Fault"] = "status;code=503;times=1", ["X-Emu-Fault-Key"] = unique("up") } }
    assert.is_table(file, tostring(err))
    assert.equal(#SAMPLE, file.bytes)
    assert.equal(md5_file(path), file.md5)
    local reqs = emu.requests(2)
    assert.equal("/v1/files/upload", reqs[1].path)
    assert.equal("/v1/files/upload", reqs[2].path)
  end)

  it("does not retry an upload without an idempotency key once it may have reached the server", function()
    local res, err = client.files:upload { content = "x", file_name = "x", retry_base_ms = 1,
      headers = { ["X-Emu-Fault"] = "status;code=503" } }
    assert.is_nil(res)
    assert.equal(503, err.http_status)
    assert.equal(1, err.attempts)
  end)
end)

describe("files:upload on_progress", function()
  -- The Lua side of the progress hook over a fake transport: the handle's info() reports
  -- upload_bytes / upload_total (libcurl's CURLINFO_SIZE_UPLOAD_T / CONTENT_LENGTH_UPLOAD_T).
  local function fake_transport(steps, with_info)
    local t = { now = 0, sent = {} }
    function t:request(req)
      self.sent[#self.sent + 1] = req
      local i = 0
      local h = {}
      function h.wait_headers(_, wait_ms)
        i = i + 1
        t.slices = t.slices or {}
        t.slices[#t.slices + 1] = wait_ms
        if i <= #steps then return false end
        return 200
      end
      if with_info then
        function h.info()
          return { upload_bytes = steps[math.min(i, #steps)], upload_total = steps[#steps] }
        end
      end
      function h.headers() return { ["content-type"] = "application/json" } end
      local done = false
      function h.read()
        if done then return nil end
        done = true
        return '{"code":0,"msg":"","data":{"id":"f1","bytes":5}}'
      end
      function h.close() end
      return h
    end
    function t:now_ms() return self.now end
    function t:time() return 0 end
    function t:sleep_ms(ms) self.now = self.now + ms end
    return t
  end

  it("reports the bytes sent while the body goes out, ending at the total", function()
    local t = fake_transport({ 0, 100, 100, 250, 500 }, true)
    local c = coze.new { token = "t", base_url = "http://example.invalid", transport = t }
    local seen = {}
    local file = assert(c.files:upload { content = "hello", file_name = "h",
      on_progress = function(sent, total) seen[#seen + 1] = { sent, total } end })
    assert.equal("f1", file.id)
    assert.same({ { 0, 500 }, { 100, 500 }, { 250, 500 }, { 500, 500 } }, seen)
    assert.equal(100, t.slices[1]) -- short slices while uploading
    assert.is_nil(t.sent[1].body)
    assert.equal("file", t.sent[1].parts[1].name)
  end)

  it("calls on_wait between progress polls", function()
    local t = fake_transport({ 0, 10 }, true)
    local c = coze.new { token = "t", base_url = "http://example.invalid", transport = t }
    local waits, seen = 0, 0
    assert(c.files:upload { content = "hello", file_name = "h", on_wait = function() waits = waits + 1 end,
      on_progress = function() seen = seen + 1 end })
    assert.equal(2, waits)
    assert.equal(2, seen)
    assert.equal(0, t.slices[1])
  end)

  it("makes no progress calls when the transport cannot report them", function()
    local t = fake_transport({ 0, 10 }, false)
    local c = coze.new { token = "t", base_url = "http://example.invalid", transport = t }
    local seen = 0
    assert(c.files:upload { content = "hello", file_name = "h", on_progress = function() seen = seen + 1 end })
    assert.equal(0, seen)
  end)

  it("closes the transfer and raises when the callback raises", function()
    local t = fake_transport({ 0, 10 }, true)
    local c = coze.new { token = "t", base_url = "http://example.invalid", transport = t }
    assert.has_error(function()
      c.files:upload { content = "hello", file_name = "h", on_progress = function() error("stop") end }
    end, "stop")
  end)

  it("reports real upload progress over the curl transport", function()
    local core = require "coze.core"
    local s = core.session()
    local r = s:request { method = "POST", url = emu.url .. "/__low/echo", body = "x" }
    assert(r:wait_headers(5000))
    local info = r:info()
    r:close()
    s:close()
    assert.equal(1, info.upload_bytes)
    assert.equal(1, info.upload_total)
    local client = emu.client()
    local path = tmpname("progress")
    write_file(path, string.rep("p", 8 * 1024 * 1024))
    local seen = {}
    local file = client.files:upload { file = path, on_progress = function(sent, total) seen[#seen + 1] = { sent, total } end }
    os.remove(path)
    client:close()
    assert.is_table(file)
    assert.truthy(#seen >= 1)
    local last = seen[#seen]
    assert.equal(last[2], last[1])
    for i = 2, #seen do assert.truthy(seen[i][1] >= seen[i - 1][1]) end
  end)
end)

describe("files:upload of 200 MB", function()
  it("streams the file from disk: RSS stays flat", function()
    local skip_rss = instrumented()
    local size = skip_rss and 8 * 1024 * 1024 or 200 * 1024 * 1024
    local path = tmpname("big.bin")
    do
      local f = assert(io.open(path, "wb"))
      local block = string.rep("0123456789abcdef", 65536) -- 1 MiB
      for _ = 1, size / #block do assert(f:write(block)) end
      assert(f:close())
    end
    local client = emu.client()
    assert(client.files:upload { content = "warm", file_name = "w" }) -- warm up caches
    collectgarbage()
    collectgarbage()
    local before = rss_kb()
    local exact = reset_peak()
    local peak = 0
    local function sample()
      local r = rss_kb()
      if r > peak then peak = r end
    end
    local file, err = client.files:upload { file = path, wait_ms = 20, on_wait = sample, total_timeout_ms = 60000 }
    sample()
    if exact then peak = select(2, rss_kb()) end
    collectgarbage()
    local after = rss_kb()
    local md5 = md5_file(path)
    os.remove(path)
    client:close()
    assert.is_table(file, tostring(err))
    assert.equal(size, file.bytes)
    assert.equal(md5, file.md5)
    io.stderr:write(string.format("# upload %d MB from a file: RSS before %d kB, peak %d kB (%s), after %d kB\n",
      size / 1048576, before, peak, exact and "VmHWM" or "sampled", after))
    if not skip_rss then
      assert.truthy(peak - before < 8 * 1024, "peak RSS grew by " .. (peak - before) .. " kB")
      assert.truthy(after - before < 8 * 1024, "RSS grew by " .. (after - before) .. " kB")
    end
  end)
end)
