-- Lua code that runs in the middle of a coze.core call (an __index metamethod, a finalizer) cannot
-- make C use freed memory (issue 12 #5, #6). Under make valgrind / make sanitize any invalid read
-- fails the suite; the plain run checks what the server received or that the call refused.
local core = require "coze.core"
local cjson = require "cjson"

local BASE = os.getenv("COZE_EMU_URL") or "http://127.0.0.1:18321"

-- Fresh strings of the given lengths, so freed memory is reused by other text.
local function churn(len)
  local junk = {}
  for i = 1, 2000 do junk[i] = string.rep("Z", len - #tostring(i)) .. i end
  return junk
end

describe("Session:request option parsing", function()
  local s
  before_each(function() s = core.session() end)
  after_each(function() s:close() end)

  it("keeps header and part strings alive while an __index metamethod collects them", function()
    local uniq = tostring(os.time()) .. tostring(math.random(1e9))
    local hval = string.rep("h", 60) .. uniq
    local headers = { "X-Keep: " .. hval }
    local pdata = string.rep("d", 60) .. uniq
    local parts = { { name = "field" .. uniq, data = pdata } }
    local junk
    local opts = setmetatable({ method = "POST", url = BASE .. "/__low/echo", headers = headers,
      parts = parts }, {
      __index = function(_, k)
        if k == "connect_timeout_ms" then -- read after headers and parts
          headers[1] = "X-Other: 1"
          parts[1] = { name = "other", data = "x" }
          collectgarbage()
          collectgarbage()
          junk = churn(#hval + 8)
        end
        return nil
      end,
    })
    local r = s:request(opts)
    assert.equal(200, r:wait_headers(5000))
    local body = {}
    while true do
      local c = r:read(5000)
      if not c then break end
      body[#body + 1] = c
    end
    r:close()
    local echo = cjson.decode(table.concat(body))
    assert.equal(hval, echo.headers["x-keep"])
    assert.equal(1, #echo.parts)
    assert.equal("field" .. uniq, echo.parts[1].name)
    assert.equal(pdata, echo.parts[1].data)
    assert.is_table(junk)
  end)
end)
