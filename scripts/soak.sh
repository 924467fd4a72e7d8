#!/bin/sh
# scripts/soak.sh [LUA_RESTARTS [PROC_RESTARTS]] | short: installs what is
# missing, builds (RelWithDebInfo) and runs bench/soak.lua through the host:
# by default 1,000,000 Lua task restarts and 10,000 process restarts with
# subscribers attached, checking memory, fds, zombies and that every event and
# every attempt is accounted for. `short` is the version CTest runs
# (soak.short: 100,000 and 300). Exit status 0 when every check passes.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build
if [ "${1:-}" = short ]; then
  set -- 100000 300
fi
exec ./build/taskvisor bench/soak.lua "${1:-1000000}" "${2:-10000}"
