/* deps.c - a task's readiness and its `after` dependencies: when an attempt
 * counts as ready, who is told, and whether a task waiting to start may go.
 * Calls only downward (the loop, events, the parent's callbacks). */
#include <stdlib.h>
#include <string.h>

#include "core/base/error.h"
#include "core/supervision/actor_impl.h"

void tv_actor_mark_ready(tv_actor_t *a) {
  if (a->ready) return;
  a->ready = a->ever_ready = 1;
  tv_parent_t *sp = tv_actor_env(a)->parent, *p = tv_actor_parent(a);
  if (p != sp && p->ops->ready) p->ops->ready(p, a); /* its group */
  if (sp->ops->ready) sp->ops->ready(sp, a); /* dependents anywhere in the supervisor */
}

int tv_task_ready(tv_task_t *t) {
  tv_actor_t *a = &t->actor;
  if (tv_actor_has(a, HF_COMPLETED_READY)) return TV_EINVAL;
  /* ready at start: nothing to say (not even from inside start, before the
   * actor marks it ready without an event) */
  if (!tv_actor_has(a, HF_EXPLICIT_READY)) return 0;
  if (a->state != TV_ACTOR_RUNNING || a->ready) return 0;
  tv_event_t ev = tv_actor_event(a, TV_EV_TASK_READY);
  tv_actor_publish(a, &ev);
  tv_actor_mark_ready(a);
  if (a->state == TV_ACTOR_RUNNING && a->ext && a->ext->watchdog_ms) { /* its watchdog starts now */
    a->ext->alive_at = tv_sched_now(tv_actor_env(a)->sched);
    tv_actor_arm_deadline(a);
  }
  return 0;
}

void tv_task_alive(tv_task_t *t) {
  tv_actor_t *a = &t->actor;
  if (a->state == TV_ACTOR_RUNNING && a->ext && a->ext->watchdog_ms)
    a->ext->alive_at = tv_sched_now(tv_actor_env(a)->sched); /* the timer re-arms itself */
}

int tv_actor_deps_ready(tv_actor_t *a, const tv_str_t **missing) {
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
      *missing = x->after[i];
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

int tv_actor_after(tv_actor_t *a, tv_str_t *const *names, uint32_t n) {
  if (!n) return 0;
  tv_actor_ext_t *x = tv_actor_ext(a);
  tv_str_t **copy = x ? malloc(2 * (size_t)n * sizeof *copy) : NULL;
  if (!copy) return TV_ENOMEM;
  for (uint32_t i = 0; i < n; i++) copy[i] = copy[n + i] = tv_str_ref(tv_str_ref(names[i]));
  x->after = copy;
  x->needs = copy + n;
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

static int same_name(const tv_str_t *n, const tv_str_t *name) {
  return n == name || (n->len == name->len && memcmp(n->s, name->s, n->len) == 0);
}

int tv_actor_waits_for(const tv_actor_t *a, const tv_str_t *name) {
  const tv_actor_ext_t *x = a->ext;
  for (uint32_t i = 0; i < x->nafter; i++)
    if (x->after[i] && same_name(x->after[i], name)) return 1;
  return 0;
}

void tv_actor_dep_ended(tv_actor_t *a, const tv_actor_t *dep) {
  tv_actor_ext_t *x = a->ext;
  for (uint32_t i = 0; i < x->nafter; i++) {
    tv_str_t *n = x->after[i];
    if (!n || !same_name(n, dep->name)) continue;
    if (!dep->ever_ready) { /* it ends without ever being ready: the step says so */
      unblock(a);
      return;
    }
    tv_str_unref(n);
    x->after[i] = NULL;
  }
  tv_actor_recheck(a);
}
