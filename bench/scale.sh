#!/bin/sh
# bench/scale.sh [BUILD]: the scale curves of BENCHMARKS.md ("Scale curves"):
# runs every point through BUILD's host (default ./build), writes the figures
# to bench/plots/*.dat and plots them to bench/plots/*.svg with gnuplot
# (bench/scale.gp). About four minutes; needs ~2 GB of memory (1 M tasks)
# and 3,000 processes (checked first).
set -eu
cd "$(dirname "$0")/.."
build=${1:-./build}
host=$build/taskvisor
out=bench/plots
mkdir -p "$out"
nproc_max=$(awk '/^Max processes/ {print $3}' /proc/self/limits)
if [ "$nproc_max" != unlimited ] && [ "$nproc_max" -lt 3200 ]; then
  echo "scale.sh: the process limit (ulimit -u) is $nproc_max: 3,000 children need more" >&2
  exit 1
fi
if [ "$(cat /proc/sys/kernel/pid_max)" -lt 8000 ]; then
  echo "scale.sh: kernel.pid_max is too low for 3,000 children" >&2; exit 1
fi
stamp=$build/stamp
cc -O2 -static bench/stamp.c -o "$stamp" 2>/dev/null || cc -O2 bench/stamp.c -o "$stamp"
field() { sed -n "s|.* $1=\([0-9.]*\).*|\1|p"; }

# Tasks: attempts/s (5 attempts per task, at least 1 M) and bytes per idle task.
echo "# tasks attempts_per_s rss_bytes_per_idle_task lua_heap_bytes_per_task" > $out/tasks.dat
for n in 1000 10000 100000 1000000; do
  attempts=$((n * 5)); [ $attempts -lt 1000000 ] && attempts=1000000
  r=$($host bench/restarts.lua $n $attempts); echo "$r"
  m=$($host bench/memory.lua $n); echo "$m"
  echo "$n $(echo "$r" | field attempts/s) $(echo "$m" | field rss_per_task) $(echo "$m" | field lua_heap_per_task)" >> $out/tasks.dat
done

# Idle children: host RSS, wakeups and CPU over 10 s.
echo "# children rss_kib voluntary_switches_per_s involuntary_per_s cpu_pct" > $out/procs.dat
for n in 10 100 1000 3000; do
  r=$($host bench/scale.lua procs $n); echo "$r"
  echo "$n $(echo "$r" | field rss_kib) $(echo "$r" | field voluntary_per_s) $(echo "$r" | field involuntary_per_s) $(echo "$r" | field cpu_pct)" >> $out/procs.dat
done

# Restart latency, child exit to next child's main (1,000 restarts), 3 runs.
echo "# run p50_ms p90_ms p99_ms max_ms" > $out/latency.dat
for i in 1 2 3; do
  r=$($host bench/scale.lua latency 1000 "$stamp"); echo "$r"
  echo "$i $(echo "$r" | field p50_ms) $(echo "$r" | field p90_ms) $(echo "$r" | field p99_ms) $(echo "$r" | field max_ms)" >> $out/latency.dat
done

# Shutdown of N children that exit on SIGTERM.
echo "# children shutdown_ms" > $out/shutdown.dat
for n in 10 100 1000 3000; do
  r=$($host bench/scale.lua shutdown $n); echo "$r"
  echo "$n $(echo "$r" | field shutdown_ms)" >> $out/shutdown.dat
done

gnuplot -e "dir='$out'" bench/scale.gp
echo "scale.sh: tables in $out/*.dat, plots in $out/*.svg"
