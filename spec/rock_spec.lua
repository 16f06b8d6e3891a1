-- The rock, as a user installs it: Debian's luarocks builds the rockspecs from a copy of the tree into
-- a temporary tree (lua-cjson taken from the distribution through rockspecs/luarocks-debian*.lua),
-- then plain lua5.4 and luajit stream a chat using only that tree (LUA_PATH/LUA_CPATH from
-- `luarocks path`, the checkout nowhere on them), and the installed `coze` command does the same.
local shell = require "helpers.shell"

local EMU = assert(os.getenv("COZE_EMU_URL"), "COZE_EMU_URL")
local ROOT = assert(io.popen("pwd")):read("*l")
local base = os.tmpname()
os.remove(base)

local q, sh = shell.quote, shell.run

local CHAT = [[
local coze = require "coze"
local c = coze.new { token = "pat_rock", base_url = os.getenv("COZE_API_BASE") }
local s = assert(c.chat:stream { bot_id = "b", user_id = "u",
  additional_messages = { coze.message.user_text(arg[1]) } })
local parts = {}
for ev in s:events() do
  if ev.event == "conversation.message.delta" then parts[#parts + 1] = ev.data.content end
end
print(table.concat(parts))
print(package.searchpath("coze", package.path))
print(package.searchpath("coze.core", package.cpath))
]]

-- luarocks with a clean environment (no LUA_PATH of the test run), in the copy of the tree
local function luarocks(v, args)
  return sh("cd " .. q(base .. "-src") .. " && env -u LUA_PATH -u LUA_CPATH -u LUA_INIT "
    .. "LUAROCKS_CONFIG=" .. q(ROOT .. "/rockspecs/" .. v.config) .. " luarocks --lua-version=" .. v.abi
    .. " --tree=" .. q(v.tree) .. " " .. args)
end

-- a command with only the tree's paths (and the system's, where Debian's cjson lives), run outside the checkout
local function in_tree(v, cmd)
  return sh("cd /tmp && unset LUA_PATH LUA_CPATH LUA_INIT && eval \"$(LUAROCKS_CONFIG=" .. q(ROOT .. "/rockspecs/"
    .. v.config) .. " luarocks --lua-version=" .. v.abi .. " --tree=" .. q(v.tree) .. " path)\" && "
    .. "COZE_API_BASE=" .. q(EMU) .. " " .. cmd)
end

local VARIANTS = {
  { name = "Lua 5.4", abi = "5.4", interp = "lua5.4", config = "luarocks-debian.lua", tree = base .. "-54",
    rockspec = "rockspecs/coze-scm-1.rockspec" },
  { name = "LuaJIT 2.1", abi = "5.1", interp = "luajit", config = "luarocks-debian-luajit.lua", tree = base .. "-jit",
    rockspec = "rockspecs/coze-scm-1.rockspec" },
  { name = "Lua 5.4 (versioned rockspec)", abi = "5.4", interp = "lua5.4", config = "luarocks-debian.lua",
    tree = base .. "-54v", rockspec = "rockspecs/coze-" .. require("coze.version") .. "-1.rockspec" },
}

describe("the rock", function()
  setup(function()
    local out, code = sh("mkdir -p " .. q(base .. "-src") .. " && cp -R lua csrc bin rockspecs LICENSE " .. q(base .. "-src"))
    assert.equal(0, code, out)
    local f = assert(io.open(base .. "-chat.lua", "w"))
    f:write(CHAT)
    f:close()
  end)
  teardown(function()
    local dirs = { q(base .. "-src"), q(base .. "-chat.lua") }
    for _, v in ipairs(VARIANTS) do dirs[#dirs + 1] = q(v.tree) end
    os.execute("rm -rf " .. table.concat(dirs, " "))
  end)

  for _, v in ipairs(VARIANTS) do
    it("builds with Debian's luarocks for " .. v.name .. " and streams a chat from that tree alone", function()
      local out, code = luarocks(v, "make " .. v.rockspec)
      assert.equal(0, code, out)
      assert.truthy(out:find("is now installed in " .. v.tree, 1, true), out)
      out, code = in_tree(v, v.interp .. " " .. q(base .. "-chat.lua") .. " 'from the rock'")
      assert.equal(0, code, out)
      local answer, lua_file, so_file = out:match("^(.-)\n(.-)\n(.-)\n$")
      assert.equal("You said: from the rock", answer)
      assert.equal(v.tree, lua_file:sub(1, #v.tree), lua_file)
      assert.equal(v.tree, so_file:sub(1, #v.tree), so_file)
      -- the command the rock installs, under the interpreter the rock was built for
      local wrapper = assert(io.open(v.tree .. "/bin/coze")):read("*a")
      assert.truthy(wrapper:find("/usr/bin/" .. v.interp, 1, true), wrapper)
      out, code = in_tree(v, "COZE_API_TOKEN=pat_rock " .. q(v.tree .. "/bin/coze") .. " chat -b b 'from bin/coze'")
      assert.equal(0, code, out)
      assert.equal("You said: from bin/coze\n", out)
    end)
  end
end)
