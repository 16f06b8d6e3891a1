-- coze.events: the event and status names of the catalog (events.md) as constants whose typos raise.
local coze = require "coze"
local emu = require "helpers.emu"

local CATALOG = os.getenv("COZE_API_CATALOG") or "catalog/endpoints.tsv"
local EVENTS_MD = CATALOG:gsub("endpoints%.tsv$", "events.md")

-- The backquoted event names of the first table after the heading that starts with `heading`.
local function catalog_events(heading)
  local f = assert(io.open(EVENTS_MD, "rb"), "cannot open " .. EVENTS_MD)
  local text = f:read("*a")
  f:close()
  local from = assert(text:find(heading, 1, true), heading)
  local names, in_table = {}, false
  for line in text:sub(from):gmatch("([^\n]*)\n") do
    local name = line:match("^| `([^`]+)` |")
    if name then names[#names + 1] = name; in_table = true
    elseif in_table and not line:match("^|") then break end
  end
  return names
end

local function values(t, names)
  local set = {}
  for _, n in ipairs(names) do set[t[n]] = true end
  return set
end

local CHAT_NAMES = { "CONVERSATION_CHAT_CREATED", "CONVERSATION_CHAT_IN_PROGRESS", "CONVERSATION_MESSAGE_DELTA",
  "CONVERSATION_AUDIO_DELTA", "CONVERSATION_MESSAGE_COMPLETED", "CONVERSATION_CHAT_COMPLETED",
  "CONVERSATION_CHAT_FAILED", "CONVERSATION_CHAT_REQUIRES_ACTION", "ERROR", "DONE" }

describe("coze.events", function()
  it("has a constant for every chat event of the catalog, under the names coze-py and coze-js use", function()
    local have = values(coze.events.chat, CHAT_NAMES)
    local names = catalog_events("## 1. Chat SSE events")
    assert.equal(10, #names)
    for _, name in ipairs(names) do assert.is_true(have[name], name) end
    assert.equal("conversation.message.delta", coze.events.chat.CONVERSATION_MESSAGE_DELTA)
  end)

  it("has short aliases for the conversation.* chat events", function()
    local c = coze.events.chat
    assert.equal(c.CONVERSATION_MESSAGE_DELTA, c.MESSAGE_DELTA)
    assert.equal(c.CONVERSATION_MESSAGE_COMPLETED, c.MESSAGE_COMPLETED)
    assert.equal(c.CONVERSATION_AUDIO_DELTA, c.AUDIO_DELTA)
    assert.equal(c.CONVERSATION_CHAT_CREATED, c.CHAT_CREATED)
    assert.equal(c.CONVERSATION_CHAT_IN_PROGRESS, c.CHAT_IN_PROGRESS)
    assert.equal(c.CONVERSATION_CHAT_COMPLETED, c.CHAT_COMPLETED)
    assert.equal(c.CONVERSATION_CHAT_FAILED, c.CHAT_FAILED)
    assert.equal(c.CONVERSATION_CHAT_REQUIRES_ACTION, c.CHAT_REQUIRES_ACTION)
  end)

  it("has a constant for every workflow event of the catalog", function()
    local have = values(coze.events.workflow, { "MESSAGE", "ERROR", "DONE", "INTERRUPT", "PING" })
    local names = catalog_events("## 3. Workflow SSE")
    assert.equal(5, #names)
    for _, name in ipairs(names) do assert.is_true(have[name], name) end
  end)

  it("has a constant for every realtime (WebSocket) event of the catalog, up and down", function()
    -- the views are strict (no pairs): each catalog name must be a constant of its API, up or down
    local function has(api, name)
      local key = name:upper():gsub("%.", "_")
      for _, dir in ipairs({ "up", "down" }) do
        local ok, v = pcall(function() return coze.events.realtime[api][dir][key] end)
        if ok and v == name then return true end
      end
      return false
    end
    local f = assert(io.open(EVENTS_MD, "rb"))
    local text = f:read("*a")
    f:close()
    for heading, api in pairs({ ["### 4.1"] = "transcriptions", ["### 4.2"] = "speech", ["### 4.3"] = "chat" }) do
      local from = assert(text:find(heading, 1, true), heading)
      local to = text:find("\n##", from + 5) or #text
      local n = 0
      for name in text:sub(from, to):gmatch("\n| `([%w_%.]+)` |") do
        assert.is_true(has(api, name), api .. ": " .. name)
        n = n + 1
      end
      assert.truthy(n > 5, heading)
    end
    assert.equal("conversation.audio.delta", coze.events.realtime.chat.down.CONVERSATION_AUDIO_DELTA)
    assert.equal("input_text_buffer.append", coze.events.realtime.speech.up.INPUT_TEXT_BUFFER_APPEND)
    assert.equal("input_audio_buffer.append", coze.events.realtime.chat.up.INPUT_AUDIO_BUFFER_APPEND)
    assert.has_error(function() return coze.events.realtime.chat.down.CONVERSATION_AUDIO_DELTAS end)
  end)

  it("has the chat statuses, message types and workflow run statuses", function()
    assert.same({ "created", "in_progress", "completed", "failed", "requires_action", "canceled" }, {
      coze.events.chat_status.CREATED, coze.events.chat_status.IN_PROGRESS, coze.events.chat_status.COMPLETED,
      coze.events.chat_status.FAILED, coze.events.chat_status.REQUIRES_ACTION, coze.events.chat_status.CANCELED })
    assert.equal("answer", coze.events.message_type.ANSWER)
    assert.equal("follow_up", coze.events.message_type.FOLLOW_UP)
    assert.equal("Success", coze.events.workflow_status.SUCCESS)
  end)

  it("raises at the caller's line on a misspelt name, listing the known ones", function()
    local ok, err = pcall(function() return coze.events.chat.MESAGE_DELTA end)
    assert.is_false(ok)
    assert.matches("^spec/events_spec%.lua:%d+: coze: coze%.events%.chat: no constant MESAGE_DELTA %(known: ", err)
    assert.matches("MESSAGE_DELTA", err)
    assert.has_error(function() return coze.events.chats end,
      nil) -- a misspelt group raises too
    assert.matches("no constant COMPLETE ", select(2, pcall(function() return coze.events.chat_status.COMPLETE end)))
  end)

  it("is read-only", function()
    assert.has_error(function() coze.events.chat.MESSAGE_DELTA = "x" end)
    assert.has_error(function() coze.events.custom = {} end)
    assert.equal("conversation.message.delta", coze.events.chat.MESSAGE_DELTA)
  end)

  it("names the events a real chat stream and workflow stream deliver", function()
    local client = emu.client()
    local E = coze.events.chat
    local seen = {}
    local stream = assert(client.chat:stream { bot_id = "b1", user_id = "u1",
      additional_messages = { coze.message.user_text("hi") } })
    for ev in stream:events() do seen[ev.event] = true end
    for _, name in ipairs { "CHAT_CREATED", "MESSAGE_DELTA", "MESSAGE_COMPLETED", "CHAT_COMPLETED", "DONE" } do
      assert.is_true(seen[E[name]], name)
    end
    seen = {}
    local wf = assert(client.workflows.runs:stream { workflow_id = "w1" })
    for ev in wf:events() do seen[ev.event] = true end
    assert.is_true(seen[coze.events.workflow.MESSAGE])
    assert.is_true(seen[coze.events.workflow.DONE])
    client:close()
  end)
end)
