#!/bin/sh
# scripts/quickstart.sh [SECONDS]: installs what is missing, builds, and runs
# examples/quickstart.lua through the host: a supervised task that fails, backs
# off and restarts. Stops with SIGINT after SECONDS (default 20) and shows the
# graceful shutdown; SECONDS=0 runs until you press Ctrl+C.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-20}
./scripts/setup.sh                      # only what building and running needs
./scripts/build.sh build -DTV_TESTS=OFF # (the tests need the --test packages)
if [ "$seconds" = 0 ]; then
  exec ./build/taskvisor examples/quickstart.lua
fi
echo "quickstart: running for ${seconds}s, then SIGINT (graceful shutdown)" >&2
exec timeout --preserve-status --foreground -s INT "$seconds" ./build/taskvisor examples/quickstart.lua
