-- Issue 13 item 5: every call option given to coze.new is the default of every call (requests,
-- streams, polls), checked on the wire; on_wait is told how long it may wait, never a busy 0;
-- on_wait = coroutine.yield outside a coroutine is an error that names on_wait.
local coze = require "coze"
local emu = require "spec.helpers.emu"
local wait = require "coze.wait"

local function ask(extra)
  local o = { bot_id = "bot_1", user_id = "u1", additional_messages = { coze.message.user_text("hi") } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- Runs fn in a coroutine resumed until it ends; returns its results and how often it yielded.
local function drive(fn)
  local co = coroutine.create(fn)
  local yields, res = 0, nil
  while true do
    local r = { coroutine.resume(co) }
    assert(r[1], r[2])
    if coroutine.status(co) == "dead" then res = r break end
    yields = yields + 1
  end
  return yields, res[2], res[3]
end

describe("client-wide call options", function()
  it("send the client's headers and query with every call, under the call's own", function()
    local client = emu.client { headers = { ["X-Client-Wide"] = "c1" }, query = { cw = "1", both = "client" } }
    local conv = assert(emu.client().conversations:create {})
    local mark = emu.mark()
    assert(client.conversations:retrieve { conversation_id = conv.id, query = { both = "call" } })
    local r = emu.since(mark)[1]
    assert.equal("c1", emu.header(r, "x-client-wide"))
    assert.equal("1", r.query.cw)
    assert.equal("call", r.query.both)
  end)

  it("apply the client's retry settings: max_retries = 0 sends once, 2 sends three times", function()
    local fault = { ["X-Emu-Fault"] = "429", ["X-Emu-Fault-Key"] = emu.unique("cw429") }
    local once = emu.client { max_retries = 0 }
    local mark = emu.mark()
    local res, err = once.conversations:retrieve { conversation_id = "c", headers = fault }
    assert.is_nil(res)
    assert.equal(1, #emu.since(mark))
    assert.equal(1, err.attempts)
    local thrice = emu.client { max_retries = 2, retry_base_ms = 1, retry_max_delay_ms = 2 }
    mark = emu.mark()
    res, err = thrice.conversations:retrieve { conversation_id = "c", headers = fault }
    assert.is_nil(res)
    assert.equal(3, #emu.since(mark))
    assert.equal(3, err.attempts)
  end)

  it("apply the client's timeouts to JSON calls and streams", function()
    local client = emu.client { first_byte_timeout_ms = 200, max_retries = 0 }
    local slow = { ["X-Emu-Fault"] = "slow_headers;ms=1500" }
    local res, err = client.conversations:retrieve { conversation_id = "c", headers = slow }
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.equal("first_byte", err.timeout)
    local stream
    stream, err = client.chat:stream(ask { headers = slow })
    assert.is_nil(stream)
    assert.equal("first_byte", err.timeout)
  end)

  it("apply the client's limits to bodies and stream events", function()
    local client = emu.client { max_body_bytes = 16, max_event_bytes = 64 }
    local res, err = client.conversations:retrieve { conversation_id = "c" }
    assert.is_nil(res)
    assert.matches("max_body_bytes", err.msg, 1, true)
    local stream = assert(client.chat:stream(ask()))
    local _, serr = emu.collect(stream)
    assert.equal("stream", serr.kind)
  end)

  it("drive calls and streams through the client's wait_ms and on_wait", function()
    local hints = {}
    local client = emu.client { wait_ms = 0, on_wait = function(ms)
      hints[#hints + 1] = ms
      coroutine.yield()
    end }
    local yields, evs, err = drive(function()
      local stream = assert(client.chat:stream(ask { headers = { ["X-Emu-Drip-Ms"] = "20" } }))
      return emu.collect(stream)
    end)
    assert.is_nil(err)
    assert.equal("done", evs[#evs].event)
    assert.truthy(yields > 0, "the stream never gave the loop back")
    for _, ms in ipairs(hints) do
      assert.truthy(ms > 0 and ms <= wait.POLL_INTERVAL_MS, "on_wait got " .. tostring(ms))
    end
  end)

  it("sleep between polls through the client's on_wait, told the time to the next poll", function()
    local hints = {}
    local client = emu.client { wait_ms = 0, on_wait = function(ms)
      hints[#hints + 1] = ms
      coroutine.yield()
    end }
    local _, res = drive(function()
      return client.chat:create_and_poll(ask { poll_interval_ms = 60 })
    end)
    assert.equal("completed", res.chat.status)
    local longest = 0
    for _, ms in ipairs(hints) do
      assert.truthy(ms > 0, "on_wait got " .. tostring(ms))
      if ms > longest then longest = ms end
    end
    assert.truthy(longest > wait.POLL_INTERVAL_MS and longest <= 60, "longest sleep hint " .. longest)
  end)
end)

describe("on_wait = coroutine.yield outside a coroutine", function()
  it("raises naming on_wait at the caller's line, before anything is sent", function()
    local client = emu.client()
    local mark = emu.mark()
    local ok, msg = pcall(function()
      client.conversations:retrieve { conversation_id = "c", on_wait = coroutine.yield }
    end)
    assert.is_false(ok)
    assert.matches("option 'on_wait' is coroutine.yield, but the call does not run inside a coroutine", msg, 1, true)
    assert.matches("client_defaults_spec.lua", msg, 1, true)
    local yclient = emu.client { on_wait = coroutine.yield }
    ok, msg = pcall(function() yclient.chat:stream(ask()) end)
    assert.is_false(ok)
    assert.matches("option 'on_wait'", msg, 1, true)
    assert.same({}, emu.since(mark))
  end)

  it("works inside a coroutine with the same client", function()
    local client = emu.client { wait_ms = 0, on_wait = coroutine.yield }
    local _, conv = drive(function() return client.conversations:create {} end)
    assert.truthy(conv.id)
  end)
end)

describe("a chat stream with cancel_on_close read in a coroutine", function()
  it("still cancels the chat when closed outside it (client-wide on_wait = coroutine.yield)", function()
    local client = emu.client { wait_ms = 0, on_wait = coroutine.yield }
    local stream
    drive(function()
      stream = assert(client.chat:stream(ask { cancel_on_close = true, headers = { ["X-Emu-Drip-Ms"] = "50" } }))
      repeat local ev = assert(stream:next()) until ev.event == "conversation.chat.created"
    end)
    local mark = emu.mark()
    stream:close()
    assert.equal(1, #emu.since(mark, "^/v3/chat/cancel$"))
  end)
end)
