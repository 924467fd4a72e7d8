/* actor.c - the per-task retry loop: dependencies, hooks, attempts,
 * timeouts, restart decisions (policy, the task's own functions, budgets,
 * schedules), backoff, cancellation and force-stop, group holds, and the
 * events that narrate them. */
#include "core/supervision/actor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/task.h"

#define container_of tv_container_of

/* What follows the running hook. */
enum { TV_THEN_STEP, TV_THEN_DELAY, TV_THEN_END };
/* ext->hook_flags */
enum { HF_SETUP_DONE = 1, HF_SHUTDOWN_RAN = 2, HF_CLEANUP_RAN = 4, HF_HOOKS = 8,
       HF_EXPLICIT_READY = 16, HF_RESTART_HOOK_RAN = 32, HF_DECIDE = 64,
       HF_COMPLETED_READY = 128 };

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

/* An attempt's failure, as the decisions after it need it. */
typedef struct failure {
  tv_str_t *display; /* borrowed */
  int has_code;
  int32_t code;
  int sig;
} failure_t;

static void publish_end_event(tv_actor_t *a, tv_event_kind_t kind, tv_str_t *reason,
                              const failure_t *f) {
  tv_event_t ev = attempt_event(a, kind);
  set_reason(&ev, reason);
  if (f) {
    set_exit_code(&ev, f->has_code, f->code);
    set_signal(&ev, f->sig);
  }
  publish(a, &ev);
}

static void publish_backoff(tv_actor_t *a, uint64_t delay_ns, int source, tv_str_t *reason) {
  tv_event_t ev = attempt_event(a, TV_EV_BACKOFF_SCHEDULED);
  ev.delay_ms = tv_ns_to_ms_u32(delay_ns);
  ev.backoff_source = (uint8_t)source;
  ev.fields |= TV_F_DELAY_MS | TV_F_BACKOFF_SOURCE;
  set_reason(&ev, reason);
  publish(a, &ev);
}

/* ---- the end -------------------------------------------------------------- */

static void leave_queues(tv_actor_t *a) {
  tv_actor_env_t *env = tv_actor_env(a);
  tv_timer_stop(env->sched, &a->timer);
  tv_work_cancel(&a->work); /* from the run queue or the semaphore */
  if (a->ext) tv_list_unlink(&a->ext->blocked);
  if (a->has_permit) {
    a->has_permit = 0;
    tv_sem_release(env->sem);
  }
}

static void finish(tv_actor_t *a, tv_actor_end_t end, const tv_actor_result_t *r) {
  leave_queues(a);
  a->state = TV_ACTOR_DONE;
  a->end = (uint8_t)end;
  tv_actor_result_t none = {NULL, 0, 0};
  tv_actor_env(a)->on_finish(a, r ? r : &none);
}

static int start_hook(tv_actor_t *a, tv_hook_t h, const tv_str_t *err, int then);

/* Ends the actor once its on_shutdown and cleanup hooks have run. */
static void end_actor(tv_actor_t *a, tv_actor_end_t end, tv_str_t *reason, const failure_t *f) {
  tv_actor_result_t r = {reason, f ? f->has_code : 0, f ? f->code : 0};
  tv_actor_ext_t *x = a->ext;
  if (x && (x->hook_flags & HF_HOOKS) && (x->hook_flags & HF_SETUP_DONE) &&
      end != TV_END_FORCED && !a->killing) {
    if (x->then.reason != reason) {
      tv_str_unref(x->then.reason);
      x->then = r;
      tv_str_ref(reason);
    }
    x->then_end = (uint8_t)end;
    if (x->shutdown && !(x->hook_flags & HF_SHUTDOWN_RAN)) {
      x->hook_flags |= HF_SHUTDOWN_RAN;
      if (start_hook(a, TV_HOOK_SHUTDOWN, NULL, TV_THEN_END)) return;
    }
    if (!(x->hook_flags & HF_CLEANUP_RAN)) {
      x->hook_flags |= HF_CLEANUP_RAN;
      if (start_hook(a, TV_HOOK_CLEANUP, NULL, TV_THEN_END)) return;
    }
  }
  finish(a, end, &r);
}

/* Ends the actor with ActorExhausted/ActorDead carrying `reason`. */
static void end_with(tv_actor_t *a, tv_event_kind_t kind, tv_actor_end_t end, tv_str_t *reason,
                     const failure_t *f) {
  publish_end_event(a, kind, reason, f);
  end_actor(a, end, reason, f);
}

