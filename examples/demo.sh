#!/bin/sh
# make demo: streams a chat through the SDK. With COZE_API_TOKEN and COZE_BOT_ID set it talks to
# the real service (COZE_API_BASE, default https://api.coze.cn); otherwise to the local emulator.
set -eu
cd "$(dirname "$0")/.."
if [ -n "${COZE_API_TOKEN:-}" ] && [ -n "${COZE_BOT_ID:-}" ]; then
  exec lua5.4 examples/chat_stream.lua "$@"
fi
url=$(spec/emulator/ctl start)
trap 'spec/emulator/ctl stop' EXIT INT TERM
echo "(no COZE_API_TOKEN/COZE_BOT_ID: using the local Coze emulator at $url)"
COZE_API_TOKEN=pat_demo COZE_BOT_ID=bot_demo COZE_API_BASE="$url" \
  lua5.4 examples/chat_stream.lua "${1:-早上好}" 
