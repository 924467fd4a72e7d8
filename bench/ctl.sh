#!/bin/sh
# bench/ctl.sh [HOST] [status|client|events|poll|all]: the control API's figures
# (BENCHMARKS.md, "The control API and taskvisor ctl"), end to end through
# `taskvisor ctl` against a real host running bench/ctl_config.lua:
#   status  `ctl --json status` (and the table) with 10,000 tasks: ms per call
#   client  the same calls against a static copy of that answer: ctl's own share
#   events  the event stream to one client during a restart storm: events/s
#           received, and the storm's attempts/s without and with the client
#   poll    100 clients polling `ctl --json status` in a loop during a restart
#           storm of 1,000 tasks: the loop's worst stall per second, as the
#           probe task's 1 ms sleeps see it (bench/ctl_config.lua)
# Environment: HOST_CPU / CLIENT_CPU pin the host / the clients (taskset),
# CLIENT_NICE runs the clients at that nice value.
set -eu
cd "$(dirname "$0")/.."
host=${1:-./build/taskvisor}
what=${2:-all}
tmp=$(mktemp -d /tmp/taskvisor-ctl-bench.XXXXXX)
sock=$tmp/h.sock
hostpid=
cleanup() {
  [ -n "$hostpid" ] && kill -TERM "$hostpid" 2>/dev/null && wait "$hostpid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

now_ns() { date +%s%N; }
ctl() { "$host" ctl --socket "$sock" "$@"; }

# start_host MODE TASKS: the host in the background, once its socket answers.
start_host() {
  : >"$tmp/probe.log"
  ${HOST_CPU:+taskset -c "$HOST_CPU"} "$host" run --control "$sock" bench/ctl_config.lua "$1" "$2" "$tmp/probe.log" >"$tmp/host.log" 2>&1 &
  hostpid=$!
  i=0
  until ctl host >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 600 ] && { echo "bench/ctl.sh: the host never answered:" >&2; cat "$tmp/host.log" >&2; exit 1; }
    sleep 0.1
  done
}
stop_host() {
  ctl shutdown >/dev/null || kill -TERM "$hostpid"
  wait "$hostpid" || true
  hostpid=
}
# probe_lines N: waits until the probe has written N more lines; prints the last N.
probe_lines() {
  start=$(wc -l <"$tmp/probe.log")
  until [ "$(wc -l <"$tmp/probe.log")" -ge $((start + $1)) ]; do sleep 0.2; done
  tail -n "$1" "$tmp/probe.log"
}
# stats: min median max of numbers on stdin, one a line.
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "min %.1f  median %.1f  max %.1f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

bench_status() {
  n=10000
  start_host idle $n
  until [ "$(ctl --json host | jq .tasks.running)" -ge $n ] 2>/dev/null; do sleep 0.2; done
  ctl --json status >/dev/null # warm
  for mode in "--json status" "status"; do
    for i in $(seq 20); do
      t0=$(now_ns)
      ctl $mode >"$tmp/out"
      t1=$(now_ns)
      echo $(((t1 - t0) / 1000)) | awk '{ print $1 / 1000 }'
    done | stats >"$tmp/stats"
    printf 'ctl %s, %d tasks: %s ms (20 calls, %s bytes)\n' "$mode" $((n + 1)) "$(cat "$tmp/stats")" "$(wc -c <"$tmp/out")"
  done
  if command -v curl >/dev/null; then # the same request without ctl: what the host itself takes
    for i in $(seq 20); do
      curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$sock" http://localhost/v1/tasks | awk '{ print $1 * 1000 }'
    done | stats >"$tmp/stats"
    printf 'curl GET /v1/tasks, %d tasks: %s ms (20 calls)\n' $((n + 1)) "$(cat "$tmp/stats")"
  fi
  stop_host
}

