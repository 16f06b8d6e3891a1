-- GET /__emu/openresty_selftest: loads the SDK's C core (the LuaJIT build) inside nginx's lua module,
-- as an OpenResty application would, and runs its parser and signer there. The answer lists what ran.
local util = require "emu.util"

local _M = {}

local function run()
  local out = {}
  local ok, core = pcall(require, "coze.core")
  if not ok then return { error = "require coze.core: " .. tostring(core) } end
  out.version = core._VERSION
  out.lua = jit and jit.version or _VERSION

  local p = core.sse_parser(1024)
  p:feed("event:conversation.message.delta\r\ndata:{\"content\":\"hi\"}\r\n\r\nevent:done\ndata:")
  p:feed("\"[DONE]\"\n\n")
  local events = {}
  while true do
    local data, name = p:next()
    if not data then break end
    events[#events + 1] = { event = name, data = data }
  end
  p:close()
  out.sse = events

  local here = debug.getinfo(1, "S").source:match("^@(.*)/emu/selftest%.lua$") or "."
  local f = io.open(here .. "/../fixtures/keys/rsa_pkcs8.pem", "rb")
  if f then
    local pem = f:read("*a")
    f:close()
    local key = assert(core.rsa_key(pem))
    local jwt = core.jwt_rs256(key, '{"alg":"RS256","typ":"JWT","kid":"k"}', '{"iss":"x"}')
    key:close()
    out.jwt_parts = select(2, jwt:gsub("%.", "")) + 1
  end
  out.sha256_len = #core.sha256("abc")
  out.stream_module = pcall(require, "coze.stream")
  return out
end

-- One token cache shared by every request of this worker, as an OpenResty app would keep it at
-- module level. Each fetch takes 200 ms (a token request in flight); /__emu/openresty_token_cache
-- answers the token it got and how many fetches the worker has made so far.
local shared_cache, fetches = nil, 0

local function token_cache()
  local cache = require "coze.auth.cache"
  if ngx.var.arg_reset == "1" or not shared_cache then
    shared_cache, fetches = cache.new { key = "openresty-selftest" }, 0
    if ngx.var.arg_reset == "1" then return { reset = true } end
  end
  local tok, err = shared_cache:get(function()
    fetches = fetches + 1
    ngx.sleep(0.2)
    return { access_token = "czs_selftest_" .. fetches, expires_in = ngx.time() + 900 }
  end, { on_wait = require("coze.transport.curl").default_on_wait() })
  return { token = tok, err = err and tostring(err), fetches = fetches }
end

_M.routes = {
  { "GET", "/__emu/openresty_token_cache", function()
      util.send_json(200, token_cache())
    end },
  { "GET", "/__emu/openresty_selftest", function()
      util.send_json(200, run())
    end },
}

return _M
