#!/bin/sh
# The issue-10 bench row: nginx worker CPU (user+sys) to relay one chat stream of N deltas to a
# client, coze.ngx.relay (fast path: stream:raw_chunks(); and with a map) vs nginx's own proxy_pass
# with proxy_buffering off, and two floors (spec/openresty/app.lua): /floor, any Lua relay on
# cosockets (receiveany + ngx.print + ngx.flush(true) per read, nothing parsed), and /walkfloor, a
# relay that parses (the same plus the C chunked decoder, the walk and the chunk string, no SDK
# code between). "map (ev.raw)" is the map path with a map that returns the data as it came: the
# relay's own map-path cost, without the JSON encode of "map" (a table per event). ROUNDS rounds
# (default 3), each client once per round, side by side; the ratios are per round. BIG=1 adds the
# same relays reading 64 KB per recv (lua_socket_buffer_size 64k) and proxy_pass with 64 KB buffers
# (the defaults are one page). Needs the emulator (COZE_EMU_PORT) and starts the application nginx
# of spec/openresty/ (COZE_APP_PORT, default emulator port + 10).
#   COZE_EMU_PORT=18321 sh bench/ngx_relay.sh [N]
set -eu
cd "$(dirname "$0")/.."
n=${1:-200000}
emu="http://127.0.0.1:${COZE_EMU_PORT:-18321}"
app_port=${COZE_APP_PORT:-$(( ${COZE_EMU_PORT:-18321} + 10 ))}
app="http://127.0.0.1:$app_port"
COZE_EMU_URL=$emu COZE_APP_PORT=$app_port spec/openresty/ctl restart >/dev/null
trap 'COZE_EMU_URL=$emu COZE_APP_PORT=$app_port spec/openresty/ctl stop' EXIT INT TERM
worker=$(pgrep -P "$(cat "build/app-$app_port/nginx.pid")" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
hz=$(getconf CLK_TCK)
out=$(mktemp)
run() { # label, curl args...: prints the worker's CPU ticks; checks every event arrived
  label=$1; shift
  t0=$(ticks); curl -sN -o "$out" "$@"; t1=$(ticks)
  ev=$(grep -c '^event:' "$out" || true)
  [ "$ev" -ge "$n" ] || echo "$label: only $ev events" >&2
  awk -v l="$label" -v d=$((t1 - t0)) -v hz="$hz" -v n="$n" \
    'BEGIN { printf "  %-34s %6.2f s worker CPU  %6.3f us/event\n", l, d / hz, d / hz / n * 1e6 }' >&2
  echo $((t1 - t0))
}
body='{"bot_id":"bench_bot","user_id":"bench_user","stream":true}'
proxy() { # label, location prefix
  run "$1" -X POST "$app/$2/v3/chat" -H "Authorization: Bearer pat_bench" -H "Content-Type: application/json" \
    -H "X-Emu-Deltas: $n" -H 'X-Emu-Reply: "hello "' -H 'X-Emu-Completed: short' -d "$body"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }
rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
  echo "round $r ($n deltas)" >&2
  p=$(proxy "proxy_pass (buffering off)" proxy)
  f=$(run "Lua floor (receiveany+print)" "$app/floor?deltas=$n")
  w=$(run "parse floor (+decode+walk)" "$app/walkfloor?deltas=$n")
  c=$(run "coze.ngx.relay (fast path)" "$app/chat?deltas=$n")
  m=$(run "coze.ngx.relay + map" "$app/chat?deltas=$n&map=1")
  s=$(run "coze.ngx.relay + map (ev.raw)" "$app/chat?deltas=$n&map=raw")
  echo "  ratios vs proxy_pass: fast path $(ratio "$c" "$p"), map $(ratio "$m" "$p"), map (ev.raw) $(ratio "$s" "$p"), Lua floor $(ratio "$f" "$p"), parse floor $(ratio "$w" "$p")" >&2
  if [ "${BIG:-0}" = 1 ]; then
    p64=$(proxy "proxy_pass, 64 KB buffers" proxy64)
    c64=$(run "fast path, 64 KB reads" "$app/b64/chat?deltas=$n")
    m64=$(run "map, 64 KB reads" "$app/b64/chat?deltas=$n&map=1")
    echo "  64 KB reads vs proxy_pass: fast path $(ratio "$c64" "$p"), map $(ratio "$m64" "$p"); vs proxy_pass with 64 KB buffers: fast path $(ratio "$c64" "$p64"), map $(ratio "$m64" "$p64")" >&2
  fi
done
rm -f "$out"
