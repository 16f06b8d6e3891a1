-- Audio: POST /v1/audio/speech answers raw audio bytes; the multipart operations (transcriptions,
-- voices/clone, voiceprint features create/update, speaker_identify) parse their form and echo it.
--
-- Speech body: input*, voice_id*, response_format (mp3 -> audio/mpeg (default), wav, pcm, ogg_opus).
-- The byte at offset o of the audio is string.char(o % 256) (NULs included), so specs rebuild it.
-- Request headers:
--   X-Emu-Audio-Bytes: N          audio size (default 4096)
--   X-Emu-Audio-Chunk: N          bytes per write (default 65536), each flushed
--   X-Emu-Audio-Reset-After: N    abort the connection after N bytes (no terminating chunk)
-- voice_id "voice_unknown" -> HTTP 200 with a JSON error envelope (4200) instead of audio.
-- Multipart answers carry the test-only `emu_parts` = [{name, filename, type, length, md5, value}].
local util = require "emu.util"
local store = require "emu.store"
local auth = require "emu.auth_check"
local files = require "emu.files"

local _M = {}

local BLOCK = {}
for i = 0, 255 do BLOCK[#BLOCK + 1] = string.char(i) end
BLOCK = table.concat(BLOCK)

local TYPES = { mp3 = "audio/mpeg", wav = "audio/wav", pcm = "audio/pcm", ogg_opus = "audio/ogg" }

local function header_num(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = v[1] end
  return tonumber(v)
end

local function speech()
  auth.check()
  local body = util.body_json()
  if type(body) ~= "table" then return util.fail(4000, "请求参数错误: body is not a JSON object") end
  if type(body.input) ~= "string" or body.input == "" or type(body.voice_id) ~= "string" or body.voice_id == "" then
    return util.fail(4000, "请求参数错误: input and voice_id are required")
  end
  if body.voice_id == "voice_unknown" then return util.fail(4200, "资源未找到: voice " .. body.voice_id) end
  local ctype = TYPES[body.response_format or "mp3"]
  if not ctype then return util.fail(4000, "请求参数错误: response_format " .. tostring(body.response_format)) end
  local n = header_num("x-emu-audio-bytes") or 4096
  local chunk = math.max(1, header_num("x-emu-audio-chunk") or 65536)
  local cut = header_num("x-emu-audio-reset-after")
  util.request_logid()
  ngx.status = 200
  ngx.header["Content-Type"] = ctype
  if not cut then ngx.header["Content-Length"] = n end
  ngx.send_headers()
  local big = string.rep(BLOCK, math.ceil((chunk + 256) / 256))
  local off = 0
  while off < n do
    local c = math.min(chunk, n - off)
    if cut and off + c > cut then c = cut - off end
    if c > 0 then
      local start = off % 256 + 1
      if not ngx.print(big:sub(start, start + c - 1)) then return ngx.exit(ngx.ERROR) end
      if not ngx.flush(true) then return ngx.exit(ngx.ERROR) end
      off = off + c
    end
    if cut and off >= cut then
      ngx.sleep(0.05)
      return ngx.exit(ngx.ERROR)
    end
  end
end

-- A multipart operation: the form must have a file `file` (unless optional), answer data + emu_parts.
local function multipart_op(make, file_optional)
  return function(params)
    auth.check()
    local parts = files.parts_or_fail()
    local fs = files.files_named(parts, "file")
    if #fs == 0 and not file_optional then return util.fail(4000, "请求参数错误: the form has no file field 'file'") end
    if #fs > 1 then return util.fail(4301, "文件上传时超过一个") end
    local fields = {}
    for _, p in ipairs(parts) do
      if p.filename == nil then fields[p.name] = p.value end
    end
    local data = make(fs[1], fields, params)
    data.emu_parts = files.describe(parts)
    return util.ok(data)
  end
end

local function need(fields, names)
  for _, n in ipairs(names) do
    if fields[n] == nil or fields[n] == "" then return util.fail(4000, "请求参数错误: field '" .. n .. "' is required") end
  end
end

_M.routes = {
  { "POST", "/v1/audio/speech", speech },
  { "POST", "/v1/audio/transcriptions", multipart_op(function(f)
      return { text = "transcript of " .. tostring(f.filename) .. " (" .. f.length .. " bytes)" }
    end) },
  { "POST", "/v1/audio/voices/clone", multipart_op(function(_, fields)
      need(fields, { "voice_name", "audio_format" })
      return { voice_id = store.new_id() }
    end) },
  { "POST", "/v1/audio/voiceprint_groups/{group_id}/features", multipart_op(function(_, fields)
      need(fields, { "name" })
      return { id = store.new_id() }
    end) },
  { "PUT", "/v1/audio/voiceprint_groups/{group_id}/features/{feature_id}", multipart_op(function()
      return {}
    end, true) },
  { "POST", "/v1/audio/voiceprint_groups/{group_id}/speaker_identify", multipart_op(function(_, fields, params)
      return { feature_score_list = { { feature_id = "7390029769854844999", feature_name = "speaker",
        score = 0.93, group_id = params.group_id, top_k = tonumber(fields.top_k) } } }
    end) },
}

return _M
