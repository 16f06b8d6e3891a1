-- stream:raw_chunks(): the stream as the bytes it came in, whole events per chunk, with terminal and
-- error events recognised as next() recognises them; and coze.ngx.relay's fast path built on it.
-- The Lua layer over exact bodies (spec/helpers/sse_cases.lua, an in-memory handle), then both real
-- transports against the emulator: libcurl here, cosockets in the application nginx (spec/openresty/).
local core = require "coze.core"
local coze = require "coze"
local cjson = require "cjson"
local stream_mod = require "coze.stream"
local cases = require "helpers.sse_cases"
local emu = require "helpers.emu"

local EMU_PORT = tonumber(emu.url:match(":(%d+)$"))
local APP = "http://127.0.0.1:" .. (EMU_PORT + 10)

-- Every event of an SSE text: { name, data, id } through the SDK's parser.
local function parse(text)
  local p, out = core.sse_parser(), {}
  p:feed(text):finish()
  while true do
    local raw, name, id = p:next()
    if not raw then break end
    out[#out + 1] = { name or "message", raw, id }
  end
  return out
end

local function names_of(text)
  local t = {}
  for i, ev in ipairs(parse(text)) do t[i] = ev[1] end
  return t
end

-- got is out as received: a stream that ends on a CRLF whose LF came in a later read than the CR
-- ends its last chunk on the CR (the terminal event ends the stream before that read)
local function assert_bytes(out, got)
  if #got == #out - 1 and out:sub(-2) == "\r\n" then got = got .. "\n" end
  assert.equal(out, got)
end

-- Runs the raw_chunks loop: chunks, event counts, and the error it raised (or nil).
local function collect(s)
  local chunks, counts = {}, {}
  local ok, e = pcall(function()
    for chunk, n in s:raw_chunks() do
      chunks[#chunks + 1] = chunk
      counts[#counts + 1] = n
    end
  end)
  return chunks, counts, not ok and e or nil
end

local function new_stream(pieces, opts)
  opts = opts or {}
  opts.profile = opts.profile or "chat"
  return stream_mod.new(cases.handle(pieces, opts.gaps), opts)
end

-- Each prefix of chunks ends on an event boundary: a record written after it parses as itself.
local function assert_boundaries(chunks, counts)
  local prefix, events = "", 0
  for i = 1, #chunks do
    prefix, events = prefix .. chunks[i], events + counts[i]
    local evs = parse(prefix .. "event: probe\ndata: x\n\n")
    assert.equal(events + 1, #evs, "chunk " .. i)
    assert.same({ "probe", "x" }, { evs[#evs][1], evs[#evs][2] })
  end
end

describe("stream:raw_chunks() over exact bodies", function()
  for name, c in pairs(cases.cases) do
    for _, step in ipairs { false, 1, 3, 64 } do
      it("hands out the bytes as received, on event boundaries (" .. name .. ", "
        .. (step and step .. "-byte pieces" or "whole") .. ")", function()
        local s = new_stream(cases.pieces(cases.body(c), step or nil))
        local chunks, counts, err = collect(s)
        local out = table.concat(chunks)
        assert_bytes(cases.out(c), out)
        local total = 0
        for _, n in ipairs(counts) do total = total + n end
        assert.equal(#parse(out), total)
        assert_boundaries(chunks, counts)
        if c.err then
          assert.is_table(err)
          assert.equal(c.err, err.kind)
          if c.code then assert.equal(c.code, err.code) end
          assert.is_false(s.completed)
        else
          assert.is_nil(err)
          assert.is_true(s.completed)
        end
        assert.is_true(s.finished)
      end)
    end
  end

  it("gives the events next() gives, one chunk for what was read at once", function()
    local body = cases.body(cases.cases.extras)
    local s = new_stream({ body })
    local chunks = collect(s)
    local s2 = new_stream({ body })
    local want = {}
    while true do
      local ev = s2:next()
      if not ev then break end
      want[#want + 1] = { ev.event, ev.raw, ev.id }
    end
    assert.same(want, parse(table.concat(chunks)))
    assert.equal(1, #chunks) -- read at once: one walk up to done, whose bytes end the chunk
  end)

  it("hands out events next() had parsed ahead as records, then the rest as received", function()
    local s = new_stream(cases.pieces(cases.body(cases.cases.lf), 40))
    local first = s:next()
    assert.equal("conversation.chat.created", first.event)
    local chunks, _, err = collect(s)
    assert.is_nil(err)
    local evs = parse(table.concat(chunks))
    assert.equal(4, #evs)
    assert.equal("conversation.message.delta", evs[1][1])
    assert.equal("done", evs[4][1])
  end)

  it("runs the profile's watch functions (chat cancel needs the created event's ids)", function()
    local seen
    local profile = stream_mod.profile("chat", { watch = {
      ["conversation.chat.created"] = function(_, ev) seen = ev.data.id end } })
    local chunks, _, err = collect(new_stream({ cases.body(cases.cases.lf) }, { profile = profile }))
    assert.is_nil(err)
    assert.equal("c1", seen)
    assert.equal(cases.out(cases.cases.lf), table.concat(chunks))
  end)

  it("ends normally after a workflow's Interrupt, and forwards every event after it", function()
    local body = 'event: Message\ndata: {"content":"a"}\n\nevent: Interrupt\ndata: {"interrupt_data":{}}\n\n'
    local s = new_stream(cases.pieces(body, 5), { profile = "workflow" })
    local chunks, _, err = collect(s)
    assert.is_nil(err)
    assert.is_true(s.completed)
    assert.equal(body, table.concat(chunks))
  end)

  it("forwards a completions stream's data: [DONE] and ends there", function()
    local body = 'data: {"choices":[]}\n\ndata: {"choices":[]}\n\ndata: [DONE]\n\n'
    local s = new_stream({ body, "data: {\"late\":1}\n\n" }, { profile = "completions" })
    local chunks, _, err = collect(s)
    assert.is_nil(err)
    assert.is_true(s.completed)
    assert.equal(body, table.concat(chunks))
  end)

  it("counts an event's framing and comments in max_event_bytes", function()
    local body = string.rep(": keep-alive\n", 20) .. cases.body(cases.cases.lf)
    local _, _, err = collect(new_stream({ body }, { max_event_bytes = 100 }))
    assert.equal("stream", err.kind)
    assert.truthy(tostring(err):find("exceeds 100 bytes", 1, true))
    -- next() counts the event's name and data only
    local s = new_stream({ body }, { max_event_bytes = 100 })
    for _ in s:events() do end
    assert.is_true(s.completed)
  end)

  it("waits through on_wait between reads (coroutine.yield) and hands out the same bytes", function()
    local yields = 0
    local chunks
    local co = coroutine.wrap(function()
      chunks = collect(new_stream(cases.pieces(cases.body(cases.cases.crlf), 16),
        { gaps = true, wait_ms = 0, on_wait = coroutine.yield }))
      return "done"
    end)
    while co() ~= "done" do yields = yields + 1 end
    assert.truthy(yields > 5)
    assert.equal(cases.out(cases.cases.crlf), table.concat(chunks))
  end)

  it("closes the stream on break (Lua 5.4's closing value)", function()
    if _VERSION ~= "Lua 5.4" then return pending("no closing value of a generic for before 5.4") end
    local s = new_stream(cases.pieces(cases.body(cases.cases.lf), 30))
    local h = s.handle
    for _ in s:raw_chunks() do break end
    assert.is_true(s.finished)
    assert.is_true(h.closed)
  end)
end)

-- A chat over the curl transport: chunks, count, error.
local function curl_chat(fault, extra)
  local c = coze.new { token = "pat_test", base_url = emu.url, max_retries = 0 }
  local o = { bot_id = "7000000000000000001", user_id = "u1", headers = { ["X-Emu-Fault"] = fault },
    additional_messages = { -- spec/openresty/app.lua's chat: the same answer on both transports
      { role = "user", content = "hello there, this is a relayed chat", content_type = "text" } } }
  for k, v in pairs(extra or {}) do o[k] = v end
  local s = assert(c.chat:stream(o))
  local chunks, counts, err = collect(s)
  c:close()
  local n = 0
  for _, k in ipairs(counts) do n = n + k end
  return table.concat(chunks), n, err, s, chunks, counts
end

local function ctl(cmd)
  local ok = os.execute(string.format("env -u LD_PRELOAD COZE_EMU_URL=%s COZE_APP_PORT=%d COZE_APP_WORKERS=1 spec/openresty/ctl %s >/dev/null",
    emu.url, EMU_PORT + 10, cmd))
  assert(ok == true or ok == 0, "spec/openresty/ctl " .. cmd .. " failed")
end

local session
local function get(path)
  session = session or core.session()
  local r = session:request { method = "GET", url = APP .. path }
  local status, err = r:wait_headers(30000)
  assert(status, err)
  local parts = {}
  while true do
    local chunk, rerr = r:read(30000)
    if chunk == nil then assert(rerr == nil, rerr); break end
    if chunk then parts[#parts + 1] = chunk end
  end
  r:close()
  return status, table.concat(parts)
end

describe("stream:raw_chunks() on both transports (emulator)", function()
  setup(function() ctl("restart") end)
  teardown(function()
    if session then session:close(); session = nil end
    ctl("stop")
  end)

  local plain_names
  local FRAMINGS = {
    [""] = function() end,
    crlf = function(body) assert.truthy(body:find("\r\n", 1, true)) end,
    cr = function(body) assert.is_nil(body:find("\n", 1, true)); assert.truthy(body:find("\r", 1, true)) end,
    split = function() end,
    comments = function(body) assert.truthy(body:find(": keep-alive", 1, true)) end,
    bom = function(body) assert.are_not.equal("\239\187\191", body:sub(1, 3)) end,
    space = function(body) assert.truthy(body:find("event: ", 1, true)) end,
  }
  for _, f in ipairs { "", "crlf", "cr", "split", "comments", "bom", "space" } do
    it("keeps the framing '" .. f .. "' and the events, on libcurl and on cosockets", function()
      local body, n, err, s = curl_chat(f)
      assert.is_nil(err)
      assert.is_true(s.completed)
      plain_names = plain_names or names_of(body)
      assert.same(plain_names, names_of(body))
      assert.equal(#plain_names, n)
      FRAMINGS[f](body)
      local r = cjson.decode(select(2, get("/chunks?fault=" .. f)))
      assert.is_true(r.ok)
      assert.is_true(r.completed)
      assert.same(plain_names, names_of(r.body))
      assert.equal(n, r.n)
      FRAMINGS[f](r.body)
    end)
  end

  local FAULTS = {
    ["reset;after=3"] = { kind = "transport" },
    ["error_event;after=2;code=4013"] = { kind = "api", code = 4013, last = "error" },
    ["no_done"] = { kind = "stream" },
    ["truncate;after=2"] = { kind = "stream" },
  }
  for fault, want in pairs(FAULTS) do
    it("raises the same error as events() for '" .. fault .. "', on both transports", function()
      local body, _, err = curl_chat(fault)
      assert.equal(want.kind, err.kind)
      if want.code then assert.equal(want.code, err.code) end
      local names = names_of(body)
      assert.are_not.equal("done", names[#names])
      if want.last then assert.equal(want.last, names[#names]) end
      local r = cjson.decode(select(2, get("/chunks?fault=" .. fault:gsub(";", "%%3B"))))
      assert.is_false(r.ok)
      assert.equal(want.kind, r.kind)
      if want.code then assert.equal(want.code, r.code) end
      assert.same(names, names_of(r.body))
    end)
  end

  it("waits with wait_ms = 0 and on_wait = coroutine.yield on libcurl", function()
    local yields, out
    local co = coroutine.wrap(function()
      out = { curl_chat("", { wait_ms = 0, on_wait = coroutine.yield, headers = { ["X-Emu-Drip-Ms"] = "20" } }) }
      return "done"
    end)
    yields = 0
    while co() ~= "done" do yields = yields + 1 end
    assert.is_nil(out[3])
    assert.truthy(yields > 5)
    assert.equal("done", names_of(out[1])[#names_of(out[1])])
  end)
end)

describe("coze.ngx.relay's fast path (application nginx)", function()
  setup(function() ctl("restart") end)
  teardown(function()
    if session then session:close(); session = nil end
    ctl("stop")
  end)

  it("keeps the upstream's framing over cosockets (crlf, cr, one byte per write)", function()
    local _, plain = get("/chat")
    local want = names_of(plain)
    for _, f in ipairs { "crlf", "cr", "split" } do
      local status, body = get("/chat?fault=" .. f)
      assert.equal(200, status)
      assert.same(want, names_of(body))
      if f == "crlf" then assert.truthy(body:find("\r\n\r\n", 1, true)) end
      if f == "cr" then assert.is_nil(body:find("\n", 1, true)) end
    end
  end)

  for name, c in pairs(cases.cases) do
    for _, step in ipairs { false, 1, 7 } do
      it("forwards the body byte for byte (" .. name .. ", " .. (step and step .. "-byte pieces" or "whole") .. ")", function()
        local status, body = get("/relay_bytes?case=" .. name .. (step and "&step=" .. step or ""))
        assert.equal(200, status)
        local out = cases.out(c)
        assert_bytes(out, body:sub(1, #out))
        local rest = body:sub(#out + 1)
        if c.err == "stream" then -- a cut stream gets the relay's own error event, never a done
          local evs = parse(rest)
          assert.equal(1, #evs)
          assert.equal("error", evs[1][1])
          assert.equal("stream", cjson.decode(evs[1][2]).code)
        else -- a clean end, or the upstream's own error event, relayed as it came
          assert.equal("", rest)
        end
      end)
    end
  end
end)
