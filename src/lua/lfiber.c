/* lfiber.c - supervised coroutines on the loop (the OpenResty light-thread
 * model): every blocking primitive arms one timer/watch, records what it waits
 * for and yields as its last statement; any wake-up is a deferred resume from a
 * loop callback, through our own thread (never a stored coroutine state). */
#include <stdio.h>
#include <stdlib.h>

#include "core/base/error.h"
#include "lbase.h"
#include "lfiber.h"

/* A fiber waiting in sup:cancel for a task to be gone. Few exist at once, so
 * they live on a list of the context rather than in every fiber. */
typedef struct ltv_waiter {
  tv_sup_watch_t w;
  ltv_fiber *f;
  struct ltv_waiter *next;
} ltv_waiter;

static void unlist_waiter(ltv_ctx *ctx, ltv_waiter *fw) {
  for (ltv_waiter **p = &ctx->waiters; *p; p = &(*p)->next) {
    if (*p == fw) {
      *p = fw->next;
      return;
    }
  }
}

static void drop_watch(ltv_fiber *f) {
  for (ltv_waiter *fw = f->ctx->waiters; fw; fw = fw->next) {
    if (fw->f != f) continue;
    unlist_waiter(f->ctx, fw);
    tv_sup_unwatch(&fw->w);
    free(fw);
    return;
  }
}

/* Wake f on the next loop pass with `result`. */
static void wake_later(ltv_fiber *f, int result) {
  tv_timer_stop(&f->ctx->sched, &f->timer);
  drop_watch(f);
  f->result = (uint8_t)result;
  f->wait = LTV_WAIT_YIELD;
  tv_work_defer(&f->ctx->sched, &f->work, TV_LANE_NEXT);
}

static void on_timer(tv_timer_t *t) {
  ltv_fiber *f = ltv_container_of(t, ltv_fiber, timer);
  if (f->wait == LTV_WAIT_REMOVED) {
    drop_watch(f);
    f->result = LTV_WAKE_TIMEOUT;
  } else {
    f->result = LTV_WAKE_OK;
  }
  ltv_fiber_resume(f, 0);
}

static void on_work(tv_work_t *w) {
  ltv_fiber_resume(ltv_container_of(w, ltv_fiber, work), 0);
}

/* A fiber keeps its kind as an index into the context's table of ops (added
 * on first use): a byte in the fiber's padding, where a pointer would add 8 B
 * to every idle task. */
static uint8_t kind_of(ltv_ctx *ctx, const ltv_fiber_ops *ops) {
  int i = 0;
  while (i < LTV_FIBER_KINDS && ctx->fiber_ops[i] && ctx->fiber_ops[i] != ops) i++;
  if (i == LTV_FIBER_KINDS) abort(); /* the kinds are fixed at build time: raise the limit */
  ctx->fiber_ops[i] = ops;
  return (uint8_t)i;
}

static const ltv_fiber_ops *ops_of(const ltv_fiber *f) { return f->ctx->fiber_ops[f->kind]; }

void ltv_fiber_init(ltv_fiber *f, ltv_ctx *ctx, const ltv_fiber_ops *ops) {
  f->co = NULL;
  f->ctx = ctx;
  tv_timer_init(&f->timer, on_timer);
  tv_work_init(&f->work, on_work);
  f->anchor = LUA_NOREF;
  f->kind = kind_of(ctx, ops);
  f->wait = LTV_WAIT_NONE;
  f->result = LTV_WAKE_OK;
  f->cancelled = f->resuming = f->kill_pending = f->orphaned = 0;
  f->max_instructions = 0;
}

ltv_fiber *ltv_fiber_current(ltv_ctx *ctx, lua_State *L) {
  ltv_fiber *f = ctx->current;
  return f && f->co == L ? f : NULL;
}

void ltv_fiber_wake(ltv_fiber *f, int result) { wake_later(f, result); }

void ltv_fiber_abort(ltv_fiber *f) {
  tv_timer_stop(&f->ctx->sched, &f->timer);
  tv_work_cancel(&f->work);
  drop_watch(f);
  const ltv_fiber_ops *ops = ops_of(f);
  if (ops->abort) ops->abort(f);
  f->wait = LTV_WAIT_NONE;
}

int ltv_fiber_close(ltv_fiber *f) {
  ltv_fiber_abort(f);
  if (!f->co) return 0;
  if (f->resuming) {
    f->kill_pending = 1;
    return -1;
  }
  ltv_closethread(f->co, f->ctx->L);
  lua_settop(f->co, 0);
  return 0;
}

