#!/bin/sh
# make openresty-demo: starts the emulator (unless one runs) and nginx with
# examples/openresty/nginx.conf, then asks for one relayed chat and one spoken text (a WebSocket
# session) with curl. COZE_DEMO_PORT moves nginx off its port 18699 (the config is used as shipped
# but for that `listen` line), COZE_EMU_PORT the emulator.
set -eu
cd "$(dirname "$0")/../.."
port=${COZE_DEMO_PORT:-18699}
prefix="$PWD/build/openresty-demo-$port"
mkdir -p "$prefix/logs"
started_emu=
spec/emulator/ctl status >/dev/null 2>&1 || started_emu=1
url=$(spec/emulator/ctl start)
sed "s/listen 127.0.0.1:18699;/listen 127.0.0.1:$port;/" examples/openresty/nginx.conf > "$prefix/nginx.conf"
stop() {
  [ -f "$prefix/nginx.pid" ] && kill "$(cat "$prefix/nginx.pid")" 2>/dev/null || true
  [ -z "$started_emu" ] || spec/emulator/ctl stop
}
trap stop EXIT INT TERM
COZE_API_TOKEN=pat_demo COZE_API_BASE="$url" COZE_BOT_ID=bot_demo \
  /usr/sbin/nginx -p "$prefix/" -c "$prefix/nginx.conf" -g "pid $prefix/nginx.pid;"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null || [ $i -ge 50 ]; do i=$((i + 1)); sleep 0.1; done
echo "(nginx on 127.0.0.1:$port relaying the local emulator at $url)"
curl -sN "http://127.0.0.1:$port/chat?q=hello%20from%20nginx&user=demo"
echo; curl -s -o /dev/null -w "GET /speech?text=...: %{http_code}, %{size_download} bytes of %{content_type} (a WebSocket session on a cosocket)\n" "http://127.0.0.1:$port/speech?text=hello%20from%20nginx"
