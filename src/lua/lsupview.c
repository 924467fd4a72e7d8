/* lsupview.c - what a supervisor shows about its tasks: reliable outcomes
 * (sup:outcomes, outcome, await), what a task still waits for (sup:waits),
 * a process task's live state (sup:process, process_info), and every task's
 * state in supervisord's words (sup:status). Its methods
 * go into the supervisor's method table from above, as lctl.c's do. */
#include <stdlib.h>

#include "core/base/error.h"
#include "core/kinds/process.h"
#include "core/supervision/status.h"
#include "lbase.h"
#include "lfiber.h"
#include "lproc.h"
#include "lsup.h"
#include "lsupview.h"

#define check_sup ltv_sup_check

/* ---- reliable outcomes --------------------------------------------------- */

static void push_outcome(lua_State *L, const tv_outcome_rec_t *r, int with_seq) {
  lua_createtable(L, 0, 4 + with_seq);
  lua_pushstring(L, tv_actor_end_status(r->end));
  lua_setfield(L, -2, "status");
  lua_pushinteger(L, r->attempts);
  lua_setfield(L, -2, "attempts");
  if (r->reason) {
    lua_pushlstring(L, r->reason->s, r->reason->len);
    lua_setfield(L, -2, "reason");
  }
  if (r->has_exit_code) {
    lua_pushinteger(L, r->exit_code);
    lua_setfield(L, -2, "exit_code");
  }
  if (!with_seq) return;
  lua_pushinteger(L, (lua_Integer)r->seq);
  lua_setfield(L, -2, "seq");
}

/* sup:outcomes(): name -> outcome of every task that ended (fresh tables);
 * and how many ended. */
static int sup_outcomes(lua_State *L) {
  ltv_sup *s = check_sup(L);
  uint32_t n;
  tv_outcome_rec_t **all = (tv_outcome_rec_t **)tv_namemap_snapshot(&s->sup->outcomes.map, &n);
  if (!all && s->sup->outcomes.map.count) return luaL_error(L, "not enough memory");
  lua_createtable(L, 0, (int)n);
  for (uint32_t i = 0; i < n; i++) {
    lua_pushlstring(L, all[i]->name->s, all[i]->name->len);
    push_outcome(L, all[i], 0);
    lua_rawset(L, -3);
  }
  free(all);
  lua_pushinteger(L, (lua_Integer)s->sup->outcomes.ended);
  return 2;
}

/* sup:outcome(name): that task's last outcome with its seq (the order it
 * ended in), or nil; how many ended; how many records were dropped (to keep
 * within keep_outcomes). */
static int sup_outcome(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  const tv_outcome_rec_t *r = tv_outcomes_find(&s->sup->outcomes, name, len);
  if (r)
    push_outcome(L, r, 1);
  else
    lua_pushnil(L);
  lua_pushinteger(L, (lua_Integer)s->sup->outcomes.ended);
  lua_pushinteger(L, (lua_Integer)s->sup->outcomes.dropped);
  return 3;
}

/* sup:await(name, seconds): from a task or subscriber, waits until that task
 * is gone; true, or nil + "ETIMEDOUT: ..." / "ECANCELED: ...". */
