-- A LuaRocks configuration for LuaJIT 2.1 on Debian/Ubuntu (apt-get install luajit libluajit2-5.1-dev
-- lua-cjson): LuaJIT speaks the Lua 5.1 ABI, so the rock is a 5.1 rock compiled against LuaJIT's
-- headers, and the `coze` command LuaRocks installs runs under luajit, not lua5.1:
--   LUAROCKS_CONFIG=rockspecs/luarocks-debian-luajit.lua luarocks --lua-version=5.1 make rockspecs/coze-scm-1.rockspec
lua_interpreter = "luajit"
variables = { LUA_INCDIR = "/usr/include/luajit-2.1", LUA_BINDIR = "/usr/bin" }
rocks_provided = { ["lua-cjson"] = "2.1.0-1" }
