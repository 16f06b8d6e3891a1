#!/usr/bin/env bash
# Side-by-side benchmark: lua-coze (Lua 5.4 and LuaJIT) vs the official Node SDK (@coze/api) vs
# the raw transport floor (curl), all against the same local Coze emulator.
#
#   bench/run.sh                  full run (~3-5 minutes): 1M-event streams, 2000 calls, 500-event latency
#   BENCH_QUICK=1 bench/run.sh    smoke run (~1 minute): 100k-event streams, 500 calls, 100 latency events
#
# Env: COZE_EMU_PORT (emulator port, default 18321; the emulator is started and stopped here),
#      BENCH_LATENCY_PORT (the latency scenario's own SSE server, default COZE_EMU_PORT+10),
#      BENCH_RUNS (runs per measurement, default 3; the median is reported), BENCH_PROFILE=0 skips
#      the in-memory CPU breakdown.
# Prints one table (absolute numbers, ratios vs goals, met/missed) and writes bench/results/latest.md.
# CPU = user+sys, wall = elapsed, RSS = peak resident set, all of the client process (wait4 rusage,
# through bench/rusage.c: /usr/bin/time only has 10 ms CPU resolution).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
PORT=${COZE_EMU_PORT:-18321}
LAT_PORT=${BENCH_LATENCY_PORT:-$((PORT + 10))}
URL="http://127.0.0.1:$PORT"
LAT_URL="http://127.0.0.1:$LAT_PORT"
QUICK=${BENCH_QUICK:-0}

if [ "$QUICK" = 1 ]; then
  RUNS=${BENCH_RUNS:-3}; BIG=100000; SMALL=1000; CALLS=500; LAT_EVENTS=100; CONC=200; CONC_EACH=500
else
  RUNS=${BENCH_RUNS:-3}; BIG=1000000; SMALL=1000; CALLS=2000; LAT_EVENTS=500; CONC=200; CONC_EACH=5000
fi
LAT_INTERVAL_MS=10

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coze-bench.XXXXXX")
RES="$TMP/results.tsv"
: > "$RES"
LAT_PID=""

