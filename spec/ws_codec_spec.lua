-- core.ws_codec: the WebSocket protocol without a connection (what the cosocket connection in nginx
-- drives): server frames in, messages and the automatic answers out, client frames masked.
local core = require "coze.core"

local function byte_xor(a, b)
  local r, bit = 0, 1
  while a > 0 or b > 0 do
    if a % 2 ~= b % 2 then r = r + bit end
    a, b, bit = math.floor(a / 2), math.floor(b / 2), bit * 2
  end
  return r
end

-- A server frame (unmasked unless mask_key is given).
local function frame(op, payload, fin, mask_key)
  local n = #payload
  local b0 = string.char((fin == false and 0 or 0x80) + op)
  local m = mask_key and 0x80 or 0
  local len
  if n < 126 then
    len = string.char(m + n)
  elseif n < 65536 then
    len = string.char(m + 126, math.floor(n / 256), n % 256)
  else
    local bytes = {}
    for i = 8, 1, -1 do bytes[i] = n % 256; n = math.floor(n / 256) end
    len = string.char(m + 127, (table.unpack or unpack)(bytes))
  end
  if mask_key then
    local out = {}
    for i = 1, #payload do out[i] = string.char(byte_xor(payload:byte(i), mask_key:byte((i - 1) % 4 + 1))) end
    payload = mask_key .. table.concat(out)
  end
  return b0 .. len .. payload
end

