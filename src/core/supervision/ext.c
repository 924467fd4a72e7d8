/* ext.c - an actor's optional state (budgets, schedules, dependencies,
 * groups, hooks): made on first use, so a plain task carries none of it.
 * The bottom of the retry loop's files: calls nothing above it. */
#include <stdlib.h>

#include <string.h>

#include "core/supervision/actor_impl.h"
#include "core/supervision/status.h"

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
  for (uint32_t i = 0; i < x->nafter; i++) {
    tv_str_unref(x->after[i]);
    tv_str_unref(x->needs[i]);
  }
  free(x->after);
  tv_str_unref(x->then.reason);
  tv_str_unref(x->last_reason);
  free(x);
  a->ext = NULL;
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

/* Clock ms the running attempt's watchdog expires, or UINT64_MAX. */
uint64_t tv_actor_watchdog_deadline(const tv_actor_t *a) {
  if (a->state != TV_ACTOR_RUNNING || !a->ext || !a->ext->watchdog_ms) return UINT64_MAX;
  /* systemd: "activated when the start-up is completed". A task that says
   * when it is ready (ready = "notify", a check, ctx:ready()) is watched
   * from then on (tv_task_ready), so a slow start is not a hang. */
  if (!a->ready && tv_actor_has(a, HF_EXPLICIT_READY)) return UINT64_MAX;
  return a->ext->alive_at + a->ext->watchdog_ms;
}

/* Clock ms of the running attempt's timeout or watchdog, or UINT64_MAX. */
uint64_t tv_actor_attempt_deadline(const tv_actor_t *a) {
  uint64_t wd = tv_actor_watchdog_deadline(a);
  if (a->state != TV_ACTOR_RUNNING || !a->policy->timeout_ns) return wd;
  uint64_t ms = tv_ms_ceil(a->policy->timeout_ns);
  uint64_t at = a->ext ? a->ext->started_at : 0; /* timeouts have an ext */
  uint64_t due = ms > UINT64_MAX - at ? UINT64_MAX : at + ms;
  return due < wd ? due : wd;
}

/* While running (or in a hook), the timer serves the attempt timeout and
 * watchdog and, once a stop was requested, the force-stop deadline:
 * whichever comes first. */
void tv_actor_arm_deadline(tv_actor_t *a) {
  uint64_t due = tv_actor_attempt_deadline(a);
  if (tv_actor_stopping(a) && a->kill_deadline < due) due = a->kill_deadline;
  if (due == UINT64_MAX)
    tv_timer_stop(tv_actor_env(a)->sched, &a->timer);
  else
    tv_timer_start_at(tv_actor_env(a)->sched, &a->timer, due);
}

/* ---- the state an operator sees (status.h) ---------------------------------- */

void tv_actor_show(tv_actor_t *a, int state) {
  if (a->shown == (unsigned)state) return;
  a->shown = (uint8_t)state;
  a->since = tv_sched_now(tv_actor_env(a)->sched);
}

static void note_end(tv_actor_t *a, const tv_event_t *ev, int failed) {
  tv_actor_ext_t *x = a->ext;
  if (!x) {
    if (!failed) return; /* a task that never failed: its attempts ended well */
    /* A failure for want of memory makes no record that needs memory: a host
     * out of it would otherwise spend what is left on 300 bytes per task,
     * and its Lua heap in one emergency collection after another. */
    if ((ev->fields & TV_F_REASON) && ev->reason && strstr(ev->reason->s, "not enough memory")) return;
    uint64_t now = tv_sched_now(tv_actor_env(a)->sched);
    x = tv_actor_ext(a);
    if (!x) return; /* no memory: the view shows no last exit */
    x->self = a;
    x->started_at = x->anchor = now; /* unknown before: from now */
  }
  x->last_at = tv_sched_now(tv_actor_env(a)->sched);
  x->last_failed = (uint8_t)failed;
  x->last_has_code = (ev->fields & TV_F_EXIT_CODE) != 0;
  x->last_code = x->last_has_code ? ev->exit_code : 0;
  x->last_signal = (ev->fields & TV_F_SIGNAL) ? (uint8_t)ev->signal : 0;
  if (failed) {
    int cause = x->timed_out          ? TV_CAUSE_TIMEOUT
                : x->last_signal      ? TV_CAUSE_SIGNAL
                : x->last_has_code    ? TV_CAUSE_EXIT_CODE
                                      : TV_CAUSE_ERROR;
    x->failures[cause]++;
  }
  x->timed_out = 0;
  tv_str_t *r = (ev->fields & TV_F_REASON) ? ev->reason : NULL;
  if (r != x->last_reason) {
    tv_str_ref(r);
    tv_str_unref(x->last_reason);
    x->last_reason = r;
  }
}

static int reason_is(const tv_event_t *ev, const char *s) {
  return (ev->fields & TV_F_REASON) && ev->reason && strcmp(ev->reason->s, s) == 0;
}

void tv_actor_note(tv_actor_t *a, const tv_event_t *ev) {
  /* (TaskStarting is kept inline by tv_actor_publish; TaskAdded and
   * TaskRemoveRequested by the supervisor, which publishes them) */
  switch (ev->kind) {
  case TV_EV_TASK_READY: tv_actor_show(a, TV_ST_RUNNING); break;
  case TV_EV_BACKOFF_SCHEDULED: tv_actor_show(a, TV_ST_BACKOFF); break;
  case TV_EV_TASK_FAILED: note_end(a, ev, 1); break;
  case TV_EV_TIMEOUT_HIT:
    if (a->ext) a->ext->timed_out = 1;
    break;
  case TV_EV_TASK_STOPPED:
    note_end(a, ev, 0);
    if (reason_is(ev, "operator")) tv_actor_show(a, TV_ST_STOPPED);
    break;
  case TV_EV_ACTOR_EXHAUSTED:
    tv_actor_show(a, reason_is(ev, "policy_exhausted_success") ? TV_ST_EXITED : TV_ST_FATAL);
    break;
  case TV_EV_ACTOR_DEAD: tv_actor_show(a, TV_ST_FATAL); break;
  default: break;
  }
}
