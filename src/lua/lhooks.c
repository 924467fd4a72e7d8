/* lhooks.c - what a spec adds in Lua around a task's attempts, for Lua and
 * process tasks alike: lifecycle hooks (setup, on_restart, on_error,
 * on_shutdown, cleanup), each run in a coroutine of its own (a hook fiber),
 * and policy functions (restart, backoff), called where the actor decides.
 * The functions live in a registry table keyed by the task (a light
 * userdata), set by init.lua through core.set_extras and dropped at release.
 * Owner: a hook fiber's userdata is anchored while its coroutine runs. */
#include <math.h>
#include <string.h>

#include "core/loop/signals.h"
#include "lbase.h"
#include "lerror.h"
#include "lfiber.h"
#include "lheld.h"
#include "lhooks.h"

#define LTV_EXTRAS "taskvisor.extras" /* registry: light userdata(task) -> table */
#define LTV_HOOKRUN "taskvisor.hookrun"

typedef struct ltv_hookrun {
  ltv_fiber fiber;
  tv_work_t start; /* the first resume, on the next pass */
  tv_task_t *task;
  int nargs;
} ltv_hookrun;

/* Every supervisor of ours runs on its context's scheduler. */
static ltv_ctx *ctx_of(tv_task_t *t) { return ltv_ctx_of_sched(tv_actor_env(&t->actor)->sched); }

/* Pushes the task's extras table; 0 (nothing pushed) when it has none. */
static int push_extras(lua_State *L, tv_task_t *t) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, LTV_EXTRAS) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_rawgetp(L, -1, t) != LUA_TTABLE) {
    lua_pop(L, 2);
    return 0;
  }
  lua_remove(L, -2);
  return 1;
}

/* core.set_extras(task, table | nil) */
static int set_extras(lua_State *L) {
  tv_task_t *t = ltv_task_check(L, 1, "core.set_extras");
  ltv_ctx_get(L)->extras_used = 1;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LTV_EXTRAS) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, LTV_EXTRAS);
  }
  lua_pushvalue(L, 2);
  lua_rawsetp(L, -2, t);
  return 0;
}

void ltv_extras_drop(lua_State *L, ltv_ctx *ctx, tv_task_t *t) {
  if (!ctx->extras_used) return; /* no spec had any: nothing to look up */
  if (lua_getfield(L, LUA_REGISTRYINDEX, LTV_EXTRAS) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_rawsetp(L, -2, t);
  }
  lua_pop(L, 1);
}

/* ---- policy functions --------------------------------------------------------- */

/* The outcome table a policy function sees. */
static void push_outcome(lua_State *L, const tv_decision_t *d) {
  const tv_outcome_t *o = d->outcome;
  lua_createtable(L, 0, 6);
  lua_pushboolean(L, o->kind == TV_OUTCOME_OK);
  lua_setfield(L, -2, "ok");
  if (o->msg) {
    lua_pushlstring(L, o->msg, o->msg_len);
    lua_setfield(L, -2, "reason");
  }
  if (o->has_exit_code) {
    lua_pushinteger(L, o->exit_code);
    lua_setfield(L, -2, "exit_code");
  }
  if (o->term_signal) {
    lua_pushstring(L, tv_signal_name(o->term_signal));
    lua_setfield(L, -2, "signal");
  }
  lua_pushinteger(L, d->attempt);
  lua_setfield(L, -2, "attempt");
  lua_pushnumber(L, (double)d->ran_for_ns / 1e9);
  lua_setfield(L, -2, "ran_for");
}

static int decide_fail(ltv_ctx *ctx, tv_decision_t *d, const char *what, int top,
                       uint32_t budget) {
  lua_State *L = ctx->L;
  const char *msg = ltv_error_text(ctx, L, -1, NULL, budget);
  d->error = tv_str_printf("%s function failed: %s", what, msg);
  lua_settop(L, top);
  return -1;
}

/* The task's max_instructions (set by init.lua) from its extras at `ext`. */
static uint32_t extras_budget(lua_State *L, int ext) {
  uint32_t max = lua_getfield(L, ext, "max_instructions") == LUA_TNUMBER
                     ? (uint32_t)lua_tointeger(L, -1) : 0;
  lua_pop(L, 1);
  return max;
}

/* The extras' field of each decision's function (TV_DECIDE_*). */
static const char *const decide_names[] = {"restart", "backoff", "schedule"};

/* What extras_decide hands its protected part. */
typedef struct decide_args {
  tv_task_t *t;
  const tv_decision_t *d;
  uint32_t budget;
} decide_args;

