-- coze.core header rules (csrc/headers.c): core.parse_headers and Request:headers share them.
local core = require "coze.core"

local BASE = os.getenv("COZE_EMU_URL") or "http://127.0.0.1:18321"

-- block, expected table
local FIXTURES = {
  { "Content-Type: text/plain\r\n", { ["content-type"] = "text/plain" } },
  { "X-A: 1\nx-a: 2\r\nX-A:3\r\n", { ["x-a"] = "1, 2, 3" } },
  { "X-Fold: one\r\n  two\r\n\tthree \r\n", { ["x-fold"] = "one two three" } },
  { "X-A: 1\r\nX-B: b\r\nx-a: 2\r\n  more\r\n", { ["x-a"] = "1, 2 more", ["x-b"] = "b" } },
  { "X-Empty:\r\nX-Empty: x\r\nX-Empty:   \r\n", { ["x-empty"] = "x" } },
  { "X-Pad: \t v a l \t\r\n", { ["x-pad"] = "v a l" } },
  { "X-Colon: a:b: c\r\n", { ["x-colon"] = "a:b: c" } },
  { "X-Nul: a\0b\r\n", { ["x-nul"] = "a\0b" } },
  -- ignored: no colon, empty name, blanks or controls in the name, a fold with no field before it
  { "  leading: fold\r\nno colon\r\n: empty\r\nBad Name: x\r\nBad\1: y\r\nOk: 1\r\n", { ok = "1" } },
  { "Bad : x\r\n  fold of an ignored line\r\nOk: 1\r\n", { ok = "1" } },
  { "", {} },
  { "\r\n\r\n", {} },
  { "NoNewline: at end", { nonewline = "at end" } },
}

describe("core.parse_headers", function()
  it("lower-cases names, joins repeats and folds, trims values, ignores invalid lines", function()
    for i, f in ipairs(FIXTURES) do
      assert.same(f[2], core.parse_headers(f[1]), "fixture " .. i)
    end
  end)

  it("gives the same table for a block cut at every byte and put together again", function()
    -- the block a transport receives in pieces is parsed once whole: pieces joined at any cut
    -- must not change it (a cosocket transport joins receive() results)
    for i, f in ipairs(FIXTURES) do
      local parts = {}
      for k = 1, #f[1] do parts[k] = f[1]:sub(k, k) end
      assert.same(f[2], core.parse_headers(table.concat(parts)), "fixture " .. i)
    end
  end)

  it("refuses blocks over 256 KiB or 1000 field lines", function()
    local ok = core.parse_headers("X: " .. ("v"):rep(256 * 1024 - 5) .. "\r\n")
    assert.equal(("v"):rep(256 * 1024 - 5), ok.x)
    local t, msg = core.parse_headers("X: " .. ("v"):rep(256 * 1024))
    assert.is_nil(t)
    assert.equal("response headers too large (limit 256 KiB, 1000 lines)", msg)
    assert.equal(msg, core.HEADERS_TOO_LARGE) -- the text libcurl's transport reports too (csrc/http.c)
    assert.equal(256 * 1024, core.HEADERS_MAX_BYTES)
    assert.equal(1000, core.HEADERS_MAX_FIELDS)
    assert.equal("1000", core.parse_headers(("X: 1\r\n"):rep(999) .. "X: 1000\r\n").x:match("(%d+)$"))
    t, msg = core.parse_headers(("X: 1\r\n"):rep(1001))
    assert.is_nil(t)
    assert.equal(core.HEADERS_TOO_LARGE, msg)
  end)

  it("raises on misuse", function()
    assert.has_error(function() core.parse_headers() end)
    assert.has_error(function() core.parse_headers(42) end)
  end)
end)

describe("Request:headers", function()
  local s
  before_each(function() s = core.session() end)
  after_each(function() s:close() end)

  local function get(block, query)
    local r = s:request { method = "POST", url = BASE .. "/__low/raw_headers" .. (query or ""), body = block }
    local st, msg = r:wait_headers(5000)
    return r, st, msg
  end

  it("applies the same rules to a response received over a socket", function()
    for i, f in ipairs(FIXTURES) do
      -- (not: NULs, no final newline, a leading fold: it would continue the route's own last line)
      if not f[1]:find("\0", 1, true) and f[1]:find("\n$") and not f[1]:find("^%s") and
          not f[2]["content-type"] then
        local r, st = get(f[1])
        assert.equal(200, st, "fixture " .. i)
        local h = r:headers()
        for k, v in pairs(f[2]) do assert.equal(v, h[k], "fixture " .. i .. " " .. k) end
        assert.equal("text/plain", h["content-type"])
        assert.equal("ok", r:read(5000))
        r:close()
      end
    end
  end)

  it("fails a response whose header block is too large with that message, not out of memory", function()
    for _, q in ipairs({ "?big=300000", "?big=1048576", "?many=1200" }) do
      local r, st, msg = get("", q)
      assert.is_nil(st, q)
      assert.matches("^response headers too large", msg, q)
      r:close()
    end
    local r, st = get("", "?big=60000&many=900") -- under both limits
    assert.equal(200, st)
    assert.equal(60000, #r:headers()["x-big"])
    r:close()
  end)
end)
