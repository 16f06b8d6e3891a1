-- Huge and non-finite numbers at the C core's edges (issue 12 #4): a timeout of math.huge, or one
-- too large to add to a clock, means "no limit" (documented in http.h); no signed overflow on the way
-- (make sanitize runs this under UBSan); a huge wait blocks instead of spinning.
local core = require "coze.core"

local BASE = os.getenv("COZE_EMU_URL") or "http://127.0.0.1:18321"
local HUGE = { math.huge, 1e300, 2 ^ 63, 2 ^ 53, 9.3e18 }

describe("coze.core huge timeouts", function()
  local s
  before_each(function() s = core.session() end)
  after_each(function() s:close() end)

  it("treats huge request timeouts as no limit", function()
    for _, v in ipairs(HUGE) do
      local r = s:request { method = "GET", url = BASE .. "/__low/slow_headers?ms=150",
        connect_timeout_ms = v, first_byte_timeout_ms = v, idle_timeout_ms = v, total_timeout_ms = v }
      local st, msg = r:wait_headers(5000)
      assert.is_nil(msg, tostring(v))
      assert.equal(200, st)
      assert.equal("late", r:read(5000))
      r:close()
    end
  end)

  it("waits without a limit of its own for a huge wait, without spinning", function()
    for _, v in ipairs({ math.huge, 1e300 }) do
      local r = s:request { method = "GET", url = BASE .. "/__low/stall?after=10&ms=400" }
      assert.equal(200, r:wait_headers(v))
      local got = {}
      local c0 = os.clock()
      while true do
        local chunk, msg = r:read(v)
        assert.is_nil(msg)
        assert.is_not_false(chunk, "a huge wait returned 'nothing yet'")
        if chunk == nil then break end
        got[#got + 1] = chunk
      end
      assert.equal(13, #table.concat(got))
      assert.is_true(os.clock() - c0 < 0.2, "CPU " .. (os.clock() - c0) .. " s for a 0.4 s stall")
      r:close()
    end
  end)

  it("still fires a large finite timeout that fits", function()
    local r = s:request { method = "GET", url = BASE .. "/__low/slow_headers?ms=2000",
      first_byte_timeout_ms = 100, total_timeout_ms = 2 ^ 31 - 1 }
    local st, msg, kind, which = r:wait_headers(5000)
    assert.is_nil(st)
    assert.equal("timeout", kind)
    assert.equal("first_byte", which)
    assert.equal("first_byte timeout after 100 ms", msg)
    r:close()
  end)

  it("refuses negative and NaN request timeouts", function()
    for _, v in ipairs({ -1, -math.huge, 0 / 0 }) do
      assert.has_error(function()
        s:request { method = "GET", url = BASE .. "/__emu/ping", total_timeout_ms = v }
      end)
    end
  end)
end)

describe("core.sleep_ms", function()
  it("returns at once for zero and negative values and refuses NaN", function()
    core.sleep_ms(0)
    core.sleep_ms(-1)
    core.sleep_ms(-math.huge)
    assert.has_error(function() core.sleep_ms(0 / 0) end)
  end)
end)

describe("coze.core body limits", function()
  local s
  before_each(function() s = core.session() end)
  after_each(function() s:close() end)

  -- Reads r to the end: total bytes, or nil, msg, kind.
  local function drain(r)
    local n = 0
    while true do
      local c, msg, kind = r:read(20000)
      if c == nil then
        if msg then return nil, msg, kind end
        return n
      end
      if c then n = n + #c end
    end
  end

  it("fails a gzip bomb at max_body_bytes of decompressed bytes, not as out of memory", function()
    local r = s:request { method = "GET", url = BASE .. "/__low/gzip/zeros?mb=300", max_body_bytes = 8 * 2 ^ 20 }
    assert.equal(200, r:wait_headers(5000))
    assert.equal("gzip", r:headers()["content-encoding"])
    local n, msg, kind = drain(r)
    assert.is_nil(n)
    assert.equal("decompressed body exceeds max_body_bytes (8388608)", msg)
    assert.equal("too_large", kind)
    r:close()
  end)

  -- A content-encoded transfer is not paused (curl would inflate into its own 64 MiB pause buffer
  -- and fail as out of memory), so without max_body_bytes its unread bytes are bounded instead.
  it("bounds what a gzip bomb buffers unread when no max_body_bytes is given", function()
    local r = s:request { method = "GET", url = BASE .. "/__low/gzip/zeros?mb=300" }
    assert.equal(200, r:wait_headers(5000))
    local n, msg, kind = drain(r)
    assert.is_nil(n)
    assert.equal("decompressed body: more than 64 MiB received and not read", msg)
    assert.equal("too_large", kind)
    r:close()
  end)

  it("applies max_body_bytes to a plain body too", function()
    local r = s:request { method = "GET", url = BASE .. "/__low/bytes?n=300000", max_body_bytes = 100000 }
    assert.equal(200, r:wait_headers(5000))
    local n, msg, kind = drain(r)
    assert.is_nil(n)
    assert.equal("response body exceeds max_body_bytes (100000)", msg)
    assert.equal("too_large", kind)
    r:close()
    r = s:request { method = "GET", url = BASE .. "/__low/bytes?n=100000", max_body_bytes = 100000 }
    assert.equal(100000, drain(r))
    r:close()
  end)
end)

describe("Request:read_all", function()
  local s
  before_each(function() s = core.session() end)
  after_each(function() s:close() end)

  local function get(path)
    local r = s:request { method = "GET", url = BASE .. path }
    assert.equal(200, r:wait_headers(5000))
    return r
  end

  it("returns the whole body once, with or without Content-Length, plain or gzip", function()
    for _, case in ipairs({ { "/__low/bytes?n=300000", 300000 }, { "/__low/bytes?n=300000&length=0", 300000 },
                            { "/__low/gzip/text?lines=20000", 20000 * 55 } }) do
      local r = get(case[1])
      local body = r:read_all(1e9, 20000)
      assert.equal(case[2], #body, case[1])
      if case[1]:find("bytes") then assert.equal("\0\1\2", body:sub(1, 3)) end
      assert.is_nil(r:read_all(1e9, 0))
      r:close()
    end
  end)

  it("returns false while the body is incomplete and the wait ran out, then the rest after read()", function()
    local r = get("/__low/stall?after=10&ms=300")
    local first = r:read(5000)
    assert.equal(10, #first)
    assert.is_false(r:read_all(1e6, 0))
    assert.equal("end", r:read_all(1e6, 5000))
    r:close()
  end)

  it("fails past max_bytes, counted after decompression", function()
    local r = get("/__low/bytes?n=300000")
    local body, msg, kind = r:read_all(100000, 20000)
    assert.is_nil(body)
    assert.equal("response body exceeds max_body_bytes (100000)", msg)
    assert.equal("too_large", kind)
    r:close()
    r = get("/__low/gzip/zeros?mb=40") -- (under the 64 MiB a gzip body may buffer before read_all)
    body, msg, kind = r:read_all(8 * 2 ^ 20, 20000)
    assert.is_nil(body)
    assert.equal("decompressed body exceeds max_body_bytes (8388608)", msg)
    r:close()
    assert.has_error(function() get("/__low/bytes?n=10"):read_all(0) end)
  end)
end)
