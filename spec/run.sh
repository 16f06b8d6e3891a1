#!/bin/sh
# Runs the suites against a freshly started emulator and ends with "N passed, N failed".
#   SUITES   which suites (default "lua5.4 luajit fuzz love"): lua5.4 and luajit run every spec with busted,
#            fuzz runs each libFuzzer target for FUZZ_SECONDS (when clang is there), love runs
#            examples/love --test under xvfb-run (its "ok"/"not ok" lines count as tests).
#   CPATH54  where the Lua 5.4 core is (default build/?.so; make sanitize points it at build/asan)
#   WRAPPER  a command the Lua 5.4 suite runs under (make valgrind sets valgrind)
#   SAN_PRELOAD  a library preloaded into the Lua 5.4 suite only (the sanitizer runtime)
#   SPECS    what busted runs (default the whole spec directory; e.g. make valgrind SPECS="spec/a_spec.lua")
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p build
SUITES=${SUITES:-"lua5.4 luajit fuzz love"}
CPATH54=${CPATH54:-"$root/build/?.so"}
WRAPPER=${WRAPPER:-}
SAN_PRELOAD=${SAN_PRELOAD:-}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
SPECS=${SPECS:-spec}

spec/emulator/ctl restart >/dev/null || { echo "emulator did not start"; echo "0 passed, 1 failed"; exit 1; }
trap 'spec/emulator/ctl stop' EXIT INT TERM
export COZE_EMU_URL="$(spec/emulator/ctl url)"
base_path="$root/lua/?.lua;$root/lua/?/init.lua;$root/spec/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;;"

passed=0; failed=0
make -s core-nohttp >/dev/null || echo "core-nohttp: build failed (spec/core_nohttp_spec.lua skips)"
count() { # name file rc
  p=$(grep -c '^ok ' "$2"); f=$(grep -c '^not ok ' "$2")
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "$1: ran nothing (exit $3)"; fi
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "$1: exited $3 with every test passing (memory errors? see build/$1.tap)"; fi
  echo "$1: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}

run_busted() { # name interpreter cpath [preload]
  name=$1; interp=$2; cpath=$3; preload=${4:-}
  echo "== $name"
  LD_PRELOAD="$preload" LUA_PATH="$base_path" LUA_CPATH="$cpath;;" COZE_SUITE="$name" \
    $WRAPPER $interp /usr/bin/busted --no-auto-insulate -o TAP $SPECS > "build/$name.tap" 2>&1
  rc=$?
  grep -v '^ok ' "build/$name.tap"
  count "$name" "build/$name.tap" "$rc"
}

run_fuzz() {
  if ! command -v clang >/dev/null 2>&1; then echo "fuzz: clang missing, skipped"; return; fi
  make -s fuzz-build >/dev/null || { echo "fuzz: build failed"; failed=$((failed + 1)); return; }
  : > build/fuzz.tap
  for bin in build/fuzz/fuzz_*; do
    t=$(basename "$bin"); corpus="build/fuzz-corpus/$t"; mkdir -p "$corpus"
    seeds="fuzz/corpus/${t#fuzz_}"; [ -d "$seeds" ] || seeds=""
    if "$bin" -print_final_stats=1 -max_total_time="$FUZZ_SECONDS" -max_len=65536 "$corpus" $seeds > "build/$t.log" 2>&1; then
      echo "ok - $t ($FUZZ_SECONDS s, $(grep -o 'stat::number_of_executed_units: [0-9]*' "build/$t.log" | awk '{print $2}') runs)" >> build/fuzz.tap
    else
      echo "not ok - $t: see build/$t.log" >> build/fuzz.tap
    fi
  done
  cat build/fuzz.tap
  count fuzz build/fuzz.tap 0
}

run_love() {
  echo "== love"
  if ! command -v love >/dev/null 2>&1 || ! command -v xvfb-run >/dev/null 2>&1; then
    echo "not ok - love: love or xvfb-run missing (make deps)" > build/love.tap
  else
    port=$(echo "$COZE_EMU_URL" | sed 's/.*://')
    ALSOFT_DRIVERS=null SDL_AUDIODRIVER=dummy timeout 120 xvfb-run -a \
      love examples/love --test "$port" --shot build/love-npc-test.png > build/love.tap 2> build/love.log
    rc=$?
  fi
  cat build/love.tap
  count love build/love.tap "${rc:-0}"
}

for s in $SUITES; do
  case $s in
    lua5.4) run_busted lua5.4 lua5.4 "$CPATH54" "$SAN_PRELOAD" ;;
    luajit) run_busted luajit luajit "$root/build/luajit/?.so" ;;
    fuzz) run_fuzz ;;
    love) run_love ;;
  esac
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
