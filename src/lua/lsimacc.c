/* lsimacc.c - what a simulation accounts per event (taskvisor simulate,
 * tv.testing), in C: per task its attempts, restarts, failures, time up / in
 * backoff / down / idle, longest outage, exhaustions and escalations, and
 * the timeline's columns; counted from each event its subscriber takes, before
 * (and whether or not) a Lua table is made of it. In Lua this was most of a
 * simulation's time once events were cheap to deliver.
 * simulate_report.lua words and draws the result (acc:result()).
 * Memory: per task (and timeline column), never per event.
 * Owner: the userdata (core.sim_acc); the subscriber it is tapped into holds
 * a registry reference to it while subscribed, so it outlives the tap. */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/namemap.h"
#include "lsimacc.h"
#include "lsub.h"
#include "lsup.h"

#define LTV_SIMACC "taskvisor.sim_acc"
#define MAX_MARKS 10000 /* escalations are rare; a bound keeps memory flat regardless */

/* A task row's states, in the timeline's order (simulate_report.lua STATES). */
enum { S_NONE = -1, S_UP, S_BACKOFF, S_DOWN, S_IDLE, S__COUNT };
static const char *const state_names[] = {"up", "backoff", "down", "idle"};
enum { F_RUNNING, F_EXHAUSTED, F_DEAD, F_STOPPED, F_REMOVED };
static const char *const final_names[] = {"running", "exhausted", "dead", "stopped", "removed"};
enum { M_EXHAUSTED, M_ESCALATED };

typedef struct acc_task {
  tv_str_t *name; /* a reference of ours */
  struct acc_task *chain;
  int64_t attempts, restarts, failures, exhaustions, escalations;
  int64_t spent[S__COUNT]; /* ms in each state */
  int64_t longest_outage, since, outage;
  int8_t state, at_shutdown; /* S_*; at_shutdown S_NONE: "ended" */
  uint8_t final, in_outage, shut; /* shut: at_shutdown was set */
  double *cols;   /* columns x S__COUNT ms, or NULL */
  uint8_t *ticks; /* a restart in column c */
} acc_task;

typedef struct acc_mark {
  acc_task *task;
  int64_t t;
  uint8_t what;
} acc_mark;

typedef struct ltv_simacc {
  int64_t duration, now, shutdown_at;
  uint32_t columns, ntasks, cap, nmarks;
  uint64_t nevents, overflow;
  int shut, oom;
  tv_namemap_t byname;
  acc_task **order;
  acc_mark *marks;
} ltv_simacc;

/* ---- accounting ------------------------------------------------------------ */

static acc_task *task_of(ltv_simacc *a, const tv_str_t *name, int64_t t) {
  acc_task *k = tv_namemap_find(&a->byname, name->s, name->len);
  if (k || a->oom) return k;
  if (a->ntasks == a->cap) {
    uint32_t cap = a->cap ? a->cap * 2 : 16;
    acc_task **o = realloc(a->order, cap * sizeof *o);
    if (!o) goto oom;
    a->order = o;
    a->cap = cap;
  }
  k = calloc(1, sizeof *k);
  if (!k) goto oom;
  if (a->columns) {
    k->cols = calloc((size_t)a->columns * S__COUNT, sizeof *k->cols);
    k->ticks = calloc(a->columns, 1);
  }
  k->name = (tv_str_t *)name; /* (the map hashes it) */
  if ((a->columns && (!k->cols || !k->ticks)) || tv_namemap_insert(&a->byname, k) != 0) {
    free(k->cols);
    free(k->ticks);
    free(k);
    goto oom;
  }
  tv_str_ref(k->name);
  k->state = S_DOWN;
  k->since = k->outage = t;
  k->in_outage = 1;
  k->at_shutdown = S_NONE;
  a->order[a->ntasks++] = k;
  return k;
oom: /* (the summary says so: acc:result() raises) */
  a->oom = 1;
  return NULL;
}

/* Adds [from, to) spent in `state` to the task's column totals (doubles, as
 * the Lua numbers were: integers stay exact). */
