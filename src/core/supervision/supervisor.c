/* supervisor.c - registry operations, shutdown and drain, natural completion. */
#include "core/supervision/supervisor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/cycle.h"
#include "core/supervision/status.h"

#define container_of tv_container_of

static void publish_simple(tv_sup_t *s, tv_event_kind_t kind, tv_str_t *task,
                           const char *reason) {
  tv_event_t ev = tv_event_make(kind);
  tv_str_t *r = reason ? tv_str_new(reason, strlen(reason)) : NULL;
  if (task) ev.task = task, ev.fields |= TV_F_TASK;
  if (r) ev.reason = r, ev.fields |= TV_F_REASON;
  tv_bus_publish(&s->bus, &ev);
  tv_str_unref(r);
}

static void defer_check(tv_sup_t *s) {
  if (!s->destroying) tv_work_defer(s->sched, &s->check_work, TV_LANE_NEXT);
}

/* Shutdown's stop order. Each task that others start `after` counts its
 * live dependents; it is cancelled when the last of them has ended. */
static void count_dependents(void *x, void *arg) {
  tv_sup_t *s = arg;
  tv_actor_t *a = x;
  tv_actor_ext_t *ax = a->ext;
  for (uint32_t i = 0; ax && i < ax->nafter; i++) {
    tv_actor_t *d = tv_registry_find(&s->reg, ax->needs[i]->s, ax->needs[i]->len);
    tv_actor_ext_t *dx = d && d != a ? tv_actor_ext(d) : NULL; /* no memory: it stops at once */
    if (dx) dx->dependents++;
  }
}
/* Not stopping yet, not a group's child (its group stops it), and none of
 * its dependents left. */
static int free_to_stop(void *x, void *arg) {
  const tv_actor_t *a = x;
  return !a->cancel_requested && !(a->ext && (a->ext->parent || a->ext->dependents));
}

/* Task a, stopping in a shutdown, ended: its dependencies may stop now. */
static void release_needs(tv_sup_t *s, tv_actor_t *a) {
  tv_actor_ext_t *ax = a->ext;
  for (uint32_t i = 0; ax && i < ax->nafter; i++) {
    tv_actor_t *d = tv_registry_find(&s->reg, ax->needs[i]->s, ax->needs[i]->len);
    if (!d || !d->ext || !d->ext->dependents) continue;
    if (--d->ext->dependents == 0 && !d->cancel_requested && !d->ext->parent)
      tv_actor_cancel(d, UINT64_MAX);
  }
}

/* ---- actor lifecycle ------------------------------------------------------ */

static void add_stuck(tv_sup_t *s, tv_str_t *name) {
  if (s->nstuck == s->capstuck) {
    uint32_t cap = s->capstuck ? s->capstuck * 2 : 8;
    tv_str_t **a = realloc(s->stuck, cap * sizeof *a);
    if (!a) {
      s->stuck_unnamed++; /* still counts: the verdict stays GraceExceeded */
      return;
    }
    s->stuck = a;
    s->capstuck = cap;
  }
  s->stuck[s->nstuck++] = tv_str_ref(name);
}

static void notify_watches(tv_sup_t *s, tv_actor_t *a) {
  tv_link_t *l = s->watches.next;
  while (l != &s->watches) {
    tv_sup_watch_t *w = container_of(l, tv_sup_watch_t, link);
    l = l->next;
    if (w->actor != a) continue;
    tv_sup_unwatch(w);
    w->removed(w);
    l = s->watches.next; /* the callback may have changed the list */
  }
}

/* A task ends (`ending`) or became ready (`ready`): what waits for it learns
 * it (an end before the task leaves the registry, so a completed one-shot
 * still counts). Only the waiters that name it are re-examined: a readiness
 * changes nothing for the others (each re-examination looks every dependency
 * up; a 10,000-task chain started in 1.5 s, now 0.6 s). NULL for both: every
 * blocked task. */
