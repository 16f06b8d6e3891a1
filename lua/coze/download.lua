-- Binary downloads (an operation with response "binary" answered 2xx with non-JSON bytes): the
-- body goes to a file written as the bytes arrive, to a callback, or into one bounded string.
local errors = require "coze.errors"
local wait = require "coze.wait"

local _M = {}

local function io_error(output, msg)
  return errors.new("io", { path = output, msg = "cannot write file '" .. output .. "': " .. tostring(msg) })
end

-- Whether `output` can be written, asked before the request goes out (a speech call is billed
-- even when its bytes cannot be stored): true | false, err. Leaves the file system as it was: an
-- existing file is opened for appending (not truncated), a new one is created and removed.
function _M.check_output(output)
  local existing = io.open(output, "rb")
  if existing then
    existing:close()
    local f, msg = io.open(output, "ab")
    if not f then return false, io_error(output, msg) end
    f:close()
    return true
  end
  local f, msg = io.open(output, "wb")
  if not f then return false, io_error(output, msg) end
  f:close()
  os.remove(output)
  return true
end

-- receive(h, status, headers, o) -> true, result, meta | false, err. Closes h.
-- o: output (a path; removed when the transfer fails) | on_chunk(bytes) | neither (one string,
-- max_body_bytes applies); wait_ms, on_wait. result: the bytes, or their count with output/on_chunk.
function _M.receive(h, status, headers, o)
  local meta = { http_status = status, logid = headers["x-tt-logid"], headers = headers,
    content_type = headers["content-type"] }
  local output, on_chunk, max_bytes = o.output, o.on_chunk, o.max_body_bytes
  local f, parts, n = nil, nil, 0
  local function fail(err)
    h:close()
    if f then
      f:close()
      os.remove(output)
    end
    if on_chunk and n > 0 then err.partial = true end -- bytes were handed out: never replay
    return false, err
  end
  if output then
    local msg
    f, msg = io.open(output, "wb")
    if not f then return fail(io_error(output, msg)) end
    meta.path = output
  elseif not on_chunk then
    parts = {}
  end
  while true do
    local chunk, err = wait.await(h, "read", o.wait_ms, o.on_wait)
    if chunk == nil then
      if err then return fail(err) end
      break
    end
    if #chunk > 0 then
      if f then
        local ok, werr = f:write(chunk)
        if not ok then return fail(io_error(output, werr)) end
      elseif on_chunk then
        wait.guarded(h, on_chunk, chunk)
      else
        if n + #chunk > max_bytes then
          return fail(errors.new("decode", { msg = "response body exceeds max_body_bytes (" .. max_bytes ..
            "); give 'output' or 'on_chunk' to receive it in pieces" }))
        end
        parts[#parts + 1] = chunk
      end
      n = n + #chunk
      -- each chunk is garbage at once: collect as we go (one step per chunk, as if its bytes were
      -- allocated again), so a long download to a file or callback keeps memory flat
      if not parts then collectgarbage("step", math.ceil(#chunk / 1024)) end
    end
  end
  h:close()
  meta.bytes = n
  if f then
    local ok, cerr = f:close()
    f = nil
    if not ok then
      os.remove(output)
      return false, io_error(output, cerr)
    end
  end
  if parts then return true, table.concat(parts), meta end
  return true, n, meta
end

return _M