void ltv_fiber_unanchor(ltv_fiber *f) {
  luaL_unref(f->ctx->L, LUA_REGISTRYINDEX, f->anchor);
  f->anchor = LUA_NOREF;
}

/* The fiber's coroutine ended: tell its owner. */
static void finished(ltv_fiber *f, int status) { ops_of(f)->finished(f, status); }

/* ---- instruction budget ----------------------------------------------------
 * A count hook fires every HOOK_CHUNK VM instructions of a fiber's coroutine
 * (and of coroutines it creates, which inherit the hook) and adds them up in
 * ctx->ran. Past the fiber's budget it yields the fiber's own coroutine
 * straight back to ltv_fiber_resume, past any pcall, which then stops it for
 * good. Where Lua cannot yield (inside a C call such as table.sort, or in a
 * coroutine the fiber resumed) it raises instead, and again at every
 * instruction, until the fiber's coroutine is reached at a point that can.
 * Lua the loop calls on our own thread (policy functions) is bounded the same
 * way, raising, by ltv_pcall_bounded. */
#define HOOK_CHUNK 1000000

static int hook_chunk(uint32_t max) { return max < HOOK_CHUNK ? (int)max : HOOK_CHUNK; }

static void runaway_reason(char *buf, size_t n, uint64_t ran, uint32_t max) {
  snprintf(buf, n, "runaway: ran %llu instructions without yielding (max_instructions = %lu)",
           (unsigned long long)ran, (unsigned long)max);
}

/* A per-call budget is counted from a reset of ctx->ran in the middle of a
 * hook chunk: a call is stopped only past max plus that chunk, and reported
 * with what it surely ran (at least max). */
static uint64_t slack(const ltv_fiber *f) {
  return f && f->per_call ? (uint64_t)hook_chunk(f->max_instructions) : 0;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  ltv_ctx *ctx = ltv_ctx_get(L);
  ltv_fiber *f = ctx ? ctx->current : NULL;
  /* the running fiber's budget, or that of a bounded call on our thread */
  uint32_t max = f ? f->max_instructions : ctx ? ctx->sync_max : 0;
  if (!max) { /* not run by the loop, or unbounded: nothing to count */
    if (lua_gethookcount(L) < HOOK_CHUNK) /* e.g. left at 1 by a runaway */
      lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_CHUNK);
    return;
  }
  ctx->ran += (uint64_t)lua_gethookcount(L);
  if (ctx->ran < max + slack(f)) {
    if (lua_gethookcount(L) != hook_chunk(max)) /* left at 1 by an earlier runaway */
      lua_sethook(L, count_hook, LUA_MASKCOUNT, hook_chunk(max));
    return;
  }
  lua_State *home = f ? f->co : ctx->L;
  if (f && L == home && lua_isyieldable(L)) {
    ctx->runaway = 1;
    lua_yield(L, 0); /* hooks yield no values and must return right after */
    return;
  }
  lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
  if (L != home && lua_gethook(home) == count_hook)
    lua_sethook(home, count_hook, LUA_MASKCOUNT, 1);
  char msg[128];
  runaway_reason(msg, sizeof msg, ctx->ran - slack(f), max);
  lua_pushstring(L, msg);
  lua_error(L);
}

/* A coroutine carrying a hook of its own (a debugger, a coverage tool) is
 * left alone: it is not bounded. */
void ltv_fiber_rearm(ltv_fiber *f) {
  lua_State *co = f->co;
  lua_Hook h = lua_gethook(co);
  f->ctx->ran = 0;
  if (!h || h == count_hook) /* (re)setting it also restarts its count */
    lua_sethook(co, count_hook, LUA_MASKCOUNT, hook_chunk(f->max_instructions));
}

int ltv_pcall_bounded(ltv_ctx *ctx, int nargs, int nres, uint32_t max) {
  lua_State *L = ctx->L;
  if (!max || ctx->current || lua_gethook(L)) return lua_pcall(L, nargs, nres, 0);
  ctx->ran = 0;
  ctx->sync_max = max;
  lua_sethook(L, count_hook, LUA_MASKCOUNT, hook_chunk(max));
  int status = lua_pcall(L, nargs, nres, 0);
  lua_sethook(L, NULL, 0, 0);
  ctx->sync_max = 0;
  return status;
}

