/* lsimproc.c - a simulated process (taskvisor simulate, tv.testing): the task
 * kind that stands in for a process task, playing each attempt from the
 * trace (lua/taskvisor/simulate_trace.lua checks it) on the loop's timers.
 * It does what the Lua stand-in it replaces did, wait for wait and in the
 * process task's words, without a coroutine or a Lua call per attempt (a
 * trace function is still called once per attempt).
 * Owner: the userdata; anchored in the registry while the core holds it
 * (lheld.c), until release(). User values: 1 = the plan (a function(name)
 * giving the task's outcomes, a list, or a function(attempt)), 2 = the
 * outcomes (a userdata array, made from the list) or the function(attempt),
 * 3 = abort(msg) (a trace function's bad result ends the simulation),
 * 4 = the exit codes (success_codes, then fatal_codes; a userdata array). */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/supervision/task.h"
#include "lbase.h"
#include "lheld.h"
#include "lhooks.h"
#include "lsimproc.h"

#define LTV_SIMPROC "taskvisor.sim_process"
#define MAX_CODES 256
#define FOREVER 1e8 /* seconds: "runs until stopped" wakes (and sleeps again) this often */

/* One attempt's outcome, as simulate_trace.lua's entry() checked it. */
typedef struct sim_entry {
  double run, ready_after, ignore_term; /* seconds; run < 0: absent (until stopped) */
  int exit_code;                        /* -1: absent */
  uint8_t never_ready;
  char signal[24]; /* "SIGKILL", or "" */
} sim_entry;

/* What the attempt waits for (one sleep at a time). */
enum { W_NONE, W_NOT_READY, W_READY_AFTER, W_RUN, W_FOREVER, W_LINGER };

typedef struct ltv_simproc {
  tv_task_t base; /* its actor holds the name and the attempt number */
  ltv_ctx *ctx;
  tv_timer_t timer;
  tv_work_t work; /* a sleep that ends on the next pass (0 s, or cancelled) */
  int anchor;
  uint8_t phase, deferred, woke_ok, cancelled, planned, orphaned;
  uint8_t ready_mode; /* 0: ready at start; 1: notify; 2: check */
  double ready_timeout; /* seconds; <= 0: none */
  double stop_timeout;
  int nsuccess, nfatal; /* nsuccess < 0: success_codes absent (0 is success) */
  const int32_t *success, *fatal; /* in user value 4 */
  const sim_entry *entries; /* the list's outcomes (user value 2), or NULL */
  int nentries;            /* 0 with entries NULL: a trace function (or untraced) */
  int has_fn;
  sim_entry cur; /* this attempt's */
  double spent;
  int32_t said_code; /* the exit code `said` words (-1: none yet) */
  char said[32];
} ltv_simproc;

static void done(ltv_simproc *t, tv_outcome_kind_t kind, const char *msg, int has_code,
                 int32_t code) {
  t->phase = W_NONE;
  tv_outcome_t o = {kind, has_code, code, msg, msg ? strlen(msg) : 0, NULL, 0};
  tv_task_done(&t->base, &o);
}

/* Sleeps `secs` in `phase`, as ctx:sleep does: a cancelled attempt, or 0 s,
 * wakes on the next pass; otherwise a timer. */
static void sleep_for(ltv_simproc *t, double secs, int phase) {
  t->phase = (uint8_t)phase;
  uint64_t ms = (uint64_t)ceil(secs * 1000.0);
  if (t->cancelled || ms == 0) {
    t->woke_ok = !t->cancelled;
    t->deferred = 1;
    tv_work_defer(&t->ctx->sched, &t->work, TV_LANE_NEXT);
  } else if (tv_timer_start(&t->ctx->sched, &t->timer, ms) != 0) {
    done(t, TV_OUTCOME_FAIL, "ctx:sleep: not enough memory", 0, 0);
  }
}

static int has_code(const int32_t *codes, int n, int32_t c) {
  for (int i = 0; i < n; i++)
    if (codes[i] == c) return 1;
  return 0;
}

/* "5s", "2.5s", "250ms" (simulate_trace.lua's words for a readiness timeout). */
static void dur(char *buf, size_t n, uint64_t ms) {
  if (ms % 1000 == 0)
    snprintf(buf, n, "%llus", (unsigned long long)(ms / 1000));
  else if (ms >= 1000)
    snprintf(buf, n, "%.1fs", (double)ms / 1000.0);
  else
    snprintf(buf, n, "%llums", (unsigned long long)ms);
}

