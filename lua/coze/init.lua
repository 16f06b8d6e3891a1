-- lua-coze: the Coze open API for Lua.  local coze = require "coze"
local client = require "coze.client"

local _M = {
  _VERSION = require "coze.version",
  CN_BASE_URL = client.CN_BASE_URL,
  COM_BASE_URL = client.COM_BASE_URL,
  new = client.new,
  errors = require "coze.errors",
  message = require "coze.message",
  auth = require "coze.auth",
  events = require "coze.events",
  scheduler = require("coze.scheduler").new,
}

return _M