static void spread(ltv_simacc *a, acc_task *k, int state, double from, double to) {
  uint32_t n = a->columns;
  if (n == 0 || to <= from || a->duration <= 0) return;
  double w = (double)a->duration / n;
  double c = floor(from / w);
  if (c > n - 1) c = n - 1;
  while (from < to && c < n) {
    double edge = (c + 1) * w;
    if (!(edge < to)) edge = to;
    k->cols[(size_t)c * S__COUNT + (size_t)state] += edge - from;
    from = edge;
    c += 1;
  }
}

static int is_out(int s) { return s == S_DOWN || s == S_BACKOFF; }

/* The task enters `state` at t: the time since `since` goes to the old one. */
static void enter(ltv_simacc *a, acc_task *k, int state, int64_t t) {
  int st = k->state;
  if (st != S_NONE) {
    int64_t span = t - k->since;
    if (span > 0) {
      k->spent[st] += span;
      if (a->columns) spread(a, k, st, (double)k->since, (double)t);
    }
  }
  int was_out = st != S_NONE && is_out(st), now_out = state != S_NONE && is_out(state);
  if (now_out && !was_out) {
    k->outage = t;
    k->in_outage = 1;
  }
  if (was_out && !now_out && k->in_outage) {
    if (t - k->outage > k->longest_outage) k->longest_outage = t - k->outage;
    k->in_outage = 0;
  }
  k->state = (int8_t)state;
  k->since = t;
}

static uint32_t column(const ltv_simacc *a, int64_t t) {
  double c = floor((double)t / ((double)a->duration / a->columns));
  return c > a->columns - 1 ? a->columns - 1 : (uint32_t)c;
}

static void mark(ltv_simacc *a, acc_task *k, int64_t t, int what) {
  if (a->columns == 0 || a->nmarks >= MAX_MARKS) return;
  if (!a->marks && !(a->marks = malloc(MAX_MARKS * sizeof *a->marks))) return;
  a->marks[a->nmarks++] = (acc_mark){k, t, (uint8_t)what};
}

/* The tap: one event, as our subscriber takes it from its queue. */
static void account(void *data, const tv_event_t *ev) {
  ltv_simacc *a = data;
  int64_t t = (int64_t)floor(ev->at * 1000.0 + 0.5);
  a->nevents++;
  a->now = t;
  switch (ev->kind) {
  case TV_EV_SHUTDOWN_REQUESTED:
    a->shutdown_at = t;
    a->shut = 1;
    for (uint32_t i = 0; i < a->ntasks; i++) {
      a->order[i]->at_shutdown = a->order[i]->state;
      a->order[i]->shut = 1;
    }
    return;
  case TV_EV_SUBSCRIBER_OVERFLOW: a->overflow++; return;
  case TV_EV_TASK_STARTING: case TV_EV_TASK_FAILED: case TV_EV_TASK_STOPPED:
  case TV_EV_BACKOFF_SCHEDULED: case TV_EV_ACTOR_EXHAUSTED: case TV_EV_ACTOR_DEAD:
  case TV_EV_ESCALATED: case TV_EV_TASK_REMOVED: case TV_EV_TASK_ADD_REQUESTED:
  case TV_EV_TASK_ADDED: case TV_EV_TASK_READY: case TV_EV_TIMEOUT_HIT: break;
  default: return; /* (nothing of a task's row) */
  }
  if (!(ev->fields & TV_F_TASK) || !ev->task) return;
  acc_task *k = task_of(a, ev->task, t);
  if (!k) return;
  switch (ev->kind) {
  case TV_EV_TASK_STARTING:
    if (++k->attempts > 1) {
      k->restarts++;
      if (a->columns) k->ticks[column(a, t)] = 1;
    }
    enter(a, k, S_UP, t);
    break;
  case TV_EV_TASK_FAILED:
    k->failures++;
    enter(a, k, S_DOWN, t);
    break;
  case TV_EV_TASK_STOPPED: enter(a, k, S_DOWN, t); break;
  case TV_EV_BACKOFF_SCHEDULED: {
    int src = (ev->fields & TV_F_BACKOFF_SOURCE) ? ev->backoff_source : TV_BACKOFF_FAILURE;
    if (src == TV_BACKOFF_COOLDOWN) { /* a budget exhausted with on_exhausted = { cooldown = s } */
      k->exhaustions++;
      mark(a, k, t, M_EXHAUSTED);
    }
    /* (waiting for its next run after a success, or for its schedule, is not an outage) */
    enter(a, k, src == TV_BACKOFF_SUCCESS || src == TV_BACKOFF_SCHEDULE ? S_IDLE : S_BACKOFF, t);
    break;
  }
  case TV_EV_ACTOR_EXHAUSTED:
    k->exhaustions++;
    k->final = F_EXHAUSTED;
    mark(a, k, t, M_EXHAUSTED);
    break;
  case TV_EV_ACTOR_DEAD: k->final = F_DEAD; break;
  case TV_EV_ESCALATED:
    k->escalations++;
    mark(a, k, t, M_ESCALATED);
    break;
  case TV_EV_TASK_REMOVED:
    enter(a, k, S_NONE, t);
    if (k->final == F_RUNNING) k->final = a->shut ? F_STOPPED : F_REMOVED;
    break;
  default: break;
  }
}

