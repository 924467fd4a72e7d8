#!/bin/sh
# scripts/test.sh: installs what is missing, builds, and runs the whole test
# suite through CTest, in three builds:
#   1. AddressSanitizer + UndefinedBehaviorSanitizer (build-asan): C unit
#      tests, busted specs (through the instrumented host) and every example;
#   2. libFuzzer (build-fuzz, clang, ASan + UBSan): a short run of every fuzz
#      target from its checked-in seeds and regression inputs (fuzz/);
#   3. normal (build): the same tests with the specs in stock lua5.4 and the
#      built module, and every spec again under valgrind memcheck.
# Every stage runs even when an earlier one failed (one failure must not hide
# the others); a line per stage says how it went, and the exit status is
# non-zero if any failed. The last line is a CTest summary line over all
# three stages (a stage whose build failed counts as one failed test), the
# line CI reads.
set -u
cd "$(dirname "$0")/.."
./scripts/setup.sh --test || exit 1
jobs=$(nproc)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
report=""
failed_stages=0

# stage NAME TITLE BUILD-DIR [cmake options...]: builds, runs ctest in it
# (with the variables in $ctest_env), shows its output as it comes and keeps
# it in $logs/NAME.
ctest_env=""
stage() {
  name=$1 title=$2 dir=$3
  shift 3
  echo "== $title"
  { if ./scripts/build.sh "$dir" "$@"; then
      env $ctest_env ctest --test-dir "$dir" --output-on-failure -j "$jobs"
      echo "$?" >"$logs/$name.rc"
    else
      echo "build of $dir failed"
      echo build >"$logs/$name.rc"
    fi; } 2>&1 | tee "$logs/$name"
  rc=$(cat "$logs/$name.rc" 2>/dev/null || echo build)
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/$name" | tail -n 1)
  if [ "$rc" = 0 ]; then
    verdict="pass"
  else
    verdict="FAIL"
    failed_stages=$((failed_stages + 1))
  fi
  [ "$rc" = build ] && summary="the build failed"
  report="$report
stage $name: $verdict (${summary:-ctest printed no summary; exit status $rc})"
}

ctest_env="ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
stage asan "sanitizer build (ASan + UBSan)" build-asan -DTV_TESTS=ON -DTV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ctest_env=""
stage fuzz "fuzz build (libFuzzer, ASan + UBSan): short runs" build-fuzz \
  -DCMAKE_C_COMPILER=clang -DTV_FUZZ=ON -DTV_TESTS=OFF
stage normal "normal build, and the specs under valgrind memcheck" build -DTV_TESTS=ON -DTV_MEMCHECK=ON

# The totals over the stages, in CTest's own words (its rounding: a run with
# a failure never shows 100%).
total=0 failed=0
for name in asan fuzz normal; do
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/$name" | tail -n 1)
  if [ -n "$line" ]; then
    f=$(echo "$line" | sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    t=$(echo "$line" | sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
  elif [ "$(cat "$logs/$name.rc" 2>/dev/null || echo build)" = 0 ]; then
    f=0 t=0
  else
    f=1 t=1
  fi
  total=$((total + t)) failed=$((failed + f))
done
pct=100
if [ "$total" -gt 0 ]; then
  pct=$(( ((total - failed) * 100 + total / 2) / total ))
  [ "$failed" -gt 0 ] && [ "$pct" -gt 99 ] && pct=99
fi
echo
echo "== stages$report"
echo "$pct% tests passed, $failed tests failed out of $total"
[ "$failed_stages" -eq 0 ]
