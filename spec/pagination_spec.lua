-- Pages of list operations against the emulator (emu/paging.lua serves 23 items per list unless
-- X-Emu-Paging-Total says otherwise): each of the five schemes walked to the end with page:each()
-- and page:next_page(), laziness, errors mid-walk, and broken servers that would loop forever.
local emu = require "helpers.emu"
local pager = require "coze.pager"

local TOTAL = 23

local function id(i) return string.format("739000000000000%04d", i) end

-- scheme -> a list call with a page size of 5 (pages: 5, 5, 5, 5, 3)
local SCHEMES = {
  page_num = function(c, extra)
    local o = { workspace_id = "w1", page_size = 5 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return c.bots:list(o)
  end,
  page_index = function(c, extra)
    local o = { space_id = "s1", page_size = 5 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return c.bots:list_published_v1(o)
  end,
  page_token = function(c, extra)
    local o = { workflow_id = "wf1", page_size = 5 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return c.workflows.versions:list(o)
  end,
  first_last_id = function(c, extra)
    local o = { conversation_id = "c1", limit = 5 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return c.conversations.messages:list(o)
  end,
  page_size_body = function(c, extra)
    local o = { dataset_id = "d1", size = 5 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return c.datasets.documents:list(o)
  end,
}
local ORDER = { "page_num", "page_index", "page_token", "first_last_id", "page_size_body" }

local function request_count()
  local r = emu.requests(1)[1]
  return r and r.seq or 0
end

describe("pagination", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  for _, scheme in ipairs(ORDER) do
    local list = SCHEMES[scheme]

    describe(scheme, function()
      it("walks every item across pages with each()", function()
        local page = assert(list(client))
        assert.equal(5, #page.items)
        assert.is_true(page.has_more)
        local ids = {}
        for item in page:each() do ids[#ids + 1] = item.id end
        assert.equal(TOTAL, #ids)
        for i = 1, TOTAL do assert.equal(id(i), ids[i]) end
      end)

      it("walks page by page with next_page() until nil", function()
        local page = assert(list(client))
        local sizes = {}
        while page do
          sizes[#sizes + 1] = #page.items
          local nxt, err = page:next_page()
          assert.is_nil(err)
          if nxt == nil then assert.is_false(page.has_more) end
          page = nxt
        end
        assert.same({ 5, 5, 5, 5, 3 }, sizes)
      end)

      it("fetches no further page before the items of the current one are used up", function()
        local page = assert(list(client))
        local before = request_count()
        local it = page:each()
        assert.equal(before, request_count())
        for _ = 1, 5 do assert.is_table(it()) end
        assert.equal(before, request_count())
        assert.equal(id(6), it().id)
        assert.equal(before + 1, request_count())
      end)

      it("raises the error object from each() when a later page fails", function()
        local page = assert(list(client, { headers = { ["X-Emu-Paging-Fail"] = "next" } }))
        local n = 0
        local ok, err = pcall(function()
          for _ in page:each() do n = n + 1 end
        end)
        assert.is_false(ok)
        assert.equal(5, n)
        assert.equal("api", err.kind)
        assert.equal(5000, err.code)
        assert.is_string(err.logid)
      end)

      it("returns nil, err from iter() when a later page fails", function()
        local page = assert(list(client, { headers = { ["X-Emu-Paging-Fail"] = "next" } }))
        local next_item = page:iter()
        for _ = 1, 5 do assert.is_table((next_item())) end
        local item, err = next_item()
        assert.is_nil(item)
        assert.equal("api", err.kind)
        assert.is_nil((next_item()))
      end)

      it("stops on a broken server instead of looping", function()
        local page = assert(list(client, { headers = { ["X-Emu-Paging-Broken"] = "1" } }))
        local n, pages = 0, 1
        for _ in page:each() do
          n = n + 1
          assert(n <= 3 * TOTAL, "the walk does not stop")
        end
        local p = page
        while true do
          local nxt = p:next_page()
          if not nxt then break end
          pages = pages + 1
          assert(pages <= 10, "next_page() does not stop")
          p = nxt
        end
        if scheme == "page_token" then
          -- the second answer repeats the token just sent: the walk ends there
          assert.equal(10, n)
          assert.equal(2, pages)
        elseif scheme == "first_last_id" then
          -- the second answer is the first page again: no progress, so it is not handed out
          assert.equal(5, n)
          assert.equal(1, pages)
        else
          assert.equal(TOTAL, n)
        end
      end)

      it("returns one page with has_more false for a short list", function()
        local page = assert(list(client, { headers = { ["X-Emu-Paging-Total"] = "3" } }))
        assert.equal(3, #page.items)
        assert.is_false(page.has_more)
        assert.is_nil(page:next_page())
        local n = 0
        for _ in page:each() do n = n + 1 end
        assert.equal(3, n)
      end)

      it("handles an empty list", function()
        local before = request_count()
        local page = assert(list(client, { headers = { ["X-Emu-Paging-Total"] = "0" } }))
        assert.same({}, page.items)
        assert.is_false(page.has_more)
        for _ in page:each() do error("no items expected") end
        assert.equal(before + 1, request_count())
      end)
    end)
  end

  describe("hostile servers", function()
    it("ends a token walk that cycles A, B, A after B, without repeating items", function()
      local page = assert(client.api_apps.events:list { api_app_id = "a1", page_size = 10,
        headers = { ["X-Emu-Paging-Broken"] = "alternate", ["X-Emu-Paging-Total"] = "100" } })
      local ids, pages, seen = {}, 1, 0
      for item in page:each() do
        seen = seen + 1
        assert(seen <= 100, "the walk does not stop")
        assert.is_nil(ids[item.id], "item repeated")
        ids[item.id] = true
      end
      local p = page
      while true do
        local nxt, err = p:next_page()
        assert.is_nil(err)
        if not nxt then break end
        pages = pages + 1
        assert(pages <= 5, "next_page() does not stop")
        p = nxt
      end
      assert.equal(3, pages)
      local n = 0
      for _ in pairs(ids) do n = n + 1 end
      assert.equal(30, n)
    end)

    it("ends a cursor walk that cycles A, B, A after B", function()
      local page = assert(client.conversations.messages:list { conversation_id = "c1", limit = 5,
        headers = { ["X-Emu-Paging-Broken"] = "alternate", ["X-Emu-Paging-Total"] = "100" } })
      local n = 0
      for _ in page:each() do
        n = n + 1
        assert(n <= 100, "the walk does not stop")
      end
      assert.equal(15, n)
    end)

    for _, case in ipairs({
      { "page_token", function(h) return client.api_apps.events:list { api_app_id = "a1", page_size = 10, headers = h } end },
      { "page_num", function(h) return client.bots:list { workspace_id = "w1", page_size = 10, headers = h } end },
    }) do
      it("ends a " .. case[1] .. " walk whose pages bring nothing new although has_more stays true", function()
        local page = assert(case[2] { ["X-Emu-Paging-Broken"] = "stuck", ["X-Emu-Paging-Total"] = "100" })
        assert.is_true(page.has_more)
        local n = 0
        for _ in page:each() do
          n = n + 1
          assert(n <= 100, "the walk does not stop")
        end
        assert.equal(10, n)
      end)
    end

    it("caps a walk at max_pages with an error (default pager.DEFAULT_MAX_PAGES)", function()
      assert.equal(10000, pager.DEFAULT_MAX_PAGES)
      local page = assert(client.bots:list { workspace_id = "w1", page_size = 10, max_pages = 2,
        headers = { ["X-Emu-Paging-Total"] = "100" } })
      assert.is_nil(emu.last_request().query.max_pages)
      local next_item, n = page:iter(), 0
      while true do
        local item, err = next_item()
        if not item then
          assert.equal("decode", err.kind)
          assert.matches("max_pages (2)", err.msg, 1, true)
          break
        end
        n = n + 1
      end
      assert.equal(20, n)
      assert.has_error(function() client.bots:list { workspace_id = "w1", max_pages = 0 } end,
        "coze: bots.list: field 'max_pages' must be a positive integer")
      assert.has_error(function() client.bots:list { workspace_id = "w1", max_pages = 0 / 0 } end,
        "coze: bots.list: field 'max_pages' must be a non-negative number (got NaN)")
    end)
  end)

  describe("details", function()
    it("returns nil, err from the list call itself", function()
      local page, err = client.bots:list { workspace_id = "w1", headers = { ["X-Emu-Fault"] = "json_error;code=4100" } }
      assert.is_nil(page)
      assert.equal(4100, err.code)
    end)

    it("sends the page number on the first request and counts from the given page", function()
      local page = assert(client.bots:list { workspace_id = "w1", page_size = 5, page_num = 4 })
      local req = emu.last_request()
      assert.equal("4", req.query.page_num)
      assert.equal(id(16), page.items[1].id)
      local n = 0
      for _ in page:each() do n = n + 1 end
      assert.equal(8, n)
      page = assert(client.bots:list { workspace_id = "w1", page_size = 5 })
      assert.equal("1", emu.last_request().query.page_num)
      assert.equal(TOTAL, page.total)
      assert.is_table(page.raw)
      assert.equal(200, page.meta.http_status)
    end)

    it("stops on a short page when the answer has neither has_more nor total", function()
      local page = assert(client.bots:list { workspace_id = "w1", page_size = 10,
        headers = { ["X-Emu-Paging-Bare"] = "1" } })
      assert.is_nil(page.total)
      local pages = 1
      while true do
        local nxt = page:next_page()
        if not nxt then break end
        pages, page = pages + 1, nxt
      end
      assert.equal(3, pages)
    end)

    it("stops on an empty page although has_more stays true", function()
      local page = assert(client.conversations:list { bot_id = "b1", page_size = 10,
        headers = { ["X-Emu-Paging-Broken"] = "1" } })
      assert.is_true(page.has_more)
      local n, before = 0, request_count()
      for _ in page:each() do n = n + 1 end
      assert.equal(TOTAL, n)
      assert.equal(before + 3, request_count()) -- pages 2, 3 and the empty page 4
    end)

    it("sends the token, cursor and body page fields the schemes use", function()
      local page = assert(client.workflows.versions:list { workflow_id = "wf1", page_size = 5 })
      assert.is_nil(emu.last_request().query.page_token)
      assert(page:next_page())
      assert.equal("tok_5", emu.last_request().query.page_token)

      page = assert(client.conversations.messages:list { conversation_id = "c1", limit = 5 })
      assert(page:next_page())
      local body = require("cjson").decode(emu.last_request().body)
      assert.equal(id(5), body.after_id)
      assert.equal("c1", emu.last_request().query.conversation_id)

      page = assert(client.datasets.documents:list { dataset_id = "d1", size = 5 })
      assert(page:next_page())
      body = require("cjson").decode(emu.last_request().body)
      assert.equal(2, body.page)
      assert.equal(5, body.size)
    end)

    it("walks message cursors backwards from before_id", function()
      local page = assert(client.conversations.messages:list { conversation_id = "c1", limit = 5, before_id = id(20) })
      local ids = {}
      for item in page:each() do ids[#ids + 1] = item.id end
      assert.equal(19, #ids)
      assert.equal(id(15), ids[1])
      assert.equal(id(1), ids[16])
    end)

    it("falls back to the only list in a result whose list key is unknown", function()
      local cfg = pager.compile { "x.list", paging = "page_num", items = "nope" }
      local page = pager.new(cfg, function() return nil end, { page_num = 1 }, { things = { { id = 1 } }, total = 1 }, {})
      assert.same({ { id = 1 } }, page.items)
      assert.is_false(page.has_more)
    end)

    it("stops when a token repeats or is empty, whatever has_more says", function()
      local cfg = pager.compile { "x.list", paging = "page_token" }
      local run = function() error("must not be called") end
      local p = pager.new(cfg, run, { page_token = "t1" }, { items = { 1 }, has_more = true, next_page_token = "t1" }, {})
      assert.is_false(p.has_more)
      assert.is_nil(p:next_page())
      p = pager.new(cfg, run, {}, { items = { 1 }, has_more = true, next_page_token = "" }, {})
      assert.is_false(p.has_more)
    end)
  end)
end)
