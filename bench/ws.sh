#!/bin/sh
# The WebSocket row of the bench (issue 11), separate from run.sh so it can run on its own:
#   COZE_EMU_PORT=18321 sh bench/ws.sh            # 30,000 appends + 30,000 deltas, 5 rounds
#   BENCH_QUICK=1 COZE_EMU_PORT=... sh bench/ws.sh # 10,000 + 10,000, 3 rounds
# Each round runs, side by side: the session (bench/lua/ws.lua under Lua 5.4 and LuaJIT,
# bench/node/ws.mjs through @coze/api's websocket client) and the same client's connect+close with
# no messages; CPU per message = (session - empty) / (appends + deltas), user+sys from bench/rusage.c.
# The Lua session runs twice: "append loop" (ws:append_audio per 20 ms chunk, each frame written at
# once) and "send_audio_file" (ws:send_audio_file(pcm, { realtime = false }) on the same 10 minutes
# as a raw PCM file: the frames share writes). Both are divided by the one Node session (a user of
# @coze/api writes the append loop: it has no file helper).
# Each round also runs ws_floor.c (the SDK's C codec on a plain socket, the same turns and syscalls, no
# Lua, no libcurl; "each" and "gather" as the two Lua sessions): the floor the Lua rows are read against.
# Reports the median per-round ratio to @coze/api, peak RSS of the session, and the latency from the
# emulator writing a frame to ws:next() returning it (median and p99 of 2,000 frames 2 ms apart).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
PORT=${COZE_EMU_PORT:-18321}
URL="http://127.0.0.1:$PORT"
N=${BENCH_WS_N:-30000}; ROUNDS=${BENCH_RUNS:-5}; LAT=2000
if [ -n "${BENCH_QUICK:-}" ]; then N=10000; ROUNDS=3; LAT=500; fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
${CC:-cc} -O2 -o "$TMP/rusage" "$BENCH/rusage.c"
( cd "$ROOT/csrc" && ${CC:-cc} -O2 -std=c99 -o "$TMP/ws_floor" "$BENCH/ws_floor.c" wscodec.c ws.c wshs.c buf.c utf8.c \
  crypto.c jscan.c -lcrypto )
make -s -C "$ROOT" all luajit >/dev/null
[ -d "$BENCH/node_modules/@coze/api" ] || npm ci --prefix "$BENCH" --silent
COZE_EMU_PORT=$PORT "$ROOT/spec/emulator/ctl" start >/dev/null
LP="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
RES="$TMP/res"; : > "$RES"
PCM="$TMP/audio.pcm"
head -c $((N * 640)) /dev/urandom > "$PCM" # noise: no two chunks alike, as in a recording

# run KEY cmd...: one measurement, "KEY cpu_s rss_kb" appended to $RES
run() {
  key=$1; shift
  "$TMP/rusage" "$TMP/t" "$@" > "$TMP/out" 2>"$TMP/err" || { echo "$key failed: $(tail -2 "$TMP/err")" >&2; exit 1; }
  read -r u s e m < "$TMP/t"
  echo "$key $(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.4f", u+s}') $m" >> "$RES"
}
for r in $(seq "$ROUNDS"); do
  for mode in session empty; do
    n=$N; [ "$mode" = empty ] && n=0
    run "$r.lua54.$mode" env LUA_PATH="$LP" LUA_CPATH="$ROOT/build/?.so;;" lua5.4 "$BENCH/lua/ws.lua" "$URL" "$mode" "$n"
    run "$r.luajit.$mode" env LUA_PATH="$LP" LUA_CPATH="$ROOT/build/luajit/?.so;;" luajit "$BENCH/lua/ws.lua" "$URL" "$mode" "$n"
    (cd "$BENCH" && run "$r.node.$mode" node node/ws.mjs "$URL" "$mode" "$n")
  done
  run "$r.floor.empty" "$TMP/ws_floor" 127.0.0.1 "$PORT" empty 0
  run "$r.floor.session" "$TMP/ws_floor" 127.0.0.1 "$PORT" each "$N"
  run "$r.floorgather.session" "$TMP/ws_floor" 127.0.0.1 "$PORT" gather "$N"
  run "$r.lua54file.session" env LUA_PATH="$LP" LUA_CPATH="$ROOT/build/?.so;;" lua5.4 "$BENCH/lua/ws.lua" "$URL" file "$N" "$PCM"
  run "$r.luajitfile.session" env LUA_PATH="$LP" LUA_CPATH="$ROOT/build/luajit/?.so;;" luajit "$BENCH/lua/ws.lua" "$URL" file "$N" "$PCM"
done
lat54=$(env LUA_PATH="$LP" LUA_CPATH="$ROOT/build/?.so;;" lua5.4 "$BENCH/lua/ws.lua" "$URL" latency "$LAT")
latjit=$(env LUA_PATH="$LP" LUA_CPATH="$ROOT/build/luajit/?.so;;" luajit "$BENCH/lua/ws.lua" "$URL" latency "$LAT")
awk -v n="$N" -v rounds="$ROUNDS" -v lat54="$lat54" -v latjit="$latjit" '
  { split($1, k, "."); cpu[k[1] "." k[2] "." k[3]] = $2; if (k[3] == "session") rss[k[2]] = rss[k[2]] > $3 ? rss[k[2]] : $3 }
  function median(a, m,   i, j, t) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END {
    msgs = 2 * n
    printf "| client | CPU/message (us, median) | ratio to @coze/api (median of rounds) | peak RSS (MB) |\n|---|---|---|---|\n"
    split("lua54 lua54file luajit luajitfile node floor floorgather", cl, " ")
    split("lua54 lua54 luajit luajit node floor floor", base, " ")
    split("lua5.4 append loop|lua5.4 send_audio_file|luajit append loop|luajit send_audio_file|node @coze/api|C floor, a write per append (ws_floor.c)|C floor, gathered writes (ws_floor.c)", label, "|")
    for (c = 1; c <= 7; c++) {
      for (r = 1; r <= rounds; r++) {
        per[r] = (cpu[r "." cl[c] ".session"] - cpu[r "." base[c] ".empty"]) / msgs * 1e6
        ratio[r] = (cpu[r "." cl[c] ".session"] - cpu[r "." base[c] ".empty"]) / (cpu[r ".node.session"] - cpu[r ".node.empty"])
      }
      printf "| %s | %.1f | %.2f | %.1f |\n", label[c], median(per, rounds), median(ratio, rounds), rss[cl[c]] / 1024
    }
    printf "\n%d appends + %d deltas, %d rounds; latency (server write -> ws:next()): lua5.4 %s; luajit %s\n", n, n, rounds, lat54, latjit
  }' "$RES"
