-- Turns bench/run.sh's raw measurements into the one results table (markdown on stdout).
--   lua5.4 report.lua RESULTS.tsv FACTS.tsv PROFILE.txt BIG SMALL CALLS LAT_EVENTS CONC CONC_EACH LAT_INTERVAL_MS
-- RESULTS.tsv rows: key, run, cpu_s, wall_s, rss_kb, ok (1/0), client stdout (tabs/newlines as spaces).
local res_file, facts_file, profile_file = arg[1], arg[2], arg[3]
local BIG, SMALL, CALLS, LAT_EVENTS, CONC, CONC_EACH, LAT_MS =
  tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]), tonumber(arg[7]), tonumber(arg[8]), tonumber(arg[9]),
  tonumber(arg[10])

local function split(line)
  local t = {}
  for f in (line .. "\t"):gmatch("([^\t]*)\t") do t[#t + 1] = f end
  return t
end

local runs, order = {}, {}
for line in io.lines(res_file) do
  local f = split(line)
  if f[1] ~= "" then
    local key = f[1]
    if not runs[key] then runs[key] = {}; order[#order + 1] = key end
    local r = { run = tonumber(f[2]), cpu = tonumber(f[3]), wall = tonumber(f[4]), rss = tonumber(f[5]), ok = f[6] == "1",
      out = f[7] or "" }
    r.conns = tonumber(r.out:match("conns=(%d+)"))
    if key == "s2.curl" then -- curl -w '%{num_connects}' per transfer: the sum
      local sum = 0
      for d in r.out:gmatch("%d+") do sum = sum + tonumber(d) end
      r.conns = sum
    end
    r.median_us = tonumber(r.out:match("median_us=([%d%.]+)"))
    r.p99_us = tonumber(r.out:match("p99_us=([%d%.]+)"))
    r.max_us = tonumber(r.out:match("max_us=([%d%.]+)"))
    r.floor_tables = tonumber(r.out:match("floor%-tables ([%d%.]+)"))
    r.floor_strings = tonumber(r.out:match("floor%-strings ([%d%.]+)"))
    table.insert(runs[key], r)
  end
end

local function median(list)
  if #list == 0 then return nil end
  table.sort(list)
  local n = #list
  if n % 2 == 1 then return list[(n + 1) // 2] end
  return (list[n // 2] + list[n // 2 + 1]) / 2
end

-- m[key] = { cpu, wall, rss (MB), ok (all runs), n, median_us, p99_us } medians over the runs
local m = {}
for key, list in pairs(runs) do
  local agg = { ok = true, n = #list }
  for _, field in ipairs({ "cpu", "wall", "rss", "median_us", "p99_us", "max_us", "conns", "floor_tables",
    "floor_strings" }) do
    local vals = {}
    for _, r in ipairs(list) do if r[field] then vals[#vals + 1] = r[field] end end
    agg[field] = median(vals)
  end
  for _, r in ipairs(list) do if not r.ok then agg.ok = false end end
  if agg.rss then agg.rss = agg.rss / 1024 end
  m[key] = agg
end

-- The median of the per-run ratios a/b of a field, over the runs both keys have: scenario 1 runs
-- its clients round by round, so each pair was measured side by side.
local function paired(ka, kb, field)
  local by_run, vals = {}, {}
  for _, r in ipairs(runs[kb] or {}) do by_run[r.run] = r[field or "cpu"] end
  for _, r in ipairs(runs[ka] or {}) do
    local b = by_run[r.run]
    if r[field or "cpu"] and b and b > 0 then vals[#vals + 1] = r[field or "cpu"] / b end
  end
  return median(vals)
end

local function fmt(v, pat) if v == nil then return "-" end return string.format(pat or "%.3f", v) end
local function mark(ok) if ok == nil then return "n/a" end return ok and "**met**" or "**MISSED**" end

local rows = {}
local function row(scn, client, key, unit, goals)
  local r = m[key]
  if not r then rows[#rows + 1] = { scn, client, "-", "-", "-", "not run", goals or "" }; return end
  local failed = r.ok and "" or " (FAILED run)"
  rows[#rows + 1] = { scn, client, fmt(r.cpu, "%.3f"), fmt(r.wall, "%.3f"), fmt(r.rss, "%.1f"), (unit or "") .. failed,
    goals or "" }
end

local function goal(label, value, target, cmp, vfmt)
  if value == nil then return label .. " n/a" end
  local ok
  if cmp == "<=" then ok = value <= target else ok = value < target end
  return string.format("%s %s (goal %s %s) %s", label, string.format(vfmt or "%.2fx", value), cmp,
    string.format(vfmt or "%.2fx", target), mark(ok)), ok
end

local summary = {}
local function track(text, ok)
  if ok ~= nil then summary[#summary + 1] = { text = text, ok = ok } end
  return text
end

local function ns_per(key, n)
  local r = m[key]
  if r and r.cpu then return string.format("%.0f ns CPU/event", r.cpu / n * 1e9) end
end

-- ---- scenario 1 ----
local s1 = "1. stream " .. BIG .. " deltas"
local curl_cpu = m["s1.curl." .. BIG] and m["s1.curl." .. BIG].cpu
row(s1, "curl -sN > /dev/null (floor)", "s1.curl." .. BIG, ns_per("s1.curl." .. BIG, BIG))
do -- the interpreter's own floor: not a client, its CPU column is the whole floor.lua process
  local f = m["s1.floor"]
  local curl_ns = curl_cpu and curl_cpu / BIG * 1e9
  local unit, info
  if f and f.floor_tables then
    unit = string.format("tables %.0f ns, strings %.0f ns per event", f.floor_tables, f.floor_strings)
    if curl_ns then
      info = string.format("alone, the tables are %.2fx and the strings %.2fx curl's whole CPU per event (not a goal)",
        f.floor_tables / curl_ns, f.floor_strings / curl_ns)
    end
  end
  row(s1, "Lua 5.4 floor: a fresh { event, raw } table + metatable / raw string per event, nothing else (bench/floor.c)",
    "s1.floor", unit, info)
end
for _, vm in ipairs({ "lua54", "luajit" }) do
  local vmname = vm == "lua54" and "Lua 5.4" or "LuaJIT"
  for _, mode in ipairs({ "relay", "relay-raw", "relay-chunks", "decoded" }) do
    local key = "s1." .. vm .. "." .. mode .. "." .. BIG
    local small = "s1." .. vm .. "." .. mode .. "." .. SMALL
    local gl = {}
    local t, ok
    local vs_node, vs_curl = paired(key, "s1.node." .. BIG), paired(key, "s1.curl." .. BIG)
    if mode == "relay-chunks" then -- stream:raw_chunks(): the bytes of whole events, no per-event object
      t, ok = goal("CPU vs curl", vs_curl, 1.5, "<=")
      gl[#gl + 1] = track(vmname .. " " .. mode .. ": " .. t, ok)
    elseif mode ~= "decoded" then -- relay, and relay-raw (stream:raw_events(), no table per event)
      t, ok = goal("CPU vs @coze/api", vs_node, 0.10, "<=")
      gl[#gl + 1] = track(vmname .. " " .. mode .. ": " .. t, ok)
      t, ok = goal("CPU vs curl", vs_curl, 4.0, "<=")
      gl[#gl + 1] = track(vmname .. " " .. mode .. ": " .. t, ok)
    else
      t, ok = goal("CPU vs @coze/api", vs_node, 0.50, "<=")
      gl[#gl + 1] = track(vmname .. " decoded: " .. t, ok)
    end
    local rss_big, rss_small = m[key] and m[key].rss, m[small] and m[small].rss
    if rss_big and rss_small then
      t, ok = goal("peak RSS", math.max(rss_big, rss_small), 20, "<", "%.1f MB")
      gl[#gl + 1] = track(vmname .. " " .. mode .. ": " .. t, ok)
      t, ok = goal("RSS " .. BIG .. "/" .. SMALL .. " events", rss_big / rss_small, 1.2, "<=")
      gl[#gl + 1] = track(vmname .. " " .. mode .. ": " .. t, ok)
    end
    local client = string.format("lua-coze %s, %s", vmname, mode == "relay" and "relay (ev.event, ev.raw)"
      or mode == "relay-raw" and "relay-raw (raw_events: name, raw)"
      or mode == "relay-chunks" and "relay-chunks (raw_chunks: whole events as received)" or "decoded (ev.data.content)")
    row(s1, client, key, ns_per(key, BIG), table.concat(gl, "; "))
  end
end
for _, vm in ipairs({ "lua54", "luajit" }) do -- workflow streams against chat streams, side by side
  local key = "s1." .. vm .. ".wf-relay." .. BIG
  local vs_chat = paired(key, "s1." .. vm .. ".relay." .. BIG)
  row(s1, string.format("lua-coze %s, relay of a workflow stream (Message events)", vm == "lua54" and "Lua 5.4" or "LuaJIT"),
    key, ns_per(key, BIG), vs_chat and string.format("CPU vs the chat relay %.2fx (not a goal)", vs_chat) or "")
end
row(s1, "@coze/api (chunk.event, chunk.data.content)", "s1.node." .. BIG, ns_per("s1.node." .. BIG, BIG))

local s1s = "1. stream " .. SMALL .. " deltas (RSS)"
row(s1s, "curl -sN > /dev/null (floor)", "s1.curl." .. SMALL)
for _, vm in ipairs({ "lua54", "luajit" }) do
  for _, mode in ipairs({ "relay", "relay-raw", "relay-chunks", "decoded" }) do
    row(s1s, string.format("lua-coze %s, %s", vm == "lua54" and "Lua 5.4" or "LuaJIT", mode),
      "s1." .. vm .. "." .. mode .. "." .. SMALL)
  end
end
row(s1s, "@coze/api", "s1.node." .. SMALL)

-- ---- scenario 2 ----
local s2 = "2. " .. CALLS .. " x conversations:retrieve"
local function per_call(key)
  local r = m[key]
  if not r then return nil end
  local s = string.format("%.0f us/call wall", r.wall / CALLS * 1e6)
  if r.conns then s = s .. string.format(", %d TCP conn", r.conns) end
  return s
end
row(s2, "curl -K (one process, " .. CALLS .. " urls)", "s2.curl", per_call("s2.curl"))
for _, vm in ipairs({ "lua54", "luajit" }) do
  local vmname = vm == "lua54" and "Lua 5.4" or "LuaJIT"
  local key = "s2." .. vm
  local gl = {}
  local t, ok = goal("wall vs @coze/api", paired(key, "s2.node", "wall"), 1 / 3, "<=")
  gl[#gl + 1] = track(vmname .. " retrieve: " .. t, ok)
  t, ok = goal("wall vs curl", paired(key, "s2.curl", "wall"), 1.3, "<=")
  gl[#gl + 1] = track(vmname .. " retrieve: " .. t, ok)
  row(s2, "lua-coze " .. vmname, key, per_call(key), table.concat(gl, "; "))
end
row(s2, "@coze/api", "s2.node", per_call("s2.node"))

-- ---- scenario 3 ----
local s3 = string.format("3. latency, %d events %d ms apart", LAT_EVENTS, LAT_MS)
for _, c in ipairs({ { "s3.lua54", "lua-coze Lua 5.4 (stream:next)" }, { "s3.luajit", "lua-coze LuaJIT" },
  { "s3.node", "@coze/api (for await)" } }) do
  local r = m[c[1]]
  local unit = r and string.format("median %s us, p99 %s us, max %s us", fmt(r.median_us, "%.0f"),
    fmt(r.p99_us, "%.0f"), fmt(r.max_us, "%.0f"))
  local gl = ""
  if c[1] ~= "s3.node" and r then
    local t, ok = goal("median", r.median_us, 1000, "<", "%.0f us")
    gl = track((c[1] == "s3.lua54" and "Lua 5.4" or "LuaJIT") .. " latency: " .. t, ok)
  end
  row(s3, c[2], c[1], unit, gl)
end

-- ---- scenario 4 ----
local total = CONC * CONC_EACH
local s4 = string.format("4. %d coroutine streams x %d vs 1 x %d", CONC, CONC_EACH, total)
for _, vm in ipairs({ "lua54", "luajit" }) do
  local vmname = vm == "lua54" and "Lua 5.4" or "LuaJIT"
  row(s4, string.format("lua-coze %s, 1 stream x %d", vmname, total), "s4." .. vm .. ".single",
    ns_per("s4." .. vm .. ".single", total))
  local t, ok = goal("CPU/event vs 1 stream", paired("s4." .. vm .. ".conc", "s4." .. vm .. ".single"), 1.5, "<=")
  row(s4, string.format("lua-coze %s, %d streams x %d", vmname, CONC, CONC_EACH), "s4." .. vm .. ".conc",
    ns_per("s4." .. vm .. ".conc", total), track(vmname .. " concurrency: " .. t, ok))
end

-- ---- scenario 5 ----
local s5 = string.format("5. coze.scheduler: %d idle tasks; %d streams x %d", CONC, CONC, CONC_EACH)
for _, vm in ipairs({ "lua54", "luajit" }) do
  local vmname = vm == "lua54" and "Lua 5.4" or "LuaJIT"
  local key = "s5." .. vm .. ".idle"
  local r = m[key]
  local unit = r and string.format("step median %s us, p99 %s us, max %s us", fmt(r.median_us, "%.0f"),
    fmt(r.p99_us, "%.0f"), fmt(r.max_us, "%.0f"))
  local t, ok = goal("step median", r and r.median_us, 200, "<", "%.0f us")
  row(s5, string.format("lua-coze %s, %d tasks on silent streams, sched:step(2) per frame", vmname, CONC), key,
    unit, track(vmname .. " idle tasks: " .. t, ok))
  row(s5, string.format("lua-coze %s, %d coroutines, hand-written round-robin", vmname, CONC), "s5." .. vm .. ".rr",
    ns_per("s5." .. vm .. ".rr", CONC * CONC_EACH))
  t, ok = goal("CPU/event vs round-robin", paired("s5." .. vm .. ".sched", "s5." .. vm .. ".rr"), 1.2, "<=")
  row(s5, string.format("lua-coze %s, %d scheduler tasks", vmname, CONC), "s5." .. vm .. ".sched",
    ns_per("s5." .. vm .. ".sched", CONC * CONC_EACH), track(vmname .. " scheduler: " .. t, ok))
end

-- ---- output ----
local out = {}
local function w(s) out[#out + 1] = s end
w("# lua-coze side-by-side benchmark")
w("")
w("| machine | |")
w("|---|---|")
for line in io.lines(facts_file) do
  local f = split(line)
  w(string.format("| %s | %s |", f[1], (f[2] or ""):gsub("|", "/")))
end
w("")
w("CPU = user+sys of the client process, wall = elapsed, RSS = peak resident (wait4 rusage via bench/rusage.c); "
  .. "medians over the "
  .. "runs. Same emulator (nginx + lua, 1 worker) for every client; the emulator shares the machine's CPUs.")
w("")
w("| scenario | client | CPU s | wall s | peak RSS MB | per unit | goals (ratio vs goal) |")
w("|---|---|---:|---:|---:|---|---|")
for _, r in ipairs(rows) do
  w("| " .. table.concat(r, " | ") .. " |")
end
w("")
local met, missed = 0, 0
for _, g in ipairs(summary) do if g.ok then met = met + 1 else missed = missed + 1 end end
w(string.format("Goals: %d met, %d missed.", met, missed))
for _, g in ipairs(summary) do
  if not g.ok then w("- MISSED: " .. g.text:gsub("%*%*MISSED%*%*", "")) end
end
w("")
w("Notes: the " .. BIG .. "-delta chat ends with a `conversation.message.completed` event carrying the whole "
  .. "answer (" .. string.format("%.1f", BIG * 6 / 1048576) .. " MiB for \"hello \" x " .. BIG .. "), which the "
  .. "SDK must hold as one event; part of the RSS difference between " .. SMALL .. " and " .. BIG .. " events is "
  .. "that event, not per-event growth. Scenario 4 drives coroutines round-robin and sleeps 1 ms after a round in "
  .. "which no stream got an event.")
local pf = io.open(profile_file, "r")
local prof = pf and pf:read("a") or ""
if pf then pf:close() end
if prof ~= "" then
  w("")
  w("## Where the Lua stream CPU goes (bench/lua/profile.lua: captured stream, in memory, no network)")
  w("")
  w("`feed+next` = C parser + the 4 values next() returns; `+event tbl` = + the event table and setmetatable; "
    .. "`next()`, `events()`, `raw_events()` = the real coze.stream loop over an in-memory handle, walked with "
    .. "`stream:next()` (events queued in batches), `for ev in stream:events()` (on Lua 5.4 a C iterator) and "
    .. "`stream:raw_events()` (no event table); `decoded` = the events() loop reading `ev.data.content`; "
    .. "`json only` = coze.json.decode of each raw alone. The capture is held in memory, which makes the "
    .. "collector's cycles rarer than in a real stream: compare stages with each other, not with scenario 1.")
  w("")
  w("```")
  w((prof:gsub("\n$", "")))
  w("```")
end
io.write(table.concat(out, "\n"), "\n")
