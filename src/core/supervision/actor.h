/* actor.h - one task's retry loop (reference semantics A6/A7).
 *
 * States: QUEUED (next step deferred to the loop) -> WAITING (for a
 * max_concurrent permit) -> RUNNING (an attempt) -> BACKOFF (sleeping before
 * the next attempt) -> ... -> DONE. Every lifecycle event of the task is
 * published from here. The actor lives inside its task (task.h); it never
 * frees anything: when it ends it calls env->on_finish and its supervisor
 * unlinks it and releases the task.
 * Owner: the supervisor's registry, from tv_sup_add until release. */
#ifndef TV_ACTOR_H
#define TV_ACTOR_H

#include <stdint.h>

#include "core/supervision/budget.h"
#include "core/events/bus.h"
#include "core/base/list.h"
#include "core/supervision/policy.h"
#include "core/base/rng.h"
#include "core/loop/sched.h"
#include "core/loop/sem.h"
#include "core/base/str.h"

typedef struct tv_actor tv_actor_t;
typedef struct tv_parent tv_parent_t;

/* How an actor ended, with what it last reported (for reliable outcomes).
 * Borrowed: valid during env->on_finish only. */
typedef struct tv_actor_result {
  tv_str_t *reason;
  int has_exit_code;
  int32_t exit_code;
} tv_actor_result_t;

/* What an actor needs from its owner; shared by all actors of a supervisor. */
typedef struct tv_actor_env {
  tv_sched_t *sched;
  tv_bus_t *bus;
  tv_sem_t *sem;
  tv_rng_t *rng;
  void (*on_finish)(tv_actor_t *a, const tv_actor_result_t *r); /* reached DONE */
  /* A task's `after` dependency by name: 1 ready (or completed), 0 not yet,
   * -1 no such task. */
  int (*dep_state)(struct tv_actor_env *env, const tv_str_t *name);
  tv_parent_t *parent; /* of tasks not in a group: the supervisor */
  tv_link_t *blocked;  /* BLOCKED actors (their ext->blocked) */
  void *data;
} tv_actor_env_t;

/* What an actor's restarts answer to: a group, or the supervisor. It has a
 * budget counting every restart of its children. */
typedef struct tv_parent_ops {
  /* A child wants to restart after `delay_ns` (its BackoffScheduled is
   * published): 1 when the parent takes it over (the child is then HELD until
   * tv_actor_resume), 0 to let it restart by itself. */
  int (*restart)(tv_parent_t *p, tv_actor_t *child, uint64_t delay_ns);
  /* A budget says escalate: the parent fails (`reason` borrowed). `own`: it
   * was the child's own budget, not the parent's. */
  void (*escalate)(tv_parent_t *p, tv_actor_t *child, tv_str_t *reason, int own);
  /* A child's attempt became ready, or it completed without saying so. */
  void (*ready)(tv_parent_t *p, tv_actor_t *child);
  /* A child stopped by tv_actor_hold is HELD now. */
  void (*held)(tv_parent_t *p, tv_actor_t *child);
  /* A child ended and left the registry (after its TaskRemoved). */
  void (*finished)(tv_parent_t *p, tv_actor_t *child);
} tv_parent_ops_t;

/* OTP's auto_shutdown: when the parent ends because significant children
 * ended by themselves. */
typedef enum tv_auto_shutdown {
  TV_AUTO_NEVER,          /* significant children are refused */
  TV_AUTO_ANY_SIGNIFICANT, /* the first one that ends */
  TV_AUTO_ALL_SIGNIFICANT  /* once none is left */
} tv_auto_shutdown_t;

struct tv_parent {
  const tv_parent_ops_t *ops;
  const char *what; /* "supervisor" or "group 'name'", for reasons */
  tv_actor_t *owner; /* the group's own task; NULL: the supervisor */
  tv_budget_cfg_t cfg;
  tv_budget_t budget;
  uint8_t auto_shutdown; /* tv_auto_shutdown_t */
};

typedef enum tv_actor_state {
  TV_ACTOR_QUEUED,
  TV_ACTOR_WAITING,
  TV_ACTOR_RUNNING,
  TV_ACTOR_BACKOFF,
  TV_ACTOR_DONE,
  TV_ACTOR_BLOCKED, /* its `after` dependencies are not ready yet */
  TV_ACTOR_HOOK,    /* a lifecycle hook runs */
  TV_ACTOR_HELD     /* stopped by its group, waiting for tv_actor_resume */
} tv_actor_state_t;

