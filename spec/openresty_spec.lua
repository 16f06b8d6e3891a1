-- The C core inside nginx's lua module (LuaJIT), the way an OpenResty application loads it.
local emu = require "helpers.emu"
local cjson = require "cjson"

describe("coze.core inside nginx (OpenResty style)", function()
  it("loads the LuaJIT build and runs the SSE parser and the JWT signer there", function()
    local status, body = emu.raw("GET", "/__emu/openresty_selftest")
    assert.equal(200, status)
    local r = cjson.decode(body)
    assert.is_nil(r.error)
    assert.truthy(r.lua:find("LuaJIT", 1, true))
    assert.equal("conversation.message.delta", r.sse[1].event)
    assert.equal('{"content":"hi"}', r.sse[1].data)
    assert.equal("done", r.sse[2].event)
    assert.equal(3, r.jwt_parts)
    assert.equal(32, r.sha256_len)
    assert.is_true(r.stream_module)
  end)
end)

describe("the token cache inside nginx (OpenResty style)", function()
  it("makes one token request for concurrent requests of one worker", function()
    local core = require "coze.core"
    emu.raw("GET", "/__emu/openresty_token_cache?reset=1")
    local s = core.session()
    local reqs = {}
    for i = 1, 10 do
      reqs[i] = s:request { method = "GET", url = emu.url .. "/__emu/openresty_token_cache?r=" .. i }
    end
    local tokens = {}
    for i, r in ipairs(reqs) do
      assert.equal(200, r:wait_headers(5000))
      local body = {}
      while true do
        local chunk = r:read(5000)
        if not chunk then break end
        body[#body + 1] = chunk
      end
      r:close()
      tokens[i] = cjson.decode(table.concat(body))
    end
    s:close()
    for i = 1, 10 do
      assert.is_nil(tokens[i].err)
      assert.equal("czs_selftest_1", tokens[i].token)
    end
    for i = 1, 10 do assert.equal(1, tokens[i].fetches) end
  end)
end)
