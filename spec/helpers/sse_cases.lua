-- Chat stream bodies byte for byte, for the specs of stream:raw_chunks() and coze.ngx.relay's fast
-- path (spec/raw_chunks_spec.lua, and spec/openresty/app.lua's /relay_bytes for the nginx side).
-- Each case: body (as the server sends it), out (what a relay forwards of it: the body without a
-- leading BOM, with a closing blank line after a last record the body left open), err (the error
-- kind the stream ends with, or nil), code (its code for api errors).
local _M = {}

local function lines(eol, t)
  return (table.concat(t):gsub("\n", eol))
end

local CREATED = 'event: conversation.chat.created\ndata: {"id":"c1","conversation_id":"v1"}\n\n'
local DELTA = 'event: conversation.message.delta\ndata: {"content":"hi"}\n\n'
local DONE = 'event: done\ndata: "[DONE]"\n\n'

local function plain(eol)
  return lines(eol, { CREATED, DELTA, DELTA, DELTA, DONE })
end

_M.cases = {
  lf = { body = plain("\n") },
  crlf = { body = plain("\r\n") },
  cr = { body = plain("\r") },
  -- comments, an id, a retry, a two-line data, a record with no event field, a blank-only record
  extras = { body = table.concat {
    ": hello\n\n", CREATED, "id: 7\nretry: 100\n", DELTA, "\n\n",
    'event: conversation.message.delta\ndata: {"content":\ndata: "two lines"}\n\n',
    'data: {"nameless":true}\n\n', ": keep-alive\n\n", DONE } },
  bom = { body = "\239\187\191" .. plain("\n"), out = plain("\n") },
  -- the last record without its blank line (the emulator's eof_no_newline)
  eof_open = { body = CREATED .. DELTA .. 'event: done\ndata: "[DONE]"\n',
    out = CREATED .. DELTA .. 'event: done\ndata: "[DONE]"\n\n' },
  error_event = { body = CREATED .. DELTA .. 'event: error\ndata: {"code":4013,"msg":"bad"}\n\n',
    err = "api", code = 4013 },
  chat_failed = { body = CREATED .. DELTA
      .. 'event: conversation.chat.failed\ndata: {"id":"c1","last_error":{"code":5000,"msg":"boom"}}\n\n',
    after = DONE, err = "api", code = 5000 },
  no_done = { body = CREATED .. DELTA .. DELTA, err = "stream" },
  cut = { body = CREATED .. DELTA, after = 'event: conversation.message.delta\ndata: {"cont', err = "stream" },
}

-- The body the server sends (a case's `after` is sent, never forwarded) and what a relay forwards.
function _M.body(c) return c.body .. (c.after or "") end
function _M.out(c) return c.out or c.body end

-- body in pieces of `step` bytes (nil: whole)
function _M.pieces(body, step)
  if not step then return { body } end
  local t = {}
  for i = 1, #body, step do t[#t + 1] = body:sub(i, i + step - 1) end
  return t
end

-- A transport handle over pieces (unit specs of the Lua layer and the nginx handler's byte cases):
-- read_into feeds one piece per call (h.reads counts them); with gaps, every other call first says
-- "nothing yet" (false), so that on_wait runs between pieces.
function _M.handle(pieces, gaps)
  local i, pending = 0, false
  local h = { closed = false, reads = 0 }
  function h:read_into(parser)
    if gaps and not pending then
      pending = true
      return false
    end
    pending = false
    i = i + 1
    local c = pieces[i]
    if c == nil then return nil end
    self.reads = self.reads + 1
    parser:feed(c)
    return true
  end
  function h:read()
    i = i + 1
    return pieces[i]
  end
  function h:close() self.closed = true end
  return h
end

return _M