cleanup() {
  if [ -n "$LAT_PID" ]; then kill "$LAT_PID" 2>/dev/null || true; fi
  COZE_EMU_PORT=$PORT "$ROOT/spec/emulator/ctl" stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# ---- build and install -------------------------------------------------------------------------
log "== building (make, make luajit)"
(cd "$ROOT" && make -s >/dev/null && make -s luajit >/dev/null)
RUSAGE="$TMP/rusage"
${CC:-cc} -O2 -o "$RUSAGE" "$BENCH/rusage.c"
mkdir -p "$TMP/floor"
${CC:-cc} -O2 -shared -fPIC $(pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4) \
  -o "$TMP/floor/floor.so" "$BENCH/floor.c"
if [ ! -d "$BENCH/node_modules/@coze/api" ]; then
  log "== installing @coze/api (npm ci --prefix bench)"
  npm ci --prefix "$BENCH" --no-audit --no-fund >/dev/null
fi

LUA54_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
LUA54_CPATH="$ROOT/build/?.so;;"
LUAJIT_CPATH="$ROOT/build/luajit/?.so;;"
# Plain commands (not shell functions) so /usr/bin/time can run them.
LUA54=(env "LUA_PATH=$LUA54_PATH" "LUA_CPATH=$LUA54_CPATH" lua5.4)
LUAJIT=(env "LUA_PATH=$LUA54_PATH" "LUA_CPATH=$LUAJIT_CPATH" luajit)
NODE=(node)

# ---- machine facts -----------------------------------------------------------------------------
FACTS="$TMP/facts.tsv"
{
  printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'git\t%s%s\n' "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(cd "$ROOT" && [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (dirty tree)' || true)"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'lua5.4\t%s\n' "$(lua5.4 -v 2>&1 | head -1)"
  printf 'luajit\t%s\n' "$(luajit -v 2>&1 | head -1)"
  printf 'node\t%s\n' "$(node --version)"
  printf 'curl\t%s\n' "$(curl --version | head -1)"
  printf '@coze/api\t%s\n' "$(node -p "require('$BENCH/node_modules/@coze/api/package.json').version")"
  printf 'axios\t%s\n' "$(node -p "require('$BENCH/node_modules/axios/package.json').version")"
  printf 'coze.core libcurl\t%s\n' "$("${LUA54[@]}" -e 'io.write(require("coze.core").curl_version())')"
  printf 'nginx\t%s\n' "$(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')"
  printf 'mode\t%s\n' "$([ "$QUICK" = 1 ] && echo "BENCH_QUICK=1 (smoke)" || echo full), runs per measurement: $RUNS (median)"
} > "$FACTS"

# ---- emulator ----------------------------------------------------------------------------------
log "== starting the emulator on port $PORT"
COZE_EMU_PORT=$PORT "$ROOT/spec/emulator/ctl" start >/dev/null

# measure KEY cmd...: runs cmd RUNS times under bench/rusage.c (wait4 rusage); appends "KEY run cpu wall rss_kb ok out".
# With ROUND set, runs it once as run number ROUND (scenario 1 interleaves its clients round by round).
measure() {
  local key=$1; shift
  local i
  for i in $(if [ -n "${ROUND:-}" ]; then echo "$ROUND"; else seq "$RUNS"; fi); do
    local tf="$TMP/time" out rc
    set +e
    out=$("$RUSAGE" "$tf" "$@" 2>"$TMP/stderr")
    rc=$?
    set -e
    local u=0 s=0 e=0 m=0
    [ -s "$tf" ] && read -r u s e m < "$tf"
    rm -f "$tf"
    local ok=1
    [ "$rc" = 0 ] || { ok=0; log "   !! $key run $i failed (exit $rc): $(tail -3 "$TMP/stderr")"; }
    printf '%s\t%d\t%s\t%s\t%s\t%d\t%s\n' "$key" "$i" "$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.4f", u+s}')" \
      "$e" "$m" "$ok" "$(printf '%s' "$out" | tr '\t\n' '  ')" >> "$RES"
  done
}

# ---- 1. one long chat stream -------------------------------------------------------------------
# Scenarios 1, 2 and 4 run every client once per round, so the clients a goal compares are measured
# side by side: a shared machine drifts by tens of percent from one minute to the next, and the
# report takes the median of the per-round ratios.
chat_body='{"bot_id":"bench_bot","user_id":"bench_user","stream":true}'
curl_stream() { # N [OUTPUT]: prints the curl command line, one word per line
  printf '%s\n' curl -sN -o "${2:-/dev/null}" -X POST "$URL/v3/chat" -H "Authorization: Bearer pat_bench" \
    -H "Content-Type: application/json" -H "X-Emu-Deltas: $1" -H 'X-Emu-Reply: "hello "' -H 'X-Emu-Completed: short' -d "$chat_body"
}
RAW_LEN=$(curl -sN -X POST "$URL/v3/chat" -H "Authorization: Bearer pat_bench" -H "Content-Type: application/json" \
  -H "X-Emu-Deltas: 1" -H 'X-Emu-Reply: "hello "' -d "$chat_body" | sed -n '/message.delta/{n;s/^data://p;q}' | tr -d '\n' | wc -c)
