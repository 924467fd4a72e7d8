#!/bin/sh
# scripts/luarocks_test.sh SOURCE_DIR: what a user does on Debian 12 with
# the rockspec: `luarocks --lua-version 5.4 --tree T make` in a copy of the
# checkout, then require("taskvisor") from that tree only (LUA_PATH and
# LUA_CPATH from `luarocks path`). The CTest test `luarocks` runs it.
set -eu
src=$(cd "${1:?usage: luarocks_test.sh SOURCE_DIR}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src" "$tmp/home"
# a copy: the build leaves build.luarocks/ where it runs
tar -C "$src" --exclude=.git --exclude=Testing --exclude=build.luarocks -cf - . | tar -C "$tmp/src" -xf -
rockspec=$(ls "$tmp/src"/taskvisor-*.rockspec)
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4
export HOME="$tmp/home" # no user's luarocks config or cache
(cd "$tmp/src" && luarocks --lua-version 5.4 --tree "$tmp/tree" make "$rockspec") >"$tmp/make.log" 2>&1 || {
  cat "$tmp/make.log" >&2
  echo "luarocks_test: luarocks make failed" >&2
  exit 1
}
eval "$(luarocks --lua-version 5.4 --tree "$tmp/tree" path)"
cd "$tmp" # nothing of the checkout on the path
out=$(lua5.4 -e '
  local tv = require("taskvisor")
  local core = package.searchpath("taskvisor.core", package.cpath)
  local init = package.searchpath("taskvisor", package.path)
  local sup = tv.supervisor{}
  local ran = 0
  assert(sup:run{ tv.task{ name = "t", restart = "never", run = function() tv.sleep(0.01); ran = ran + 1 end } })
  print("version " .. tv.version .. " ran " .. ran)
  print("core " .. core)
  print("init " .. init)
')
echo "$out"
echo "$out" | grep -q "^version .* ran 1$" || { echo "luarocks_test: the task did not run" >&2; exit 1; }
echo "$out" | grep -q "^core $tmp/tree/lib/lua/5.4/taskvisor/core.so$" || { echo "luarocks_test: core.so not from the tree" >&2; exit 1; }
echo "$out" | grep -q "^init $tmp/tree/share/lua/5.4/taskvisor/init.lua$" || { echo "luarocks_test: init.lua not from the tree" >&2; exit 1; }
"$tmp/tree/bin/taskvisor" --version
echo "luarocks_test: ok"
