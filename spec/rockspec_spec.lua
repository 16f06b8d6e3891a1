-- The rockspecs list every module of the tree (regenerate with rockspecs/gen.lua).
local function lines(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

local function load_rockspec(path)
  local env = {}
  local chunk
  local f = assert(io.open(path))
  local src = f:read("*a")
  f:close()
  if setfenv then
    chunk = assert(loadstring(src))
    setfenv(chunk, env)
  else
    chunk = assert(load(src, path, "t", env))
  end
  chunk()
  return env
end

describe("rockspecs", function()
  for _, path in ipairs(lines("ls rockspecs/*.rockspec")) do
    it(path .. " lists every Lua module and every C source", function()
      local spec = load_rockspec(path)
      assert.equal("coze", spec.package)
      assert.equal("builtin", spec.build.type)
      local modules = spec.build.modules
      for _, f in ipairs(lines("cd lua && find coze -name '*.lua'")) do
        local mod = f:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
        assert.equal("lua/" .. f, modules[mod], "module " .. mod .. " missing")
      end
      local listed = {}
      for _, s in ipairs(modules["coze.core"].sources) do listed[s] = true end
      for _, c in ipairs(lines("ls csrc/*.c")) do
        assert.is_true(listed[c] == true, c .. " missing from coze.core sources")
      end
    end)
  end
end)
