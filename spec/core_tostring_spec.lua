-- One __tostring scheme for every coze.core userdata: "<class> (<address>)" / "<class> (closed)".
local core = require "coze.core"

local BASE = os.getenv("COZE_EMU_URL") or "http://127.0.0.1:18321"

describe("coze.core userdata tostring", function()
  local function check(obj, class)
    assert.matches("^" .. class:gsub("%.", "%%.") .. " %(0?x?%x+%)$", tostring(obj))
    obj:close()
    assert.equal(class .. " (closed)", tostring(obj))
  end

  it("names the class and the address, or closed", function()
    local s = core.session()
    local r = s:request { method = "GET", url = BASE .. "/__emu/ping" }
    check(r, "coze.core.Request")
    check(s, "coze.core.Session")
    check(core.sse_parser(), "coze.core.SSEParser")
  end)
end)
