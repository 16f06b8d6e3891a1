-- Every script in examples/ runs as `lua5.4 examples/NAME.lua` (or under luajit) with no LUA_PATH or
-- LUA_CPATH set, against the emulator, and says what it did.
local shell = require "helpers.shell"

local EMU = assert(os.getenv("COZE_EMU_URL"), "COZE_EMU_URL")
local LUA = jit and "luajit" or "lua5.4"
local tmp = os.tmpname()

local q = shell.quote

-- name -> { args, stdin, expected output (a plain substring) }
local RUNS = {
  auth_device = { expect = "authorized" },
  auth_jwt = { expect = "conversation " },
  auth_pat = { expect = "conversation " },
  auth_pkce = { expect = "new token pair" },
  auth_web = { expect = "conversation " },
  chat_poll = { args = { "polled question" }, expect = "You said: polled question" },
  chat_stream = { args = { "streamed question" }, expect = "You said: streamed question" },
  many_streams = { expect = "four -> You said: four" },
  speech_to_file = { args = { "你好", tmp .. ".mp3" }, expect = "wrote " },
  upload = { args = { "examples/_paths.lua" }, expect = "uploaded _paths.lua" },
  voice_chat = { args = { tmp .. ".in.wav", tmp .. ".out.wav" }, expect = "wrote ", before = function()
    -- 0.2 s of 16 kHz mono 16-bit silence: the emulator answers with its reply audio
    local f = assert(io.open(tmp .. ".in.wav", "wb"))
    f:write(require("coze.wav").header(16000, 1, 16, 6400), string.rep("\0", 6400))
    f:close()
  end },
  workflow_stream_resume = { args = { '{"city":"x"}' }, stdin = "Hangzhou", expect = "收到: Hangzhou" },
}

local function run(name, r)
  local cmd = { "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4",
    "-u COZE_DEVICE_CLIENT_ID -u COZE_JWT_CLIENT_ID -u COZE_PKCE_CLIENT_ID -u COZE_WEB_CLIENT_ID",
    q("COZE_API_BASE=" .. EMU), "COZE_API_TOKEN=pat_examples", "COZE_BOT_ID=bot_demo", "COZE_VOICE_ID=v1",
    "COZE_WORKFLOW_ID=wf_interrupt", LUA, "examples/" .. name .. ".lua" }
  for _, a in ipairs(r.args or {}) do cmd[#cmd + 1] = q(a) end
  local line = table.concat(cmd, " ")
  if r.stdin then line = "printf '%s\\n' " .. q(r.stdin) .. " | " .. line end
  return shell.run(line)
end

describe("examples", function()
  teardown(function()
    for _, suffix in ipairs({ ".mp3", ".in.wav", ".out.wav", "" }) do os.remove(tmp .. suffix) end
  end)

  local p = assert(io.popen("ls examples/*.lua"))
  for path in p:lines() do
    local name = path:match("examples/(.-)%.lua$")
    if name ~= "_paths" then
      it(name .. ".lua runs against the emulator", function()
        local r = RUNS[name]
        assert.is_table(r, "examples/" .. name .. ".lua has no entry in spec/examples_spec.lua")
        if r.before then r.before() end
        local out, code = run(name, r)
        assert.equal(0, code, out)
        assert.truthy(out:find(r.expect, 1, true), out)
      end)
    end
  end
  p:close()

  it("examples/openresty/ works as shipped (make openresty-demo): a relayed chat and a spoken text", function()
    local emu_port = tonumber(EMU:match(":(%d+)$"))
    local out, code = shell.run("COZE_EMU_PORT=" .. emu_port .. " COZE_DEMO_PORT=" .. (emu_port + 18)
      .. " sh examples/openresty/demo.sh")
    assert.equal(0, code, out)
    assert.truthy(out:find("event:conversation.message.delta", 1, true), out)
    assert.truthy(out:find("event:done", 1, true), out)
    assert.truthy(out:find("GET /speech%?text=%.%.%.: 200, %d+ bytes of audio/wav"), out)
    assert.is_nil(out:find("[error]", 1, true), out)
  end)
end)
