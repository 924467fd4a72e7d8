#!/bin/sh
# fuzz/run.sh FUZZER SEEDS CORPUS SECONDS [fresh]: one bounded libFuzzer run,
# shared by the short CTest runs and scripts/fuzz.sh. Replays every input in
# SEEDS (the checked-in seeds and regression cases) and CORPUS, then mutates
# for SECONDS. New inputs go to CORPUS ("fresh" empties it first); a crash
# is saved beside it as <corpus name>-crash-<sha1> and fails the run. The
# targets' scratch files go to <corpus>.tmp (left there by a crash).
set -eu
fuzzer=$1 seeds=$2 corpus=$3 seconds=$4
if [ "${5:-}" = fresh ]; then rm -rf "$corpus" "$corpus.tmp"; fi
mkdir -p "$corpus" "$corpus.tmp"
TMPDIR=$corpus.tmp exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$corpus-" "$corpus" "$seeds"
