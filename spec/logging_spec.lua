-- Watching what the SDK does: the logger option and COZE_LOG report each attempt (op, method, URL,
-- status, logid, attempt, retry decision and wait, timings), each stream's end (events, bytes), and
-- token calls; no credential of any auth flow ever shows in a record or a line.
local emu = require "helpers.emu"
local coze = require "coze"
local log = require "coze.log"

local PEM = emu.read_file("spec/fixtures/keys/rsa_pkcs8.pem")
local CB = "http://127.0.0.1/callback"
local MSG = { { role = "user", content = "hi", content_type = "text" } }

-- A logger that keeps the records and their formatted lines.
local function recorder()
  local rec = { records = {}, lines = {} }
  rec.fn = function(r)
    rec.records[#rec.records + 1] = r
    rec.lines[#rec.lines + 1] = log.format(r)
  end
  return rec
end

local function dump(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      dump(k, out, seen)
      dump(x, out, seen)
    end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return out
end

-- No secret (nor any piece of a JWT, nor an Authorization header) in any record or line.
local function assert_clean(rec, secrets)
  local all = table.concat(dump(rec.records), "\n") .. "\n" .. table.concat(rec.lines, "\n")
  for _, s in ipairs(secrets) do
    assert.is_true(#s >= 4)
    assert.falsy(all:find(s, 1, true), "secret in the log: " .. s:sub(1, 12) .. "...")
  end
  assert.falsy(all:lower():find("authorization:", 1, true), "an Authorization header in the log")
  assert.falsy(all:find("Bearer", 1, true), "a Bearer credential in the log")
  assert.falsy(all:find("eyJ", 1, true), "a JWT in the log")
end

local function of(rec, event)
  local out = {}
  for _, r in ipairs(rec.records) do
    if r.event == event then out[#out + 1] = r end
  end
  return out
end

local function authorize(client_id, extra)
  local body = { client_id = client_id, redirect_uri = CB }
  for k, v in pairs(extra or {}) do body[k] = v end
  local status, res = emu.post("/__emu/oauth/authorize", body)
  assert.equal(200, status)
  return res.code
end

describe("logger", function()
  it("reports an API call's attempt: op, method, URL, status, logid, timings", function()
    local rec = recorder()
    local c = emu.client { logger = rec.fn }
    local bot, meta = assert(c.bots:retrieve { bot_id = "b1" })
    assert.truthy(bot)
    assert.equal(1, #rec.records)
    local r = rec.records[1]
    assert.equal("debug", r.level)
    assert.equal("attempt", r.event)
    assert.equal("bots.retrieve", r.op)
    assert.equal("GET", r.method)
    assert.equal(emu.url .. "/v1/bots/b1", r.url)
    assert.equal(1, r.attempt)
    assert.equal(200, r.status)
    assert.equal("ok", r.outcome)
    assert.equal(meta.logid, r.logid)
    assert.is_number(r.connect_ms)
    assert.is_true(r.first_byte_ms > 0 and r.first_byte_ms <= r.total_ms)
    assert.is_true(r.bytes > 0)
    assert.is_boolean(r.reused)
    assert.truthy(rec.lines[1]:find("^coze level=debug event=attempt op=bots.retrieve method=GET url=" ..
      emu.url:gsub("%p", "%%%0") .. "/v1/bots/b1 attempt=1 status=200 logid="))
    c:close()
  end)

  it("reports each retry with its wait and the final failure", function()
    local rec = recorder()
    local c = emu.client { logger = rec.fn, retry_base_ms = 20 }
    local res, err = c.bots:retrieve { bot_id = "b1", headers = { ["X-Emu-Fault"] = "status;code=503" } }
    assert.is_nil(res)
    assert.equal(3, err.attempts)
    assert.equal(3, #rec.records)
    for i, r in ipairs(rec.records) do
      assert.equal(i, r.attempt)
      assert.equal(503, r.status)
      assert.truthy(r.logid)
      assert.truthy(r.error:find("internal error", 1, true))
    end
    assert.same({ "retry", "retry", "fail" },
      { rec.records[1].outcome, rec.records[2].outcome, rec.records[3].outcome })
    assert.same({ "info", "info", "warn" }, { rec.records[1].level, rec.records[2].level, rec.records[3].level })
    assert.is_true(rec.records[1].wait_ms >= 10 and rec.records[1].wait_ms <= 20)
    assert.is_true(rec.records[2].wait_ms >= 20 and rec.records[2].wait_ms <= 40)
    assert.is_nil(rec.records[3].wait_ms)
    c:close()
  end)

  it("reports a connection that never opened, without a status", function()
    local rec = recorder()
    local c = coze.new { token = "pat_test", base_url = "http://127.0.0.1:9", logger = rec.fn, max_retries = 1,
      retry_base_ms = 1 }
    local _, err = c.bots:retrieve { bot_id = "b1" }
    assert.truthy(err.not_sent)
    assert.equal(2, #rec.records)
    assert.equal("retry", rec.records[1].outcome)
    assert.is_nil(rec.records[1].status)
    assert.truthy(rec.records[1].error)
    assert.equal("fail", rec.records[2].outcome)
    c:close()
  end)

  it("reports a stream's attempt and its end: events and bytes", function()
    local rec = recorder()
    local c = emu.client { logger = rec.fn }
    local s = assert(c.chat:stream { bot_id = "b1", user_id = "u", additional_messages = MSG })
    local evs, err = emu.collect(s)
    assert.is_nil(err)
    local a, e = of(rec, "attempt"), of(rec, "stream_end")
    assert.equal(1, #a)
    assert.equal("chat.stream", a[1].op)
    assert.equal("POST", a[1].method)
    assert.equal(1, #e)
    assert.equal(#evs, e[1].events)
    assert.is_true(e[1].bytes > 0)
    assert.is_true(e[1].completed)
    assert.equal(a[1].logid, e[1].logid)
    assert.is_true(e[1].total_ms >= a[1].first_byte_ms)
    c:close()
  end)

  it("reports a stream closed early once, and a stream that failed at warn", function()
    local rec = recorder()
    local c = emu.client { logger = rec.fn }
    local s = assert(c.chat:stream { bot_id = "b1", user_id = "u", additional_messages = MSG })
    assert(s:next())
    s:close()
    s:close()
    local e = of(rec, "stream_end")
    assert.equal(1, #e)
    assert.is_false(e[1].completed)
    assert.equal("debug", e[1].level)

    s = assert(c.chat:stream { bot_id = "b1", user_id = "u", additional_messages = MSG,
      headers = { ["X-Emu-Fault"] = "reset;after=2" } })
    local _, err = emu.collect(s)
    assert.truthy(err)
    e = of(rec, "stream_end")
    assert.equal(2, #e)
    assert.equal("warn", e[2].level)
    assert.equal(2, e[2].events)
    assert.truthy(e[2].error)
    c:close()
  end)

  it("hands an object with level-named methods one formatted line per record", function()
    local got = {}
    local obj = {}
    function obj:debug(line) got[#got + 1] = { "debug", line } end
    function obj:warn(line) got[#got + 1] = { "warn", line } end
    local c = emu.client { logger = obj, max_retries = 0 }
    assert(c.bots:retrieve { bot_id = "b1" })
    c.bots:retrieve { bot_id = "b1", headers = { ["X-Emu-Fault"] = "status;code=503" } }
    assert.equal(2, #got)
    assert.equal("debug", got[1][1])
    assert.truthy(got[1][2]:find("^coze level=debug event=attempt op=bots.retrieve "))
    assert.equal("warn", got[2][1])
    assert.truthy(got[2][2]:find("status=503", 1, true))
    c:close()
  end)

  it("keeps the call going when the logger raises", function()
    local c = emu.client { logger = function() error("logger broke") end }
    local stderr = io.stderr
    local written = {}
    io.stderr = { write = function(_, ...) for _, s in ipairs({ ... }) do written[#written + 1] = s end end } -- luacheck: ignore
    local ok, res = pcall(c.bots.retrieve, c.bots, { bot_id = "b1" })
    local s = c.chat:stream { bot_id = "b1", user_id = "u", additional_messages = MSG }
    local evs, err = emu.collect(s)
    io.stderr = stderr -- luacheck: ignore
    assert.is_true(ok)
    assert.truthy(res)
    assert.is_nil(err)
    assert.is_true(#evs > 0)
    assert.equal(1, #table.concat(written):gsub("[^\n]", "")) -- said once
    assert.truthy(table.concat(written):find("logger broke", 1, true))
    c:close()
  end)

  it("raises at the caller's line for a logger of the wrong shape", function()
    local ok, err = pcall(coze.new, { token = "pat_x", logger = 42 })
    assert.is_false(ok)
    assert.truthy(err:find("'logger' must be", 1, true), err)
    ok, err = pcall(function() coze.new { token = "pat_x", logger = {} } end)
    assert.is_false(ok)
    assert.truthy(err:find("logging_spec.lua", 1, true))
    ok, err = pcall(function() coze.auth.jwt { client_id = "c", public_key_id = "k", private_key = PEM, logger = true } end)
    assert.is_false(ok)
    assert.truthy(err:find("logging_spec.lua", 1, true))
    assert.truthy(err:find("field 'logger'", 1, true))
  end)

  it("builds nothing without a logger: no sink on the client, no end hook on its streams", function()
    if os.getenv("COZE_LOG") then return end
    local c = emu.client()
    assert.is_nil(c.log_sink)
    local s = assert(c.chat:stream { bot_id = "b1", user_id = "u", additional_messages = MSG })
    assert.is_nil(s.on_end)
    s:close()
    c:close()
  end)
end)

describe("logged URLs", function()
  it("lose userinfo, credential-named query values and token-shaped words", function()
    local u = log.url("https://user:pw@api.example/v1/x?conversation_id=42&access_token=abc123&code=xyz789" ..
      "&client_secret=s3cr3t&q=pat_abcdef&State=st4te", { "known-tok" })
    assert.equal("https://api.example/v1/x?conversation_id=42&access_token=[redacted]&code=[redacted]" ..
      "&client_secret=[redacted]&q=[redacted]&State=[redacted]", u)
    assert.equal("https://h/p?a=[redacted]", log.url("https://h/p?a=known-tok", { "known-tok" }))
  end)
end)

describe("formatted lines", function()
  it("are one line: server text with newlines or escape sequences is quoted and escaped", function()
    local line = log.format { level = "warn", event = "attempt", logid = "a\27[31mb", error = "x\ny\r z", status = 500 }
    assert.falsy(line:find("[\r\n\27]"))
    assert.equal('coze level=warn event=attempt status=500 logid="a\\27[31mb" error="x\\ny\\13 z"', line)
  end)
end)

describe("no credential in the log", function()
  it("PAT: an API error and a stream error that echo the token", function()
    local rec = recorder()
    local token = "pat_LOGSECRET_0001"
    local c = emu.client { token = token, logger = rec.fn, max_retries = 0 }
    c.bots:retrieve { bot_id = "b1", headers = { ["X-Emu-Fault"] = "echo_auth;status=401" } }
    c.bots:retrieve { bot_id = "b1", headers = { ["X-Emu-Fault"] = "echo_auth;status=502;body=text" } }
    local s = assert(c.chat:stream { bot_id = "b1", user_id = "u", additional_messages = MSG,
      headers = { ["X-Emu-Fault"] = "error_event;after=1;echo_auth=1" } })
    local _, err = emu.collect(s)
    assert.truthy(err)
    assert.equal(3, #of(rec, "attempt"))
    assert.equal(1, #of(rec, "stream_end"))
    assert.truthy(table.concat(rec.lines, "\n"):find("[redacted]", 1, true)) -- the echo was there
    assert_clean(rec, { token, "LOGSECRET" })
    c:close()
  end)

  it("JWT: the token call and the API call, with the token endpoint echoing the JWT", function()
    local rec = recorder()
    local auth = coze.auth.jwt { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM,
      base_url = emu.url }
    local c = emu.client { auth = auth, logger = rec.fn }
    assert(c.bots:retrieve { bot_id = "b1" })
    local tok = assert(auth:token())
    local a = of(rec, "attempt")
    assert.equal(2, #a)
    assert.truthy(a[1].op:find("^auth%.jwt"))
    assert.equal("POST", a[1].method)
    assert.equal(emu.url .. "/api/permission/oauth2/token", a[1].url)
    assert.equal(200, a[1].status)
    assert.equal("bots.retrieve", a[2].op)
    local key_line = PEM:match("\n([^\n-][^\n]+)\n")
    assert_clean(rec, { tok, key_line })

    -- a token endpoint that echoes the signed JWT back (the auth object's own logger)
    local rec2 = recorder()
    local echo = coze.auth.jwt { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM,
      base_url = emu.url, logger = rec2.fn, max_retries = 0,
      headers = { ["X-Emu-Fault"] = "echo_auth;status=401;body=oauth" } }
    local t, err = echo:token()
    assert.is_nil(t)
    assert.truthy(err)
    assert.equal(1, #rec2.records)
    assert.equal("fail", rec2.records[1].outcome)
    assert.equal(401, rec2.records[1].status)
    assert.truthy(rec2.records[1].error:find("[redacted]", 1, true)) -- the echo was there
    assert_clean(rec2, { key_line })
    c:close()
  end)

  it("JWT: a 401 that echoes the token is logged as a replay with a new token, then the failure", function()
    local rec = recorder()
    local auth = coze.auth.jwt { client_id = "emu-client-jwt", public_key_id = "emu-kid-1", private_key = PEM,
      base_url = emu.url }
    local c = emu.client { auth = auth, logger = rec.fn }
    local m = emu.mark()
    local _, err = c.bots:retrieve { bot_id = "b1", headers = { ["X-Emu-Fault"] = "echo_auth;status=401" } }
    assert.equal(401, err.http_status)
    local ops, outcomes = {}, {}
    for _, r in ipairs(rec.records) do
      ops[#ops + 1] = r.op:match("^auth") and "auth" or r.op
      outcomes[#outcomes + 1] = r.outcome
    end
    assert.same({ "auth", "bots.retrieve", "auth", "bots.retrieve" }, ops)
    assert.same({ "ok", "replay", "ok", "fail" }, outcomes)
    assert.equal("info", rec.records[2].level)
    assert.truthy(rec.records[2].error:find("[redacted]", 1, true))
    local sent = {} -- the two tokens the API calls carried, as the emulator saw them
    for _, r in ipairs(emu.since(m, "^/v1/bots")) do
      sent[#sent + 1] = r.headers.Authorization:match("^Bearer (.+)$")
    end
    assert.equal(2, #sent)
    assert.are_not.equal(sent[1], sent[2])
    assert_clean(rec, sent)
    c:close()
  end)

  it("web: code exchange, refresh and the API call", function()
    local rec = recorder()
    local web = coze.auth.web { client_id = "emu-client-web", client_secret = "emu-web-secret", redirect_uri = CB,
      base_url = emu.url, logger = rec.fn }
    local code = authorize("emu-client-web")
    local info = assert(web:exchange_code { code = code })
    local info2 = assert(web:refresh())
    local c = emu.client { auth = web, logger = rec.fn }
    assert(c.bots:retrieve { bot_id = "b1" })
    assert.equal(3, #of(rec, "attempt"))
    assert_clean(rec, { "emu-web-secret", code, info.access_token, info.refresh_token, info2.access_token,
      info2.refresh_token })
    c:close()
  end)

  it("PKCE: code exchange with the verifier, and an exchange the server answers by echoing it", function()
    local rec = recorder()
    local pkce = coze.auth.pkce { client_id = "emu-client-pkce", redirect_uri = CB, base_url = emu.url,
      logger = rec.fn }
    local _, session = pkce:authorize_url()
    local code = authorize("emu-client-pkce", { code_challenge = session.code_challenge,
      code_challenge_method = "S256" })
    local info = assert(pkce:exchange_code { code = code, code_verifier = session.code_verifier })
    local _, err = pkce:exchange_code { code = "code-value-0004", code_verifier = session.code_verifier,
      headers = { ["X-Emu-Fault"] = "echo_auth;status=400;body=oauth;field=code_verifier" } }
    assert.truthy(err)
    assert.equal(2, #of(rec, "attempt"))
    assert.truthy(of(rec, "attempt")[2].error:find("[redacted]", 1, true))
    assert_clean(rec, { session.code_verifier, code, info.access_token, info.refresh_token })
  end)

  it("device: the device code, polls and the token", function()
    local rec = recorder()
    local dev = coze.auth.device { client_id = "emu-client-device", base_url = emu.url, logger = rec.fn }
    local dc = assert(dev:get_device_code { headers = { ["X-Emu-Device-Interval"] = "0" } })
    local tok = dev:poll_once()
    assert.falsy(tok) -- pending
    assert.equal(200, (emu.post("/__emu/oauth/device/approve", { user_code = dc.user_code })))
    tok = assert(dev:poll_once())
    local info = dev:token_info()
    assert.is_true(#of(rec, "attempt") >= 3)
    assert.truthy(of(rec, "attempt")[1].op:find("^auth%.device"))
    assert_clean(rec, { dc.device_code, tok, info.refresh_token })
  end)
end)

describe("COZE_LOG", function()
  local function run(env, code)
    local lua = arg and arg[-1] or "lua5.4"
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(code)
    f:close()
    local p = assert(io.popen(env .. " " .. lua .. " " .. script .. " 2>&1 >/dev/null"))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    return out
  end
  local CODE = [[
    local c = require("coze").new { token = "pat_ENVSECRET_0002", base_url = ]] .. string.format("%q", emu.url) .. [[,
      max_retries = 1, retry_base_ms = 1 }
    assert(c.bots:retrieve { bot_id = "b1" })
    c.bots:retrieve { bot_id = "b1", headers = { ["X-Emu-Fault"] = "echo_auth;status=503" } }
  ]]

  it("writes one line per record to stderr at the level asked for", function()
    local out = run("COZE_LOG=debug", CODE)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(3, #lines, out)
    assert.truthy(lines[1]:find("^coze level=debug event=attempt op=bots.retrieve method=GET "))
    assert.truthy(lines[2]:find("^coze level=info .* outcome=retry wait_ms=%d+"))
    assert.truthy(lines[3]:find("^coze level=warn .* attempt=2 status=503 .* outcome=fail"))
    assert.falsy(out:find("ENVSECRET", 1, true))
    assert.falsy(out:find("Bearer", 1, true))

    out = run("COZE_LOG=WARN", CODE)
    assert.truthy(out:find("^coze level=warn [^\n]*\n$"), out)
  end)

  it("writes nothing when unset, off or unknown", function()
    assert.equal("", run("COZE_LOG=", CODE))
    assert.equal("", run("COZE_LOG=off", CODE))
    assert.equal("", run("env -u COZE_LOG", CODE))
  end)
end)