static void recheck_blocked(tv_sup_t *s, const tv_actor_t *ending, const tv_actor_t *ready) {
  tv_link_t *l = s->blocked.next;
  while (l != &s->blocked) {
    tv_actor_ext_t *x = container_of(l, tv_actor_ext_t, blocked);
    l = l->next;
    tv_actor_t *b = x->self;
    if (ending) tv_actor_dep_ended(b, ending);
    else if (!ready || tv_actor_waits_for(b, ready->name)) tv_actor_recheck(b);
  }
}

/* OTP's auto_shutdown for top-level tasks (a group's children are its own). */
static int live_significant(void *x, void *arg) {
  const tv_actor_t *a = x;
  (void)arg;
  return a->policy->significant && !(a->ext && a->ext->parent);
}
static void count_one(void *x, void *arg) {
  (void)x;
  ++*(uint32_t *)arg;
}

static void auto_shutdown(tv_sup_t *s, tv_actor_t *a) {
  int mode = s->parent.auto_shutdown;
  if (mode == TV_AUTO_NEVER || !a->policy->significant || (a->ext && a->ext->parent) ||
      s->state != TV_SUP_OPEN || !tv_actor_ended_by_itself(a))
    return;
  if (mode == TV_AUTO_ALL_SIGNIFICANT) {
    uint32_t left = 0;
    tv_namemap_each(&s->reg, live_significant, count_one, &left);
    if (left) return;
  }
  tv_str_t *why = tv_auto_shutdown_reason(a, mode);
  tv_event_t ev = tv_event_make(TV_EV_AUTO_SHUTDOWN);
  if (why) ev.reason = why, ev.fields |= TV_F_REASON;
  tv_bus_publish(&s->bus, &ev);
  tv_str_unref(why);
  tv_sup_shutdown(s, "auto_shutdown");
}

static void on_actor_finish(tv_actor_t *a, const tv_actor_result_t *r) {
  tv_sup_t *s = tv_actor_env(a)->data;
  if (!s->destroying && !tv_list_empty(&s->blocked)) recheck_blocked(s, a, NULL);
  tv_registry_remove(&s->reg, a);
  if (!s->destroying) {
    /* out of memory: the previous record of the name stays (noted nowhere else) */
    (void)tv_outcomes_record(&s->outcomes, a->name, a->end, a->attempt, r->reason,
                             r->has_exit_code, r->exit_code, tv_sched_now(s->sched),
                             container_of(a, tv_task_t, actor)->ops->kind);
    publish_simple(s, TV_EV_TASK_REMOVED, a->name,
                   a->end == TV_END_FORCED ? "force_stopped" : NULL);
    /* stuck: force-stopped by the shutdown's shared deadline (not by the
     * earlier deadline of its own removal) */
    if (a->end == TV_END_FORCED && s->state == TV_SUP_STOPPING &&
        tv_sched_now(s->sched) >= s->deadline)
      add_stuck(s, a->name);
    notify_watches(s, a);
    if (s->on_removed) s->on_removed(s, a);
    tv_parent_t *p = a->ext ? a->ext->parent : NULL;
    if (p && p->ops->finished) p->ops->finished(p, a);
    if (s->state == TV_SUP_STOPPING) release_needs(s, a);
    auto_shutdown(s, a); /* after its TaskRemoved: the shutdown's events follow it */
  }
  a->hnext = s->reap;
  s->reap = a;
  if (!s->destroying) tv_work_defer(s->sched, &s->reap_work, TV_LANE_NEXT);
  defer_check(s);
}

/* The last the supervisor does with a task: give it back to its owner. */
static void reap_all(tv_sup_t *s) {
  while (s->reap) {
    tv_actor_t *a = s->reap;
    s->reap = a->hnext;
    a->hnext = NULL;
    tv_policy_pool_put(&s->policies, a->policy);
    a->policy = NULL;
    tv_timer_unreserve(s->sched, &a->timer);
    tv_task_t *t = container_of(a, tv_task_t, actor);
    t->ops->release(t);
  }
}

static void on_reap(tv_work_t *w) { reap_all(container_of(w, tv_sup_t, reap_work)); }

