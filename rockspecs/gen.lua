-- Writes rockspecs/coze-<version>.rockspec from the tree: every lua/coze module and every csrc/*.c.
--   lua5.4 rockspecs/gen.lua scm-1      (spec/rockspec_spec.lua checks the committed ones are current)
local version = assert(arg[1], "usage: lua5.4 rockspecs/gen.lua VERSION (e.g. scm-1 or 0.1.0-1)")
local repo = "https://github.com/lua-coze/lua-coze"
local f = assert(io.open("lua/coze/version.lua"))
local sdk_version = assert(f:read("*a"):match('"([^"]+)"'))
f:close()
if not version:match("^scm") then
  -- the rock's version and its tag are the SDK's own (coze.VERSION), so a release is tagged v<that>
  assert(version:gsub("%-%d+$", "") == sdk_version,
    "version " .. version .. " is not lua/coze/version.lua's " .. sdk_version .. "-N")
end

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
w('  url = "git+' .. repo .. '.git",')
if version:match("^scm") then
  w('  branch = "main",')
else
  w('  tag = "v' .. sdk_version .. '",')
end
w('}')
w('description = {')
w('  summary = "The Coze open API for Lua: chat, workflows, files, knowledge, audio, every auth flow",')
w('  detailed = "A C core (libcurl transport, SSE parser, JSON decoder, OpenSSL signing) under an idiomatic Lua layer, tested on Lua 5.4 and LuaJIT 2.1.",')
w('  homepage = "' .. repo .. '",')
w('  license = "MIT",')
w('}')
w('dependencies = { "lua >= 5.1", "lua-cjson" }')
w('external_dependencies = {')
-- No header check for libcurl: Debian/Ubuntu keep curl/curl.h under the multiarch include directory,
-- which the compiler searches on its own but LuaRocks does not; the library check finds the package.
w('  CURL = { library = "curl" },')
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
w('  install = { bin = { coze = "bin/coze" } },')
w('}')
local path = "rockspecs/coze-" .. version .. ".rockspec"
local f = assert(io.open(path, "w"))
f:write(table.concat(out, "\n"), "\n")
f:close()
print(path)
