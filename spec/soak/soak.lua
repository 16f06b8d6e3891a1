-- Soak: 10,000 calls and 1,000 streams against the emulator, a third of them faulted; prints RSS and
-- open file descriptors along the way, which must stay flat. Not part of make test: run spec/soak/run.sh.
local coze = require "coze"
local core = require "coze.core"

local base = assert(os.getenv("COZE_EMU_URL"), "COZE_EMU_URL")
local CALLS = tonumber(os.getenv("SOAK_CALLS") or 10000)
local STREAMS = tonumber(os.getenv("SOAK_STREAMS") or 1000)

local function rss_kb()
  local f = io.open("/proc/self/status")
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local function fds()
  local p = io.popen("ls /proc/" .. (os.getenv("SOAK_PID") or "self") .. "/fd | wc -l")
  local n = tonumber(p:read("*a"))
  p:close()
  return n
end

local client = coze.new { token = "pat_soak", base_url = base, retry_base_ms = 1, idle_timeout_ms = 300 }
local conv = assert(client.conversations:create {})

local CALL_FAULTS = { "status;code=503", "429;retry_after=0", "malformed_json", "status;code=502;body=html",
  "json_error;code=4000;msg=bad" }
local STREAM_FAULTS = { "reset;after=3", "no_done", "error_event;after=2;code=4013;msg=x", "truncate;after=2",
  "stall;after=1;ms=1000", "split", "crlf" }

local samples = {}
local function sample(label)
  collectgarbage()
  collectgarbage()
  samples[#samples + 1] = { label, rss_kb(), fds() }
  print(string.format("%-22s rss %6d kB   fds %3d", label, samples[#samples][2], samples[#samples][3]))
end

local ok_calls, failed_calls, ok_streams, failed_streams, events = 0, 0, 0, 0, 0
sample("start")
local t0 = core.monotonic_ms()
for i = 1, CALLS do
  local headers
  if i % 3 == 0 then
    headers = { ["X-Emu-Fault"] = CALL_FAULTS[(i / 3) % #CALL_FAULTS + 1], ["X-Emu-Fault-Key"] = "soak" .. i }
  end
  local res = client.conversations:retrieve { conversation_id = conv.id, headers = headers, max_retries = 0 }
  if res then ok_calls = ok_calls + 1 else failed_calls = failed_calls + 1 end
  if i % (CALLS / 4) == 0 then sample("calls " .. i) end
end
for i = 1, STREAMS do
  local headers = { ["X-Emu-Deltas"] = "20" }
  if i % 3 == 0 then headers["X-Emu-Fault"] = STREAM_FAULTS[(i / 3) % #STREAM_FAULTS + 1] end
  local stream = client.chat:stream { bot_id = "b", user_id = "u", headers = headers,
    additional_messages = { coze.message.user_text("soak " .. i) } }
  if stream then
    local ev, err
    repeat
      ev, err = stream:next()
      if ev then events = events + 1 end
    until not ev
    if err then failed_streams = failed_streams + 1 else ok_streams = ok_streams + 1 end
    if i % 7 == 0 then stream:close() end
  else
    failed_streams = failed_streams + 1
  end
  if i % (STREAMS / 4) == 0 then sample("streams " .. i) end
end
local secs = (core.monotonic_ms() - t0) / 1000
client:close()
sample("end")
print(string.format("calls: %d ok, %d failed; streams: %d ok, %d failed; %d events; %.1f s",
  ok_calls, failed_calls, ok_streams, failed_streams, events, secs))
local first, last = samples[2], samples[#samples]
local flat = last[2] - first[2] < 4096 and last[3] <= first[3] + 1
print(flat and "FLAT: RSS and fds did not grow" or "GREW: RSS or fds grew (see above)")
os.exit(flat and 0 or 1)