static int sup_await(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  uint64_t wait_ms = lua_isnoneornil(L, 3) ? UINT64_MAX / 2
                                            : ltv_check_seconds(L, 3, "sup:wait: 'timeout'");
  lua_settop(L, 3);
  ltv_fiber *f = ltv_fiber_current(s->ctx, L);
  if (!f || !lua_isyieldable(L))
    return luaL_error(L, "sup:wait: call it from a task or a subscriber (it waits by "
                         "yielding that coroutine); outside, sup:run() returns the outcomes");
  if (!tv_sup_find(s->sup, name, len)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return ltv_fiber_wait_removed(L, f, s->sup, name, len, wait_ms);
}

typedef struct waits_arg {
  lua_State *L;
  tv_sup_t *sup;
  lua_Integer n;
} waits_arg;

static void push_wait(void *arg, tv_actor_t *child, const tv_str_t *name, const tv_str_t *via) {
  waits_arg *w = arg;
  lua_State *L = w->L;
  if (child) {
    if (child->ready) return;
    name = child->name;
  } else {
    tv_actor_t *d = tv_sup_find(w->sup, name->s, name->len);
    if (d && d->ever_ready) return;
  }
  lua_createtable(L, 3, 0);
  lua_pushlstring(L, name->s, name->len);
  lua_rawseti(L, -2, 1);
  if (via) {
    lua_pushlstring(L, via->s, via->len);
    lua_rawseti(L, -2, 2);
  }
  lua_pushboolean(L, child != NULL);
  lua_rawseti(L, -2, 3);
  lua_rawseti(L, -2, ++w->n);
}

/* sup:waits(name, as_child): what a registered task waits for before it can
 * be ready, for sup:run's check of a batch against the registered tasks: nil
 * (no such task), false (it does not hold up a dependent: ready once already,
 * or, as a group's child, ready now), or a list of { name, via | nil,
 * child }: the tasks that still hold it up (registered or not). */
static int sup_waits(lua_State *L) {
  ltv_sup *s = check_sup(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  int as_child = lua_toboolean(L, 3);
  tv_actor_t *a = tv_sup_find(s->sup, name, len);
  if (!a) return 0;
  if (as_child ? a->ready : a->ever_ready) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_newtable(L);
  waits_arg w = {L, s->sup, 0};
  tv_sup_each_wait(a, push_wait, &w);
  return 1;
}

/* The process task named by argument 2 (its actor in *a), or NULL when
 * nil + error are pushed (2 results). */
static tv_task_t *process_arg(lua_State *L, ltv_sup *s, tv_actor_t **out) {
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  tv_actor_t *a = tv_sup_find(s->sup, name, len);
  if (!a) {
    ltv_push_error(L, TV_ENOENT, "no task named '%s'", name);
    return NULL;
  }
  tv_task_t *t = tv_container_of(a, tv_task_t, actor);
  if (!tv_process_is(t)) {
    ltv_push_error(L, TV_ENOTSUP, "task '%s' is not a process", name);
    return NULL;
  }
  *out = a;
  return t;
}

/* sup:process(name): a process task's live state (lproc.c), or nil + error. */
static int sup_process(lua_State *L) {
  tv_actor_t *a;
  tv_task_t *t = process_arg(L, check_sup(L), &a);
  if (!t) return 2;
  ltv_process_push_state(L, t);
  return 1;
}

/* sup:process_info(name): pid and containment of the running process. */
static int sup_process_info(lua_State *L) {
  tv_actor_t *a;
  tv_task_t *t = process_arg(L, check_sup(L), &a);
  if (!t) return 2;
  if (ltv_process_info(L, t)) return 1;
  return ltv_push_error(L, TV_ESRCH, "task '%s' has no running process (%s)",
                        lua_tostring(L, 2), tv_actor_state_name(a->state));
}

/* ---- status (core/supervision/status.h) ----------------------------------- */

typedef struct clock_pair {
  double wall;
  uint64_t now;
} clock_pair_t;

/* Clock ms `ms` as wall seconds, like an event's `at`. */
static double wall_of(const clock_pair_t *c, uint64_t ms) {
  return tv_clock_wall_at(c->wall, c->now, ms);
}

static void set_str(lua_State *L, const char *k, const tv_str_t *v) {
  if (!v) return;
  lua_pushlstring(L, v->s, v->len);
  lua_setfield(L, -2, k);
}
static void set_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}
static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}
static void set_bool(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

static void push_status(lua_State *L, const tv_status_t *st, const clock_pair_t *c) {
  lua_createtable(L, 0, 14);
  set_str(L, "name", st->name);
  if (st->kind) {
    lua_pushstring(L, st->kind);
    lua_setfield(L, -2, "kind");
  }
  set_str(L, "group", st->group);
  lua_pushstring(L, tv_status_name(st->state));
  lua_setfield(L, -2, "state");
  set_num(L, "since", wall_of(c, st->since));
  set_int(L, "attempt", st->attempt);
  set_int(L, "restarts", st->restarts);
  set_bool(L, "ready", st->ready);
  set_bool(L, "registered", st->registered);
  set_bool(L, "operator_stopped", st->operator_stopped);
  if (st->pid) set_int(L, "pid", st->pid);
  if (st->started) set_num(L, "uptime", (double)(c->now - st->started) / 1000.0);
  if (st->next_retry) set_num(L, "next_retry_at", wall_of(c, st->next_retry));
  if (st->has_last) {
    lua_createtable(L, 0, 5);
    set_bool(L, "failed", st->last_failed);
    if (st->last_has_code) set_int(L, "code", st->last_code);
    if (st->last_signal) set_int(L, "signal", st->last_signal);
    set_str(L, "reason", st->last_reason);
    if (st->last_at) set_num(L, "at", wall_of(c, st->last_at));
    lua_setfield(L, -2, "last_exit");
  }
  if (st->registered) {
    lua_createtable(L, 0, TV_CAUSE__COUNT);
    for (int i = 0; i < TV_CAUSE__COUNT; i++) set_int(L, tv_cause_name(i), st->failures[i]);
    lua_setfield(L, -2, "failures");
  }
}

typedef struct collect {
  tv_status_t *v;
  uint32_t n, cap;
} collect_t;

static int collect_one(void *arg, const tv_status_t *st) {
  collect_t *c = arg;
  if (c->n == c->cap) return 1; /* (cap is the registry's count) */
  c->v[c->n++] = *st;
  return 0;
}

static int by_name(const void *x, const void *y) {
  return tv_str_cmp(((const tv_status_t *)x)->name, ((const tv_status_t *)y)->name);
}

/* sup:status(name): that task's state (a table: state in supervisord's words,
 * since, attempt, restarts, pid, uptime, ready, last_exit, next_retry_at, ...),
 * also for a task that has ended (registered = false, from its outcome); or
 * nil + "ENOENT: ...". sup:status(): every registered task's, sorted by name. */
static int sup_status(lua_State *L) {
  ltv_sup *s = check_sup(L);
  const tv_clock_t *clk = s->sup->sched->clock;
  clock_pair_t c = {tv_clock_wall(clk), tv_clock_now(clk)};
  if (!lua_isnoneornil(L, 2)) {
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    tv_status_t st;
    if (!tv_sup_status(s->sup, name, len, &st))
      return ltv_push_error(L, TV_ENOENT, "no task '%s' (now or before)", name);
    push_status(L, &st, &c);
    return 1;
  }
  uint32_t n = s->sup->reg.count;
  collect_t all = {n ? malloc(n * sizeof *all.v) : NULL, 0, n};
  if (n && !all.v) return luaL_error(L, "not enough memory");
  tv_sup_each_status(s->sup, collect_one, &all);
  if (all.n) qsort(all.v, all.n, sizeof *all.v, by_name);
  lua_createtable(L, (int)all.n, 0);
  for (uint32_t i = 0; i < all.n; i++) {
    push_status(L, &all.v[i], &c);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(all.v);
  return 1;
}

void ltv_supview_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"outcomes", sup_outcomes}, {"outcome", sup_outcome}, {"await", sup_await},
      {"waits", sup_waits},       {"process", sup_process}, {"process_info", sup_process_info},
      {"status", sup_status},     {NULL, NULL}};
  luaL_getmetatable(L, LTV_SUP);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}
