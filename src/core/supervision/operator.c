/* operator.c - an operator's stop, start and policy swap of one task, and
 * the "it is gone" notice a reload's restart waits for. The state lives in
 * the actor (a HELD actor with ext->opstop), never beside it. */
#include "core/supervision/operator.h"

#include <string.h>

#include "core/base/error.h"
#include "core/supervision/group.h"
#include "core/supervision/status.h"

#define container_of tv_container_of

static tv_group_t *group_of(const tv_actor_t *a) {
  tv_parent_t *p = a->ext ? a->ext->parent : NULL;
  return p && p->owner ? container_of(p, tv_group_t, parent) : NULL;
}

int tv_op_stopped(const tv_actor_t *a) {
  if (!a->ext || a->ext->opstop != TV_OPSTOP_HELD) return 0;
  return a->state == TV_ACTOR_HELD ? 1 : 2;
}

static void publish_stopped(tv_sup_t *s, tv_actor_t *a) {
  tv_str_t *why = tv_str_printf("operator");
  tv_event_t ev = tv_event_make(TV_EV_TASK_STOPPED);
  ev.task = a->name;
  ev.attempt = a->attempt;
  ev.fields = TV_F_TASK | TV_F_ATTEMPT;
  if (why) ev.reason = why, ev.fields |= TV_F_REASON;
  tv_actor_note(a, &ev);
  tv_bus_publish(&s->bus, &ev);
  tv_str_unref(why);
}

int tv_op_stop(tv_sup_t *s, const char *name, size_t len) {
  if (!tv_sup_accepting(s)) return TV_ESHUTDOWN;
  tv_actor_t *a = tv_sup_find(s, name, len);
  if (!a) return TV_ENOENT;
  if (a->cancel_requested || a->state == TV_ACTOR_DONE) return TV_EBUSY;
  if (tv_op_stopped(a)) return TV_EEXIST;
  tv_actor_ext_t *x = tv_actor_ext(a);
  if (!x) return TV_ENOMEM;
  x->self = a;
  tv_str_t *why = tv_str_printf("stopped by an operator");
  /* (no memory for the record: the previous one of the name stays) */
  (void)tv_outcomes_record(&s->outcomes, a->name, TV_END_CANCELLED, a->attempt, why, 0, 0,
                           tv_sched_now(s->sched),
                           tv_container_of(a, tv_task_t, actor)->ops->kind);
  tv_str_unref(why);
  x->opstop = TV_OPSTOP_HELD;
  /* a running attempt's own TaskStopped says "operator" (actor.c); any
   * other state has no attempt to end: say it here */
  int running = a->state == TV_ACTOR_RUNNING;
  if (!running) publish_stopped(s, a);
  else tv_actor_show(a, TV_ST_STOPPING);
  tv_actor_hold(a, tv_sched_deadline(s->sched, s->grace_ns));
  return 0;
}

int tv_op_start(tv_sup_t *s, const char *name, size_t len) {
  if (!tv_sup_accepting(s)) return TV_ESHUTDOWN;
  tv_actor_t *a = tv_sup_find(s, name, len);
  if (!a) return TV_ENOENT;
  int st = tv_op_stopped(a);
  if (!st) return TV_EINVAL;
  if (st == 2) return TV_EBUSY;
  a->ext->opstop = TV_OPSTOP_NONE;
  a->streak = 0;
  tv_group_t *g = group_of(a);
  if (!g) {
    tv_actor_resume(a, 0);
    return 0;
  }
  int rc = tv_group_resume_child(g, a);
  if (rc) a->ext->opstop = TV_OPSTOP_HELD;
  return rc;
}

int tv_op_restart(tv_sup_t *s, const char *name, size_t len) {
  if (!tv_sup_accepting(s)) return TV_ESHUTDOWN;
  tv_actor_t *a = tv_sup_find(s, name, len);
  if (!a) return TV_ENOENT;
  if (a->cancel_requested || a->state == TV_ACTOR_DONE) return TV_EBUSY;
  if (tv_op_stopped(a) == 1) return tv_op_start(s, name, len);
  tv_actor_ext_t *x = tv_actor_ext(a);
  if (!x) return TV_ENOMEM;
  x->self = a;
  a->streak = 0;
  if (x->opstop) { /* stopping already: it starts once it has stopped */
    x->opstop = TV_OPSTOP_RESTART;
    return 0;
  }
  if (a->state == TV_ACTOR_HELD) return 0; /* held by its group: it starts with its siblings */
  x->opstop = TV_OPSTOP_RESTART;
  if (a->state != TV_ACTOR_RUNNING) publish_stopped(s, a);
  else tv_actor_show(a, TV_ST_STOPPING);
  tv_actor_hold(a, tv_sched_deadline(s->sched, s->grace_ns));
  return 0;
}

int tv_op_update(tv_sup_t *s, const char *name, size_t len, const tv_policy_t *p) {
  tv_actor_t *a = tv_sup_find(s, name, len);
  if (!a) return TV_ENOENT;
  const tv_policy_t *np = tv_policy_pool_get(&s->policies, p);
  if (!np) return TV_ENOMEM;
  /* what supervisor.c gives an ext at add time for these fields */
  if ((np->budget.max || np->every_ns || np->timeout_ns || np->reset_after_ns) && !a->ext) {
    tv_actor_ext_t *x = tv_actor_ext(a);
    if (!x) {
      tv_policy_pool_put(&s->policies, np);
      return TV_ENOMEM;
    }
    x->self = a;
    x->started_at = x->anchor = tv_sched_now(s->sched); /* unknown before: from now */
  }
  /* the ring is sized by max: another size starts a fresh budget */
  if (a->ext && np->budget.max != a->policy->budget.max) tv_budget_free(&a->ext->budget);
  const tv_policy_t *old = a->policy;
  a->policy = np;
  tv_policy_pool_put(&s->policies, old);
  return 0;
}

/* ---- gone ------------------------------------------------------------------- */

static void on_removed(tv_sup_watch_t *w) {
  tv_op_gone_t *g = container_of(w, tv_op_gone_t, w);
  tv_work_defer(g->sched, &g->work, TV_LANE_NEXT);
}

static void on_work(tv_work_t *w) {
  tv_op_gone_t *g = container_of(w, tv_op_gone_t, work);
  g->gone(g);
}

void tv_op_gone_init(tv_op_gone_t *g, void (*gone)(tv_op_gone_t *g)) {
  tv_sup_watch_init(&g->w, on_removed);
  tv_work_init(&g->work, on_work);
  g->sched = NULL;
  g->gone = gone;
}

int tv_op_when_gone(tv_sup_t *s, const char *name, size_t len, tv_op_gone_t *g) {
  g->sched = s->sched;
  return tv_sup_watch(s, name, len, &g->w);
}

void tv_op_gone_cancel(tv_op_gone_t *g) {
  tv_sup_unwatch(&g->w);
  tv_work_cancel(&g->work);
}
