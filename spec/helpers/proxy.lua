-- spec/helpers/connect_proxy.py for the specs: start one on a port (optionally wanting Basic
-- credentials), read what it logged (the first request of each proxy connection), stop it.
local cjson = require "cjson"
local core = require "coze.core"

local _M = {}

-- start(port[, "user:password"]) -> a proxy object; raises when it does not answer.
function _M.start(port, cred)
  local log = os.tmpname()
  os.remove(log)
  local p = { port = port, log = log, url = "http://127.0.0.1:" .. port }
  os.execute(string.format("python3 spec/helpers/connect_proxy.py %d %s '%s' >/dev/null 2>&1 & echo $! > %s.pid",
    port, log, cred or "", log))
  for _ = 1, 100 do
    local s = core.session()
    local r = s:request { method = "GET", url = p.url .. "/", connect_timeout_ms = 200 }
    local st = r:wait_headers(1000)
    s:close()
    if st then return setmetatable(p, { __index = _M }) end
    core.sleep_ms(50)
  end
  error("the proxy on port " .. port .. " did not start")
end

-- The first request of each proxy connection since the last call: { method, target, auth }...
function _M.seen(p)
  local out = {}
  local f = io.open(p.log, "rb")
  if not f then return out end
  for line in f:lines() do out[#out + 1] = cjson.decode(line) end
  f:close()
  os.remove(p.log)
  return out
end

function _M.stop(p)
  local f = io.open(p.log .. ".pid", "rb")
  if f then
    local pid = tonumber(f:read("*a"))
    f:close()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    os.remove(p.log .. ".pid")
  end
  os.remove(p.log)
end

return _M