/* Protected on our thread: pushes the string at light userdata 1. */
static int push_reason(lua_State *L) {
  lua_pushstring(L, lua_touserdata(L, 1));
  return 1;
}

/* f's coroutine ran out of budget and the hook yielded it: it is never resumed
 * again. Its owner gets the reason as the coroutine's error (a task fails,
 * with a traceback of where it was; its coroutine is closed); a subscriber
 * reports it and goes on with a fresh worker. */
static void stop_runaway(ltv_fiber *f) {
  lua_State *co = f->co, *L = f->ctx->L;
  char msg[128];
  runaway_reason(msg, sizeof msg, f->ctx->ran - slack(f), f->max_instructions);
  lua_pushcfunction(L, push_reason);
  lua_pushlightuserdata(L, msg);
  lua_pcall(L, 1, 1, 0); /* the reason, or the memory error */
  lua_checkstack(co, 1); /* never raises; the hook's frame left room anyway */
  lua_xmove(L, co, 1);
  const ltv_fiber_ops *ops = ops_of(f);
  if (ops->runaway)
    ops->runaway(f);
  else
    finished(f, LUA_ERRRUN);
}

/* The coroutine is not where we left it: someone else resumed it (a task can
 * hand its coroutine to coroutine.resume). Report it as its own failure. */
static void report_hijack(ltv_fiber *f, int status) {
  if (status == LUA_OK) { /* it ran to its end elsewhere */
    lua_settop(f->co, 0);
    lua_pushliteral(f->co, "the coroutine was resumed outside its supervisor "
                           "(by coroutine.resume) and ended there");
    status = LUA_ERRRUN;
  }
  finished(f, status);
}

