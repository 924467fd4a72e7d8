/* task.h - what the core supervises: a small vtable plus the core's per-task
 * state (the actor), embedded so a task costs one allocation.
 * One attempt at a time: the actor calls start(), the task later reports the
 * attempt's outcome with tv_task_done() exactly once (possibly from inside
 * start()). Lua coroutines (binding) and OS processes are two implementations.
 * Owner: the implementation owns the memory. Between a successful tv_sup_add
 * and the release() callback the core owns the `actor` part; after release()
 * the implementation calls tv_task_fini() before freeing the memory. */
#ifndef TV_TASK_H
#define TV_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "core/supervision/actor.h"
#include "core/base/str.h"

typedef enum tv_outcome_kind {
  TV_OUTCOME_OK,       /* returned normally */
  TV_OUTCOME_FAIL,     /* retryable failure */
  TV_OUTCOME_FATAL,    /* failure that must not be retried */
  TV_OUTCOME_CANCELED  /* stopped: on request, or by itself */
} tv_outcome_kind_t;

typedef struct tv_outcome {
  tv_outcome_kind_t kind;
  int has_exit_code;
  int32_t exit_code;
  const char *msg; /* FAIL/FATAL: the failure's message (borrowed) */
  size_t msg_len;
  tv_str_t *traceback; /* optional (borrowed) */
  int term_signal;     /* FAIL/FATAL of a process killed by a signal, else 0 */
} tv_outcome_t;

typedef struct tv_task tv_task_t;

/* A policy decision a task may take itself (Lua policy functions). */
/* TV_DECIDE_SCHEDULE: a calendar schedule's delay until its next run, after
 * `wall_now` (asked before the first attempt and after every attempt). */
enum { TV_DECIDE_RESTART, TV_DECIDE_BACKOFF, TV_DECIDE_SCHEDULE };
typedef struct tv_decision {
  int what;                   /* TV_DECIDE_* */
  const tv_outcome_t *outcome; /* the attempt that just ended */
  uint32_t attempt, streak;
  uint64_t ran_for_ns, last_delay_ns;
  int restart;       /* answer to TV_DECIDE_RESTART */
  uint64_t delay_ns; /* answer to TV_DECIDE_BACKOFF and TV_DECIDE_SCHEDULE */
  double wall_now;   /* TV_DECIDE_SCHEDULE: the clock's wall time (seconds since the epoch) */
  tv_str_t *error;   /* set with a -1 answer (the task ends; taken over) */
} tv_decision_t;

/* Lifecycle hooks, in the order they can run. */
typedef enum tv_hook {
  TV_HOOK_SETUP,    /* before the first attempt; failing ends the task */
  TV_HOOK_RESTART,  /* before attempt 2, 3, ... */
  TV_HOOK_ERROR,    /* after a failed attempt */
  TV_HOOK_SHUTDOWN, /* the supervisor is shutting down (after the last attempt) */
  TV_HOOK_CLEANUP   /* after the last attempt */
} tv_hook_t;

/* One thing a task's readiness waits for (tv_task_ops_t.awaits): a
 * registered task (`child`), or else a task `name` that a part of it not
 * made yet will wait for, `via` the path to that part ("c1", "h -> c2"). */
typedef void (*tv_await_fn)(void *arg, tv_actor_t *child, const tv_str_t *name,
                            const tv_str_t *via);

typedef struct tv_task_ops {
  /* Begin attempt number `attempt` (1-based). */
  void (*start)(tv_task_t *t, uint32_t attempt);
  /* Ask the running attempt to stop. Must not report done synchronously. */
  void (*cancel)(tv_task_t *t);
  /* Stop the running attempt now (timeout, grace exceeded). Must still
   * report done, synchronously or later; the outcome is then ignored. */
  void (*kill)(tv_task_t *t);
  /* The core is done with the task (its actor is finished and unlinked). */
  void (*release)(tv_task_t *t);
  /* Optional (NULL = none): answers a policy question itself. 0: no answer,
   * the policy applies; 1: answered in d; -1: failed (d->error). */
  int (*decide)(tv_task_t *t, tv_decision_t *d);
  /* Optional: starts hook `h` (attempt number; `err` the failure for
   * TV_HOOK_ERROR, borrowed). 0: the task has no such hook; 1: started, and
   * tv_task_hook_done follows exactly once (never from inside this call);
   * -1: it could not be started (out of memory): it counts as failed.
   * While a hook runs, kill() must stop it and still report it done. */
  int (*hook)(tv_task_t *t, tv_hook_t h, uint32_t attempt, const tv_str_t *err);
  /* Stops the running hook now (grace exceeded); it must still be reported
   * done, synchronously or later. Required with `hook`. */
  void (*hook_kill)(tv_task_t *t);
  /* Optional: what this task's readiness waits for besides its own `after`,
   * for the supervisor's `after` cycle check: a group not ready yet calls
   * fn for each child it still waits for, or for a child not added yet,
   * for each task outside the group that child's tree starts after. Must
   * not change anything. */
  void (*awaits)(tv_task_t *t, tv_await_fn fn, void *arg);
  /* Optional: runs just before start(), before TaskStarting is published, so
   * that the event can name the attempt's process: returns its pid, or 0.
   * Must not report done (start() reports what it could not do). */
  int32_t (*spawn)(tv_task_t *t, uint32_t attempt);
  /* Optional: whether the attempt reporting done had to be SIGKILLed (its
   * TaskStopped / TaskFailed say killed = true). */
  int (*killed)(const tv_task_t *t);
  /* Optional, for status views (status.h): the running attempt's process id,
   * or 0; and the kind's name ("process", "group"; NULL: "task"). */
  int32_t (*pid)(const tv_task_t *t);
  const char *kind;
} tv_task_ops_t;

struct tv_task {
  const tv_task_ops_t *ops;
  tv_actor_t actor; /* the core's; read-only for implementations */
};

static inline void tv_task_init(tv_task_t *t, const tv_task_ops_t *ops) {
  t->ops = ops;
  t->actor.name = NULL;
  t->actor.policy = NULL; /* non-NULL exactly while a supervisor holds the task */
  t->actor.state = TV_ACTOR_DONE;
}
/* Reports the outcome of the running attempt. */
void tv_task_done(tv_task_t *t, const tv_outcome_t *o);
/* The running attempt is ready (TaskReady, once per attempt): what tasks that
 * start `after` it wait for. 0 (also when ignored: outside an attempt, ready
 * already, or a task without explicit readiness, ready at start), or
 * TV_EINVAL for a task that is ready only once it completes
 * (tv_add_opts_t.completed_ready). */
int tv_task_ready(tv_task_t *t);
/* A sign of life of the running attempt (sd_notify's WATCHDOG=1, ctx:alive()):
 * with a watchdog (tv_add_opts_t.watchdog_ms), its deadline starts again. */
void tv_task_alive(tv_task_t *t);
/* The running hook ended: ok, or failed with a message (borrowed). */
void tv_task_hook_done(tv_task_t *t, int ok, const char *msg, size_t len);
static inline const char *tv_hook_name(int h) {
  static const char *const names[] = {"setup", "on_restart", "on_error", "on_shutdown",
                                      "cleanup"};
  return (unsigned)h < 5 ? names[h] : "?";
}
/* Drops what the core left in the task (its name). Call once, after
 * release() or when tv_sup_add failed, before freeing the memory. */
void tv_task_fini(tv_task_t *t);

#endif