/* The attempt was stopped: a process ignoring SIGTERM for ignore_term
 * seconds still ends at its stop_timeout (SIGKILL). Either way it ends as
 * stopped (OK; the actor knows it asked). */
static void stop_late(ltv_simproc *t) {
  double secs = t->cur.ignore_term;
  if (secs > 0) {
    t->cancelled = 0; /* (sleeps through its stop; a second stop still ends it) */
    sleep_for(t, secs < t->stop_timeout ? secs : t->stop_timeout, W_LINGER);
    return;
  }
  done(t, TV_OUTCOME_OK, NULL, 0, 0);
}

/* The run phase: until stopped, or `run` seconds and then its end. */
static void run_phase(ltv_simproc *t) {
  if (t->cur.run < 0) {
    sleep_for(t, FOREVER, W_FOREVER);
    return;
  }
  double left = t->cur.run - t->spent;
  sleep_for(t, left > 0 ? left : 0, W_RUN);
}

static void ended(ltv_simproc *t) {
  const sim_entry *o = &t->cur;
  char msg[64];
  if (o->signal[0]) {
    snprintf(msg, sizeof msg, "killed by signal %s", o->signal);
    done(t, TV_OUTCOME_FAIL, msg, 0, 0);
    return;
  }
  int32_t code = o->exit_code >= 0 ? o->exit_code : 0;
  int success = t->nsuccess >= 0 ? has_code(t->success, t->nsuccess, code) : code == 0;
  if (success) {
    done(t, TV_OUTCOME_OK, NULL, 0, 0);
    return;
  }
  if (code != t->said_code) { /* (worded once per code: a crash loop repeats it) */
    snprintf(t->said, sizeof t->said, "exited with code %d", (int)code);
    t->said_code = code;
  }
  done(t, has_code(t->fatal, t->nfatal, code) ? TV_OUTCOME_FATAL : TV_OUTCOME_FAIL, t->said, 1, code);
}

/* The current sleep ended: ok, or cut short by a stop. */
static void wake(ltv_simproc *t, int ok) {
  int phase = t->phase;
  t->phase = W_NONE;
  if (phase == W_LINGER) {
    t->cancelled = 1;
    done(t, TV_OUTCOME_OK, NULL, 0, 0);
    return;
  }
  if (!ok) {
    stop_late(t);
    return;
  }
  switch (phase) {
  case W_NOT_READY: {
    char msg[96], d[32];
    dur(d, sizeof d, (uint64_t)ceil((t->ready_timeout > 0 ? t->ready_timeout : FOREVER) * 1000.0));
    snprintf(msg, sizeof msg, "not ready within %s (%s)", d,
             t->ready_mode == 1 ? "ready = \"notify\"" : "ready.check");
    done(t, TV_OUTCOME_FAIL, msg, 0, 0);
    return;
  }
  case W_READY_AFTER:
    tv_task_ready(&t->base);
    run_phase(t);
    return;
  case W_FOREVER: sleep_for(t, FOREVER, W_FOREVER); return;
  case W_RUN: ended(t); return;
  default: return;
  }
}

static void on_timer(tv_timer_t *tm) { wake(ltv_container_of(tm, ltv_simproc, timer), 1); }

static void on_work(tv_work_t *w) {
  ltv_simproc *t = ltv_container_of(w, ltv_simproc, work);
  t->deferred = 0;
  wake(t, t->woke_ok);
}

/* ---- the trace ------------------------------------------------------------ */

static double opt_secs(lua_State *L, int idx, const char *k, double def) {
  double v = lua_getfield(L, idx, k) == LUA_TNUMBER ? lua_tonumber(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

/* The checked entry at idx (a table; anything else: runs until stopped) into e. */
static void read_entry(lua_State *L, int idx, sim_entry *e) {
  memset(e, 0, sizeof *e);
  e->run = -1;
  e->exit_code = -1;
  if (lua_type(L, idx) != LUA_TTABLE) return;
  idx = lua_absindex(L, idx);
  e->run = opt_secs(L, idx, "run", -1);
  e->ready_after = opt_secs(L, idx, "ready_after", 0);
  e->ignore_term = opt_secs(L, idx, "ignore_term", 0);
  if (lua_getfield(L, idx, "exit") == LUA_TNUMBER) e->exit_code = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, idx, "never_ready");
  e->never_ready = (uint8_t)lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "signal") == LUA_TSTRING)
    snprintf(e->signal, sizeof e->signal, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
}

