-- core.chunked_decoder (csrc/chunked.c): the chunked bodies the cosocket transport decodes.
local core = require "coze.core"

local function decode(body, split)
  local d = core.chunked_decoder()
  local out, i = {}, 1
  while i <= #body do
    local n = split == "random" and math.random(1, 7) or split
    local s, done, rest = d:feed(body:sub(i, i + n - 1))
    if s == nil then return nil, done end
    out[#out + 1] = s
    if done then return table.concat(out), rest end
    i = i + n
  end
  return table.concat(out), "unfinished"
end

local SPLITS = { 1, 2, 3, 5, 1000, "random" }

describe("core.chunked_decoder", function()
  for _, split in ipairs(SPLITS) do
    it("decodes chunks, extensions, trailers, CRLF and bare LF (split " .. split .. ")", function()
      assert.same({ "hello world", nil }, { decode("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n", split) })
      assert.same({ "abc", nil }, { decode("3\nabc\n0\n\n", split) })
      assert.same({ "", "unfinished" }, { decode("A\r\n", split) })
    end)
    it("refuses malformed bodies (split " .. split .. ")", function()
      for _, bad in ipairs { "ZZ\r\n", "5\r\nhelloXX0\r\n\r\n", "\r\n", "1234567890123456\r\n", "5\r\nhello\r\n0\r\n\rX" } do
        assert.same({ nil, "malformed chunked encoding" }, { decode(bad, split) }, bad)
      end
    end)
  end

  it("hands back the bytes after the body's end", function()
    local d = core.chunked_decoder()
    assert.same({ "ab", true, "NEXT" }, { d:feed("2\r\nab\r\n0\r\n\r\nNEXT") })
  end)

  it("feeds an SSE parser directly", function()
    local p = core.sse_parser(1024)
    local d = core.chunked_decoder()
    assert.same({ true, true }, { d:feed("10\r\nevent: a\ndata: 1\r\n2\r\n\n\n\r\n0\r\n\r\n", p) })
    local data, name = p:next()
    assert.equal("a", name)
    assert.equal("1", data)
  end)

  it("counts the data bytes it decoded, into a parser too (the transport's download_bytes)", function()
    local d = core.chunked_decoder()
    assert.equal(0, d:bytes())
    d:feed("5;ext=1\r\nhel")
    assert.equal(3, d:bytes())
    d:feed("lo\r\n3\r\n")
    local p = core.sse_parser()
    d:feed("a: \r\n0\r\n\r\n", p)
    assert.equal(8, d:bytes())
  end)

  it("raises on a closed decoder", function()
    local d = core.chunked_decoder()
    d:close()
    assert.has_error(function() d:feed("0\r\n\r\n") end, "attempt to use a closed ChunkedDecoder")
    assert.equal("coze.core.ChunkedDecoder (closed)", tostring(d))
  end)
end)
