/* lfiber.h - fibers: supervised coroutines on the loop (a task's attempt, a
 * subscriber's worker, a lifecycle hook), their waits and their instruction
 * budget. A fiber knows its owner only through the owner's ltv_fiber_ops.
 * Layers up (LAYERS.md): base | cmd event held policy | fiber | error exec | hooks | task sub proc group | sup | ctl | module */
#ifndef LTV_FIBER_H
#define LTV_FIBER_H

#include "core/base/str.h"
#include "core/loop/sched.h"
#include "core/supervision/supervisor.h"
#include "lbase.h"

typedef struct ltv_fiber ltv_fiber;

enum { LTV_WAIT_NONE, LTV_WAIT_SLEEP, LTV_WAIT_YIELD, LTV_WAIT_REMOVED, LTV_WAIT_EVENTS,
       LTV_WAIT_OWNER };
enum { LTV_WAKE_OK, LTV_WAKE_CANCELLED, LTV_WAKE_TIMEOUT };

/* What a fiber's owner does for it, filled in by the file that owns fibers of
 * that kind (a task, a subscriber, a hook): the fiber calls up only through it. */
typedef struct ltv_fiber_ops {
  /* The coroutine returned (LUA_OK, results on its stack) or raised (error
   * object on top). Called from a loop callback. Required. */
  void (*finished)(ltv_fiber *f, int status);
  /* It ran out of instructions and was stopped mid-run (suspended, the reason
   * on top of its stack). NULL: finished(f, LUA_ERRRUN). */
  void (*runaway)(ltv_fiber *f);
  /* Cancelled while in a wait the owner armed (LTV_WAIT_OWNER): end it. */
  void (*interrupt)(ltv_fiber *f);
  /* Forget any wait the owner armed (from ltv_fiber_abort). */
  void (*abort)(ltv_fiber *f);
  /* The name of the task the fiber works for (core.current_task), or NULL. */
  const tv_str_t *(*task_name)(ltv_fiber *f);
} ltv_fiber_ops;

/* Kept small: a task's fiber is part of every idle task's memory.
 * Owner: the userdata it is embedded in. */
struct ltv_fiber {
  lua_State *co;
  ltv_ctx *ctx;
  tv_timer_t timer;
  tv_work_t work;
  int anchor;           /* registry ref keeping the owner alive while the core may call it */
  uint8_t kind;         /* its ltv_fiber_ops: ctx->fiber_ops[kind] */
  uint8_t wait;         /* LTV_WAIT_* */
  uint8_t result;       /* LTV_WAKE_* of the last wait */
  uint8_t cancelled;    /* tasks: cancellation interrupts waits */
  uint8_t resuming;     /* inside lua_resume */
  uint8_t kill_pending; /* killed while resuming: close once it yields */
  uint8_t orphaned;     /* owner-defined (tasks: finalized while still held) */
  uint8_t per_call;     /* subscribers: the owner zeroes ctx->ran per call, with the
                           hook left armed, so a call may run one hook chunk more */
  uint32_t max_instructions; /* VM instructions allowed per resume; 0: no limit */
};

/* ops: the owner kind's, static (one table per kind, never freed). */
void ltv_fiber_init(ltv_fiber *f, ltv_ctx *ctx, const ltv_fiber_ops *ops);
/* Resumes f->co with `nargs` values already pushed on it. Loop callbacks only. */
void ltv_fiber_resume(ltv_fiber *f, int nargs);
/* The supervised fiber whose own coroutine is L, or NULL (also for a
 * coroutine the fiber itself resumes: it cannot be yielded to the loop). */
ltv_fiber *ltv_fiber_current(ltv_ctx *ctx, lua_State *L);
/* Primitives: each yields f (running as L) to the loop at least once; use as
 * `return ltv_fiber_sleep(...)` from a C function. `what` names the caller in
 * errors (e.g. waiting where Lua cannot yield). */
int ltv_fiber_sleep(lua_State *L, ltv_fiber *f, uint64_t ms, const char *what);
int ltv_fiber_wait_removed(lua_State *L, ltv_fiber *f, tv_sup_t *sup, const char *name,
                           size_t len, uint64_t timeout_ms);
/* Wakes f on the next loop pass; its wait reports `result` (LTV_WAKE_*). */
void ltv_fiber_wake(ltv_fiber *f, int result);
/* The name of the task f works for (its ops' task_name), or NULL. */
const tv_str_t *ltv_fiber_task_name(ltv_fiber *f);
/* Cancellation: ends a cancellable wait early (deferred). For tasks. */
void ltv_fiber_interrupt(ltv_fiber *f);
/* Forgets any wait: timers, queued wake-ups, watches, the owner's own. */
void ltv_fiber_abort(ltv_fiber *f);
/* Closes the suspended coroutine (its to-be-closed variables run). Returns
 * 0 if done, -1 if the coroutine is running right now: then it is closed when
 * that resume returns (the owner stays anchored until then). */
int ltv_fiber_close(ltv_fiber *f);
/* Releases the owner's registry anchor (after ltv_fiber_close). */
void ltv_fiber_unanchor(ltv_fiber *f);
/* Restarts the count of f's budget (at each resume; a subscriber's calls zero ctx->ran: per_call).
 * f has a budget, and is running or about to be resumed. */
void ltv_fiber_rearm(ltv_fiber *f);
/* lua_pcall(ctx->L, nargs, nres, 0) of Lua the loop calls outside any fiber
 * (a policy function), at most `max` instructions (0: no limit): past them it
 * raises "runaway: ..." (Lua cannot yield there). */
int ltv_pcall_bounded(ltv_ctx *ctx, int nargs, int nres, uint32_t max);

#endif