void ltv_fiber_resume(ltv_fiber *f, int nargs) {
  lua_State *co = f->co, *L = f->ctx->L;
  int st = lua_status(co);
  if (nargs == 0 && st != LUA_YIELD && !(st == LUA_OK && lua_gettop(co) > 0)) {
    report_hijack(f, st);
    return;
  }
  int nres = 0;
  f->wait = LTV_WAIT_NONE;
  f->resuming = 1;
  /* Hold the owner on our thread while its coroutine runs: whatever that
   * coroutine does (drop its supervisor, collect garbage), the owner and the
   * coroutine it holds stay alive until lua_resume returns. */
  lua_rawgeti(L, LUA_REGISTRYINDEX, f->anchor);
  ltv_fiber *outer = f->ctx->current; /* NULL: resumes are never nested */
  f->ctx->current = f;
  if (f->max_instructions) ltv_fiber_rearm(f); /* unbounded: no hook, no cost */
  int status = lua_resume(co, L, nargs, &nres);
  int runaway = f->ctx->runaway;
  f->ctx->runaway = 0;
  f->ctx->current = outer;
  f->resuming = 0;
  if (f->kill_pending) { /* killed while it ran: finish the job now */
    f->kill_pending = 0;
    ltv_fiber_close(f);
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  if (status == LUA_YIELD && runaway) {
    stop_runaway(f);
    return;
  }
  if (status == LUA_YIELD) {
    if (nres > 0) lua_pop(co, nres);
    /* A bare coroutine.yield() from a supervised coroutine: treat it as a
     * yield to the loop rather than leaving the fiber stranded. */
    if (f->wait == LTV_WAIT_NONE) wake_later(f, LTV_WAKE_OK);
    return;
  }
  finished(f, status);
}

const tv_str_t *ltv_fiber_task_name(ltv_fiber *f) {
  const ltv_fiber_ops *ops = ops_of(f);
  return ops->task_name ? ops->task_name(f) : NULL;
}

void ltv_fiber_interrupt(ltv_fiber *f) {
  if (f->wait == LTV_WAIT_SLEEP || f->wait == LTV_WAIT_REMOVED)
    wake_later(f, LTV_WAKE_CANCELLED);
  else if (f->wait == LTV_WAIT_YIELD) /* already queued: it now reports the cancel */
    f->result = LTV_WAKE_CANCELLED;
  else if (f->wait == LTV_WAIT_OWNER && ops_of(f)->interrupt) /* ctx:exec stops its command */
    ops_of(f)->interrupt(f);
}

/* ---- primitives ------------------------------------------------------------ */

static ltv_fiber *fiber_of(lua_KContext k) { return (ltv_fiber *)k; }

/* Resumed by something other than the loop (coroutine.resume on a task's
 * coroutine): refuse to pretend the wait completed. */
static void check_resumer(lua_State *L, ltv_fiber *f) {
  if (f->ctx->current == f) return;
  /* The raise below ends the coroutine where it was resumed; drop our wait
   * and look at it on the next pass, so its failure is reported now. */
  ltv_fiber_abort(f);
  tv_work_defer(&f->ctx->sched, &f->work, TV_LANE_NEXT);
  luaL_error(L, "a supervised coroutine was resumed outside its supervisor "
                "(by coroutine.resume)");
}

/* Nothing is armed before this: a primitive that cannot yield leaves no
 * wake-up behind. */
static void check_yieldable(lua_State *L, const char *what) {
  if (!lua_isyieldable(L))
    luaL_error(L, "%s: cannot wait here: Lua cannot yield from this point (inside a C "
                  "function such as table.sort or string.gsub, a __gc, or a <close> "
                  "handler run by an error)", what);
}

static int sleep_k(lua_State *L, int status, lua_KContext k) {
  (void)status;
  check_resumer(L, fiber_of(k));
  lua_pushboolean(L, fiber_of(k)->result == LTV_WAKE_OK);
  return 1;
}

int ltv_fiber_sleep(lua_State *L, ltv_fiber *f, uint64_t ms, const char *what) {
  check_yieldable(L, what);
  if (f->cancelled) {
    wake_later(f, LTV_WAKE_CANCELLED); /* still yields once: no hot loops */
  } else if (ms == 0) {
    wake_later(f, LTV_WAKE_OK);
  } else {
    if (tv_timer_start(&f->ctx->sched, &f->timer, ms) != 0)
      return luaL_error(L, "%s: not enough memory", what);
    f->result = LTV_WAKE_OK;
    f->wait = LTV_WAIT_SLEEP;
  }
  return lua_yieldk(L, 0, (lua_KContext)f, sleep_k);
}

static void on_removed(tv_sup_watch_t *w) { /* the supervisor unwatched it */
  ltv_waiter *fw = ltv_container_of(w, ltv_waiter, w);
  ltv_fiber *f = fw->f;
  unlist_waiter(f->ctx, fw);
  free(fw);
  f->wait = LTV_WAIT_NONE;
  wake_later(f, LTV_WAKE_OK);
}

/* Stack when resumed: the C function's arguments, index 2 = the task name. */
static int removed_k(lua_State *L, int status, lua_KContext k) {
  (void)status;
  ltv_fiber *f = fiber_of(k);
  check_resumer(L, f);
  const char *name = lua_tostring(L, 2);
  switch (f->result) {
    case LTV_WAKE_OK:
      lua_pushboolean(L, 1);
      return 1;
    case LTV_WAKE_TIMEOUT:
      return ltv_push_error(L, TV_ETIMEDOUT,
                            "task '%s' is still stopping; it will be force-stopped "
                            "when its grace period ends", name ? name : "?");
    default:
      return ltv_push_error(L, TV_ECANCELED,
                            "the waiting task was cancelled before '%s' stopped",
                            name ? name : "?");
  }
}

int ltv_fiber_wait_removed(lua_State *L, ltv_fiber *f, tv_sup_t *sup, const char *name,
                           size_t len, uint64_t timeout_ms) {
  check_yieldable(L, "sup:cancel");
  if (f->cancelled) {
    wake_later(f, LTV_WAKE_CANCELLED);
    return lua_yieldk(L, 0, (lua_KContext)f, removed_k);
  }
  ltv_waiter *fw = malloc(sizeof *fw);
  if (!fw) return luaL_error(L, "not enough memory");
  tv_sup_watch_init(&fw->w, on_removed);
  fw->f = f;
  if (tv_sup_watch(sup, name, len, &fw->w) != 0) { /* already gone */
    free(fw);
    wake_later(f, LTV_WAKE_OK);
  } else if (tv_timer_start(&f->ctx->sched, &f->timer, timeout_ms) != 0) {
    tv_sup_unwatch(&fw->w);
    free(fw);
    return luaL_error(L, "sup:cancel: not enough memory to wait");
  } else {
    fw->next = f->ctx->waiters;
    f->ctx->waiters = fw;
    f->wait = LTV_WAIT_REMOVED;
  }
  return lua_yieldk(L, 0, (lua_KContext)f, removed_k);
}
