-- Lua code that runs in the middle of a coze.core call (an __index metamethod, a finalizer) cannot
-- make C use freed memory (issue 12 #5, #6). Under make valgrind / make sanitize any invalid read
-- fails the suite; the plain run checks what the server received or that the call refused.
local core = require "coze.core"
local cjson = require "cjson"

local BASE = os.getenv("COZE_EMU_URL") or "http://127.0.0.1:18321"

-- Fresh strings of the given lengths, so freed memory is reused by other text.
local function churn(len)
  local junk = {}
  for i = 1, 2000 do junk[i] = string.rep("Z", len - #tostring(i)) .. i end
  return junk
end

describe("Session:request option parsing", function()
  local s
  before_each(function() s = core.session() end)
  after_each(function() s:close() end)

  it("keeps header and part strings alive while an __index metamethod collects them", function()
    local uniq = tostring(os.time()) .. tostring(math.random(1e9))
    local hval = string.rep("h", 60) .. uniq
    local headers = { "X-Keep: " .. hval }
    local pdata = string.rep("d", 60) .. uniq
    local parts = { { name = "field" .. uniq, data = pdata } }
    local junk
    local opts = setmetatable({ method = "POST", url = BASE .. "/__low/echo", headers = headers,
      parts = parts }, {
      __index = function(_, k)
        if k == "connect_timeout_ms" then -- read after headers and parts
          headers[1] = "X-Other: 1"
          parts[1] = { name = "other", data = "x" }
          collectgarbage()
          collectgarbage()
          junk = churn(#hval + 8)
        end
        return nil
      end,
    })
    local r = s:request(opts)
    assert.equal(200, r:wait_headers(5000))
    local body = {}
    while true do
      local c = r:read(5000)
      if not c then break end
      body[#body + 1] = c
    end
    r:close()
    local echo = cjson.decode(table.concat(body))
    assert.equal(hval, echo.headers["x-keep"])
    assert.equal(1, #echo.parts)
    assert.equal("field" .. uniq, echo.parts[1].name)
    assert.equal(pdata, echo.parts[1].data)
    assert.is_table(junk)
  end)
end)

-- An object whose finalizer runs fn (a table on 5.4, a newproxy on LuaJIT).
local function with_gc(fn)
  if newproxy then
    local u = newproxy(true)
    getmetatable(u).__gc = fn
    return u
  end
  return setmetatable({}, { __gc = fn })
end

-- An aggressive collector, so finalizers run inside the calls (in their allocations).
local function gc_often(on)
  -- a full collection first: the suite before this file leaves a large heap, whose cycle would
  -- not end (and run finalizers) within the calls below
  if on then collectgarbage() end
  if jit then
    -- LuaJIT runs no finalizer while a trace runs: interpret, so they run inside the C calls
    if on then jit.off(); jit.flush() else jit.on() end
    collectgarbage("setpause", on and 0 or 200)
    collectgarbage("setstepmul", on and 4000 or 200)
  else
    collectgarbage("incremental", on and 0 or 200, on and 4000 or 100, 13)
  end
  if on then collectgarbage("step", 0) end -- start a cycle now, not after the debt of the last one
end

describe("SSEParser re-entrancy", function()
  local DATA = string.rep("x", 20000) -- large events: every call allocates enough to step the collector
  local RECORD = "event: e\ndata: " .. DATA .. "\n\n"

  local BIG = RECORD:rep(40) -- makes the parser's input buffer move

  -- Runs call(p) until it returns nil while finalizers that run use(p) keep coming (each one arms
  -- the next); returns p, the results, the errors use raised and how many ran inside a call.
  local function during(call, use)
    local p = core.sse_parser()
    p:set_direct(true)
    local inside, stop, errs, ran = false, false, {}, 0
    local function arm()
      with_gc(function()
        if inside then
          ran = ran + 1
          local ok, e = pcall(use, p)
          if not ok then errs[#errs + 1] = e end
        end
        if not stop then arm() end
      end)
    end
    for _ = 1, 20 do arm() end
    local results = {}
    gc_often(true)
    for _ = 1, 10 do -- rounds of 300 events, until finalizers ran inside a call
      p:feed(RECORD:rep(300))
      collectgarbage("step", 0)
      for _ = 1, 300 do
        inside = true -- (no allocation of ours until it is false again)
        local a, b = call(p)
        inside = false
        if a == nil then break end
        results[#results + 1] = { a, b }
      end
      if ran > 0 then break end
    end
    gc_often(false)
    stop = true
    collectgarbage()
    collectgarbage()
    return p, results, errs, ran
  end

  local function feed_big(p) p:feed(BIG) end

  for _, case in ipairs({
    { "next", function(p) return p:next() end },
    -- batches of 2: many calls, each allocating enough to step the collector
    { "next_events", function(p) local q = {}; local n = p:next_events(q, nil, 2); if n == 0 then return nil end; return q[n].raw, q[n].event end },
    { "next_raw", function(p) local q = {}; local n = p:next_raw(q, 2); if n == 0 then return nil end; return q[3 * n - 1], q[3 * n - 2] end },
    -- the C for-loop function of stream:raw_events() (Lua 5.3+)
    core.sse_iterators and { "iterator", function(p)
      local name, raw = p:iterator("raw", function() return nil end, {})(nil)
      return raw, name
    end } or nil,
  }) do
    it("refuses a finalizer that feeds the parser during " .. case[1] .. "()", function()
      local p, results, errs, ran = during(case[2], feed_big)
      assert.is_true(ran > 0, "no finalizer ran during the call")
      assert.is_true(#errs > 0)
      for _, e in ipairs(errs) do assert.matches("SSEParser: in use", e) end
      assert.is_true(#results > 100)
      for _, r in ipairs(results) do
        assert.is_true(r[1] == DATA, "an event's data changed")
        assert.equal("e", r[2])
      end
      p:close()
    end)
  end

  it("refuses close, finish and reset from a finalizer during next(), and works afterwards", function()
    local p, _, errs, ran = during(function(q) return q:next() end, function(q) q:close() end)
    assert.is_true(ran > 0 and #errs > 0)
    for _, e in ipairs(errs) do assert.matches("SSEParser: in use", e) end
    p:feed(RECORD) -- still open, still parsing
    assert.is_true(p:next() == DATA)
    p:close()
    for _, use in ipairs({ function(q) q:finish() end, function(q) q:reset() end }) do
      local results
      p, results = during(function(q) return q:next() end, use)
      assert.is_true(#results >= 300)
      p:close()
    end
  end)
end)

describe("a transfer feeding a parser in use", function()
  it("pauses until the parser is free, then delivers every byte", function()
    local s = core.session()
    local function chat(n)
      local r = s:request { method = "POST", url = BASE .. "/v3/chat", body = '{"bot_id":"b","user_id":"u","stream":true}',
        headers = { "Authorization: Bearer pat_test", "Content-Type: application/json", "X-Emu-Deltas: " .. n,
          'X-Emu-Reply: "' .. string.rep("y", 1000) .. '"' } } -- every delta carries all 1000 bytes
      assert.equal(200, r:wait_headers(5000))
      return r
    end
    -- one stream read through p while finalizers drive the session: deltas, last name, how often
    local function stream_once()
      local r1, r2 = chat(3000), chat(3000) -- 3 MB each: the collector runs many cycles meanwhile
      local p = core.sse_parser()
      local inside, stop, drove = false, false, 0
      local function arm()
        with_gc(function()
          if inside then -- drives the session: curl runs r1's callback, which finds p in use
            drove = drove + 1
            r2:read(0)
          end
          if not stop then arm() end
        end)
      end
      for _ = 1, 20 do arm() end
      gc_often(true)
      local deltas, last = 0, nil
      while true do
        inside = true
        local raw, name = p:next()
        inside = false
        if raw then
          if name == "conversation.message.delta" then deltas = deltas + 1 end
          last = name
        else
          local ok, msg = r1:read_into(p, 5000)
          assert.is_nil(msg)
          if ok == nil then break end
        end
      end
      gc_often(false)
      stop = true
      collectgarbage()
      r1:close()
      r2:close()
      return deltas, last, drove
    end
    local drove = 0
    for _ = 1, 5 do -- until the collector's timing made a finalizer run inside next()
      local deltas, last, n = stream_once()
      assert.equal(3000, deltas)
      assert.equal("done", last)
      drove = drove + n
      if drove > 0 then break end
    end
    s:close()
  end)
end)
