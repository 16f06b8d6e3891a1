-- The seams between the pipeline and a transport (unit specs of the Lua layer with a fake
-- transport; the curl transport's side is covered over real sockets by retry_spec and faults_spec).
local core = require "coze.core"
local coze = require "coze"
local errors = require "coze.errors"
local transport = require "coze.transport"

-- A transport whose first `fails` requests fail with err (fields), then answers {"code":0,"data":{}}.
local function flaky(fails, fields)
  local t = { n = 0 }
  function t:request()
    self.n = self.n + 1
    if self.n <= fails then return nil, errors.new("transport", fields) end
    local done = false
    return {
      wait_headers = function() return 200 end,
      headers = function() return { ["content-type"] = "application/json" } end,
      read = function()
        if done then return nil end
        done = true
        return '{"code":0,"data":{"id":"1"}}'
      end,
      close = function() end,
    }
  end
  function t:now_ms() return core.monotonic_ms() end
  function t:time() return core.time() end
  function t:sleep_ms() end
  return t
end

describe("the pipeline and its transport", function()
  it("replays a call that is not safe only when the transport says err.not_sent", function()
    local t = flaky(1, { msg = "refused", not_sent = true })
    local c = coze.new { token = "pat_x", base_url = "http://127.0.0.1:1", transport = t, retry_base_ms = 1 }
    assert(c.conversations:create {})
    assert.equal(2, t.n)

    t = flaky(1, { msg = "reset after the request went out" })
    c = coze.new { token = "pat_x", base_url = "http://127.0.0.1:1", transport = t, retry_base_ms = 1 }
    local res, err = c.conversations:create {}
    assert.is_nil(res)
    assert.equal(1, t.n)
    assert.equal(1, err.attempts)
    assert.equal("conversations.create", err.op)
  end)

  it("reads no transport-specific numbers: a curl code alone does not make a call replayable", function()
    local t = flaky(1, { msg = "x", curl_code = 7 })
    local c = coze.new { token = "pat_x", base_url = "http://127.0.0.1:1", transport = t, retry_base_ms = 1 }
    assert.is_nil(c.conversations:create {})
    assert.equal(1, t.n)
  end)

  it("marks curl's connection-refused error not_sent", function()
    local c = coze.new { token = "pat_x", base_url = "http://127.0.0.1:1", max_retries = 0 }
    local res, err = c.conversations:create {}
    assert.is_nil(res)
    assert.is_true(err.not_sent)
    c:close()
  end)

  it("picks the given transport or the curl one in one place", function()
    local t = flaky(0)
    assert.equal(t, transport.select { transport = t })
    local curl = transport.select { tls_verify = false }
    assert.is_false(curl.tls_verify)
    curl:close()
  end)

  it("gives no default waiter outside nginx (callers block in C)", function()
    local curl = transport.select {}
    assert.is_nil(curl:default_on_wait())
    curl:close()
  end)
end)
