-- Memory readings for the specs that check a transfer stays out of memory.
local _M = {}

-- Resident set size and its peak (VmHWM) in kB.
function _M.rss_kb()
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")), tonumber(s:match("VmHWM:%s*(%d+)"))
end

-- Resets VmHWM to the current RSS (Linux: "5" > /proc/self/clear_refs), so it measures the transfer.
function _M.reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  if not f then return false end
  local ok = f:write("5")
  return (f:close() and ok) and true or false
end

local function under_valgrind()
  local f = io.open("/proc/self/maps", "r")
  if not f then return false end
  local maps = f:read("*a")
  f:close()
  return maps:find("vgpreload", 1, true) ~= nil
end

-- True under AddressSanitizer (make sanitize) or valgrind, where RSS says nothing useful.
function _M.instrumented()
  return os.getenv("COZE_SANITIZE") ~= nil or under_valgrind()
end

-- How much time limits stretch: 10 under the sanitizers (make sanitize), 30 under valgrind.
function _M.slow_factor()
  if os.getenv("COZE_SANITIZE") then return 10 end
  return under_valgrind() and 30 or 1
end

return _M
