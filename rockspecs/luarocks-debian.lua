-- A LuaRocks configuration for Debian/Ubuntu where lua-cjson comes from the distribution
-- (apt-get install lua-cjson) instead of from luarocks.org:
--   LUAROCKS_CONFIG=rockspecs/luarocks-debian.lua luarocks --lua-version=5.4 make rockspecs/coze-scm-1.rockspec
-- (the same as adding --deps-mode=none, but only cjson is taken as given, not every dependency).
rocks_provided = { ["lua-cjson"] = "2.1.0-1" }