static void end_with_text(tv_actor_t *a, tv_event_kind_t kind, tv_actor_end_t end,
                          const char *text, const failure_t *f) {
  tv_str_t *reason = tv_str_new(text, strlen(text));
  end_with(a, kind, end, reason, f);
  tv_str_unref(reason);
}

/* ---- hooks -------------------------------------------------------------- */

/* Starts hook h if the task has one: 1 (the actor waits in HOOK, then does
 * `then`), 0 (no such hook: carry on). */
static int start_hook(tv_actor_t *a, tv_hook_t h, const tv_str_t *err, int then) {
  tv_actor_ext_t *x = a->ext;
  tv_task_t *t = task_of(a);
  if (!x || !(x->hook_flags & HF_HOOKS) || !t->ops->hook) return 0;
  if (!t->ops->hook(t, h, a->attempt, err)) return 0;
  x->then_what = (uint8_t)then;
  a->state = TV_ACTOR_HOOK;
  a->hook = (uint8_t)h;
  return 1;
}

static void step(tv_actor_t *a);
static void schedule_next(tv_actor_t *a, uint64_t delay_ns);
static void go_held(tv_actor_t *a);

static void after_hook(tv_actor_t *a) {
  tv_actor_ext_t *x = a->ext;
  if (a->killing == TV_KILL_FORCED) { /* the grace ran out during the hook */
    a->killing = TV_KILL_NONE;
    tv_str_t *reason = tv_str_printf("force_stopped: did not stop within its grace period");
    publish_end_event(a, TV_EV_TASK_STOPPED, reason, NULL);
    finish(a, TV_END_FORCED, &(tv_actor_result_t){reason, 0, 0});
    tv_str_unref(reason);
    return;
  }
  switch (x->then_what) {
    case TV_THEN_STEP:
      a->state = TV_ACTOR_QUEUED;
      step(a);
      break;
    case TV_THEN_DELAY:
      if (a->cancel_requested) {
        end_actor(a, TV_END_CANCELLED, NULL, NULL);
      } else if (x->hold) {
        go_held(a);
      } else {
        schedule_next(a, x->then_delay);
      }
      break;
    case TV_THEN_END: {
      tv_actor_result_t r = x->then;
      x->then.reason = NULL;
      end_actor(a, (tv_actor_end_t)x->then_end, r.reason,
                &(failure_t){NULL, r.has_exit_code, r.exit_code, 0});
      tv_str_unref(r.reason);
      break;
    }
  }
}

void tv_task_hook_done(tv_task_t *t, int ok, const char *msg, size_t len) {
  tv_actor_t *a = &t->actor;
  if (a->state != TV_ACTOR_HOOK) return;
  tv_actor_ext_t *x = a->ext;
  tv_hook_t h = (tv_hook_t)a->hook;
  tv_timer_stop(tv_actor_env(a)->sched, &a->timer);
  if (h == TV_HOOK_SETUP) {
    if (!ok && a->killing != TV_KILL_FORCED) {
      tv_str_t *reason = tv_str_printf("setup failed: %.*s", (int)len, msg ? msg : "");
      end_with(a, TV_EV_ACTOR_DEAD, TV_END_SETUP_FAILED, reason, NULL);
      tv_str_unref(reason);
      return;
    }
    x->hook_flags |= HF_SETUP_DONE;
  } else if (!ok) {
    tv_event_t ev = attempt_event(a, TV_EV_HOOK_FAILED);
    tv_str_t *reason = tv_str_printf("%s hook failed: %.*s", tv_hook_name(h), (int)len,
                                     msg ? msg : "");
    set_reason(&ev, reason);
    publish(a, &ev);
    tv_str_unref(reason);
  }
  after_hook(a);
}

/* ---- attempts -------------------------------------------------------------- */

/* While running (or in a hook), the timer serves the attempt timeout and,
 * once a stop was requested, the force-stop deadline: whichever comes first. */
static int stopping(const tv_actor_t *a) {
  return a->cancel_requested || (a->ext && a->ext->hold);
}

/* Stops the running attempt or hook now. */
static void force_stop(tv_actor_t *a) {
  tv_task_t *t = task_of(a);
  a->killing = TV_KILL_FORCED;
  if (a->state == TV_ACTOR_HOOK)
    t->ops->hook_kill(t);
  else
    t->ops->kill(t);
}

