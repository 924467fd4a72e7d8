/* actor.c - the per-task retry loop: steps and attempts, hooks, attempt
 * timeouts, stops and force-stops, group holds, and the events that narrate
 * them. Dependencies and readiness are in deps.c; what follows an attempt
 * (policy, budgets, schedules, backoff) is decided in decide.c. */
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/actor_impl.h"


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
static void end_actor(tv_actor_t *a, tv_actor_end_t end, tv_str_t *reason, const tv_failure_t *f) {
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
                     const tv_failure_t *f) {
  tv_actor_publish_end(a, kind, reason, f);
  end_actor(a, end, reason, f);
}

/* ---- hooks -------------------------------------------------------------- */

/* Starts hook h if the task has one: 1 (the actor waits in HOOK, then does
 * `then`), 0 (no such hook: carry on). */
/* A hook that could not even start (out of memory) failed: a setup hook
 * ends the task (1: the caller stops), any other is reported and the task
 * carries on (0). */
static int hook_not_started(tv_actor_t *a, tv_hook_t h) {
  static const char oom[] = "not enough memory to start it";
  if (h == TV_HOOK_SETUP) {
    tv_str_t *reason = tv_str_printf("setup failed: %s", oom);
    end_with(a, TV_EV_ACTOR_DEAD, TV_END_SETUP_FAILED, reason, NULL);
    tv_str_unref(reason);
    return 1;
  }
  tv_event_t ev = tv_actor_event(a, TV_EV_HOOK_FAILED);
  tv_str_t *reason = tv_str_printf("%s hook failed: %s", tv_hook_name(h), oom);
  tv_event_set_reason(&ev, reason);
  tv_actor_publish(a, &ev);
  tv_str_unref(reason);
  return 0;
}

static int start_hook(tv_actor_t *a, tv_hook_t h, const tv_str_t *err, int then) {
  tv_actor_ext_t *x = a->ext;
  tv_task_t *t = tv_actor_task(a);
  if (!x || !(x->hook_flags & HF_HOOKS) || !t->ops->hook) return 0;
  int r = t->ops->hook(t, h, a->attempt, err);
  if (r == 0) return 0;
  if (r < 0) return hook_not_started(a, h);
  x->then_what = (uint8_t)then;
  a->state = TV_ACTOR_HOOK;
  a->hook = (uint8_t)h;
  return 1;
}

static void step(tv_actor_t *a);
static void schedule_next(tv_actor_t *a, uint64_t delay_ns);
static void follow(tv_actor_t *a, tv_next_t *n, const tv_failure_t *f);
static void go_held(tv_actor_t *a);

/* Why a stop was forced: its own shutdown (OTP's brutal_kill or timeout), or
 * its caller's deadline (the grace). */
static tv_str_t *forced_reason(const tv_actor_t *a) {
  char buf[48];
  if (!a->ext || !a->ext->own_stop)
    return tv_str_printf("force_stopped: did not stop within its grace period");
  if (!a->policy->shutdown_ns) return tv_str_printf("force_stopped: shutdown = brutal_kill");
  return tv_str_printf("force_stopped: did not stop within its shutdown (%s)",
                       tv_fmt_duration(a->policy->shutdown_ns, buf, sizeof buf));
}

static void after_hook(tv_actor_t *a) {
  tv_actor_ext_t *x = a->ext;
  if (a->killing == TV_KILL_FORCED) { /* the grace ran out during the hook */
    a->killing = TV_KILL_NONE;
    tv_str_t *reason = forced_reason(a);
    tv_actor_publish_end(a, TV_EV_TASK_STOPPED, reason, NULL);
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
                &(tv_failure_t){NULL, r.has_exit_code, r.exit_code, 0});
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
    tv_event_t ev = tv_actor_event(a, TV_EV_HOOK_FAILED);
    tv_str_t *reason = tv_str_printf("%s hook failed: %.*s", tv_hook_name(h), (int)len,
                                     msg ? msg : "");
    tv_event_set_reason(&ev, reason);
    tv_actor_publish(a, &ev);
    tv_str_unref(reason);
  }
  after_hook(a);
}

