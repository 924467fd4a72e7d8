/* control.c - libFuzzer target: raw bytes sent as HTTP to the control API's
 * server (libmicrohttpd on our loop, the Lua routes, JSON both ways) over its
 * Unix socket, for a supervisor with a few tasks that never runs.
 * Invariant: the server answers with HTTP/1.x or closes; never our 500
 * (EINTERNAL: a route raised or its answer could not be encoded); every
 * connection is closed in the end; nothing leaks after lua_close. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "control/lserver.h"
#include "embedded.h"
#include "fuzz.h"

int luaopen_taskvisor_core(lua_State *L);

static lua_State *L;
static char sock_path[108];

static int load_embedded(lua_State *S) {
  const tv_embedded_t *m = lua_touserdata(S, lua_upvalueindex(1));
  if (luaL_loadbufferx(S, (const char *)m->data, m->len, m->chunkname, "t") != LUA_OK)
    return lua_error(S);
  lua_pushvalue(S, 1);
  lua_call(S, 1, 1);
  return 1;
}

static const char SETUP[] =
    "local path = ...\n"
    "local tv = require('taskvisor')\n"
    "local Control = require('taskvisor.control')\n"
    "local cfg = tv.config{ control = { idle_timeout = 1, backlog = 8 }, tasks = {\n"
    "  tv.task{ name = 't', restart = 'never', run = function() end },\n"
    "  tv.group{ name = 'g', children = { tv.task{ name = 'c', run = function() end } } } } }\n"
    "local sup = tv.supervisor{ controller = true }\n"
    "local ctl = assert(Control.open{ name = 'fuzz', control = path, config = 'fuzz.lua' })\n"
    "assert(ctl:attach(sup, cfg))\n"
    "FUZZ_CTL, FUZZ_SUP = ctl, sup\n";

static void setup(void) {
  snprintf(sock_path, sizeof sock_path, "%s/tv-fuzz-%d.sock", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (int)getpid());
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_taskvisor_core);
  lua_setfield(L, -2, "taskvisor.core");
  lua_pushcfunction(L, luaopen_taskvisor_control_server);
  lua_setfield(L, -2, "taskvisor.control.server");
  for (const tv_embedded_t *m = tv_embedded; m->name; m++) {
    lua_pushlightuserdata(L, (void *)m);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
  if (luaL_loadstring(L, SETUP) != LUA_OK) abort();
  lua_pushstring(L, sock_path);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_control setup: %s\n", lua_tostring(L, -1));
    abort();
  }
}

static void teardown(void) {
  lua_getglobal(L, "FUZZ_CTL");
  lua_getfield(L, -1, "close");
  lua_insert(L, -2);
  lua_pcall(L, 1, 0, 0);
  lua_close(L);
  L = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setup();
  atexit(teardown);
  return 0;
}

static void check(const char *resp, size_t n) {
  if (n == 0) return; /* closed without an answer: allowed (e.g. garbage) */
  if (n < 9 || memcmp(resp, "HTTP/1.", 7) != 0) {
    fprintf(stderr, "not an HTTP answer: %.*s\n", (int)(n < 200 ? n : 200), resp);
    abort();
  }
  static const char internal[] = "\"code\":\"EINTERNAL\"";
  if (memmem(resp, n, internal, sizeof internal - 1)) {
    fprintf(stderr, "the server failed inside: %.*s\n", (int)(n < 2000 ? n : 2000), resp);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 200 * 1024) return -1;
  uv_loop_t *loop = uv_default_loop();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, sock_path);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) abort();
  fcntl(fd, F_SETFL, O_NONBLOCK);
  size_t sent = 0, got = 0;
  static char resp[1 << 20];
  int eof = 0;
  for (int turn = 0; turn < 4000 && !eof; turn++) {
    if (sent < size) {
      ssize_t w = write(fd, data + sent, size - sent);
      if (w > 0) sent += (size_t)w;
      else if (w < 0 && errno != EAGAIN) sent = size;
      if (sent == size) shutdown(fd, SHUT_WR);
    } else if (size == 0 && turn == 0) {
      shutdown(fd, SHUT_WR);
    }
    uv_run(loop, UV_RUN_NOWAIT);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 1) > 0) {
      ssize_t r = read(fd, resp + got, sizeof resp - got);
      if (r == 0 || (r < 0 && errno != EAGAIN)) eof = 1;
      else if (r > 0 && (got += (size_t)r) == sizeof resp) eof = 1;
    }
  }
  close(fd);
  check(resp, got);
  /* the server sees the close (and ends the connection) */
  for (int turn = 0; turn < 50; turn++) uv_run(loop, UV_RUN_NOWAIT);
  return 0;
}
