#!/bin/sh
# scripts/setup.sh [--test]: installs the Debian 12 packages taskvisor needs,
# if any is missing (apt-get; uses sudo when not root). Without options, what
# building and running it needs (scripts/quickstart.sh); with --test, also
# what the test suite needs (scripts/test.sh, scripts/fuzz.sh).
set -eu

# To build the host and the module (the host embeds Lua: no interpreter needed).
RUNTIME="build-essential cmake liblua5.4-dev libuv1-dev"
# The control API (src/control/): HTTP server and JSON.
RUNTIME="$RUNTIME pkg-config libmicrohttpd-dev libjansson-dev"
# lua5.4 + lua-busted: the specs; python3: the process examples' web server;
# clang + libclang-rt-14-dev: libFuzzer (fuzz/); valgrind: the memcheck tests.
TEST="lua5.4 lua-busted python3 clang libclang-rt-14-dev valgrind"
# curl, lua-dkjson: the control API specs drive a host with curl --unix-socket.
TEST="$TEST curl lua-dkjson"
# The observe surfaces: jq, promtool (prometheus) and a headless chromium driven by
# selenium check the JSON lines, /metrics and the status page.
TEST="$TEST jq prometheus chromium chromium-driver python3-selenium"

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
