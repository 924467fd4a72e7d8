/* lmodule.c - luaopen_taskvisor_core: the per-interpreter context (loop,
 * clock, scheduler, our callback thread), the metatables and the module table.
 * The public face is lua/taskvisor/init.lua, which validates and wraps this. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/error.h"
#include "core/os/reaper.h"
#include "core/os/spawn.h"
#include "ltv.h"

#define LTV_VERSION "0.1.0"

ltv_ctx *ltv_ctx_get(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LTV_CTX);
  ltv_ctx *ctx = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return ctx;
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

static ltv_ctx *ctx_open(lua_State *L) {
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
  ctx->loop = uv_default_loop();
  tv_clock_init_uv(&ctx->clock, ctx->loop);
  if (tv_sched_init(&ctx->sched, &ctx->clock, ctx->loop) != 0) {
    ctx->loop = NULL;
    luaL_error(L, "taskvisor: not enough memory");
  }
  lua_setfield(L, LUA_REGISTRYINDEX, LTV_CTX);
  return ctx;
}

/* tv.sleep(seconds): sleeps the calling task or subscriber. */
static int l_sleep(lua_State *L) {
  ltv_fiber *f = ltv_fiber_current(lua_touserdata(L, lua_upvalueindex(1)), L);
  if (!f) return luaL_error(L, "tv.sleep: not inside a supervised coroutine (a task or a subscriber)");
  uint64_t ms = ltv_check_seconds(L, 1, "tv.sleep: 'seconds'");
  return ltv_fiber_sleep(L, f, ms, "tv.sleep");
}

/* tv.monotime(): seconds on the monotonic clock (for measurements). */
static int l_monotime(lua_State *L) {
  lua_pushnumber(L, (lua_Number)uv_hrtime() / 1e9);
  return 1;
}

/* tv.in_task(): whether the caller runs in a supervised coroutine. */
static int l_supervised(lua_State *L) {
  lua_pushboolean(L, ltv_fiber_current(lua_touserdata(L, lua_upvalueindex(1)), L) != NULL);
  return 1;
}

/* core.current_task(): the name of the task whose coroutine (or hook) is
 * running, or nil. */
static int l_current_task(lua_State *L) {
  ltv_fiber *f = ltv_fiber_current(lua_touserdata(L, lua_upvalueindex(1)), L);
  const tv_str_t *n = !f                          ? NULL
                      : f->kind == LTV_FIBER_TASK ? ltv_task_name_of(f)
                      : f->kind == LTV_FIBER_HOOK ? ltv_hook_task_name(f)
                                                  : NULL;
  if (n)
    lua_pushlstring(L, n->s, n->len);
  else
    lua_pushnil(L);
  return 1;
}

static int failure_tostring(lua_State *L) {
  lua_getfield(L, 1, "message");
  if (!lua_isstring(L, -1)) lua_pushliteral(L, "taskvisor failure");
  return 1;
}

int luaopen_taskvisor_core(lua_State *L) {
  tv_stdio_guard();
  ltv_ctx *ctx = ctx_open(L);
  ltv_task_open(L);
  ltv_sub_open(L);
  ltv_sup_open(L);
  ltv_process_open(L);
  ltv_group_open(L);

  lua_newtable(L);
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, ltv_sup_new, 1);
  lua_setfield(L, -2, "supervisor");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, ltv_task_new, 1);
  lua_setfield(L, -2, "task");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, ltv_process_new, 1);
  lua_setfield(L, -2, "process");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, ltv_group_new, 1);
  lua_setfield(L, -2, "group");
  lua_pushcfunction(L, ltv_policy_new);
  lua_setfield(L, -2, "policy");
  lua_pushcfunction(L, ltv_signum);
  lua_setfield(L, -2, "signum");
  lua_pushcfunction(L, ltv_find_program);
  lua_setfield(L, -2, "find_program");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_sleep, 1);
  lua_setfield(L, -2, "sleep");
  lua_pushcfunction(L, l_monotime);
  lua_setfield(L, -2, "monotime");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_supervised, 1);
  lua_setfield(L, -2, "supervised");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_current_task, 1);
  lua_setfield(L, -2, "current_task");
  if (luaL_newmetatable(L, LTV_FAILURE)) { /* sets __name */
    lua_pushcfunction(L, failure_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setfield(L, -2, "failure_mt");
  lua_getfield(L, LUA_REGISTRYINDEX, LTV_TASK ".methods");
  lua_setfield(L, -2, "ctx_methods");
  ltv_event_init(L);
  lua_setfield(L, -2, "event_kinds");
  lua_pushliteral(L, LTV_VERSION);
  lua_setfield(L, -2, "version");
  ltv_hooks_open(L);
  return 1;
}
