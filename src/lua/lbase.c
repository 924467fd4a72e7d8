/* lbase.c - the bottom of the binding: the per-interpreter context (loop,
 * clock, scheduler, our callback thread, the child reaper) and the small
 * helpers every other file shares: "CODE: message" returns, seconds and
 * option-table fields. Calls nothing else in src/lua/. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base/error.h"
#include "core/os/reaper.h"
#include "core/supervision/policy.h"
#include "lbase.h"

ltv_ctx *ltv_ctx_get(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LTV_CTX);
  ltv_ctx *ctx = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return ctx;
}

static int ctx_gc(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, 1);
  if (!ctx->loop) return 0;
  if (ctx->reaper) tv_reaper_close(ctx->reaper); /* kills and reaps what is left */
  ctx->reaper = NULL;
  tv_sched_close(&ctx->sched);
  /* Let libuv run the close callbacks that free our handles, unless we are
   * being closed from inside the loop itself. */
  if (!ctx->running) uv_run(ctx->loop, UV_RUN_NOWAIT);
  ctx->loop = NULL;
  return 0;
}

ltv_ctx *ltv_ctx_open(lua_State *L) {
  ltv_ctx *ctx = ltv_ctx_get(L);
  if (ctx) return ctx;
  ctx = lua_newuserdatauv(L, sizeof *ctx, 1);
  memset(ctx, 0, sizeof *ctx);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, ctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  ctx->L = lua_newthread(L);
  lua_setiuservalue(L, -2, 1); /* the thread lives as long as the context */
  /* libuv 1.44 abort()s when it cannot make its process-wide signal pipe
   * (the first loop's init): make sure the four fds a loop needs exist. */
  int probe[4], made = 0, err = 0;
  while (made < 4 && !err) {
    if (pipe2(probe + made, O_CLOEXEC) == 0)
      made += 2;
    else
      err = -errno;
  }
  while (made > 0) close(probe[--made]);
  if (err)
    luaL_error(L, "taskvisor: cannot create the event loop: %s: %s", uv_err_name(err), uv_strerror(err));
  errno = 0;
  ctx->loop = uv_default_loop();
  if (!ctx->loop) { /* its epoll fd or wake-up pipe: EMFILE with few fds left */
    err = errno ? -errno : UV_ENOMEM;
    luaL_error(L, "taskvisor: cannot create the event loop: %s: %s", uv_err_name(err), uv_strerror(err));
  }
  tv_clock_init_uv(&ctx->clock, ctx->loop);
  if (tv_sched_init(&ctx->sched, &ctx->clock, ctx->loop) != 0) {
    ctx->loop = NULL;
    luaL_error(L, "taskvisor: not enough memory");
  }
  lua_setfield(L, LUA_REGISTRYINDEX, LTV_CTX);
  return ctx;
}

struct tv_reaper *ltv_reaper(lua_State *L, ltv_ctx *ctx) {
  if (!ctx->reaper) {
    int rc = tv_reaper_new(&ctx->reaper, ctx->loop);
    if (rc) luaL_error(L, "cannot watch child processes: %s", uv_strerror(rc));
  }
  return ctx->reaper;
}

int ltv_push_error(lua_State *L, int err, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", tv_err_name(err), msg);
  return 2;
}

uint64_t ltv_check_seconds(lua_State *L, int arg, const char *what) {
  int isnum = lua_type(L, arg) == LUA_TNUMBER;
  lua_Number s = isnum ? lua_tonumber(L, arg) : 0;
  if (!isnum || !isfinite(s) || s < 0 || s > 1e9) {
    if (isnum) lua_pushfstring(L, "%f", (double)s);
    luaL_error(L, "%s must be a number of seconds between 0 and 1e9 (got %s)", what,
               isnum ? (s != s ? "nan" : lua_tostring(L, -1)) : luaL_typename(L, arg));
  }
  double ms = ceil(s * 1000.0);
  return (uint64_t)ms;
}

uint32_t ltv_opt_budget(lua_State *L, int arg) {
  lua_Integer n = luaL_optinteger(L, arg, 0);
  luaL_argcheck(L, n >= 0 && n <= UINT32_MAX, arg, "max_instructions out of range");
  return (uint32_t)n;
}

double ltv_opt_number(lua_State *L, int t, const char *k, double def) {
  double v = lua_getfield(L, t, k) == LUA_TNUMBER ? lua_tonumber(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

uint64_t ltv_opt_ms(lua_State *L, int t, const char *k, double def_secs) {
  return tv_ms_ceil(tv_secs_to_ns(ltv_opt_number(L, t, k, def_secs)));
}