/* ---- completion --------------------------------------------------------- */

static void close_sup(tv_sup_t *s) {
  s->state = TV_SUP_CLOSED;
  tv_timer_stop(s->sched, &s->timer);
  if (s->on_closed) s->on_closed(s);
}

static int cmp_str(const void *x, const void *y) {
  return tv_str_cmp(*(tv_str_t *const *)x, *(tv_str_t *const *)y);
}

static void publish_verdict(tv_sup_t *s) {
  if (!s->nstuck && !s->stuck_unnamed) {
    publish_simple(s, TV_EV_ALL_STOPPED_WITHIN_GRACE, NULL, NULL);
    return;
  }
  s->grace_exceeded = 1;
  if (s->nstuck) qsort(s->stuck, s->nstuck, sizeof *s->stuck, cmp_str); /* stuck may be NULL */
  size_t len = 0;
  for (uint32_t i = 0; i < s->nstuck; i++) len += s->stuck[i]->len + 2;
  char *list = malloc(len + 1), *p = list;
  if (list) {
    for (uint32_t i = 0; i < s->nstuck; i++) {
      if (i) *p++ = ',', *p++ = ' ';
      memcpy(p, s->stuck[i]->s, s->stuck[i]->len);
      p += s->stuck[i]->len;
    }
    *p = '\0';
  }
  char buf[48], more[64] = "";
  if (s->stuck_unnamed)
    snprintf(more, sizeof more, "%s%u more (no memory to name them)", s->nstuck ? " and " : "",
             (unsigned)s->stuck_unnamed);
  s->verdict = tv_str_printf(s->forced ? "shutdown forced by a second signal (before its %s timeout); stuck: %s%s"
                                       : "shutdown timeout %s exceeded; stuck: %s%s",
                             tv_fmt_duration(s->grace_ns, buf, sizeof buf),
                             list ? list : s->nstuck ? "?" : "", more);
  free(list);
  tv_event_t ev = tv_event_make(TV_EV_GRACE_EXCEEDED);
  if (s->verdict) ev.reason = s->verdict, ev.fields |= TV_F_REASON;
  tv_bus_publish(&s->bus, &ev);
}

static void check(tv_sup_t *s) {
  if (s->state == TV_SUP_OPEN) {
    if (!s->running || s->reg.count) return;
    s->state = TV_SUP_DRAINING;
    s->natural = 1;
    s->deadline = tv_sched_deadline(s->sched, s->grace_ns);
    tv_timer_start_at(s->sched, &s->timer, s->deadline);
  }
  if (s->state == TV_SUP_STOPPING) {
    if (s->reg.count) return;
    publish_verdict(s);
    s->state = TV_SUP_DRAINING;
    uint64_t now = tv_sched_now(s->sched);
    tv_timer_start_at(s->sched, &s->timer, s->deadline > now ? s->deadline : now);
  }
  if (s->state == TV_SUP_DRAINING && tv_bus_drained(&s->bus)) close_sup(s);
}

static void on_check(tv_work_t *w) { check(container_of(w, tv_sup_t, check_work)); }

static void on_bus_park(tv_bus_t *bus) {
  tv_sup_t *s = bus->data;
  if (s->state == TV_SUP_DRAINING) defer_check(s);
}

/* Per-task steps of a shutdown, for tv_namemap_each: they need no memory. */
static int unmarked(void *x, void *arg) {
  const tv_actor_t *a = x;
  return a->ext && !a->ext->shutdown;
}
static void mark_shutdown(void *x, void *arg) { ((tv_actor_t *)x)->ext->shutdown = 1; }
static void cancel_one(void *a, void *arg) { tv_actor_cancel(a, UINT64_MAX); }
static int not_killed(void *x, void *arg) {
  const tv_actor_t *a = x;
  return a->state != TV_ACTOR_RUNNING || a->killing != TV_KILL_FORCED;
}
static void kill_one(void *a, void *arg) { tv_actor_kill(a); }

