/* lsup.c - the supervisor object: registry verbs, subscriptions, shutdown and
 * run(). Arguments arrive already validated by lua/taskvisor/init.lua; checks
 * here only keep the C side safe.
 * Owner: the userdata owns the core supervisor (tv_sup_destroy in __gc). It is
 * anchored in the registry from its first task until it closes, so running
 * tasks never lose their supervisor to the garbage collector. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/kinds/process.h"
#include "core/os/reaper.h"
#include "lbase.h"
#include "lfiber.h"
#include "lgroup.h"
#include "lheld.h"
#include "lpolicy.h"
#include "lproc.h"
#include "lsub.h"
#include "lsup.h"

ltv_sup *ltv_sup_check(lua_State *L) {
  ltv_sup *s = luaL_checkudata(L, 1, LTV_SUP);
  if (!s->sup) luaL_error(L, "supervisor has been destroyed");
  return s;
}
#define check_sup ltv_sup_check

void ltv_sup_anchor(lua_State *L, ltv_sup *s) {
  if (s->anchor != LUA_NOREF) return;
  lua_pushvalue(L, 1);
  s->anchor = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Lua subscribers and the control API's (src/control/backlog.c) alike: each
 * lets go through its ops->detach. */
static void close_subscribers(tv_sup_t *sup) { tv_bus_detach_all(&sup->bus); }

static void on_closed(tv_sup_t *sup) {
  ltv_sup *s = sup->data;
  close_subscribers(sup);
  if (s->on_stop) s->on_stop(s); /* lembed.c: a sup:start()ed supervisor */
  if (s->anchor != LUA_NOREF) {
    luaL_unref(s->ctx->L, LUA_REGISTRYINDEX, s->anchor);
    s->anchor = LUA_NOREF;
  }
}

int ltv_sup_new(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  tv_sup_opts_t o;
  tv_sup_opts_default(&o);
  o.grace_ns = tv_secs_to_ns(luaL_checknumber(L, 1));
  o.max_concurrent = (uint32_t)luaL_checkinteger(L, 2);
  o.queue_capacity = (uint32_t)luaL_checkinteger(L, 3);
  if (!lua_isnoneornil(L, 4)) {
    o.seed = (uint64_t)luaL_checkinteger(L, 4);
    o.seeded = 1;
  }
  if (lua_type(L, 6) == LUA_TTABLE) { /* the supervisor's budget, as policies give it */
    ltv_budget_read(L, 6, &o.budget, TV_EXHAUST_ESCALATE);
    static const char *const modes[] = {"never", "any_significant", "all_significant", NULL};
    lua_getfield(L, 6, "auto_shutdown"); /* OTP's; validated by supervisor.lua */
    o.auto_shutdown = (uint8_t)luaL_checkoption(L, -1, "never", modes);
    lua_pop(L, 1);
  }
  if (!lua_isnoneornil(L, 7)) {
    lua_Integer keep = luaL_checkinteger(L, 7);
    luaL_argcheck(L, keep >= 0 && keep <= TV_OUTCOMES_MAX, 7, "keep_outcomes out of range");
    o.keep_outcomes = (uint32_t)keep;
  }
  ltv_sup *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->ctx = ctx;
  s->anchor = LUA_NOREF;
  s->done_ref = LUA_NOREF;
  tv_work_init(&s->done_work, NULL);
  luaL_setmetatable(L, LTV_SUP);
  if (tv_sup_new(&s->sup, &ctx->sched, &o) != 0) return luaL_error(L, "not enough memory");
  s->sup->on_closed = on_closed;
  s->sup->data = s;
  if (!lua_isnoneornil(L, 5)) { /* max_slot_queue: a controller */
    lua_Integer q = luaL_checkinteger(L, 5);
    if (q < 0 || q > UINT32_MAX) return luaL_argerror(L, 5, "bad max_slot_queue");
    if (tv_ctl_new(&s->ctl, s->sup, (uint32_t)q) != 0) return luaL_error(L, "not enough memory");
  }
  return 1;
}

/* TaskAddFailed for an add refused before the registry could publish it
 * (shutting down, out of memory, or decided in Lua: a program not in PATH,
 * an output file that cannot be opened): reason is the error the caller
 * gets. Not after the supervisor stopped: no subscriber is left to tell. */
static void publish_add_failed(ltv_sup *s, const char *name, size_t len, const char *reason) {
  if (tv_sup_closed(s->sup)) return;
  tv_str_t *task = tv_str_new(name, len);
  tv_str_t *why = tv_str_new(reason, strlen(reason));
  tv_event_t ev = tv_event_make(TV_EV_TASK_ADD_FAILED);
  if (task) ev.task = task, ev.fields |= TV_F_TASK;
  if (why) ev.reason = why, ev.fields |= TV_F_REASON;
  tv_bus_publish(&s->sup->bus, &ev);
  tv_str_unref(task);
  tv_str_unref(why);
}

