#!/bin/sh
# scripts/fuzz.sh [TARGET [SECONDS]]: installs what is missing, builds the
# libFuzzer targets (build-fuzz, clang, ASan + UBSan) and fuzzes TARGET
# (default: each target in fuzz/ in turn) for SECONDS each (default 300).
# The corpus grows in build-fuzz/fuzz/TARGET (kept between runs; the seeds in
# fuzz/corpus/TARGET are read too); a crash stops the run and is saved as
# build-fuzz/fuzz/TARGET-crash-<sha1>. Details: fuzz/README.md.
set -eu
cd "$(dirname "$0")/.."
target=${1:-all}
seconds=${2:-300}
./scripts/setup.sh --test
./scripts/build.sh build-fuzz -DCMAKE_C_COMPILER=clang -DTV_FUZZ=ON -DTV_TESTS=OFF
if [ "$target" = all ]; then
  targets=$(cd fuzz && ls ./*.c | sed 's|^\./||; s|\.c$||')
else
  targets=$target
fi
for t in $targets; do
  echo "== fuzz_$t for ${seconds}s" >&2
  fuzz/run.sh "build-fuzz/fuzz_$t" "fuzz/corpus/$t" "build-fuzz/fuzz/$t" "$seconds"
done