FLOOR=(env "LUA_PATH=$LUA54_PATH" "LUA_CPATH=$TMP/floor/?.so;$LUA54_CPATH" lua5.4)
for n in "$SMALL" "$BIG"; do
  log "== scenario 1: one chat stream of $n deltas, $RUNS rounds"
  mapfile -t CURL_STREAM < <(curl_stream "$n")
  for ROUND in $(seq "$RUNS"); do
    measure "s1.curl.$n" "${CURL_STREAM[@]}"
    measure "s1.lua54.relay.$n" "${LUA54[@]}" "$BENCH/lua/stream.lua" relay "$URL" "$n"
    measure "s1.lua54.relay-raw.$n" "${LUA54[@]}" "$BENCH/lua/stream.lua" relay-raw "$URL" "$n"
    measure "s1.lua54.relay-chunks.$n" "${LUA54[@]}" "$BENCH/lua/stream.lua" relay-chunks "$URL" "$n"
    measure "s1.lua54.decoded.$n" "${LUA54[@]}" "$BENCH/lua/stream.lua" decoded "$URL" "$n"
    measure "s1.luajit.relay.$n" "${LUAJIT[@]}" "$BENCH/lua/stream.lua" relay "$URL" "$n"
    measure "s1.luajit.relay-raw.$n" "${LUAJIT[@]}" "$BENCH/lua/stream.lua" relay-raw "$URL" "$n"
    measure "s1.luajit.relay-chunks.$n" "${LUAJIT[@]}" "$BENCH/lua/stream.lua" relay-chunks "$URL" "$n"
    measure "s1.luajit.decoded.$n" "${LUAJIT[@]}" "$BENCH/lua/stream.lua" decoded "$URL" "$n"
    # the same deltas as Message events of a workflow stream (profile "workflow")
    measure "s1.lua54.wf-relay.$n" "${LUA54[@]}" "$BENCH/lua/stream.lua" relay "$URL" "$n" workflow
    measure "s1.luajit.wf-relay.$n" "${LUAJIT[@]}" "$BENCH/lua/stream.lua" relay "$URL" "$n" workflow
    measure "s1.node.$n" "${NODE[@]}" "$BENCH/node/stream.mjs" "$URL" "$n"
    # what Lua 5.4 charges for the objects a relay is handed, alone (no parsing, no network)
    if [ "$n" = "$BIG" ]; then measure "s1.floor" "${FLOOR[@]}" "$BENCH/lua/floor.lua" "$n" "$RAW_LEN"; fi
  done
  unset ROUND
done

# ---- 2. sequential conversations:retrieve ------------------------------------------------------
log "== scenario 2: $CALLS sequential conversations:retrieve calls"
CONV_ID=$(curl -s -X POST "$URL/v1/conversation/create" -H "Authorization: Bearer pat_bench" \
  -H "Content-Type: application/json" -d '{"bot_id":"bench_bot"}' | sed -n 's/.*"id":"\([0-9]*\)".*/\1/p')
[ -n "$CONV_ID" ] || { log "could not create a conversation"; exit 1; }
CURLCFG="$TMP/retrieve.curl"
for _ in $(seq "$CALLS"); do
  printf 'url = "%s/v1/conversation/retrieve?conversation_id=%s"\noutput = "/dev/null"\n' "$URL" "$CONV_ID"
done > "$CURLCFG"
# -w prints each transfer's num_connects (new connections it opened): their sum = TCP connections
CURL_RETRIEVE=(curl -s -H "Authorization: Bearer pat_bench" -w '%{num_connects}\n' -K "$CURLCFG")
for ROUND in $(seq "$RUNS"); do
  measure "s2.curl" "${CURL_RETRIEVE[@]}"
  measure "s2.lua54" "${LUA54[@]}" "$BENCH/lua/retrieve.lua" "$URL" "$CALLS" "$CONV_ID"
  measure "s2.luajit" "${LUAJIT[@]}" "$BENCH/lua/retrieve.lua" "$URL" "$CALLS" "$CONV_ID"
  measure "s2.node" "${NODE[@]}" "$BENCH/node/retrieve.mjs" "$URL" "$CALLS" "$CONV_ID"
done
unset ROUND
# ---- 3. latency: server write -> SDK returns the event -----------------------------------------
log "== scenario 3: latency over $LAT_EVENTS events, ${LAT_INTERVAL_MS} ms apart (server on port $LAT_PORT)"
python3 "$BENCH/latency_server.py" "$LAT_PORT" "$LAT_EVENTS" "$LAT_INTERVAL_MS" > "$TMP/latency_server.out" 2>&1 &
LAT_PID=$!
for _ in $(seq 100); do grep -q ready "$TMP/latency_server.out" 2>/dev/null && break; sleep 0.05; done
measure "s3.lua54" "${LUA54[@]}" "$BENCH/lua/latency.lua" "$LAT_URL"
measure "s3.luajit" "${LUAJIT[@]}" "$BENCH/lua/latency.lua" "$LAT_URL"
measure "s3.node" "${NODE[@]}" "$BENCH/node/latency.mjs" "$LAT_URL"
kill "$LAT_PID" 2>/dev/null || true
wait "$LAT_PID" 2>/dev/null || true
LAT_PID=""