/* ---- Lua ------------------------------------------------------------------- */

static ltv_simacc *check_acc(lua_State *L) { return luaL_checkudata(L, 1, LTV_SIMACC); }

/* core.sim_acc(duration_ms, columns): an accumulator (columns: the
 * timeline's resolution, 0 for none). */
static int acc_new(lua_State *L) {
  lua_Integer d = luaL_checkinteger(L, 1), n = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, d >= 0, 1, "duration out of range");
  luaL_argcheck(L, n >= 0 && n <= 100000, 2, "columns out of range");
  ltv_simacc *a = lua_newuserdatauv(L, sizeof *a, 0);
  memset(a, 0, sizeof *a);
  a->duration = d;
  a->columns = (uint32_t)n;
  tv_namemap_init(&a->byname, offsetof(acc_task, name), offsetof(acc_task, chain));
  luaL_setmetatable(L, LTV_SIMACC);
  return 1;
}

/* sup.core:_sim_subscribe(name, on_event, queue, as, acc): subscribes like
 * sup.core:subscribe (as: "tables" or "scratch"), each event counted into
 * acc first. */
static int sup_sim_subscribe(lua_State *L) {
  ltv_sup *s = ltv_sup_check(L);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  luaL_checkany(L, 3);
  lua_Integer queue = luaL_checkinteger(L, 4);
  if (queue < 0 || queue > UINT32_MAX) return luaL_argerror(L, 4, "bad queue size");
  static const char *const as[] = {"objects", "tables", "scratch", NULL};
  int plain = luaL_checkoption(L, 5, NULL, as);
  ltv_simacc *a = luaL_checkudata(L, 6, LTV_SIMACC);
  lua_pushvalue(L, 6);
  ltv_sub_tap tap = {account, a, luaL_ref(L, LUA_REGISTRYINDEX)}; /* (held while subscribed) */
  int rc = ltv_sub_new(L, s->ctx, s->sup, name, len, 3, (uint32_t)queue, 0, plain, &tap);
  if (rc != 0) return luaL_error(L, "simulate: cannot subscribe '%s' (%d)", name, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* acc:finish([t_end]): the time since each task's last change goes to its
 * state, until t_end (ms; default: the last event's time); once, at the
 * end of the run. */
static int acc_finish(lua_State *L) {
  ltv_simacc *a = check_acc(L);
  int64_t t = (int64_t)luaL_optinteger(L, 2, a->now);
  for (uint32_t i = 0; i < a->ntasks; i++) {
    acc_task *k = a->order[i];
    if (k->state == S_NONE) continue;
    int st = k->state;
    enter(a, k, st, t);
    if (is_out(st) && k->in_outage && t - k->outage > k->longest_outage)
      k->longest_outage = t - k->outage;
  }
  return 0;
}

static void set_int(lua_State *L, const char *k, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* One task's row as a table (what simulate_report.lua reads). */
static void push_task(lua_State *L, const ltv_simacc *a, const acc_task *k) {
  lua_createtable(L, 0, 16);
  lua_pushlstring(L, k->name->s, k->name->len);
  lua_setfield(L, -2, "name");
  set_int(L, "attempts", k->attempts);
  set_int(L, "restarts", k->restarts);
  set_int(L, "failures", k->failures);
  set_int(L, "exhaustions", k->exhaustions);
  set_int(L, "escalations", k->escalations);
  set_int(L, "longest_outage", k->longest_outage);
  for (int st = 0; st < S__COUNT; st++) set_int(L, state_names[st], k->spent[st]);
  if (k->state != S_NONE) {
    lua_pushstring(L, state_names[k->state]);
    lua_setfield(L, -2, "state");
  }
  if (k->shut && k->at_shutdown != S_NONE) {
    lua_pushstring(L, state_names[k->at_shutdown]);
    lua_setfield(L, -2, "at_shutdown");
  }
  lua_pushstring(L, final_names[k->final]);
  lua_setfield(L, -2, "final");
  if (!a->columns) return;
  lua_newtable(L); /* cols[c] = { up = ms, ... } for the columns touched */
  lua_newtable(L); /* ticks[c] = true */
  for (uint32_t c = 0; c < a->columns; c++) {
    const double *col = &k->cols[(size_t)c * S__COUNT];
    int any = 0;
    for (int st = 0; st < S__COUNT; st++) any |= col[st] != 0;
    if (any) {
      lua_createtable(L, 0, S__COUNT);
      for (int st = 0; st < S__COUNT; st++) {
        if (col[st] == 0) continue;
        lua_pushnumber(L, col[st]);
        lua_setfield(L, -2, state_names[st]);
      }
      lua_rawseti(L, -3, c);
    }
    if (k->ticks[c]) {
      lua_pushboolean(L, 1);
      lua_rawseti(L, -2, c);
    }
  }
  lua_setfield(L, -3, "ticks");
  lua_setfield(L, -2, "cols");
}

/* acc:result(): { duration, columns, tasks = { [name] = row }, order = { names },
 * marks = { { task, t, what } }, nevents, overflow, now, shutdown_at }. */
static int acc_result(lua_State *L) {
  ltv_simacc *a = check_acc(L);
  if (a->oom) return luaL_error(L, "simulate: not enough memory to account for every task");
  lua_createtable(L, 0, 9);
  set_int(L, "duration", a->duration);
  set_int(L, "columns", a->columns);
  set_int(L, "nevents", (int64_t)a->nevents);
  set_int(L, "overflow", (int64_t)a->overflow);
  set_int(L, "now", a->now);
  if (a->shut) set_int(L, "shutdown_at", a->shutdown_at);
  lua_createtable(L, 0, (int)a->ntasks);
  lua_createtable(L, (int)a->ntasks, 0);
  for (uint32_t i = 0; i < a->ntasks; i++) {
    push_task(L, a, a->order[i]);
    lua_getfield(L, -1, "name");
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, i + 1); /* order */
    lua_insert(L, -2);
    lua_rawset(L, -4); /* tasks[name] */
  }
  lua_setfield(L, -3, "order");
  lua_setfield(L, -2, "tasks");
  lua_createtable(L, (int)a->nmarks, 0);
  for (uint32_t i = 0; i < a->nmarks; i++) {
    const acc_mark *m = &a->marks[i];
    lua_createtable(L, 0, 3);
    lua_pushlstring(L, m->task->name->s, m->task->name->len);
    lua_setfield(L, -2, "task");
    set_int(L, "t", m->t);
    lua_pushstring(L, m->what == M_ESCALATED ? "escalated" : "exhausted");
    lua_setfield(L, -2, "what");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "marks");
  return 1;
}

static int acc_gc(lua_State *L) {
  ltv_simacc *a = check_acc(L);
  for (uint32_t i = 0; i < a->ntasks; i++) {
    acc_task *k = a->order[i];
    tv_str_unref(k->name);
    free(k->cols);
    free(k->ticks);
    free(k);
  }
  free(a->order);
  free(a->marks);
  tv_namemap_free(&a->byname);
  a->order = NULL;
  a->marks = NULL;
  a->ntasks = a->nmarks = 0;
  return 0;
}

void ltv_simacc_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"finish", acc_finish}, {"result", acc_result}, {NULL, NULL}};
  luaL_newmetatable(L, LTV_SIMACC);
  lua_pushcfunction(L, acc_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, acc_new);
  lua_setfield(L, -2, "sim_acc"); /* on the module table */
  static const luaL_Reg sup_methods[] = {{"_sim_subscribe", sup_sim_subscribe}, {NULL, NULL}};
  luaL_getmetatable(L, LTV_SUP);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, sup_methods, 0);
  lua_pop(L, 2);
}
