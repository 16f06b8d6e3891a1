-- coze.core.SSEParser: the incremental text/event-stream parser (csrc/sse.c, csrc/lsse.c).
-- Every fixture in spec/fixtures/sse/ is parsed fed whole, one byte at a time and in random
-- splits; the three event lists must be identical and equal to the expected list below.
local core = require "coze.core"

local DIR = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "fixtures/sse/"
local BOM = "\239\187\191"

local function read(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Drains p into out; returns the error message once the parser fails.
local function drain(p, out)
  while true do
    local data, event, id, eof_partial = p:next()
    if data == nil then
      if event ~= nil then
        out[#out + 1] = { error = event }
        return event
      end
      return nil
    end
    out[#out + 1] = { data = data, event = event, id = id, eof_partial = eof_partial, retry = p:retry() }
  end
end

-- Feeds the chunks (draining after each), finishes, drains; returns the event list.
local function parse(chunks, max)
  local p = core.sse_parser(max)
  local out = {}
  for _, c in ipairs(chunks) do
    p:feed(c)
    if drain(p, out) then
      p:close()
      return out
    end
  end
  p:finish()
  drain(p, out)
  assert(p:next() == nil, "next() answers nil once the stream is over")
  p:close()
  return out
end

local function bytewise(s)
  local t = {}
  for i = 1, #s do t[i] = s:sub(i, i) end
  return t
end

-- Park-Miller generator: the same splits on Lua 5.4 and LuaJIT, exact in doubles.
local function random_split(s, seed)
  local x, t, i = seed, {}, 1
  while i <= #s do
    x = (x * 16807) % 2147483647
    local n = (x % 4 == 0) and (x % 97 + 1) or (x % 7 + 1)
    t[#t + 1] = s:sub(i, i + n - 1)
    i = i + n
  end
  return t
end

local SEEDS = { 1, 42, 4242, 123457, 2024, 99991 }

local function ev(data, event, id, eof_partial, retry)
  return { data = data, event = event, id = id, eof_partial = eof_partial or false, retry = retry }
end

-- The docs' verbatim payloads (events.md sections 1-3).
local CHAT1 = [=[{"id":"739002977785765****","conversation_id":"739002976985482****","bot_id":"732868101392695****","role":"assistant","type":"answer","content":"xxxx","content_type":"text","chat_id":"7390029769854844****"}]=]
local CHAT2 = [=[{"id":"739002981382787****","conversation_id":"739002976985482****","bot_id":"732868101392695****","role":"assistant","type":"verbose","content":"{\"msg_type\":\"generate_answer_finish\",\"data\":\"{\\\\\"finish_reason\\\\\":0}\",\"from_module\":null,\"from_unit\":null}","content_type":"text","chat_id":"739002976985484****"}]=]
local CHAT3 = [=[{"id":"739002981382791****","conversation_id":"739002976985482****","bot_id":"732868101392695****","role":"assistant","type":"follow_up","content":"总结一下B站崩了的具体情况","content_type":"text","chat_id":"739002976985484****"}]=]
local FLOW_CREATED = [=[{"last_error":{"msg":"","code":0},"usage":{"token_count":0,"output_count":0,"input_count":0},"id":"75598600924738*****","conversation_id":"75598599835687*****","section_id":"75598599835687*****","status":"created","created_at":1760167093}]=]
local FLOW_PROGRESS = [=[{"usage":{"token_count":0,"output_count":0,"input_count":0},"conversation_id":"75598599835687*****","id":"75598600924738*****","section_id":"75598599835687*****","last_error":{"code":0,"msg":""},"status":"in_progress","created_at":1760167093}]=]
local FLOW_DELTA = [=[{"conversation_id":"75598599835687*****","role":"assistant","section_id":"75598599835687*****","chat_id":"75598600924738*****","id":"75598601273532*****","type":"answer","content":"那我给你讲","content_type":"text"}]=]
local FLOW_MSG = [=[{"updated_at":1760167107,"id":"75598601516393*****","role":"assistant","content_type":"text","chat_id":"75598600924738*****","created_at":1760167107,"conversation_id":"75598599835687*****","type":"verbose","content":"{\"msg_type\":\"empty result\",\"data\":\"empty result\",\"from_module\":null,\"from_unit\":null}","section_id":"75598599835687*****"}]=]
local FLOW_COMPLETED = [=[{"status":"completed","usage":{"token_count":1736,"output_count":498,"input_count":1238},"created_at":1760167093,"id":"75598600924738*****","section_id":"75598599835687*****","completed_at":1760167107,"conversation_id":"75598599835687*****","last_error":{"code":0,"msg":""}}]=]
local FLOW_DONE = [=[{"debug_url":"https://www.coze.cn/work_flow?execute_id=75598600951038*****&space_id=74982048832804*****&workflow_id=75228046974940*****&execute_mode=2"}]=]
local WF = {
  [=[{"content":"msg","node_is_finish":false,"node_seq_id":"0","node_title":"Message"}]=],
  [=[{"content":"为","node_is_finish":false,"node_seq_id":"1","node_title":"Message"}]=],
  [=[{"content":"坐不下！","node_is_finish":true,"node_seq_id":"4","node_title":"Message"}]=],
  [=[{"content":"{\"output\":\"为什么小明要带一把尺子去看电影？\\\n因为他听说电影很长，怕坐不下！\"}","cost":"0.00","node_is_finish":true,"node_seq_id":"0","node_title":"","token":0}]=],
}
local INT1 = [=[{"content":"请问你想查看哪个城市、哪一天的天气呢","content_type":"text","node_is_finish":true,"node_seq_id":"0","node_title":"问答"}]=]
local INT2 = [=[{"interrupt_data":{"data":"","event_id":"7404831988202520614/6302059919516746633","type":2},"node_title":"问答"}]=]

local MC = "conversation.message.completed"

local FIXTURES = {
  -- section 1: three records; the stream ends after the last data line without a blank line
  ["chat_message_completed.sse"] = { ev(CHAT1, MC), ev(CHAT2, MC), ev(CHAT3, MC) },
  -- section 2 verbatim: the "# ..." outline lines are colon-less unknown fields; where the docs
  -- put no blank line between two records, WHATWG joins them (the later event name wins)
  ["chatflow.sse"] = {
    ev(FLOW_CREATED .. "\n" .. FLOW_PROGRESS, "conversation.chat.in_progress"),
    ev(FLOW_DELTA, "conversation.message.delta"),
    ev(FLOW_MSG .. "\n" .. FLOW_COMPLETED, "conversation.chat.completed"),
    ev(FLOW_DONE, "done"),
  },
  ["workflow.sse"] = {
    ev(WF[1], "Message", "0"), ev(WF[2], "Message", "1"), ev(WF[3], "Message", "4"),
    ev(WF[4], "Message", "5"), ev("{}", "Done", "6"),
  },
  ["workflow_interrupt.sse"] = { ev(INT1, "Message", "0"), ev(INT2, "Interrupt", "1") },
  ["crlf.sse"] = { ev('{"content":"a"}', "conversation.message.delta"), ev('"[DONE]"', "done") },
  ["cr_only.sse"] = { ev('{"content":"a"}', "conversation.message.delta"), ev('"[DONE]"', "done") },
  ["mixed_eol.sse"] = { ev("a", "one"), ev("b"), ev("c\nd", "three") },
  ["bom.sse"] = { ev("first"), ev(BOM .. "not stripped here", nil, "7") },
  ["comments.sse"] = { ev("a", "x") },
  ["multiline_data.sse"] = { ev("line one\nline two\n\nline four"), ev("\n") },
  ["colon_space.sse"] = { ev("nospace"), ev("onespace"), ev(" twospaces"), ev("\ttab"), ev("a:b: c", "e1") },
  ["unknown_fields.sse"] = { ev("kept") },
  ["retry.sse"] = { ev("a", nil, nil, false, 3000), ev("b", nil, nil, false, 3000),
                    ev("c", nil, nil, false, 3000), ev("d", nil, nil, false, 500) },
  ["id_persistence.sse"] = { ev("a", nil, "1"), ev("b", nil, "1"), ev("c", nil, ""), ev("d", nil, "9") },
  ["id_nul.sse"] = { ev("a", nil, "good"), ev("b", nil, "good"), ev("nul \0 in data", nil, "good") },
  ["eof_no_blank_line.sse"] = { ev("first"), ev("[DONE]", "done", nil, false) },
  ["eof_no_newline.sse"] = { ev("first"), ev("[DONE]", "done", nil, true) },
  ["eof_comment_unterminated.sse"] = { ev("first"), ev("pending", nil, nil, true) },
  ["eof_field_only.sse"] = { ev("first") },
  ["empty_data.sse"] = { ev(""), ev(""), ev("", "done") },
  ["event_without_data.sse"] = { ev("", "PING"), ev("", ""), ev("", "b"), ev("", "done") },
  ["blank_lines_only.sse"] = {},
  ["done_variants.sse"] = { ev('"[DONE]"', "done"), ev("[DONE]", "done"), ev("{}", "done"), ev("", "done"),
                            ev("{}", "error"), ev("raw payload", "invalid") },
}

local function names()
  local t = {}
  for k in pairs(FIXTURES) do t[#t + 1] = k end
  table.sort(t)
  return t
end

-- Checks one stream three ways against want (an event list).
local function check_stream(s, want, max)
  assert.same(want, parse({ s }, max), "fed whole")
  assert.same(want, parse(bytewise(s), max), "fed one byte at a time")
  for _, seed in ipairs(SEEDS) do
    assert.same(want, parse(random_split(s, seed), max), "fed in random splits, seed " .. seed)
  end
end

describe("coze.core.sse_parser", function()
  describe("fixtures", function()
    for _, name in ipairs(names()) do
      it("parses " .. name .. " the same whole, byte by byte and in random splits", function()
        check_stream(read(name), FIXTURES[name])
      end)
    end

    it("has an expected event list for every fixture file", function()
      local ls = io.popen('ls "' .. DIR .. '"')
      if not ls then return end
      for file in ls:lines() do
        assert.is_table(FIXTURES[file], "no expectation for " .. file)
      end
      ls:close()
    end)
  end)

  describe("line endings", function()
    it("treats a CR at the end of one feed and an LF at the start of the next as one CRLF", function()
      assert.same({ ev("a\nb") }, parse({ "data: a\r", "\ndata: b\r", "\n\r", "\n" }))
    end)

    it("ends a line at a CR even when the next feed does not start with LF", function()
      assert.same({ ev("a"), ev("b") }, parse({ "data: a\r", "\rdata: b\r", "\r" }))
    end)

    it("does not wait for the next feed to dispatch a record ended by CR", function()
      local p = core.sse_parser()
      p:feed("data: a\r\r")
      assert.equal("a", p:next())
      p:close()
    end)
  end)

  describe("byte order mark", function()
    it("skips a BOM split across feeds", function()
      assert.same({ ev("x") }, parse({ "\239", "\187", "\191data: x\n\n" }))
    end)

    it("keeps a BOM that is not at the very start of the stream", function()
      assert.same({ ev("a"), ev(BOM .. "b") }, parse({ "data: a\n\n", "data: " .. BOM .. "b\n\n" }))
      -- a second BOM line is a colon-less field named "\239\187\191data", ignored
      assert.same({}, parse({ BOM .. BOM .. "data: x\n\n" }))
    end)

    it("treats a lone BOM prefix at the end of input as text", function()
      assert.same({}, parse({ "\239\187" }))
      assert.same({}, parse({ "\239", "data: x\n\n" }))
    end)
  end)

  describe("fields", function()
    it("joins multi-line data with LF", function()
      assert.same({ ev("1\n2\n3") }, parse({ "data: 1\ndata: 2\ndata: 3\n\n" }))
    end)

    it("strips exactly one space after the colon", function()
      assert.same({ ev("x"), ev("x"), ev("  x") }, parse({ "data:x\n\ndata: x\n\ndata:   x\n\n" }))
    end)

    it("reads a line without a colon as a field with an empty value", function()
      assert.same({ ev("", "") }, parse({ "event\ndata\n\n" }))
    end)

    it("answers nil for the event name when the record has no event field", function()
      local got = parse({ "data: x\n\n" })
      assert.is_nil(got[1].event)
    end)

    it("dispatches a record that has an event field but no data", function()
      assert.same({ ev("", "PING") }, parse({ "event: PING\n\n" }))
    end)

    it("resets on a blank line without data or event", function()
      assert.same({ ev("x", nil, "1") }, parse({ "\n\nid: 1\n\n:c\n\ndata: x\n\n" }))
    end)

    it("resets the event name and data after each dispatch but keeps the id", function()
      assert.same({ ev("a", "e", "1"), ev("b", nil, "1") },
        parse({ "id: 1\nevent: e\ndata: a\n\ndata: b\n\n" }))
    end)

    it("ignores an id containing NUL", function()
      assert.same({ ev("a", nil, "1"), ev("b", nil, "1") }, parse({ "id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n" }))
    end)

    it("ignores unknown fields and field names that differ in case", function()
      assert.same({ ev("x") }, parse({ "Data: no\nEVENT: no\nfoo: bar\ndata: x\n\n" }))
    end)

    it("keeps NUL and invalid UTF-8 bytes in data", function()
      assert.same({ ev("\0\255\254") }, parse({ "data: \0\255\254\n\n" }))
    end)
  end)

  describe("retry", function()
    it("answers nil before any retry field", function()
      local p = core.sse_parser()
      assert.is_nil(p:retry())
      p:close()
    end)

    it("accepts only ASCII digits", function()
      local p = core.sse_parser()
      p:feed("retry: 2500\n\n")
      assert.is_nil(p:next())
      assert.equal(2500, p:retry())
      for _, bad in ipairs({ "retry: 1.5\n", "retry: -3\n", "retry: 12a\n", "retry:\n", "retry: +4\n", "retry:  5\n" }) do
        p:feed(bad)
        assert.is_nil(p:next())
        assert.equal(2500, p:retry(), bad)
      end
      p:feed("retry:0\n")
      p:next()
      assert.equal(0, p:retry())
      p:close()
    end)
  end)

  describe("end of input", function()
    it("dispatches a pending record whose lines were complete with eof_partial false", function()
      local p = core.sse_parser()
      p:feed("event: done\ndata: [DONE]\n")
      assert.is_nil(p:next())
      p:finish()
      local data, event, id, eof_partial = p:next()
      assert.same({ "[DONE]", "done", nil, false }, { data, event, id, eof_partial })
      assert.is_nil(p:next())
      assert.is_nil(p:next())
      p:close()
    end)

    it("flags a record cut inside its last line with eof_partial true", function()
      local p = core.sse_parser()
      p:feed('data: {"content":"trunc')
      assert.is_nil(p:next())
      p:finish()
      local data, _, _, eof_partial = p:next()
      assert.equal('{"content":"trunc', data)
      assert.is_true(eof_partial)
      assert.is_nil(p:next())
      p:close()
    end)

    it("answers nil forever after the end when nothing was pending", function()
      local p = core.sse_parser()
      p:feed("data: a\n\n"):finish()
      assert.equal("a", p:next())
      for _ = 1, 3 do assert.is_nil(p:next()) end
      p:close()
    end)

    it("raises when fed after finish", function()
      local p = core.sse_parser()
      p:finish()
      assert.has_error(function() p:feed("data: x\n\n") end)
      p:close()
    end)
  end)

  describe("max_event_bytes", function()
    it("answers nil and an error when an event exceeds the limit, and keeps answering it", function()
      local p = core.sse_parser(100)
      p:feed("data: " .. string.rep("x", 200) .. "\n\n")
      local data, err = p:next()
      assert.is_nil(data)
      assert.equal("event exceeds 100 bytes", err)
      p:feed("data: small\n\n")
      assert.same({ nil, "event exceeds 100 bytes" }, { p:next() })
      assert.equal(0, p:buffered())
      p:close()
    end)

    it("counts the event name, the data and the current line", function()
      -- a line of exactly the limit passes, one byte more fails
      assert.same({ ev(string.rep("x", 15)) }, parse({ "data:" .. string.rep("x", 15) .. "\n\n" }, 20))
      assert.same({ { error = "event exceeds 20 bytes" } }, parse({ "data:" .. string.rep("x", 16) .. "\n\n" }, 20))
      -- data lines add up
      local s = string.rep("data: 0123456789\n", 10) .. "\n"
      assert.same({ { error = "event exceeds 100 bytes" } }, parse({ s }, 100))
      local ten = {}
      for i = 1, 10 do ten[i] = "0123456789" end
      assert.same({ ev(table.concat(ten, "\n")) }, parse({ s }, 200))
      -- the event name counts too
      assert.same({ { error = "event exceeds 30 bytes" } },
        parse({ "event: " .. string.rep("e", 20) .. "\ndata: " .. string.rep("d", 10) .. "\n\n" }, 30))
      -- the limit applies per record
      assert.same({ ev("0123456789"), ev("0123456789") }, parse({ "data:0123456789\n\ndata:0123456789\n\n" }, 20))
    end)

    it("gives the same error fed whole, byte by byte and in random splits", function()
      local s = "data: ok\n\n" .. "event: big\ndata: " .. string.rep("y", 300) .. "\ndata: after\n\n"
      check_stream(s, { ev("ok"), { error = "event exceeds 256 bytes" } }, 256)
    end)

    it("stops a never-ending line fed in pieces with bounded memory", function()
      local max = 64 * 1024
      local p = core.sse_parser(max)
      local piece = string.rep("z", 1000)
      p:feed("data: ")
      local err, peak = nil, 0
      for _ = 1, 1000 do
        p:feed(piece)
        local data
        data, err = p:next()
        assert.is_nil(data)
        peak = math.max(peak, p:buffered())
        if err then break end
      end
      assert.equal("event exceeds 65536 bytes", err)
      assert.is_true(peak <= max + #piece, "peak " .. peak)
      assert.equal(0, p:buffered())
      for _ = 1, 100 do p:feed(piece) end
      assert.equal(0, p:buffered())
      p:close()
    end)

    it("defaults to 8 MiB", function()
      local p = core.sse_parser()
      p:feed("data:" .. string.rep("x", 8 * 1024 * 1024))
      assert.same({ nil, "event exceeds 8388608 bytes" }, { p:next() })
      p:close()
      p = core.sse_parser()
      p:feed("data:" .. string.rep("x", 8 * 1024 * 1024 - 5) .. "\n\n")
      assert.equal(8 * 1024 * 1024 - 5, #p:next())
      p:close()
    end)

    it("raises naming max_event_bytes when it is not a positive number", function()
      for _, bad in ipairs({ 0, -1, 0.5, "8", {}, true, 0 / 0 }) do
        assert.has_error(function() core.sse_parser(bad) end)
        local ok, msg = pcall(core.sse_parser, bad)
        assert.is_false(ok)
        assert.matches("max_event_bytes", msg)
      end
    end)
  end)

  describe("object life cycle", function()
    it("returns the parser from feed, finish and reset so calls chain", function()
      local p = core.sse_parser()
      assert.equal(p, p:feed("data: x\n\n"))
      assert.equal(p, p:finish())
      assert.equal(p, p:reset())
      p:close()
    end)

    it("raises when fed something other than a string", function()
      local p = core.sse_parser()
      for _, bad in ipairs({ 1, {}, true }) do
        assert.has_error(function() p:feed(bad) end)
      end
      assert.has_error(function() p:feed() end)
      p:close()
    end)

    it("starts a fresh stream on reset, keeping the limit", function()
      local p = core.sse_parser(50)
      p:feed("retry: 10\nid: 5\ndata: half")
      assert.is_nil(p:next())
      p:reset()
      assert.is_nil(p:retry())
      p:feed(BOM .. "data: x\n\n")
      assert.same({ "x", nil, nil, false }, { p:next() })
      p:feed("data: " .. string.rep("x", 60) .. "\n")
      assert.same({ nil, "event exceeds 50 bytes" }, { p:next() })
      p:reset()
      p:feed("data: again\n\n")
      assert.equal("again", p:next())
      p:close()
    end)

    it("raises on every method once closed, and close is idempotent", function()
      local p = core.sse_parser()
      p:feed("data: x")
      p:close()
      p:close()
      for _, m in ipairs({ "next", "finish", "reset", "retry", "buffered" }) do
        assert.has_error(function() p[m](p) end, "attempt to use a closed SSEParser")
      end
      assert.has_error(function() p:feed("x") end, "attempt to use a closed SSEParser")
      assert.matches("closed", tostring(p))
    end)

    it("raises when a method is called on something else", function()
      local p = core.sse_parser()
      assert.has_error(function() p.next({}) end)
      assert.has_error(function() p.close(io.stdout) end)
      p:close()
    end)

    it("frees parsers left to the garbage collector", function()
      for _ = 1, 200 do
        local p = core.sse_parser()
        p:feed(string.rep("data: abc\n", 100))
        p:next()
      end
      collectgarbage()
      collectgarbage()
    end)

    if _VERSION == "Lua 5.4" then
      it("closes a <close> variable at the end of its scope (Lua 5.4)", function()
        local chunk = assert(load([[
          local core = ...
          local escaped
          do
            local p <close> = core.sse_parser()
            p:feed("data: x\n\n")
            escaped = p
          end
          return escaped
        ]]))
        local p = chunk(core)
        assert.has_error(function() p:next() end, "attempt to use a closed SSEParser")
      end)
    end
  end)

  describe("memory", function()
    it("keeps buffered() small over 1,000,000 events fed in chunks", function()
      local data = '{"id":"7390029777857650000","conversation_id":"7390029769854820000","role":"assistant",'
        .. '"type":"answer","content":"hello","content_type":"text","chat_id":"7390029769854844000"}'
      local one = "event:conversation.message.delta\ndata:" .. data .. "\n\n"
      local block = string.rep(one, 100)
      -- two pieces that cut a line in the middle, so every feed leaves a partial line behind
      local cut = math.floor(#block / 2) + 7
      local a, b = block:sub(1, cut), block:sub(cut + 1)
      local p = core.sse_parser()
      local n, peak, next_ = 0, 0, p.next
      for _ = 1, 10000 do
        p:feed(a)
        while next_(p) do n = n + 1 end
        if p:buffered() > peak then peak = p:buffered() end
        p:feed(b)
        while next_(p) do n = n + 1 end
        if p:buffered() > peak then peak = p:buffered() end
      end
      p:finish()
      assert.is_nil(p:next())
      assert.equal(1000000, n)
      assert.is_true(peak < #one, "peak " .. peak)
      assert.equal(0, p:buffered())
      p:close()
    end)
  end)
end)