/* Protected: pushes the task's policy function and its arguments (nothing
 * when it has none). Every allocation is here, so running out of memory
 * fails this decision alone. */
static int decide_prepare(lua_State *L) {
  decide_args *a = lua_touserdata(L, 1);
  lua_settop(L, 0);
  if (!push_extras(L, a->t)) return 0;
  a->budget = extras_budget(L, 1);
  if (lua_getfield(L, 1, decide_names[a->d->what]) == LUA_TNIL) return 0;
  lua_remove(L, 1);
  if (a->d->what == TV_DECIDE_SCHEDULE) { /* schedule(wall_now) -> seconds */
    lua_pushnumber(L, a->d->wall_now);
    return lua_gettop(L);
  }
  if (a->d->what == TV_DECIDE_BACKOFF) {
    lua_pushinteger(L, a->d->streak);
    lua_pushnumber(L, (double)a->d->last_delay_ns / 1e9);
  }
  push_outcome(L, a->d);
  return lua_gettop(L);
}

/* restart(outcome) -> boolean; backoff(streak, last_delay, outcome) -> seconds;
 * schedule(wall_now) -> seconds (a calendar's, made by taskvisor.calendar). */
static int extras_decide(tv_task_t *t, tv_decision_t *d) {
  lua_State *L = ctx_of(t)->L;
  int top = lua_gettop(L);
  const char *what = decide_names[d->what];
  decide_args a = {t, d, 0};
  lua_pushcfunction(L, decide_prepare);
  lua_pushlightuserdata(L, &a);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) return decide_fail(ctx_of(t), d, what, top, 0);
  if (lua_gettop(L) == top) return 0; /* no such function */
  uint32_t budget = a.budget;
  int nargs = lua_gettop(L) - top - 1;
  if (ltv_pcall_bounded(ctx_of(t), nargs, 1, budget) != LUA_OK)
    return decide_fail(ctx_of(t), d, what, top, budget);
  if (d->what == TV_DECIDE_RESTART) {
    if (!lua_isboolean(L, -1)) {
      lua_pushfstring(L, "returned %s; expected true or false", luaL_typename(L, -1));
      return decide_fail(ctx_of(t), d, what, top, budget);
    }
    d->restart = lua_toboolean(L, -1);
  } else {
    int isnum = lua_type(L, -1) == LUA_TNUMBER;
    double secs = isnum ? lua_tonumber(L, -1) : -1;
    if (!isnum || !isfinite(secs) || secs < 0 || secs > 1e9) {
      lua_pushfstring(L, "returned %s; expected a number of seconds between 0 and 1e9",
                      !isnum ? luaL_typename(L, -1) : isnan(secs) ? "nan" : lua_tostring(L, -1));
      return decide_fail(ctx_of(t), d, what, top, budget);
    }
    d->delay_ns = tv_secs_to_ns(secs);
  }
  lua_settop(L, top);
  return 1;
}

/* ---- hooks ----------------------------------------------------------------- */

static void hook_start(tv_work_t *w) {
  ltv_hookrun *h = ltv_container_of(w, ltv_hookrun, start);
  ltv_fiber_resume(&h->fiber, h->nargs);
}

/* Pushes the hook userdata running for t, or nothing (returns NULL). */
static ltv_hookrun *running_hook(lua_State *L, tv_task_t *t) {
  if (!push_extras(L, t)) return NULL;
  lua_getfield(L, -1, "_running");
  ltv_hookrun *h = luaL_testudata(L, -1, LTV_HOOKRUN);
  lua_pop(L, 2);
  return h;
}

static void hook_clear(lua_State *L, ltv_hookrun *h) {
  if (push_extras(L, h->task)) {
    lua_pushnil(L);
    lua_setfield(L, -2, "_running");
    lua_pop(L, 1);
  }
  tv_work_cancel(&h->start);
  ltv_fiber_unanchor(&h->fiber);
  h->task = NULL;
}

static const tv_str_t *hook_task_name(ltv_fiber *f) {
  tv_task_t *t = ltv_container_of(f, ltv_hookrun, fiber)->task;
  return t ? t->actor.name : NULL;
}

