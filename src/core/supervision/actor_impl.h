/* actor_impl.h - what the files of the retry loop share and nothing else
 * includes: the actor's private flags, the narration helpers, and how a
 * finished attempt's failure is handed to the restart decisions.
 * Files, bottom to top (each calls only those before it): ext.c (the
 * optional state), deps.c (dependencies, readiness), decide.c (what follows
 * an attempt: policy functions, budgets, schedules, backoff), actor.c (the
 * loop: steps, attempts, hooks, timeouts, stops, holds). */
#ifndef TV_ACTOR_IMPL_H
#define TV_ACTOR_IMPL_H

#include "core/supervision/actor.h"
#include "core/supervision/status.h"
#include "core/supervision/task.h"

#define container_of tv_container_of

/* ext.c: clock ms the running attempt's watchdog expires (no sign of life
 * in time), and the earlier of that and its timeout; UINT64_MAX: none. */
uint64_t tv_actor_watchdog_deadline(const tv_actor_t *a);
uint64_t tv_actor_attempt_deadline(const tv_actor_t *a);
/* An operator or group stop of the running attempt is under way. */
static inline int tv_actor_stopping(const tv_actor_t *a) {
  return a->cancel_requested || (a->ext && a->ext->hold);
}
/* ext.c: (re)arms the running attempt's timer for the earliest of its
 * timeout, watchdog and stop deadline (none: stopped). */
void tv_actor_arm_deadline(tv_actor_t *a);

/* What follows the running hook. */
enum { TV_THEN_STEP, TV_THEN_DELAY, TV_THEN_END };
/* ext->hook_flags */
enum { HF_SETUP_DONE = 1, HF_SHUTDOWN_RAN = 2, HF_CLEANUP_RAN = 4, HF_HOOKS = 8,
       HF_EXPLICIT_READY = 16, HF_RESTART_HOOK_RAN = 32, HF_DECIDE = 64,
       HF_COMPLETED_READY = 128 };

static inline tv_task_t *tv_actor_task(tv_actor_t *a) {
  return container_of(a, tv_task_t, actor);
}
static inline int tv_actor_has(const tv_actor_t *a, int flag) {
  return a->ext && (a->ext->hook_flags & flag);
}

/* ---- narration -------------------------------------------------------------- */

static inline void tv_actor_publish(tv_actor_t *a, tv_event_t *ev) {
  /* the state an operator sees (tv_actor_note), its hot cases inline: a new
   * attempt, and the end of one by a task that never failed */
  if (ev->kind == TV_EV_TASK_STARTING) {
    a->shown = tv_actor_has(a, HF_EXPLICIT_READY) ? TV_ST_STARTING : TV_ST_RUNNING;
    a->since = tv_sched_now(tv_actor_env(a)->sched);
  } else if (ev->kind != TV_EV_TASK_STOPPED || a->ext || (ev->fields & TV_F_REASON)) {
    tv_actor_note(a, ev);
  }
  ev->task = a->name;
  ev->fields |= TV_F_TASK;
  tv_bus_publish(tv_actor_env(a)->bus, ev);
}

/* An event about the current attempt. */
static inline tv_event_t tv_actor_event(const tv_actor_t *a, tv_event_kind_t kind) {
  tv_event_t ev = tv_event_make(kind);
  ev.attempt = a->attempt;
  ev.fields = TV_F_ATTEMPT;
  return ev;
}

static inline void tv_event_set_reason(tv_event_t *ev, tv_str_t *reason) {
  ev->reason = reason;
  if (reason) ev->fields |= TV_F_REASON;
}
static inline void tv_event_set_exit_code(tv_event_t *ev, int has, int32_t code) {
  if (!has) return;
  ev->exit_code = code;
  ev->fields |= TV_F_EXIT_CODE;
}
static inline void tv_event_set_signal(tv_event_t *ev, int sig) {
  if (!sig) return;
  ev->signal = sig;
  ev->fields |= TV_F_SIGNAL;
}

/* An attempt's failure, as the decisions after it need it. */
typedef struct tv_failure {
  tv_str_t *display; /* borrowed */
  int has_code;
  int32_t code;
  int sig;
} tv_failure_t;

static inline void tv_actor_publish_end(tv_actor_t *a, tv_event_kind_t kind, tv_str_t *reason,
                                        const tv_failure_t *f) {
  tv_event_t ev = tv_actor_event(a, kind);
  tv_event_set_reason(&ev, reason);
  if (f) {
    tv_event_set_exit_code(&ev, f->has_code, f->code);
    tv_event_set_signal(&ev, f->sig);
  }
  tv_actor_publish(a, &ev);
}

static inline void tv_actor_publish_backoff(tv_actor_t *a, uint64_t delay_ns, int source,
                                            tv_str_t *reason) {
  tv_event_t ev = tv_actor_event(a, TV_EV_BACKOFF_SCHEDULED);
  ev.delay_ms = tv_ns_to_ms_u32(delay_ns);
  ev.backoff_source = (uint8_t)source;
  ev.fields |= TV_F_DELAY_MS | TV_F_BACKOFF_SOURCE;
  tv_event_set_reason(&ev, reason);
  tv_actor_publish(a, &ev);
}

/* ---- deps.c: dependencies and readiness ------------------------------------- */

/* The running attempt counts as ready now (once); tells its group and the
 * supervisor, whose dependents may start. */
void tv_actor_mark_ready(tv_actor_t *a);
/* Before the first attempt: 1 every `after` dependency is ready, 0 wait
 * (the actor is BLOCKED now), -1 one cannot become ready: *missing is its
 * name (borrowed) and the caller ends the actor. */
int tv_actor_deps_ready(tv_actor_t *a, const tv_str_t **missing);

/* ---- decide.c: what follows an attempt -------------------------------------- */

enum { TV_NEXT_RESTART, TV_NEXT_END };
/* The verdict on an ended attempt. RESTART: after `delay` (its
 * BackoffScheduled already published). END: publish `event` (TV_EV_*) with
 * `reason` and, when `failed`, the failure, then end as `end`; `escalate`:
 * then tell the parent (`own`: the task's own budget said so). */
typedef struct tv_next {
  uint8_t what, end, failed, escalate, own;
  tv_event_kind_t event;
  uint64_t delay;
  tv_str_t *reason; /* owned (NULL: none) */
} tv_next_t;

void tv_decide_after_success(tv_actor_t *a, tv_next_t *n);
/* Before the first attempt of a task with a calendar schedule: 1 and the
 * delay until its first run (once), 0 no such wait, -1 the task ends (n). */
int tv_decide_first_run(tv_actor_t *a, uint64_t *delay, tv_next_t *n);
void tv_decide_after_failure(tv_actor_t *a, const tv_failure_t *f, tv_next_t *n);

#endif
