#!/bin/sh
# scripts/soak.sh [LUA_RESTARTS [PROC_RESTARTS [CHURN_LUA_JOBS [CHURN_PROC_JOBS]]]]
# | short: installs what is missing, builds (RelWithDebInfo) and runs, through
# the host:
#   bench/soak.lua: by default 1,000,000 Lua task restarts and 10,000 process
#     restarts with subscribers attached, checking memory, fds, zombies and
#     that every event and every attempt is accounted for;
#   bench/churn.lua: by default 1,000,000 uniquely named Lua jobs and 10,000
#     process jobs submitted through a controller, checking memory, fds,
#     zombies and that every submission and outcome is accounted for.
# `short` is the versions CTest runs (soak.short: 100,000 and 300;
# soak.churn_short: 100,000 and 100). Exit status 0 when every check of both
# passes (both run either way).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh --test # (its build configures the tests too)
./scripts/build.sh build
if [ "${1:-}" = short ]; then
  set -- 100000 300 100000 100
fi
status=0
./build/taskvisor bench/soak.lua "${1:-1000000}" "${2:-10000}" || status=1
./build/taskvisor bench/churn.lua "${3:-1000000}" "${4:-10000}" || status=1
exit $status