/* sup:_add_failed(name, reason): publishes that TaskAddFailed for a refusal
 * decided in Lua. */
static int sup_add_failed(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  publish_add_failed(s, name, len, luaL_checkstring(L, 3));
  return 0;
}

/* sup:add(name, task, policy [, opts]): task from core.task / core.process;
 * policy as ltv_policy_read reads it; opts as read_add_opts reads them. */
static int sup_add(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  tv_task_t *t = ltv_task_check(L, 3, "sup:add");
  tv_policy_t p;
  ltv_policy_read(L, 4, &p);
  tv_add_opts_t o;
  if (ltv_add_opts_read(L, 5, &o) != 0) return luaL_error(L, "not enough memory");
  ltv_task_hold(L, 3);
  o.explicit_ready |= ltv_process_explicit_ready(t);
  char cycle[400] = "";
  o.cycle = cycle;
  o.cycle_cap = sizeof cycle;
  int rc = tv_sup_add_ex(s->sup, name, len, &p, t, &o);
  ltv_add_opts_free(&o);
  if (rc != 0) {
    ltv_task_unhold(L, 3);
    if (rc == TV_EEXIST) return ltv_push_error(L, rc, "task '%s' already exists", name);
    if (rc == TV_EINVAL && cycle[0])
      return ltv_push_error(L, rc, "'after' would make a cycle: %s (none of them could start); "
                            "task '%s' not added", cycle, name);
    /* the core published TaskAddFailed for the two above; not for these */
    int n;
    if (rc == TV_EINVAL) n = ltv_push_error(L, rc, "task '%s' cannot start after itself", name);
    else if (rc == TV_ESHUTDOWN) n = ltv_push_error(L, rc, "supervisor is shutting down or has stopped; task '%s' not added", name);
    else if (rc == TV_ENOTSUP && p.significant)
      n = ltv_push_error(L, rc, "task '%s' is significant but its parent's auto_shutdown is \"never\" "
                         "(OTP refuses such a child: set auto_shutdown = \"any_significant\" or "
                         "\"all_significant\")", name);
    else n = ltv_push_error(L, rc, "cannot add task '%s'", name);
    const char *msg = lua_tostring(L, -1);
    if (msg) publish_add_failed(s, name, len, msg);
    return n;
  }
  ltv_sup_anchor(L, s);
  lua_pushboolean(L, 1);
  return 1;
}

static int removal_error(lua_State *L, int rc, const char *name) {
  if (rc == TV_ENOENT) return ltv_push_error(L, rc, "no task named '%s'", name);
  return ltv_push_error(L, rc, "supervisor is shutting down or has stopped");
}

/* A name that is not registered may still be queued in a controller slot:
 * removing it purges it from the queue. */
static int remove_task(ltv_sup *s, const char *name, size_t len, const char *reason) {
  int rc = tv_sup_remove(s->sup, name, len, reason);
  if (rc == TV_ENOENT && s->ctl &&
      tv_ctl_unqueue(s->ctl, name, len, reason ? reason : "removed") > 0)
    return 1;
  return rc;
}

static int sup_remove(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  int rc = remove_task(s, name, len, NULL);
  if (rc == 1) rc = 0;
  if (rc != 0) return removal_error(L, rc, name);
  lua_pushboolean(L, 1);
  return 1;
}

/* sup:cancel(name [, wait]): from a task or subscriber, waits (yielding that
 * coroutine) until the task is gone or `wait` seconds (default: grace). */
static int sup_cancel(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  uint64_t wait_ms = lua_isnoneornil(L, 3) ? tv_ms_ceil(s->sup->grace_ns)
                                            : ltv_check_seconds(L, 3, "sup:cancel: 'wait'");
  lua_settop(L, 3);
  tv_actor_t *target = tv_sup_find(s->sup, name, len);
  int rc = remove_task(s, name, len, "manual_cancel");
  if (rc < 0) return removal_error(L, rc, name);
  ltv_fiber *f = ltv_fiber_current(s->ctx, L);
  /* Gone already: purged from a queue, or finished at once (a task in its
   * backoff), maybe with a controller slot's next task of the same name
   * registered since, which this cancel is not about. */
  int gone = rc == 1 || tv_sup_find(s->sup, name, len) != target;
  if (gone || !f || !lua_isyieldable(L)) { /* or nothing we could yield */
    lua_pushboolean(L, 1);
    return 1;
  }
  return ltv_fiber_wait_removed(L, f, s->sup, name, len, wait_ms);
}

