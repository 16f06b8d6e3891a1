-- multipart/form-data requests: turns a call's fields into the transport's `parts` list, where a
-- file given by path is streamed from disk by the transport (never read into memory here).
--   file fields:  "/path" (for the operation's file fields), { path = "/path", filename =, type = }
--                 or { data = bytes, filename =, type = }
--   plain fields: strings, numbers, booleans; tables are sent as JSON text
local args = require "coze.args"
local core = require "coze.core"
local errors = require "coze.errors"
local json = require "coze.json"
local url = require "coze.url"

local _M = {}

-- The field that carries the file in every multipart operation of the catalog (files.upload,
-- audio.transcriptions, voices.clone, voiceprint features, speaker_identify).
_M.FILE_FIELD = "file"

-- Misuse raises with args.fail at level 2: two frames above the function that finds it.
local fail = args.fail

-- A multipart boundary: 96 bits of OpenSSL randomness (never math.random, which nginx's workers
-- do not seed, so they would all draw the same ones). libcurl's transport leaves it to curl_mime.
function _M.boundary()
  return "------------------------coze" .. assert(core.random_token(12))
end

local function basename(path)
  return path:match("([^/\\]+)$") or path
end

-- Checks a file is there, readable and regular (a directory, a FIFO or a device is not); returns
-- its size or nil, err. Plain Lua has no stat: a FIFO or a pipe cannot seek, and a character device
-- (/dev/zero, /dev/urandom) or a /proc file says it has 0 bytes yet gives some, which a regular
-- file cannot. Uploading one would stream forever.
local function probe(where, path)
  local f, msg = io.open(path, "rb")
  if not f then
    return nil, errors.new("io", { op = where, path = path, msg = "cannot open file '" .. path .. "': " .. tostring(msg) })
  end
  local first, rerr = f:read(1)
  local size = rerr == nil and f:seek("end") or nil
  f:close()
  if not size then
    return nil, errors.new("io", { op = where, path = path,
      msg = "cannot read file '" .. path .. "': " .. tostring(rerr or "not a regular file (it cannot seek)") })
  end
  if size == 0 and first ~= nil then
    return nil, errors.new("io", { op = where, path = path,
      msg = "cannot upload '" .. path .. "': not a regular file (a device or a generated file)" })
  end
  return size
end
_M.probe = probe

local function opt_string(where, name, t, key)
  local v = t[key]
  if v ~= nil and type(v) ~= "string" then
    fail(where, "field '" .. name .. "." .. key .. "' must be a string", 2)
  end
  return v
end

-- A file part from a file spec, or nil, err when the file cannot be read.
local function file_part(where, name, v)
  if type(v) == "string" then v = { path = v } end
  local path = opt_string(where, name, v, "path")
  local data = v.data
  if data ~= nil and type(data) ~= "string" then
    fail(where, "field '" .. name .. ".data' must be a string", 2)
  end
  if (path == nil) == (data == nil) then
    fail(where, "field '" .. name .. "' needs exactly one of 'path' or 'data'", 2)
  end
  local filename = opt_string(where, name, v, "filename") or opt_string(where, name, v, "file_name")
  local ctype = opt_string(where, name, v, "type") or opt_string(where, name, v, "content_type")
  if filename and filename:find("[%z\r\n\"]") then
    fail(where, "field '" .. name .. ".filename' contains NUL, CR, LF or a double quote", 2)
  end
  if ctype and ctype:find("[%z\r\n]") then
    fail(where, "field '" .. name .. ".type' contains NUL, CR or LF", 2)
  end
  if path then
    if path == "" or path:find("%z") then fail(where, "field '" .. name .. ".path' is not a valid path", 2) end
    local size, err = probe(where, path)
    if not size then return nil, err end
    return { name = name, path = path, filename = filename or basename(path), type = ctype }, size
  end
  return { name = name, data = data, filename = filename or "file", type = ctype }, #data
end

local function field_text(where, name, v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return url.scalar(v, name) end
  if t == "table" then
    local s, err = json.encode(v)
    if not s then fail(where, "field '" .. name .. "' cannot be encoded as JSON: " .. tostring(err), 2) end
    return s
  end
  if t == "userdata" and v == json.null then return "" end
  fail(where, "field '" .. name .. "' must be a string, number, boolean or table (got " .. t .. ")", 2)
end

-- A table given for a field is a file spec when it has `path` or `data`.
local function is_file_spec(v)
  return type(v) == "table" and (v.path ~= nil or v.data ~= nil) and v[1] == nil
end

-- parts(where, fields[, file_fields]) -> parts, payload_bytes | nil, err
-- file_fields: names whose string value is a path (default { file = true }). Field order is sorted
-- by name, file parts last, so the body is the same for the same call.
function _M.parts(where, fields, file_fields)
  file_fields = file_fields or { [_M.FILE_FIELD] = true }
  local names = {}
  for k in pairs(fields or {}) do
    if type(k) ~= "string" then fail(where, "multipart field names must be strings", 2) end
    names[#names + 1] = k
  end
  table.sort(names)
  local plain, files, total = {}, {}, 0
  for _, name in ipairs(names) do
    local v = fields[name]
    if (file_fields[name] and type(v) == "string") or is_file_spec(v) then
      local part, size = file_part(where, name, v)
      if not part then return nil, size end
      files[#files + 1] = part
      total = total + size
    elseif file_fields[name] and type(v) ~= "table" then
      fail(where, "field '" .. name .. "' must be a path or a file table { path = ... } / { data = ... } (got " .. type(v) .. ")", 2)
    else
      local text = field_text(where, name, v)
      plain[#plain + 1] = { name = name, data = text }
      total = total + #text
    end
  end
  for _, p in ipairs(files) do plain[#plain + 1] = p end
  return plain, total
end

-- Call-level shorthands of multipart operations (body = "multipart" in coze.endpoints), applied by
-- coze.resources before the generated method runs:
--   { content = bytes, file_name = "a.txt", content_type = "text/plain" } -> file = { data = ..., ... }
--   { file = io.open(...) } is refused (give a path: the transport streams it from disk).
local SHORTHAND = { content = true, file_name = true, content_type = true }

function _M.normalize(where, opts)
  if type(opts) ~= "table" then return opts end
  if opts.content == nil and opts.file_name == nil and opts.content_type == nil then
    if io.type(opts.file) then
      fail(where, "field 'file' must be a path or a file table, not an open file handle", 2)
    end
    return opts
  end
  if opts.content ~= nil and type(opts.content) ~= "string" then
    fail(where, "field 'content' must be a string", 2)
  end
  if opts.file_name ~= nil and type(opts.file_name) ~= "string" then
    fail(where, "field 'file_name' must be a string", 2)
  end
  if opts.content_type ~= nil and type(opts.content_type) ~= "string" then
    fail(where, "field 'content_type' must be a string", 2)
  end
  local copy = {}
  for k, v in pairs(opts) do
    if not SHORTHAND[k] then copy[k] = v end
  end
  local file = opts.file
  if opts.content ~= nil then
    if file ~= nil then fail(where, "give either 'file' or 'content', not both", 2) end
    copy.file = { data = opts.content, filename = opts.file_name, type = opts.content_type }
  elseif type(file) == "string" then
    copy.file = { path = file, filename = opts.file_name, type = opts.content_type }
  elseif type(file) == "table" then
    local f = {}
    for k, v in pairs(file) do f[k] = v end
    f.filename = f.filename or opts.file_name
    f.type = f.type or opts.content_type
    copy.file = f
  else
    fail(where, "field 'file' or 'content' is required", 2)
  end
  return copy
end

return _M
