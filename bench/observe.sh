#!/bin/sh
# bench/observe.sh BUILD [TASKS]: the observe surfaces' costs (BENCHMARKS.md,
# "Observe"): (1) GET /metrics with TASKS (10,000) idle tasks, 20 scrapes
# timed by curl; (2) bench/observe_storm.lua (1,000 tasks, 200,000 attempts)
# under `taskvisor run --http`, without and with the status page open in
# headless chromium (bench/observe_page.py) or with curl following its feed,
# interleaved three times.
set -eu
BUILD=${1:?usage: bench/observe.sh BUILD [TASKS]}
N=${2:-10000}
HOST=$BUILD/taskvisor
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
HERE=$(cd "$(dirname "$0")" && pwd)

port_of() { # the --http port the host printed
  for _ in $(seq 200); do
    p=$(sed -n 's|.*serving on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$1")
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.05
  done
  echo "no port in $1" >&2; exit 1
}

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

storm() { # $1: page | feed (curl follows /observe/tasks) | nopage
  rm -f "$DIR/go" "$DIR/s.sock"
  "$HOST" run --control "$DIR/s.sock" --http 127.0.0.1:0 "$HERE/observe_storm.lua" 1000 200000 "$DIR/go" \
    >"$DIR/storm.out" 2>"$DIR/storm.err" &
  SP=$!
  SPORT=$(port_of "$DIR/storm.err")
  if [ "$1" = page ]; then
    /usr/bin/python3 "$HERE/observe_page.py" "http://127.0.0.1:$SPORT/" "$DIR/go" >"$DIR/page.out" 2>&1 &
    PP=$!
  elif [ "$1" = feed ]; then
    curl -sN "http://127.0.0.1:$SPORT/observe/tasks" >/dev/null &
    sleep 0.3
    touch "$DIR/go"
  else
    touch "$DIR/go"
  fi
  wait $SP || true
  [ "$1" = page ] && { wait $PP || true; }
  echo "$1 $(cat "$DIR/storm.out")"
}
for _ in 1 2 3; do storm nopage; storm feed; storm page; done
