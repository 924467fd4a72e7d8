#!/bin/sh
# bench/observe.sh BUILD [TASKS] [ATTEMPTS] [RUNS] [ADD]: the observe
# surfaces' costs (BENCHMARKS.md, "Observe"):
# (1) GET /metrics with TASKS (10,000; 0 skips it) idle tasks, 20 scrapes
#     timed by curl;
# (2) bench/observe_storm.lua (1,000 tasks, ATTEMPTS attempts: 200,000)
#     under `taskvisor run --http`, without a page, with curl following the
#     page's feed, and with the status page open in headless chromium
#     (bench/observe_page.py: chromium's own CPU, its renderer's busy and
#     layout time), interleaved RUNS (3) times, then the medians of each:
#     wall time, the host's CPU and the time it waited for a core (runq: the
#     cores are shared with chromium and whatever else runs). ADD: at-go (the
#     tasks are added as the storm starts: the page builds their rows during
#     it) or before (added, and shown by the page, before it starts).
# Environment: HOST_CPU pins the host, PAGE_CPU chromium (and curl's feed)
# with taskset: the browser of a real deployment is on the operator's
# machine, not on the two cores of the host it watches.
set -eu
BUILD=${1:?usage: bench/observe.sh BUILD [TASKS] [ATTEMPTS] [RUNS] [at-go|before]}
N=${2:-10000}
ATTEMPTS=${3:-200000}
RUNS=${4:-3}
ADD=${5:-at-go}
ROWS=0 # (the rows the page must show before the storm: the tasks and the gate, when added before)
[ "$ADD" = before ] && ROWS=1001
HOST=$BUILD/taskvisor
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
HERE=$(cd "$(dirname "$0")" && pwd)

port_of() { # the --http port the host printed
  for _ in $(seq 1200); do
    p=$(sed -n 's|.*serving on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$1" 2>/dev/null || true) # (not there yet: the host's shell opens it)
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.05
  done
  echo "no port in $1" >&2; exit 1
}

metrics() {
cat >"$DIR/idle.lua" <<LUA
local tv = require("taskvisor")
local tasks = {}
for i = 1, $N do tasks[i] = tv.task{ name = "idle-" .. i, run = function() tv.sleep(3600) end } end
return tv.config{ tasks = tasks }
LUA
"$HOST" run --control "$DIR/idle.sock" --http 127.0.0.1:0 "$DIR/idle.lua" 2>"$DIR/idle.err" &
PID=$!
PORT=$(port_of "$DIR/idle.err")
until curl -s "http://127.0.0.1:$PORT/metrics" | grep -q "taskvisor_tasks $N"; do sleep 0.2; done
for i in $(seq 20); do
  curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/metrics"
done | sort -n | awk -v n="$N" -v size="$(curl -s "http://127.0.0.1:$PORT/metrics" | wc -c)" \
  '{ t[NR] = $1 * 1000 } END { printf "metrics: tasks=%d scrapes=%d min=%.1fms median=%.1fms max=%.1fms bytes=%d\n", n, NR, t[1], t[int((NR + 1) / 2)], t[NR], size }'
kill -TERM $PID; wait $PID || true
}
if [ "$N" -gt 0 ]; then metrics; fi

storm() { # $1: page | feed (curl follows /observe/tasks) | nopage
  rm -f "$DIR/go" "$DIR/s.sock"
  ${HOST_CPU:+taskset -c "$HOST_CPU"} "$HOST" run --control "$DIR/s.sock" --http 127.0.0.1:0 "$HERE/observe_storm.lua" 1000 "$ATTEMPTS" "$DIR/go" "$ADD" \
    >"$DIR/storm.out" 2>"$DIR/storm.err" &
  SP=$!
  SPORT=$(port_of "$DIR/storm.err")
  if [ "$1" = page ]; then
    ${PAGE_CPU:+taskset -c "$PAGE_CPU"} /usr/bin/python3 "$HERE/observe_page.py" "http://127.0.0.1:$SPORT/" "$DIR/go" "$ROWS" >"$DIR/page.out" 2>&1 &
    PP=$!
  elif [ "$1" = feed ]; then
    ${PAGE_CPU:+taskset -c "$PAGE_CPU"} curl -sN "http://127.0.0.1:$SPORT/observe/tasks" >/dev/null &
    sleep 0.3
    touch "$DIR/go"
  else
    touch "$DIR/go"
  fi
  wait $SP || true
  [ "$1" = page ] && { wait $PP || true; }
  echo "$1 $(cat "$DIR/storm.out") $([ "$1" = page ] && tail -1 "$DIR/page.out")"
}
for _ in $(seq "$RUNS"); do storm nopage; storm feed; storm page; done | tee "$DIR/runs"
awk '{ m = $1; for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] ~ /^(time|cpu|runq|chromium_cpu)$/) v[m, kv[1], ++n[m, kv[1]]] = kv[2] + 0 } }
  function med(m, k,   a, i, j, t, c) { c = n[m, k]; if (!c) return "-"; for (i = 1; i <= c; i++) a[i] = v[m, k, i]
    for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return sprintf("%.3f", a[int((c + 1) / 2)]) }
  END { for (k = 1; k <= 3; k++) { m = k == 1 ? "nopage" : k == 2 ? "feed" : "page"
    printf "median %-6s time=%ss cpu=%ss runq=%ss chromium_cpu=%s\n", m, med(m, "time"), med(m, "cpu"), med(m, "runq"), med(m, "chromium_cpu") } }' "$DIR/runs"
