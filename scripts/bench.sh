#!/bin/sh
# scripts/bench.sh [RUNS]: installs what is missing, builds (RelWithDebInfo)
# and runs every benchmark in bench/ RUNS times (default 3), through the host.
# Results and how to read them: BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
./scripts/setup.sh --test # (its build configures the tests too)
./scripts/build.sh build
host=./build/taskvisor
for i in $(seq "$runs"); do
  $host bench/restarts.lua 1000 1000000
  $host bench/restarts.lua 1000 1000000 sub
  $host bench/events.lua 2000000 1000
  $host bench/events_fields.lua 2000000 1000
  $host bench/memory.lua 100000
  $host bench/controller.lua queue 200000 1000
  $host bench/controller.lua replace 200000
  $host bench/processes.lua 2000 ./build/raw_spawn
  bench/spawn_ratio.sh $host ./build/raw_spawn 5 1000
done