/* How an actor ended. */
typedef enum tv_actor_end {
  TV_END_NONE,
  TV_END_EXHAUSTED,    /* the policy stopped it: ActorExhausted */
  TV_END_DEAD,         /* fatal failure: ActorDead */
  TV_END_CANCELLED,    /* removed, cancelled or shut down */
  TV_END_FORCED,       /* did not stop within its grace: force-stopped */
  TV_END_COMPLETED,    /* succeeded and is not restarted: ActorExhausted */
  TV_END_SETUP_FAILED, /* its setup hook failed: ActorDead */
  TV_END_ESCALATED     /* its budget escalated to its parent: ActorExhausted */
} tv_actor_end_t;

enum { TV_KILL_NONE, TV_KILL_TIMEOUT, TV_KILL_FORCED, TV_KILL_WATCHDOG };
/* ext->opstop: held until started / held only until it has stopped, then
 * started again (an operator's restart). */
enum { TV_OPSTOP_NONE, TV_OPSTOP_HELD, TV_OPSTOP_RESTART };

/* Per-task state of the optional features (budgets, schedules, readiness
 * dependencies, groups, hooks); plain tasks have none. */
typedef struct tv_actor_ext {
  tv_budget_t budget;
  tv_parent_t *parent; /* a group, or NULL: env->parent */
  tv_str_t **after;    /* dependencies not yet ready (NULL entries are) */
  tv_str_t **needs;    /* all of them, kept (after + nafter): the stop order */
  uint32_t nafter;
  uint32_t dependents; /* at shutdown: live tasks that start after this one */
  uint64_t started_at;   /* clock ms the current/last attempt started */
  uint64_t anchor;       /* `every`: clock ms of the first start */
  uint64_t last_delay;   /* ns, for a Lua backoff function */
  uint64_t then_delay;   /* after the running hook: restart after this */
  tv_actor_result_t then; /* after the running hook: end with this */
  uint8_t then_what;     /* TV_THEN_* */
  uint8_t then_end;
  uint8_t then_source;   /* BackoffScheduled source of then_delay */
  uint8_t hook_flags;    /* hooks that ran / are known to be absent */
  uint8_t shutdown;      /* ended by the supervisor's shutdown */
  uint8_t exempt;        /* not counted against max_concurrent (takes no permit) */
  uint8_t calendar;      /* a calendar schedule decides each start: 1, 2 once the first wait began */
  uint32_t watchdog_ms;  /* a sign of life (tv_task_alive) at least this often; 0: none */
  uint64_t alive_at;     /* clock ms of the attempt's start or its last sign of life */
  uint8_t hold;          /* the parent asked it to stop and wait */
  uint8_t opstop;        /* TV_OPSTOP_*: an operator stopped it (operator.h) */
  uint8_t own_stop;      /* kill_deadline is its own shutdown's (policy), not its caller's */
  uint8_t walk;          /* the supervisor's `after` cycle check: seen / a target */
  uint32_t index;        /* in its group */
  tv_link_t blocked;     /* in the supervisor's blocked list */
  tv_actor_t *self;
  void *data;            /* the parent's */
  /* The cycle check's breadth-first walk (only during tv_sup_add_ex): its
   * queue, the task it was reached from (NULL: the one being added) and the
   * path inside that group by which it was (NULL: none). */
  tv_actor_t *walk_next, *walk_from;
  const tv_str_t *walk_via;
  /* How the last attempt ended, for status views (status.h); made by the
   * first failure (a task that never failed has no ext for it). */
  tv_str_t *last_reason; /* owned; NULL: none given */
  uint64_t last_at;      /* clock ms; 0: no attempt ended yet */
  int32_t last_code;
  uint8_t last_has_code, last_signal, last_failed;
  uint8_t timed_out;     /* TimeoutHit came for the running attempt */
  uint32_t failures[4];  /* failed attempts by cause (TV_CAUSE_*, status.h) */
} tv_actor_ext_t;

/* Every byte here is part of each idle task's memory. */
struct tv_actor {
  tv_str_t *name;
  const tv_policy_t *policy; /* shared, from a pool whose owner is the env */
  tv_actor_ext_t *ext;       /* NULL unless an optional feature is used */
  uint32_t attempt;          /* attempts started, never reset */
  uint32_t streak;           /* failure retries in the current streak */
  uint8_t state, end, killing, cancel_requested, has_permit;
  uint8_t ready, ever_ready, hook; /* hook: the tv_hook_t running */
  uint64_t kill_deadline;    /* clock ms; UINT64_MAX = none */
  /* The state an operator sees (status.h, tv_status_state_t) and the clock
   * ms it entered it: kept by tv_actor_note as events are published. */
  uint64_t since : 56, shown : 8;
  tv_timer_t timer;
  tv_work_t work; /* in the run queue, or in the semaphore's wait list */
  tv_actor_t *hnext; /* registry chain */
};