/* Protected: [task, name] -> asks the plan for the task's outcomes: a list
 * becomes user value 2 as an array, a function is kept there. */
static int plan(lua_State *L) {
  ltv_simproc *t = lua_touserdata(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 1, 1);
  t->entries = NULL;
  t->nentries = 0;
  t->has_fn = lua_type(L, -1) == LUA_TFUNCTION;
  if (!t->has_fn && lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) > 0) {
    int n = (int)lua_rawlen(L, -1);
    sim_entry *es = lua_newuserdatauv(L, sizeof *es * (size_t)n, 0);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, -2, i + 1);
      read_entry(L, -1, &es[i]);
      lua_pop(L, 1);
    }
    t->entries = es;
    t->nentries = n;
  }
  lua_setiuservalue(L, 1, 2);
  return 0;
}

/* Protected: [task, attempt] -> the trace function's outcome for it, into
 * t->cur (nil: runs until stopped). */
static int call_trace(lua_State *L) {
  ltv_simproc *t = lua_touserdata(L, 1);
  lua_getiuservalue(L, 1, 2);
  lua_pushvalue(L, 2);
  lua_call(L, 1, 1);
  read_entry(L, -1, &t->cur);
  return 0;
}

/* This attempt's outcome into t->cur: 0, or -1 with the error on top of L. */
static int outcome(ltv_simproc *t, lua_State *L, uint32_t attempt) {
  if (!t->planned) {
    const tv_str_t *name = t->base.actor.name;
    lua_pushcfunction(L, plan);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
    lua_pushlstring(L, name ? name->s : "", name ? name->len : 0);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) return -1;
    t->planned = 1;
  }
  if (t->entries) {
    t->cur = t->entries[attempt < (uint32_t)t->nentries ? attempt - 1 : (uint32_t)t->nentries - 1];
    return 0;
  }
  if (!t->has_fn) { /* untraced: every attempt runs until stopped */
    lua_pushnil(L);
    read_entry(L, -1, &t->cur);
    lua_pop(L, 1);
    return 0;
  }
  lua_pushcfunction(L, call_trace);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
  lua_pushinteger(L, attempt);
  return lua_pcall(L, 2, 0, 0) == LUA_OK ? 0 : -1;
}

/* ---- tv_task_t implementation ---------------------------------------------- */

static void sim_start(tv_task_t *base, uint32_t attempt) {
  ltv_simproc *t = (ltv_simproc *)base;
  lua_State *L = t->ctx->L;
  int top = lua_gettop(L);
  t->cancelled = 0;
  t->spent = 0;
  if (outcome(t, L, attempt) != 0) { /* the trace function raised or returned nonsense */
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
    lua_getiuservalue(L, -1, 3); /* abort */
    lua_pushvalue(L, top + 1);
    (void)lua_pcall(L, 1, 0, 0); /* (it shuts the supervisor down) */
    const char *msg = lua_tostring(L, top + 1);
    done(t, TV_OUTCOME_FAIL, msg ? msg : "the trace failed", 0, 0); /* msg anchored on L */
    lua_settop(L, top);
    return;
  }
  lua_settop(L, top);
  const sim_entry *o = &t->cur;
  if (t->ready_mode) {
    if (o->never_ready) {
      sleep_for(t, t->ready_timeout > 0 ? t->ready_timeout : FOREVER, W_NOT_READY);
      return;
    }
    t->spent = o->ready_after;
    if (t->spent > 0) {
      sleep_for(t, t->spent, W_READY_AFTER);
      return;
    }
    tv_task_ready(base);
  }
  run_phase(t);
}

/* Like a stopped coroutine's wait: a sleep ends on the next pass, cut short. */
static void sim_cancel(tv_task_t *base) {
  ltv_simproc *t = (ltv_simproc *)base;
  t->cancelled = 1;
  if (t->phase == W_NONE) return;
  if (t->deferred) {
    t->woke_ok = 0;
    return;
  }
  tv_timer_stop(&t->ctx->sched, &t->timer);
  t->woke_ok = 0;
  t->deferred = 1;
  tv_work_defer(&t->ctx->sched, &t->work, TV_LANE_NEXT);
}

static void disarm(ltv_simproc *t) {
  tv_timer_stop(&t->ctx->sched, &t->timer);
  tv_work_cancel(&t->work);
  t->deferred = 0;
  t->phase = W_NONE;
}

