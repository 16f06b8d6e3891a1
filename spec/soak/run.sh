#!/bin/sh
# Soak test (not in make test): starts the emulator on COZE_EMU_PORT (default 18340) and runs soak.lua.
set -eu
cd "$(dirname "$0")/../.."
export COZE_EMU_PORT=${COZE_EMU_PORT:-18340}
make -s all
url=$(spec/emulator/ctl start)
trap 'spec/emulator/ctl stop' EXIT INT TERM
COZE_EMU_URL="$url" LUA_PATH="$(pwd)/lua/?.lua;$(pwd)/lua/?/init.lua;;" LUA_CPATH="$(pwd)/build/?.so;;" \
  lua5.4 spec/soak/soak.lua
