#!/bin/sh
# scripts/test.sh: installs what is missing, builds, and runs the whole test
# suite through CTest: C unit tests, busted specs and every example, first in
# an AddressSanitizer + UndefinedBehaviorSanitizer build (specs run through the
# instrumented host), then in the normal build (specs in stock lua5.4 with the
# built module). CTest's summary is the last thing printed.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs=$(nproc)

echo "== sanitizer build (ASan + UBSan)"
./scripts/build.sh build-asan -DTV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== normal build"
./scripts/build.sh build
ctest --test-dir build --output-on-failure -j "$jobs"
