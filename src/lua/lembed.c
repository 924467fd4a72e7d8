/* lembed.c - taskvisor inside another program's loop: sup:_start (the
 * supervisor runs while the app turns the loop, with OS signals only when
 * asked, and says when it ended), and the pieces that drive the loop from a
 * loop that is not libuv: core.step, core.backend. Layer 8 (LAYERS.md). */
#include <stdio.h>

#include "core/base/error.h"
#include "lbase.h"
#include "lembed.h"
#include "lsup.h"

/* The deferred on_done: on a thread of its own (user code; an error in it is
 * told on stderr and goes no further, as an event callback's in luv). */
static void done_cb(tv_work_t *w) {
  ltv_sup *s = ltv_container_of(w, ltv_sup, done_work);
  int ref = s->done_ref;
  s->done_ref = LUA_NOREF;
  if (ref == LUA_NOREF) return;
  lua_State *L = s->ctx->L;
  lua_State *T = lua_newthread(L);
  lua_rawgeti(T, LUA_REGISTRYINDEX, ref);
  luaL_unref(T, LUA_REGISTRYINDEX, ref);
  if (lua_pcall(T, 0, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(T, -1);
    fprintf(stderr, "taskvisor: sup:start on_done: %s\n", msg ? msg : "(error object is not a string)");
    fflush(stderr);
  }
  lua_pop(L, 1); /* the thread */
}

/* As a started supervisor closes (lsup.c's on_closed): its signal handlers
 * go, and on_done is queued for the next loop pass (never run from inside
 * the core's shutdown, nor inside the sup:shutdown() that caused it). */
static void on_stop(ltv_sup *s) {
  s->on_stop = NULL;
  if (s->sig_on) tv_signals_stop(&s->sig);
  s->sig_on = 0;
  if (s->done_ref != LUA_NOREF) tv_work_defer(&s->ctx->sched, &s->done_work, TV_LANE_NEXT);
}

/* sup:_start(signals, done): the supervisor runs from now on, while the loop
 * turns; `done` (a function or nil) is called once after it stopped.
 * Validated by embed.lua (not started before, not closed). */
static int sup_start(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  if (s->on_stop || tv_sup_closed(s->sup)) return luaL_error(L, "sup:start: started already");
  if (lua_toboolean(L, 2) && !s->sig_on) {
    int rc = tv_signals_start(&s->sig, s->ctx->loop, ltv_sup_on_signal, s);
    if (rc != 0) return luaL_error(L, "sup:start: cannot install signal handlers: %s", uv_strerror(rc));
    s->sig_on = 1;
  }
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TFUNCTION);
    lua_pushvalue(L, 3);
    s->done_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  s->done_work.cb = done_cb;
  s->on_stop = on_stop;
  lua_settop(L, 1);
  ltv_sup_anchor(L, s); /* until it closes: the app may keep no reference */
  tv_sup_run(s->sup);
  lua_pushboolean(L, 1);
  return 1;
}

/* sup:_result(): what sup:run() returns, once closed; nil, "EBUSY: ..." before. */
static int sup_result(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  if (!tv_sup_closed(s->sup))
    return ltv_push_error(L, TV_EBUSY, "the supervisor is still %s", tv_sup_state_name(s->sup->state));
  return ltv_sup_push_result(L, s);
}

/* core.step(): one pass of the loop that does not wait (UV_RUN_NOWAIT):
 * whether the loop has work or handles left. */
static int l_step(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  if (ctx->current) return luaL_error(L, "tv.step: cannot be called from inside a task or a subscriber");
  if (ltv_loop_busy(L, ctx))
    return luaL_error(L, "tv.step: the loop is already running (inside sup:run(), tv.step() or uv.run())");
  ctx->running = 1;
  int alive = ltv_loop_run(L, ctx, UV_RUN_NOWAIT);
  ctx->running = 0;
  lua_pushboolean(L, alive);
  return 1;
}

/* core.backend(): the fd to wait on for readability (libuv's epoll fd) and
 * how long to wait at most before the next step, in seconds (nil: no
 * deadline, wait for the fd), and which loop it is: "luv" or "default". */
static int l_backend(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushinteger(L, uv_backend_fd(ctx->loop));
  int ms = uv_backend_timeout(ctx->loop);
  if (ms < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, ms / 1000.0);
  lua_pushstring(L, ctx->luv != LUA_NOREF ? "luv" : "default");
  return 3;
}

void ltv_embed_open(lua_State *L, ltv_ctx *ctx) {
  static const luaL_Reg methods[] = {{"_start", sup_start}, {"_result", sup_result}, {NULL, NULL}};
  luaL_getmetatable(L, LTV_SUP);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
  /* the module table is at the top */
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_step, 1);
  lua_setfield(L, -2, "step");
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, l_backend, 1);
  lua_setfield(L, -2, "backend");
}
