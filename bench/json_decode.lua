-- Decodes 1,000,000 chat delta payloads with cjson.decode and with core.json_decode; prints the
-- CPU seconds (os.clock) spent decoding with each.
--   LUA_CPATH="build/?.so;;" lua5.4 bench/json_decode.lua [count]
--   LUA_CPATH="build/luajit/?.so;;" luajit bench/json_decode.lua [count]
local cjson = require "cjson"
local core = require "coze.core"

local N = tonumber(arg and arg[1]) or 1000000
local words = {"hello ", "world", "，", "的", "Lua ", "\\n", "JSON", "coze", "stream", "😀", "delta",
               "\\\"quoted\\\" ", "x"}

local BATCH = 10000 -- payloads are built a batch at a time, untimed: a stream's strings are
                    -- fresh, and holding 1,000,000 of them would make the run a GC benchmark

local function payload(i)
  return '{"id":"' .. (7390029769854844001 + i) ..
    '","conversation_id":"739002976985482001","bot_id":"732868101392695001","role":"assistant",' ..
    '"type":"answer","content":"' .. words[i % #words + 1] .. words[(i * 7) % #words + 1] ..
    '","content_type":"text","chat_id":"7390029769854844001","section_id":"7390029769854820001",' ..
    '"created_at":' .. (1760167093 + i % 1000) .. '}'
end

local function run(name, decode)
  local payloads, chars, dt = {}, 0, 0
  collectgarbage()
  collectgarbage()
  for first = 1, N, BATCH do
    local n = math.min(BATCH, N - first + 1)
    for k = 1, n do payloads[k] = payload(first + k - 1) end
    local t0 = os.clock()
    for k = 1, n do
      local v = decode(payloads[k])
      chars = chars + #v.content
    end
    dt = dt + os.clock() - t0
  end
  print(string.format("%-18s %8.3f s CPU  %6.0f ns/event  (%d content bytes)", name, dt, dt / N * 1e9, chars))
  return dt
end

print(string.format("%s, %d delta payloads of ~%d bytes", jit and jit.version or _VERSION, N, #payload(1)))
-- the same answer from both before timing
local a, b = cjson.decode(payload(5)), core.json_decode(payload(5))
for k, v in pairs(a) do assert(b[k] == v, k) end

local tc = run("cjson.decode", cjson.decode)
local to = run("core.json_decode", core.json_decode)
print(string.format("speed-up %.2fx", tc / to))
