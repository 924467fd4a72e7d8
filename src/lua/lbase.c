/* lbase.c - the bottom of the binding: the per-interpreter context (loop,
 * clock, scheduler, our callback thread, the child reaper), whose loop it is
 * (luv's, or libuv's default) and how it is turned, and the small
 * helpers every other file shares: "CODE: message" returns, seconds and
 * option-table fields. Calls nothing else in src/lua/. */
#define _GNU_SOURCE
#include <dlfcn.h>
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

/* luv's C API (luv.h): uv_loop_t *luv_loop(lua_State *L). It is looked up at
 * run time, so the module neither links luv nor needs it to build or run;
 * where luv's headers are installed the build checks our type against it. */
#ifdef TV_HAVE_LUV_H
#include <luv/luv.h>
typedef __typeof__(&luv_loop) luv_loop_fn;
#else
typedef uv_loop_t *(*luv_loop_fn)(lua_State *L);
#endif

/* luv's luv_loop: in the shared object luv's own functions live in (Lua
 * loads C modules RTLD_LOCAL, so the global scope does not see it), else in
 * the global scope (a host that links luv in and exports it). */
static luv_loop_fn find_luv_loop(lua_CFunction luv_fn) {
  void *fn = NULL;
  Dl_info info;
  if (luv_fn && dladdr((void *)luv_fn, &info) && info.dli_fname) {
    void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD); /* loaded already: no new load */
    if (h) {
      fn = dlsym(h, "luv_loop");
      dlclose(h); /* only drops the count NOLOAD added */
    }
  }
  if (!fn) fn = dlsym(RTLD_DEFAULT, "luv_loop");
  luv_loop_fn f;
  memcpy(&f, &fn, sizeof f); /* (ISO C has no cast from void * to a function pointer) */
  return f;
}

uv_loop_t *ltv_luv_loop(lua_State *L, const char **why) {
  *why = NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "luv") != LUA_TTABLE) {
    lua_pop(L, 2);
    *why = "luv is not loaded";
    return NULL;
  }
  lua_getfield(L, -1, "run");
  lua_CFunction run = lua_tocfunction(L, -1);
  /* One libuv, or two copies that must not share a loop (a luv built with
   * its own libuv inside): their versions must at least agree. */
  lua_getfield(L, -2, "version");
  lua_Integer v = 0;
  if (lua_isfunction(L, -1) && lua_pcall(L, 0, 1, 0) == LUA_OK) v = lua_tointeger(L, -1);
  lua_pop(L, 4);
  luv_loop_fn f = find_luv_loop(run);
  if (!f) {
    *why = "luv is loaded but its C API (luv_loop) was not found";
    return NULL;
  }
  if (v != (lua_Integer)uv_version()) {
    *why = "luv is loaded but runs on another libuv version than taskvisor";
    return NULL;
  }
  return f(L);
}

int ltv_loop_run(lua_State *L, ltv_ctx *ctx, uv_run_mode mode) {
  if (ctx->luv == LUA_NOREF) return uv_run(ctx->loop, mode);
  static const char *const modes[] = {"default", "once", "nowait"};
  lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->luv);
  lua_getfield(L, -1, "run");
  lua_pushstring(L, modes[mode]);
  lua_call(L, 1, 2); /* true/false; or nil, "loop already running" */
  if (lua_isnil(L, -2))
    return luaL_error(L, "taskvisor: cannot turn luv's loop: %s",
                      lua_isstring(L, -1) ? lua_tostring(L, -1) : "luv refused");
  int alive = lua_toboolean(L, -2);
  lua_pop(L, 3);
  return alive;
}

int ltv_loop_busy(lua_State *L, ltv_ctx *ctx) {
  if (ctx->luv == LUA_NOREF) return ctx->running;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ctx->luv);
  lua_getfield(L, -1, "loop_mode");
  lua_call(L, 0, 1); /* the mode uv.run() runs in, or nil */
  int busy = !lua_isnil(L, -1);
  lua_pop(L, 2);
  return busy || ctx->running;
}

static int ctx_gc(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, 1);
  if (!ctx->loop) return 0;
  if (ctx->reaper) tv_reaper_close(ctx->reaper); /* kills and reaps what is left */
  ctx->reaper = NULL;
  tv_sched_close(&ctx->sched);
  /* Let libuv run the close callbacks that free our handles, unless we are
   * being closed from inside the loop itself. On luv's loop, luv does it:
   * its loop's __gc comes after ours (it was made first; Lua finalizes in
   * reverse order), closes what is left open and runs the loop until every
   * close callback ran; turning it here would run the app's callbacks from a
   * finalizer. Every handle of ours is closing by now, so none reaches luv's
   * close callback, which takes each handle's data for its own. */
  if (!ctx->running && ctx->luv == LUA_NOREF) uv_run(ctx->loop, UV_RUN_NOWAIT);
  ctx->loop = NULL;
  return 0;
}

ltv_ctx *ltv_ctx_open(lua_State *L) {
  ltv_ctx *ctx = ltv_ctx_get(L);
  if (ctx) return ctx;
  ctx = lua_newuserdatauv(L, sizeof *ctx, 1);
  memset(ctx, 0, sizeof *ctx);
  ctx->luv = LUA_NOREF;
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
  const char *why;
  ctx->loop = ltv_luv_loop(L, &why);
  if (ctx->loop) { /* luv's module: its uv.run turns the loop (ltv_loop_run) */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "luv");
    ctx->luv = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
  } else {
    ctx->loop = uv_default_loop();
  }
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