/* Prepares the actor of a task: takes a reference to `name`. `policy` comes
 * from a tv_policy_pool whose owner is the actor's tv_actor_env_t, and must
 * outlive the actor. Does not start it. */
void tv_actor_init(tv_actor_t *a, tv_str_t *name, const tv_policy_t *policy);
static inline tv_actor_env_t *tv_actor_env(const tv_actor_t *a) {
  return (tv_actor_env_t *)tv_policy_owner(a->policy);
}
/* The task's optional state, made on first use (NULL: out of memory). */
tv_actor_ext_t *tv_actor_ext(tv_actor_t *a);
/* Keeps the state an operator sees (a->shown, a->since; status.h) and the
 * last attempt's end in step with event `ev` about this task, published
 * now. Allocates only the ext of a task that failed (best effort). */
void tv_actor_note(tv_actor_t *a, const tv_event_t *ev);
/* Sets the shown state (and its time, if it changed). */
void tv_actor_show(tv_actor_t *a, int state);
/* Frees what tv_actor_ext made (at release). */
void tv_actor_ext_free(tv_actor_t *a);
/* Start only once tasks `names` are ready (before tv_actor_start). 0 or
 * TV_ENOMEM. */
int tv_actor_after(tv_actor_t *a, tv_str_t *const *names, uint32_t n);
/* The task has lifecycle hooks / says itself when it is ready / is ready only
 * once it completes (tv_task_ready refused) / takes policy decisions itself
 * (ops->decide is asked only then). Needs ext. */
void tv_actor_set_hooks(tv_actor_t *a, int hooks, int explicit_ready, int completed_ready,
                        int decide);
/* A BLOCKED actor's dependency `dep` is ending: counts if it was ready. */
void tv_actor_dep_ended(tv_actor_t *a, const tv_actor_t *dep);
/* Re-examines a BLOCKED actor's dependencies (one became ready or ended). */
void tv_actor_recheck(tv_actor_t *a);
/* Whether a BLOCKED actor still waits for a task named `name`. */
int tv_actor_waits_for(const tv_actor_t *a, const tv_str_t *name);
/* Schedules the first attempt on the loop. */
void tv_actor_start(tv_actor_t *a);
/* Group strategies: stop the task (its running attempt is cancelled, a
 * pending restart dropped) and hold it; the parent's held() follows once it
 * is HELD (perhaps at once). */
void tv_actor_hold(tv_actor_t *a, uint64_t kill_deadline);
/* A HELD task starts its next attempt (after `delay_ms`). */
void tv_actor_resume(tv_actor_t *a, uint64_t delay_ms);
/* Requests a stop. A running attempt is asked to stop and is force-stopped
 * if it still runs at `kill_deadline` (clock ms; UINT64_MAX: never, the
 * caller enforces its own). Otherwise the actor ends at once. */
void tv_actor_cancel(tv_actor_t *a, uint64_t kill_deadline);
/* Force-stops now (ends as TV_END_FORCED if an attempt was running). */
void tv_actor_kill(tv_actor_t *a);
/* A permit of env->sem was granted to this actor's waiting work node. */
void tv_actor_granted(tv_work_t *w);

static inline int tv_actor_alive(const tv_actor_t *a) {
  return a->state == TV_ACTOR_RUNNING;
}
static inline tv_parent_t *tv_actor_parent(const tv_actor_t *a) {
  return a->ext && a->ext->parent ? a->ext->parent : tv_actor_env(a)->parent;
}
/* The status a finished actor's outcome reports: "completed", "exhausted",
 * "dead", "cancelled", "setup_failed" or "escalated". */
const char *tv_actor_end_status(int end);
/* Whether it ended by itself (completed, exhausted its policy, fatal, setup
 * failed), not stopped by someone (cancelled, force-stopped) nor escalated:
 * what OTP's auto_shutdown counts of a significant child. */
static inline int tv_actor_ended_by_itself(const tv_actor_t *a) {
  return a->end == TV_END_COMPLETED || a->end == TV_END_EXHAUSTED || a->end == TV_END_DEAD ||
         a->end == TV_END_SETUP_FAILED;
}
const char *tv_auto_shutdown_name(int mode);
/* "significant child 'x' ended (completed); any_significant": the reason of
 * an AutoShutdown event. A new string (NULL: out of memory). */
tv_str_t *tv_auto_shutdown_reason(const tv_actor_t *child, int mode);
const char *tv_actor_state_name(int state);
/* Why an attempt was stopped at its deadline (TV_KILL_TIMEOUT / TV_KILL_WATCHDOG). */
tv_str_t *tv_actor_deadline_reason(const tv_actor_t *a, int killing);

#endif
