#!/bin/sh
# make openresty-demo: starts the emulator and nginx with examples/openresty/nginx.conf, then asks
# for one relayed chat and one spoken text (a WebSocket session) with curl.
set -eu
cd "$(dirname "$0")/../.."
prefix="$PWD/build/openresty-demo"
mkdir -p "$prefix/logs"
url=$(spec/emulator/ctl start)
stop() {
  [ -f "$prefix/nginx.pid" ] && kill "$(cat "$prefix/nginx.pid")" 2>/dev/null || true
  spec/emulator/ctl stop
}
trap stop EXIT INT TERM
COZE_API_TOKEN=pat_demo COZE_API_BASE="$url" COZE_BOT_ID=bot_demo \
  /usr/sbin/nginx -p "$prefix/" -c "$PWD/examples/openresty/nginx.conf" -g "pid $prefix/nginx.pid;"
i=0
until curl -s -o /dev/null http://127.0.0.1:18699/ 2>/dev/null || [ $i -ge 50 ]; do i=$((i + 1)); sleep 0.1; done
echo "(nginx on 127.0.0.1:18699 relaying the local emulator at $url)"
curl -sN "http://127.0.0.1:18699/chat?q=hello%20from%20nginx&user=demo"
echo; curl -s -o /dev/null -w "GET /speech?text=...: %{http_code}, %{size_download} bytes of %{content_type} (a WebSocket session on a cosocket)\n" "http://127.0.0.1:18699/speech?text=hello%20from%20nginx"