# The client alone: the host's answer for 10,000 tasks, saved, then served by
# a static python3 server, so only ctl's own work (start, libcurl, jansson,
# the table) is timed.
bench_client() {
  n=10000
  start_host idle $n
  until [ "$(ctl --json host | jq .tasks.running)" -ge $n ] 2>/dev/null; do sleep 0.2; done
  curl -s --unix-socket "$sock" http://localhost/v1/tasks >"$tmp/tasks.json"
  stop_host
  python3 -c '
import os, socketserver, sys
body = open(sys.argv[2], "rb").read()
head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
class H(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            if line in (b"\r\n", b"\n"):
                self.wfile.write(head + body)
                self.wfile.flush()
socketserver.ThreadingUnixStreamServer(sys.argv[1], H).serve_forever()' "$sock" "$tmp/tasks.json" &
  hostpid=$!
  until [ -S "$sock" ]; do sleep 0.1; done
  for mode in "--json status" "status"; do
    for i in $(seq 20); do
      t0=$(now_ns)
      ctl $mode >/dev/null
      t1=$(now_ns)
      echo $(((t1 - t0) / 1000)) | awk '{ print $1 / 1000 }'
    done | stats >"$tmp/stats"
    printf 'ctl %s against a static answer of %d tasks: %s ms (20 calls)\n' "$mode" $((n + 1)) "$(cat "$tmp/stats")"
  done
  kill "$hostpid"
  wait "$hostpid" 2>/dev/null || true
  hostpid=
}

bench_events() {
  start_host storm 1000
  probe_lines 2 >/dev/null # past the start
  before=$(probe_lines 3 | awk '{ s += $2 } END { printf "%.0f", s / NR }')
  for fmt in --json ""; do
    secs=5
    t0=$(now_ns)
    got=$(timeout -s INT $secs "$host" ctl --socket "$sock" $fmt events -f | wc -l) || true
    t1=$(now_ns)
    during=$(tail -n 3 "$tmp/probe.log" | awk '{ s += $2 } END { printf "%.0f", s / NR }')
    echo "$got $t0 $t1" | awk -v f="${fmt:-text}" -v b="$before" -v d="$during" \
      '{ s = ($3 - $2) / 1e9; printf "events -f (%s), one client: %d events in %.2f s = %.0f events/s; storm %.0f attempts/s before, %.0f during (%.0f%%)\n", f, $1, s, $1 / s, b, d, 100 * d / b }'
  done
  # the backlog in one answer: what the stream path can carry when events are there
  for fmt in --json ""; do
    t0=$(now_ns)
    got=$(ctl $fmt events | wc -l)
    t1=$(now_ns)
    echo "$got $t0 $t1" | awk -v f="${fmt:-text}" '{ s = ($3 - $2) / 1e9; printf "events (%s), the whole backlog in one answer: %d events in %.3f s = %.0f events/s\n", f, $1, s, $1 / s }'
  done
  stop_host
}

bench_poll() {
  start_host storm 1000
  probe_lines 2 >/dev/null
  base=$(probe_lines 5)
  touch "$tmp/polling"
  i=0
  clients=
  while [ $i -lt 100 ]; do
    # (the whole client loop, its shell's forks included, at CLIENT_NICE / on CLIENT_CPU)
    ${CLIENT_NICE:+nice -n "$CLIENT_NICE"} ${CLIENT_CPU:+taskset -c "$CLIENT_CPU"} sh -c '
      while [ -e "$1/polling" ]; do
        if "$2" ctl --socket "$3" --json status >/dev/null 2>&1; then printf . >>"$1/ok.$4"; else printf x >>"$1/err.$4"; fi
      done' sh "$tmp" "$host" "$sock" "$i" &
    clients="$clients $!"
    i=$((i + 1))
  done
  sleep 0.5 # (only so the clients are all looping before the window)
  cat "$tmp"/ok.* 2>/dev/null | wc -c >"$tmp/ok0"
  read -r run0 wait0 _ </proc/$hostpid/schedstat
  load=$(probe_lines 10)
  [ -n "${SHOW_SECONDS:-}" ] && echo "$load" >&2
  read -r run1 wait1 _ </proc/$hostpid/schedstat
  ok=$(($(cat "$tmp"/ok.* 2>/dev/null | wc -c) - $(cat "$tmp/ok0")))
  rm -f "$tmp/polling"
  for p in $clients; do wait "$p" 2>/dev/null || true; done
  rate=$(echo "$base" | awk '{ s += $2 } END { printf "%.0f", s / NR }')
  printf 'restart storm, no clients: per-second worst stall %s ms (5 s), %s attempts/s\n' \
    "$(echo "$base" | awk '{ print $3 }' | stats)" "$rate"
  rate=$(echo "$load" | awk '{ s += $2 } END { printf "%.0f", s / NR }')
  printf 'restart storm + 100 clients polling status: per-second worst stall %s ms (10 s), %s attempts/s, %s answers in the 10 s, %s refusals in all\n' \
    "$(echo "$load" | awk '{ print $3 }' | stats)" "$rate" "$ok" "$(cat "$tmp"/err.* 2>/dev/null | wc -c)"
  printf '  the same in the host'"'"'s own CPU time (without the time the clients held the cores): worst stall %s ms; without clients %s ms\n' \
    "$(echo "$load" | awk '{ print $4 }' | stats)" "$(echo "$base" | awk '{ print $4 }' | stats)"
  printf '  the host (its main thread) in those 10 s: on a CPU %.2f s, runnable but waiting for one %.2f s (/proc/PID/schedstat)\n' \
    "$(echo "$run0 $run1" | awk '{ print ($2 - $1) / 1e9 }')" "$(echo "$wait0 $wait1" | awk '{ print ($2 - $1) / 1e9 }')"
  stop_host
}

case $what in
  status) bench_status ;;
  client) bench_client ;;
  events) bench_events ;;
  poll) bench_poll ;;
  all) bench_status; bench_client; bench_events; bench_poll ;;
  *) echo "usage: bench/ctl.sh [HOST] [status|client|events|poll|all]" >&2; exit 2 ;;
esac
