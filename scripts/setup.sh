#!/bin/sh
# scripts/setup.sh: installs the Debian 12 packages taskvisor needs to build
# and test, if any is missing (apt-get; uses sudo when not root).
set -eu

# clang + libclang-rt-14-dev: libFuzzer (fuzz/); valgrind: the memcheck tests.
PACKAGES="build-essential cmake liblua5.4-dev lua5.4 libuv1-dev lua-busted python3 clang
  libclang-rt-14-dev valgrind"

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
