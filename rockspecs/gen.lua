-- Writes rockspecs/coze-<version>.rockspec from the tree: every lua/coze module and every csrc/*.c.
--   lua5.4 rockspecs/gen.lua scm-1      (spec/rockspec_spec.lua checks the committed ones are current)
local version = assert(arg[1], "usage: lua5.4 rockspecs/gen.lua VERSION (e.g. scm-1 or 0.1.0-1)")

local function lines(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  table.sort(out)
  return out
end

local lua_files = lines("cd lua && find coze -name '*.lua'")
local c_files = lines("ls csrc/*.c")

local out = {}
local function w(s) out[#out + 1] = s end
w('package = "coze"')
w('version = "' .. version .. '"')
w('source = {')
if version:match("^scm") then
  w('  url = "git+https://github.com/lua-coze/lua-coze.git",')
else
  w('  url = "git+https://github.com/lua-coze/lua-coze.git",')
  w('  tag = "v' .. version:gsub("%-%d+$", "") .. '",')
end
w('}')
w('description = {')
w('  summary = "The Coze open API for Lua: chat, workflows, files, knowledge, audio, every auth flow",')
w('  detailed = "A C core (libcurl transport, SSE parser, JSON decoder, OpenSSL signing) under an idiomatic Lua layer; Lua 5.1/LuaJIT to 5.4.",')
w('  license = "MIT",')
w('}')
w('dependencies = { "lua >= 5.1", "lua-cjson" }')
w('external_dependencies = {')
w('  CURL = { header = "curl/curl.h", library = "curl" },')
w('  OPENSSL = { header = "openssl/evp.h", library = "crypto" },')
w('}')
w('build = {')
w('  type = "builtin",')
w('  modules = {')
w('    ["coze.core"] = {')
w('      sources = {')
for _, f in ipairs(c_files) do w('        "' .. f .. '",') end
w('      },')
w('      libraries = { "curl", "crypto", "pthread" },')
w('      incdirs = { "csrc", "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },')
w('      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },')
w('    },')
for _, f in ipairs(lua_files) do
  local mod = f:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
  w('    ["' .. mod .. '"] = "lua/' .. f .. '",')
end
w('  },')
w('}')
local path = "rockspecs/coze-" .. version .. ".rockspec"
local f = assert(io.open(path, "w"))
f:write(table.concat(out, "\n"), "\n")
f:close()
print(path)