static void kill_all(tv_sup_t *s) { tv_namemap_each(&s->reg, not_killed, kill_one, NULL); }

static void on_timer(tv_timer_t *t) {
  tv_sup_t *s = container_of(t, tv_sup_t, timer);
  if (s->state == TV_SUP_STOPPING) {
    kill_all(s); /* the grace deadline: whatever still runs is stuck */
    defer_check(s);
  } else if (s->state == TV_SUP_DRAINING) {
    close_sup(s); /* subscribers that did not finish in time lose the rest */
  }
}

/* ---- public ---------------------------------------------------------------- */

void tv_sup_opts_default(tv_sup_opts_t *o) {
  o->grace_ns = 60ull * 1000000000ull;
  o->max_concurrent = 0;
  o->queue_capacity = 1024;
  o->seed = 0;
  o->seeded = 0;
  o->budget = tv_budget_none(TV_EXHAUST_ESCALATE);
  o->keep_outcomes = TV_OUTCOMES_DEFAULT;
  o->auto_shutdown = TV_AUTO_NEVER;
}

/* ---- the supervisor as its top-level tasks' parent ------------------------ */

static void sup_ready(tv_parent_t *p, tv_actor_t *child) {
  tv_sup_t *s = container_of(p, tv_sup_t, parent);
  if (!tv_list_empty(&s->blocked)) recheck_blocked(s, NULL, child);
}

static void sup_escalate(tv_parent_t *p, tv_actor_t *child, tv_str_t *reason, int own) {
  (void)own; /* either way the reason names the budget */
  tv_sup_t *s = container_of(p, tv_sup_t, parent);
  if (s->did_escalate || s->destroying) return;
  s->did_escalate = 1;
  s->escalated = tv_str_printf("task '%s': %s", child->name->s, reason ? reason->s : "");
  tv_event_t ev = tv_event_make(TV_EV_ESCALATED);
  ev.task = child->name;
  ev.fields |= TV_F_TASK;
  if (s->escalated) ev.reason = s->escalated, ev.fields |= TV_F_REASON;
  tv_bus_publish(&s->bus, &ev);
  tv_sup_shutdown(s, "escalated");
}

static const tv_parent_ops_t sup_parent_ops = {NULL, sup_escalate, sup_ready, NULL, NULL};

static int dep_state(tv_actor_env_t *env, const tv_str_t *name) {
  tv_sup_t *s = env->data;
  tv_actor_t *d = tv_registry_find(&s->reg, name->s, name->len);
  if (!d) return -1;
  return d->ever_ready ? 1 : 0;
}

int tv_sup_new(tv_sup_t **out, tv_sched_t *sched, const tv_sup_opts_t *o) {
  tv_sup_t *s = calloc(1, sizeof *s);
  if (!s) return TV_ENOMEM;
  s->sched = sched;
  tv_bus_init(&s->bus, sched->clock);
  s->bus.on_park = on_bus_park;
  s->bus.data = s;
  tv_sem_init(&s->sem, o->max_concurrent, tv_actor_granted);
  tv_rng_seed(&s->rng, o->seeded ? o->seed : tv_rng_os_seed());
  s->env.sched = sched;
  s->env.bus = &s->bus;
  s->env.sem = &s->sem;
  s->env.rng = &s->rng;
  s->env.on_finish = on_actor_finish;
  s->env.dep_state = dep_state;
  s->env.parent = &s->parent;
  s->env.blocked = &s->blocked;
  s->env.data = s;
  s->parent.ops = &sup_parent_ops;
  s->parent.what = "supervisor";
  s->parent.cfg = o->budget;
  s->parent.auto_shutdown = o->auto_shutdown;
  tv_budget_init(&s->parent.budget);
  tv_list_init(&s->blocked);
  tv_outcomes_init(&s->outcomes, o->keep_outcomes);
  tv_registry_init(&s->reg);
  tv_policy_pool_init(&s->policies, &s->env);
  s->grace_ns = o->grace_ns;
  s->queue_capacity = o->queue_capacity ? o->queue_capacity : 1024;
  s->state = TV_SUP_OPEN;
  tv_timer_init(&s->timer, on_timer);
  if (tv_timer_reserve(sched, &s->timer) != 0) { /* the grace deadline must arm */
    free(s);
    return TV_ENOMEM;
  }
  tv_work_init(&s->check_work, on_check);
  tv_work_init(&s->reap_work, on_reap);
  tv_list_init(&s->watches);
  *out = s;
  return 0;
}

