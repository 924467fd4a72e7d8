/* supervisor.h - a set of supervised tasks: registry, shutdown with a shared
 * grace deadline, natural completion, and its bus.
 *
 * States: OPEN (accepting tasks) -> STOPPING (shutdown requested: everything
 * cancelled, force-stopped at the grace deadline) -> DRAINING (every task
 * gone; subscribers finish their queues, bounded by the deadline) -> CLOSED.
 * Natural completion: while the embedding runs the supervisor (tv_sup_run)
 * and the registry empties, it goes OPEN -> DRAINING (-> OPEN again if a task
 * is added meanwhile) -> CLOSED, publishing no shutdown events.
 *
 * Owner: the embedding (tv_sup_new / tv_sup_destroy). The supervisor owns the
 * actor part of every task added to it, until it calls the task's release(). */
#ifndef TV_SUPERVISOR_H
#define TV_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/supervision/actor.h"
#include "core/events/bus.h"
#include "core/supervision/policy.h"
#include "core/events/outcomes.h"
#include "core/supervision/registry.h"
#include "core/base/rng.h"
#include "core/loop/sched.h"
#include "core/loop/sem.h"
#include "core/supervision/task.h"

typedef struct tv_sup tv_sup_t;

typedef struct tv_sup_opts {
  uint64_t grace_ns;       /* shutdown grace and per-task stop grace; 60 s */
  uint32_t max_concurrent; /* running attempts; 0 = unlimited */
  uint32_t queue_capacity; /* default subscriber queue ("bus_capacity"); 1024 */
  uint64_t seed;           /* jitter seed when `seeded` */
  int seeded;
  tv_budget_cfg_t budget;  /* restarts of its top-level tasks; limited 0 = none */
  uint32_t keep_outcomes;  /* outcomes kept (names); TV_OUTCOMES_DEFAULT */
  uint8_t auto_shutdown;   /* tv_auto_shutdown_t: OTP's, for its top-level tasks */
} tv_sup_opts_t;

/* Optional parts of an add (tv_sup_add_ex). */
typedef struct tv_add_opts {
  tv_str_t *const *after; /* start once these tasks are ready */
  uint32_t nafter;
  int hooks;          /* the task has lifecycle hooks (task ops->hook) */
  int explicit_ready; /* the task reports readiness itself (tv_task_ready) */
  int completed_ready; /* with explicit_ready: it is ready only once it completes
                          (ready = "completed"); tv_task_ready refuses it */
  int decide;         /* the task answers restart/backoff itself (ops->decide) */
  int exempt;         /* not counted against max_concurrent: it never waits for a permit */
  int calendar;       /* a calendar schedule: the task answers TV_DECIDE_SCHEDULE (with decide) */
  uint32_t watchdog_ms; /* a sign of life at least this often, or the attempt fails (0: none) */
  tv_parent_t *parent; /* a group; NULL: the supervisor */
  void *parent_data;   /* stored in the actor's ext->data */
  uint32_t index;      /* in the group */
  /* Optional: when the add is refused because `after` would close a cycle
   * (TV_EINVAL), the cycle ("a -> b -> a", cut short with "..." to fit). */
  char *cycle;
  size_t cycle_cap;
} tv_add_opts_t;

typedef enum tv_sup_state {
  TV_SUP_OPEN,
  TV_SUP_STOPPING,
  TV_SUP_DRAINING,
  TV_SUP_CLOSED
} tv_sup_state_t;

/* Someone waiting for a task to be gone (its TaskRemoved published). */
typedef struct tv_sup_watch tv_sup_watch_t;
struct tv_sup_watch {
  tv_link_t link; /* in the supervisor's watches; self-linked when not */
  tv_actor_t *actor;
  void (*removed)(tv_sup_watch_t *w);
};

struct tv_sup {
  tv_sched_t *sched;
  tv_bus_t bus;
  tv_sem_t sem;
  tv_rng_t rng;
  tv_actor_env_t env;
  tv_registry_t reg;
  tv_policy_pool_t policies;
  uint64_t grace_ns;
  uint32_t queue_capacity;
  uint8_t state, running, natural, destroying;
  uint64_t deadline; /* clock ms of the current grace / drain deadline */
  tv_timer_t timer;
  tv_work_t check_work, reap_work;
  tv_actor_t *reap; /* ended actors waiting to be freed (via hnext) */
  tv_link_t watches; /* of tv_sup_watch_t */
  tv_str_t **stuck;       /* force-stopped during shutdown, in order */
  uint32_t nstuck, capstuck;
  uint32_t stuck_unnamed; /* stuck too, but there was no memory to list them */
  /* The two failures, as flags: their texts below may be NULL (no memory),
   * and an outcome must never turn into success for want of a string. */
  uint8_t grace_exceeded, did_escalate, forced; /* forced: tv_sup_force (a second signal) */
  tv_str_t *verdict; /* GraceExceeded's reason, once reached */
  tv_str_t *escalated; /* why the supervisor failed (a budget escalated) */
  tv_parent_t parent;  /* of top-level tasks: the supervisor's budget */
  tv_link_t blocked;   /* actors waiting for `after` dependencies */
  tv_outcomes_t outcomes; /* how every task ended (the last per name) */
  /* The supervisor reached CLOSED: the embedding closes its consumers. */
  void (*on_closed)(tv_sup_t *s);
  void *data;
  /* An optional layer above (the controller), told directly, never through
   * the best-effort bus: a task is gone (after its TaskRemoved; not while
   * destroying), and a shutdown began (after ShutdownRequested, before any
   * task is cancelled). */
  void (*on_removed)(tv_sup_t *s, tv_actor_t *a);
  void (*on_stopping)(tv_sup_t *s);
  void *upper;
};