/* Clock ms of the running attempt's timeout, or UINT64_MAX. */
static uint64_t attempt_deadline(const tv_actor_t *a) {
  if (a->state != TV_ACTOR_RUNNING || !a->policy->timeout_ns) return UINT64_MAX;
  uint64_t ms = tv_ms_ceil(a->policy->timeout_ns);
  uint64_t at = a->ext ? a->ext->started_at : 0; /* timeouts have an ext */
  return ms > UINT64_MAX - at ? UINT64_MAX : at + ms;
}

static void arm_running_timer(tv_actor_t *a) {
  uint64_t due = attempt_deadline(a);
  if (stopping(a) && a->kill_deadline < due) due = a->kill_deadline;
  if (due == UINT64_MAX)
    tv_timer_stop(tv_actor_env(a)->sched, &a->timer);
  else
    tv_timer_start_at(tv_actor_env(a)->sched, &a->timer, due);
}

static void mark_ready(tv_actor_t *a) {
  if (a->ready) return;
  a->ready = a->ever_ready = 1;
  tv_parent_t *sp = tv_actor_env(a)->parent, *p = tv_actor_parent(a);
  if (p != sp && p->ops->ready) p->ops->ready(p, a); /* its group */
  if (sp->ops->ready) sp->ops->ready(sp, a); /* dependents anywhere in the supervisor */
}

static void run_attempt(tv_actor_t *a) {
  tv_actor_env_t *env = tv_actor_env(a);
  a->attempt++;
  a->state = TV_ACTOR_RUNNING;
  a->ready = 0;
  if (a->ext) {
    a->ext->started_at = tv_sched_now(env->sched);
    if (a->attempt == 1) a->ext->anchor = a->ext->started_at;
  }
  if (a->ext) a->ext->hook_flags &= (uint8_t)~HF_RESTART_HOOK_RAN;
  tv_event_t ev = attempt_event(a, TV_EV_TASK_STARTING);
  tv_task_t *t = task_of(a);
  if (t->ops->spawn && (ev.pid = t->ops->spawn(t, a->attempt)) > 0) ev.fields |= TV_F_PID;
  publish(a, &ev);
  if (a->policy->timeout_ns) arm_running_timer(a);
  t->ops->start(t, a->attempt); /* may report done before returning */
  if (a->state == TV_ACTOR_RUNNING && !(a->ext && (a->ext->hook_flags & HF_EXPLICIT_READY)))
    mark_ready(a);
}

int tv_task_ready(tv_task_t *t) {
  tv_actor_t *a = &t->actor;
  if (a->ext && (a->ext->hook_flags & HF_COMPLETED_READY)) return TV_EINVAL;
  /* ready at start: nothing to say (not even from inside start, before the
   * actor marks it ready without an event) */
  if (!a->ext || !(a->ext->hook_flags & HF_EXPLICIT_READY)) return 0;
  if (a->state != TV_ACTOR_RUNNING || a->ready) return 0;
  tv_event_t ev = attempt_event(a, TV_EV_TASK_READY);
  publish(a, &ev);
  mark_ready(a);
  return 0;
}

/* Dependencies: 1 all ready, 0 wait (BLOCKED), -1 ended (the actor ended). */
static int deps_ready(tv_actor_t *a) {
  tv_actor_ext_t *x = a->ext;
  if (!x || !x->nafter) return 1;
  tv_actor_env_t *env = tv_actor_env(a);
  int waiting = 0;
  for (uint32_t i = 0; i < x->nafter; i++) {
    if (!x->after[i]) continue;
    int st = env->dep_state(env, x->after[i]);
    if (st > 0) {
      tv_str_unref(x->after[i]);
      x->after[i] = NULL;
    } else if (st < 0) {
      tv_str_t *reason = tv_str_printf(
          "dependency '%s' is not running: no task of that name (it must be added "
          "before this one starts, and not end before it is ready)",
          x->after[i]->s);
      end_with(a, TV_EV_ACTOR_DEAD, TV_END_DEAD, reason, NULL);
      tv_str_unref(reason);
      return -1;
    } else {
      waiting = 1;
    }
  }
  if (!waiting) {
    tv_list_unlink(&x->blocked);
    return 1;
  }
  a->state = TV_ACTOR_BLOCKED;
  if (!tv_linked(&x->blocked) && env->blocked) tv_list_push(env->blocked, &x->blocked);
  return 0;
}

