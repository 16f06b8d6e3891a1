-- Shared helpers for emulator handlers: envelopes, logids, JSON bodies, SSE writing.
local cjson = require "cjson.safe"

local _M = {}

_M.json = cjson

local counter = 0
function _M.logid()
  counter = counter + 1
  return string.format("%s%06d%08X", os.date("!%Y%m%d%H%M%S"), ngx.worker.pid() % 1000000, counter)
end

-- Sets the x-tt-logid header once per request and returns it.
function _M.request_logid()
  local ctx = ngx.ctx
  if not ctx.logid then
    ctx.logid = _M.logid()
    ngx.header["X-Tt-Logid"] = ctx.logid
  end
  return ctx.logid
end

-- JSON text like cjson.encode, without cjson's "\/" escaping of slashes (the real API writes "/").
-- Safe: cjson always writes a literal "/" as "\/", so every "\/" pair in its output is that escape.
function _M.encode(v)
  local s = cjson.encode(v)
  if s and s:find("\\/", 1, true) then s = s:gsub("\\/", "/") end
  return s
end

-- A request header meant as free text (X-Emu-Reply etc.). nginx trims surrounding blanks, so a value wrapped
-- in double quotes is decoded as a JSON string ('"hello "' -> 'hello '); otherwise %XX escapes are decoded.
function _M.header_text(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = v[1] end
  if v == nil then return nil end
  if #v >= 2 and v:sub(1, 1) == '"' and v:sub(-1) == '"' then
    local s = cjson.decode(v)
    if type(s) == "string" then return s end
  end
  if v:find("%%%x%x") then v = ngx.unescape_uri(v) end
  return v
end

-- Sends a success envelope around an already-encoded `data` JSON text (fast path, no re-encoding).
function _M.ok_raw(data_json)
  local logid = _M.request_logid()
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  if data_json == nil then
    ngx.print('{"code":0,"msg":"","detail":{"logid":"', logid, '"}}')
  else
    ngx.print('{"code":0,"msg":"","data":', data_json, ',"detail":{"logid":"', logid, '"}}')
  end
  return ngx.exit(200)
end

function _M.send_json(status, tbl)
  _M.request_logid()
  ngx.status = status
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.print(_M.encode(tbl))
  return ngx.exit(status)
end

-- The real envelope: {"code":0,"msg":"","data":...,"detail":{"logid":...}} (keys written in this order).
function _M.ok(data, extra)
  if extra then
    local body = { code = 0, msg = "", data = data, detail = { logid = _M.request_logid() } }
    for k, v in pairs(extra) do body[k] = v end
    return _M.send_json(200, body)
  end
  return _M.ok_raw(data ~= nil and _M.encode(data) or nil)
end

function _M.fail(code, msg, http_status)
  local logid = _M.request_logid()
  http_status = http_status or 200
  ngx.status = http_status
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.print('{"code":', tostring(code), ',"msg":', _M.encode(msg or ""), ',"detail":{"logid":"', logid, '"}}')
  return ngx.exit(http_status)
end

-- Decoded JSON body, or {} for an empty body; nil, err for malformed JSON.
function _M.body_json()
  if ngx.ctx.body_json ~= nil then return ngx.ctx.body_json end
  local raw = _M.body_raw()
  if raw == nil or raw == "" then
    ngx.ctx.body_json = {}
    return ngx.ctx.body_json
  end
  local t, err = cjson.decode(raw)
  if t == nil then return nil, err end
  ngx.ctx.body_json = t
  return t
end

function _M.body_raw()
  if ngx.ctx.body_raw ~= nil then return ngx.ctx.body_raw end
  ngx.req.read_body()
  local raw = ngx.req.get_body_data()
  if raw == nil then
    local file = ngx.req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      raw = f:read("*a")
      f:close()
    end
  end
  ngx.ctx.body_raw = raw or ""
  return ngx.ctx.body_raw
end

-- UTF-8 characters of s.
function _M.chars(s)
  local out = {}
  for ch in s:gmatch("[%z\1-\127\192-\255][\128-\191]*") do out[#out + 1] = ch end
  return out
end

-- Reply text split into delta pieces: n pieces of (nearly) equal length, or runs of up to 4
-- characters when n is nil. n must not exceed the number of characters.
function _M.split_text(cs, n)
  local out = {}
  if n == nil then
    for i = 1, #cs, 4 do out[#out + 1] = table.concat(cs, "", i, math.min(i + 3, #cs)) end
    return out
  end
  local base, extra, i = math.floor(#cs / n), #cs % n, 1
  for p = 1, n do
    local len = base + (p <= extra and 1 or 0)
    out[p] = table.concat(cs, "", i, i + len - 1)
    i = i + len
  end
  return out
end

function _M.sse_start()
  _M.request_logid()
  ngx.status = 200
  ngx.header["Content-Type"] = "text/event-stream; charset=utf-8"
  ngx.header["Cache-Control"] = "no-cache"
  ngx.send_headers()
  ngx.flush(true)
end

-- One SSE record as text: "event:NAME\ndata:JSON\n\n" (id line first when given).
function _M.sse_record(event, data, id)
  if type(data) == "table" then data = cjson.encode(data) end
  local parts = {}
  if id ~= nil then parts[#parts + 1] = "id: " .. tostring(id) .. "\n" end
  if event ~= nil then parts[#parts + 1] = "event:" .. event .. "\n" end
  parts[#parts + 1] = "data:" .. (data or "") .. "\n\n"
  return table.concat(parts)
end

return _M
