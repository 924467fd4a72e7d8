/* lbase.h - the bottom layer: the per-interpreter context and the helpers
 * every binding file shares (errors as "CODE: message", seconds, option
 * fields, the child reaper, a Lua 5.4.4 compat shim).
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_BASE_H
#define LTV_BASE_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/base/clock.h"
#include "core/base/list.h"
#include "core/loop/sched.h"

#define LTV_CTX "taskvisor.context" /* the binding context (registry key) */

#define ltv_container_of tv_container_of

#define LTV_FIBER_KINDS 4 /* owners of fibers: a task, a subscriber, a hook */

struct ltv_fiber;
struct ltv_fiber_ops;
struct ltv_waiter;
struct ltv_exec;
struct tv_reaper;

/* One per interpreter. Owner: its userdata in the registry; its __gc closes the
 * scheduler (last, as it is created first). Each group of fields below is
 * kept by the file named (lbase.c made the rest). */
typedef struct ltv_ctx {
  lua_State *L; /* a thread of our own for loop callbacks; never runs user code */
  uv_loop_t *loop;
  tv_clock_t clock;
  tv_sched_t sched;
  /* lfiber.c. The fiber being resumed right now, if any: fibers only ever run
   * through ltv_fiber_resume, so this is how tv.sleep finds its caller's fiber
   * (no per-thread storage; Lua leaves a thread's extra space uninitialized). */
  struct ltv_fiber *current;
  uint64_t ran;      /* VM instructions `current` (or a bounded call) ran since armed */
  uint32_t sync_max; /* the budget of a ltv_pcall_bounded call running now, or 0 */
  int runaway;       /* the count hook yielded `current`: it is out of budget */
  struct ltv_waiter *waiters; /* fibers waiting in sup:cancel (a short list) */
  const struct ltv_fiber_ops *fiber_ops[LTV_FIBER_KINDS]; /* a fiber's kind indexes it */
  struct ltv_exec *execs;     /* lexec.c: fibers waiting in ctx:exec (a short list) */
  struct tv_reaper *reaper;   /* children of process tasks and ctx:exec; made on first use */
  int running;     /* lsup.c, lembed.c: a sup:run() or tv.step() is driving the loop */
  uint64_t no_starts_until; /* ltask.c: clock ms; a coroutine could not be made */
  int luv;         /* on luv's loop: a registry ref to luv's module table, else LUA_NOREF */
  int extras_used; /* lhooks.c: core.set_extras was called: releases look for extras to drop */
} ltv_ctx;

/* The context of L's interpreter, or NULL before the module is loaded. */
ltv_ctx *ltv_ctx_get(lua_State *L);
/* The context (made on first use, with its metatable and registry entry). */
ltv_ctx *ltv_ctx_open(lua_State *L);
/* The context whose scheduler s is (every supervisor of ours runs on one). */
static inline ltv_ctx *ltv_ctx_of_sched(tv_sched_t *s) { return ltv_container_of(s, ltv_ctx, sched); }
/* Whose loop (the seam): when the app loaded luv before taskvisor.core, luv's
 * (from luv's C API, luv_loop), so one uv.run() drives both; else libuv's
 * default loop. Chosen once, when the context is made. */
/* Luv's loop for L's interpreter, or NULL (luv not loaded, or its C API not
 * found: *why says which). */
uv_loop_t *ltv_luv_loop(lua_State *L, const char **why);
/* Turns the context's loop once in `mode`: through luv's uv.run on luv's loop
 * (so luv knows its loop runs and refuses a nested uv.run), else uv_run.
 * Returns uv_run's result; raises if luv refuses (its loop already runs). */
int ltv_loop_run(lua_State *L, ltv_ctx *ctx, uv_run_mode mode);
/* Whether the loop is being turned now (by uv.run(), sup:run or tv.step):
 * turning it again from inside would re-enter libuv. */
int ltv_loop_busy(lua_State *L, ltv_ctx *ctx);

/* The context's reaper (made on first use); raises if it cannot be made. */
struct tv_reaper *ltv_reaper(lua_State *L, ltv_ctx *ctx);

/* Pushes nil, "CODE: message" built from a core error and a printf message;
 * returns 2. */
int ltv_push_error(lua_State *L, int err, const char *fmt, ...);
/* Seconds argument -> milliseconds (rounded up), raising on bad values. */
uint64_t ltv_check_seconds(lua_State *L, int arg, const char *what);
/* Optional argument `arg`: a max_instructions budget (validated by init.lua;
 * nil or 0: no limit). */
uint32_t ltv_opt_budget(lua_State *L, int arg);
/* Option table fields (validated by init.lua): t[k] as a number, or def when
 * it is not one; seconds as whole milliseconds, rounded up. */
double ltv_opt_number(lua_State *L, int t, const char *k, double def);
uint64_t ltv_opt_ms(lua_State *L, int t, const char *k, double def_secs);

/* lua_closethread appeared in 5.4.6; Debian 12 ships 5.4.4. */
static inline int ltv_closethread(lua_State *co, lua_State *from) {
#if LUA_VERSION_RELEASE_NUM >= 50406
  return lua_closethread(co, from);
#else
  (void)from;
  return lua_resetthread(co);
#endif
}

#endif
