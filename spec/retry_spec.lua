-- Retries: what is replayed, what never is, and how long the SDK waits.
local emu = require "helpers.emu"
local coze = require "coze"

local key_n = 0
local function fault(spec)
  key_n = key_n + 1
  return { ["X-Emu-Fault"] = spec, ["X-Emu-Fault-Key"] = "retry-" .. key_n .. "-" .. os.time() }
end

local function count_since(before) return #emu.since(before) end
local last_seq = emu.mark

describe("retries", function()
  local client
  before_each(function() client = emu.client { retry_base_ms = 10 } end)
  after_each(function() client:close() end)

  it("retries a GET after 503 until it succeeds", function()
    local conv = assert(client.conversations:create {})
    local before = last_seq()
    local res = assert(client.conversations:retrieve { conversation_id = conv.id,
      headers = fault("status;code=503;times=2") })
    assert.equal(conv.id, res.id)
    assert.equal(3, count_since(before))
  end)

  it("honours Retry-After on 429", function()
    local conv = assert(client.conversations:create {})
    local t0 = client.transport:now_ms()
    assert(client.conversations:retrieve { conversation_id = conv.id, headers = fault("429;retry_after=1;times=1") })
    assert.truthy(client.transport:now_ms() - t0 >= 900)
  end)

  it("gives up after max_retries with the last error", function()
    local before = last_seq()
    local res, err = client.conversations:retrieve { conversation_id = "x", max_retries = 1,
      headers = fault("status;code=502;times=5") }
    assert.is_nil(res)
    assert.equal(502, err.http_status)
    assert.equal(2, err.attempts)
    assert.equal(2, count_since(before))
  end)

  it("does not retry when max_retries is 0", function()
    local before = last_seq()
    local _, err = client.conversations:retrieve { conversation_id = "x", max_retries = 0,
      headers = fault("status;code=503;times=5") }
    assert.equal(503, err.http_status)
    assert.equal(1, count_since(before))
  end)

  it("never replays a non-idempotent POST that reached the server", function()
    local before = last_seq()
    local _, err = client.chat:create { bot_id = "b", user_id = "u", headers = fault("status;code=503;times=5") }
    assert.equal(503, err.http_status)
    assert.equal(1, err.attempts)
    assert.equal(1, count_since(before))
  end)

  it("replays a POST that carries an idempotency key", function()
    local before = last_seq()
    local h = fault("status;code=503;times=1")
    h["X-Idempotency-Key"] = "idem-1"
    local chat = assert(client.chat:create { bot_id = "b", user_id = "u", headers = h })
    assert.is_string(chat.id)
    local reqs = emu.requests(2)
    assert.equal("idem-1", emu.header(reqs[1], "X-Idempotency-Key"))
    assert.equal("idem-1", emu.header(reqs[2], "X-Idempotency-Key"))
    assert.equal(2, count_since(before))
  end)

  it("retries any call whose connection was refused", function()
    local c = coze.new { token = "t", base_url = "http://127.0.0.1:1", retry_base_ms = 5 }
    local _, err = c.chat:create { bot_id = "b", user_id = "u" }
    assert.equal("transport", err.kind)
    assert.equal(3, err.attempts)
    c:close()
  end)

  it("never replays a stream after its first byte", function()
    local before = last_seq()
    local stream = assert(client.chat:stream { bot_id = "b", user_id = "u", headers = fault("reset;after=2") })
    local ev, err
    repeat ev, err = stream:next() until not ev
    assert.equal("transport", err.kind)
    assert.equal(1, count_since(before))
  end)

  it("stays within the retry budget", function()
    local before = last_seq()
    local _, err = client.conversations:retrieve { conversation_id = "x", max_retries = 10,
      retry_base_ms = 100, retry_budget_ms = 250, headers = fault("status;code=503;times=20") }
    assert.equal(503, err.http_status)
    assert.truthy(count_since(before) < 5)
  end)
end)

describe("retries of reads sent as POST", function()
  it("retries a POST list call (conversations.messages.list) after 503", function()
    local client = emu.client { retry_base_ms = 10 }
    local conv = assert(client.conversations:create {})
    local before = last_seq()
    local page = client.conversations.messages:list { conversation_id = conv.id,
      headers = fault("status;code=503;times=1") }
    assert.is_table(page)
    assert.equal(2, count_since(before))
    assert.equal("POST", emu.last_request().method)
    client:close()
  end)
end)
