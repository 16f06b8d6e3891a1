-- Strict call fields (issue 13 item 4): a field neither the operation nor the call options know
-- raises before anything is sent, naming it and what was probably meant; extra_body / extra_query
-- send fields the catalog lacks on purpose. (That every catalog field is accepted is walked by
-- spec/endpoints_spec.lua, which sends each operation with all of its params.tsv fields.)
local emu = require "helpers.emu"
local cjson = require "cjson"
local coze = require "coze"

local function raises_unsent(fn)
  local mark = emu.mark()
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.equal(0, #emu.since(mark), "nothing may reach the server")
  return tostring(err)
end

describe("strict call fields", function()
  local client
  setup(function() client = emu.client() end)
  teardown(function() client:close() end)

  it("raises on `timeout = 5` instead of sending it in the query string, naming the timeout options", function()
    local err = raises_unsent(function() client.bots:list { workspace_id = "w1", timeout = 5 } end)
    assert.truthy(err:find("coze: bots.list: unknown field 'timeout'", 1, true), err)
    for _, k in ipairs({ "connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "total_timeout_ms" }) do
      assert.truthy(err:find("'" .. k .. "'", 1, true), err)
    end
    assert.truthy(err:find("strict_spec.lua", 1, true), "points at the caller: " .. err)
  end)

  it("raises on `poll_timeout = 5` instead of sending it in the /v3/chat body (did you mean poll_timeout_ms)", function()
    local err = raises_unsent(function()
      client.chat:create_and_poll { bot_id = "b1", user_id = "u1", poll_timeout = 5,
        additional_messages = { coze.message.user_text("hi") } }
    end)
    assert.truthy(err:find("unknown field 'poll_timeout'; did you mean 'poll_timeout_ms'?", 1, true), err)
  end)

  it("suggests the close field name of the operation", function()
    local err = raises_unsent(function() client.chat:create { bot_idd = "b1", user_id = "u1" } end)
    assert.truthy(err:find("did you mean 'bot_id'?", 1, true), err)
    err = raises_unsent(function() client.chat:create { bot_id = "b1", user_id = "u1", addtional_messages = {} } end)
    assert.truthy(err:find("did you mean 'additional_messages'?", 1, true), err)
    err = raises_unsent(function() client.conversations:create { zzz = 1 } end)
    assert.truthy(err:find("unknown field 'zzz' (to send a field the catalog lacks, put it in extra_body", 1, true), err)
  end)

  it("sends extra_body fields in the JSON body and extra_query fields in the query string", function()
    assert(client.chat:create { bot_id = "b1", user_id = "u1", extra_body = { brand_new = { 1, 2 }, flag = true },
      extra_query = { beta = "yes", n = 3 } })
    local req = emu.last_request()
    local body = cjson.decode(req.body)
    assert.same({ 1, 2 }, body.brand_new)
    assert.is_true(body.flag)
    assert.is_nil(body.extra_body)
    assert.equal("yes", req.query.beta)
    assert.equal("3", req.query.n)
    assert.is_nil(req.query.extra_query)
  end)

  it("sends extra_body of a GET nowhere but raises, and wants tables", function()
    local err = raises_unsent(function() client.bots:list { workspace_id = "w1", extra_body = { a = 1 } } end)
    assert.truthy(err:find("sends no body; use extra_query", 1, true), err)
    err = raises_unsent(function() client.conversations:create { extra_body = "a=1" } end)
    assert.truthy(err:find("option 'extra_body' must be a table", 1, true), err)
  end)

  it("reads the call options when the call is made (options added later are accepted, not sent)", function()
    local options = require("coze.client").CALL_OPTIONS
    options.shapes_spec_option = "number"
    local ok, res = pcall(function() return client.conversations:create { shapes_spec_option = 1 } end)
    options.shapes_spec_option = nil
    assert(ok, res)
    assert.is_nil(cjson.decode(emu.last_request().body).shapes_spec_option)
    raises_unsent(function() client.conversations:create { shapes_spec_option = 1 } end)
  end)
end)
