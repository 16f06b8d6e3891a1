-- Test helpers: the emulator's address, a client pointed at it, and its request log.
local core = require "coze.core"
local json = require "cjson"

local _M = {}

_M.url = os.getenv("COZE_EMU_URL") or "http://127.0.0.1:18321"
_M.tls_url = _M.url:gsub("^http:", "https:"):gsub(":(%d+)$", function(p) return ":" .. (tonumber(p) + 1) end)

local session

-- One request without the SDK: status, body text and response headers. `headers` (a list of
-- "Name: value" lines) are sent after the JSON content type.
local function raw(method, path, body, headers)
  session = session or core.session()
  local h = body and { "Content-Type: application/json" } or {}
  for _, line in ipairs(headers or {}) do h[#h + 1] = line end
  local r = session:request { method = method, url = _M.url .. path, body = body, headers = h }
  local status, err = r:wait_headers(5000)
  assert(status, err)
  local parts = {}
  while true do
    local chunk, rerr = r:read(5000)
    if chunk == nil then assert(rerr == nil, rerr); break end
    if chunk then parts[#parts + 1] = chunk end
  end
  local response_headers = r:headers()
  r:close()
  return status, table.concat(parts), response_headers
end
_M.raw = raw

function _M.client(opts)
  local coze = require "coze"
  opts = opts or {}
  local o = { token = "pat_test", base_url = _M.url }
  for k, v in pairs(opts) do o[k] = v end
  return coze.new(o)
end

-- The last n requests the emulator received (API requests only), oldest first.
function _M.requests(n)
  local _, body = raw("GET", "/__emu/requests?n=" .. (n or 1))
  return json.decode(body)
end

function _M.last_request()
  return _M.requests(1)[1]
end

-- The sequence number of the last logged request: a mark to count requests made after it.
function _M.mark()
  local r = _M.last_request()
  return r and r.seq or 0
end

-- The logged requests after mark seq, optionally only those whose path matches pattern.
function _M.since(seq, pattern)
  local out = {}
  for _, r in ipairs(_M.requests(200)) do
    if r.seq > seq and (not pattern or r.path:find(pattern)) then out[#out + 1] = r end
  end
  return out
end

function _M.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Every event of a stream until its end: events, err.
function _M.collect(stream)
  local evs = {}
  while true do
    local ev, err = stream:next()
    if not ev then return evs, err end
    evs[#evs + 1] = ev
  end
end

-- A key no earlier run used (LuaJIT's random numbers repeat run after run).
local unique_n = 0
function _M.unique(prefix)
  unique_n = unique_n + 1
  return string.format("%s-%d-%d-%d", prefix, os.time(), math.floor(os.clock() * 1e6), unique_n)
end

function _M.header(req, name)
  name = name:lower()
  for k, v in pairs(req.headers) do
    if k:lower() == name then return v end
  end
end

function _M.post(path, tbl)
  local status, body = raw("POST", path, json.encode(tbl))
  return status, json.decode(body)
end

-- Runs fn(...) in n coroutines driven round-robin; returns their results.
function _M.run_all(fns)
  local cos, results, live = {}, {}, #fns
  for i, fn in ipairs(fns) do cos[i] = coroutine.create(fn) end
  while live > 0 do
    live = 0
    for i, co in ipairs(cos) do
      if coroutine.status(co) ~= "dead" then
        local ok, res = coroutine.resume(co)
        if not ok then error(res, 0) end
        if coroutine.status(co) == "dead" then results[i] = res else live = live + 1 end
      end
    end
  end
  return results
end

return _M
