-- Low-level endpoints for the transport specs (/__low/*): echo, byte streams, stalls, resets,
-- slow headers, redirects, arbitrary statuses and a gzip-encoded body.
local util = require "emu.util"
local cjson = util.json

local _M = {}

local function num(name, default)
  local v = tonumber(ngx.var["arg_" .. name])
  if v == nil then return default end
  return v
end

-- The byte at offset o of every /__low/bytes body is string.char(o % 256); specs rebuild it.
local BLOCK = {}
for i = 0, 255 do BLOCK[#BLOCK + 1] = string.char(i) end
BLOCK = table.concat(BLOCK)

local function pattern(offset, len, cache)
  local need = len + 256
  if not cache.s or #cache.s < need then
    cache.s = string.rep(BLOCK, math.ceil(need / 256))
  end
  local start = offset % 256 + 1
  return cache.s:sub(start, start + len - 1)
end

-- Splits a multipart/form-data body; each part: name, filename, type, length, md5, data (<= 1 MiB).
local function multipart(body, ctype)
  local boundary = ctype:match('boundary="([^"]+)"') or ctype:match("boundary=([^;%s]+)")
  if not boundary then return nil end
  local delim = "--" .. boundary
  local parts = {}
  local pos = body:find(delim, 1, true)
  while pos do
    local hstart = pos + #delim
    if body:sub(hstart, hstart + 1) == "--" then break end
    hstart = hstart + 2 -- CRLF after the delimiter
    local hend = body:find("\r\n\r\n", hstart, true)
    if not hend then break end
    local head = body:sub(hstart, hend - 1)
    local nextpos = body:find("\r\n" .. delim, hend + 4, true)
    if not nextpos then break end
    local data = body:sub(hend + 4, nextpos - 1)
    local disp = head:match("[Cc]ontent%-[Dd]isposition:%s*([^\r\n]*)") or ""
    parts[#parts + 1] = {
      name = disp:match('[; ]name="([^"]*)"'),
      filename = disp:match('filename="([^"]*)"'),
      type = head:match("[Cc]ontent%-[Tt]ype:%s*([^\r\n]*)"),
      length = #data,
      md5 = ngx.md5(data),
      data = #data <= 1048576 and data or nil,
    }
    pos = nextpos + 2
  end
  return parts
end

local function echo()
  local body = util.body_raw()
  local ctype = ngx.var.content_type or ""
  local out = {
    method = ngx.req.get_method(),
    uri = ngx.var.uri,
    args = ngx.req.get_uri_args(100),
    headers = ngx.req.get_headers(100),
    body_length = #body,
    body_md5 = ngx.md5(body),
    content_type = ctype,
  }
  if #body <= 65536 then out.body = body end
  if ctype:find("multipart/form-data", 1, true) then out.parts = multipart(body, ctype) end
  ngx.header["X-Echo-Method"] = out.method
  ngx.header["X-Multi"] = { "a", "b" }
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(out))
end

-- n bytes of the pattern, `chunk` bytes per write, `ms` between writes, flushed each time.
local function bytes()
  local n, chunk, ms = num("n", 1024), num("chunk", 65536), num("ms", 0)
  local delay = num("delay", 0)
  if chunk < 1 then chunk = 1 end
  ngx.status = 200
  ngx.header["Content-Type"] = "application/octet-stream"
  if ngx.var.arg_length ~= "0" then ngx.header["Content-Length"] = n end
  ngx.send_headers()
  ngx.flush(true)
  if delay > 0 then ngx.sleep(delay / 1000) end
  local cache, off = {}, 0
  while off < n do
    local c = math.min(chunk, n - off)
    local ok = ngx.print(pattern(off, c, cache))
    if not ok then return ngx.exit(ngx.ERROR) end
    ngx.flush(true)
    off = off + c
    if ms > 0 and off < n then ngx.sleep(ms / 1000) end
  end
end

-- `after` bytes, a pause of `ms`, then "end".
local function stall()
  local after, ms = num("after", 10), num("ms", 1000)
  ngx.status = 200
  ngx.header["Content-Type"] = "text/plain"
  ngx.send_headers()
  if after > 0 then ngx.print(pattern(0, after, {})) end
  ngx.flush(true)
  ngx.sleep(ms / 1000)
  ngx.print("end")
end

-- `after` bytes of a chunked body, then the connection is dropped without the last chunk.
local function reset()
  local after = num("after", 1000)
  ngx.status = 200
  ngx.header["Content-Type"] = "application/octet-stream"
  ngx.send_headers()
  ngx.print(pattern(0, after, {}))
  ngx.flush(true)
  ngx.sleep(0.05)
  return ngx.exit(ngx.ERROR)
end

local function slow_headers()
  ngx.sleep(num("ms", 1000) / 1000)
  ngx.header["Content-Type"] = "text/plain"
  ngx.print("late")
end

local function redirect()
  return ngx.redirect(ngx.var.arg_to or "/__low/echo", 302)
end

local function status()
  local code = num("code", 200)
  ngx.status = code
  ngx.header["Content-Type"] = "text/plain"
  ngx.print("status " .. code)
  return ngx.exit(code)
end

-- A large, compressible body; nginx gzips it in the /__low/gzip/ location.
local GZIP_LINE = "the quick brown fox jumps over the lazy dog 0123456789\n"
local function gzip_text()
  ngx.header["Content-Type"] = "text/plain"
  ngx.print(string.rep(GZIP_LINE, num("lines", 20000)))
end

-- A header block written raw on the socket (obs-folds, repeats, sizes nginx would not send):
-- the request body is the block (lines after the status line, without the blank line);
-- ?big=B adds one header line of B bytes, ?many=N N more "X-Many: i" lines. Body "ok".
local function raw_headers()
  local block = util.body_raw() or ""
  local big, many = num("big", 0), num("many", 0)
  local sock = assert(ngx.req.socket(true))
  local parts = { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n", block }
  if big > 0 then parts[#parts + 1] = "X-Big: " .. string.rep("b", big) .. "\r\n" end
  for i = 1, many do parts[#parts + 1] = "X-Many: " .. i .. "\r\n" end
  parts[#parts + 1] = "\r\nok"
  sock:send(table.concat(parts))
  return ngx.exit(ngx.OK)
end

-- mb MiB of zero bytes in 1 MiB writes; under /__low/gzip/ a gzip bomb (about 1000:1 on the wire).
local function zeros()
  local mib = string.rep("\0", 1048576)
  ngx.header["Content-Type"] = "text/plain"
  for _ = 1, num("mb", 1) do
    if not ngx.print(mib) then return ngx.exit(ngx.ERROR) end
  end
end

local routes = {}
for _, m in ipairs({ "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS" }) do
  routes[#routes + 1] = { m, "/__low/echo", echo }
end
for _, m in ipairs({ "GET", "POST" }) do
  routes[#routes + 1] = { m, "/__low/bytes", bytes }
  routes[#routes + 1] = { m, "/__low/stall", stall }
  routes[#routes + 1] = { m, "/__low/reset", reset }
  routes[#routes + 1] = { m, "/__low/slow_headers", slow_headers }
  routes[#routes + 1] = { m, "/__low/redirect", redirect }
  routes[#routes + 1] = { m, "/__low/status", status }
  routes[#routes + 1] = { m, "/__low/gzip/text", gzip_text }
  routes[#routes + 1] = { m, "/__low/gzip/zeros", zeros }
  routes[#routes + 1] = { m, "/__low/raw_headers", raw_headers }
end
_M.routes = routes

return _M
