/* ltv.h - the Lua binding's shared pieces: the per-interpreter context,
 * fibers (supervised coroutines on the loop), and the constructors each
 * binding file exports to the module. */
#ifndef LTV_H
#define LTV_H

#include <lauxlib.h>
#include <lua.h>
#include <uv.h>

#include "core/supervision/controller.h"
#include "core/loop/sched.h"
#include "core/loop/signals.h"
#include "core/supervision/supervisor.h"

#define LTV_CTX "taskvisor.context" /* the binding context (registry key) */
#define LTV_SUP "taskvisor.supervisor"
#define LTV_TASK "taskvisor.ctx"
#define LTV_SUB "taskvisor.subscriber"
#define LTV_PROCESS "taskvisor.process"
#define LTV_GROUP "taskvisor.group"
#define LTV_FAILURE "taskvisor.failure" /* metatable of tv.fail / tv.fatal errors */
/* Registry value for the host: the exit status the last sup:run() calls for
 * (0; 2 GraceExceeded; 3 a budget escalated to the supervisor). */
#define LTV_GRACE_EXCEEDED "taskvisor.grace_exceeded"

#define ltv_container_of tv_container_of

/* One per interpreter. Owner: its userdata in the registry; its __gc closes the
 * scheduler (last, as it is created first). */
typedef struct ltv_ctx {
  lua_State *L; /* a thread of our own for loop callbacks; never runs user code */
  uv_loop_t *loop;
  tv_clock_t clock;
  tv_sched_t sched;
  /* The fiber being resumed right now, if any: fibers only ever run through
   * ltv_fiber_resume, so this is how tv.sleep finds its caller's fiber (no
   * per-thread storage; Lua leaves a thread's extra space uninitialized). */
  struct ltv_fiber *current;
  uint64_t ran;      /* VM instructions `current` (or a bounded call) ran since armed */
  uint32_t sync_max; /* the budget of a ltv_pcall_bounded call running now, or 0 */
  int runaway;       /* the count hook yielded `current`: it is out of budget */
  struct ltv_waiter *waiters; /* fibers waiting in sup:cancel (a short list) */
  struct ltv_exec *execs;     /* fibers waiting in ctx:exec (a short list) */
  struct tv_reaper *reaper;   /* children of process tasks and ctx:exec; made on first use */
  int running; /* a sup:run() is driving the loop */
  int extras_used; /* core.set_extras was called: releases look for extras to drop */
} ltv_ctx;

/* A supervised coroutine: a task's attempt or a subscriber's worker. */
typedef struct ltv_fiber ltv_fiber;

enum { LTV_FIBER_TASK, LTV_FIBER_SUB, LTV_FIBER_HOOK };
enum { LTV_WAIT_NONE, LTV_WAIT_SLEEP, LTV_WAIT_YIELD, LTV_WAIT_REMOVED, LTV_WAIT_EVENTS,
       LTV_WAIT_EXEC };
enum { LTV_WAKE_OK, LTV_WAKE_CANCELLED, LTV_WAKE_TIMEOUT };

/* Kept small: a task's fiber is part of every idle task's memory. */
struct ltv_fiber {
  lua_State *co;
  ltv_ctx *ctx;
  tv_timer_t timer;
  tv_work_t work;
  int anchor;           /* registry ref keeping the owner alive while the core may call it */
  uint8_t kind;         /* LTV_FIBER_*: who is told when the coroutine ends */
  uint8_t wait;         /* LTV_WAIT_* */
  uint8_t result;       /* LTV_WAKE_* of the last wait */
  uint8_t cancelled;    /* tasks: cancellation interrupts waits */
  uint8_t resuming;     /* inside lua_resume */
  uint8_t kill_pending; /* killed while resuming: close once it yields */
  uint8_t orphaned;     /* owner-defined (tasks: finalized while still held) */
  uint32_t max_instructions; /* VM instructions allowed per resume; 0: no limit */
};

/* The coroutine of a fiber of that kind returned (LUA_OK, results on its
 * stack) or raised (error object on top). Called from a loop callback. */
void ltv_task_finished(ltv_fiber *f, int status);
void ltv_sub_finished(ltv_fiber *f, int status);
void ltv_hook_finished(ltv_fiber *f, int status);
/* A subscriber's on_event ran out of instructions and its worker was stopped
 * mid-event (suspended, the reason on top of its stack). */
