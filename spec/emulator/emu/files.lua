-- Files: POST /v1/files/upload (multipart, field `file`) and GET /v1/files/retrieve?file_id=.
-- The File object carries, next to the real fields (id, bytes, file_name, created_at), the test-only
-- `md5` (hex) and `content_type` of the bytes received, so specs can check what arrived.
-- Also the multipart splitter the other multipart handlers share (emu.audio): it works on positions
-- in the body and hashes the parts in place (libcrypto via FFI), so a 200 MB upload is not copied.
local ffi = require "ffi"
local util = require "emu.util"
local store = require "emu.store"
local auth = require "emu.auth_check"
local cjson = util.json

local _M = {}
local dict = ngx.shared.emu

local C = require "emu.libcrypto"

local HEX = {}
for i = 0, 255 do HEX[i] = string.format("%02x", i) end

-- md5 (hex) of s:sub(i, j), without making the substring.
local function md5_range(s, i, j)
  local n = j - i + 1
  if n <= 0 then return ngx.md5("") end
  local md, len = ffi.new("unsigned char[16]"), ffi.new("unsigned int[1]")
  local p = ffi.cast("const char *", s) + (i - 1)
  assert(C.EVP_Digest(p, n, md, len, C.EVP_md5(), nil) == 1, "EVP_Digest failed")
  local out = {}
  for k = 0, 15 do out[k + 1] = HEX[md[k]] end
  return table.concat(out)
end
_M.md5_range = md5_range

local SMALL = 65536

-- Splits a multipart/form-data body: { {name, filename, type, length, md5, value (<= 64 KiB)}, ... }
-- or nil, msg.
function _M.multipart(body, ctype)
  local boundary = ctype:match('boundary="([^"]+)"') or ctype:match("boundary=([^;%s]+)")
  if not boundary then return nil, "no boundary in Content-Type" end
  local delim = "--" .. boundary
  local parts = {}
  local pos = body:find(delim, 1, true)
  if not pos then return nil, "no boundary in the body" end
  while pos do
    local hstart = pos + #delim
    if body:sub(hstart, hstart + 1) == "--" then return parts end
    hstart = hstart + 2
    local hend = body:find("\r\n\r\n", hstart, true)
    if not hend then return nil, "part headers do not end" end
    local head = body:sub(hstart, hend - 1)
    local dstart = hend + 4
    local nextpos = body:find("\r\n" .. delim, dstart, true)
    if not nextpos then return nil, "part does not end with the boundary" end
    local disp = head:match("[Cc]ontent%-[Dd]isposition:%s*([^\r\n]*)") or ""
    local len = nextpos - dstart
    parts[#parts + 1] = {
      name = disp:match('[; ]name="([^"]*)"'),
      filename = disp:match('filename="([^"]*)"'),
      type = head:match("[Cc]ontent%-[Tt]ype:%s*([^\r\n]*)"),
      length = len,
      md5 = md5_range(body, dstart, nextpos - 1),
      value = len <= SMALL and body:sub(dstart, nextpos - 1) or nil,
    }
    pos = nextpos + 2
  end
  return nil, "no closing boundary"
end

-- The parts of this request, or ends it with a 4000 envelope.
function _M.parts_or_fail()
  local ctype = ngx.var.content_type or ""
  if not ctype:lower():find("multipart/form-data", 1, true) then
    return util.fail(4000, "请求参数错误: expected multipart/form-data, got '" .. ctype .. "'")
  end
  local parts, err = _M.multipart(util.body_raw(), ctype)
  if not parts then return util.fail(4000, "请求参数错误: malformed multipart body (" .. err .. ")") end
  return parts
end

-- Parts without their (possibly large) values, for echoing; small plain fields keep `value`.
function _M.describe(parts)
  local out = {}
  for i, p in ipairs(parts) do
    out[i] = { name = p.name, filename = p.filename, type = p.type, length = p.length, md5 = p.md5,
      value = p.filename == nil and p.value or nil }
  end
  return out
end

-- The file parts named `name`.
function _M.files_named(parts, name)
  local out = {}
  for _, p in ipairs(parts) do
    if p.name == name and p.filename ~= nil then out[#out + 1] = p end
  end
  return out
end

local function upload()
  auth.check()
  local parts = _M.parts_or_fail()
  local files = _M.files_named(parts, "file")
  if #files == 0 then return util.fail(4000, "请求参数错误: the form has no file field 'file'") end
  if #files > 1 then return util.fail(4301, "文件上传时超过一个") end
  local p = files[1]
  local file = {
    id = store.new_id(), bytes = p.length, file_name = p.filename, created_at = ngx.time(),
    md5 = p.md5, content_type = p.type,
  }
  dict:set("file:" .. file.id, cjson.encode(file))
  return util.ok(file)
end

local function retrieve()
  auth.check()
  local id = ngx.var.arg_file_id
  local raw = id and dict:get("file:" .. id)
  if not raw then return util.fail(4200, "资源未找到: file " .. tostring(id)) end
  return util.ok_raw(raw)
end

_M.routes = {
  { "POST", "/v1/files/upload", upload },
  { "GET", "/v1/files/retrieve", retrieve },
}

return _M