/* sup:signal(name, signum): forwards a signal to a process task's group. */
static int sup_signal(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  int sig = (int)luaL_checkinteger(L, 3);
  tv_actor_t *a = tv_sup_find(s->sup, name, len);
  if (!a) return ltv_push_error(L, TV_ENOENT, "no task named '%s'", name);
  int rc = tv_process_signal(tv_container_of(a, tv_task_t, actor), sig);
  if (rc == TV_ENOTSUP) return ltv_push_error(L, rc, "task '%s' is not a process", name);
  if (rc != 0)
    return ltv_push_error(L, TV_ESRCH, "task '%s' has no running process (%s)", name,
                          tv_actor_state_name(a->state));
  lua_pushboolean(L, 1);
  return 1;
}

static int push_names(lua_State *L, ltv_sup *s, int alive_only) {
  uint32_t n;
  tv_str_t **names = tv_sup_names(s->sup, alive_only, &n);
  if (!names) return luaL_error(L, "not enough memory");
  lua_createtable(L, (int)n, 0);
  for (uint32_t i = 0; i < n; i++) {
    lua_pushlstring(L, names[i]->s, names[i]->len);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(names);
  return 1;
}

static int sup_list(lua_State *L) { return push_names(L, check_sup(L), 0); }
static int sup_snapshot(lua_State *L) { return push_names(L, check_sup(L), 1); }

static int sup_contains(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  lua_pushboolean(L, tv_sup_find(s->sup, name, len) != NULL);
  return 1;
}

/* sup:group(name): the group object of that registered group task (for
 * group.lua's run-time children), or nil. */
static int sup_group(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  tv_actor_t *a = tv_sup_find(s->sup, name, len);
  if (!a || !ltv_group_push(L, tv_container_of(a, tv_task_t, actor))) lua_pushnil(L);
  return 1;
}

static int sup_is_alive(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  tv_actor_t *a = tv_sup_find(s->sup, name, len);
  lua_pushboolean(L, a && tv_actor_alive(a));
  return 1;
}

static int sup_shutdown(lua_State *L) {
  ltv_sup *s = check_sup(L);
  if (tv_sup_shutdown(s->sup, "requested") != 0)
    return ltv_push_error(L, TV_ESHUTDOWN, "supervisor is already %s",
                          tv_sup_closed(s->sup) ? "stopped" : "shutting down");
  lua_pushboolean(L, 1);
  return 1;
}

static int sup_subscribe(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  luaL_checkany(L, 3);
  lua_Integer queue = luaL_optinteger(L, 4, 0);
  if (queue < 0 || queue > UINT32_MAX) return luaL_argerror(L, 4, "bad queue size");
  int rc = ltv_sub_new(L, s->ctx, s->sup, name, len, 3, (uint32_t)queue, ltv_opt_budget(L, 5),
                       LTV_SUB_OBJECTS, NULL);
  if (rc == TV_EEXIST) return ltv_push_error(L, rc, "a subscriber named '%s' already exists", name);
  if (rc == TV_ESHUTDOWN) return ltv_push_error(L, rc, "supervisor has stopped");
  if (rc != 0) return ltv_push_error(L, rc, "cannot subscribe '%s'", name);
  lua_pushboolean(L, 1);
  return 1;
}

/* SIGUSR2: one line per task of this supervisor on stderr (the host's log). */
static void dump_status(ltv_sup *s) {
  uint32_t n;
  tv_str_t **names = tv_sup_names(s->sup, 0, &n);
  if (!names) return;
  fprintf(stderr, "taskvisor: status: supervisor %s, %u tasks\n", tv_sup_state_name(s->sup->state),
          (unsigned)n);
  for (uint32_t i = 0; i < n; i++) {
    tv_actor_t *a = tv_sup_find(s->sup, names[i]->s, names[i]->len);
    char more[96] = "";
    if (a) tv_process_describe(tv_container_of(a, tv_task_t, actor), more, sizeof more);
    fprintf(stderr, "taskvisor: status: task=%s state=%s attempt=%u%s\n", names[i]->s,
            a ? tv_actor_state_name(a->state) : "?", a ? (unsigned)a->attempt : 0, more);
  }
  fflush(stderr);
  free(names);
}

void ltv_sup_on_signal(tv_signals_t *sig, int signum) {
  ltv_sup *s = sig->data;
  if (signum == SIGHUP || signum == SIGUSR1) {
    tv_process_reopen_logs();
    return;
  }
  if (signum == SIGUSR2) {
    dump_status(s);
    return;
  }
  if (signum == SIGALRM) return; /* nothing here uses alarm(): a stray one is ignored */
  char reason[32];
  snprintf(reason, sizeof reason, "signal %s", tv_signal_name(signum));
  if (tv_sup_shutdown(s->sup, reason) != 0) tv_sup_force(s->sup); /* asked twice */
}

/* Why sup:run() can never start here (inside the loop), or NULL. */
static const char *never_runs(lua_State *L, const ltv_sup *s) {
  if (s->ctx->current) /* in a task or subscriber, or a coroutine one of them resumed */
    return "sup:run: cannot be called from inside a task or a subscriber "
           "(the loop is already running; use sup:add)";
  if (s->ctx->running) return "sup:run: another sup:run() is already running the loop";
  if (ltv_loop_busy(L, s->ctx))
    return "sup:run: luv's loop is already running (called from inside uv.run()); "
           "use sup:start(), which returns at once";
  return NULL;
}

/* Whether sup:run() may start: raises where it never can, returns nil,
 * "ESHUTDOWN: ..." for a supervisor that already ran, else pushes nothing
 * and returns 0. */
static int run_checks(lua_State *L, ltv_sup *s) {
  const char *never = never_runs(L, s);
  if (never) return luaL_error(L, "%s", never);
  if (tv_sup_closed(s->sup))
    return ltv_push_error(L, TV_ESHUTDOWN, "this supervisor has already stopped");
  return 0;
}

/* sup:runnable(): true; or nil, why, true where sup:run() can never start
 * (the caller raises it at its own caller); or nil, "ESHUTDOWN: ...". */
static int sup_runnable(lua_State *L) {
  ltv_sup *s = check_sup(L);
  const char *never = never_runs(L, s);
  if (never) {
    lua_pushnil(L);
    lua_pushstring(L, never);
    lua_pushboolean(L, 1);
    return 3;
  }
  int n = run_checks(L, s);
  if (n) return n;
  lua_pushboolean(L, 1);
  return 1;
}

static void settle_timeout(tv_timer_t *t) { (void)t; }

/* Processes killed as their tasks ended (force-stopped, a ctx:exec of a
 * killed task) die a moment later: keep the loop turning until they are
 * reaped, so none is left a zombie while the program goes on without a
 * loop. Bounded: SIGKILL cannot be ignored, but a process in
 * uninterruptible sleep can delay its death. */
static void settle_children(lua_State *L, ltv_ctx *ctx) {
  if (!ctx->reaper || !ctx->reaper->disowned) return;
  tv_timer_t t;
  tv_timer_init(&t, settle_timeout);
  uint64_t until = tv_sched_now(&ctx->sched) + 2000;
  if (tv_timer_start_at(&ctx->sched, &t, until) != 0) return; /* cannot bound it */
  while (ctx->reaper->disowned && tv_sched_now(&ctx->sched) < until)
    ltv_loop_run(L, ctx, UV_RUN_ONCE);
  tv_timer_stop(&ctx->sched, &t);
}

/* Protected: run's failure results (nil, verdict, stuck names) for the
 * ltv_sup at 1. */
static int push_verdict(lua_State *L) {
  ltv_sup *s = lua_touserdata(L, 1);
  tv_sup_t *sup = s->sup;
  /* (either text may be missing: it could not be allocated) */
  const char *verdict = sup->verdict ? sup->verdict->s : "shutdown timeout exceeded (no memory to say more)";
  lua_pushnil(L);
  if (sup->did_escalate)
    lua_pushfstring(L, "ESCALATED: %s%s%s",
                    sup->escalated ? sup->escalated->s : "a restart budget escalated (no memory to say more)",
                    sup->grace_exceeded ? "; then " : "", sup->grace_exceeded ? verdict : "");
  else
    lua_pushfstring(L, "GraceExceeded: %s", verdict);
  lua_createtable(L, (int)sup->nstuck, 0);
  for (uint32_t i = 0; i < sup->nstuck; i++) {
    lua_pushlstring(L, sup->stuck[i]->s, sup->stuck[i]->len);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 3;
}

/* sup:run(): drives the loop until this supervisor is done. */
static int sup_run(lua_State *L) {
  ltv_sup *s = check_sup(L);
  ltv_ctx *ctx = s->ctx;
  int n = run_checks(L, s);
  if (n) return n;
  lua_settop(L, 1);
  int rc = s->sig_on ? 0 : tv_signals_start(&s->sig, ctx->loop, ltv_sup_on_signal, s);
  if (rc != 0) return luaL_error(L, "sup:run: cannot install signal handlers: %s", uv_strerror(rc));
  s->sig_on = 1;
  ctx->running = 1;
  tv_sup_run(s->sup);
  while (!tv_sup_closed(s->sup)) ltv_loop_run(L, ctx, UV_RUN_ONCE);
  settle_children(L, ctx);
  if (tv_work_queued(&s->done_work)) ltv_loop_run(L, ctx, UV_RUN_NOWAIT); /* sup:start's on_done */
  ctx->running = 0;
  if (s->sig_on) tv_signals_stop(&s->sig);
  s->sig_on = 0;
  return ltv_sup_push_result(L, s);
}

int ltv_sup_push_result(lua_State *L, ltv_sup *s) {
  /* The host's exit status follows the last run that returned. */
  tv_sup_t *sup = s->sup;
  lua_pushinteger(L, sup->did_escalate ? 3 : sup->grace_exceeded ? 2 : 0);
  lua_setfield(L, LUA_REGISTRYINDEX, LTV_GRACE_EXCEEDED);
  if (!sup->grace_exceeded && !sup->did_escalate) {
    lua_pushboolean(L, 1);
    return 1;
  }
  /* Built protected: a host short of memory (a shutdown of 200,000 stuck
   * tasks) still gets the verdict, without the list, instead of an error. */
  lua_pushcfunction(L, push_verdict);
  lua_pushlightuserdata(L, s);
  if (lua_pcall(L, 1, 3, 0) == LUA_OK) return 3;
  lua_pop(L, 1);
  lua_pushnil(L);
  if (sup->did_escalate)
    lua_pushliteral(L, "ESCALATED: a restart budget escalated (no memory to say more)");
  else
    lua_pushliteral(L, "GraceExceeded: shutdown timeout exceeded (no memory to name the stuck tasks)");
  lua_newtable(L);
  return 3;
}

/* sup:_bench_publish(n [, task]): publishes n TaskStarting events about
 * `task` (default "bench"). Internal: isolates the cost of event delivery for
 * bench/events.lua; supervisors never need it. */
static int sup_bench_publish(lua_State *L) {
  ltv_sup *s = check_sup(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  size_t len;
  const char *name = luaL_optlstring(L, 3, "bench", &len);
  tv_str_t *task = tv_str_new(name, len);
  if (!task) return luaL_error(L, "not enough memory");
  for (lua_Integer i = 1; i <= n; i++) {
    tv_event_t ev = tv_event_make(TV_EV_TASK_STARTING);
    ev.task = task;
    ev.attempt = (uint32_t)i;
    ev.fields = TV_F_TASK | TV_F_ATTEMPT;
    tv_bus_publish(&s->sup->bus, &ev);
  }
  tv_str_unref(task);
  return 0;
}

static int sup_state(lua_State *L) {
  lua_pushstring(L, tv_sup_state_name(check_sup(L)->sup->state));
  return 1;
}

static int sup_gc(lua_State *L) {
  ltv_sup *s = luaL_checkudata(L, 1, LTV_SUP);
  if (!s->sup) return 0;
  tv_sup_t *sup = s->sup;
  s->sup = NULL; /* methods called from <close> handlers from here on raise */
  tv_work_cancel(&s->done_work);
  s->on_stop = NULL;
  close_subscribers(sup);
  if (s->sig_on) tv_signals_stop(&s->sig);
  s->sig_on = 0;
  if (s->ctl) tv_ctl_destroy(s->ctl);
  s->ctl = NULL;
  tv_sup_destroy(sup);
  return 0;
}

static int sup_tostring(lua_State *L) {
  ltv_sup *s = luaL_checkudata(L, 1, LTV_SUP);
  lua_pushfstring(L, "taskvisor.supervisor(%s, %d tasks)",
                  s->sup ? tv_sup_state_name(s->sup->state) : "destroyed",
                  s->sup ? (int)s->sup->reg.count : 0);
  return 1;
}

void ltv_sup_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"add", sup_add},         {"remove", sup_remove},     {"cancel", sup_cancel},
      {"list", sup_list},       {"snapshot", sup_snapshot}, {"is_alive", sup_is_alive}, {"contains", sup_contains}, {"group", sup_group},
      {"shutdown", sup_shutdown}, {"subscribe", sup_subscribe}, {"run", sup_run}, {"runnable", sup_runnable},
      {"state", sup_state},     {"_bench_publish", sup_bench_publish}, {"signal", sup_signal},
            {"_add_failed", sup_add_failed},
      {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", sup_gc}, {"__tostring", sup_tostring}, {NULL, NULL}};
  luaL_newmetatable(L, LTV_SUP); /* sets __name */
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
