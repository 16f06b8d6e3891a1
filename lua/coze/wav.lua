-- Reading 16-bit (or other) PCM out of a WAV file without loading it: the header is checked and the
-- file position left at the first sample of the data chunk.
local _M = {}

local function u16(s, i)
  local a, b = s:byte(i, i + 1)
  return a + b * 256
end

local function u32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return a + b * 256 + c * 65536 + d * 16777216
end

-- f: a file at position 0. Returns { sample_rate, channels, bit_depth, data_bytes } with f at the
-- samples, false when the file is not RIFF/WAVE (f rewound: raw PCM), or nil, msg for a broken header.
function _M.read_header(f)
  local riff = f:read(12)
  if not riff or #riff < 12 or riff:sub(1, 4) ~= "RIFF" or riff:sub(9, 12) ~= "WAVE" then
    f:seek("set", 0)
    return false
  end
  local fmt
  while true do
    local h = f:read(8)
    if not h or #h < 8 then return nil, "WAV file without a data chunk" end
    local id, size = h:sub(1, 4), u32(h, 5)
    if id == "fmt " then
      if size < 16 then return nil, "WAV fmt chunk shorter than 16 bytes" end
      local b = f:read(size + size % 2)
      if not b or #b < size then return nil, "truncated WAV fmt chunk" end
      local format = u16(b, 1)
      if format == 0xFFFE and size >= 26 then format = u16(b, 25) end -- WAVE_FORMAT_EXTENSIBLE
      if format ~= 1 then return nil, "WAV file is not PCM (format " .. format .. ")" end
      fmt = { channels = u16(b, 3), sample_rate = u32(b, 5), bit_depth = u16(b, 15) }
      if fmt.channels < 1 or fmt.sample_rate < 1 or fmt.bit_depth < 8 or fmt.bit_depth % 8 ~= 0 then
        return nil, "WAV fmt chunk with impossible values"
      end
    elseif id == "data" then
      if not fmt then return nil, "WAV data chunk before the fmt chunk" end
      fmt.data_bytes = size
      return fmt
    else
      f:seek("cur", size + size % 2)
    end
  end
end

-- A 16-byte fmt + data header for n bytes of PCM (the example writes reply audio with it).
function _M.header(sample_rate, channels, bit_depth, n)
  local function le(v, bytes)
    local t = {}
    for i = 1, bytes do
      t[i] = string.char(v % 256)
      v = math.floor(v / 256)
    end
    return table.concat(t)
  end
  local block = channels * bit_depth / 8
  return "RIFF" .. le(36 + n, 4) .. "WAVEfmt " .. le(16, 4) .. le(1, 2) .. le(channels, 2) ..
    le(sample_rate, 4) .. le(sample_rate * block, 4) .. le(block, 2) .. le(bit_depth, 2) .. "data" .. le(n, 4)
end

return _M