-- Client frames in s: list of { op, fin, payload (unmasked) }; each must be masked.
local function client_frames(s)
  local list, i = {}, 1
  while i <= #s do
    local b0, b1 = s:byte(i, i + 1)
    assert(b1 >= 128, "client frame not masked")
    local n, h = b1 - 128, 2
    if n == 126 then n, h = s:byte(i + 2) * 256 + s:byte(i + 3), 4
    elseif n == 127 then
      n, h = 0, 10
      for k = 2, 9 do n = n * 256 + s:byte(i + k) end
    end
    local key = s:sub(i + h, i + h + 3)
    local out = {}
    for k = 1, n do
      out[k] = string.char(byte_xor(s:byte(i + h + 3 + k), key:byte((k - 1) % 4 + 1)))
    end
    list[#list + 1] = { op = b0 % 16, fin = b0 >= 128, payload = table.concat(out), key = key }
    i = i + h + 4 + n
  end
  return list
end

-- Feeds bytes in the given piece sizes, collecting every result of next() until it wants more.
local function run(bytes, sizes, opts)
  local c = core.ws_codec(opts)
  local got, pos, k = {}, 1, 0
  while pos <= #bytes do
    k = k + 1
    local n = sizes and sizes[(k - 1) % #sizes + 1] or #bytes
    assert(c:feed(bytes:sub(pos, pos + n - 1)))
    pos = pos + n
    while true do
      local a, b, d, e = c:next()
      if a == false then break end
      got[#got + 1] = { a, b, d, e }
      if a == nil or a == "close" then return got, c end
    end
  end
  return got, c
end

describe("core.ws_codec", function()
  local big = string.rep("0123456789", 7000)  -- 64-bit length
  local mid = string.rep("b", 300)             -- 16-bit length
  local stream = frame(0x1, "hel", false) .. frame(0x9, "p1") .. frame(0x0, "lo") .. frame(0x2, mid) ..
    frame(0xA, "unasked") .. frame(0x1, big) .. frame(0x8, "\3\232bye")

  it("gives the same messages fed whole, one byte at a time and in random splits", function()
    local whole = run(stream)
    assert.same({ { "text", "hello" }, { "binary", mid }, { "text", big }, { "close", 1000, "bye" } }, whole)
    assert.same(whole, (run(stream, { 1 })))
    math.randomseed(7)
    local sizes = {}
    for i = 1, 50 do sizes[i] = math.random(1, 900) end
    assert.same(whole, (run(stream, sizes)))
  end)

  it("answers a ping with a masked pong of the same payload and echoes the close code", function()
    local _, c = run(stream)
    local out = client_frames(c:output())
    assert.equal(2, #out)
    assert.same({ 0xA, true, "p1" }, { out[1].op, out[1].fin, out[1].payload })
    assert.same({ 0x8, true, "\3\232" }, { out[2].op, out[2].fin, out[2].payload })
    assert.equal("", c:output()) -- taken out of the queue
  end)

  it("fails with 1002 on a masked server frame and queues that close", function()
    local got, c = run(frame(0x1, "{}", true, "abcd"))
    assert.is_nil(got[1][1])
    assert.matches("masked", got[1][2])
    assert.equal("protocol", got[1][3])
    assert.equal(1002, got[1][4])
    local out = client_frames(c:output())
    assert.equal(0x8, out[1].op)
    assert.equal(1002, out[1].payload:byte(1) * 256 + out[1].payload:byte(2))
  end)

  it("fails with 1007 on text that is not UTF-8 and 1009 past max_message_bytes", function()
    local got = run(frame(0x1, "\237\160\128"))
    assert.equal(1007, got[1][4])
    got = run(frame(0x1, string.rep("x", 11)), nil, { max_message_bytes = 10 })
    assert.equal(1009, got[1][4])
    got = run(frame(0x1, string.rep("x", 10)), nil, { max_message_bytes = 10 })
    assert.same({ "text", string.rep("x", 10) }, got[1])
  end)

  -- Each protocol violation of a server: next() fails with the code (1002, 1007 for a close reason
  -- that is not UTF-8), the failure sticks, and the client's close frame with that code is queued.
  local violations = {
    { "reserved bit 1", "\193\2{}", 1002, "reserved bits" },
    { "reserved bit 3", "\145\2{}", 1002, "reserved bits" },
    { "unknown data opcode 3", frame(0x3, "x"), 1002, "unknown opcode" },
    { "unknown control opcode 11", frame(0xB, "x"), 1002, "unknown opcode" },
    { "fragmented ping", frame(0x9, "p", false) .. frame(0x0, "q"), 1002, "fragmented control" },
    { "fragmented close", frame(0x8, "\3\232", false), 1002, "fragmented control" },
    { "ping of 126 bytes", frame(0x9, string.rep("p", 126)), 1002, "longer than 125" },
    { "close code 1005", frame(0x8, "\3\237"), 1002, "invalid close code" },
    { "close code 1006", frame(0x8, "\3\238"), 1002, "invalid close code" },
    { "close code 999", frame(0x8, "\3\231"), 1002, "invalid close code" },
    { "close code 2999", frame(0x8, "\11\183"), 1002, "invalid close code" },
    { "close code 5000", frame(0x8, "\19\136"), 1002, "invalid close code" },
    { "close with a 1-byte payload", frame(0x8, "\3"), 1002, "1%-byte" },
    { "text frame while a message is fragmented", frame(0x1, "a", false) .. frame(0x1, "b"), 1002, "new message" },
    { "binary frame while a message is fragmented", frame(0x2, "a", false) .. frame(0x2, "b"), 1002, "new message" },
    { "continuation without a start", frame(0x0, "x"), 1002, "continuation" },
    { "continuation after a whole message", frame(0x1, "a") .. frame(0x0, "b"), 1002, "continuation" },
    { "close reason that is not UTF-8", frame(0x8, "\3\232\192\128"), 1007, "UTF%-8" },
    { "fragmented text that is not UTF-8", frame(0x1, "\237", false) .. frame(0x0, "\160\128"), 1007, "UTF%-8" },
  }
  for _, v in ipairs(violations) do
    local name, bytes, code, says = v[1], v[2], v[3], v[4]
    it("fails with " .. code .. " on a " .. name, function()
      for _, sizes in ipairs({ false, { 1 } }) do -- whole, and a byte at a time
        local got, c = run(bytes, sizes or nil)
        local last = got[#got]
        assert.is_nil(last[1], name)
        assert.matches(says, last[2])
        assert.equal("protocol", last[3])
        assert.equal(code, last[4])
        local again = { c:next() } -- sticky
        assert.same({ nil, last[2], "protocol", code }, { again[1], again[2], again[3], again[4] })
        local out = client_frames(c:output())
        assert.equal(0x8, out[#out].op)
        assert.equal(code, out[#out].payload:byte(1) * 256 + out[#out].payload:byte(2))
      end
    end)
  end

  it("masks every frame it sends with a fresh key", function()
    local c = core.ws_codec()
    assert.is_true(c:send("one"))
    assert.is_true(c:send(mid, true))
    assert.is_true(c:send_b64('{"d":"', "\0\1\2\255", '"}'))
    local out = client_frames(c:output())
    assert.same({ 0x1, "one" }, { out[1].op, out[1].payload })
    assert.same({ 0x2, mid }, { out[2].op, out[2].payload })
    assert.same({ 0x1, '{"d":"' .. core.base64_encode("\0\1\2\255") .. '"}' }, { out[3].op, out[3].payload })
    assert.are_not.equal(out[1].key, out[2].key)
  end)

  it("sends a slice of its bytes and writes a delta's number between the head's parts", function()
    local c = core.ws_codec()
    assert.is_true(c:send_b64('{"d":"', "xxhelloxx", '"}', 3, 5))
    local n = c:pending()
    assert.is_true(c:send_b64('{"id":"p-', "ab", '"}}', nil, nil, 42, '","d":"'))
    assert.is_true(c:pending() > n)
    assert.is_true(c:send_b64('{"id":"p-', "", '"}}', 1, 0, -7, '","d":"'))
    assert.has_error(function() c:send_b64("", "abc", "", 2, 3) end)
    local out = client_frames(c:output())
    assert.equal(0, c:pending())
    assert.equal('{"d":"' .. core.base64_encode("hello") .. '"}', out[1].payload)
    assert.equal('{"id":"p-42","d":"' .. core.base64_encode("ab") .. '"}}', out[2].payload)
    assert.equal('{"id":"p--7","d":""}}', out[3].payload)
  end)

  it("sends one close frame whatever calls it", function()
    local c = core.ws_codec()
    assert.is_true(c:send_close(1000, "bye"))
    assert.is_true(c:send_close(1001))
    local out = client_frames(c:output())
    assert.equal(1, #out)
    assert.equal("\3\232bye", out[1].payload)
    -- a close from the server after ours is not echoed again
    assert(c:feed(frame(0x8, "\3\232")))
    assert.equal("close", (c:next()))
    assert.equal("", c:output())
  end)

  it("cuts a close reason over 123 bytes at a UTF-8 character boundary", function()
    local c = core.ws_codec()
    assert.is_true(c:send_close(4000, string.rep("\226\130\172", 50))) -- 150 bytes of 3-byte characters
    local reason = client_frames(c:output())[1].payload:sub(3)
    assert.equal(string.rep("\226\130\172", 41), reason) -- 123 bytes
    c = core.ws_codec()
    assert.is_true(c:send_close(4000, "xy" .. string.rep("\195\169", 100))) -- byte 123 starts a character that ends at 124
    reason = client_frames(c:output())[1].payload:sub(3)
    assert.equal("xy" .. string.rep("\195\169", 60), reason) -- 122 bytes: not half an e-acute
    assert.is_true(core.utf8_check(reason))
  end)

  it("knows which codes a close frame may carry (RFC 6455 section 7.4)", function()
    for _, code in ipairs({ 1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999 }) do
      assert.is_true(core.ws_close_code_ok(code), code)
    end
    for _, code in ipairs({ 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 }) do
      assert.is_false(core.ws_close_code_ok(code), code)
    end
  end)

  it("checks the 101 answer against its key: Upgrade, Connection and Sec-WebSocket-Accept", function()
    local c = core.ws_codec()
    local key = c:key()
    assert.equal(24, #key)
    local p = io.popen("printf '%s' '" .. key .. "258EAFA5-E914-47DA-95CA-C5AB0DC85B11' | openssl dgst -sha1 -binary | base64")
    local accept = p:read("*l")
    p:close()
    local head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    assert.is_true(c:check_answer(head .. "Sec-WebSocket-Accept: " .. accept .. "\r\n\r\n"))
    local ok, why = c:check_answer(head .. "Sec-WebSocket-Accept: " .. core.base64_encode(string.rep("x", 20)) .. "\r\n\r\n")
    assert.is_nil(ok)
    assert.matches("Sec%-WebSocket%-Accept", why)
    ok, why = c:check_answer("HTTP/1.1 101 x\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " .. accept .. "\r\n\r\n")
    assert.is_nil(ok)
    assert.matches("Upgrade", why)
  end)

  it("is created open and closed once; methods on a closed codec raise", function()
    local c = core.ws_codec()
    assert.matches("^coze.core.WebSocketCodec %(0x", tostring(c))
    c:close()
    c:close()
    assert.equal("coze.core.WebSocketCodec (closed)", tostring(c))
    assert.has_error(function() c:next() end, "attempt to use a closed coze.core.WebSocketCodec")
  end)
end)
