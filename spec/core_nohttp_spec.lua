-- `make core-nohttp`: the C core without the HTTP unit loads and parses with no libcurl linked.
-- Built for Lua 5.4 (spec/run.sh and make test build it); other interpreters skip.
local SO = "build/nohttp/coze/core.so"

describe("the core built without libcurl", function()
  local f = io.open(SO, "rb")
  if f then f:close() end
  if not f or _VERSION ~= "Lua 5.4" or jit then
    pending("needs Lua 5.4 and " .. SO .. " (make core-nohttp)")
    return
  end

  local core = assert(package.loadlib(SO, "luaopen_coze_core"))()

  it("links no libcurl", function()
    local p = io.popen("ldd " .. SO)
    local out = p:read("*a")
    p:close()
    assert.truthy(out:find("libc", 1, true))
    assert.falsy(out:find("libcurl", 1, true))
  end)

  it("has no HTTP session, and the parsers, JSON, crypto and clock", function()
    assert.is_nil(core.session)
    assert.is_nil(core.curl_version)
    assert.same({ a = { 1, 2 } }, core.json_decode('{"a":[1,2]}'))
    local p = core.sse_parser()
    p:feed("event: x\ndata: 1\n\n")
    local raw, name = p:next()
    assert.equal("1", raw)
    assert.equal("x", name)
    assert.same({ ["x-a"] = "1, 2" }, core.parse_headers("X-A: 1\r\nx-a: 2\r\n"))
    assert.equal(32, #core.sha256("abc"))
    assert.is_number(core.monotonic_ms())
    assert.is_true(core.utf8_check("h\195\169"))
  end)

  it("has the WebSocket codec (for the cosocket connection) but not the libcurl connection", function()
    assert.is_nil(core.ws_open)
    local c = core.ws_codec()
    assert.is_true(c:send("hi"))
    assert.equal(8, #c:output()) -- 2 header bytes, 4 mask bytes, the payload
    assert(c:feed("\129\2hi"))
    assert.same({ "text", "hi" }, { c:next() })
    assert.equal("chat.created", (core.ws_envelope('{"event_type":"chat.created","id":"1"}')))
  end)
end)
