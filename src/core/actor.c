/* actor.c - the per-task retry loop: attempts, timeouts, backoff, budgets,
 * cancellation and force-stop, and the events that narrate them. */
#include "actor.h"

#include <stddef.h>

#include "task.h"

#define container_of tv_container_of

static tv_task_t *task_of(tv_actor_t *a) { return container_of(a, tv_task_t, actor); }

static void publish(tv_actor_t *a, tv_event_t *ev) {
  ev->task = a->name;
  ev->fields |= TV_F_TASK;
  tv_bus_publish(tv_actor_env(a)->bus, ev);
}

/* An event about the current attempt. */
static tv_event_t attempt_event(tv_actor_t *a, tv_event_kind_t kind) {
  tv_event_t ev = tv_event_make(kind);
  ev.attempt = a->attempt;
  ev.fields = TV_F_ATTEMPT;
  return ev;
}

static void set_reason(tv_event_t *ev, tv_str_t *reason) {
  ev->reason = reason;
  if (reason) ev->fields |= TV_F_REASON;
}

static void set_exit_code(tv_event_t *ev, int has, int32_t code) {
  if (!has) return;
  ev->exit_code = code;
  ev->fields |= TV_F_EXIT_CODE;
}

static void set_signal(tv_event_t *ev, int sig) {
  if (!sig) return;
  ev->signal = sig;
  ev->fields |= TV_F_SIGNAL;
}

static void finish(tv_actor_t *a, tv_actor_end_t end) {
  tv_actor_env_t *env = tv_actor_env(a);
  tv_timer_stop(env->sched, &a->timer);
  tv_work_cancel(&a->work); /* from the run queue or the semaphore */
  if (a->has_permit) {
    a->has_permit = 0;
    tv_sem_release(env->sem);
  }
  a->state = TV_ACTOR_DONE;
  a->end = (uint8_t)end;
  env->on_finish(a);
}

/* While running, the timer serves the attempt timeout and, once a stop was
 * requested, the force-stop deadline: whichever comes first. */
static void arm_running_timer(tv_actor_t *a) {
  uint64_t due = a->attempt_deadline;
  if (a->cancel_requested && a->kill_deadline < due) due = a->kill_deadline;
  if (due == UINT64_MAX)
    tv_timer_stop(tv_actor_env(a)->sched, &a->timer);
  else
    tv_timer_start_at(tv_actor_env(a)->sched, &a->timer, due);
}

static void run_attempt(tv_actor_t *a) {
  a->attempt++;
  a->state = TV_ACTOR_RUNNING;
  tv_event_t ev = attempt_event(a, TV_EV_TASK_STARTING);
  publish(a, &ev);
  a->attempt_deadline = UINT64_MAX;
  if (a->policy->timeout_ns) {
    a->attempt_deadline = tv_sched_deadline(tv_actor_env(a)->sched, a->policy->timeout_ns);
    arm_running_timer(a);
  }
  tv_task_t *t = task_of(a);
  t->ops->start(t, a->attempt); /* may report done before returning */
}

static void step(tv_actor_t *a) {
  if (a->cancel_requested) {
    finish(a, TV_END_CANCELLED);
    return;
  }
  if (!a->has_permit) {
    if (!tv_sem_acquire(tv_actor_env(a)->sem, &a->work)) {
      a->state = TV_ACTOR_WAITING;
      return;
    }
    a->has_permit = tv_actor_env(a)->sem->limit != 0;
  }
  run_attempt(a);
}

static void on_work(tv_work_t *w) { step(container_of(w, tv_actor_t, work)); }

void tv_actor_granted(tv_work_t *w) {
  tv_actor_t *a = container_of(w, tv_actor_t, work);
  a->has_permit = 1;
  a->state = TV_ACTOR_QUEUED;
  tv_work_defer(tv_actor_env(a)->sched, &a->work, TV_LANE_NEXT);
}

