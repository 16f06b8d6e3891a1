#!/bin/sh
# Quick form of the issue-10 bench row: nginx worker CPU (user+sys) to relay one chat stream of N
# deltas to a client, coze.ngx.relay (fast path, and with a map) vs nginx's own proxy_pass with
# proxy_buffering off. Needs the emulator (COZE_EMU_PORT) and starts the application nginx of
# spec/openresty/ (COZE_APP_PORT, default emulator port + 10).
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
run() { # label, curl args...
  label=$1; shift
  t0=$(ticks); curl -sN -o /tmp/ngx_relay.$$ "$@"; t1=$(ticks)
  ev=$(grep -c '^event:' /tmp/ngx_relay.$$ || true); rm -f /tmp/ngx_relay.$$
  awk -v l="$label" -v d=$((t1 - t0)) -v hz="$hz" -v ev="$ev" \
    'BEGIN { printf "%-22s %8d events  %6.2f s worker CPU  %6.3f us/event\n", l, ev, d / hz, d / hz / ev * 1e6 }'
}
body='{"bot_id":"bench_bot","user_id":"bench_user","stream":true}'
run "proxy_pass" -X POST "$app/proxy/v3/chat" -H "Authorization: Bearer pat_bench" -H "Content-Type: application/json" \
  -H "X-Emu-Deltas: $n" -H 'X-Emu-Reply: "hello "' -H 'X-Emu-Completed: short' -d "$body"
run "coze.ngx.relay" "$app/chat?deltas=$n"
run "coze.ngx.relay + map" "$app/chat?deltas=$n&map=1"
