-- coze.header: the checks every call makes on header names and values.
local header = require "coze.header"

describe("coze.header", function()
  it("finds CR and LF anywhere, and nothing else", function()
    assert.is_true(header.has_crlf("a\rb"))
    assert.is_true(header.has_crlf("a\nb"))
    assert.is_true(header.has_crlf("\r\n"))
    assert.is_false(header.has_crlf("plain value; with %[]^$ pattern characters"))
    assert.is_false(header.has_crlf(""))
  end)

  it("gives the lower-case key of a valid name, and nil for anything else, every time", function()
    for _ = 1, 2 do -- the second round answers from the cache
      assert.equal("x-request-id", header.key("X-Request-Id"))
      assert.equal("a_b-1", header.key("A_b-1"))
      assert.is_nil(header.key("bad name"))
      assert.is_nil(header.key("x:y"))
      assert.is_nil(header.key(""))
      assert.is_nil(header.key(42))
      assert.is_nil(header.key(nil))
    end
  end)

  it("checks a whole header: key and value, or what is wrong", function()
    assert.same({ "x-n", "5" }, { header.check("X-N", 5) })
    assert.same({ "accept", "a/b" }, { header.check("Accept", "a/b") })
    assert.same({ nil, "header name 'a b' is not a valid token" }, { header.check("a b", "v") })
    assert.same({ nil, "header 'X' must be a string (got table)" }, { header.check("X", {}) })
    assert.same({ nil, "header 'X' contains CR or LF" }, { header.check("X", "a\r\nB: c") })
  end)

  it("keeps checking names once its cache is full", function()
    for i = 1, 600 do assert.equal("x-name-" .. i, header.key("X-Name-" .. i)) end
    for i = 1, 600 do assert.is_nil(header.key("X Name " .. i)) end
    assert.equal("x-name-600", header.key("X-Name-600"))
  end)
end)
