/* ltask.c - Lua coroutine tasks: one attempt = one run of the task's function
 * in a coroutine (reused across attempts when it ended cleanly). The task's
 * userdata is also the `ctx` handed to that function.
 * Owner: the userdata; anchored in the registry while the core holds it
 * (lheld.c), until release(). User values: 1 = the run function, 2 = the coroutine. */
#include <stddef.h>
#include <string.h>

#include "core/base/error.h"
#include "lbase.h"
#include "lerror.h"
#include "lexec.h"
#include "lfiber.h"
#include "lheld.h"
#include "lhooks.h"
#include "ltask.h"

typedef struct ltv_task {
  tv_task_t base;  /* its actor holds the name and the attempt number */
  ltv_fiber fiber; /* anchor: while the core holds the task; orphaned: __gc
                      ran while the core still held it (lua_close) */
} ltv_task;

static ltv_task *check_ctx(lua_State *L) {
  return (ltv_task *)luaL_checkudata(L, 1, LTV_TASK);
}

/* The ctx a method was called on: ctx.sleep(1) (a dot) names the method. */
static ltv_task *check_self(lua_State *L, const char *what) {
  ltv_task *t = (ltv_task *)luaL_testudata(L, 1, LTV_TASK);
  if (!t)
    luaL_error(L, "%s: call it as a method, %s(...) (got %s, not the task context)", what, what,
               luaL_typename(L, 1));
  return t;
}

/* ---- turning a Lua error into an outcome ---------------------------------- */

/* Runs protected on our thread: [error object, coroutine] -> pushes
 * kind ("fail"/"fatal"), message, exit code or nil, traceback. Arguments 3
 * and 4: the ctx and the task's instruction budget (for a __tostring). */
static int describe_error(lua_State *L) {
  lua_State *co = lua_tothread(L, 2);
  ltv_ctx *ctx = lua_touserdata(L, 3);
  uint32_t budget = (uint32_t)lua_tointeger(L, 4);
  lua_settop(L, 2);
  const char *kind = "fail";
  lua_pushnil(L); /* 3: exit code */
  if (lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, LTV_FAILURE);
    int ours = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (ours) {
      if (lua_getfield(L, 1, "fatal") != LUA_TNIL && lua_toboolean(L, -1)) kind = "fatal";
      lua_pop(L, 1);
      lua_getfield(L, 1, "exit_code");
      lua_replace(L, 3);
      lua_getfield(L, 1, "message");
      lua_replace(L, 1);
    }
  }
  const char *msg = ltv_error_text(ctx, L, 1, NULL, budget);
  lua_pushstring(L, kind);
  lua_pushstring(L, msg);
  lua_pushvalue(L, 3);
  luaL_traceback(L, co, NULL, 0);
  return 4;
}

static void report_error(ltv_task *t, lua_State *co) {
  lua_State *L = t->fiber.ctx->L;
  int top = lua_gettop(L);
  lua_pushcfunction(L, describe_error);
  lua_xmove(co, L, 1); /* the error object */
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  lua_pushlightuserdata(L, t->fiber.ctx);
  lua_pushinteger(L, t->fiber.max_instructions);
  tv_outcome_t o = {TV_OUTCOME_FAIL, 0, 0, "unknown error", 13, NULL, 0};
  tv_str_t *tb = NULL;
  if (lua_pcall(L, 4, 4, 0) == LUA_OK) {
    if (strcmp(lua_tostring(L, -4), "fatal") == 0) o.kind = TV_OUTCOME_FATAL;
    o.msg = lua_tolstring(L, -3, &o.msg_len);
    if (lua_isinteger(L, -2)) {
      lua_Integer code = lua_tointeger(L, -2);
      o.has_exit_code = 1;
      o.exit_code = (int32_t)code;
    }
    size_t tlen;
    const char *tbs = lua_tolstring(L, -1, &tlen);
    tb = tbs ? tv_str_new(tbs, tlen) : NULL;
  } else {
    o.msg = "error while describing the task's error";
    o.msg_len = strlen(o.msg);
  }
  o.traceback = tb;
  ltv_closethread(co, L); /* to-be-closed variables run before we move on */
  lua_settop(co, 0);
  tv_task_done(&t->base, &o); /* o.msg still anchored on L's stack */
  tv_str_unref(tb);
  lua_settop(L, top);
}

static void task_finished(ltv_fiber *f, int status) {
  ltv_task *t = ltv_container_of(f, ltv_task, fiber);
  lua_State *co = f->co;
  if (status == LUA_OK) {
    lua_settop(co, 0);
    tv_outcome_t o = {TV_OUTCOME_OK, 0, 0, NULL, 0, NULL, 0};
    tv_task_done(&t->base, &o);
  } else {
    report_error(t, co);
  }
}

