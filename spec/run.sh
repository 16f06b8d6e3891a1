#!/bin/sh
# Runs every suite against a freshly started emulator and ends with "N passed, N failed".
# Suites: busted on Lua 5.4 (all specs), busted on LuaJIT (same specs, the 5.1 build of the core).
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p build
spec/emulator/ctl start >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
trap 'spec/emulator/ctl stop' EXIT INT TERM
export COZE_EMU_URL="$(spec/emulator/ctl url)"
base_path="$root/lua/?.lua;$root/lua/?/init.lua;$root/spec/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;;"

passed=0; failed=0
run_suite() { # name interpreter cpath
  name=$1; interp=$2; cpath=$3
  echo "== $name"
  LUA_PATH="$base_path" LUA_CPATH="$cpath;;" COZE_SUITE="$name" \
    $interp /usr/bin/busted --no-auto-insulate -o TAP spec > "build/$name.tap" 2>&1
  cat "build/$name.tap" | grep -v '^ok ' 
  p=$(grep -c '^ok ' "build/$name.tap"); f=$(grep -c '^not ok ' "build/$name.tap")
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "$name: busted ran nothing"; fi
  echo "$name: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}

run_suite lua5.4 lua5.4 "$root/build/?.so"
run_suite luajit luajit "$root/build/luajit/?.so"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
