-- N sequential conversations:retrieve calls on one client (one connection cache).
--   lua retrieve.lua URL N CONVERSATION_ID
-- Prints "calls=<n> ok=<ok> conns=<distinct local ports seen, i.e. TCP connections used>".
local base_url, n, conv_id = arg[1], tonumber(arg[2]), arg[3]
local coze = require "coze"
local client = coze.new { token = "pat_bench", base_url = base_url }
-- Count the connections: remember each transfer's local port (handle:info()) when it is closed.
local ports, nports = {}, 0
local transport = client.transport
local request = transport.request
function transport.request(t, req)
  local h, err = request(t, req)
  if h then
    local close = h.close
    function h.close(hh)
      local port = hh:info().local_port
      if port and not ports[port] then ports[port] = true; nports = nports + 1 end
      return close(hh)
    end
  end
  return h, err
end
local ok = 0
for _ = 1, n do
  local conv, err = client.conversations:retrieve { conversation_id = conv_id }
  if not conv then error(tostring(err)) end
  if conv.id == conv_id then ok = ok + 1 end
end
client:close()
io.write(string.format("calls=%d ok=%d conns=%d\n", n, ok, nports))
if ok ~= n then os.exit(1) end
