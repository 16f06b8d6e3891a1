-- Non-streaming chat calls, the poll helper and conversations against the emulator.
local emu = require "helpers.emu"
local coze = require "coze"

local function ask(extra)
  local opts = { bot_id = "bot_1", user_id = "u1", additional_messages = { coze.message.user_text("hi") } }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return opts
end

describe("chat", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("creates a chat and returns the Chat object with its logid", function()
    local chat, meta = client.chat:create(ask())
    assert.is_table(chat)
    assert.is_string(chat.id)
    assert.is_string(chat.conversation_id)
    assert.equal("in_progress", chat.status)
    assert.equal(200, meta.http_status)
    assert.is_string(meta.logid)
    local req = emu.last_request()
    assert.is_false(require("cjson").decode(req.body).stream)
  end)

  it("retrieves a chat with GET and ids in the query", function()
    local chat = assert(client.chat:create(ask()))
    local again = assert(client.chat:retrieve { conversation_id = chat.conversation_id, chat_id = chat.id })
    assert.equal(chat.id, again.id)
    local req = emu.last_request()
    assert.equal("GET", req.method)
    assert.equal("/v3/chat/retrieve", req.path)
    assert.equal(chat.id, req.query.chat_id)
  end)

  it("returns an api error for an unknown chat", function()
    local res, err = client.chat:retrieve { conversation_id = "c0", chat_id = "nope" }
    assert.is_nil(res)
    assert.equal("api", err.kind)
    assert.equal(4001, err.code)
    assert.equal("chat.retrieve", err.op)
    assert.is_string(err.logid)
  end)

  it("polls until completed and lists the messages", function()
    local res = assert(client.chat:create_and_poll(ask { poll_interval_ms = 20 }))
    assert.equal("completed", res.chat.status)
    assert.is_table(res.messages)
    local answer
    for _, m in ipairs(res.messages) do if m.type == "answer" then answer = m.content end end
    assert.equal("You said: hi", answer)
  end)

  it("stops polling at requires_action", function()
    local res = assert(client.chat:create_and_poll(ask { bot_id = "bot_requires_action", poll_interval_ms = 20 }))
    assert.equal("requires_action", res.chat.status)
    assert.is_nil(res.messages)
  end)

  it("stops polling at failed", function()
    local res = assert(client.chat:create_and_poll(ask { bot_id = "bot_failed", poll_interval_ms = 20 }))
    assert.equal("failed", res.chat.status)
  end)

  it("gives up at the poll deadline with a timeout error", function()
    local res, err = client.chat:create_and_poll(ask { bot_id = "bot_never_done",
      poll_interval_ms = 20, poll_timeout_ms = 150 })
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.equal("poll", err.timeout)
    assert.equal("in_progress", err.chat.status)
  end)

  it("refuses NaN and negative poll options like run_histories:wait (one poll helper)", function()
    assert.has_error(function() client.chat:create_and_poll(ask { poll_interval_ms = 0 / 0 }) end,
      "coze: chat.create_and_poll: field 'poll_interval_ms' must be a non-negative number (got NaN)")
    assert.has_error(function() client.chat:create_and_poll(ask { poll_timeout_ms = -1 }) end,
      "coze: chat.create_and_poll: field 'poll_timeout_ms' must be a non-negative number (got -1)")
    assert.has_error(function()
      client.workflows.runs.run_histories:wait { workflow_id = "w", execute_id = "e", poll_interval_ms = 0 / 0 }
    end, "coze: workflows.runs.run_histories.wait: field 'poll_interval_ms' must be a non-negative number (got NaN)")
  end)

  it("forwards call options to every poll request", function()
    local before = emu.mark()
    local res = assert(client.chat:create_and_poll(ask { poll_interval_ms = 10, max_retries = 2,
      headers = { ["X-Poll-Test"] = "p1" } }))
    assert.equal("completed", res.chat.status)
    local reqs = emu.since(before)
    assert.truthy(#reqs >= 3)
    for _, r in ipairs(reqs) do assert.equal("p1", emu.header(r, "x-poll-test"), r.path) end
  end)

  it("polls through on_wait so a coroutine scheduler keeps running", function()
    local yields = 0
    local co = coroutine.wrap(function()
      return client.chat:create_and_poll(ask { poll_interval_ms = 20, on_wait = coroutine.yield, wait_ms = 0 })
    end)
    local res
    repeat
      res = co()
      yields = yields + 1
    until type(res) == "table"
    assert.equal("completed", res.chat.status)
    assert.truthy(yields > 1)
  end)

  it("cancels a chat", function()
    local chat = assert(client.chat:create(ask { bot_id = "bot_never_done" }))
    local canceled = assert(client.chat:cancel { conversation_id = chat.conversation_id, chat_id = chat.id })
    assert.equal("canceled", canceled.status)
    local req = emu.last_request()
    assert.equal("/v3/chat/cancel", req.path)
    assert.equal(chat.id, require("cjson").decode(req.body).chat_id)
  end)

  it("submits tool outputs without streaming", function()
    local chat = assert(client.chat:create(ask { bot_id = "bot_requires_action" }))
    local res = assert(client.chat:create_and_poll(ask { bot_id = "bot_requires_action", poll_interval_ms = 10 }))
    chat = res.chat
    local call = chat.required_action.submit_tool_outputs.tool_calls[1]
    local after = assert(client.chat:submit_tool_outputs {
      conversation_id = chat.conversation_id, chat_id = chat.id,
      tool_outputs = { { tool_call_id = call.id, output = "sunny" } },
    })
    assert.equal(chat.id, after.id)
    local req = emu.last_request()
    assert.equal(chat.conversation_id, req.query.conversation_id)
    assert.equal(chat.id, req.query.chat_id)
  end)

  it("lists a chat's messages as an array", function()
    local res = assert(client.chat:create_and_poll(ask { poll_interval_ms = 10 }))
    local list = assert(client.chat.messages:list { conversation_id = res.chat.conversation_id, chat_id = res.chat.id })
    assert.truthy(#list >= 1)
  end)

  it("raises naming the missing field", function()
    assert.has_error(function() client.chat:create { user_id = "u1" } end,
      "coze: chat.create: field 'bot_id' is required")
  end)

  it("raises when called without an options table", function()
    assert.has_error(function() client.chat:create("bot") end)
  end)

  it("raises when called with a dot instead of a colon", function()
    local ok, err = pcall(client.chat.create, { bot_id = "b", user_id = "u" })
    assert.is_false(ok)
    assert.truthy(err:find("client.chat:create", 1, true))
  end)
end)

describe("conversations", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("creates and retrieves a conversation", function()
    local conv = assert(client.conversations:create { bot_id = "bot_1", meta_data = { k = "v" } })
    assert.is_string(conv.id)
    local again = assert(client.conversations:retrieve { conversation_id = conv.id })
    assert.equal(conv.id, again.id)
  end)

  it("returns code 4002 for an unknown conversation", function()
    local res, err = client.conversations:retrieve { conversation_id = "missing" }
    assert.is_nil(res)
    assert.equal(4002, err.code)
  end)

  it("escapes query values", function()
    client.conversations:retrieve { conversation_id = "a b&c=d/../?#" }
    local req = emu.last_request()
    assert.equal("a b&c=d/../?#", req.query.conversation_id)
  end)
end)
