#!/bin/sh
# bench/spawn_ratio.sh HOST RAW_SPAWN [ROUNDS] [N]: process restarts against
# raw spawns on a busy machine. Each round runs, back to back, N restarts
# of /bin/false under the host (bench/restart_rate.lua), N uv_spawn + reap
# and N posix_spawn + reap (bench/raw_spawn.c); the ratios are taken within
# each round (neighbours see the same load) and their medians printed with
# the medians of the rates. Defaults: 15 rounds of 1000.
set -eu
host=$1 raw=$2 rounds=${3:-15} n=${4:-1000}
dir=$(dirname "$0")
i=0
while [ "$i" -lt "$rounds" ]; do
  t=$("$host" "$dir/restart_rate.lua" "$n")
  u=$("$raw" "$n" /bin/false | sed 's/.*spawns\/s=//')
  p=$("$raw" --posix "$n" /bin/false | sed 's/.*spawns\/s=//')
  echo "$t $u $p"
  i=$((i + 1))
done | awk '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
  }
  { k++; t[k] = $1; u[k] = $2; p[k] = $3; ru[k] = $1 / $2; rp[k] = $1 / $3
    printf "round %d: taskvisor %d/s, uv_spawn %d/s, posix_spawn %d/s\n", k, $1, $2, $3 }
  END {
    printf "median: taskvisor %d/s, uv_spawn %d/s, posix_spawn %d/s\n", median(t, k), median(u, k), median(p, k)
    printf "median ratio: taskvisor / uv_spawn %.0f%%, taskvisor / posix_spawn %.0f%% (%d rounds)\n",
      100 * median(ru, k), 100 * median(rp, k), k
  }'
