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
