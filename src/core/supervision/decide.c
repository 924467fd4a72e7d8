/* decide.c - what follows an ended attempt: the restart policy, the task's
 * own policy functions, `every` schedules, backoff, and the restart budgets
 * (the task's and its parent's) with their on_exhausted actions. It returns
 * a verdict (tv_next_t) and publishes only BackoffScheduled; actor.c acts on
 * the verdict. Calls only downward (deps.c, budgets, the clock, events). */
#include <stdio.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/actor_impl.h"

static void end_verdict(tv_next_t *n, tv_event_kind_t event, tv_actor_end_t end,
                        tv_str_t *reason, int failed) {
  n->what = TV_NEXT_END;
  n->event = event;
  n->end = (uint8_t)end;
  n->reason = reason; /* taken over */
  n->failed = (uint8_t)failed;
}

/* How long the last attempt ran (0 without an ext: nothing asks then). */
static uint64_t ran_for_ns(const tv_actor_t *a) {
  if (!a->ext) return 0;
  return (tv_sched_now(tv_actor_env(a)->sched) - a->ext->started_at) * TV_NS_PER_MS;
}

/* The task's own answer (a Lua function), if it has one. -1: the function
 * failed and the verdict says the task dies. */
static int ask(tv_actor_t *a, tv_decision_t *d, int *answered, tv_next_t *n) {
  tv_task_t *t = tv_actor_task(a);
  *answered = 0; /* only tasks that have their own functions are asked: not a hot-path call */
  if (!tv_actor_has(a, HF_DECIDE) || !t->ops->decide) return 0;
  d->attempt = a->attempt;
  d->streak = a->streak;
  d->ran_for_ns = ran_for_ns(a);
  d->last_delay_ns = a->ext->last_delay;
  d->error = NULL;
  int r = t->ops->decide(t, d);
  if (r < 0) {
    static const char *const whats[] = {"restart", "backoff", "schedule"};
    tv_str_t *reason = d->error ? d->error : tv_str_printf("%s function failed", whats[d->what]);
    end_verdict(n, TV_EV_ACTOR_DEAD, TV_END_DEAD, reason, 0);
    return -1;
  }
  *answered = r > 0;
  return 0;
}

/* A calendar schedule's delay until its next run, from the task. 0, or -1
 * when it could not say (the verdict in n ends the task). */
static int calendar_delay(tv_actor_t *a, uint64_t *delay, tv_next_t *n) {
  tv_decision_t d = {.what = TV_DECIDE_SCHEDULE,
                     .wall_now = tv_clock_wall(tv_actor_env(a)->sched->clock)};
  int answered;
  if (ask(a, &d, &answered, n) < 0) return -1;
  if (!answered) {
    static const char none[] = "schedule function failed: the task has no calendar";
    end_verdict(n, TV_EV_ACTOR_DEAD, TV_END_DEAD, tv_str_new(none, sizeof none - 1), 0);
    return -1;
  }
  /* The timer counts from the loop's cached time, which lags the clock by
   * whatever this loop pass has taken so far (and libuv's coarse clock by a
   * few ms): without the lag and a small margin the run started just before
   * its second (two runs in one second of a "*:*:*" calendar, seen under
   * valgrind). */
  tv_clock_t *c = tv_actor_env(a)->sched->clock;
  uint64_t margin = 5 * TV_NS_PER_MS;
  if (!tv_clock_is_virtual(c)) {
    uint64_t fresh = tv_clock_hrtime(c), cached = tv_clock_now(c) * TV_NS_PER_MS;
    if (fresh > cached) margin += fresh - cached;
  } else {
    margin = 0; /* virtual time is exact */
  }
  *delay = d.delay_ns + margin;
  return 0;
}

