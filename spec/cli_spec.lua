-- The coze command, driven in a real pseudo-terminal (spec/helpers/pty_run.py) against the emulator:
-- what a user sees, the progress bar, exit codes (0 ok, 1 API, 2 usage, 130 Ctrl-C), Ctrl-C cancelling.
local json = require "coze.json"
local emu = require "helpers.emu"
local shell = require "helpers.shell"

local EMU = assert(os.getenv("COZE_EMU_URL"), "COZE_EMU_URL")
local LUA = jit and "luajit" or "lua5.4"
local tmp = os.tmpname()
os.remove(tmp)
local XDG = tmp .. "-xdg"

local q = shell.quote

-- run{ "chat", "-b", "x", "hi", pty = { "--interrupt-after", "..." }, env = { K = V } }
-- -> transcript (with the terminal's \r\n), exit code
local function run(t)
  local env = { COZE_API_BASE = EMU, COZE_API_TOKEN = "pat_cli_spec", XDG_CONFIG_HOME = XDG, COZE_BOT_ID = false }
  for k, v in pairs(t.env or {}) do env[k] = v end
  local parts, sets = { "env" }, {}
  for k, v in pairs(env) do
    if v then sets[#sets + 1] = q(k .. "=" .. v) else parts[#parts + 1] = "-u " .. k end
  end
  for _, s in ipairs(sets) do parts[#parts + 1] = s end
  local cmd = { "/usr/bin/python3 spec/helpers/pty_run.py" }
  for _, a in ipairs(t.pty or {}) do cmd[#cmd + 1] = q(a) end
  cmd[#cmd + 1] = "--"
  cmd[#cmd + 1] = table.concat(parts, " ")
  cmd[#cmd + 1] = LUA .. " bin/coze"
  for _, a in ipairs(t) do cmd[#cmd + 1] = q(a) end
  local out = shell.run(table.concat(cmd, " "))
  local body, code = out:match("^(.*)\nexit (%d+)\n$")
  assert(body, "no exit line in: " .. out)
  return body, tonumber(code)
end

-- The same through a pipe (stdout not a terminal): stdout, exit code.
local function pipe(t)
  local env = { "COZE_API_BASE=" .. EMU, "COZE_API_TOKEN=pat_cli_spec", "XDG_CONFIG_HOME=" .. XDG }
  local cmd = { "env -u COZE_BOT_ID" }
  for _, e in ipairs(env) do cmd[#cmd + 1] = q(e) end
  cmd[#cmd + 1] = LUA .. " bin/coze"
  for _, a in ipairs(t) do cmd[#cmd + 1] = q(a) end
  return shell.run(table.concat(cmd, " ") .. " 2>/dev/null")
end

describe("coze command", function()
  setup(function()
    emu.raw("POST", "/__emu/reset")
  end)
  teardown(function()
    os.execute("rm -rf " .. q(XDG) .. " " .. q(tmp .. "-up.bin") .. " " .. q(tmp .. ".mp3"))
  end)

  it("streams a chat answer to the terminal and exits 0", function()
    local out, code = run { "chat", "-b", "bot_demo", "hello from a terminal" }
    assert.equal(0, code)
    assert.truthy(out:find("You said: hello from a terminal", 1, true), out)
  end)

  it("cancels the chat on Ctrl-C and exits 130", function()
    local out, code = run { "chat", "-b", "bot_demo", "-H", "X-Emu-Drip-Ms: 100",
      "one two three four five six seven eight nine ten eleven twelve",
      pty = { "--interrupt-after", "You said: one" } }
    assert.equal(130, code)
    assert.truthy(out:find("interrupted", 1, true), out)
    assert.falsy(out:find("twelve", 1, true), out)
    local last = emu.last_request()
    assert.equal("/v3/chat/cancel", last.path)
  end)

  it("tells usage errors (2) from API errors (1)", function()
    local out, code = run { "chat", "hi" }
    assert.equal(2, code)
    assert.truthy(out:find("needs a bot", 1, true), out)
    _, code = run { "frobnicate" }
    assert.equal(2, code)
    out, code = run { "chat", "--help" }
    assert.equal(0, code)
    assert.truthy(out:find("usage: coze", 1, true), out)
    _, code = run { "call", "bots.create", "name=x" } -- space_id is required
    assert.equal(2, code)
    _, code = run { "chat", "-b", "b", "hi", env = { COZE_API_TOKEN = false } } -- no token anywhere
    assert.equal(2, code)
    out, code = run { "chat", "-b", "bot_failed", "hi" }
    assert.equal(1, code)
    assert.truthy(out:find("4013", 1, true), out)
    out, code = pipe { "call", "conversations.create", "-H", "X-Emu-Fault: json_error;code=4101;msg=nope;status=401" }
    assert.equal(1, code)
    local e = json.decode(out).error
    assert.equal(4101, e.code)
    assert.equal("api", e.kind)
  end)

  it("prints stream events as JSON lines with --json", function()
    local out, code = pipe { "chat", "--json", "-b", "bot_demo", "hi" }
    assert.equal(0, code)
    local names = {}
    for line in out:gmatch("[^\n]+") do names[#names + 1] = json.decode(line).event end
    assert.equal("conversation.chat.created", names[1])
    assert.equal("done", names[#names])
  end)

  it("draws a progress bar for an upload on a terminal, and none through a pipe", function()
    local path = tmp .. "-up.bin"
    local f = assert(io.open(path, "wb"))
    f:write(string.rep("0123456789abcdef", 4 * 65536)) -- 4 MB
    f:close()
    local out, code = run { "files", "upload", path }
    assert.equal(0, code)
    assert.truthy(out:find("\r[##############################] 100% 4.0 MB / 4.0 MB", 1, true), out)
    assert.truthy(out:match("\n%d+\r?\n"), out)
    out, code = pipe { "files", "upload", path }
    assert.equal(0, code)
    assert.truthy(out:match("^%d+\n$"), out)
  end)

  it("asks the workflow's question at an Interrupt and resumes with the answer", function()
    local out, code = run { "workflow", "stream", "-w", "wf_interrupt", "-p", "city=x",
      pty = { "--when", "> ", "--send", "Hangzhou\\n" } }
    assert.equal(0, code)
    assert.truthy(out:find("收到: Hangzhou", 1, true), out)
  end)

  it("stops with 130 on Ctrl-C at the workflow's question", function()
    local out, code = run { "workflow", "stream", "-w", "wf_interrupt", pty = { "--interrupt-after", "> " } }
    assert.equal(130, code, out)
  end)

  it("writes synthesised speech to the -o file", function()
    local path = tmp .. ".mp3"
    local out, code = run { "speech", "你好", "-v", "v1", "-o", path }
    assert.equal(0, code, out)
    local f = assert(io.open(path, "rb"))
    assert.is_true(#f:read("*a") > 0)
    f:close()
  end)

  it("calls any catalog operation, typed from key=value, and pages with --all", function()
    local out, code = pipe { "call", "workspaces.list", "page_size=3", "--all" }
    assert.equal(0, code)
    local items = json.decode(out)
    assert.is_true(#items > 3, out) -- more than one page
    out, code = pipe { "call", "bots.retrieve", "bot_id=123", "is_published=true" }
    assert.equal(0, code)
    assert.equal("true", emu.last_request().query.is_published)
    _, code = pipe { "call", "bots.retrieve", "bot_id=1", "is_published=maybe" }
    assert.equal(2, code)
  end)

  it("keeps a JWT app's token in a 0600 file and uses and renews it", function()
    local out, code = run { "auth", "jwt", "--client-id", "emu-client-jwt", "--key-id", "emu-kid-1",
      "--key-file", "spec/fixtures/keys/rsa_pkcs8.pem", env = { COZE_API_TOKEN = false } }
    assert.equal(0, code, out)
    local path = XDG .. "/coze/token.json"
    assert.equal("-rw-------", shell.run("stat -c %A " .. q(path)):match("%S+"))
    out, code = run { "chat", "-b", "b", "with the saved token", env = { COZE_API_TOKEN = false } }
    assert.equal(0, code, out)
    assert.truthy(emu.last_request().headers.Authorization:match("^Bearer czs_"))
    -- expired: the command signs a new JWT, gets a new token and saves it
    local f = assert(io.open(path))
    local saved = json.decode(f:read("*a"))
    f:close()
    local old = saved.access_token
    shell.run("sed -i 's/\"expires_at\":[0-9]*/\"expires_at\":1/' " .. q(path))
    out, code = run { "chat", "-b", "b", "renewed", env = { COZE_API_TOKEN = false } }
    assert.equal(0, code, out)
    f = assert(io.open(path))
    saved = json.decode(f:read("*a"))
    f:close()
    assert.are_not.equal(old, saved.access_token)
    assert.is_true(saved.expires_at > os.time())
  end)

  it("signs in with a device code the user approves elsewhere", function()
    local approve = "code=$(printf %s \"$PTY_OUTPUT\" | grep -o 'code [A-Z0-9-]*' | cut -d' ' -f2); "
      .. "curl -s -X POST " .. q(EMU .. "/__emu/oauth/device/approve") .. " -d \"{\\\"user_code\\\":\\\"$code\\\"}\""
    local out, code = run { "auth", "device", "--client-id", "emu-client-device", "-H", "X-Emu-Device-Interval: 1",
      env = { COZE_API_TOKEN = false }, pty = { "--when", "(valid", "--shell", approve } }
    assert.equal(0, code, out)
    assert.truthy(out:find("signed in", 1, true), out)
    local st = pipe { "auth", "status", "--json" }
    local s = json.decode(st)
    assert.equal("device", s.kind)
    assert.is_true(s.renewable)
  end)
end)