void ltv_sub_runaway(ltv_fiber *f);
/* The name of the task a task or hook fiber belongs to (NULL if none). */
const tv_str_t *ltv_task_name_of(ltv_fiber *f);
const tv_str_t *ltv_hook_task_name(ltv_fiber *f);

/* lerror.c: the text of the error value at idx (see there); *len (optional)
 * gets its length. Pushes one value: the text, or nil when the text is a
 * fixed one (the conversion failed; no room on the stack: nothing pushed). On
 * ctx->L, __tostring runs under `budget` instructions (0: none). */
const char *ltv_error_text(ltv_ctx *ctx, lua_State *L, int idx, size_t *len, uint32_t budget);

/* lhooks.c: a task's Lua hooks and policy functions (core.set_extras). */
void ltv_hooks_open(lua_State *L); /* adds core.set_extras to the module on top */
/* Sets the optional task ops (decide, hook, hook_kill) the extras provide. */
void ltv_extras_ops(tv_task_ops_t *ops);
/* Forgets t's extras (at release). */
void ltv_extras_drop(lua_State *L, ltv_ctx *ctx, tv_task_t *t);

void ltv_fiber_init(ltv_fiber *f, ltv_ctx *ctx, int kind);
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
/* Ends a cancellable wait early (deferred). */
void ltv_fiber_interrupt(ltv_fiber *f);
/* Forgets any wait: timers, queued wake-ups, watches. */
void ltv_fiber_abort(ltv_fiber *f);
/* Closes the suspended coroutine (its to-be-closed variables run). Returns
 * 0 if done, -1 if the coroutine is running right now: then it is closed when
 * that resume returns (the owner stays anchored until then). */
int ltv_fiber_close(ltv_fiber *f);
/* Releases the owner's registry anchor (after ltv_fiber_close). */
void ltv_fiber_unanchor(ltv_fiber *f);
/* Restarts the count of f's budget (at each resume; per event for subscribers).
 * f has a budget, and is running or about to be resumed. */
void ltv_fiber_rearm(ltv_fiber *f);
/* lua_pcall(ctx->L, nargs, nres, 0) of Lua the loop calls outside any fiber
 * (a policy function), at most `max` instructions (0: no limit): past them it
 * raises "runaway: ..." (Lua cannot yield there). */
int ltv_pcall_bounded(ltv_ctx *ctx, int nargs, int nres, uint32_t max);
/* Optional argument `arg`: a max_instructions budget (validated by init.lua;
 * nil or 0: no limit). */
uint32_t ltv_opt_budget(lua_State *L, int arg);
/* Seconds argument -> milliseconds (rounded up), raising on bad values. */
uint64_t ltv_check_seconds(lua_State *L, int arg, const char *what);

/* lua_closethread appeared in 5.4.6; Debian 12 ships 5.4.4. */
static inline int ltv_closethread(lua_State *co, lua_State *from) {
#if LUA_VERSION_RELEASE_NUM >= 50406
  return lua_closethread(co, from);
#else
  (void)from;
  return lua_resetthread(co);
#endif
}

ltv_ctx *ltv_ctx_get(lua_State *L);
/* Pushes "CODE: message" built from a core error and a printf message. */
int ltv_push_error(lua_State *L, int err, const char *fmt, ...);

/* levent.c: ltv_event_keys pushes the strings ltv_push_event needs (returns
 * how many); `base` is the stack index of the first. */
int ltv_event_keys(lua_State *L);
void ltv_push_event(lua_State *L, int base, const tv_event_t *ev);
void ltv_event_init(lua_State *L);

/* ltask.c: core.task(run) pushes a Lua coroutine task (its userdata is also
 * the task's ctx), not yet held by anyone. */
int ltv_task_new(lua_State *L);
void ltv_task_open(lua_State *L);

/* lheld.c: task objects of every kind (a Lua task, a process). Each kind's
 * userdata begins with its tv_task_t and has a registry anchor at
 * `anchor_off`: LUA_NOREF while free, set while a supervisor or a controller
 * queue holds it, cleared by the kind's release(). */
typedef struct ltv_task_kind {
  const char *tname; /* metatable name */
  size_t anchor_off;
} ltv_task_kind;
extern const ltv_task_kind ltv_kind_lua;
extern const ltv_task_kind ltv_kind_process;
extern const ltv_task_kind ltv_kind_group; /* lgroup.c */
/* The task object at idx; raises naming `what` if it is not one, or if it
 * is already held (a task object is added once). */