static int registered(void *a, void *arg) { return 1; }
static void detach_one(void *x, void *arg) {
  tv_actor_t *a = x;
  tv_actor_kill(a);
  if (a->state != TV_ACTOR_DONE) { /* a kill that completes later: detach */
    tv_timer_stop(tv_actor_env(a)->sched, &a->timer);
    a->state = TV_ACTOR_DONE;
    a->end = TV_END_FORCED;
    on_actor_finish(a, &(tv_actor_result_t){NULL, 0, 0});
  }
}

void tv_sup_destroy(tv_sup_t *s) {
  s->destroying = 1;
  tv_bus_close(&s->bus);
  tv_namemap_each(&s->reg, registered, detach_one, NULL);
  while (!tv_list_empty(&s->watches))
    tv_sup_unwatch(container_of(s->watches.next, tv_sup_watch_t, link));
  tv_timer_stop(s->sched, &s->timer);
  tv_timer_unreserve(s->sched, &s->timer);
  tv_work_cancel(&s->check_work);
  tv_work_cancel(&s->reap_work);
  reap_all(s);
  for (uint32_t i = 0; i < s->nstuck; i++) tv_str_unref(s->stuck[i]);
  free(s->stuck);
  tv_str_unref(s->verdict);
  tv_str_unref(s->escalated);
  tv_budget_free(&s->parent.budget);
  tv_outcomes_free(&s->outcomes);
  tv_registry_free(&s->reg);
  tv_policy_pool_free(&s->policies);
  free(s);
}

int tv_sup_add(tv_sup_t *s, const char *name, size_t len, const tv_policy_t *p,
               tv_task_t *task) {
  return tv_sup_add_ex(s, name, len, p, task, NULL);
}

static int needs_ext(const tv_policy_t *p, const tv_add_opts_t *o, const tv_task_t *t) {
  return p->budget.limited || p->shutdown_ns != TV_SHUTDOWN_INFINITY || p->every_ns || p->timeout_ns || p->reset_after_ns || t->ops->awaits ||
         (o && (o->nafter || o->hooks || o->explicit_ready || o->completed_ready || o->decide || o->exempt || o->calendar || o->watchdog_ms ||
                o->parent));
}

static tv_sup_t *s_of(tv_actor_t *a) { return tv_actor_env(a)->data; }

/* The optional parts of an add, into the actor's ext. */
static int setup_ext(tv_actor_t *a, const tv_add_opts_t *o) {
  tv_actor_ext_t *x = tv_actor_ext(a);
  if (!x) return TV_ENOMEM;
  x->self = a;
  if (!o) return 0;
  for (uint32_t i = 0; i < o->nafter; i++)
    if (o->after[i]->len == a->name->len && memcmp(o->after[i]->s, a->name->s, a->name->len) == 0)
      return TV_EINVAL;
  if (tv_actor_after(a, o->after, o->nafter) != 0) return TV_ENOMEM;
  /* Dependencies ready now count now (a one-shot may end before this task's
   * first step); the others are watched from here on. */
  uint32_t waiting = 0;
  for (uint32_t i = 0; i < x->nafter; i++) {
    tv_actor_t *d = tv_registry_find(&s_of(a)->reg, x->after[i]->s, x->after[i]->len);
    if (d && d->ever_ready) {
      tv_str_unref(x->after[i]);
      x->after[i] = NULL;
    } else {
      waiting++;
    }
  }
  if (waiting) tv_list_push(&s_of(a)->blocked, &x->blocked);
  tv_actor_set_hooks(a, o->hooks, o->explicit_ready, o->completed_ready, o->decide);
  x->exempt = o->exempt != 0;
  x->calendar = o->calendar && o->decide;
  x->watchdog_ms = o->watchdog_ms;
  x->parent = o->parent;
  x->data = o->parent_data;
  x->index = o->index;
  return 0;
}

