-- taskvisor-0.1.0-1.rockspec: `luarocks --lua-version 5.4 make` in this checkout
-- builds taskvisor/core.so against Lua 5.4 and libuv with the project's CMake
-- and installs it with lua/taskvisor/*.lua (and the taskvisor host) into the
-- tree. Checked by the CTest test `luarocks` (scripts/luarocks_test.sh).
rockspec_format = "3.0"
package = "taskvisor"
version = "0.1.0-1"
source = {
  -- (placeholder: `luarocks make` builds the checkout it runs in; set the
  -- repository's address here before publishing to a rocks server)
  url = "git+https://example.invalid/taskvisor.git",
}
description = {
  summary = "Supervised Lua tasks and OS processes on libuv: restart, backoff, timeouts, events",
  detailed = [[
A supervisor for Lua 5.4 on libuv: Lua coroutines and OS processes under
restart / backoff / timeout policies, typed lifecycle events, subscribers and
graceful shutdown. Runs on luv's loop when the app loaded luv first.
]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
-- C libraries the build links, one entry each (Debian 12 package in the
-- comment); a new one gets its entry here and its -D lines in build.variables.
external_dependencies = {
  LIBUV = { header = "uv.h", library = "uv" }, -- libuv1-dev
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    TV_TESTS = "OFF",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    CMAKE_INSTALL_BINDIR = "$(BINDIR)",
    TV_LUA_CDIR = "$(LIBDIR)",
    TV_LUA_LDIR = "$(LUADIR)",
    LUA_INCLUDE_DIR = "$(LUA_INCDIR)",
    UV_INCLUDE_DIR = "$(LIBUV_INCDIR)",
    UV_LIBRARY = "$(LIBUV_LIBDIR)/libuv.so",
  },
}