/* ---- attempts -------------------------------------------------------------- */

/* Stops the running attempt or hook now. */
static void force_stop(tv_actor_t *a) {
  tv_task_t *t = tv_actor_task(a);
  a->killing = TV_KILL_FORCED;
  if (a->state == TV_ACTOR_HOOK)
    t->ops->hook_kill(t);
  else
    t->ops->kill(t);
}

static void run_attempt(tv_actor_t *a) {
  tv_actor_env_t *env = tv_actor_env(a);
  a->attempt++;
  a->state = TV_ACTOR_RUNNING;
  a->ready = 0;
  if (a->ext) {
    a->ext->started_at = tv_sched_now(env->sched);
    if (a->attempt == 1) a->ext->anchor = a->ext->started_at;
    a->ext->alive_at = a->ext->started_at;
  }
  if (a->ext) a->ext->hook_flags &= (uint8_t)~HF_RESTART_HOOK_RAN;
  tv_event_t ev = tv_actor_event(a, TV_EV_TASK_STARTING);
  tv_task_t *t = tv_actor_task(a);
  if (t->ops->spawn && (ev.pid = t->ops->spawn(t, a->attempt)) > 0) ev.fields |= TV_F_PID;
  tv_actor_publish(a, &ev);
  if (a->policy->timeout_ns || (a->ext && a->ext->watchdog_ms)) tv_actor_arm_deadline(a);
  t->ops->start(t, a->attempt); /* may report done before returning */
  if (a->state == TV_ACTOR_RUNNING && !(a->ext && (a->ext->hook_flags & HF_EXPLICIT_READY)))
    tv_actor_mark_ready(a);
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
    const tv_str_t *missing = NULL;
    int deps = tv_actor_deps_ready(a, &missing);
    if (deps < 0) {
      tv_str_t *reason = tv_str_printf(
          "dependency '%s' is not running: no task of that name (it must be added "
          "before this one starts, and not end before it is ready)",
          missing->s);
      end_with(a, TV_EV_ACTOR_DEAD, TV_END_DEAD, reason, NULL);
      tv_str_unref(reason);
    }
    if (deps <= 0) return;
    if (a->ext && !(a->ext->hook_flags & HF_SETUP_DONE)) {
      if (start_hook(a, TV_HOOK_SETUP, NULL, TV_THEN_STEP)) return;
      a->ext->hook_flags |= HF_SETUP_DONE;
    }
    uint64_t delay;
    tv_next_t n;
    int wait = tv_decide_first_run(a, &delay, &n);
    if (wait < 0) {
      follow(a, &n, NULL);
      return;
    }
    if (wait > 0) { /* a calendar schedule: its first run is at its first time */
      tv_actor_publish_backoff(a, delay, TV_BACKOFF_SCHEDULE, NULL);
      schedule_next(a, delay);
      return;
    }
  } else if (a->ext && !(a->ext->hook_flags & HF_RESTART_HOOK_RAN)) {
    a->ext->hook_flags |= HF_RESTART_HOOK_RAN;
    if (start_hook(a, TV_HOOK_RESTART, NULL, TV_THEN_STEP)) return;
  }
  if (!a->has_permit && !(a->ext && a->ext->exempt)) {
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
    /* The step waits its turn in the run queue, whose passes are bounded: a
     * storm of due restarts is spread over passes, timers and I/O between. */
    a->state = TV_ACTOR_QUEUED;
    tv_work_defer(tv_actor_env(a)->sched, &a->work, TV_LANE_NEXT);
    return;
  }
  if ((a->state != TV_ACTOR_RUNNING && a->state != TV_ACTOR_HOOK) || a->killing) return;
  uint64_t now = tv_sched_now(tv_actor_env(a)->sched);
  if (tv_actor_stopping(a) && now >= a->kill_deadline) {
    force_stop(a);
  } else if (now >= tv_actor_attempt_deadline(a)) {
    /* systemd's WatchdogSec: no sign of life in time fails the attempt as a
     * timeout does (TimeoutHit, reason "watchdog") */
    int wd = now >= tv_actor_watchdog_deadline(a);
    a->killing = wd ? TV_KILL_WATCHDOG : TV_KILL_TIMEOUT;
    tv_event_t ev = tv_actor_event(a, TV_EV_TIMEOUT_HIT);
    ev.timeout_ms = wd ? a->ext->watchdog_ms : tv_ns_to_ms_u32(a->policy->timeout_ns);
    ev.fields |= TV_F_TIMEOUT_MS;
    static const char why[] = "watchdog";
    tv_str_t *r = wd ? tv_str_new(why, sizeof why - 1) : NULL;
    if (r) tv_event_set_reason(&ev, r);
    tv_actor_publish(a, &ev);
    tv_str_unref(r); /* (the event borrowed it; the bus took its own) */
    tv_actor_task(a)->ops->kill(tv_actor_task(a));
  } else {
    tv_actor_arm_deadline(a);
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

/* A stop's deadline: the caller's (the grace), or the task's own shutdown
 * when that comes first (noted in own_stop, for the reason). */
static void bound_deadline(tv_actor_t *a, uint64_t kill_deadline) {
  uint64_t own = UINT64_MAX, s = a->policy->shutdown_ns;
  if (s != TV_SHUTDOWN_INFINITY && a->ext) own = tv_sched_deadline(tv_actor_env(a)->sched, s);
  if (own < kill_deadline && own < a->kill_deadline) {
    a->kill_deadline = own;
    a->ext->own_stop = 1;
  } else if (kill_deadline < a->kill_deadline) {
    a->kill_deadline = kill_deadline;
    if (a->ext) a->ext->own_stop = 0;
  }
}

/* brutal_kill: the attempt is not asked to stop; its deadline (now) kills it
 * at the loop's next turn (never from inside the caller, which may be the
 * task itself). */
static int brutal(const tv_actor_t *a) { return a->policy->shutdown_ns == 0 && a->ext; }

static void go_held(tv_actor_t *a) {
  leave_queues(a);
  a->state = TV_ACTOR_HELD;
  tv_parent_t *p = tv_actor_parent(a);
  if (p->ops->held) {
    p->ops->held(p, a);
  } else if (a->ext->opstop == TV_OPSTOP_RESTART) { /* an operator's restart (operator.c) */
    a->ext->opstop = TV_OPSTOP_NONE;
    tv_actor_resume(a, 0);
  }
}

void tv_actor_hold(tv_actor_t *a, uint64_t kill_deadline) {
  tv_actor_ext_t *x = a->ext;
  if (!x || a->state == TV_ACTOR_DONE || a->cancel_requested) return;
  x->hold = 1;
  bound_deadline(a, kill_deadline);
  switch (a->state) {
    case TV_ACTOR_RUNNING:
      if (!brutal(a)) tv_actor_task(a)->ops->cancel(tv_actor_task(a));
      if (!a->killing && a->state == TV_ACTOR_RUNNING) tv_actor_arm_deadline(a);
      break;
    case TV_ACTOR_HOOK:
      tv_actor_arm_deadline(a); /* the hook ends first, bounded by the deadline */
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

/* ---- after an attempt ------------------------------------------------------- */

/* The restart decided on goes ahead: its group may take it over (HOLD), and
 * after a failure (f) the on_error hook runs first. */
static void continue_restart(tv_actor_t *a, uint64_t delay, const tv_failure_t *f) {
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

/* Carries out decide.c's verdict on the attempt that ended (f: its failure). */
static void follow(tv_actor_t *a, tv_next_t *n, const tv_failure_t *f) {
  if (n->what == TV_NEXT_RESTART) {
    continue_restart(a, n->delay, f);
    return;
  }
  const tv_failure_t *shown = n->failed ? f : NULL;
  tv_parent_t *p = tv_actor_parent(a); /* before the end unlinks it */
  tv_actor_publish_end(a, n->event, n->reason, shown);
  end_actor(a, (tv_actor_end_t)n->end, n->reason, shown);
  if (n->escalate && p->ops->escalate) p->ops->escalate(p, a, n->reason, n->own);
  tv_str_unref(n->reason);
}

/* An attempt that started is ready, whatever it does next (unless the task
 * says itself when it is ready): one that ends before its first yield, an
 * instant crash or a quick one-shot, must not keep the rest of its group or
 * the tasks `after` it down for good. Told after the attempt's end event. */
static void started_is_ready(tv_actor_t *a) {
  if (!a->ready && !tv_actor_has(a, HF_EXPLICIT_READY)) tv_actor_mark_ready(a);
}

/* A process attempt that needed SIGKILL (its end events say so). */
static int t_killed(tv_actor_t *a) {
  const tv_task_t *t = tv_actor_task(a);
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
    tv_str_t *reason = forced_reason(a);
    tv_event_t ev = tv_actor_event(a, TV_EV_TASK_STOPPED);
    tv_event_set_reason(&ev, reason);
    if (t_killed(a)) ev.fields |= TV_F_KILLED;
    tv_actor_publish(a, &ev);
    started_is_ready(a);
    if (held)
      go_held(a);
    else
      finish(a, TV_END_FORCED, &(tv_actor_result_t){reason, 0, 0});
    tv_str_unref(reason);
    return;
  }

  tv_outcome_kind_t kind = o->kind;
  tv_failure_t f = {NULL, o->has_exit_code, o->exit_code, o->term_signal};
  tv_str_t *traceback = NULL;
  if (killing == TV_KILL_WATCHDOG || killing == TV_KILL_TIMEOUT) {
    kind = TV_OUTCOME_FAIL;
    f.has_code = 0;
    f.sig = 0;
    f.display = tv_actor_deadline_reason(a, killing);
  } else if (held) {
    kind = TV_OUTCOME_CANCELED; /* stopped by its group, whatever it reported */
  } else if (kind == TV_OUTCOME_FAIL || kind == TV_OUTCOME_FATAL) {
    f.display = tv_str_printf(kind == TV_OUTCOME_FAIL ? "execution failed: %.*s"
                                                      : "fatal error (no retry): %.*s",
                              (int)o->msg_len, o->msg ? o->msg : "");
    traceback = o->traceback;
  }
  if (!f.display) f.sig = 0;

  tv_event_t ev = tv_actor_event(a, f.display ? TV_EV_TASK_FAILED : TV_EV_TASK_STOPPED);
  /* an operator's stop (operator.c) is told by this attempt's end */
  tv_str_t *op = held && !f.display && a->ext->opstop ? tv_str_printf("operator") : NULL;
  tv_event_set_reason(&ev, f.display ? f.display : op);
  tv_event_set_exit_code(&ev, f.has_code, f.code);
  tv_event_set_signal(&ev, f.sig);
  if (t_killed(a)) ev.fields |= TV_F_KILLED;
  if (traceback) {
    ev.traceback = traceback;
    ev.fields |= TV_F_TRACEBACK;
  }
  tv_actor_publish(a, &ev);
  tv_str_unref(op);
  started_is_ready(a);

  if (held && !f.display) {
    go_held(a);
  } else if (a->cancel_requested || kind == TV_OUTCOME_CANCELED) {
    end_actor(a, TV_END_CANCELLED, f.display, &f);
  } else if (kind == TV_OUTCOME_OK) {
    tv_next_t n;
    tv_decide_after_success(a, &n);
    follow(a, &n, NULL);
  } else if (kind == TV_OUTCOME_FATAL) {
    end_with(a, TV_EV_ACTOR_DEAD, TV_END_DEAD, f.display, &f);
  } else {
    tv_next_t n;
    tv_decide_after_failure(a, &f, &n);
    follow(a, &n, &f);
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
  bound_deadline(a, kill_deadline); /* hooks run on the way out are bounded by it too */
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
      if (first && !(a->ext && a->ext->hold) && !brutal(a))
        tv_actor_task(a)->ops->cancel(tv_actor_task(a));
      if (!a->killing && a->state == TV_ACTOR_RUNNING) tv_actor_arm_deadline(a);
      break;
    case TV_ACTOR_HOOK:
      if (!a->killing) tv_actor_arm_deadline(a); /* the hook ends first, bounded */
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
  if (a->ext) a->ext->own_stop = 0; /* forced by its caller (the grace), not its shutdown */
  force_stop(a);
}