int tv_sup_add_ex(tv_sup_t *s, const char *name, size_t len, const tv_policy_t *p,
                  tv_task_t *task, const tv_add_opts_t *o) {
  if (!tv_sup_accepting(s)) return TV_ESHUTDOWN;
  if (task->actor.policy) return TV_EBUSY; /* already held by a supervisor */
  /* OTP refuses a significant child of a parent that never auto-shuts down */
  if (p->significant && (o && o->parent ? o->parent : &s->parent)->auto_shutdown == TV_AUTO_NEVER)
    return TV_ENOTSUP;
  tv_str_t *nm = tv_str_new(name, len);
  if (!nm) return TV_ENOMEM;
  publish_simple(s, TV_EV_TASK_ADD_REQUESTED, nm, NULL);
  if (tv_registry_find(&s->reg, name, len)) {
    publish_simple(s, TV_EV_TASK_ADD_FAILED, nm, "already_exists");
    tv_str_unref(nm);
    return TV_EEXIST;
  }
  const tv_policy_t *shared = tv_policy_pool_get(&s->policies, p);
  if (!shared) {
    tv_str_unref(nm);
    return TV_ENOMEM;
  }
  tv_actor_t *a = &task->actor;
  tv_actor_init(a, nm, shared);
  tv_str_unref(nm);
  /* its backoff and deadlines must always arm: room reserved now or never */
  int err = tv_timer_reserve(s->sched, &a->timer) != 0 ? TV_ENOMEM : 0;
  if (!err && needs_ext(p, o, task)) err = setup_ext(a, o);
  char cycle[1024];
  if (!err && (err = tv_sup_after_cycle(s, task, o, cycle, sizeof cycle)) != 0) {
    tv_str_t *why = tv_str_printf("after_cycle: %s", cycle);
    publish_simple(s, TV_EV_TASK_ADD_FAILED, a->name, why ? why->s : "after_cycle");
    tv_str_unref(why);
    if (o && o->cycle && o->cycle_cap > 4) {
      size_t n = strlen(cycle);
      if (n < o->cycle_cap) {
        memcpy(o->cycle, cycle, n + 1);
      } else { /* cut, and say so */
        memcpy(o->cycle, cycle, o->cycle_cap - 4);
        memcpy(o->cycle + o->cycle_cap - 4, "...", 4);
      }
    }
  }
  if (err || tv_registry_insert(&s->reg, a) != 0) {
    tv_timer_unreserve(s->sched, &a->timer);
    tv_actor_ext_free(a);
    tv_policy_pool_put(&s->policies, shared);
    a->policy = NULL;
    a->state = TV_ACTOR_DONE;
    return err ? err : TV_ENOMEM;
  }
  tv_outcomes_expect(&s->outcomes, s->reg.count);
  if (s->state == TV_SUP_DRAINING) { /* natural completion interrupted */
    s->state = TV_SUP_OPEN;
    s->natural = 0;
    tv_timer_stop(s->sched, &s->timer);
  }
  a->shown = TV_ST_STARTING;
  a->since = tv_sched_now(s->sched);
  publish_simple(s, TV_EV_TASK_ADDED, a->name, NULL);
  tv_actor_start(a);
  return 0;
}

tv_actor_t *tv_sup_find(const tv_sup_t *s, const char *name, size_t len) {
  return tv_registry_find(&s->reg, name, len);
}

