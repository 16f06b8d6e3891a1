-- client.chat.completions: OpenAI-style body and answer (no Coze envelope), data-only streams ending
-- at [DONE], the X-Request-Id / X-Idempotency-Key / X-Conversation-Id headers, OpenAI-style errors.
local emu = require "helpers.emu"

local unique = emu.unique

local MESSAGES = { { role = "system", content = "be brief" }, { role = "user", content = "早上好" } }

local collect = emu.collect

local function content(evs)
  local out = {}
  for _, ev in ipairs(evs) do
    local c = ev.data.choices and ev.data.choices[1]
    if c and type(c.delta) == "table" and type(c.delta.content) == "string" then out[#out + 1] = c.delta.content end
  end
  return table.concat(out)
end

describe("chat.completions", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("creates a completion and returns the OpenAI object as it is", function()
    local res, meta = client.chat.completions:create { model = "doubao-seed-1-6", messages = MESSAGES, temperature = 0.2 }
    assert.is_table(res, tostring(meta))
    assert.equal("chat.completion", res.object)
    assert.equal("You said: 早上好", res.choices[1].message.content)
    assert.equal("stop", res.choices[1].finish_reason)
    assert.is_number(res.usage.total_tokens)
    local req = emu.last_request()
    assert.equal("/v1/chat/completions", req.path)
    local body = require("cjson").decode(req.body)
    assert.is_false(body.stream)
    assert.equal(0.2, body.temperature)
    assert.equal("早上好", body.messages[2].content)
  end)

  it("sends X-Request-Id, X-Idempotency-Key and X-Conversation-Id from named options", function()
    local res, meta = client.chat.completions:create { model = "m", messages = MESSAGES, request_id = "trace-1",
      idempotency_key = unique("idem"), conversation_id_header = "conv-9" }
    assert.is_table(res, tostring(meta))
    local req = emu.last_request()
    assert.equal("trace-1", emu.header(req, "x-request-id"))
    assert.truthy(emu.header(req, "x-idempotency-key"):find("^idem%-"))
    assert.equal("conv-9", emu.header(req, "x-conversation-id"))
    assert.equal("trace-1", meta.headers["x-request-id"])
    assert.is_nil(require("cjson").decode(req.body).request_id)
  end)

  it("sends the same headers given in headers", function()
    assert(client.chat.completions:create { model = "m", messages = MESSAGES,
      headers = { ["X-Request-Id"] = "trace-2", ["X-Conversation-Id"] = "c2" } })
    local req = emu.last_request()
    assert.equal("trace-2", emu.header(req, "x-request-id"))
    assert.equal("c2", emu.header(req, "x-conversation-id"))
  end)

  it("raises on a request id longer than 128 characters or an empty key", function()
    assert.has_error(function()
      client.chat.completions:create { model = "m", messages = MESSAGES, request_id = string.rep("r", 129) }
    end)
    assert.has_error(function()
      client.chat.completions:create { model = "m", messages = MESSAGES, idempotency_key = "" }
    end)
    assert.has_error(function()
      client.chat.completions:create { model = "m", messages = MESSAGES, request_id = 5 }
    end)
  end)

  it("retries a call with an idempotency key, keeping the key", function()
    local key = unique("idem")
    local res, err = client.chat.completions:create { model = "m", messages = MESSAGES, idempotency_key = key,
      retry_base_ms = 1, headers = { ["X-Emu-Fault"] = "status;code=503;times=1", ["X-Emu-Fault-Key"] = key } }
    assert.is_table(res, tostring(err))
    local reqs = emu.requests(2)
    assert.equal(key, emu.header(reqs[1], "x-idempotency-key"))
    assert.equal(key, emu.header(reqs[2], "x-idempotency-key"))
    -- the same key answers the same completion
    local again = assert(client.chat.completions:create { model = "m", messages = MESSAGES, idempotency_key = key })
    assert.equal(res.id, again.id)
  end)

  it("does not retry a call without an idempotency key", function()
    local res, err = client.chat.completions:create { model = "m", messages = MESSAGES, retry_base_ms = 1,
      headers = { ["X-Emu-Fault"] = "status;code=503" } }
    assert.is_nil(res)
    assert.equal(503, err.http_status)
    assert.equal(1, err.attempts)
  end)

  it("turns an OpenAI-style error into an api error", function()
    local res, err = client.chat.completions:create { model = "m", messages = {} }
    assert.is_nil(res)
    assert.equal("api", err.kind)
    assert.equal(400, err.http_status)
    assert.equal("invalid_value", err.code)
    assert.truthy(err.msg:find("messages", 1, true))
    res, err = client.chat.completions:create { model = "model_not_found", messages = MESSAGES }
    assert.equal(404, err.http_status)
    assert.equal("model_not_found", err.code)
    assert.truthy(tostring(err):find("does not exist", 1, true))
  end)

  it("streams data-only chunks and ends at [DONE] without delivering it", function()
    local stream = assert(client.chat.completions:stream { model = "m", messages = MESSAGES,
      stream_options = { include_usage = true } })
    local evs, err = collect(stream)
    assert.is_nil(err)
    assert.is_true(stream.completed)
    assert.equal("You said: 早上好", content(evs))
    for _, ev in ipairs(evs) do
      assert.equal("message", ev.event)
      assert.are_not.equal("[DONE]", ev.raw)
    end
    assert.is_number(evs[#evs].data.usage.total_tokens)
    assert.equal("stop", evs[#evs - 1].data.choices[1].finish_reason)
    assert.is_true(require("cjson").decode(emu.last_request().body).stream)
  end)

  it("streams in the for-loop form with headers set", function()
    local stream = assert(client.chat.completions:stream { model = "m", messages = MESSAGES, request_id = "s-1",
      headers = { ["X-Emu-Reply"] = "abcdefghij" } })
    local parts = {}
    for ev in stream:events() do parts[#parts + 1] = ev end
    assert.equal("abcdefghij", content(parts))
    assert.equal("s-1", emu.header(emu.last_request(), "x-request-id"))
  end)

  it("returns nil, err when the stream request fails before streaming", function()
    local stream, err = client.chat.completions:stream { model = "m", messages = {} }
    assert.is_nil(stream)
    assert.equal("api", err.kind)
    assert.equal(400, err.http_status)
  end)

  describe("under stream faults", function()
    local function faulted(fault)
      local stream = assert(client.chat.completions:stream { model = "m", messages = MESSAGES,
        headers = { ["X-Emu-Fault"] = fault } })
      return collect(stream)
    end

    for _, fault in ipairs({ "split", "crlf", "cr", "bom", "comments", "space", "eof_no_newline" }) do
      it("gives the same chunks with " .. fault, function()
        local evs, err = faulted(fault)
        assert.is_nil(err)
        assert.equal("You said: 早上好", content(evs))
      end)
    end

    it("reports a stream without [DONE]", function()
      local _, err = faulted("no_done")
      assert.equal("stream", err.kind)
    end)

    it("reports an error event", function()
      local _, err = faulted("error_event;after=2;code=4013;msg=boom")
      assert.equal("api", err.kind)
      assert.equal(4013, err.code)
      assert.equal("boom", err.msg)
    end)

    it("reports a reset connection", function()
      local _, err = faulted("reset;after=2")
      assert.equal("transport", err.kind)
    end)
  end)
end)