static void sim_kill(tv_task_t *base) {
  ltv_simproc *t = (ltv_simproc *)base;
  t->cancelled = 1;
  disarm(t);
  done(t, TV_OUTCOME_CANCELED, NULL, 0, 0);
}

static void sim_release(tv_task_t *base) {
  ltv_simproc *t = (ltv_simproc *)base;
  ltv_extras_drop(t->ctx->L, t->ctx, base);
  disarm(t);
  t->planned = 0; /* (a later add may give it another name) */
  luaL_unref(t->ctx->L, LUA_REGISTRYINDEX, t->anchor);
  t->anchor = LUA_NOREF;
  if (t->orphaned) tv_task_fini(base);
}

static tv_task_ops_t sim_ops = {sim_start, sim_cancel, sim_kill, sim_release, NULL,
                                NULL,      NULL,       NULL,     NULL,        NULL,
                                NULL,      "process"}; /* (a stand-in: no pid) */

/* The number of exit codes in field k of popts at idx (a list checked by
 * process.lua), or -1 when absent; with out, reads them too. */
static int read_codes(lua_State *L, int idx, const char *k, int32_t *out) {
  int n = -1;
  if (lua_getfield(L, idx, k) == LUA_TTABLE) {
    n = 0;
    while (n < MAX_CODES) {
      int isnum = lua_rawgeti(L, -1, n + 1) == LUA_TNUMBER;
      if (isnum && out) out[n] = (int32_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
      if (!isnum) break;
      n++;
    }
  }
  lua_pop(L, 1);
  return n;
}

/* core.sim_process(popts, plan, abort): a task object for a process spec's
 * validated options (popts: ready, success_codes, fatal_codes,
 * stop_timeout); plan(name) gives its outcomes at its first attempt. */
static int sim_new(lua_State *L) {
  ltv_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  ltv_simproc *t = lua_newuserdatauv(L, sizeof *t, 4);
  memset(t, 0, sizeof *t);
  tv_task_init(&t->base, &sim_ops);
  t->ctx = ctx;
  t->anchor = LUA_NOREF;
  t->said_code = -1;
  tv_timer_init(&t->timer, on_timer);
  tv_work_init(&t->work, on_work);
  if (lua_getfield(L, 1, "ready") == LUA_TTABLE) {
    lua_getfield(L, -1, "mode");
    const char *mode = lua_tostring(L, -1);
    t->ready_mode = mode && strcmp(mode, "notify") == 0 ? 1 : 2;
    lua_pop(L, 1);
    t->ready_timeout = opt_secs(L, -1, "timeout", 0);
  }
  lua_pop(L, 1);
  t->stop_timeout = opt_secs(L, 1, "stop_timeout", 10);
  luaL_setmetatable(L, LTV_SIMPROC);
  int ns = read_codes(L, 1, "success_codes", NULL), nf = read_codes(L, 1, "fatal_codes", NULL);
  int32_t *codes = lua_newuserdatauv(L, sizeof *codes * (size_t)((ns > 0 ? ns : 0) + (nf > 0 ? nf : 0)), 0);
  t->nsuccess = read_codes(L, 1, "success_codes", codes);
  t->success = codes;
  t->fatal = codes + (ns > 0 ? ns : 0);
  t->nfatal = nf > 0 ? read_codes(L, 1, "fatal_codes", codes + (ns > 0 ? ns : 0)) : 0;
  lua_setiuservalue(L, -2, 4);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 3);
  return 1;
}

static int sim_gc(lua_State *L) {
  ltv_simproc *t = luaL_checkudata(L, 1, LTV_SIMPROC);
  if (t->base.actor.policy) /* still held: only possible while lua_close runs */
    t->orphaned = 1;
  else
    tv_task_fini(&t->base);
  ltv_extras_drop(L, t->ctx, &t->base); /* before the address can be reused */
  return 0;
}

void ltv_simproc_open(lua_State *L, ltv_ctx *ctx) {
  ltv_extras_ops(&sim_ops);
  luaL_newmetatable(L, LTV_SIMPROC); /* sets __name */
  lua_pushcfunction(L, sim_gc);
  lua_setfield(L, -2, "__gc");
  ltv_held_kind(L, offsetof(ltv_simproc, anchor));
  lua_pop(L, 1);
  lua_pushlightuserdata(L, ctx);
  lua_pushcclosure(L, sim_new, 1);
  lua_setfield(L, -2, "sim_process"); /* on the module table */
}
