#!/bin/sh
# scripts/setup.sh [--test]: installs the Debian 12 packages taskvisor needs,
# if any is missing (apt-get; uses sudo when not root). Without options, what
# building and running it needs (scripts/quickstart.sh); with --test, also
# what the test suite needs (scripts/test.sh, scripts/fuzz.sh).
set -eu

# To build the host and the module (the host embeds Lua: no interpreter needed).
RUNTIME="build-essential cmake liblua5.4-dev libuv1-dev"
# zlib1g-dev: compressed log rotations
RUNTIME="$RUNTIME zlib1g-dev"
# lua-dkjson: taskvisor simulate --json
RUNTIME="$RUNTIME lua-dkjson"
# The control API (src/control/): HTTP server and JSON.
RUNTIME="$RUNTIME pkg-config libmicrohttpd-dev libjansson-dev"
# taskvisor ctl (src/host/ctl*.c): libcurl speaks HTTP over the control socket, jansson the JSON.
RUNTIME="$RUNTIME libcurl4-openssl-dev"
# lua5.4 + lua-busted: the specs; python3: the process examples' web server;
# clang + libclang-rt-14-dev: libFuzzer (fuzz/); valgrind: the memcheck tests.
TEST="lua5.4 lua-busted python3 clang libclang-rt-14-dev valgrind"
# tzdata: the calendar spec's daylight-saving cases (America/New_York)
TEST="$TEST tzdata"
# lua-luv: spec/luv_spec.lua and examples/luv_*.lua (a luv app); luarocks: the
# rockspec's test. lua-luv-dev: luv.h, which checks
# the type the binding gives luv_loop (found at run time; luv is never linked).
TEST="$TEST lua-luv lua-luv-dev luarocks"
# curl: the control API specs drive a host with curl --unix-socket.
TEST="$TEST curl"
# jq: spec/ctl_spec.lua checks taskvisor ctl --json output with it.
TEST="$TEST jq"

# gnuplot-nox: bench/scale.sh's plots (bench).
TEST="$TEST gnuplot-nox"
# The observe surfaces: promtool (prometheus) and a headless chromium driven by
# selenium check /metrics and the status page.
TEST="$TEST prometheus chromium chromium-driver python3-selenium"

case "${1:-}" in
  "") PACKAGES=$RUNTIME ;;
  --test) PACKAGES="$RUNTIME $TEST" ;;
  *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "setup: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