/* ---- tv_task_t implementation ---------------------------------------------- */

/* Protected on our thread: [task userdata] -> a fresh coroutine, stored as
 * user value 2. */
static int new_thread(lua_State *L) {
  lua_newthread(L);
  lua_setiuservalue(L, 1, 2);
  return 0;
}

/* A failed lua_newthread has run a full emergency collection of the whole
 * heap first: with thousands of tasks due, one after another, the loop did
 * nothing else (a SIGTERM waited minutes). After a failure, starts fail at
 * once for NO_STARTS_MS (each task then waits out its own backoff). */
#define NO_STARTS_MS 100

static lua_State *attempt_thread(ltv_task *t) {
  ltv_ctx *ctx = t->fiber.ctx;
  lua_State *L = ctx->L;
  lua_State *co = t->fiber.co;
  if (co && lua_status(co) == LUA_OK && lua_gettop(co) == 0) return co;
  uint64_t now = tv_sched_now(&ctx->sched);
  if (now < ctx->no_starts_until) {
    t->fiber.co = NULL;
    return NULL;
  }
  lua_pushcfunction(L, new_thread);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->fiber.anchor);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    t->fiber.co = NULL;
    ctx->no_starts_until = now + NO_STARTS_MS;
    return NULL;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->fiber.anchor);
  lua_getiuservalue(L, -1, 2);
  co = lua_tothread(L, -1);
  lua_pop(L, 2);
  t->fiber.co = co;
  return co;
}

static void task_start(tv_task_t *base, uint32_t attempt) {
  ltv_task *t = (ltv_task *)base;
  (void)attempt;
  t->fiber.cancelled = 0;
  lua_State *co = attempt_thread(t);
  if (!co) {
    tv_outcome_t o = {TV_OUTCOME_FAIL, 0, 0, "not enough memory to start the coroutine", 40, NULL, 0};
    tv_task_done(base, &o);
    return;
  }
  lua_State *L = t->fiber.ctx->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->fiber.anchor);
  lua_getiuservalue(L, -1, 1); /* run */
  lua_insert(L, -2);           /* run, ctx */
  lua_xmove(L, co, 2);
  ltv_fiber_resume(&t->fiber, 1);
}

static void task_cancel(tv_task_t *base) {
  ltv_task *t = (ltv_task *)base;
  t->fiber.cancelled = 1;
  ltv_fiber_interrupt(&t->fiber);
}

static void task_kill(tv_task_t *base) {
  ltv_task *t = (ltv_task *)base;
  t->fiber.cancelled = 1;
  ltv_fiber_close(&t->fiber); /* <close> variables run now */
  tv_outcome_t o = {TV_OUTCOME_CANCELED, 0, 0, NULL, 0, NULL, 0};
  tv_task_done(base, &o);
}

static void task_release(tv_task_t *base) {
  ltv_task *t = (ltv_task *)base;
  ltv_extras_drop(t->fiber.ctx->L, t->fiber.ctx, base);
  ltv_fiber_close(&t->fiber);
  ltv_fiber_unanchor(&t->fiber);
  if (t->fiber.orphaned) tv_task_fini(base);
}

static const tv_str_t *task_name(ltv_fiber *f) {
  return ltv_container_of(f, ltv_task, fiber)->base.actor.name;
}

/* A task's fiber can wait in ctx:exec (lexec.c), which it cancels and aborts. */
static const ltv_fiber_ops fiber_ops = {task_finished, NULL, ltv_exec_interrupt, ltv_exec_abort,
                                        task_name};

static tv_task_ops_t task_ops = {task_start, task_cancel, task_kill, task_release,
                                 NULL,       NULL,        NULL,      NULL,
                                 NULL,       NULL,        NULL,      NULL};

