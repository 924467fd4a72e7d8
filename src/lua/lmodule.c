/* lmodule.c - luaopen_taskvisor_core, the top of the binding: opens the
 * context and every file's metatables and builds the module table.
 * The public face is lua/taskvisor/init.lua, which validates and wraps this. */
#include "core/os/spawn.h"
#include "lbase.h"
#include "lctl.h"
#include "lembed.h"
#include "lerror.h"
#include "levent.h"
#include "lfiber.h"
#include "lgroup.h"
#include "lhooks.h"
#include "loperator.h"
#include "lcreds.h"
#include "ljson.h"
#include "lpath.h"
#include "lpolicy.h"
#include "lproc.h"
#include "lsim.h"
#include "lsimacc.h"
#include "lsimproc.h"
#include "lstats.h"
#include "lsub.h"
#include "lsup.h"
#include "lsupview.h"
#include "ltask.h"

#define LTV_VERSION "0.1.0"

/* tv.sleep(seconds): sleeps the calling task or subscriber. */
static int l_sleep(lua_State *L) {
  ltv_fiber *f = ltv_fiber_current(lua_touserdata(L, lua_upvalueindex(1)), L);
  if (!f) return luaL_error(L, "tv.sleep: not inside a supervised coroutine (a task or a subscriber)");
  uint64_t ms = ltv_check_seconds(L, 1, "tv.sleep: 'seconds'");
  return ltv_fiber_sleep(L, f, ms, "tv.sleep");
}

/* tv.monotime(): seconds on the monotonic clock (for measurements; virtual
 * in a simulation). */
static int l_monotime(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushnumber(L, (lua_Number)tv_clock_hrtime(&ctx->clock) / 1e9);
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
  const tv_str_t *n = f ? ltv_fiber_task_name(f) : NULL;
  if (n)
    lua_pushlstring(L, n->s, n->len);
  else
    lua_pushnil(L);
  return 1;
}

int luaopen_taskvisor_core(lua_State *L) {
  tv_stdio_guard();
  ltv_ctx *ctx = ltv_ctx_open(L);
  ltv_task_open(L);
  ltv_sub_open(L);
  ltv_sup_open(L);
  ltv_ctl_open(L);
  ltv_supview_open(L); /* adds to the supervisor's methods */
  ltv_operator_open(L); /* so does this */
  ltv_stats_open(L);   /* (so does this) */
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
  ltv_creds_open(L);
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_sleep, 1);
  lua_setfield(L, -2, "sleep");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_monotime, 1);
  lua_setfield(L, -2, "monotime");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_supervised, 1);
  lua_setfield(L, -2, "supervised");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_current_task, 1);
  lua_setfield(L, -2, "current_task");
  ltv_failure_mt(L);
  lua_setfield(L, -2, "failure_mt");
  lua_getfield(L, LUA_REGISTRYINDEX, LTV_TASK ".methods");
  lua_setfield(L, -2, "ctx_methods");
  ltv_event_init(L);
  lua_setfield(L, -2, "event_kinds");
  lua_pushliteral(L, LTV_VERSION);
  lua_setfield(L, -2, "version");
  ltv_embed_open(L, ctx);
  ltv_hooks_open(L);
  ltv_sim_open(L); /* also adds to the supervisor's methods */
  ltv_simproc_open(L, ctx);
  ltv_simacc_open(L);
  ltv_json_open(L);
  ltv_stats_module(L);
  return 1;
}
