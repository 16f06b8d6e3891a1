-- What arrives on the wire for the shapes of the catalog (issue 13 items 1-3): arrays as JSON arrays
-- (also empty), objects as objects, ids with every digit, object_string content as JSON text; and what
-- raises before anything is sent. Every assertion reads the emulator's request log.
local emu = require "helpers.emu"
local cjson = require "cjson"
local coze = require "coze"

local IS_54 = math.type ~= nil -- Lua 5.4: integer literals keep every digit; LuaJIT: doubles
local BIG = 7390029769854844001 -- an id as the Coze console shows it, pasted without quotes

local function body_of(req) return req.body end

-- Runs fn, which must raise an error containing `want`, and asserts nothing reached the emulator.
local function raises_unsent(want, fn)
  local mark = emu.mark()
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.truthy(tostring(err):find(want, 1, true), "expected '" .. want .. "' in: " .. tostring(err))
  assert.equal(0, #emu.since(mark))
  return tostring(err)
end

describe("shapes on the wire", function()
  local client
  setup(function() client = emu.client() end)
  teardown(function() client:close() end)

  describe("arrays and objects", function()
    it("sends an empty additional_messages as [] not {}", function()
      assert(client.chat:create { bot_id = "b1", user_id = "u1", additional_messages = {} })
      local raw = body_of(emu.last_request())
      assert.truthy(raw:find('"additional_messages":[]', 1, true), raw)
    end)

    it("sends empty arrays as [] at every depth and in every operation", function()
      assert(client.bots:publish { bot_id = "b1", connector_ids = {} })
      assert.truthy(body_of(emu.last_request()):find('"connector_ids":[]', 1, true))
      assert(client.conversations:create { bot_id = "b1", messages = {} })
      assert.truthy(body_of(emu.last_request()):find('"messages":[]', 1, true))
      client.bots:update { bot_id = "b1", onboarding_info = { prologue = "hi", suggested_questions = {} } }
      assert.truthy(body_of(emu.last_request()):find('"suggested_questions":[]', 1, true))
    end)

    it("sends empty objects as {}", function()
      assert(client.chat:create { bot_id = "b1", user_id = "u1", meta_data = {}, parameters = {} })
      local raw = body_of(emu.last_request())
      assert.truthy(raw:find('"meta_data":{}', 1, true), raw)
      assert.truthy(raw:find('"parameters":{}', 1, true), raw)
    end)

    it("raises when one message is given where a list of messages is wanted", function()
      local err = raises_unsent("wrap it in a list: `{ coze.message.user_text(...) }`", function()
        client.chat:create { bot_id = "b1", user_id = "u1", additional_messages = coze.message.user_text("x") }
      end)
      assert.truthy(err:find("additional_messages", 1, true))
      assert.truthy(err:find("shapes_spec.lua", 1, true), "the error points at the caller: " .. err)
      raises_unsent("field 'messages' is a list of messages", function()
        client.conversations:create { messages = coze.message.user_text("x") }
      end)
    end)

    it("raises when an array field is not a sequence or not a table", function()
      raises_unsent("field 'connector_ids' must be a list", function()
        client.bots:publish { bot_id = "b1", connector_ids = { a = "1024" } }
      end)
      raises_unsent("field 'connector_ids' must be a list", function()
        client.bots:publish { bot_id = "b1", connector_ids = { [1] = "1024", [3] = "x" } }
      end)
      raises_unsent("field 'collaborators' is a list of objects, got one object: wrap it in a list", function()
        client.bots.collaborators:create { bot_id = "b1", collaborators = { user_id = "u1" } }
      end)
    end)

    it("raises when an object field is given a list", function()
      raises_unsent("field 'meta_data' must be an object", function()
        client.chat:create { bot_id = "b1", user_id = "u1", meta_data = { "a" } }
      end)
    end)

    it("leaves the caller's tables as they were", function()
      local msgs = { { role = "user", content_type = "object_string", content = { coze.message.text("hi") } } }
      assert(client.chat:create { bot_id = "b1", user_id = "u1", additional_messages = msgs })
      assert.equal("table", type(msgs[1].content))
    end)

    it("still joins query lists with commas", function()
      assert(client.plugins:batch_retrieve { ids = { "p1", "p2" } })
      assert.equal("p1,p2", emu.last_request().query.ids)
    end)
  end)

  describe("ids", function()
    it("sends an id given as a number with every digit in body, query and path (or raises on LuaJIT)", function()
      if IS_54 then
        assert(client.chat:create { bot_id = BIG, user_id = "u1" })
        local raw = body_of(emu.last_request())
        assert.truthy(raw:find('"bot_id":"7390029769854844001"', 1, true), raw)
        assert(client.bots:retrieve_published_v1 { bot_id = BIG })
        assert.equal("7390029769854844001", emu.last_request().query.bot_id)
        assert(client.bots:retrieve { bot_id = BIG })
        assert.equal("/v1/bots/7390029769854844001", emu.last_request().path)
        assert(client.bots:publish { bot_id = "b1", connector_ids = { BIG } })
        assert.truthy(body_of(emu.last_request()):find('"connector_ids":["7390029769854844001"]', 1, true))
      else
        raises_unsent("pass ids as strings", function() client.chat:create { bot_id = BIG, user_id = "u1" } end)
        raises_unsent("pass ids as strings", function() client.bots:retrieve_published_v1 { bot_id = BIG } end)
        raises_unsent("pass ids as strings", function() client.bots:retrieve { bot_id = BIG } end)
      end
    end)

    it("raises 'pass ids as strings' for a float that cannot hold the id, in body, query, path and lists", function()
      local f = 7.390029769854844e18
      raises_unsent("pass ids as strings", function() client.chat:create { bot_id = f, user_id = "u1" } end)
      raises_unsent("pass ids as strings", function() client.bots:retrieve_published_v1 { bot_id = f } end)
      raises_unsent("pass ids as strings", function() client.bots:retrieve { bot_id = f } end)
      raises_unsent("pass ids as strings", function() client.bots:publish { bot_id = "b", connector_ids = { f } } end)
      raises_unsent("field 'bot_id'", function() client.chat:create { bot_id = 12.5, user_id = "u1" } end)
    end)

    it("sends small whole numbers for string ids as their decimal text", function()
      assert(client.chat:create { bot_id = 12345, user_id = 7 })
      local body = cjson.decode(body_of(emu.last_request()))
      assert.equal("12345", body.bot_id)
      assert.equal("7", body.user_id)
    end)

    it("sends digit strings for integer fields as JSON numbers", function()
      assert(client.datasets.documents:update { document_id = "d1", update_rule = { update_type = "1" } })
      assert.truthy(body_of(emu.last_request()):find('"update_type":1', 1, true))
    end)
  end)

  describe("object_string content", function()
    local items = { coze.message.text("what is this?"), coze.message.image("f_1"),
      coze.message.file { file_url = "https://x/y.pdf" }, coze.message.audio("f_2") }
    local want = { { type = "text", text = "what is this?" }, { type = "image", file_id = "f_1" },
      { type = "file", file_url = "https://x/y.pdf" }, { type = "audio", file_id = "f_2" } }

    it("encodes a table content to the JSON string the API wants in chat", function()
      assert(client.chat:create { bot_id = "b1", user_id = "u1", additional_messages = {
        { role = "user", content_type = "object_string", content = items } } })
      local m = cjson.decode(body_of(emu.last_request())).additional_messages[1]
      assert.equal("string", type(m.content))
      assert.same(want, cjson.decode(m.content))
    end)

    it("does the same for conversations:create and conversations.messages:create / :update", function()
      assert(client.conversations:create { messages = { { role = "user", content_type = "object_string", content = items } } })
      assert.same(want, cjson.decode(cjson.decode(body_of(emu.last_request())).messages[1].content))
      assert(client.conversations.messages:create { conversation_id = "c1", role = "user",
        content_type = "object_string", content = items })
      assert.same(want, cjson.decode(cjson.decode(body_of(emu.last_request())).content))
      assert(client.conversations.messages:update { conversation_id = "c1", message_id = "m1",
        content_type = "object_string", content = items })
      assert.same(want, cjson.decode(cjson.decode(body_of(emu.last_request())).content))
    end)

    it("builds the same message with coze.message.user_object", function()
      assert(client.chat:create { bot_id = "b1", user_id = "u1", additional_messages = { coze.message.user_object(items) } })
      local m = cjson.decode(body_of(emu.last_request())).additional_messages[1]
      assert.same({ "user", "object_string" }, { m.role, m.content_type })
      assert.same(want, cjson.decode(m.content))
    end)

    it("raises on a table content without object_string, or one item not in a list", function()
      raises_unsent("set content_type = \"object_string\"", function()
        client.chat:create { bot_id = "b1", user_id = "u1", additional_messages = { { role = "user", content = items } } }
      end)
      raises_unsent("wrap it in a list: `{ coze.message.text(...) }`", function()
        client.conversations.messages:create { conversation_id = "c1", role = "user",
          content_type = "object_string", content = coze.message.text("x") }
      end)
      assert.has_error(function() coze.message.image(42) end)
      assert.has_error(function() coze.message.user_object(coze.message.text("x")) end)
    end)
  end)
end)