int tv_sup_remove(tv_sup_t *s, const char *name, size_t len, const char *reason) {
  if (s->state == TV_SUP_STOPPING || s->state == TV_SUP_CLOSED) return TV_ESHUTDOWN;
  tv_actor_t *a = tv_registry_find(&s->reg, name, len);
  if (!a) return TV_ENOENT;
  if (a->cancel_requested) return 0; /* already on its way out */
  if (!tv_status_final(a->shown)) tv_actor_show(a, TV_ST_STOPPING);
  publish_simple(s, TV_EV_TASK_REMOVE_REQUESTED, a->name, reason);
  tv_actor_cancel(a, tv_sched_deadline(s->sched, s->grace_ns));
  return 0;
}

int tv_sup_watch(tv_sup_t *s, const char *name, size_t len, tv_sup_watch_t *w) {
  tv_actor_t *a = tv_registry_find(&s->reg, name, len);
  if (!a) return TV_ENOENT;
  w->actor = a;
  tv_list_push(&s->watches, &w->link);
  return 0;
}

void tv_sup_unwatch(tv_sup_watch_t *w) {
  tv_list_unlink(&w->link);
  w->actor = NULL;
}

tv_str_t **tv_sup_names(const tv_sup_t *s, int alive_only, uint32_t *n) {
  uint32_t total;
  tv_actor_t **all = tv_registry_snapshot(&s->reg, &total);
  tv_str_t **names = malloc((total ? total : 1) * sizeof *names);
  *n = 0;
  if (!all || !names) {
    free(all);
    free(names);
    return NULL;
  }
  for (uint32_t i = 0; i < total; i++)
    if (!alive_only || tv_actor_alive(all[i])) names[(*n)++] = all[i]->name;
  free(all);
  qsort(names, *n, sizeof *names, cmp_str);
  return names;
}

int tv_sup_subscribe(tv_sup_t *s, const char *name, size_t len, uint32_t cap,
                     const tv_sub_ops_t *ops, void *data, tv_sub_t **out) {
  if (s->state == TV_SUP_CLOSED) return TV_ESHUTDOWN;
  tv_list_each(l, &s->bus.subs) {
    const tv_sub_t *sub = tv_bus_sub(l);
    if (sub->name->len == len && memcmp(sub->name->s, name, len) == 0) return TV_EEXIST;
  }
  return tv_bus_subscribe(&s->bus, name, len, cap ? cap : s->queue_capacity, ops, data, out);
}

int tv_sup_shutdown(tv_sup_t *s, const char *reason) {
  if (s->state == TV_SUP_STOPPING || s->state == TV_SUP_CLOSED) return TV_ESHUTDOWN;
  if (s->state == TV_SUP_DRAINING && !s->natural) return TV_ESHUTDOWN;
  s->state = TV_SUP_STOPPING;
  s->natural = 0;
  publish_simple(s, TV_EV_SHUTDOWN_REQUESTED, NULL, reason);
  if (s->on_stopping) s->on_stopping(s);
  s->deadline = tv_sched_deadline(s->sched, s->grace_ns);
  tv_timer_start_at(s->sched, &s->timer, s->deadline);
  tv_namemap_each(&s->reg, unmarked, mark_shutdown, NULL);
  /* a group stops its own children, in reverse order; a task others start
   * `after` stops once they have ended (systemd's stop order) */
  tv_namemap_visit(&s->reg, count_dependents, s);
  tv_namemap_each(&s->reg, free_to_stop, cancel_one, NULL);
  defer_check(s);
  return 0;
}

void tv_sup_force(tv_sup_t *s) {
  if (s->state == TV_SUP_OPEN || (s->state == TV_SUP_DRAINING && s->natural))
    tv_sup_shutdown(s, "forced");
  if (s->state == TV_SUP_STOPPING) {
    s->forced = 1;
    s->deadline = tv_sched_now(s->sched);
    kill_all(s);
    defer_check(s);
  } else if (s->state == TV_SUP_DRAINING) {
    close_sup(s);
  }
}

void tv_sup_run(tv_sup_t *s) {
  s->running = 1;
  defer_check(s);
}

const char *tv_sup_state_name(int state) {
  static const char *const names[] = {"open", "stopping", "draining", "closed"};
  return (unsigned)state < 4 ? names[state] : "?";
}
