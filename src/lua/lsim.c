/* lsim.c - virtual time from Lua (taskvisor simulate, tv.testing): the
 * context's clock switched in place between libuv's and a virtual one (every
 * supervisor, bus and timer reads it through ctx->clock), and a horizon timer
 * that asks a supervisor to shut down at a given (virtual) time. */
#include <string.h>

#include "core/supervision/supervisor.h"
#include "lbase.h"
#include "lsim.h"
#include "lsup.h"

#define LTV_HORIZON "taskvisor.horizon"

/* Owner: its userdata. While armed it is anchored in the registry (ref), and
 * its user value holds the supervisor, so neither is collected before the
 * timer fires or is cancelled. */
typedef struct ltv_horizon {
  tv_timer_t timer;
  ltv_ctx *ctx;
  ltv_sup *sup;
  int ref;
  char reason[64];
} ltv_horizon;

static ltv_ctx *ctx_up(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

/* The clock may change only outside the loop: a running sup:run() or a task
 * would see time jump between kinds. */
static void check_idle(lua_State *L, ltv_ctx *ctx, const char *what) {
  if (ctx->running || ctx->current)
    luaL_error(L, "%s: cannot change the clock while a supervisor runs (call it before sup:run())", what);
}

/* core.clock_virtual([epoch]): from now on time is virtual, starting where the
 * real clock is (armed timers keep their deadlines); event timestamps read
 * `epoch` (default 0) plus the virtual seconds elapsed. */
static int clock_virtual(lua_State *L) {
  ltv_ctx *ctx = ctx_up(L);
  double epoch = luaL_optnumber(L, 1, 0);
  check_idle(L, ctx, "core.clock_virtual");
  uint64_t now = tv_clock_now(&ctx->clock);
  tv_clock_init_virtual(&ctx->clock, now, epoch);
  tv_sched_clock_changed(&ctx->sched);
  return 0;
}

/* core.clock_real(): back to libuv's clock. */
static int clock_real(lua_State *L) {
  ltv_ctx *ctx = ctx_up(L);
  check_idle(L, ctx, "core.clock_real");
  if (!tv_clock_is_virtual(&ctx->clock)) return 0;
  uv_update_time(ctx->loop);
  tv_clock_init_uv(&ctx->clock, ctx->loop);
  tv_sched_clock_changed(&ctx->sched);
  return 0;
}

/* core.clock_kind(): "real" or "virtual", and the clock's time in seconds. */
static int clock_kind(lua_State *L) {
  ltv_ctx *ctx = ctx_up(L);
  lua_pushstring(L, tv_clock_is_virtual(&ctx->clock) ? "virtual" : "real");
  lua_pushnumber(L, (lua_Number)tv_clock_now(&ctx->clock) / 1000.0);
  return 2;
}

static void horizon_disarm(ltv_horizon *h) {
  tv_timer_stop(&h->ctx->sched, &h->timer);
  if (h->ref != LUA_NOREF) luaL_unref(h->ctx->L, LUA_REGISTRYINDEX, h->ref);
  h->ref = LUA_NOREF;
}

static void on_horizon(tv_timer_t *t) {
  ltv_horizon *h = ltv_container_of(t, ltv_horizon, timer);
  ltv_sup *s = h->sup;
  horizon_disarm(h); /* (the userdata may be collected from here on) */
  if (s->sup && !tv_sup_closed(s->sup)) (void)tv_sup_shutdown(s->sup, h->reason);
}

/* sup:_shutdown_at(seconds [, reason]): shuts the supervisor down `seconds`
 * from now (like a signal would). Returns a handle whose :cancel() disarms it. */
static int sup_shutdown_at(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  uint64_t ms = ltv_check_seconds(L, 2, "sup:_shutdown_at: 'seconds'");
  const char *reason = luaL_optstring(L, 3, "simulation horizon");
  ltv_horizon *h = lua_newuserdatauv(L, sizeof *h, 1);
  memset(h, 0, sizeof *h);
  h->ctx = s->ctx;
  h->sup = s;
  h->ref = LUA_NOREF;
  snprintf(h->reason, sizeof h->reason, "%s", reason);
  tv_timer_init(&h->timer, on_horizon);
  luaL_setmetatable(L, LTV_HORIZON);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (tv_timer_start(&s->ctx->sched, &h->timer, ms) != 0) return luaL_error(L, "not enough memory");
  lua_pushvalue(L, -1);
  h->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int horizon_cancel(lua_State *L) {
  horizon_disarm(luaL_checkudata(L, 1, LTV_HORIZON));
  return 0;
}

void ltv_sim_open(lua_State *L) {
  ltv_ctx *ctx = ltv_ctx_get(L);
  static const luaL_Reg fns[] = {{"clock_virtual", clock_virtual},
                                 {"clock_real", clock_real},
                                 {"clock_kind", clock_kind},
                                 {NULL, NULL}};
  lua_pushlightuserdata(L, ctx);
  luaL_setfuncs(L, fns, 1);
  static const luaL_Reg hmethods[] = {{"cancel", horizon_cancel}, {NULL, NULL}};
  luaL_newmetatable(L, LTV_HORIZON);
  luaL_newlib(L, hmethods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg methods[] = {{"_shutdown_at", sup_shutdown_at}, {NULL, NULL}};
  luaL_getmetatable(L, LTV_SUP);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}