static void hook_finished(ltv_fiber *f, int status) {
  ltv_hookrun *h = ltv_container_of(f, ltv_hookrun, fiber);
  lua_State *L = f->ctx->L, *co = f->co;
  tv_task_t *t = h->task;
  if (!t) return;
  size_t len = 0;
  const char *msg = NULL;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->anchor); /* h and co live until we are done */
  if (status != LUA_OK) {
    lua_xmove(co, L, 1);
    msg = ltv_error_text(f->ctx, L, -1, &len, f->max_instructions);
  }
  hook_clear(L, h);
  ltv_closethread(co, L);
  tv_task_hook_done(t, status == LUA_OK, msg, len);
  lua_settop(L, top);
}

/* A hook is never cancelled, only killed (closed) at its grace period's end. */
static const ltv_fiber_ops hook_fiber_ops = {hook_finished, NULL, NULL, NULL, hook_task_name};

/* What extras_hook hands its protected part. */
typedef struct hook_args {
  tv_task_t *t;
  tv_hook_t which;
  uint32_t attempt;
  const tv_str_t *err;
  ltv_hookrun *started; /* set once the hook is registered */
} hook_args;

/* Protected: makes the hook's coroutine and registers it as t's running hook.
 * Every allocation is here, so running out of memory fails this call alone. */
static int hook_prepare(lua_State *L) {
  hook_args *a = lua_touserdata(L, 1);
  tv_task_t *t = a->t;
  ltv_ctx *ctx = ctx_of(t);
  if (!push_extras(L, t)) return 0;
  int ext = lua_gettop(L);
  if (lua_getfield(L, ext, tv_hook_name(a->which)) == LUA_TNIL) return 0;
  ltv_hookrun *h = lua_newuserdatauv(L, sizeof *h, 1);
  memset(h, 0, sizeof *h);
  ltv_fiber_init(&h->fiber, ctx, &hook_fiber_ops);
  h->fiber.max_instructions = extras_budget(L, ext);
  tv_work_init(&h->start, hook_start);
  luaL_setmetatable(L, LTV_HOOKRUN);
  lua_State *co = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);
  h->fiber.co = co;
  lua_pushvalue(L, ext + 1); /* the function */
  int n = 0;
  if (a->which == TV_HOOK_ERROR) {
    lua_pushlstring(L, a->err ? a->err->s : "", a->err ? a->err->len : 0);
    n++;
  }
  if (a->which == TV_HOOK_RESTART || a->which == TV_HOOK_ERROR) {
    lua_pushinteger(L, a->attempt);
    n++;
  }
  lua_xmove(L, co, n + 1);
  h->nargs = n;
  lua_pushvalue(L, -1);
  lua_setfield(L, ext, "_running");
  lua_pushvalue(L, -1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX); /* raises, or registers: nothing after it can fail */
  h->fiber.anchor = ref;
  h->task = t;
  a->started = h;
  return 0;
}

/* Runs the task's hook `h` in a new coroutine (first resume on the next
 * pass): 1 started, 0 no such hook, -1 it could not be started (out of
 * memory; nothing is left registered). */
static int extras_hook(tv_task_t *t, tv_hook_t which, uint32_t attempt, const tv_str_t *err) {
  ltv_ctx *ctx = ctx_of(t);
  lua_State *L = ctx->L;
  int top = lua_gettop(L);
  hook_args a = {t, which, attempt, err, NULL};
  lua_pushcfunction(L, hook_prepare);
  lua_pushlightuserdata(L, &a);
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != LUA_OK && push_extras(L, t)) { /* _running may be set: clearing allocates nothing */
    lua_pushnil(L);
    lua_setfield(L, -2, "_running");
  }
  lua_settop(L, top);
  if (rc != LUA_OK) return -1;
  if (!a.started) return 0;
  tv_work_defer(&ctx->sched, &a.started->start, TV_LANE_NEXT);
  return 1;
}

static void extras_hook_kill(tv_task_t *t) {
  lua_State *L = ctx_of(t)->L;
  ltv_hookrun *h = running_hook(L, t);
  if (!h) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->fiber.anchor); /* keep it while we close */
  hook_clear(L, h);
  ltv_fiber_close(&h->fiber);
  lua_pop(L, 1);
  static const char msg[] = "killed: did not finish within its grace period";
  tv_task_hook_done(t, 0, msg, sizeof msg - 1);
}

void ltv_extras_ops(tv_task_ops_t *ops) {
  ops->decide = extras_decide;
  ops->hook = extras_hook;
  ops->hook_kill = extras_hook_kill;
}

void ltv_hooks_open(lua_State *L) {
  luaL_newmetatable(L, LTV_HOOKRUN);
  lua_pop(L, 1);
  lua_pushcfunction(L, set_extras);
  lua_setfield(L, -2, "set_extras"); /* on the module table */
}