void tv_sup_opts_default(tv_sup_opts_t *o);
int tv_sup_new(tv_sup_t **out, tv_sched_t *sched, const tv_sup_opts_t *o);
/* Force-stops every task without publishing and frees everything. The
 * embedding must have closed its subscribers' consumers first. */
void tv_sup_destroy(tv_sup_t *s);

/* Registers and starts a task. 0 (the supervisor now holds `task` until it
 * calls task->ops->release), TV_EEXIST (TaskAddFailed published),
 * TV_ESHUTDOWN, TV_EBUSY (the task is already held by a supervisor) or
 * TV_ENOMEM (the caller keeps `task`). */
int tv_sup_add(tv_sup_t *s, const char *name, size_t len, const tv_policy_t *p,
               tv_task_t *task);
/* tv_sup_add with dependencies, hooks, readiness or a group (o may be NULL).
 * Also TV_EINVAL: `after` names the task itself, or would close a cycle of
 * tasks each waiting for the next to be ready: through the `after` of
 * registered tasks that have not started yet, groups bringing up their
 * children (what their children not added yet start after, as
 * tv_task_ops_t.awaits says), and the new task's enclosing groups, which wait
 * for it (TaskAddFailed, reason "after_cycle: a -> b -> a"; the cycle also
 * into o->cycle). Nothing registered is touched. */
int tv_sup_add_ex(tv_sup_t *s, const char *name, size_t len, const tv_policy_t *p,
                  tv_task_t *task, const tv_add_opts_t *o);
/* Cancels a task, force-stopping it after the grace period. `reason` (may be
 * NULL) goes on TaskRemoveRequested. 0, TV_ENOENT or TV_ESHUTDOWN. */
int tv_sup_remove(tv_sup_t *s, const char *name, size_t len, const char *reason);
tv_actor_t *tv_sup_find(const tv_sup_t *s, const char *name, size_t len);
/* What registered task `a` waits for before it can be ready, as the cycle
 * check sees it: the `after` names it still waits for (it has not started),
 * then what ops->awaits says. Unfiltered: fn decides what still blocks. */
void tv_sup_each_wait(tv_actor_t *a, tv_await_fn fn, void *arg);
/* Calls w->removed once the task is gone. 0 or TV_ENOENT. */
int tv_sup_watch(tv_sup_t *s, const char *name, size_t len, tv_sup_watch_t *w);
static inline void tv_sup_watch_init(tv_sup_watch_t *w, void (*removed)(tv_sup_watch_t *)) {
  tv_list_init(&w->link);
  w->actor = NULL;
  w->removed = removed;
}
void tv_sup_unwatch(tv_sup_watch_t *w);
/* Registered names (alive_only: those with an attempt running), sorted
 * bytewise. Borrowed strings in a malloc'd array the caller frees. */
tv_str_t **tv_sup_names(const tv_sup_t *s, int alive_only, uint32_t *n);

/* A subscriber on this supervisor's bus; cap 0 = the default capacity.
 * TV_EEXIST for a name already subscribed, TV_ESHUTDOWN once closed. */
int tv_sup_subscribe(tv_sup_t *s, const char *name, size_t len, uint32_t cap,
                     const tv_sub_ops_t *ops, void *data, tv_sub_t **out);

/* Graceful shutdown: ShutdownRequested (with `reason`, may be NULL), cancel
 * all, force-stop what remains at now + grace. 0, or TV_ESHUTDOWN if already
 * requested or closed. */
int tv_sup_shutdown(tv_sup_t *s, const char *reason);
/* Force-stops every running task now (a second signal). */
void tv_sup_force(tv_sup_t *s);
/* The embedding now waits for this supervisor: natural completion may end it. */
void tv_sup_run(tv_sup_t *s);

static inline int tv_sup_closed(const tv_sup_t *s) { return s->state == TV_SUP_CLOSED; }
/* Whether tv_sup_add would accept a task now. */
static inline int tv_sup_accepting(const tv_sup_t *s) {
  return s->state == TV_SUP_OPEN || (s->state == TV_SUP_DRAINING && s->natural);
}
const char *tv_sup_state_name(int state);

#endif