# ---- 4. many concurrent streams in one Lua state -----------------------------------------------
TOTAL=$((CONC * CONC_EACH))
log "== scenario 4: $CONC concurrent streams x $CONC_EACH deltas vs one stream of $TOTAL"
for ROUND in $(seq "$RUNS"); do
  measure "s4.lua54.conc" "${LUA54[@]}" "$BENCH/lua/concurrent.lua" "$URL" "$CONC" "$CONC_EACH"
  measure "s4.lua54.single" "${LUA54[@]}" "$BENCH/lua/concurrent.lua" "$URL" 1 "$TOTAL"
  measure "s4.luajit.conc" "${LUAJIT[@]}" "$BENCH/lua/concurrent.lua" "$URL" "$CONC" "$CONC_EACH"
  measure "s4.luajit.single" "${LUAJIT[@]}" "$BENCH/lua/concurrent.lua" "$URL" 1 "$TOTAL"
done
unset ROUND

# ---- 5. coze.scheduler -------------------------------------------------------------------------
SCHED_FRAMES=500
log "== scenario 5: coze.scheduler: $CONC idle tasks x $SCHED_FRAMES frames; $CONC streams x $CONC_EACH vs the round-robin of scenario 4"
for ROUND in $(seq "$RUNS"); do
  measure "s5.lua54.rr" "${LUA54[@]}" "$BENCH/lua/concurrent.lua" "$URL" "$CONC" "$CONC_EACH"
  measure "s5.lua54.sched" "${LUA54[@]}" "$BENCH/lua/scheduler.lua" stream "$URL" "$CONC" "$CONC_EACH"
  measure "s5.luajit.rr" "${LUAJIT[@]}" "$BENCH/lua/concurrent.lua" "$URL" "$CONC" "$CONC_EACH"
  measure "s5.luajit.sched" "${LUAJIT[@]}" "$BENCH/lua/scheduler.lua" stream "$URL" "$CONC" "$CONC_EACH"
  measure "s5.lua54.idle" "${LUA54[@]}" "$BENCH/lua/scheduler.lua" idle "$URL" "$CONC" "$SCHED_FRAMES"
  measure "s5.luajit.idle" "${LUAJIT[@]}" "$BENCH/lua/scheduler.lua" idle "$URL" "$CONC" "$SCHED_FRAMES"
done
unset ROUND

# ---- where the CPU goes (in memory, no network) ------------------------------------------------
PROFILE_OUT="$TMP/profile.txt"
: > "$PROFILE_OUT"
if [ "${BENCH_PROFILE:-1}" != 0 ]; then
  PN=$((BIG / 5))
  log "== CPU breakdown of the Lua stream path ($PN captured events, in memory)"
  mapfile -t CURL_STREAM < <(curl_stream "$PN" "$TMP/capture.sse")
  "${CURL_STREAM[@]}"
  { echo "lua5.4:"; "${LUA54[@]}" "$BENCH/lua/profile.lua" "$TMP/capture.sse"
    echo "luajit:"; "${LUAJIT[@]}" "$BENCH/lua/profile.lua" "$TMP/capture.sse"; } >> "$PROFILE_OUT" 2>&1 || true
  rm -f "$TMP/capture.sse"
fi

# ---- report ------------------------------------------------------------------------------------
mkdir -p "$BENCH/results"
lua5.4 "$BENCH/lua/report.lua" "$RES" "$FACTS" "$PROFILE_OUT" "$BIG" "$SMALL" "$CALLS" "$LAT_EVENTS" \
  "$CONC" "$CONC_EACH" "$LAT_INTERVAL_MS" > "$TMP/report.md"
cp "$TMP/report.md" "$BENCH/results/latest.md"
cat "$TMP/report.md"
log "(written to bench/results/latest.md)"