static void on_timer(tv_timer_t *t) {
  tv_actor_t *a = container_of(t, tv_actor_t, timer);
  if (a->state == TV_ACTOR_BACKOFF) {
    step(a);
    return;
  }
  if (a->state != TV_ACTOR_RUNNING || a->killing) return;
  uint64_t now = tv_sched_now(tv_actor_env(a)->sched);
  if (a->cancel_requested && now >= a->kill_deadline) {
    a->killing = TV_KILL_FORCED;
    task_of(a)->ops->kill(task_of(a));
  } else if (now >= a->attempt_deadline) {
    a->killing = TV_KILL_TIMEOUT;
    tv_event_t ev = attempt_event(a, TV_EV_TIMEOUT_HIT);
    ev.timeout_ms = tv_ns_to_ms_u32(a->policy->timeout_ns);
    ev.fields |= TV_F_TIMEOUT_MS;
    publish(a, &ev);
    task_of(a)->ops->kill(task_of(a));
  } else {
    arm_running_timer(a);
  }
}

static void schedule_next(tv_actor_t *a, uint64_t delay_ns) {
  a->state = TV_ACTOR_BACKOFF;
  tv_timer_start(tv_actor_env(a)->sched, &a->timer, tv_ms_ceil(delay_ns));
}

static void after_success(tv_actor_t *a) {
  a->streak = 0;
  if (a->policy->restart != TV_RESTART_ALWAYS) {
    tv_event_t ev = attempt_event(a, TV_EV_ACTOR_EXHAUSTED);
    tv_str_t *reason = tv_str_new("policy_exhausted_success", 24);
    set_reason(&ev, reason);
    publish(a, &ev);
    tv_str_unref(reason);
    finish(a, TV_END_EXHAUSTED);
  } else if (a->policy->interval_ns) {
    tv_event_t ev = attempt_event(a, TV_EV_BACKOFF_SCHEDULED);
    ev.delay_ms = tv_ns_to_ms_u32(a->policy->interval_ns);
    ev.backoff_source = TV_BACKOFF_SUCCESS;
    ev.fields |= TV_F_DELAY_MS | TV_F_BACKOFF_SOURCE;
    publish(a, &ev);
    schedule_next(a, a->policy->interval_ns);
  } else {
    /* Yield to the loop: an instantly-completing task must not spin. */
    a->state = TV_ACTOR_QUEUED;
    tv_work_defer(tv_actor_env(a)->sched, &a->work, TV_LANE_NEXT);
  }
}

static void after_failure(tv_actor_t *a, tv_str_t *display, int has_code, int32_t code,
                          int sig) {
  uint32_t max = a->policy->max_retries;
  int exhausted = max > 0 && a->streak >= max;
  if (a->policy->restart == TV_RESTART_NEVER || exhausted) {
    tv_event_t ev = attempt_event(a, TV_EV_ACTOR_EXHAUSTED);
    tv_str_t *reason = exhausted ? tv_str_printf("max_retries_exceeded(%u/%u): %s",
                                                 a->streak, max, display ? display->s : "")
                                 : tv_str_ref(display);
    set_reason(&ev, reason);
    set_exit_code(&ev, has_code, code);
    set_signal(&ev, sig);
    publish(a, &ev);
    tv_str_unref(reason);
    finish(a, TV_END_EXHAUSTED);
    return;
  }
  uint64_t delay = tv_backoff_next_ns(&a->policy->backoff, a->streak, tv_actor_env(a)->rng);
  a->streak++;
  tv_event_t ev = attempt_event(a, TV_EV_BACKOFF_SCHEDULED);
  ev.delay_ms = tv_ns_to_ms_u32(delay);
  ev.backoff_source = TV_BACKOFF_FAILURE;
  ev.fields |= TV_F_DELAY_MS | TV_F_BACKOFF_SOURCE;
  set_reason(&ev, display);
  publish(a, &ev);
  schedule_next(a, delay);
}

