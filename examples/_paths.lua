-- Lets `lua5.4 examples/NAME.lua` (or `luajit examples/NAME.lua`) find this checkout's SDK after `make`
-- (`make luajit` for LuaJIT): lua/ and the C core built for the running interpreter, build/ for
-- Lua 5.4, build/luajit/ for LuaJIT. Returns the checkout's root. An installed SDK (LuaRocks,
-- vendored) needs none of this; each example loads it with one line:
--   local root = dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua")
local root = (arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or ".") .. "/.."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. (jit and "/build/luajit/?.so;" or "/build/?.so;") .. package.cpath
return root
