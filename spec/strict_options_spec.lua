-- Issue 13 item 4: coze.new and every auth constructor refuse options they do not know, at the
-- caller's line, with a "did you mean" for a near name; nothing reaches the wire.
local coze = require "coze"
local args = require "coze.args"
local emu = require "spec.helpers.emu"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local PEM = read("spec/fixtures/keys/rsa_pkcs8.pem")
local THIS_FILE = debug.getinfo(1, "S").short_src

-- Runs fn, which must raise; returns the message, checked to point at this file.
local function raises(fn)
  local ok, msg = pcall(fn)
  assert.is_false(ok)
  msg = tostring(msg)
  assert.truthy(msg:find(THIS_FILE, 1, true), "error does not point at the caller: " .. msg)
  return msg
end

describe("args.unknown", function()
  it("suggests the nearest known name, a prefix with its unit, or the names containing the key", function()
    local known = { base_url = true, poll_timeout_ms = true, connect_timeout_ms = true, total_timeout_ms = true,
      max_retries = true }
    assert.equal("base_url", args.suggest("baseurl", known))
    assert.equal("base_url", args.suggest("Base_URL", known))
    assert.equal("poll_timeout_ms", args.suggest("poll_timeout", known))
    assert.equal("max_retries", args.suggest("max_retry", known))
    assert.is_nil(args.suggest("zzz", known))
    local function check(k) args.unknown("x", k, known) end -- a public function that checks its key
    local msg = raises(function() check("timeout") end)
    assert.matches("unknown option 'timeout' (did you mean one of 'connect_timeout_ms', 'poll_timeout_ms', "
      .. "'total_timeout_ms'?)", msg, 1, true)
    msg = raises(function() check("qqqq") end)
    assert.matches("coze: x: unknown option 'qqqq'$", msg)
  end)
end)

describe("coze.new", function()
  it("raises on a misspelt option with a did-you-mean, and sends nothing", function()
    local mark = emu.mark()
    local msg = raises(function() coze.new { token = "pat_x", baseurl = emu.url } end)
    assert.matches("coze: new: unknown option 'baseurl' (did you mean 'base_url'?)", msg, 1, true)
    msg = raises(function() coze.new { token = "pat_x", base_url = emu.url, max_retry = 1 } end)
    assert.matches("did you mean 'max_retries'?", msg, 1, true)
    msg = raises(function() coze.new { token = "pat_x", base_url = emu.url, timeout = 5 } end)
    assert.matches("unknown option 'timeout' (did you mean one of 'connect_timeout_ms', 'first_byte_timeout_ms'",
      msg, 1, true)
    assert.same({}, emu.since(mark))
  end)

  it("refuses the per-request options and wrong types of known ones", function()
    local msg = raises(function() coze.new { token = "pat_x", idempotency_key = "k" } end)
    assert.matches("'idempotency_key' belongs to one call", msg, 1, true)
    msg = raises(function() coze.new { token = "pat_x", on_wait = 1 } end)
    assert.matches("option 'on_wait' must be a function", msg, 1, true)
    msg = raises(function() coze.new { token = "pat_x", logger = "x" } end)
    assert.matches("option 'logger' must be a function or table", msg, 1, true)
  end)

  it("accepts every documented client option and every client-wide call option", function()
    local c = coze.new { token = "pat_x", base_url = emu.url, proxy = "", no_proxy = "*", tls_verify = true,
      max_buffer = 65536, ws_base_url = "ws://127.0.0.1:1", max_message_bytes = 100, logger = function() end,
      headers = { ["X-A"] = "1" }, query = { a = "1" }, wait_ms = 0, on_wait = function() end,
      connect_timeout_ms = 1000, first_byte_timeout_ms = 1000, idle_timeout_ms = 1000, total_timeout_ms = 1000,
      max_retries = 0, retry_base_ms = 1, retry_max_delay_ms = 1, retry_budget_ms = 1, max_event_bytes = 10,
      max_body_bytes = 10, on_progress = function() end, conversation_id_header = "c" }
    assert.truthy(c)
  end)
end)

describe("auth constructors", function()
  it("raise on unknown options with a did-you-mean", function()
    local cases = {
      { "auth.token", function() coze.auth.token { token = "pat_x", tokne = 1 } end, "'tokne'", nil },
      { "auth.jwt", function()
        coze.auth.jwt { client_id = "c", public_key_id = "k", private_key = PEM, session = "s" }
      end, "'session'", nil },
      { "auth.jwt", function()
        coze.auth.jwt { client_id = "c", public_key_id = "k", private_key = PEM, baseurl = emu.url }
      end, "'baseurl'", "base_url" },
      { "auth.pkce", function() coze.auth.pkce { client_id = "c", redirect_url = "http://x/cb" } end,
        "'redirect_url'", "redirect_uri" },
      { "auth.web", function() coze.auth.web { client_id = "c", client_secrt = "s" } end,
        "'client_secrt'", "client_secret" },
      { "auth.device", function() coze.auth.device { client_id = "c", workspaceid = "w" } end,
        "'workspaceid'", "workspace_id" },
    }
    for _, case in ipairs(cases) do
      local msg = raises(case[2])
      assert.matches("coze: " .. case[1] .. ": unknown option " .. case[3], msg, 1, true)
      if case[4] then assert.matches("did you mean '" .. case[4] .. "'?", msg, 1, true) end
    end
  end)

  it("accept the options they document", function()
    assert.truthy(coze.auth.jwt { client_id = "c", public_key_id = "k", private_key = PEM, base_url = emu.url,
      ttl = 900, session_name = "s", refresh_skew = 30, headers = { ["X-A"] = "1" }, max_retries = 1,
      lock_timeout_ms = 10, cache_key = "k", on_token = function() end })
    assert.truthy(coze.auth.pkce { client_id = "c", redirect_uri = "http://x/cb", www_base_url = emu.url,
      code_challenge_method = "S256", code_verifier_length = 64, refresh_token = "r" })
    assert.truthy(coze.auth.web { client_id = "c", client_secret = "s", redirect_uri = "http://x/cb" })
    assert.truthy(coze.auth.device { client_id = "c", workspace_id = "w", access_token = "a", expires_in = 60 })
  end)
end)