static void attempt_done(tv_actor_t *a, const tv_outcome_t *o) {
  tv_actor_env_t *env = tv_actor_env(a);
  tv_timer_stop(env->sched, &a->timer);
  a->attempt_deadline = UINT64_MAX;
  if (a->has_permit) {
    a->has_permit = 0;
    tv_sem_release(env->sem);
  }
  int killing = a->killing;
  a->killing = TV_KILL_NONE;

  if (killing == TV_KILL_FORCED) {
    tv_event_t ev = attempt_event(a, TV_EV_TASK_STOPPED);
    tv_str_t *reason = tv_str_printf("force_stopped: did not stop within its grace period");
    set_reason(&ev, reason);
    publish(a, &ev);
    tv_str_unref(reason);
    finish(a, TV_END_FORCED);
    return;
  }

  tv_outcome_kind_t kind = o->kind;
  int has_code = o->has_exit_code;
  int32_t code = o->exit_code;
  int sig = o->term_signal;
  tv_str_t *display = NULL, *traceback = NULL;
  if (killing == TV_KILL_TIMEOUT) {
    char buf[48];
    kind = TV_OUTCOME_FAIL;
    has_code = 0;
    sig = 0;
    display = tv_str_printf("timed out after %s",
                            tv_fmt_duration(a->policy->timeout_ns, buf, sizeof buf));
  } else if (kind == TV_OUTCOME_FAIL || kind == TV_OUTCOME_FATAL) {
    display = tv_str_printf(kind == TV_OUTCOME_FAIL ? "execution failed: %.*s"
                                                    : "fatal error (no retry): %.*s",
                            (int)o->msg_len, o->msg ? o->msg : "");
    traceback = o->traceback;
  }

  tv_event_t ev = attempt_event(a, display ? TV_EV_TASK_FAILED : TV_EV_TASK_STOPPED);
  set_reason(&ev, display);
  set_exit_code(&ev, has_code, code);
  if (display) set_signal(&ev, sig);
  if (traceback) {
    ev.traceback = traceback;
    ev.fields |= TV_F_TRACEBACK;
  }
  publish(a, &ev);

  if (a->cancel_requested || kind == TV_OUTCOME_CANCELED) {
    finish(a, TV_END_CANCELLED);
  } else if (kind == TV_OUTCOME_OK) {
    after_success(a);
  } else if (kind == TV_OUTCOME_FATAL) {
    tv_event_t dead = attempt_event(a, TV_EV_ACTOR_DEAD);
    set_reason(&dead, display);
    set_exit_code(&dead, has_code, code);
    set_signal(&dead, sig);
    publish(a, &dead);
    finish(a, TV_END_DEAD);
  } else {
    after_failure(a, display, has_code, code, sig);
  }
  tv_str_unref(display);
}

void tv_task_done(tv_task_t *t, const tv_outcome_t *o) {
  if (t->actor.state == TV_ACTOR_RUNNING) attempt_done(&t->actor, o);
}

void tv_task_fini(tv_task_t *t) {
  tv_str_unref(t->actor.name);
  t->actor.name = NULL;
}

void tv_actor_init(tv_actor_t *a, tv_str_t *name, const tv_policy_t *policy) {
  tv_str_unref(a->name); /* a task re-added after an earlier run */
  a->name = tv_str_ref(name);
  a->policy = policy;
  a->attempt = a->streak = 0;
  a->state = TV_ACTOR_QUEUED;
  a->end = TV_END_NONE;
  a->killing = TV_KILL_NONE;
  a->cancel_requested = a->has_permit = 0;
  a->kill_deadline = a->attempt_deadline = UINT64_MAX;
  tv_timer_init(&a->timer, on_timer);
  tv_work_init(&a->work, on_work);
  a->hnext = NULL;
}

void tv_actor_start(tv_actor_t *a) {
  a->state = TV_ACTOR_QUEUED;
  tv_work_defer(tv_actor_env(a)->sched, &a->work, TV_LANE_NEXT);
}

void tv_actor_cancel(tv_actor_t *a, uint64_t kill_deadline) {
  if (a->state == TV_ACTOR_DONE) return;
  if (kill_deadline < a->kill_deadline) a->kill_deadline = kill_deadline;
  int first = !a->cancel_requested;
  a->cancel_requested = 1;
  switch (a->state) {
    case TV_ACTOR_QUEUED:
    case TV_ACTOR_WAITING:
    case TV_ACTOR_BACKOFF:
      finish(a, TV_END_CANCELLED);
      break;
    case TV_ACTOR_RUNNING:
      if (first) task_of(a)->ops->cancel(task_of(a));
      if (!a->killing && a->state == TV_ACTOR_RUNNING) arm_running_timer(a);
      break;
  }
}

void tv_actor_kill(tv_actor_t *a) {
  if (a->state != TV_ACTOR_RUNNING) {
    tv_actor_cancel(a, UINT64_MAX);
    return;
  }
  if (a->killing == TV_KILL_FORCED) return;
  a->cancel_requested = 1;
  a->killing = TV_KILL_FORCED;
  task_of(a)->ops->kill(task_of(a));
}

const char *tv_actor_state_name(int state) {
  static const char *const names[] = {"queued", "waiting", "running", "backoff", "done"};
  return (unsigned)state < 5 ? names[state] : "?";
}
