#!/bin/sh
# The issue-10 bench row: nginx worker CPU (user+sys) to relay one chat stream of N deltas to a
# client, coze.ngx.relay (fast path: stream:raw_chunks(); and with a map) vs nginx's own proxy_pass
# with proxy_buffering off, and the floor of any Lua relay on cosockets (spec/openresty/app.lua's
# /floor: receiveany + ngx.print + ngx.flush(true) per read, nothing parsed). ROUNDS rounds (default
# 3), each client once per round, side by side; the ratios are per round. Needs the emulator
# (COZE_EMU_PORT) and starts the application nginx of spec/openresty/ (COZE_APP_PORT, default
# emulator port + 10).
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
    'BEGIN { printf "  %-30s %6.2f s worker CPU  %6.3f us/event\n", l, d / hz, d / hz / n * 1e6 }' >&2
  echo $((t1 - t0))
}
body='{"bot_id":"bench_bot","user_id":"bench_user","stream":true}'
rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
  echo "round $r ($n deltas)" >&2
  p=$(run "proxy_pass (buffering off)" -X POST "$app/proxy/v3/chat" -H "Authorization: Bearer pat_bench" \
    -H "Content-Type: application/json" -H "X-Emu-Deltas: $n" -H 'X-Emu-Reply: "hello "' -H 'X-Emu-Completed: short' -d "$body")
  f=$(run "Lua floor (receiveany+print)" "$app/floor?deltas=$n")
  c=$(run "coze.ngx.relay (fast path)" "$app/chat?deltas=$n")
  m=$(run "coze.ngx.relay + map" "$app/chat?deltas=$n&map=1")
  awk -v p="$p" -v f="$f" -v c="$c" -v m="$m" 'BEGIN { if (p > 0) printf "  ratios vs proxy_pass: fast path %.2fx, map %.2fx, Lua floor %.2fx\n", c / p, m / p, f / p }' >&2
done
rm -f "$out"
