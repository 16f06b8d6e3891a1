#!/bin/sh
# Issue-10 bench rows for calls and many streams inside nginx (the application nginx of
# spec/openresty/, one worker), next to bench/ngx_relay.sh's single-stream relay rows:
#  1. N sequential conversations:retrieve from a handler on a kept-alive cosocket, wall time inside
#     the handler, against the curl transport (LuaJIT, outside nginx) timing the same loop;
#  2. C concurrent relayed chat streams of D deltas each against one stream of C*D deltas: nginx
#     worker CPU (user+sys) per event, and the worker's RSS growth (VmRSS sampled every 50 ms).
# Needs the emulator (COZE_EMU_PORT) and `make luajit`; COZE_APP_PORT defaults to the emulator port + 10.
#   COZE_EMU_PORT=18321 sh bench/ngx_calls.sh [N=2000] [C=200] [D=5000] [ROUNDS=3]
set -eu
cd "$(dirname "$0")/.."
n=${1:-2000}; c=${2:-200}; d=${3:-5000}; rounds=${4:-3}
emu="http://127.0.0.1:${COZE_EMU_PORT:-18321}"
app_port=${COZE_APP_PORT:-$(( ${COZE_EMU_PORT:-18321} + 10 ))}
app="http://127.0.0.1:$app_port"
tmp=$(mktemp -d)
COZE_EMU_URL=$emu COZE_APP_PORT=$app_port spec/openresty/ctl restart >/dev/null
trap 'COZE_EMU_URL=$emu COZE_APP_PORT=$app_port spec/openresty/ctl stop; rm -rf "$tmp"' EXIT INT TERM
worker=$(pgrep -P "$(cat "build/app-$app_port/nginx.pid")" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$worker/status"; }
hz=$(getconf CLK_TCK)
fresh=$(rss_kb) # the worker before any call: the peak (VmHWM) is reported against it too

# ---- 1. sequential retrieves ----
conv=$(curl -s -X POST "$emu/v1/conversation/create" -H "Authorization: Bearer pat_bench" \
  -H "Content-Type: application/json" -d '{}' | sed -n 's/.*"id":"\([0-9]*\)".*/\1/p')
[ -n "$conv" ] || { echo "could not create a conversation" >&2; exit 1; }
cat > "$tmp/loop.lua" <<'LUA'
local coze = require "coze"
local core = require "coze.core"
local c = coze.new { token = "pat_bench", base_url = arg[1] }
local t0 = core.monotonic_ms()
for _ = 1, tonumber(arg[2]) do assert(c.conversations:retrieve { conversation_id = arg[3] }) end
io.write(string.format("%.1f\n", core.monotonic_ms() - t0))
c:close()
LUA
i=0
while [ $i -lt "$rounds" ]; do
  i=$((i + 1))
  ngx_ms=$(curl -s "$app/retrieve?n=$n&id=$conv" | sed -n 's/.*"ms":\([0-9.]*\).*/\1/p')
  curl_ms=$(LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/luajit/?.so;;" luajit "$tmp/loop.lua" "$emu" "$n" "$conv")
  awk -v n="$n" -v a="$ngx_ms" -v b="$curl_ms" \
    'BEGIN { printf "%d retrieves: cosocket %7.0f ms  curl %7.0f ms  ratio %.2f\n", n, a, b, a / b }'
done

# ---- 2. concurrent relayed streams ----
streams() { # count, deltas: worker CPU and peak RSS growth while count streams of deltas each run at once
  cnt=$1; del=$2
  : > "$tmp/cfg"
  j=0
  while [ $j -lt "$cnt" ]; do
    j=$((j + 1))
    printf 'url = "%s/chat?deltas=%s"\noutput = "%s/s%d"\n' "$app" "$del" "$tmp" "$j" >> "$tmp/cfg"
  done
  r0=$(rss_kb); echo "$r0" > "$tmp/peak"
  ( while :; do r=$(rss_kb); [ "$r" -gt "$(cat "$tmp/peak")" ] && echo "$r" > "$tmp/peak"; sleep 0.05; done ) &
  sampler=$!
  t0=$(ticks)
  curl -sN --no-progress-meter -Z --parallel-max "$cnt" -K "$tmp/cfg"
  t1=$(ticks)
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  ev=$(cat "$tmp"/s* | grep -c '^event:' || true)
  done_n=$(cat "$tmp"/s* | grep -c '^event: done' || true)
  rm -f "$tmp"/s*
  awk -v c="$cnt" -v del="$del" -v d=$((t1 - t0)) -v hz="$hz" -v ev="$ev" -v dn="$done_n" -v r0="$r0" -v p="$(cat "$tmp/peak")" \
    -v hwm="$(awk '/^VmHWM/ {print $2}' "/proc/$worker/status")" -v fresh="$fresh" \
    'BEGIN { printf "%3d stream(s) x %7d deltas: %8d events (%d done)  %6.2f s worker CPU  %6.3f us/event  RSS +%.1f MB (peak +%.1f MB over the fresh worker)\n",
      c, del, ev, dn, d / hz, d / hz / ev * 1e6, (p - r0) / 1024, (hwm - fresh) / 1024 }'
}
i=0
while [ $i -lt "$rounds" ]; do
  i=$((i + 1))
  streams 1 $((c * d))
  streams "$c" "$d"
done
