-- client.workflows: streamed runs (Message/Error/Done/Interrupt/PING/unknown events), resume,
-- the chatflow, sync and async runs with run_histories polling; every stream fault of the emulator.
local emu = require "helpers.emu"
local coze = require "coze"

local collect = emu.collect

local function names(evs)
  local out = {}
  for i, ev in ipairs(evs) do out[i] = ev.event end
  return out
end

local function text(evs)
  local out = {}
  for _, ev in ipairs(evs) do
    if ev.event == "Message" and ev.data.node_title ~= "End" then out[#out + 1] = ev.data.content end
  end
  return table.concat(out)
end

local OUTPUT = "为什么小明要带一把尺子去看电影？因为他听说电影很长，怕坐不下！"

describe("workflows.runs:stream", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  local function run(wid, headers, extra)
    local o = { workflow_id = wid or "7404831988202520614", parameters = { city = "北京" }, headers = headers or {} }
    for k, v in pairs(extra or {}) do o[k] = v end
    return client.workflows.runs:stream(o)
  end

  it("streams Message events with ids from 0 and ends at Done", function()
    local stream = assert(run())
    local evs, err = collect(stream)
    assert.is_nil(err)
    assert.equal("Done", evs[#evs].event)
    for i, ev in ipairs(evs) do assert.equal(tostring(i - 1), ev.id) end
    assert.equal(OUTPUT, text(evs))
    assert.is_true(evs[#evs - 1].data.node_is_finish)
    assert.is_true(stream.completed)
    assert.truthy(stream.debug_url:find("^https://www.coze.cn/work_flow%?execute_id="))
    local req = emu.last_request()
    assert.equal("/v1/workflow/stream_run", req.path)
    assert.truthy(req.body:find('"city":"北京"', 1, true))
  end)

  it("works in the for-loop form", function()
    local stream = assert(run(nil, { ["X-Emu-Reply"] = "hello world" }))
    local n = 0
    for ev in stream:events() do
      if ev.event == "Message" then n = n + 1 end
    end
    assert.truthy(n >= 2)
  end)

  it("gives what runs:resume needs on Interrupt and ends without Done", function()
    local stream = assert(run("wf_interrupt"))
    local evs, err = collect(stream)
    assert.is_nil(err)
    assert.same({ "Message", "Interrupt" }, names(evs))
    local ev = evs[2]
    assert.equal("问答", ev.data.node_title)
    assert.same({ workflow_id = "wf_interrupt", event_id = ev.data.interrupt_data.event_id, interrupt_type = 2 },
      ev.resume_args)
    local i = stream.interrupt
    assert.equal("wf_interrupt", i.workflow_id)
    assert.equal(ev.data.interrupt_data.event_id, i.event_id)
    assert.equal(2, i.interrupt_type)
    assert.equal("", i.data)
    assert.equal("问答", i.node_title)
    assert.is_true(stream.completed)
    assert.is_nil(stream:next())
  end)

  it("resumes in one line with stream:resume", function()
    local stream = assert(run("wf_interrupt"))
    collect(stream)
    local resumed = assert(stream:resume { resume_data = "北京, 今天" })
    local evs, err = collect(resumed)
    assert.is_nil(err)
    assert.equal("Done", evs[#evs].event)
    assert.equal("收到: 北京, 今天", text(evs))
    assert.is_string(resumed.debug_url)
    local req = emu.last_request()
    assert.equal("/v1/workflow/stream_resume", req.path)
    local body = require("cjson").decode(req.body)
    assert.equal(stream.interrupt.event_id, body.event_id)
    assert.equal(2, body.interrupt_type)
    assert.equal("wf_interrupt", body.workflow_id)
  end)

  it("resumes with runs:resume (the streaming resume, as coze-py/js/go name it) and the event's resume_args", function()
    local stream = assert(run("wf_interrupt"))
    local args
    for ev in stream:events() do
      if ev.event == "Interrupt" then args = ev.resume_args end
    end
    args.resume_data = "again"
    local again = assert(client.workflows.runs:resume(args))
    assert.equal("/v1/workflow/stream_resume", emu.last_request().path)
    local evs = collect(again)
    assert.same({ "Message", "Interrupt" }, names(evs))
    assert.are_not.equal(args.event_id, again.interrupt.event_id)
    local last = assert(again:resume { resume_data = "上海" })
    assert.equal("收到: 上海", text(collect(last)))
  end)

  it("accepts a Done after the Interrupt", function()
    local stream = assert(run("wf_interrupt", { ["X-Emu-Interrupt-Done"] = "1" }))
    local evs, err = collect(stream)
    assert.is_nil(err)
    assert.same({ "Message", "Interrupt", "Done" }, names(evs))
    assert.is_string(stream.interrupt.event_id)
  end)

  it("answers a used event id with nil, err before any event", function()
    local stream = assert(run("wf_interrupt"))
    collect(stream)
    assert(collect(assert(stream:resume { resume_data = "a" })))
    local again, err = stream:resume { resume_data = "b" }
    assert.is_nil(again)
    assert.equal("api", err.kind)
    assert.equal(4315, err.code)
    local none
    none, err = client.workflows.runs:resume { workflow_id = "wf_interrupt", event_id = "1/2", interrupt_type = 2,
      resume_data = "x" }
    assert.is_nil(none)
    assert.equal(4314, err.code)
  end)

  it("raises on resume of a stream that was not interrupted", function()
    local stream = assert(run())
    collect(stream)
    assert.has_error(function() stream:resume { resume_data = "x" } end)
  end)

  it("delivers PING and unknown events with their raw payload", function()
    local stream = assert(run("wf_ping"))
    local evs, err = collect(stream)
    assert.is_nil(err)
    local seen = {}
    for _, ev in ipairs(evs) do seen[ev.event] = (seen[ev.event] or 0) + 1 end
    assert.truthy(seen.PING >= 2)
    local byname = {}
    for _, ev in ipairs(evs) do byname[ev.event] = ev end
    assert.equal("", byname.PING.raw)
    assert.equal(50, byname.NodeProgress.data.progress)
    assert.equal("plain text, not JSON", byname.Trace.raw)
    assert.equal("plain text, not JSON", byname.Trace.data)
    assert.equal(OUTPUT, text(evs))
    assert.equal("Done", evs[#evs].event)
  end)

  it("keeps a stream of PINGs alive past the idle timeout", function()
    local stream = assert(run(nil, { ["X-Emu-Pings"] = "6", ["X-Emu-Drip-Ms"] = "60" }, { idle_timeout_ms = 300 }))
    local t0 = client.transport:now_ms()
    local evs, err = collect(stream)
    assert.is_nil(err)
    assert.truthy(client.transport:now_ms() - t0 > 300)
    assert.equal("Done", evs[#evs].event)
  end)

  it("delivers the Error event, then ends with the error object", function()
    local stream = assert(run("wf_error"))
    local evs, err = collect(stream)
    assert.same({ "Message", "Error" }, names(evs))
    assert.equal("api", err.kind)
    assert.equal(720702011, err.code)
    assert.truthy(err.msg:find("工作流执行失败", 1, true))
    assert.is_string(err.logid)
    assert.equal("workflows.runs.stream", err.op)
    local s2 = assert(run("wf_error"))
    assert.has_error(function() for _ in s2:events() do end end)
  end)

  it("returns nil, err when the run fails before streaming", function()
    local stream, err = run("wf_not_published")
    assert.is_nil(stream)
    assert.equal(4200, err.code)
  end)

  describe("under stream faults", function()
    local function faulted(fault)
      local stream = assert(run(nil, { ["X-Emu-Fault"] = fault }))
      return collect(stream)
    end

    for _, fault in ipairs({ "split", "crlf", "cr", "bom", "comments", "space", "eof_no_newline", "stall;after=2;ms=50" }) do
      it("gives the same events with " .. fault, function()
        local evs, err = faulted(fault)
        assert.is_nil(err)
        assert.equal(OUTPUT, text(evs))
        assert.equal("Done", evs[#evs].event)
      end)
    end

    it("reports a reset connection", function()
      local evs, err = faulted("reset;after=3")
      assert.equal(3, #evs)
      assert.equal("transport", err.kind)
    end)

    it("reports a stream without Done", function()
      local _, err = faulted("no_done")
      assert.equal("stream", err.kind)
    end)

    it("reports a record cut in the middle", function()
      local _, err = faulted("truncate;after=2")
      assert.equal("stream", err.kind)
    end)

    it("delivers an injected chat-style error event as an unknown event, then reports the missing Done", function()
      local evs, err = faulted("error_event;after=1")
      assert.equal("error", evs[#evs].event)
      assert.equal("stream", err.kind)
    end)

    it("times out when the server stalls longer than idle_timeout_ms", function()
      local stream = assert(run(nil, { ["X-Emu-Fault"] = "stall;after=1;ms=1500" }, { idle_timeout_ms = 200 }))
      local _, err = collect(stream)
      assert.equal("timeout", err.kind)
      assert.equal("idle", err.timeout)
    end)
  end)
end)

describe("workflows.chat:stream", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("streams chat-style events and keeps the done event's debug_url", function()
    local stream = assert(client.workflows.chat:stream { workflow_id = "wf_chat", parameters = {},
      additional_messages = { coze.message.user_text("讲个笑话") } })
    local evs, err = collect(stream)
    assert.is_nil(err)
    assert.equal("conversation.chat.created", evs[1].event)
    assert.equal("done", evs[#evs].event)
    local parts = {}
    for _, ev in ipairs(evs) do
      if ev.event == "conversation.message.delta" then parts[#parts + 1] = ev.data.content end
    end
    assert.equal("You said: 讲个笑话", table.concat(parts))
    assert.truthy(stream.debug_url:find("workflow_id=wf_chat", 1, true))
  end)

  it("ends with the error object after an error event", function()
    local stream = assert(client.workflows.chat:stream { workflow_id = "wf_error", parameters = {},
      additional_messages = { coze.message.user_text("x") } })
    local evs, err = collect(stream)
    assert.equal("error", evs[#evs].event)
    assert.equal(720702011, err.code)
  end)
end)

describe("a done event cut inside its JSON", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  local function chatflow(fault)
    return assert(client.workflows.chat:stream { workflow_id = "wf_chat", parameters = {},
      additional_messages = { coze.message.user_text("x") }, headers = fault and { ["X-Emu-Fault"] = fault } or nil })
  end

  for _, form in ipairs({ "next", "events", "raw_events" }) do
    it("is a truncated stream, not a completed one (" .. form .. ")", function()
      local n = #collect(chatflow())
      local stream = chatflow("truncate;after=" .. (n - 1)) -- the server sends half the done record, then ends cleanly
      local got, err = 0, nil
      if form == "next" then
        while true do
          local ev, e = stream:next()
          if not ev then err = e break end
          got = got + 1
        end
      else
        local ok, e = pcall(function()
          for _ in stream[form](stream) do got = got + 1 end
        end)
        assert.is_false(ok)
        err = e
      end
      assert.equal(n - 1, got)
      assert.is_false(stream.completed)
      assert.equal("stream", err.kind)
      assert.matches("truncated inside a 'done' event", err.msg, 1, true)
    end)
  end
end)

describe("the workflow profile", function()
  local stream_mod = require "coze.stream"

  local function body_stream(body)
    local h = { sent = false }
    function h.read(self) if self.sent then return nil end self.sent = true return body end
    function h.close() end
    return stream_mod.new(h, { profile = "workflow" })
  end

  it("leaves Message events on the fast path: only terminal, error and soft-end names are hot", function()
    assert.same({ Done = true, Error = true, Interrupt = true }, stream_mod.PROFILES.workflow.hot)
  end)

  it("ends normally when the body ends right after its soft end (Interrupt)", function()
    local s = body_stream('id: 0\nevent: Message\ndata: {"a":1}\n\nid: 1\nevent: Interrupt\ndata: {}\n\n')
    local names = {}
    for ev in s:events() do names[#names + 1] = ev.event end
    assert.same({ "Message", "Interrupt" }, names)
    assert.is_true(s.completed)
    assert.equal("Interrupt", s.last_event)
  end)

  it("is cut when other events follow the Interrupt and the body ends without Done", function()
    local s = body_stream('event: Interrupt\ndata: {}\n\nevent: Message\ndata: {"a":1}\n\n')
    local names, err = {}, nil
    while true do
      local ev, e = s:next()
      if not ev then err = e break end
      names[#names + 1] = ev.event
    end
    assert.same({ "Interrupt", "Message" }, names)
    assert.equal("Message", s.last_event)
    assert.equal("stream", err.kind)
    assert.is_false(s.completed)
  end)
end)

describe("workflow runs", function()
  local client
  before_each(function() client = emu.client() end)
  after_each(function() client:close() end)

  it("runs synchronously and returns the whole body", function()
    local res, meta = client.workflows.runs:create { workflow_id = "wf1", parameters = { input = "hi" } }
    assert.is_table(res, tostring(meta))
    assert.equal('{"output":"You said: hi"}', res.data)
    assert.is_string(res.execute_id)
    assert.is_string(res.debug_url)
    assert.equal(150, res.usage.token_count)
  end)

  it("runs asynchronously and is polled through run_histories", function()
    local res = assert(client.workflows.runs:create { workflow_id = "wf1", is_async = true, parameters = { input = "a" } })
    assert.is_string(res.execute_id)
    local hist = assert(client.workflows.runs.run_histories:retrieve { workflow_id = "wf1", execute_id = res.execute_id })
    assert.equal("Running", hist[1].execute_status)
    local rec = assert(client.workflows.runs.run_histories:wait { workflow_id = "wf1", execute_id = res.execute_id,
      poll_interval_ms = 10 })
    assert.equal("Success", rec.execute_status)
    assert.equal('{"output":"You said: a"}', rec.output)
  end)

  it("creates and polls in one call", function()
    local rec, err = client.workflows.runs:create_and_poll { workflow_id = "wf1", parameters = { input = "b" },
      poll_interval_ms = 10, headers = { ["X-Emu-Poll-Steps"] = "3" } }
    assert.is_table(rec, tostring(err))
    assert.equal("Success", rec.execute_status)
    local reqs = emu.requests(5)
    assert.equal("/v1/workflow/run", reqs[1].path)
    assert.truthy(reqs[1].body:find('"is_async":true', 1, true))
    for i = 2, 5 do assert.truthy(reqs[i].path:find("/run_histories/", 1, true)) end
  end)

  it("returns the failed record of a failed run", function()
    local rec = assert(client.workflows.runs:create_and_poll { workflow_id = "wf_error", poll_interval_ms = 10 })
    assert.equal("Fail", rec.execute_status)
    assert.truthy(rec.error_message ~= "")
  end)

  it("gives up at the deadline with a poll timeout", function()
    local rec, err = client.workflows.runs:create_and_poll { workflow_id = "wf_never_done", poll_interval_ms = 20,
      poll_timeout_ms = 120 }
    assert.is_nil(rec)
    assert.equal("timeout", err.kind)
    assert.equal("poll", err.timeout)
    assert.equal("Running", err.history.execute_status)
    assert.is_string(err.execute_id)
  end)

  it("polls through on_wait", function()
    local res = assert(client.workflows.runs:create { workflow_id = "wf1", is_async = true })
    local waits = 0
    local rec = assert(client.workflows.runs.run_histories:wait { workflow_id = "wf1", execute_id = res.execute_id,
      poll_interval_ms = 5, on_wait = function() waits = waits + 1 end })
    assert.equal("Success", rec.execute_status)
    assert.truthy(waits > 0)
  end)

  it("reports an unknown execute id", function()
    local rec, err = client.workflows.runs.run_histories:wait { workflow_id = "wf1", execute_id = "1" }
    assert.is_nil(rec)
    assert.equal(4314, err.code)
  end)

  it("raises on missing ids or bad poll options", function()
    assert.has_error(function() client.workflows.runs.run_histories:wait { workflow_id = "wf1" } end)
    assert.has_error(function()
      client.workflows.runs.run_histories:wait { workflow_id = "wf1", execute_id = "1", poll_interval_ms = "x" }
    end)
    assert.has_error(function() client.workflows.runs:create_and_poll { workflow_id = "wf1", poll_timeout_ms = -1 } end)
  end)

  it("resumes without streaming with runs:resume_sync (POST /v1/workflows/resume)", function()
    local stream = assert(client.workflows.runs:stream { workflow_id = "wf_interrupt" })
    collect(stream)
    local i = stream.interrupt
    local res = assert(client.workflows.runs:resume_sync { workflow_id = i.workflow_id, event_id = i.event_id,
      interrupt_type = i.interrupt_type, resume_data = "杭州" })
    assert.equal('{"output":"收到: 杭州"}', res.data)
    assert.equal("/v1/workflows/resume", emu.last_request().path)
  end)
end)
