-- Emulator control endpoints: liveness, the request log, and a reset between specs.
local util = require "emu.util"
local cjson = util.json

local _M = {}
local dict = ngx.shared.emu
local LOG_MAX = 200

-- Records method, path, query, headers and body of an API request into a ring in the shared dict.
function _M.record(params)
  local n = dict:incr("log:n", 1, 0)
  local headers = ngx.req.get_headers(100, true)
  local entry = {
    seq = n,
    time = ngx.now(), -- when it arrived (s, ms resolution): specs measure retry waits with it
    method = ngx.req.get_method(),
    path = ngx.var.uri,
    query = ngx.req.get_uri_args(100),
    raw_query = ngx.var.args or "",
    request_uri = ngx.var.request_uri,
    connection = tonumber(ngx.var.connection),
    connection_requests = tonumber(ngx.var.connection_requests),
    sni = ngx.var.ssl_server_name, -- TLS only: the name the client asked for
    headers = headers,
    body = util.body_raw(),
  }
  if #entry.body > 65536 then entry.body = entry.body:sub(1, 65536) end
  dict:set("log:" .. (n % LOG_MAX), cjson.encode(entry))
end

local function last(count)
  local n = dict:get("log:n") or 0
  local out = {}
  for i = math.max(1, n - count + 1), n do
    local s = dict:get("log:" .. (i % LOG_MAX))
    if s then out[#out + 1] = cjson.decode(s) end
  end
  return out
end

_M.routes = {
  { "GET", "/__emu/ping", function() ngx.print("pong") end },
  { "GET", "/__emu/gone", function() -- did the client of connection N leave in the middle of a stream?
      util.send_json(200, { gone = dict:get("gone:" .. tostring(ngx.var.arg_connection)) == true })
    end },
  { "GET", "/__emu/requests", function()
      local count = tonumber(ngx.var.arg_n) or 1
      util.send_json(200, last(count))
    end },
  -- Registers an OAuth access token as emu.oauth does: {"token":"czs_...","expires_in":900} (seconds from now;
  -- negative = already expired). emu.auth_check accepts czs_/emu_oauth_ tokens only while registered and unexpired.
  { "POST", "/__emu/token", function()
      local body = util.body_json() or {}
      if type(body.token) ~= "string" or body.token == "" then
        return util.send_json(400, { ok = false, error = "token is required" })
      end
      local exp = ngx.time() + (tonumber(body.expires_in) or 900)
      dict:set("token:" .. body.token, exp)
      util.send_json(200, { ok = true, token = body.token, expires_at = exp })
    end },
  { "POST", "/__emu/reset", function()
      dict:flush_all()
      util.send_json(200, { ok = true })
    end },
}

return _M