int tv_decide_first_run(tv_actor_t *a, uint64_t *delay, tv_next_t *n) {
  *n = (tv_next_t){0};
  if (!a->ext || a->ext->calendar != 1) return 0;
  a->ext->calendar = 2;
  return calendar_delay(a, delay, n) < 0 ? -1 : 1;
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

/* A budget said no: what its on_exhausted says. 2: the task goes on after a
 * cooldown (*delay; BackoffScheduled published), 0: the verdict ends it. */
static int over_budget(tv_actor_t *a, const tv_budget_cfg_t *cfg, tv_budget_t *b,
                       const char *whose, uint64_t *delay, int failed, tv_next_t *n) {
  char win[48];
  tv_fmt_duration(cfg->within_ns, win, sizeof win);
  if (cfg->action == TV_EXHAUST_COOLDOWN) {
    char cool[48];
    tv_budget_reset(b); /* a fresh budget; the failure streak (max_retries) goes on */
    *delay = cfg->cooldown_ns;
    tv_str_t *reason = tv_str_printf(
        "restart intensity exceeded: more than %u restarts within %s (%s); cooling down for %s",
        cfg->max, win, whose, tv_fmt_duration(cfg->cooldown_ns, cool, sizeof cool));
    tv_actor_publish_backoff(a, *delay, TV_BACKOFF_COOLDOWN, reason);
    tv_str_unref(reason);
    return 2;
  }
  int escalate = cfg->action == TV_EXHAUST_ESCALATE;
  tv_str_t *reason = tv_str_printf("restart intensity exceeded: more than %u restarts within %s "
                                   "(%s)%s%s",
                                   cfg->max, win, whose, escalate ? "; escalating to the " : "",
                                   escalate ? tv_actor_parent(a)->what : "");
  end_verdict(n, TV_EV_ACTOR_EXHAUSTED, escalate ? TV_END_ESCALATED : TV_END_EXHAUSTED, reason,
              failed);
  n->escalate = (uint8_t)escalate;
  n->own = cfg == &a->policy->budget;
  return 0;
}

/* Counts the restart in the task's and its parent's budgets: 1 within both,
 * else what over_budget said. */
static int take_budgets(tv_actor_t *a, uint64_t *delay, int failed, tv_next_t *n) {
  const tv_budget_cfg_t *own = &a->policy->budget;
  tv_parent_t *p = tv_actor_parent(a);
  if (!own->limited && !p->cfg.limited) return 1; /* the common case: no budget at all */
  uint64_t now = tv_sched_now(tv_actor_env(a)->sched);
  if (own->limited && a->ext && tv_budget_take(&a->ext->budget, own, now) == 0)
    return over_budget(a, own, &a->ext->budget, "the task's budget", delay, failed, n);
  if (p->cfg.limited && tv_budget_take(&p->budget, &p->cfg, now) == 0) {
    char whose[160];
    snprintf(whose, sizeof whose, "the %s's budget", p->what);
    return over_budget(a, &p->cfg, &p->budget, whose, delay, failed, n);
  }
  return 1;
}

/* The task restarts after `delay` (BackoffScheduled from `source` with
 * reason `why`), unless a budget says otherwise. */
static void restart_verdict(tv_actor_t *a, uint64_t delay, int source, tv_str_t *why,
                            int failed, tv_next_t *n) {
  int r = take_budgets(a, &delay, failed, n);
  if (r == 0) return;
  if (r == 1 && (source != TV_BACKOFF_SUCCESS || delay))
    tv_actor_publish_backoff(a, delay, source, why);
  n->what = TV_NEXT_RESTART;
  n->delay = delay;
}

void tv_decide_after_success(tv_actor_t *a, tv_next_t *n) {
  *n = (tv_next_t){0};
  a->streak = 0;
  int restart = a->policy->restart == TV_RESTART_ALWAYS, answered;
  tv_outcome_t ok = {TV_OUTCOME_OK, 0, 0, NULL, 0, NULL, 0};
  tv_decision_t d = {.what = TV_DECIDE_RESTART, .outcome = &ok};
  if (ask(a, &d, &answered, n) < 0) return;
  if (answered) restart = d.restart;
  if (!restart) {
    if (!a->ever_ready) tv_actor_mark_ready(a); /* a one-shot that completed satisfies its dependents */
    static const char done[] = "policy_exhausted_success";
    end_verdict(n, TV_EV_ACTOR_EXHAUSTED, TV_END_COMPLETED, tv_str_new(done, sizeof done - 1), 0);
    return;
  }
  if (a->ext && a->ext->calendar) {
    uint64_t delay;
    if (calendar_delay(a, &delay, n) == 0) restart_verdict(a, delay, TV_BACKOFF_SCHEDULE, NULL, 0, n);
    return;
  }
  if (a->policy->every_ns && a->ext) {
    uint32_t skipped;
    uint64_t delay = next_slot(a, &skipped);
    tv_str_t *why = skipped ? tv_str_printf("schedule: %u run%s skipped (the last run overran)",
                                            skipped, skipped == 1 ? "" : "s")
                            : NULL;
    restart_verdict(a, delay, TV_BACKOFF_SCHEDULE, why, 0, n);
    tv_str_unref(why);
    return;
  }
  restart_verdict(a, a->policy->interval_ns, TV_BACKOFF_SUCCESS, NULL, 0, n);
}

void tv_decide_after_failure(tv_actor_t *a, const tv_failure_t *f, tv_next_t *n) {
  *n = (tv_next_t){0};
  int answered;
  uint64_t ran_for = ran_for_ns(a);
  if (a->policy->reset_after_ns && ran_for >= a->policy->reset_after_ns) {
    a->streak = 0; /* it had been up long enough: a fresh start */
    if (a->ext) tv_budget_reset(&a->ext->budget);
  }
  int restart = a->policy->restart != TV_RESTART_NEVER;
  tv_outcome_t seen = {TV_OUTCOME_FAIL, f->has_code, f->code, f->display ? f->display->s : "",
                       f->display ? f->display->len : 0, NULL, f->sig};
  tv_decision_t d = {.what = TV_DECIDE_RESTART, .outcome = &seen};
  if (ask(a, &d, &answered, n) < 0) return;
  if (answered) restart = d.restart;
  uint32_t max = a->policy->max_retries;
  int exhausted = restart && max > 0 && a->streak >= max;
  if (!restart || exhausted) {
    tv_str_t *reason = exhausted ? tv_str_printf("max_retries_exceeded(%u/%u): %s", a->streak,
                                                 max, f->display ? f->display->s : "")
                                 : tv_str_ref(f->display);
    end_verdict(n, TV_EV_ACTOR_EXHAUSTED, TV_END_EXHAUSTED, reason, 1);
    return;
  }
  uint64_t delay;
  int source = TV_BACKOFF_FAILURE;
  if (a->ext && a->ext->calendar) { /* a failure also waits for the next run */
    if (calendar_delay(a, &delay, n) < 0) return;
    source = TV_BACKOFF_SCHEDULE;
  } else if (a->policy->every_ns && a->ext) {
    uint32_t skipped;
    delay = next_slot(a, &skipped);
    source = TV_BACKOFF_SCHEDULE;
  } else {
    delay = tv_backoff_next_ns(&a->policy->backoff, a->streak, tv_actor_env(a)->rng);
    d.what = TV_DECIDE_BACKOFF;
    if (ask(a, &d, &answered, n) < 0) return;
    if (answered) delay = d.delay_ns;
  }
  a->streak++;
  restart_verdict(a, delay, source, f->display, 1, n);
}
