-- Fault injection, driven by the request header
--   X-Emu-Fault: NAME[;key=value]...[,NAME[;key=value]...]
-- Values are %XX-decoded. `times=N` limits a fault to the first N requests that carry the same
-- X-Emu-Fault-Key header value (or, without that header, the same X-Emu-Fault value); counts live in
-- ngx.shared.emu and are cleared by POST /__emu/reset.
--
-- Request-level faults are applied by before() (called by the router for every API request) and end the
-- request: 429, status, malformed_json, json_error, content_length_lie, invalid_utf8, bad_chunked, redirect, big_json,
-- gzip;
-- slow_headers only sleeps.
-- Stream-level faults are applied by the shared SSE writer, _M.sse_writer(), used by every streaming handler.
local util = require "emu.util"
local cjson = util.json

local ok_clear, tclear = pcall(require, "table.clear")
if not ok_clear then
  tclear = function(t) for k in pairs(t) do t[k] = nil end end
end

local _M = {}
local dict = ngx.shared.emu

local STREAM_FAULTS = {
  reset = true, no_done = true, error_event = true, stall = true, split = true, crlf = true, cr = true,
  bom = true, comments = true, huge_event = true, truncate = true, eof_no_newline = true, space = true,
}
_M.STREAM_FAULTS = STREAM_FAULTS

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- Parses a header value into { {name=..., params={...}}, ... }.
function _M.parse(header)
  local list = {}
  for item in header:gmatch("[^,]+") do
    local name, params = nil, {}
    for part in item:gmatch("[^;]+") do
      part = trim(part)
      if not name then
        name = part
      elseif part ~= "" then
        local k, v = part:match("^([^=]+)=(.*)$")
        if k then
          v = trim(v)
          if v:find("%%%x%x") then v = ngx.unescape_uri(v) end
          params[trim(k)] = v
        else
          params[part] = "1"
        end
      end
    end
    if name and name ~= "" then list[#list + 1] = { name = name, params = params } end
  end
  return list
end

local function header(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = table.concat(v, ",") end
  return v
end

-- The faults in force for this request (after `times` accounting), computed once per request:
-- { list = {fault...}, by_name = {name -> params} } or false when there are none.
function _M.active()
  local ctx = ngx.ctx
  if ctx.emu_faults ~= nil then return ctx.emu_faults end
  local h = header("x-emu-fault")
  if not h or h == "" then
    ctx.emu_faults = false
    return false
  end
  local key = header("x-emu-fault-key") or h
  local list, by_name = {}, {}
  for _, f in ipairs(_M.parse(h)) do
    local times = tonumber(f.params.times)
    local on = true
    if times then
      local n = dict:incr("fault:" .. key .. "\0" .. f.name, 1, 0)
      on = n <= times
    end
    if on then
      list[#list + 1] = f
      by_name[f.name] = f.params
    end
  end
  ctx.emu_faults = #list > 0 and { list = list, by_name = by_name } or false
  return ctx.emu_faults
end

-- The stream-level faults in force: a table name -> params (empty when none).
function _M.stream()
  local a = _M.active()
  local out = {}
  if a then
    for name, p in pairs(a.by_name) do
      if STREAM_FAULTS[name] then out[name] = p end
    end
  end
  return out
end

-- Request-level faults -------------------------------------------------------

local HTML = '<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n' ..
  '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'
local REASONS = { [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [429] = "Too Many Requests", [500] = "Internal Server Error", [502] = "Bad Gateway",
  [503] = "Service Temporarily Unavailable", [504] = "Gateway Time-out" }

local function send_raw(status, ctype, body)
  util.request_logid()
  ngx.status = status
  ngx.header["Content-Type"] = ctype
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(status)
end

local request_faults = {}

request_faults["429"] = function(p)
  if p.retry_after_date then
    ngx.header["Retry-After"] = ngx.http_time(ngx.time() + (tonumber(p.retry_after_date) or 1))
  elseif p.retry_after then
    ngx.header["Retry-After"] = p.retry_after
  end
  return util.fail(4009, "已达系统请求上限，请稍后重试", 429)
end

request_faults.status = function(p)
  local code = tonumber(p.code) or 500
  if p.body == "html" then
    local reason = REASONS[code] or "Error"
    return send_raw(code, "text/html", string.format(HTML, code, reason, code, reason))
  end
  return util.fail(5000, "internal error", code)
end

request_faults.malformed_json = function()
  return send_raw(200, "application/json; charset=utf-8", '{"code":0,"msg":"","data":{"id":')
end

request_faults.json_error = function(p)
  return util.fail(tonumber(p.code) or 4000, p.msg or "请求参数错误", tonumber(p.status) or 200)
end

request_faults.slow_headers = function(p)
  ngx.sleep((tonumber(p.ms) or 1000) / 1000)
end

request_faults.content_length_lie = function(p)
  local body = '{"code":0,"msg":"","data":{"id":"7390029769854844001"},"detail":{"logid":"' .. util.request_logid() .. '"}}'
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.header["Content-Length"] = #body + (tonumber(p.extra) or 100)
  ngx.print(body)
  ngx.flush(true)
  return ngx.exit(ngx.ERROR)
end

request_faults.invalid_utf8 = function()
  local body = '{"code":0,"msg":"ok \255\254","data":{"id":"7390029769854844001","content":"bad \195\040 lone ' ..
    '\128 surrogate \237\160\128 overlong \192\175 end"},"detail":{"logid":"' .. util.request_logid() .. '"}}'
  return send_raw(200, "application/json; charset=utf-8", body)
end

-- A response whose chunked framing is broken: written on the raw socket, since nginx itself only
-- produces valid chunks.
request_faults.bad_chunked = function()
  util.body_raw()
  local logid = util.logid()
  local sock = assert(ngx.req.socket(true))
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" ..
    "X-Tt-Logid: " .. logid .. "\r\n\r\n" ..
    "5\r\n{\"cod\r\nZZ-not-a-size\r\ne\":0}\r\n0\r\n\r\n")
  return ngx.exit(ngx.OK)
end

-- A redirect to another host: the SDK must neither follow it nor send its Authorization there.
request_faults.redirect = function(p)
  return ngx.redirect(p.to or "http://127.0.0.2:9/elsewhere", tonumber(p.code) or 302)
end

-- A JSON body trickled one byte every ms milliseconds (a server that never quite stops).
request_faults.trickle = function(p)
  local body = '{"code":0,"msg":"","data":{"id":"7390029769854844001"},"detail":{"logid":"' .. util.request_logid() .. '"}}'
  local ms = tonumber(p.ms) or 100
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.header["Content-Length"] = #body
  for i = 1, #body do
    ngx.print(body:sub(i, i))
    ngx.flush(true)
    ngx.sleep(ms / 1000)
  end
  return ngx.exit(200)
end

-- A successful answer of about mb MiB (default 50): data.items of {id, n, content} objects whose
-- content is `item` bytes of text (default 1000), for the specs that bound a JSON body's peak memory.
request_faults.big_json = function(p)
  local want = (tonumber(p.mb) or 50) * 1048576
  local content = string.rep("abcdefghij", math.ceil((tonumber(p.item) or 1000) / 10))
  local parts, size, i = { '{"code":0,"msg":"","data":{"items":[' }, 30, 0
  while size < want do
    i = i + 1
    local item = (i > 1 and "," or "") .. '{"id":"74' .. string.format("%017d", i) .. '","n":' .. i ..
      ',"content":"' .. content .. '"}'
    parts[#parts + 1] = item
    size = size + #item
  end
  parts[#parts + 1] = ']},"detail":{"logid":"' .. util.request_logid() .. '"}}'
  return send_raw(200, "application/json; charset=utf-8", table.concat(parts))
end

-- A gateway that copies the request's Authorization into its error: as the JSON envelope's msg
-- (body=json, the default), a text/plain body (body=text) or an OAuth error (body=oauth).
-- field=NAME;at=N echoes that field of the JSON request body instead, starting at byte N (to put
-- a secret across the point where an error snippet is cut).
request_faults.echo_auth = function(p)
  local status = tonumber(p.status) or 401
  local echo = "rejected " .. tostring(header("authorization"))
  if p.field then
    local v = tostring((util.body_json() or {})[p.field])
    echo = string.rep("x", (tonumber(p.at) or 1) - 1) .. v
  end
  if p.body == "text" then return send_raw(status, "text/plain", echo .. " end\n") end
  if p.body == "oauth" then
    return send_raw(status, "application/json", cjson.encode({ error = "invalid_client", error_description = echo }))
  end
  return util.fail(tonumber(p.code) or 4100, echo, status)
end

-- A success envelope gzip-encoded whatever the request's Accept-Encoding said (a server or gateway
-- that compresses regardless): libcurl asked for gzip and decodes it, coze.transport.ngx refuses it.
-- {"code":0,"msg":"","data":{"id":"7390029769854844001","encoding":"gzip"}}, by python's gzip.compress.
local GZIP_OK = "\031\139\008\000\000\000\000\000\002\003\171VJ\206OIU\1782\208Q\202-NW\178RR\210QJI,IT\178\170V\202L\001\242\205\141-\013\012\140,\205\205,-LM,LL\012\012\012\129JR\243\128\2182\243@\026\210\1712\011\148jk\001y\241\226\015I\000\000\000"
request_faults.gzip = function()
  ngx.header["Content-Encoding"] = "gzip"
  return send_raw(200, "application/json; charset=utf-8", GZIP_OK)
end

-- Applies request-level faults in header order; ends the request unless only slow_headers applies.
function _M.before()
  local a = _M.active()
  if not a then return end
  for _, f in ipairs(a.list) do
    local fn = request_faults[f.name]
    if fn then fn(f.params) end
  end
end

-- The SSE writer shared by all streaming handlers ---------------------------
--
--   local w = faults.sse_writer()          -- sends 200 + text/event-stream headers
--   w:event(name, data[, id])              -- data: JSON text or a table (encoded)
--   w:event_parts(name, a, b, c)           -- data = a..b..c, without building the string (hot path)
--   w:event_repeat(name, data, count)      -- the same record `count` times (hot path)
--   w:finish()                             -- flushes; the handler then returns normally
-- Stream faults and the X-Emu-Drip-Ms header are applied here; faults that end the stream call ngx.exit.
-- w.huge_bytes is set when huge_event is in force: the handler should emit one delta of that many bytes.

local FLUSH_BYTES = 65536
local W = {}
W.__index = W

local function is_done(name) return name == "done" or name == "Done" end

function _M.sse_writer()
  local sf = _M.stream()
  local w = setmetatable({ buf = {}, nbuf = 0, bytes = 0, count = 0, heads = {} }, W)
  w.nl = sf.crlf and "\r\n" or (sf.cr and "\r" or "\n")
  w.colon = sf.space and ": " or ":"
  w.tail = w.nl .. w.nl
  w.comment = sf.comments and (": keep-alive" .. w.nl .. w.nl) or nil
  w.no_done = sf.no_done and true or false
  w.eof_no_newline = sf.eof_no_newline and true or false
  if sf.reset then w.reset_after = tonumber(sf.reset.after) or 1 end
  if sf.error_event then
    w.error_after = tonumber(sf.error_event.after) or 1
    local emsg = sf.error_event.msg or "模型错误"
    if sf.error_event.echo_auth then emsg = emsg .. " (" .. tostring(header("authorization")) .. ")" end
    w.error_data = util.encode({ code = tonumber(sf.error_event.code) or 4013, msg = emsg })
  end
  if sf.stall then
    w.stall_after = tonumber(sf.stall.after) or 1
    w.stall_s = (tonumber(sf.stall.ms) or 1000) / 1000
  end
  if sf.truncate then w.truncate_after = tonumber(sf.truncate.after) or 1 end
  if sf.huge_event then w.huge_bytes = tonumber(sf.huge_event.bytes) or 1048576 end
  w.split = sf.split and true or false
  local drip = tonumber(ngx.var.http_x_emu_drip_ms)
  if drip and drip > 0 then w.drip_s = drip / 1000 end
  -- "special" writers handle every record on its own; the others batch records into ~64 KB prints.
  w.special = (w.reset_after or w.error_after or w.stall_after or w.truncate_after or w.split or w.drip_s) and true or false
  w.faults = sf

  util.sse_start()
  if sf.bom then w:_put("\239\187\191") end
  if w.special then w:_after(0) end
  return w
end

function W:_put(s)
  local n = self.nbuf + 1
  self.buf[n] = s
  self.nbuf = n
  self.bytes = self.bytes + #s
end

-- Prints what is buffered and waits until nginx has handed it to the socket; a gone client ends the request.
-- The client went away mid-stream: remembered per connection (GET /__emu/gone?connection=N), so a
-- spec can tell a closed upstream connection from one left open.
local function client_gone()
  ngx.shared.emu:set("gone:" .. ngx.var.connection, true, 300)
  return ngx.exit(ngx.ERROR)
end

function W:flush()
  if self.nbuf > 0 then
    local ok = ngx.print(self.buf)
    tclear(self.buf)
    self.nbuf, self.bytes = 0, 0
    if not ok then return client_gone() end
  end
  local ok = ngx.flush(true)
  if not ok then return client_gone() end
end

function W:head(name, id)
  if id == nil then
    local h = self.heads[name]
    if not h then
      h = "event" .. self.colon .. name .. self.nl .. "data" .. self.colon
      self.heads[name] = h
    end
    return h
  end
  return "id" .. self.colon .. tostring(id) .. self.nl .. "event" .. self.colon .. name .. self.nl .. "data" .. self.colon
end

-- Stream faults keyed on "after K records".
function W:_after(n)
  if self.reset_after == n then
    self:flush()
    return ngx.exit(ngx.ERROR) -- abort: no terminating chunk
  end
  if self.error_after == n then
    if self.comment and n > 0 then self:_put(self.comment) end
    self:_put(self:head("error") .. self.error_data .. self.tail)
    self:flush()
    return ngx.exit(ngx.OK)
  end
  if self.stall_after == n then
    self:flush()
    ngx.sleep(self.stall_s)
  end
end

-- One complete record through the fault machinery.
function W:_emit(rec)
  local k = self.count
  if self.truncate_after == k then
    if self.comment and k > 0 then self:_put(self.comment) end
    self:_put(rec:sub(1, math.floor(#rec / 2)))
    self:flush()
    return ngx.exit(ngx.OK)
  end
  if self.comment and k > 0 then self:_put(self.comment) end
  if self.split then
    self:flush()
    for i = 1, #rec do
      ngx.print(rec:sub(i, i))
      if not ngx.flush(true) then return client_gone() end
    end
  else
    self:_put(rec)
  end
  self.count = k + 1
  if self.special then self:_after(self.count) end
  if self.drip_s then
    self:flush()
    ngx.sleep(self.drip_s)
  elseif self.bytes >= FLUSH_BYTES then
    self:flush()
  end
end

function W:event(name, data, id)
  if type(data) == "table" then data = util.encode(data) end
  data = data or ""
  if is_done(name) then
    if self.no_done then return end
    if self.eof_no_newline then
      return self:_emit(self:head(name, id) .. data)
    end
  end
  return self:_emit(self:head(name, id) .. data .. self.tail)
end

function W:event_parts(name, a, b, c)
  if self.special or is_done(name) then
    return self:event(name, a .. b .. c)
  end
  if self.comment and self.count > 0 then self:_put(self.comment) end
  self:_put(self:head(name))
  self:_put(a)
  self:_put(b)
  self:_put(c)
  self:_put(self.tail)
  self.count = self.count + 1
  if self.bytes >= FLUSH_BYTES then self:flush() end
end

function W:event_repeat(name, data, count)
  if count <= 0 then return end
  if self.special or is_done(name) then
    for _ = 1, count do self:event(name, data) end
    return
  end
  local rec = self:head(name) .. data .. self.tail
  local unit = rec
  if self.comment then
    if self.count > 0 then self:_put(self.comment) end
    self:_put(rec)
    self.count = self.count + 1
    count = count - 1
    unit = self.comment .. rec
  end
  local per = math.max(1, math.floor(FLUSH_BYTES / #unit))
  if count >= per then
    local chunk = string.rep(unit, per)
    while count >= per do
      self:_put(chunk)
      self:flush()
      count = count - per
      self.count = self.count + per
    end
  end
  if count > 0 then
    self:_put(string.rep(unit, count))
    self.count = self.count + count
  end
  if self.bytes >= FLUSH_BYTES then self:flush() end
end

function W:finish()
  self:flush()
end

_M.routes = {}

return _M