static void step(tv_actor_t *a) {
  if (a->cancel_requested) {
    end_actor(a, TV_END_CANCELLED, NULL, NULL);
    return;
  }
  if (a->ext && a->ext->hold) {
    go_held(a);
    return;
  }
  if (a->attempt == 0) {
    if (deps_ready(a) <= 0) return;
    if (a->ext && !(a->ext->hook_flags & HF_SETUP_DONE)) {
      if (start_hook(a, TV_HOOK_SETUP, NULL, TV_THEN_STEP)) return;
      a->ext->hook_flags |= HF_SETUP_DONE;
    }
  } else if (a->ext && !(a->ext->hook_flags & HF_RESTART_HOOK_RAN)) {
    a->ext->hook_flags |= HF_RESTART_HOOK_RAN;
    if (start_hook(a, TV_HOOK_RESTART, NULL, TV_THEN_STEP)) return;
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
    a->state = TV_ACTOR_QUEUED;
    step(a);
    return;
  }
  if ((a->state != TV_ACTOR_RUNNING && a->state != TV_ACTOR_HOOK) || a->killing) return;
  uint64_t now = tv_sched_now(tv_actor_env(a)->sched);
  if (stopping(a) && now >= a->kill_deadline) {
    force_stop(a);
  } else if (now >= attempt_deadline(a)) {
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
  if (!delay_ns) { /* yield to the loop: an instantly-completing task must not spin */
    a->state = TV_ACTOR_QUEUED;
    tv_work_defer(tv_actor_env(a)->sched, &a->work, TV_LANE_NEXT);
    return;
  }
  a->state = TV_ACTOR_BACKOFF;
  tv_timer_start(tv_actor_env(a)->sched, &a->timer, tv_ms_ceil(delay_ns));
}

/* ---- group holds ------------------------------------------------------------ */

static void go_held(tv_actor_t *a) {
  leave_queues(a);
  a->state = TV_ACTOR_HELD;
  tv_parent_t *p = tv_actor_parent(a);
  if (p->ops->held) p->ops->held(p, a);
}

void tv_actor_hold(tv_actor_t *a, uint64_t kill_deadline) {
  tv_actor_ext_t *x = a->ext;
  if (!x || a->state == TV_ACTOR_DONE || a->cancel_requested) return;
  x->hold = 1;
  if (kill_deadline < a->kill_deadline) a->kill_deadline = kill_deadline;
  switch (a->state) {
    case TV_ACTOR_RUNNING:
      task_of(a)->ops->cancel(task_of(a));
      if (!a->killing && a->state == TV_ACTOR_RUNNING) arm_running_timer(a);
      break;
    case TV_ACTOR_HOOK:
      arm_running_timer(a); /* the hook ends first, bounded by the deadline */
      break;
    case TV_ACTOR_HELD:
      break;
    default:
      go_held(a);
  }
}

void tv_actor_resume(tv_actor_t *a, uint64_t delay_ms) {
  if (a->state != TV_ACTOR_HELD) return;
  a->ext->hold = 0;
  a->kill_deadline = UINT64_MAX;
  if (a->cancel_requested) {
    end_actor(a, TV_END_CANCELLED, NULL, NULL);
    return;
  }
  schedule_next(a, delay_ms * TV_NS_PER_MS);
}

/* ---- decisions after an attempt --------------------------------------------- */

/* How long the last attempt ran (0 without an ext: nothing asks then). */
static uint64_t ran_for_ns(const tv_actor_t *a) {
  if (!a->ext) return 0;
  return (tv_sched_now(tv_actor_env(a)->sched) - a->ext->started_at) * TV_NS_PER_MS;
}

/* The task's own answer (a Lua function), or `fallback`. -1: it failed and
 * the actor ended. */
static int ask(tv_actor_t *a, tv_decision_t *d, int *answered) {
  tv_task_t *t = task_of(a);
  *answered = 0; /* only tasks that have their own functions are asked: not a hot-path call */
  if (!a->ext || !(a->ext->hook_flags & HF_DECIDE) || !t->ops->decide) return 0;
  d->attempt = a->attempt;
  d->streak = a->streak;
  d->ran_for_ns = ran_for_ns(a);
  d->last_delay_ns = a->ext ? a->ext->last_delay : 0;
  d->error = NULL;
  int r = t->ops->decide(t, d);
  if (r < 0) {
    tv_str_t *reason = d->error ? d->error
                                : tv_str_printf("%s function failed",
                                                d->what == TV_DECIDE_RESTART ? "restart" : "backoff");
    end_with(a, TV_EV_ACTOR_DEAD, TV_END_DEAD, reason, NULL);
    tv_str_unref(reason);
    return -1;
  }
  *answered = r > 0;
  return 0;
}

/* The next slot of an `every` schedule: the delay, and how many were skipped. */
static uint64_t next_slot(tv_actor_t *a, uint32_t *skipped) {
  uint64_t every = tv_ms_ceil(a->policy->every_ns);
  uint64_t now = tv_sched_now(tv_actor_env(a)->sched), anchor = a->ext->anchor;
  uint64_t cur = (a->ext->started_at - anchor) / every;
  uint64_t next = (now - anchor) / every + 1;
  *skipped = (uint32_t)(next - cur - 1);
  return (anchor + next * every - now) * TV_NS_PER_MS;
}

/* A budget said no: what its on_exhausted says. 2: the actor goes on after a
 * cooldown (*delay; BackoffScheduled published), 0: it ended. */
static int over_budget(tv_actor_t *a, const tv_budget_cfg_t *cfg, tv_budget_t *b,
                       const char *whose, uint64_t *delay, const failure_t *f) {
  char win[48];
  tv_fmt_duration(cfg->within_ns, win, sizeof win);
  if (cfg->action == TV_EXHAUST_COOLDOWN) {
    char cool[48];
    tv_budget_reset(b);
    a->streak = 0;
    *delay = cfg->cooldown_ns;
    tv_str_t *reason = tv_str_printf(
        "restart intensity exceeded: more than %u restarts within %s (%s); cooling down for %s",
        cfg->max, win, whose, tv_fmt_duration(cfg->cooldown_ns, cool, sizeof cool));
    publish_backoff(a, *delay, TV_BACKOFF_COOLDOWN, reason);
    tv_str_unref(reason);
    return 2;
  }
  tv_parent_t *p = tv_actor_parent(a);
  int escalate = cfg->action == TV_EXHAUST_ESCALATE;
  tv_str_t *reason = tv_str_printf("restart intensity exceeded: more than %u restarts within %s "
                                   "(%s)%s%s",
                                   cfg->max, win, whose, escalate ? "; escalating to the " : "",
                                   escalate ? p->what : "");
  publish_end_event(a, TV_EV_ACTOR_EXHAUSTED, reason, f);
  end_actor(a, escalate ? TV_END_ESCALATED : TV_END_EXHAUSTED, reason, f);
  if (escalate && p->ops->escalate) p->ops->escalate(p, a, reason, cfg == &a->policy->budget);
  tv_str_unref(reason);
  return 0;
}

/* Counts the restart in the task's and its parent's budgets: 1 within both,
 * else what over_budget said. */
static int take_budgets(tv_actor_t *a, uint64_t *delay, const failure_t *f) {
  const tv_budget_cfg_t *own = &a->policy->budget;
  tv_parent_t *p = tv_actor_parent(a);
  if (!own->max && !p->cfg.max) return 1; /* the common case: no budget at all */
  uint64_t now = tv_sched_now(tv_actor_env(a)->sched);
  if (own->max && a->ext && tv_budget_take(&a->ext->budget, own, now) == 0)
    return over_budget(a, own, &a->ext->budget, "the task's budget", delay, f);
  if (p->cfg.max && tv_budget_take(&p->budget, &p->cfg, now) == 0) {
    char whose[160];
    snprintf(whose, sizeof whose, "the %s's budget", p->what);
    return over_budget(a, &p->cfg, &p->budget, whose, delay, f);
  }
  return 1;
}

/* The attempt ended and the task restarts after `delay` (BackoffScheduled
 * from `source` with reason `why`), unless a budget or its parent says
 * otherwise; on_error runs first after a failure (f). */
static void restart_after(tv_actor_t *a, uint64_t delay, int source, tv_str_t *why,
                          const failure_t *f) {
  int r = take_budgets(a, &delay, f);
  if (r == 0) return;
  if (r == 1 && (source != TV_BACKOFF_SUCCESS || delay)) publish_backoff(a, delay, source, why);
  tv_actor_ext_t *x = a->ext;
  if (!x) { /* a plain task: no group, no hooks */
    schedule_next(a, delay);
    return;
  }
  x->last_delay = delay;
  tv_parent_t *p = tv_actor_parent(a);
  if (p->ops->restart && p->ops->restart(p, a, delay)) x->hold = 1;
  if (f) {
    x->then_delay = delay;
    if (start_hook(a, TV_HOOK_ERROR, f->display, TV_THEN_DELAY)) return;
  }
  if (x->hold)
    go_held(a);
  else
    schedule_next(a, delay);
}

static void after_success(tv_actor_t *a) {
  a->streak = 0;
  int restart = a->policy->restart == TV_RESTART_ALWAYS, answered;
  tv_outcome_t ok = {TV_OUTCOME_OK, 0, 0, NULL, 0, NULL, 0};
  tv_decision_t d = {.what = TV_DECIDE_RESTART, .outcome = &ok};
  if (ask(a, &d, &answered) < 0) return;
  if (answered) restart = d.restart;
  if (!restart) {
    if (!a->ever_ready) mark_ready(a); /* a one-shot that completed satisfies its dependents */
    end_with_text(a, TV_EV_ACTOR_EXHAUSTED, TV_END_COMPLETED, "policy_exhausted_success", NULL);
    return;
  }
  if (a->policy->every_ns && a->ext) {
    uint32_t skipped;
    uint64_t delay = next_slot(a, &skipped);
    tv_str_t *why = skipped ? tv_str_printf("schedule: %u run%s skipped (the last run overran)",
                                            skipped, skipped == 1 ? "" : "s")
                            : NULL;
    restart_after(a, delay, TV_BACKOFF_SCHEDULE, why, NULL);
    tv_str_unref(why);
    return;
  }
  restart_after(a, a->policy->interval_ns, TV_BACKOFF_SUCCESS, NULL, NULL);
}

static void after_failure(tv_actor_t *a, const tv_outcome_t *o, const failure_t *f) {
  tv_actor_env_t *env = tv_actor_env(a);
  int answered;
  uint64_t ran_for = ran_for_ns(a);
  if (a->policy->reset_after_ns && ran_for >= a->policy->reset_after_ns) {
    a->streak = 0; /* it had been up long enough: a fresh start */
    if (a->ext) tv_budget_reset(&a->ext->budget);
  }
  int restart = a->policy->restart != TV_RESTART_NEVER;
  tv_outcome_t seen = {TV_OUTCOME_FAIL, f->has_code, f->code, f->display ? f->display->s : "",
                       f->display ? f->display->len : 0, NULL, f->sig};
  (void)o;
  tv_decision_t d = {.what = TV_DECIDE_RESTART, .outcome = &seen};
  if (ask(a, &d, &answered) < 0) return;
  if (answered) restart = d.restart;
  uint32_t max = a->policy->max_retries;
  int exhausted = restart && max > 0 && a->streak >= max;
  if (!restart || exhausted) {
    tv_str_t *reason = exhausted ? tv_str_printf("max_retries_exceeded(%u/%u): %s", a->streak,
                                                 max, f->display ? f->display->s : "")
                                 : tv_str_ref(f->display);
    end_with(a, TV_EV_ACTOR_EXHAUSTED, TV_END_EXHAUSTED, reason, f);
    tv_str_unref(reason);
    return;
  }
  uint64_t delay;
  int source = TV_BACKOFF_FAILURE;
  if (a->policy->every_ns && a->ext) {
    uint32_t skipped;
    delay = next_slot(a, &skipped);
    source = TV_BACKOFF_SCHEDULE;
  } else {
    delay = tv_backoff_next_ns(&a->policy->backoff, a->streak, env->rng);
    d.what = TV_DECIDE_BACKOFF;
    if (ask(a, &d, &answered) < 0) return;
    if (answered) delay = d.delay_ns;
  }
  a->streak++;
  restart_after(a, delay, source, f->display, f);
}

/* A process attempt that needed SIGKILL (its end events say so). */
static int t_killed(tv_actor_t *a) {
  const tv_task_t *t = task_of(a);
  return t->ops->killed && t->ops->killed(t);
}

static void attempt_done(tv_actor_t *a, const tv_outcome_t *o) {
  tv_actor_env_t *env = tv_actor_env(a);
  tv_timer_stop(env->sched, &a->timer);
  if (a->has_permit) {
    a->has_permit = 0;
    tv_sem_release(env->sem);
  }
  int killing = a->killing;
  a->killing = TV_KILL_NONE;
  int held = a->ext && a->ext->hold && !a->cancel_requested;

  if (killing == TV_KILL_FORCED) {
    tv_str_t *reason = tv_str_printf("force_stopped: did not stop within its grace period");
    tv_event_t ev = attempt_event(a, TV_EV_TASK_STOPPED);
    set_reason(&ev, reason);
    if (t_killed(a)) ev.fields |= TV_F_KILLED;
    publish(a, &ev);
    if (held)
      go_held(a);
    else
      finish(a, TV_END_FORCED, &(tv_actor_result_t){reason, 0, 0});
    tv_str_unref(reason);
    return;
  }

  tv_outcome_kind_t kind = o->kind;
  failure_t f = {NULL, o->has_exit_code, o->exit_code, o->term_signal};
  tv_str_t *traceback = NULL;
  if (killing == TV_KILL_TIMEOUT) {
    char buf[48];
    kind = TV_OUTCOME_FAIL;
    f.has_code = 0;
    f.sig = 0;
    f.display = tv_str_printf("timed out after %s",
                              tv_fmt_duration(a->policy->timeout_ns, buf, sizeof buf));
  } else if (held) {
    kind = TV_OUTCOME_CANCELED; /* stopped by its group, whatever it reported */
  } else if (kind == TV_OUTCOME_FAIL || kind == TV_OUTCOME_FATAL) {
    f.display = tv_str_printf(kind == TV_OUTCOME_FAIL ? "execution failed: %.*s"
                                                      : "fatal error (no retry): %.*s",
                              (int)o->msg_len, o->msg ? o->msg : "");
    traceback = o->traceback;
  }
  if (!f.display) f.sig = 0;

  tv_event_t ev = attempt_event(a, f.display ? TV_EV_TASK_FAILED : TV_EV_TASK_STOPPED);
  set_reason(&ev, f.display);
  set_exit_code(&ev, f.has_code, f.code);
  set_signal(&ev, f.sig);
  if (t_killed(a)) ev.fields |= TV_F_KILLED;
  if (traceback) {
    ev.traceback = traceback;
    ev.fields |= TV_F_TRACEBACK;
  }
  publish(a, &ev);

  if (held && !f.display) {
    go_held(a);
  } else if (a->cancel_requested || kind == TV_OUTCOME_CANCELED) {
    end_actor(a, TV_END_CANCELLED, f.display, &f);
  } else if (kind == TV_OUTCOME_OK) {
    after_success(a);
  } else if (kind == TV_OUTCOME_FATAL) {
    end_with(a, TV_EV_ACTOR_DEAD, TV_END_DEAD, f.display, &f);
  } else {
    after_failure(a, o, &f);
  }
  tv_str_unref(f.display);
}

void tv_task_done(tv_task_t *t, const tv_outcome_t *o) {
  if (t->actor.state == TV_ACTOR_RUNNING) attempt_done(&t->actor, o);
}

void tv_task_fini(tv_task_t *t) {
  tv_actor_ext_free(&t->actor);
  tv_str_unref(t->actor.name);
  t->actor.name = NULL;
}

/* ---- setup -------------------------------------------------------------------- */

tv_actor_ext_t *tv_actor_ext(tv_actor_t *a) {
  if (a->ext) return a->ext;
  tv_actor_ext_t *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  tv_budget_init(&x->budget);
  tv_list_init(&x->blocked);
  a->ext = x;
  return x;
}

void tv_actor_ext_free(tv_actor_t *a) {
  tv_actor_ext_t *x = a->ext;
  if (!x) return;
  tv_list_unlink(&x->blocked);
  tv_budget_free(&x->budget);
  for (uint32_t i = 0; i < x->nafter; i++) tv_str_unref(x->after[i]);
  free(x->after);
  tv_str_unref(x->then.reason);
  free(x);
  a->ext = NULL;
}

int tv_actor_after(tv_actor_t *a, tv_str_t *const *names, uint32_t n) {
  if (!n) return 0;
  tv_actor_ext_t *x = tv_actor_ext(a);
  tv_str_t **copy = x ? malloc(n * sizeof *copy) : NULL;
  if (!copy) return TV_ENOMEM;
  for (uint32_t i = 0; i < n; i++) copy[i] = tv_str_ref(names[i]);
  x->after = copy;
  x->nafter = n;
  return 0;
}


/* Leaves the blocked list and, if it was waiting, takes its next step. */
static void unblock(tv_actor_t *a) {
  tv_list_unlink(&a->ext->blocked);
  if (a->state != TV_ACTOR_BLOCKED) return;
  a->state = TV_ACTOR_QUEUED;
  tv_work_defer(tv_actor_env(a)->sched, &a->work, TV_LANE_NEXT);
}

void tv_actor_recheck(tv_actor_t *a) {
  tv_actor_ext_t *x = a->ext;
  tv_actor_env_t *env = tv_actor_env(a);
  int waiting = 0, missing = 0;
  for (uint32_t i = 0; i < x->nafter; i++) {
    if (!x->after[i]) continue;
    int st = env->dep_state(env, x->after[i]);
    if (st > 0) { /* count it now: it may complete and leave before our step */
      tv_str_unref(x->after[i]);
      x->after[i] = NULL;
    } else if (st < 0) {
      missing = 1;
    } else {
      waiting = 1;
    }
  }
  if (missing || !waiting) unblock(a); /* the step ends it, or starts it */
}

int tv_actor_waits_for(const tv_actor_t *a, const tv_str_t *name) {
  const tv_actor_ext_t *x = a->ext;
  for (uint32_t i = 0; i < x->nafter; i++) {
    const tv_str_t *n = x->after[i];
    if (n && (n == name || (n->len == name->len && memcmp(n->s, name->s, n->len) == 0))) return 1;
  }
  return 0;
}

void tv_actor_dep_ended(tv_actor_t *a, const tv_actor_t *dep) {
  tv_actor_ext_t *x = a->ext;
  for (uint32_t i = 0; i < x->nafter; i++) {
    tv_str_t *n = x->after[i];
    if (!n || n->len != dep->name->len || memcmp(n->s, dep->name->s, n->len) != 0) continue;
    if (!dep->ever_ready) { /* it ends without ever being ready: the step says so */
      unblock(a);
      return;
    }
    tv_str_unref(n);
    x->after[i] = NULL;
  }
  tv_actor_recheck(a);
}

void tv_actor_set_hooks(tv_actor_t *a, int hooks, int explicit_ready, int completed_ready,
                        int decide) {
  tv_actor_ext_t *x = a->ext;
  if (!x) return;
  if (hooks) x->hook_flags |= HF_HOOKS;
  if (explicit_ready) x->hook_flags |= HF_EXPLICIT_READY;
  if (explicit_ready && completed_ready) x->hook_flags |= HF_COMPLETED_READY;
  if (decide) x->hook_flags |= HF_DECIDE;
}

void tv_actor_init(tv_actor_t *a, tv_str_t *name, const tv_policy_t *policy) {
  tv_str_unref(a->name); /* a task re-added after an earlier run */
  tv_actor_ext_free(a);
  a->name = tv_str_ref(name);
  a->policy = policy;
  a->attempt = a->streak = 0;
  a->state = TV_ACTOR_QUEUED;
  a->end = TV_END_NONE;
  a->killing = TV_KILL_NONE;
  a->cancel_requested = a->has_permit = 0;
  a->ready = a->ever_ready = a->hook = 0;
  a->kill_deadline = UINT64_MAX;
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
    case TV_ACTOR_BLOCKED:
    case TV_ACTOR_HELD:
      leave_queues(a);
      end_actor(a, TV_END_CANCELLED, NULL, NULL);
      break;
    case TV_ACTOR_RUNNING:
      if (first && !(a->ext && a->ext->hold)) task_of(a)->ops->cancel(task_of(a));
      if (!a->killing && a->state == TV_ACTOR_RUNNING) arm_running_timer(a);
      break;
    case TV_ACTOR_HOOK:
      if (!a->killing) arm_running_timer(a); /* the hook ends first, bounded */
      break;
  }
}

void tv_actor_kill(tv_actor_t *a) {
  if (a->state != TV_ACTOR_RUNNING && a->state != TV_ACTOR_HOOK) {
    tv_actor_cancel(a, UINT64_MAX);
    return;
  }
  if (a->killing == TV_KILL_FORCED) return;
  a->cancel_requested = 1;
  force_stop(a);
}

const char *tv_actor_state_name(int state) {
  static const char *const names[] = {"queued", "waiting", "running", "backoff",
                                      "done",   "blocked", "hook",    "held"};
  return (unsigned)state < 8 ? names[state] : "?";
}

const char *tv_actor_end_status(int end) {
  switch (end) {
    case TV_END_COMPLETED: return "completed";
    case TV_END_EXHAUSTED:
    case TV_END_ESCALATED: return "exhausted";
    case TV_END_DEAD: return "dead";
    case TV_END_SETUP_FAILED: return "setup_failed";
    default: return "cancelled";
  }
}
