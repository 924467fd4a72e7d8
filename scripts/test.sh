#!/bin/sh
# scripts/test.sh: installs what is missing, builds, and runs the whole test
# suite through CTest, in three builds:
#   1. AddressSanitizer + UndefinedBehaviorSanitizer (build-asan): C unit
#      tests, busted specs (through the instrumented host) and every example;
#   2. libFuzzer (build-fuzz, clang, ASan + UBSan): a short run of every fuzz
#      target from its checked-in seeds and regression inputs (fuzz/);
#   3. normal (build): the same tests with the specs in stock lua5.4 and the
#      built module, and every spec again under valgrind memcheck.
# CTest's summary is the last thing printed.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
jobs=$(nproc)

echo "== sanitizer build (ASan + UBSan)"
./scripts/build.sh build-asan -DTV_TESTS=ON -DTV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== fuzz build (libFuzzer, ASan + UBSan): short runs"
./scripts/build.sh build-fuzz -DCMAKE_C_COMPILER=clang -DTV_FUZZ=ON -DTV_TESTS=OFF
ctest --test-dir build-fuzz --output-on-failure -j "$jobs"

echo "== normal build, and the specs under valgrind memcheck"
./scripts/build.sh build -DTV_TESTS=ON -DTV_MEMCHECK=ON # (ON: the quickstart's build has them off)
ctest --test-dir build --output-on-failure -j "$jobs"