tv_task_t *ltv_task_check(lua_State *L, int idx, const char *what);
/* Anchors the task object at idx: the core may hold it from now on. */
void ltv_task_hold(lua_State *L, int idx);
/* Undoes ltv_task_hold for a task the core did not take. */
void ltv_task_unhold(lua_State *L, int idx);
/* Option table fields (validated by init.lua): t[k] as a number, or def when
 * it is not one; seconds as whole milliseconds, rounded up. */
double ltv_opt_number(lua_State *L, int t, const char *k, double def);
/* sup:add's options table at idx { after = {names}, hooks = bool,
 * explicit_ready = bool, decide = bool } into o (after: a malloc'd array of new references,
 * freed by ltv_add_opts_free). 0, or -1 when out of memory. */
int ltv_add_opts_read(lua_State *L, int idx, tv_add_opts_t *o);
void ltv_add_opts_free(tv_add_opts_t *o);
uint64_t ltv_opt_ms(lua_State *L, int t, const char *k, double def_secs);
/* A policy table {restart=, interval=, first=, max=, factor=, jitter=,
 * timeout=, max_retries=} (seconds; validated by init.lua) into p. */
void ltv_policy_read(lua_State *L, int idx, tv_policy_t *p);
int ltv_policy_new(lua_State *L); /* core.policy(table) */
/* A budget from fields max_restarts, within, cooldown (seconds) and
 * on_exhausted ("give_up" | "escalate" | "cooldown"). */
void ltv_budget_read(lua_State *L, int idx, tv_budget_cfg_t *b, int def_action);

/* lproc.c: core.process(opts) pushes a process task object (or nil, err);
 * core.signum(name | number) the signal number or nil. */
int ltv_process_new(lua_State *L);
int ltv_signum(lua_State *L);
/* lpath.c: core.find_program(name, path|nil): where a process task's spawn
 * would find `name`, or nil, "ENOENT" | "EACCES". */
int ltv_find_program(lua_State *L);
void ltv_process_open(lua_State *L);
/* Whether task t is a process that reports its readiness itself (its
 * `ready` is not "started"): added with explicit_ready. */
int ltv_process_explicit_ready(tv_task_t *t);
/* The context's reaper (made on first use); raises if it cannot be made. */
struct tv_reaper *ltv_reaper(lua_State *L, ltv_ctx *ctx);
/* A NULL-terminated copy of the strings t[1..#t] (one block), or raises. */
char **ltv_strv(lua_State *L, int t);
/* The environment for options at idx (fields env, inherit_env): 0 with *out
 * NULL (the host's) or a block from tv_env_build; raises when out of memory. */
void ltv_envp(lua_State *L, int idx, char ***out);

/* lexec.c: ctx:exec for the task fiber f (running as L); hooks for the fiber's
 * cancellation and abort while it waits there. */
int ltv_exec(lua_State *L, ltv_fiber *f);
void ltv_exec_interrupt(ltv_fiber *f);
void ltv_exec_abort(ltv_fiber *f);

/* lgroup.c: core.group(...) pushes a group task object (see the file). */
int ltv_group_new(lua_State *L);
void ltv_group_open(lua_State *L);

/* lsub.c */
int ltv_sub_new(lua_State *L, ltv_ctx *ctx, tv_sup_t *sup, const char *name, size_t len,
                int fn_idx, uint32_t queue, uint32_t max_instructions);
void ltv_sub_close(tv_sub_t *sub);
void ltv_sub_open(lua_State *L);

/* lsup.c: the supervisor userdata. Owner: the userdata owns the core
 * supervisor and its controller (destroyed in __gc, controller first). */
typedef struct ltv_sup {
  tv_sup_t *sup; /* NULL once destroyed */
  tv_ctl_t *ctl; /* NULL without a controller */
  ltv_ctx *ctx;
  int anchor;
  tv_signals_t sig;
  int sig_on;
} ltv_sup;
void ltv_sup_open(lua_State *L);
int ltv_sup_new(lua_State *L);
ltv_sup *ltv_sup_check(lua_State *L);
/* Keeps the supervisor (at index 1) alive while it holds tasks. */
void ltv_sup_anchor(lua_State *L, ltv_sup *s);

/* lctl.c: the controller's methods, added to the supervisor's method table
 * on top of the stack. */
void ltv_ctl_methods(lua_State *L);

#endif
