-- Every in-scope row of the API catalog (endpoints.tsv) is a method on the client that sends the
-- right HTTP method and path, puts each parameter where params.tsv says (so no catalog field is ever
-- refused as unknown), sends the fixed headers (also those the notes require) and names missing
-- required fields. Catalog: $COZE_API_CATALOG, else the repository's
-- catalog/endpoints.tsv (relative to the repository root, where busted runs).
local emu = require "helpers.emu"
local cjson = require "cjson"
local url = require "coze.url"
local endpoints = require "coze.endpoints"

local CATALOG = os.getenv("COZE_API_CATALOG") or "catalog/endpoints.tsv"
local PARAMS = CATALOG:gsub("endpoints%.tsv$", "params.tsv")

local catalog = require "helpers.catalog"
local read_tsv, in_scope, names_of = catalog.read_tsv, catalog.in_scope, catalog.names_of

local function method_of(client, op)
  local target = client
  local parts = {}
  for p in op:gmatch("[^%.]+") do parts[#parts + 1] = p end
  for i = 1, #parts - 1 do
    target = rawget(target, parts[i])
    if type(target) ~= "table" then return nil end
  end
  local fn = rawget(target, parts[#parts])
  if type(fn) ~= "function" then return nil end
  return fn, target
end

local function kind(t)
  t = t:lower()
  if t == "string" or t == "string(i64)" then return "string" end
  if t == "integer" or t == "interger" or t == "long" then return "integer" end
  if t == "number" then return "number" end
  if t == "boolean" then return "boolean" end
  if t:match("^array") or t:match("^object") or t:match("^map") then return "table" end
  return nil
end

local PAGER = { page_num = true, page_index = true, page_size = true, page_token = true, page = true,
  size = true, before_id = true, after_id = true, limit = true }

-- Values for fields whose items or members have required fields of their own (catalog schemas).
local MESSAGE = { role = "user", type = "question", content = "hi", content_type = "text" }
local SAMPLES = {
  additional_messages = { MESSAGE },
  messages = { MESSAGE },
  tool_outputs = { { tool_call_id = "call_1", output = "ok" } },
  collaborators = { { user_id = "u1" } },
  model_info_config = { model_id = "m1" },
  connectors = { ["1024"] = { k = "v" } },
  benefit_info = { benefit_type = "resource_point", active_mode = "absolute_time", started_at = 1, ended_at = 2,
    limit = 10 },
  configs = { { key = "k", enums = { { label = "l", value = "v" } } } },
  document_bases = { { name = "d", source_info = { file_base64 = "eA==", file_type = "txt" } } },
  users = { { user_id = "u1", role = "member", role_type = "member" } },
  organization_people = { { user_id = "u1", organization_role_type = "member" } },
  data = { { keyword = "k", value = "v" } },
  shortcut_command = { command_id = "c1" },
}

-- A value of the catalog's type t (the emulator rejects wrong shapes, as Coze does).
local function sample(name, k, t, enum)
  if k == "table" and SAMPLES[name] then return SAMPLES[name] end
  if enum and enum ~= "" then
    local first = enum:match("^[^,]+")
    return k == "integer" and tonumber(first) or first
  end
  if name == "page_token" then return "tok_0" end -- a token the emulator's pager issues
  if name == "before_id" or name == "after_id" then return "0" end -- the pager's "no cursor"
  if k == "integer" then return 2 end
  if k == "number" then return 1.5 end
  if k == "boolean" then return true end
  if k == "table" then
    t = t:lower()
    if t:match("^array<string") or t == "array of string" then return { "x" } end
    if t:match("^array") then return { {} } end
    return { k = "v" }
  end
  return "s_" .. name
end

-- Path parameter values with characters that must be escaped ("?" and "#" would cut the path).
local function path_value(name) return "id " .. name .. "?x#y" end

local rows = read_tsv(CATALOG)
local params = {}
for _, p in ipairs(read_tsv(PARAMS)) do
  params[p.operation] = params[p.operation] or {}
  table.insert(params[p.operation], p)
end

local by_name = {}
for _, ep in ipairs(endpoints) do by_name[ep[1]] = ep end

local function last_seq()
  local r = emu.requests(1)[1]
  return r and r.seq or 0
end

describe("the endpoint table", function()
  it("has no duplicate operation names", function()
    local seen, dups = {}, {}
    for _, ep in ipairs(endpoints) do
      if seen[ep[1]] then dups[#dups + 1] = ep[1] end
      seen[ep[1]] = true
    end
    assert.same({}, dups)
  end)

  it("has no operation whose name is also a resource holding other operations", function()
    local prefixes, clash = {}, {}
    for _, ep in ipairs(endpoints) do
      local acc
      for part in ep[1]:gmatch("[^%.]+") do
        acc = acc and (acc .. "." .. part) or part
        if acc ~= ep[1] then prefixes[acc] = true end
      end
    end
    for _, ep in ipairs(endpoints) do
      if prefixes[ep[1]] then clash[#clash + 1] = ep[1] end
    end
    assert.same({}, clash)
  end)

  it("covers every in-scope row of the catalog and nothing else", function()
    local want = {}
    for _, row in ipairs(rows) do
      if in_scope(row) then
        for _, n in ipairs(names_of(row)) do want[n] = true end
      end
    end
    local extra = {}
    for _, ep in ipairs(endpoints) do
      if not want[ep[1]] then extra[#extra + 1] = ep[1] end
    end
    assert.same({}, extra)
  end)
end)

describe("catalog operation", function()
  local client
  setup(function() client = emu.client() end)
  teardown(function() client:close() end)

  for _, row in ipairs(rows) do
    if in_scope(row) then
      local ps = params[row.operation] or {}
      local multipart = row.content_type == "multipart"
      for _, op in ipairs(names_of(row)) do
        it(op .. " sends " .. row.method .. " " .. row.path, function()
          local fn, res = method_of(client, op)
          assert(fn, "client has no method for " .. op)
          local opts, expect_query, expect_body = {}, {}, {}
          if row.operation == "chat.completions.create" then -- its fields are in the notes, not params.tsv
            opts = { model = "m", messages = { { role = "user", content = "hi" } } }
          end
          for _, p in ipairs(ps) do
            local k = kind(p.type)
            if p.location == "query" or p.location == "body" then
              if not (multipart and (p.name == "Data" or p.name == "body")) then
                opts[p.name] = sample(p.name, k, p.type, p.enum)
                if p.location == "query" or row.method == "GET" then
                  expect_query[#expect_query + 1] = p.name
                else
                  expect_body[#expect_body + 1] = p.name
                end
              end
            elseif p.location == "form" and p.required == "yes" then
              opts[p.name] = sample(p.name, k, p.type, p.enum)
            end
          end
          if multipart and opts.file ~= nil then
            opts.file = { data = "RIFF0000WAVE", filename = "a.wav", type = "audio/wav" }
          end
          local path = row.path:gsub("{([%w_]+)}", function(name)
            opts[name] = path_value(name)
            return path_value(name)
          end)
          local before = last_seq()
          local a, b = fn(res, opts)
          -- The emulator answers 4000 to a request whose shape Coze would reject; other errors
          -- (unknown ids and the like) are the emulator's state, not the request's shape.
          assert(a ~= nil or b.code ~= 4000, op .. ": " .. tostring(b))
          if type(a) == "table" and type(a.close) == "function" and a.items == nil then a:close() end
          local req = emu.last_request()
          assert.is_true(req.seq > before, "no request reached the emulator for " .. op .. ": " .. tostring(b))
          assert.equal(row.method, req.method)
          assert.equal(path, req.path)
          for _, name in ipairs(expect_query) do
            assert.is_not_nil(req.query[name], op .. ": '" .. name .. "' missing from the query string")
          end
          if row.method == "GET" or row.content_type == "none" then
            assert.equal("", req.body, op .. " must not send a body")
          elseif multipart then
            assert.matches("^multipart/form%-data", emu.header(req, "Content-Type"))
          else
            local body = cjson.decode(req.body)
            assert.is_table(body)
            for _, name in ipairs(expect_body) do
              assert.is_not_nil(body[name], op .. ": '" .. name .. "' missing from the JSON body")
              assert.is_nil(req.query[name], op .. ": '" .. name .. "' must not be in the query string")
            end
            for _, name in ipairs(expect_query) do
              assert.is_nil(body[name], op .. ": '" .. name .. "' must not be in the body")
            end
          end
          for _, p in ipairs(ps) do
            if p.location == "header" and p.name:lower() ~= "authorization " and p.name:lower() ~= "authorization" then
              assert.equal(p.enum ~= "" and p.enum or "str", emu.header(req, p.name),
                op .. ": header " .. p.name)
            end
          end
          -- headers the catalog's notes require although the spec does not list them (issue 13 item 7)
          for name, value in row.notes:gmatch("requires header ([%w%-]+): (%w+)") do
            assert.equal(value, emu.header(req, name), op .. ": header " .. name .. " (catalog notes)")
          end
        end)

        local required = {}
        for _, p in ipairs(ps) do
          if p.required == "yes" and (p.location == "query" or p.location == "body" or p.location == "form")
            and not (row.paginated ~= "none" and PAGER[p.name])
            and not (multipart and (p.name == "Data" or p.name == "body")) then
            required[#required + 1] = p
          end
        end
        local path_names = {}
        for name in row.path:gmatch("{([%w_]+)}") do path_names[#path_names + 1] = name end
        if #required > 0 or #path_names > 0 then
          it(op .. " raises naming each missing required field", function()
            local fn, res = method_of(client, op)
            assert(fn, "client has no method for " .. op)
            local full = {}
            for _, p in ipairs(required) do full[p.name] = sample(p.name, kind(p.type), p.type, p.enum) end
            for _, name in ipairs(path_names) do full[name] = "v" end
            local all = {}
            for _, p in ipairs(required) do all[#all + 1] = p.name end
            for _, name in ipairs(path_names) do all[#all + 1] = name end
            for _, missing in ipairs(all) do
              local opts = {}
              for k, v in pairs(full) do if k ~= missing then opts[k] = v end end
              assert.has_error(function() fn(res, opts) end,
                "coze: " .. op .. ": field '" .. missing .. "' is required")
            end
          end)
        end
      end
    end
  end
end)

describe("options checks", function()
  local client
  setup(function() client = emu.client() end)
  teardown(function() client:close() end)

  it("rejects a field of the wrong type with its name and type", function()
    assert.has_error(function() client.bots:list { workspace_id = "w", page_size = "ten" } end,
      "coze: bots.list: field 'page_size' must be an integer, got string")
    assert.has_error(function() client.bots:retrieve { bot_id = "b", is_published = "yes" } end,
      "coze: bots.retrieve: field 'is_published' must be a boolean, got string")
    assert.has_error(function() client.bots:publish { bot_id = "b", connector_ids = "1024" } end,
      "coze: bots.publish: field 'connector_ids' must be a list (a table like { a, b }), got string")
    assert.has_error(function() client.bots:update { bot_id = { 1 } } end,
      "coze: bots.update: field 'bot_id' must be a string, got table")
  end)

  it("accepts ids as numbers and integers as digit strings", function()
    local page = assert(client.bots:list { workspace_id = 7390029769854844, page_size = "5" })
    assert.equal(5, #page.items)
    local req = emu.last_request()
    assert.equal("7390029769854844", req.query.workspace_id)
    assert(client.bots:update { bot_id = 7390029769854844 })
    assert.equal("7390029769854844", cjson.decode(emu.last_request().body).bot_id)
  end)

  it("joins list values of query parameters with commas", function()
    assert(client.plugins:batch_retrieve { ids = { "p1", "p2", 3 } })
    assert.equal("p1,p2,3", emu.last_request().query.ids)
  end)

  it("escapes path parameters", function()
    assert(client.bots:retrieve { bot_id = "a b?c#d%2F" })
    -- the emulator logs the decoded path: an unescaped "?" or "#" would have cut it
    assert.equal("/v1/bots/a b?c#d%2F", emu.last_request().path)
    assert.equal("a%20b%2Fc%3Fd", url.escape("a b/c?d"))
  end)

  it("sends DELETE without a body when the operation has none, with {} when it declares JSON", function()
    assert(client.conversations:delete { conversation_id = "c1" })
    assert.equal("", emu.last_request().body)
    assert(client.bots.collaborators:delete { bot_id = "b1", user_id = "u1" })
    local req = emu.last_request()
    assert.equal("DELETE", req.method)
    assert.same({}, cjson.decode(req.body))
  end)

  it("puts the ids of POST operations with query params in the query string", function()
    assert(client.conversations.messages:delete { conversation_id = "c1", message_id = "m1" })
    local req = emu.last_request()
    assert.equal("POST", req.method)
    assert.equal("c1", req.query.conversation_id)
    assert.equal("m1", req.query.message_id)
    assert.is_nil(cjson.decode(req.body).conversation_id)
  end)

  it("returns the top-level result of operations that answer outside `data`", function()
    local res = assert(client.workflows.runs:create { workflow_id = "w1" })
    assert.is_string(res.execute_id)
    local msg = assert(client.conversations.messages:update { conversation_id = "c1", message_id = "m1",
      content = "x", content_type = "text" })
    assert.is_string(msg.id)
  end)

  it("streams workflow runs with the workflow profile", function()
    local s = assert(client.workflows.runs:stream { workflow_id = "w1" })
    local names = {}
    for ev in s:events() do names[#names + 1] = ev.event end
    -- (a hand-written emulator module may serve more events than the catalog's two)
    assert.equal("Message", names[1])
    assert.equal("Done", names[#names])
    assert.is_true(s.completed)
  end)

  it("marks reads idempotent in the table (lists and retrieves sent as POST too), and only reads", function()
    local resources = require "coze.resources"
    local post_reads = {}
    for _, ep in ipairs(endpoints) do
      local op, method = ep[1], ep[2]
      local last = op:match("([%w_]+)$")
      local read = method == "GET" or ep.paging ~= nil or last == "list" or last:match("retrieve$") ~= nil
      if read then assert.is_true(ep.idempotent, op) end
      if ep.idempotent and method ~= "GET" then post_reads[#post_reads + 1] = op end
      if method == "DELETE" or last == "create" or last == "update" or last == "delete" then
        assert.is_nil(ep.idempotent, op)
      end
      assert.equal(ep.idempotent, resources.compile(ep).idempotent, op)
    end
    table.sort(post_reads)
    assert.same({ "conversations.messages.list", "datasets.documents.list", "datasets.documents.progress" }, post_reads)
    -- the builder follows the table, not the operation's name
    assert.is_nil(resources.compile({ "x.list", "POST", "/x" }).idempotent)
    assert.is_true(resources.compile({ "x.do", "POST", "/x", idempotent = true }).idempotent)
  end)

  it("builds multipart operations from the table: the content shorthand works on every one", function()
    local n = 0
    for _, ep in ipairs(endpoints) do
      if ep.body == "multipart" then
        n = n + 1
        local target = client
        local names = {}
        for part in ep[1]:gmatch("[^%.]+") do names[#names + 1] = part end
        for i = 1, #names - 1 do target = target[names[i]] end
        local opts = { content = "RIFF", file_name = "a.wav" }
        for name in ep[3]:gmatch("{([%w_]+)}") do opts[name] = "g1" end
        for _, name in ipairs(ep.required or {}) do
          if opts[name] == nil and name ~= "file" then opts[name] = "x" end
        end
        local res, err = target[names[#names]](target, opts)
        assert(res ~= nil or (err and err.kind ~= "transport"), ep[1] .. ": " .. tostring(err))
        local req = emu.last_request()
        assert.equal(ep[3]:gsub("{[%w_]+}", "g1"), req.path)
        assert.truthy(emu.header(req, "content-type"):find("multipart/form-data", 1, true), ep[1])
        assert.truthy(req.body:find('filename="a.wav"', 1, true), ep[1])
      end
    end
    assert.is_true(n >= 5)
    assert.has_error(function() client.files:upload { content = 1 } end,
      "coze: files.upload: field 'content' must be a string")
  end)

  it("sends path params through url.segment: escaped, and '.' / '..' refused naming the field", function()
    assert.has_error(function() client.bots:retrieve { bot_id = "." } end,
      "coze: bots.retrieve: field 'bot_id' must not be '.' or '..' (nor hold them between slashes)")
    assert.has_error(function() client.bots.collaborators:delete { bot_id = "b", user_id = ".." } end,
      "coze: bots.collaborators.delete: field 'user_id' must not be '.' or '..' (nor hold them between slashes)")
    assert(client.bots:retrieve { bot_id = "..." })
    assert.equal("/v1/bots/...", emu.last_request().path)
    assert.equal("a%2Fb", url.segment("a/b", "x"))
    assert.equal("7", url.segment(7, "x"))
  end)
end)
