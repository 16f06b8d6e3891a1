-- JSON through lua-cjson, on a private instance so our settings never change the caller's cjson.
local cjson = require "cjson"

local _M = {}

local codec = cjson.new()
codec.encode_sparse_array(true)
codec.decode_max_depth(1000)
codec.encode_max_depth(1000)

_M.null = cjson.null

local decode, encode = codec.decode, codec.encode

function _M.decode(s)
  local ok, v = pcall(decode, s)
  if ok then return v end
  return nil, tostring(v)
end

function _M.encode(v)
  local ok, s = pcall(encode, v)
  if ok then return s end
  return nil, tostring(s)
end

return _M