/* core.task(run [, max_instructions]) */
int ltv_task_new(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checkany(L, 1);
  uint32_t budget = ltv_opt_budget(L, 2);
  ltv_task *t = lua_newuserdatauv(L, sizeof *t, 2);
  memset(t, 0, sizeof *t);
  tv_task_init(&t->base, &task_ops);
  ltv_fiber_init(&t->fiber, ctx, &fiber_ops);
  t->fiber.max_instructions = budget;
  luaL_setmetatable(L, LTV_TASK);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

/* ---- ctx methods ------------------------------------------------------------ */

static ltv_fiber *own_fiber(lua_State *L, ltv_task *t, const char *what) {
  if (t->fiber.co != L || t->fiber.anchor == LUA_NOREF)
    luaL_error(L, "%s: must be called from the task's own coroutine", what);
  return &t->fiber;
}

static int ctx_sleep(lua_State *L) {
  ltv_task *t = check_self(L, "ctx:sleep");
  uint64_t ms = ltv_check_seconds(L, 2, "ctx:sleep: 'seconds'");
  return ltv_fiber_sleep(L, own_fiber(L, t, "ctx:sleep"), ms, "ctx:sleep");
}

/* Lets the loop run; true unless the task was cancelled. */
static int ctx_yield(lua_State *L) {
  ltv_task *t = check_self(L, "ctx:yield");
  return ltv_fiber_sleep(L, own_fiber(L, t, "ctx:yield"), 0, "ctx:yield");
}

/* ctx:exec(cmd, opts): cmd and opts validated by init.lua. */
static int ctx_exec(lua_State *L) {
  ltv_task *t = check_self(L, "ctx:exec");
  if (t->fiber.co != L || t->fiber.anchor == LUA_NOREF) { /* at the caller of init.lua's wrapper */
    luaL_where(L, 2);
    lua_pushstring(L, "ctx:exec: must be called from the task's own coroutine");
    lua_concat(L, 2);
    return lua_error(L);
  }
  return ltv_exec(L, &t->fiber);
}

/* ctx:ready(): this attempt is ready (tasks with ready = "notify"; a no-op
 * for the default, ready at start; an error for ready = "completed"). */
static int ctx_ready(lua_State *L) {
  ltv_task *t = check_self(L, "ctx:ready");
  own_fiber(L, t, "ctx:ready");
  if (tv_task_ready(&t->base) == TV_EINVAL)
    return luaL_error(L,
                      "ctx:ready: task '%s' is ready when it completes (ready = \"completed\"); "
                      "ctx:ready() is for ready = \"notify\"",
                      t->base.actor.name ? t->base.actor.name->s : "?");
  return 0;
}

/* ctx:alive(): a sign of life; with `watchdog = s`, an attempt that gives
 * none for s seconds fails (systemd's sd_notify WATCHDOG=1, for Lua tasks:
 * a loop that is stuck, not dead). */
static int ctx_alive(lua_State *L) {
  ltv_task *t = check_self(L, "ctx:alive");
  own_fiber(L, t, "ctx:alive");
  tv_task_alive(&t->base);
  return 0;
}

static int ctx_cancelled(lua_State *L) {
  lua_pushboolean(L, check_self(L, "ctx:cancelled")->fiber.cancelled);
  return 1;
}

static int ctx_index(lua_State *L) {
  ltv_task *t = check_ctx(L);
  const char *k = luaL_checkstring(L, 2);
  const tv_actor_t *a = &t->base.actor;
  if (strcmp(k, "name") == 0) {
    if (a->name)
      lua_pushlstring(L, a->name->s, a->name->len);
    else
      lua_pushnil(L);
  } else if (strcmp(k, "attempt") == 0) {
    lua_pushinteger(L, a->attempt);
  } else {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1)); /* methods */
  }
  return 1;
}

static int ctx_newindex(lua_State *L) {
  return luaL_error(L, "ctx: '%s' is read-only (the task context cannot be changed)",
                    luaL_tolstring(L, 2, NULL));
}

static int ctx_gc(lua_State *L) {
  ltv_task *t = check_ctx(L);
  if (t->base.actor.policy) /* still held: only possible while lua_close runs */
    t->fiber.orphaned = 1;
  else
    tv_task_fini(&t->base);
  ltv_extras_drop(L, t->fiber.ctx, &t->base); /* before the address can be reused */
  return 0;
}

static int ctx_tostring(lua_State *L) {
  ltv_task *t = check_ctx(L);
  const tv_actor_t *a = &t->base.actor;
  lua_pushfstring(L, "taskvisor.ctx(%s, attempt %d)", a->name ? a->name->s : "?",
                  (int)a->attempt);
  return 1;
}

void ltv_task_open(lua_State *L) {
  ltv_extras_ops(&task_ops);
  static const luaL_Reg methods[] = {
      {"sleep", ctx_sleep}, {"cancelled", ctx_cancelled}, {"yield", ctx_yield},
      {"_exec", ctx_exec},  {"ready", ctx_ready},         {"alive", ctx_alive},
      {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__tostring", ctx_tostring}, {"__gc", ctx_gc},
                                  {"__newindex", ctx_newindex}, {NULL, NULL}};
  luaL_newmetatable(L, LTV_TASK); /* sets __name */
  luaL_setfuncs(L, meta, 0);
  ltv_held_kind(L, offsetof(ltv_task, fiber.anchor));
  luaL_newlib(L, methods);
  lua_pushvalue(L, -1); /* init.lua adds the methods written in Lua (ctx:exec) */
  lua_setfield(L, LUA_REGISTRYINDEX, LTV_TASK ".methods");
  lua_pushcclosure(L, ctx_index, 1); /* ctx.name, ctx.attempt, then the methods */
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
